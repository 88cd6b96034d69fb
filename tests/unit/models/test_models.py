"""Reference models: shapes, exact Keras parameter counts, closed-form FLOPs and losses, ensemble == members."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from bubblelens.models import dcgan as model_dcgan
from bubblelens.models import mlp_gan as model_mlp_gan
from bubblelens.models import vae as model_vae
from bubblelens.models.size import forward_flops_per_sample


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_dcgan_shapes_and_range():
    torch.manual_seed(0)
    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=0.25))
    x = g(torch.randn(3, 100))
    assert x.shape == (3, 1, 28, 28)
    assert x.min() >= -1 and x.max() <= 1          # tanh output
    assert d(x).shape == (3, 1)


def test_dcgan_param_counts_match_keras():
    g, d = model_dcgan.build(model_dcgan.DCGANConfig())
    count = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    assert count(g) == model_dcgan.EXPECTED_PARAMS_G == 2_305_472
    assert count(d) == model_dcgan.EXPECTED_PARAMS_D == 212_865


def test_dcgan_keras_defaults():
    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=0.125))
    bns = [m for m in g.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 3 and all(b.eps == 1e-3 and b.momentum == 0.01 for b in bns)
    assert isinstance(bns[0], torch.nn.BatchNorm1d) and bns[0].num_features == 7 * 7 * 32
    slopes = {m.negative_slope for m in list(g.modules()) + list(d.modules()) if isinstance(m, torch.nn.LeakyReLU)}
    assert slopes == {0.3}
    assert all(m.bias is None for m in g.modules() if isinstance(m, (torch.nn.Linear, torch.nn.ConvTranspose2d)))


def test_dcgan_width_scales_channels():
    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=0.5))
    convs = [m for m in g.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(128, 64), (64, 32), (32, 1)]


def test_dcgan_forward_flops_closed_form():
    # 2 FLOPs per MAC: Dense 100x12544, then transposed convs (in_pixels x Cin x Cout x 25).
    macs = 100 * 12544 + 49 * 256 * 128 * 25 + 49 * 128 * 64 * 25 + 196 * 64 * 1 * 25
    g, _ = model_dcgan.build(model_dcgan.DCGANConfig())
    assert forward_flops_per_sample(g, torch.zeros(1, 100)) == 2 * macs == 103_488_000


def test_vae_shapes_and_kl_against_torch_distributions():
    torch.manual_seed(0)
    vae = model_vae.VAE(model_vae.VAEConfig(latent_dim=8, width=0.25))
    x = torch.rand(4, 1, 28, 28)
    logits, mu, logvar = vae(x, torch.randn(4, 8))
    assert logits.shape == (4, 1, 28, 28) and mu.shape == logvar.shape == (4, 8)
    mu, logvar = torch.randn(5, 8), torch.randn(5, 8)
    ref = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(model_vae.kl_standard_normal(mu, logvar), ref, rtol=1e-5, atol=1e-5)


def test_vae_elbo_terms_match_library_bce():
    torch.manual_seed(1)
    logits, x = torch.randn(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
    loss, recon, kl = model_vae.elbo_terms(logits, x, mu, logvar, beta=0.5)
    ref_recon = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="sum") / 3
    torch.testing.assert_close(recon, ref_recon, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(loss, recon + 0.5 * kl)


def test_vae_reparameterisation_passes_gradients():
    vae = model_vae.VAE(model_vae.VAEConfig(latent_dim=4, width=0.25))
    x = torch.rand(2, 1, 28, 28)
    logits, mu, logvar = vae(x, torch.randn(2, 4))
    loss, _, _ = model_vae.elbo_terms(logits, x, mu, logvar, 1.0)
    loss.backward()
    assert vae.to_stats.weight.grad is not None and vae.to_stats.weight.grad.abs().sum() > 0


def test_mlp_gan_shapes_pack_and_same_d_width():
    cfg = model_mlp_gan.MLPGANConfig(g_hidden=16, d_hidden=16, pack=4)
    g, d = model_mlp_gan.build(cfg, seed=0)
    assert g(torch.randn(5, 2)).shape == (5, 2)
    assert d(torch.randn(5, 8)).shape == (5, 1)          # 4 packed 2-D points per D input
    # PacGAN keeps D's width for every packing degree: only the first layer's inputs grow
    vanilla_d = model_mlp_gan.build(model_mlp_gan.MLPGANConfig(g_hidden=16, d_hidden=16), seed=0)[1]
    assert [lin.out_features for lin in d.layers] == [lin.out_features for lin in vanilla_d.layers]
    assert d.layers[0].out_features == 16 * model_mlp_gan.MAXOUT_PIECES
    assert sum(p.numel() for p in d.parameters()) - sum(p.numel() for p in vanilla_d.parameters()) == 6 * 16 * 5
    assert all(lin.bias is None for lin in g.hidden)     # no bias before BatchNorm


def test_mlp_gan_init_is_pacgans():
    g, d = model_mlp_gan.build(model_mlp_gan.MLPGANConfig(g_hidden=400, d_hidden=200), seed=0)
    w = torch.cat([m.weight.flatten() for m in g.modules() if isinstance(m, torch.nn.Linear)])
    assert abs(w.std().item() - model_mlp_gan.INIT_STD) < 0.001 and abs(w.mean().item()) < 0.001
    assert all(torch.count_nonzero(lin.bias) == 0 for lin in d.layers)


def test_mlp_gan_member_init_depends_only_on_its_seed():
    cfg = model_mlp_gan.MLPGANConfig(g_hidden=8, d_hidden=8)
    a, b = model_mlp_gan.build(cfg, 3), model_mlp_gan.build(cfg, 3)
    c = model_mlp_gan.build(cfg, 4)
    assert torch.equal(a[0].hidden[0].weight, b[0].hidden[0].weight)
    assert not torch.equal(a[0].hidden[0].weight, c[0].hidden[0].weight)


def test_mlp_ensemble_equals_each_member_module_with_batchnorm():
    """The stacked ensemble (train-mode BatchNorm per member, running statistics, eval mode) equals each
    member's own nn.Module, the reference, step for step."""
    cfg = model_mlp_gan.MLPGANConfig(g_hidden=16, d_hidden=12, pack=2)
    members = [model_mlp_gan.build(cfg, s) for s in (0, 1, 2)]
    g_ens = model_mlp_gan.stack_generators([m[0] for m in members])
    d_ens = model_mlp_gan.stack_discriminators([m[1] for m in members])
    for _ in range(3):                                   # running statistics accumulate identically
        z, x = torch.randn(3, 10, 2), torch.randn(3, 10, 4)
        out_g = g_ens(z, training=True)
        out_d = model_mlp_gan.maxout_apply(d_ens, x, cfg.maxout)
        for e, (g, d) in enumerate(members):
            g.train()
            torch.testing.assert_close(out_g[e], g(z[e]), rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(out_d[e], d(x[e]), rtol=1e-5, atol=1e-6)
    z = torch.randn(3, 7, 2)
    out = g_ens(z, training=False)
    for e, (g, _) in enumerate(members):
        g.eval()
        torch.testing.assert_close(out[e], g(z[e]), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(g_ens.running_var[1][e], g.norms[1].running_var, rtol=1e-5, atol=1e-7)


def test_mlp_ensemble_discriminator_gradients_equal_each_member_module():
    """Stacked D and each member's nn.Module get the same weight and bias gradients (biases made non-zero,
    since PacGAN's zero init would hide a bias mix-up)."""
    cfg = model_mlp_gan.MLPGANConfig(g_hidden=8, d_hidden=6, pack=2)
    members = [model_mlp_gan.build(cfg, s)[1] for s in (0, 1)]
    with torch.no_grad():
        for d in members:
            for lin in d.layers:
                lin.bias.normal_()
    d_ens = model_mlp_gan.stack_discriminators(members)
    x = torch.randn(2, 5, 4)
    out = model_mlp_gan.maxout_apply(d_ens, x, cfg.maxout)
    out.square().sum().backward()
    for e, d in enumerate(members):
        torch.testing.assert_close(out[e], d(x[e]), rtol=1e-5, atol=1e-6)
        d(x[e]).square().sum().backward()
        for i, lin in enumerate(d.layers):
            torch.testing.assert_close(d_ens[i][0].grad[e], lin.weight.grad, rtol=1e-5, atol=1e-7)
            torch.testing.assert_close(d_ens[i][1].grad[e], lin.bias.grad, rtol=1e-5, atol=1e-7)


def test_dcgan_padding_is_tensorflows_same():
    """TF 'same' with kernel 5, stride 2 pads 1 before and 2 after: D's conv equals a conv of the (1, 2)-padded
    input, and G's transposed conv is its exact adjoint (TF's conv2d_transpose), checked by autograd."""
    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=0.25))
    conv = d.net[1]
    x = torch.randn(2, 1, 28, 28, requires_grad=True)
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 2, 1, 2)), conv.weight, conv.bias, stride=2)
    torch.testing.assert_close(d.net[1](d.net[0](x)), ref)
    deconv = g.deconv[3]                                 # 7 -> 14, stride 2
    u = torch.randn(2, deconv.out_channels, 14, 14, requires_grad=True)
    h = torch.randn(2, deconv.in_channels, 7, 7)
    # TF's conv2d_transpose is the adjoint of the "same" conv: <conv(u), h> = <u, conv^T(h)>
    fwd = torch.nn.functional.conv2d(torch.nn.functional.pad(u, (1, 2, 1, 2)), deconv.weight, stride=2)
    adj, = torch.autograd.grad((fwd * h).sum(), u)
    torch.testing.assert_close(g.deconv[4](deconv(h)), adj, rtol=1e-4, atol=1e-5)
