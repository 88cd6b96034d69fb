"""Training MLP GANs on 2-D Gaussian mixtures: several seeds of one configuration at once.

The seeds of one (dataset, variant) train as a batched ensemble: each weight has a leading member axis and
every layer is one batched matmul (models/mlp_gan.py), the member losses are summed, and one Adam
steps all members (Adam is elementwise, so each member follows exactly its own trajectory). Each member
draws its data, noise and initial weights from its own seed, so a member's result does not depend on which
other seeds share its batch: `ensemble=False` (one seed at a time) gives the same numbers up to float
rounding, and benchmarks/train_throughput.py measures what the ensemble saves.

Losses: BCE on logits, D then G alternately each step, non-saturating G loss; PacGAN's Adam (lr 1e-4,
betas (0.8, 0.999)). G's BatchNorm normalises each member's batch of batch_size * pack samples.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from bubblelens.training import loop as T
from bubblelens.core.devices import device_name
from bubblelens.models.size import count_params, forward_flops_per_sample
from bubblelens.training.compute import FlopLedger, ResourceMeter, compute_record
from bubblelens.training.costs import device_peak
from bubblelens.core.config import MixtureParams, canonical
from bubblelens.datasets.mixtures import MIXTURES, mixture_scale, sample_mixture
from bubblelens.core.errors import UsageError
from bubblelens.models.mlp_gan import MLPGANConfig, build, maxout_apply, stack_discriminators, stack_generators
from bubblelens.training.names import CHECKPOINT_SAMPLES

log = logging.getLogger(__name__)

VARIANTS = ("vanilla", "pacgan")
ADAM_BETA2 = 0.999
DATA_CHUNK = 250                 # steps of real data and noise drawn at once, per member
# Steps between resumable checkpoints of a unit given a scratch directory: the full profile's 400,000-step
# ensembles take hours, and a crash should cost at most this many steps. A multiple of DATA_CHUNK (a resumed
# run redraws the chunk it starts in from the saved generator states) and of the loop's CHECK_EVERY.
SAVE_EVERY = 5_000
SAMPLE_SEED_OFFSET = 7_919
NOISE_SEED_OFFSET = 104_729


def _bce_per_member(logits: torch.Tensor, target: float) -> torch.Tensor:
    """logits (E, B, 1) -> mean BCE per member (E,)."""
    t = torch.full_like(logits, target)
    return F.binary_cross_entropy_with_logits(logits, t, reduction="none").mean(dim=(1, 2))


class _Ensemble:
    """E members' stacked parameters, optimisers and per-member random streams."""

    def __init__(self, cfg: MLPGANConfig, params: MixtureParams, dataset: str, seeds: tuple[int, ...],
                 device: str) -> None:
        self.cfg, self.p, self.dataset, self.seeds, self.device = cfg, params, dataset, seeds, device
        members = [build(cfg, s) for s in seeds]
        self.g_mod, self.d_mod = members[0]
        self.g = stack_generators([m[0] for m in members], device)       # weights, BatchNorm params, buffers
        self.d = stack_discriminators([m[1] for m in members], device)   # [(W (E,out,in), b (E,out)), ...]
        self.g_leaves, self.d_leaves = self.g.parameters(), [t for wb in self.d for t in wb]
        betas = (params.adam_beta1, ADAM_BETA2)
        self.opt_g = torch.optim.Adam(self.g_leaves, lr=params.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.d_leaves, lr=params.lr, betas=betas)
        self.rngs = [np.random.default_rng(s) for s in seeds]
        self.noise = [torch.Generator().manual_seed(s + NOISE_SEED_OFFSET) for s in seeds]
        self.n_draw = params.batch_size * cfg.pack                       # samples per step per member
        # Both mixtures are centred, so standardising is one division (and one product when sampling).
        self.scale = mixture_scale(dataset) if params.standardise else 1.0
        self._chunk_start = -1

    def _batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(real, z), each (E, batch*pack, 2), drawn DATA_CHUNK steps at a time from per-member streams."""
        c0 = step - step % DATA_CHUNK
        if c0 != self._chunk_start:
            k = min(DATA_CHUNK, self.p.steps - c0)
            real = np.stack([sample_mixture(self.dataset, k * self.n_draw, r).reshape(k, self.n_draw, 2)
                             for r in self.rngs]) / np.float32(self.scale)   # (E, k, n_draw, 2)
            z = torch.stack([torch.randn(k, self.n_draw, self.cfg.noise_dim, generator=gen)
                             for gen in self.noise])                     # (E, k, n_draw, noise)
            self._real, self._z = torch.from_numpy(real).to(self.device), z.to(self.device)
            self._chunk_start = c0
        j = step - c0
        return self._real[:, j], self._z[:, j]

    def _g_tensors(self) -> list[torch.Tensor]:
        """G's parameters and its BatchNorm running statistics, in a fixed order."""
        return [*self.g.parameters(), *self.g.running_mean, *self.g.running_var]

    def state(self) -> dict:
        """Everything the next step depends on: weights, BatchNorm buffers, both Adams and every member's
        data and noise generator (read at a chunk boundary, so no drawn-but-unused chunk is lost)."""
        return {"g": [t.detach() for t in self._g_tensors()], "d": [t.detach() for t in self.d_leaves],
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                "data_rng": [r.bit_generator.state for r in self.rngs],
                "noise_rng": [gen.get_state() for gen in self.noise]}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():                           # in place: the optimisers hold these very tensors
            for t, v in zip(self._g_tensors() + self.d_leaves, state["g"] + state["d"], strict=True):
                if t.shape != v.shape:                 # copy_ would broadcast a wrong shape silently
                    raise ValueError(f"checkpoint tensor of shape {tuple(v.shape)} for one of {tuple(t.shape)}")
                t.copy_(v)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        for r, st in zip(self.rngs, state["data_rng"], strict=True):
            r.bit_generator.state = st
        for gen, st in zip(self.noise, state["noise_rng"], strict=True):
            gen.set_state(st)
        self._chunk_start = -1

    def _d(self, x: torch.Tensor) -> torch.Tensor:
        e, n, _ = x.shape
        return maxout_apply(self.d, x.reshape(e, n // self.cfg.pack, -1), self.cfg.maxout)   # (E, B, 1) packed

    def step(self, step: int) -> torch.Tensor:
        """One alternating D/G update of every member; returns losses (E, 2) as (d_loss, g_loss)."""
        real, z = self._batch(step)
        fake = self.g(z, training=True)                                  # (E, B*pack, 2)
        d_loss = _bce_per_member(self._d(real), 1.0) + _bce_per_member(self._d(fake.detach()), 0.0)  # (E,)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.sum().backward()
        self.opt_d.step()
        g_loss = _bce_per_member(self._d(fake), 1.0)                     # (E,) non-saturating
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.sum().backward(inputs=self.g_leaves)
        self.opt_g.step()
        return torch.stack([d_loss.detach(), g_loss.detach()], dim=1)

    @torch.no_grad()
    def samples(self, n: int) -> np.ndarray:
        z = torch.stack([torch.randn(n, self.cfg.noise_dim, generator=torch.Generator().manual_seed(
            s + SAMPLE_SEED_OFFSET)) for s in self.seeds]).to(self.device)          # (E, n, noise)
        # Declared: eval mode, BatchNorm with the running statistics (as the image models are sampled).
        out = self.g(z, training=False).float().cpu().numpy()                    # (E, n, 2)
        return (out * np.float32(self.scale)).astype(np.float32)                # in the data's own units


class MemberRecords:
    """An ensemble's LossRecord for the shared step loop (training/loop.py: run_steps): each member's
    full-resolution losses, checked by its own FailureMonitor of `kind` (the GANs', or flow matching's). A member whose losses turn non-finite stops
    recording there while the others train on; the run stops once every member has."""

    def __init__(self, n_members: int, total: int, keys: list[str], kind: str = "gan") -> None:
        self.total, self.keys, self.kind = total, keys, kind
        # Full-resolution losses in one preallocated array (float32, as computed), not Python lists: at the
        # full profile's 400,000 steps, 10 members x 2 losses are 32 MB here, against about 0.4 GB of list
        # entries (a float object and a pointer, 32 bytes each).
        self.steps = np.arange(1, total + 1, dtype=np.int64)
        self.losses = np.full((n_members, total, len(keys)), np.nan, dtype=np.float32)   # (E, steps, K)
        self.recorded = [0] * n_members                                  # steps in each member's record
        self.monitors = [T.FailureMonitor(kind, total) for _ in range(n_members)]
        self._last: np.ndarray | None = None                             # (E, K): the last step's losses

    @property
    def stop(self) -> bool:
        return all(m.stop for m in self.monitors)

    def add(self, first: int, losses: np.ndarray) -> None:
        """losses (n, E, K) of steps first .. first + n - 1."""
        last = first + len(losses) - 1
        for e, mon in enumerate(self.monitors):
            if mon.stop:                                                 # a failed member's record ends there
                continue
            self.losses[e, first - 1:last] = losses[:, e]
            self.recorded[e] = last
            mon.update(self.history(e))
        self._last = losses[-1]

    def latest(self) -> dict[str, float]:
        """The members' mean losses at the last step (NaN-skipping: a failed member's may be NaN)."""
        return {k: float(np.nanmean(self._last[:, j])) for j, k in enumerate(self.keys)}

    def history(self, e: int) -> dict[str, np.ndarray]:
        """Member e's record as the history mapping the monitor and `downsample_history` read (views)."""
        n = self.recorded[e]
        return {T.KEY_STEP: self.steps[:n], **{k: self.losses[e, :n, j] for j, k in enumerate(self.keys)}}

    def state(self, step: int) -> dict:
        return {"losses": torch.from_numpy(self.losses[:, :step].copy()), "recorded": list(self.recorded),
                "failure_events": [list(m.events) for m in self.monitors]}

    def load_state(self, saved: dict) -> None:
        self.losses[:, :saved["step"]] = saved["losses"].numpy()
        self.recorded = list(saved["recorded"])
        self.monitors = [T.FailureMonitor(self.kind, self.total, ev) for ev in saved["failure_events"]]
        for mon, n in zip(self.monitors, self.recorded):
            mon.checked = n


def _resume_key(params: MixtureParams, dataset: str, variant: str, seeds: tuple[int, ...], device: str) -> dict:
    # Device and thread count too: results differ between them after a few steps, and a direct caller
    # (not the pipeline, whose scratch directory is fingerprinted by both) may change either.
    return {"model": "mlp_gan", "dataset": dataset, "variant": variant, "seeds": list(seeds), "device": device,
            "threads": torch.get_num_threads(), "params": T.resume_params(params)}


def _train_group(params: MixtureParams, cfg: MLPGANConfig, dataset: str, variant: str, seeds: tuple[int, ...],
                 device: str, progress: T.Progress | None, ckpt_dir: Path | None,
                 save_every: int) -> list[T.RunResult]:
    e_size, total = len(seeds), params.steps
    keys = [T.KEY_D_LOSS, T.KEY_G_LOSS]
    ens = _Ensemble(cfg, params, dataset, seeds, device)
    resume_key = _resume_key(params, dataset, variant, seeds, device)
    records = MemberRecords(e_size, total, keys)
    ledger, start, prev_wall = FlopLedger(), 0, 0.0
    ckpt_steps, ckpts = [], []
    saved = T.load_checkpoint(ckpt_dir, resume_key)
    if saved is not None and saved["step"] < total:
        start, prev_wall, ledger = saved["step"], saved["wall_s"], FlopLedger(saved["flops"])
        ens.load_state(saved["ensemble"])
        records.load_state(saved)
        ckpt_steps = list(saved["checkpoint_steps"])
        ckpts = list(saved["checkpoint_samples"].numpy()) if ckpt_steps else []
        log.info("mlp_gan %s %s seeds %s: resuming at step %d of %d", dataset, variant, list(seeds), start, total)

    def after_step(n: int) -> None:
        if params.eval_every and n % params.eval_every == 0:
            # Outside the FLOP ledger (measurement, not training); fresh sampling noise and eval-mode
            # BatchNorm, so the training trajectory is the same with or without checkpoints.
            ckpt_steps.append(n)
            ckpts.append(ens.samples(params.eval_samples))                  # (E, n, 2)

    def save_fn(step: int) -> None:
        Path(ckpt_dir).mkdir(parents=True, exist_ok=True)
        T.save_checkpoint(ckpt_dir, {
            "resume_key": resume_key, "step": step, "ensemble": ens.state(), **records.state(step),
            "flops": ledger.state(), "wall_s": prev_wall + meter.elapsed(), "checkpoint_steps": list(ckpt_steps),
            "checkpoint_samples": torch.from_numpy(np.stack(ckpts)) if ckpts else torch.zeros(0)})

    with ResourceMeter(device) as meter:
        # Checkpoints only every save_every steps (a multiple of DATA_CHUNK) before the end: ens.state() is a
        # resume point only at a chunk boundary, and a finished group is never resumed.
        T.run_steps(start=start, total=total, record=records, step_fn=ens.step,
                    shape_of=lambda _: ens.n_draw * e_size,                  # one shape: the whole ensemble
                    ledger=ledger, progress=progress, save_fn=save_fn if ckpt_dir is not None else None,
                    save_every=save_every, after_step=after_step, save_at_end=False)
        samples = ens.samples(params.n_samples)
    res = meter.summary()
    res["wall_s"] += prev_wall                                           # peak memory: this process's only
    p_g, p_d = count_params(ens.g_mod), count_params(ens.d_mod)
    fwd = forward_flops_per_sample(ens.g_mod.cpu(), torch.zeros(1, cfg.noise_dim))
    config = {"params": canonical(params), "architecture": canonical(cfg), "dataset": dataset, "variant": variant,
              "adam": {"betas": [params.adam_beta1, ADAM_BETA2]},
              "sampling": "eval mode (BatchNorm running statistics)", "checkpoint_steps": ckpt_steps}
    out = []
    for e, seed in enumerate(seeds):
        steps_done = records.recorded[e]
        # A member's share of the ensemble: its steps at 1/E of the ensemble's counted FLOPs and wall time.
        member = FlopLedger({"per_shape": {ens.n_draw: ledger.per_shape.get(ens.n_draw * e_size, 0) // e_size},
                             "steps": {ens.n_draw: steps_done}})
        share = {**res, "energy_j": None if res["energy_j"] is None else res["energy_j"] / e_size}
        compute = compute_record(
            device=device, ledger=member, steps=steps_done, wall_s=res["wall_s"] / e_size, meter=share,
            fwd_flops=fwd, n_generated=params.n_samples, params={"params": p_g + p_d, "params_g": p_g, "params_d": p_d},
            peak=device_peak(device_name(device), "fp32") if device == "cuda" else None, epochs=None,
            ensemble_size=e_size, ensemble_note="wall time, FLOPs and energy are 1/E shares of the ensemble's; "
                                                "peak memory is the whole ensemble's")
        extras = {CHECKPOINT_SAMPLES: np.stack([c[e] for c in ckpts])} if ckpts else {}
        history = T.downsample_history(records.history(e))
        out.append(T.RunResult("mlp_gan", dataset, variant, seed, config, history, compute,
                               list(records.monitors[e].events), samples[e], extras))
    return out


def train_mixture_seeds(params: MixtureParams, dataset: str, variant: str, seeds: tuple[int, ...],
                        device: str = "cpu", *, progress: T.Progress | None = None, ensemble: bool = True,
                        ckpt_dir: Path | None = None, save_every: int = SAVE_EVERY) -> list[T.RunResult]:
    """One RunResult per seed, in order. ensemble=True trains all seeds as one batched ensemble;
    False trains them one after another (same numbers up to float rounding). With `ckpt_dir`, each group
    saves a checkpoint every `save_every` steps there and a rerun resumes from it: the same numbers as an
    uninterrupted run (tests/unit/training/test_train.py)."""
    if dataset not in MIXTURES:
        raise UsageError(f"unknown mixture '{dataset}'; choose one of: {', '.join(MIXTURES)}")
    if variant not in VARIANTS:
        raise UsageError(f"unknown variant '{variant}'; choose one of: {', '.join(VARIANTS)}")
    if not seeds:
        return []
    if save_every <= 0 or save_every % DATA_CHUNK or save_every % T.CHECK_EVERY:
        raise ValueError(f"save_every must be a positive multiple of {DATA_CHUNK} and {T.CHECK_EVERY}, "
                         f"got {save_every}")
    pack = params.pack if variant == "pacgan" else 1
    cfg = MLPGANConfig(g_hidden=params.g_hidden, d_hidden=params.d_hidden, pack=pack)   # D: same width any pack
    cuda = device == "cuda"
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if cuda else []):
        groups = [tuple(seeds)] if ensemble else [(s,) for s in seeds]
        results: list[T.RunResult] = []
        for group in groups:
            group_dir = None if ckpt_dir is None else Path(ckpt_dir) / ("ensemble" if ensemble else f"s{group[0]}")
            results += _train_group(params, cfg, dataset, variant, group, device, progress, group_dir, save_every)
    return results
