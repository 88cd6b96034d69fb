"""The model catalogue (`bubblelens models`): each reference model's parameters and forward FLOPs."""
from __future__ import annotations

import torch
from torch import nn

from bubblelens.models import dcgan as model_dcgan
from bubblelens.models import flow as model_flow
from bubblelens.models import mlp_gan as model_mlp_gan
from bubblelens.models import vae as model_vae
from bubblelens.models.size import count_flops, count_params, forward_flops_per_sample


def describe_models(width: float = 1.0) -> list[dict]:
    """One row per model family: trainable params (G/D or total), forward FLOPs per sample, source text."""
    g, d = model_dcgan.build(model_dcgan.DCGANConfig(width=width))
    vae = model_vae.VAE(model_vae.VAEConfig(width=width))
    mcfg = model_mlp_gan.MLPGANConfig()
    mg, md = model_mlp_gan.build(mcfg, seed=0)
    pcfg = model_mlp_gan.MLPGANConfig(pack=2)
    _, pd = model_mlp_gan.build(pcfg, seed=0)
    rows = [
        {"name": "dcgan", "width": width, "params_g": count_params(g), "params_d": count_params(d),
         "params": count_params(g) + count_params(d),
         "flops_forward_per_sample": forward_flops_per_sample(g, torch.zeros(1, 100)),
         "source": model_dcgan.ARCHITECTURE_SOURCE},
        {"name": "vae", "width": width, "params_g": None, "params_d": None, "params": count_params(vae),
         "flops_forward_per_sample": _vae_forward_flops(vae),
         "source": model_vae.ARCHITECTURE_SOURCE},
        {"name": "mlp_gan (vanilla)", "width": 1.0, "params_g": count_params(mg), "params_d": count_params(md),
         "params": count_params(mg) + count_params(md),
         "flops_forward_per_sample": forward_flops_per_sample(mg, torch.zeros(1, mcfg.noise_dim)),
         "source": model_mlp_gan.ARCHITECTURE_SOURCE},
        {"name": "mlp_gan (pacgan, pack 2)", "width": 1.0, "params_g": count_params(mg),
         "params_d": count_params(pd), "params": count_params(mg) + count_params(pd),
         "flops_forward_per_sample": forward_flops_per_sample(mg, torch.zeros(1, mcfg.noise_dim)),
         "source": model_mlp_gan.ARCHITECTURE_SOURCE},
    ]
    unet = model_flow.UNet(model_flow.UNetConfig(channels=max(1, round(32 * width))))
    mlp = model_flow.build_mlp(model_flow.VelocityMLPConfig(hidden=256, x_freqs=3), seed=0)
    for name, net, example in ((f"flow U-Net ({unet.cfg.channels} channels)", unet, torch.zeros(1, 1, 28, 28)),
                               ("flow velocity MLP (3 x 256)", mlp, torch.zeros(1, 2))):
        flops, _ = count_flops(lambda: net(example, torch.zeros(1)))
        rows.append({"name": name, "width": width if net is unet else 1.0, "params_g": None, "params_d": None,
                     "params": count_params(net), "flops_forward_per_sample": flops,
                     "source": model_flow.ARCHITECTURE_SOURCE + " (FLOPs: one network evaluation; a sample costs NFE of them)"})
    return rows


def _vae_forward_flops(vae: nn.Module) -> int:
    """Encoder + decoder FLOPs for one image (the reparameterised pass needs eps)."""
    return forward_flops_per_sample(VAEPass(vae), torch.zeros(1, 1, 28, 28))


class VAEPass(nn.Module):
    def __init__(self, vae: nn.Module) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae(x, torch.zeros(x.shape[0], self.vae.cfg.latent_dim))[0]
