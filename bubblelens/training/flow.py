"""Training flow matching (models/flow.py): several seeds on a 2-D mixture as one ensemble, or one seed on images.

Mixtures: the seeds of one mixture train as one batched ensemble, as the mixture GANs do
(training/mixture.py): torch.func stacks the members' weights, vmap runs one forward over all of them, the
member losses are summed and one Adam steps them all (Adam is elementwise, so each member follows its own
trajectory). Each member draws data, noise and times from its own seed. Data are divided by the mixture's
coordinate standard deviation (datasets/mixtures.py: mixture_scale) and samples scaled back.

Images: one U-Net per seed on pixels in [-1, 1], the loop, checkpoints and failure events of the other
image models (training/loop.py). Both sample with Euler steps at every NFE of the profile's sweep; the
samples at the largest NFE are the scored ones, each NFE's are kept as `nfe_<k>` beside them, and the FLOPs
of one sample at each NFE are counted (torch.utils.flop_counter), not multiplied out.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from bubblelens.core.config import FlowImageParams, FlowMixtureParams, canonical
from bubblelens.core.devices import device_name
from bubblelens.datasets.images import to_unit_range
from bubblelens.datasets.mixtures import mixture_scale, sample_mixture
from bubblelens.models.flow import UNet, UNetConfig, Velocity, VelocityMLPConfig, build_mlp, euler_sample, interpolate
from bubblelens.models.size import count_flops, count_params
from bubblelens.training import loop as T
from bubblelens.training.compute import FlopLedger, ResourceMeter, compute_record
from bubblelens.training.costs import device_peak
from bubblelens.training.mixture import MemberRecords
from bubblelens.training.sampling import sampling_velocity
from bubblelens.training.names import CHECKPOINT_SAMPLES, FLOW_VARIANT, SNAPSHOT_PREFIX, nfe_array

log = logging.getLogger(__name__)

DATA_CHUNK = 250                    # steps of data drawn at once per member
SAMPLE_SEED_OFFSET = 7_919
NOISE_SEED_OFFSET = 104_729
SAMPLE_CHUNK = 1000                 # images whose noise is drawn at once (the samples depend on it)
# Images integrated together on a CPU: a 1,000-image chunk's activations (16 x 28 x 28 floats each) far
# exceed the caches, so the U-Net's element-wise layers stream memory; 100 at a time gave the same samples,
# bit for bit on this machine's CPU, 1.42x faster compiled and 1.86x eager (benchmarks/sampling_batch.py).
# A GPU takes the whole chunk.
CPU_EVAL_BATCH = 100
assert SAMPLE_CHUNK % CPU_EVAL_BATCH == 0, "every chunk must split into equal batches (one compiled shape)"


def decay_lr(opt: torch.optim.Optimizer, lr: float, step: int, total: int) -> None:
    """Linear decay from `lr` to 0 over the run, a pure function of the step (a resumed run needs no
    scheduler state). Measured on ring-8 (10 seeds, 64 units, no x features; benchmarks/flow_spike.py):
    median high-quality share at NFE 64 0.13 at a constant lr 1e-3 (2,000 steps of 1,024), 0.49 decayed
    from 2e-3 (3,000 steps of 512, the same samples seen within 25 %)."""
    for group in opt.param_groups:
        group["lr"] = lr * (1.0 - step / total)


def draw_times(n: int, how: str, gen: torch.Generator, device: str) -> torch.Tensor:
    """A training batch's t (n,) in (0, 1). "logit_normal": sigmoid of N(0, 1), Esser et al. 2024's
    (Stable Diffusion 3) best "lognorm(0.00, 1.00)", which weights the middle of the path, where the
    velocity is hardest to predict, over its ends. Measured on the quick profile's U-Net (seed 0, 472 steps,
    FID at NFE 8 / 16, n 2,000; benchmarks/README.md): 103.9 / 94.8 uniform, 94.0 / 85.9 logit-normal."""
    if how == "logit_normal":
        return torch.sigmoid(torch.randn(n, generator=gen, device=device))
    return torch.rand(n, generator=gen, device=device)


def sampling_record(per_nfe: dict[int, int], n_generated: int) -> dict:
    """A flow run's compute-record fields: `flops_forward_per_sample` is ONE network evaluation (as for the
    one-pass generators beside it), a scored sample costs the largest NFE's count, and every NFE's count is
    kept. Passed to compute_record, these override its one-pass `flops_sampling`."""
    scored = per_nfe[max(per_nfe)]
    return {"flops_forward_per_sample": per_nfe.get(1, scored // max(per_nfe)),
            "flops_per_sample_scored": scored, "flops_sampling": scored * n_generated,
            "flops_per_sample_by_nfe": {str(k): v for k, v in per_nfe.items()}}


def sampling_flops(velocity: torch.nn.Module, example: torch.Tensor, nfes: tuple[int, ...]) -> dict[int, int]:
    """Counted FLOPs of drawing one sample with `nfe` Euler steps, for each nfe and for one network
    evaluation (nfe 1), with a batch-1 `example`."""
    out = {}
    for nfe in sorted({1, *nfes}):
        flops, _ = count_flops(lambda: euler_sample(velocity, example, nfe, (1,)))
        out[nfe] = flops
    return out


class _FlowEnsemble:
    """E velocity MLPs stacked (torch.func), one Adam, per-member random streams."""

    def __init__(self, params: FlowMixtureParams, dataset: str, seeds: tuple[int, ...], device: str) -> None:
        self.p, self.dataset, self.seeds, self.device = params, dataset, seeds, device
        self.cfg = VelocityMLPConfig(hidden=params.hidden, layers=params.layers, x_freqs=params.x_freqs)
        nets = [build_mlp(self.cfg, s) for s in seeds]
        self.reference = nets[0]                                          # one member: FLOPs, parameters
        weights, _ = stack_module_state(nets)
        self.weights = {k: v.to(device).detach().requires_grad_(True) for k, v in weights.items()}
        self.base = build_mlp(self.cfg, seeds[0]).to("meta")
        self.opt = torch.optim.Adam(list(self.weights.values()), lr=params.lr)
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.noise = [torch.Generator().manual_seed(s + NOISE_SEED_OFFSET) for s in seeds]
        self.scale = mixture_scale(dataset)
        self._chunk_start = -1
        self._forward = vmap(lambda w, x, t: functional_call(self.base, w, (x, t)))

    def velocity(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x (E, B, 2), t (E, B) -> (E, B, 2): each member's own network on its own batch."""
        return self._forward(self.weights, x, t)

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x1, x0, t) for every member: (E, B, 2), (E, B, 2), (E, B), drawn DATA_CHUNK steps at a time."""
        c0 = step - step % DATA_CHUNK
        b = self.p.batch_size
        if c0 != self._chunk_start:
            k = min(DATA_CHUNK, self.p.steps - c0)
            real = np.stack([sample_mixture(self.dataset, k * b, r).reshape(k, b, 2) for r in self.rngs])
            self._x1 = torch.from_numpy(real / np.float32(self.scale)).to(self.device)     # (E, k, B, 2)
            self._x0 = torch.stack([torch.randn(k, b, 2, generator=g) for g in self.noise]).to(self.device)
            self._t = torch.stack([torch.rand(k, b, generator=g) for g in self.noise]).to(self.device)
            self._chunk_start = c0
        j = step - c0
        return self._x1[:, j], self._x0[:, j], self._t[:, j]

    def step(self, step: int) -> torch.Tensor:
        """One flow-matching step of every member; returns the losses (E, 1)."""
        x1, x0, t = self._batch(step)
        if self.p.lr_decay:
            decay_lr(self.opt, self.p.lr, step, self.p.steps)
        xt, target = interpolate(x0, x1, t)
        loss = ((self.velocity(xt, t) - target) ** 2).mean(dim=(1, 2))        # (E,) per member
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        self.opt.step()
        return loss.detach().unsqueeze(1)

    @torch.no_grad()
    def samples(self, n: int, nfe: int) -> np.ndarray:
        """(E, n, 2) in the data's own units; the same starting noise at every NFE (per member seed)."""
        x0 = torch.stack([torch.randn(n, 2, generator=torch.Generator().manual_seed(s + SAMPLE_SEED_OFFSET))
                          for s in self.seeds]).to(self.device)
        out = euler_sample(self.velocity, x0, nfe, (len(self.seeds), n))
        return (out.float().cpu().numpy() * np.float32(self.scale)).astype(np.float32)


def train_flow_mixture_seeds(params: FlowMixtureParams, dataset: str, seeds: tuple[int, ...], device: str = "cpu", *,
                             progress: T.Progress | None = None) -> list[T.RunResult]:
    """One RunResult per seed, in order, all seeds trained as one ensemble."""
    if not seeds:
        return []
    nfes = tuple(sorted(set(params.nfe)))
    keys = [T.KEY_LOSS]
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device == "cuda" else []):
        ens = _FlowEnsemble(params, dataset, tuple(seeds), device)
        records = MemberRecords(len(seeds), params.steps, keys, kind="flow")
        ledger, ckpt_steps, ckpts = FlopLedger(), [], []

        def after_step(n: int) -> None:
            if params.eval_every and n % params.eval_every == 0:             # outside the FLOP ledger
                ckpt_steps.append(n)
                ckpts.append(ens.samples(params.eval_samples, max(nfes)))     # (E, n, 2)

        with ResourceMeter(device) as meter:
            T.run_steps(start=0, total=params.steps, record=records, step_fn=ens.step,
                        shape_of=lambda _: params.batch_size * len(seeds), ledger=ledger, progress=progress,
                        save_fn=None, save_every=params.steps, after_step=after_step, save_at_end=False)
        by_nfe = {nfe: ens.samples(params.n_samples, nfe) for nfe in nfes}     # each (E, n, 2)
    res = meter.summary()
    ref = ens.reference.cpu()
    per_nfe = sampling_flops(ref, torch.zeros(1, 2), nfes)
    e_size = len(seeds)
    config = {"params": canonical(params), "architecture": canonical(ens.cfg), "dataset": dataset,
              "variant": FLOW_VARIANT, "sampling": f"Euler, {max(nfes)} steps (scored); NFE sweep {list(nfes)}",
              "checkpoint_steps": ckpt_steps, "nfe": list(nfes)}
    out = []
    for e, seed in enumerate(seeds):
        steps_done = records.recorded[e]
        member = FlopLedger({"per_shape": {params.batch_size: ledger.per_shape.get(params.batch_size * e_size, 0)
                                           // e_size}, "steps": {params.batch_size: steps_done}})
        share = {**res, "energy_j": None if res["energy_j"] is None else res["energy_j"] / e_size}
        compute = compute_record(
            device=device, ledger=member, steps=steps_done, wall_s=res["wall_s"] / e_size, meter=share,
            fwd_flops=per_nfe[1], n_generated=params.n_samples, params={"params": count_params(ref)},
            peak=device_peak(device_name(device), "fp32") if device == "cuda" else None, epochs=None,
            ensemble_size=e_size, **sampling_record({k: per_nfe[k] for k in nfes}, params.n_samples),
            ensemble_note="wall time, FLOPs and energy are 1/E shares of the ensemble's; peak memory is the "
                          "whole ensemble's")
        extras = {nfe_array(nfe): by_nfe[nfe][e] for nfe in nfes}
        if ckpts:
            extras[CHECKPOINT_SAMPLES] = np.stack([c[e] for c in ckpts])
        out.append(T.RunResult("flow", dataset, FLOW_VARIANT, seed, config, T.downsample_history(records.history(e)),
                               compute, list(records.monitors[e].events), by_nfe[max(nfes)][e], extras))
    return out


# ---- images ----

def snapshot_steps(fractions: tuple[float, ...], total: int) -> list[int]:
    return sorted({max(1, round(f * total)) for f in fractions if 0 < f < 1})


def eval_batch(device: str) -> int:
    """Images `generate` integrates together on `device` (each image's path is its own: only speed differs)."""
    return CPU_EVAL_BATCH if device == "cpu" else SAMPLE_CHUNK


def generate(model: UNet, n: int, seed: int, nfe: int, device: str, velocity: Velocity | None = None) -> np.ndarray:
    """n images (n, 28, 28) uint8 with `nfe` Euler steps (`generate_sweep` at one NFE)."""
    return generate_sweep(model, n, seed, (nfe,), device, velocity)[nfe]


@torch.no_grad()
def generate_sweep(model: UNet, n: int, seed: int, nfes: tuple[int, ...], device: str,
                   velocity: Velocity | None = None) -> dict[int, np.ndarray]:
    """n images (n, 28, 28) uint8 at each NFE of `nfes` (Euler steps); the noise is drawn on the CPU from the
    seed alone, so every NFE starts from the same noise. Every NFE's first step therefore evaluates the
    network at the same input (that noise, t = 0): it is evaluated once per batch and shared, which gives each
    NFE the images it would get alone, bit for bit, and saves len(nfes) - 1 of sum(nfes) evaluations (4 of
    31 for the quick sweep 1-16). `velocity`: the network as it is to be evaluated (sampling.py: compiled for
    a long sweep on a CPU), the model itself by default."""
    gen = torch.Generator().manual_seed(seed + SAMPLE_SEED_OFFSET)
    model.eval()
    nfes = tuple(dict.fromkeys(nfes))                                                   # each NFE once
    out: dict[int, list[np.ndarray]] = {nfe: [] for nfe in nfes}
    net, batch = model if velocity is None else velocity, eval_batch(device)
    for a in range(0, n, SAMPLE_CHUNK):
        x0 = torch.randn(min(SAMPLE_CHUNK, n - a), 1, 28, 28, generator=gen).to(device)     # (C, 1, 28, 28)
        for b in range(0, len(x0), batch):
            part = x0[b:b + batch]
            time_shape = (len(part),)
            v0 = net(part, torch.zeros(time_shape, dtype=part.dtype, device=part.device))
            for nfe in nfes:
                out[nfe].append(T.to_uint8_images(euler_sample(net, part, nfe, time_shape, v0), low=-1.0))
    model.train()
    return {nfe: np.concatenate(parts) if parts else np.zeros((0, 28, 28), np.uint8) for nfe, parts in out.items()}


def train_flow_images(params: FlowImageParams, images: np.ndarray, seed: int, device: str = "cpu", *,
                      ckpt_dir: Path | None = None, progress: T.Progress | None = None) -> T.RunResult:
    """Train the U-Net on uint8 images (N, 28, 28) for `params.epochs` (capped by max_steps)."""
    cfg = UNetConfig(channels=params.channels)
    nfes = tuple(sorted(set(params.nfe)))
    plan = T.plan_steps("flow", images, params, seed)
    # The learning rate decays over the whole run, so unlike the other image models' (training/loop.py:
    # RESUME_FREE) the run's length shapes every step: a checkpoint resumes only a run of the same length.
    total, resume_key = plan.total, {**plan.resume_key, "total": plan.total}
    config = {"params": canonical(params), "architecture": canonical(cfg), "nfe": list(nfes),
              "sampling": f"Euler, {max(nfes)} steps (scored); NFE sweep {list(nfes)}"}
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if device == "cuda" else []):
        torch.manual_seed(seed)
        model = UNet(cfg)
        per_nfe = sampling_flops(model, torch.zeros(1, 1, 28, 28), nfes)
        model = model.to(device)
        data = torch.from_numpy(to_unit_range(images)).to(device)                                # (N, 1, 28, 28) in [-1, 1]
        opt = torch.optim.Adam(model.parameters(), lr=params.lr)
        noise_gen = torch.Generator(device).manual_seed(seed + NOISE_SEED_OFFSET)
        history: dict[str, list] = {T.KEY_STEP: [], T.KEY_LOSS: []}
        p0 = T.resume_progress(T.load_checkpoint(ckpt_dir, resume_key), total, history, device, noise_gen,
                               {"model": model, "opt": opt})
        start, prev_wall, ledger, history = p0.start, p0.prev_wall, p0.ledger, p0.history
        monitor = T.FailureMonitor("flow", total, p0.events)
        monitor.checked = len(history[T.KEY_STEP])
        batches = T.EpochBatches(len(images), params.batch_size, plan.steps_per_epoch, seed, device)
        snaps, kept = snapshot_steps(params.snapshot_fractions, total), {}

        def step_fn(step: int) -> torch.Tensor:
            x1 = data[batches(step)]
            x0 = torch.randn(x1.shape, generator=noise_gen, device=device)
            t = draw_times(len(x1), params.time_sampling, noise_gen, device)
            decay_lr(opt, params.lr, step, total)
            xt, target = interpolate(x0, x1, t)
            loss = ((model(xt, t) - target) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss.detach().unsqueeze(0)

        def after_step(n: int) -> None:
            if n in snaps:                                                    # outside the FLOP ledger
                T.keep_snapshot(ckpt_dir, kept, n, generate(model, params.n_samples, seed, params.snapshot_nfe,
                                                            device))

        def save_fn(step: int) -> None:
            T.save_checkpoint(ckpt_dir, {
                "resume_key": resume_key, "config": config, "step": step, "model": model.state_dict(),
                "opt": opt.state_dict(), "rng": T.rng_state(device, noise_gen), "history": history,
                "failure_events": monitor.events, "wall_s": prev_wall + meter.elapsed(), "flops": ledger.state()})

        if start:
            log.info("flow seed %d: resuming at step %d of %d", seed, start, total)
        with ResourceMeter(device) as meter:
            last = T.run_steps(start=start, total=total, keys=[T.KEY_LOSS], history=history, monitor=monitor,
                               step_fn=step_fn, shape_of=batches.size, ledger=ledger, progress=progress,
                               save_fn=save_fn if ckpt_dir else None, save_every=plan.steps_per_epoch,
                               after_step=after_step)
        # Compiled for one batch shape (dynamic=False), checked on it: only when every chunk has that shape, so
        # that no recompilation, which the fallback could not catch, happens mid-sweep.
        batch = min(eval_batch(device), params.n_samples)   # every evaluation has this shape when it divides n
        one_shape = params.n_samples % batch == 0 if batch else False
        velocity, backend = sampling_velocity(model, params.n_samples * sum(per_nfe[k] for k in nfes) if one_shape
                                              else 0, device, torch.zeros(batch, 1, 28, 28))
        by_nfe = generate_sweep(model, params.n_samples, seed, nfes, device, velocity)
    extras = {nfe_array(nfe): by_nfe[nfe] for nfe in nfes}
    extras |= {f"{SNAPSHOT_PREFIX}{s}": a for s, a in T.load_snapshots(ckpt_dir, kept, snaps).items()}
    compute = compute_record(
        device=device, ledger=ledger, steps=last, wall_s=prev_wall + meter.summary()["wall_s"],
        meter=meter.summary(), fwd_flops=per_nfe[1], n_generated=params.n_samples,
        params={"params": count_params(model)}, peak=device_peak(device_name(device), "fp32") if device == "cuda" else None,
        epochs=last / plan.steps_per_epoch, snapshot_nfe=params.snapshot_nfe, sampling_backend=backend,
        **sampling_record({k: per_nfe[k] for k in nfes}, params.n_samples))
    return T.RunResult("flow", "fashion_mnist", "reference", seed, config, T.downsample_history(history), compute,
                       list(monitor.events), by_nfe[max(nfes)], extras)
