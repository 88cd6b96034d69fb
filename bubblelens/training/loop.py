"""One training-loop family: devices, checkpoints, failure events, loss histories (the result record,
RunResult, is training/run_result.py's; it is re-exported here).

The three trainers build on it and live beside it: training/dcgan.py (the article's DCGAN), training/vae.py
and training/mixture.py (2-D MLP GANs, several seeds as one batched ensemble); import each from its own
module (this one cannot re-export them: they import it). A failed run is evidence, not a crash: trainers
never raise for a diverged run, they stop (non-finite loss) or carry on, and return a RunResult whose
`failure_events` say what happened.
"""
from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch

from bubblelens.core.config import canonical
from bubblelens.core.io import atomic_write
from bubblelens.training.compute import FlopLedger
# The record and its names live in run_result.py (no torch there); the trainers read them here, as T.<name>.
from bubblelens.training.run_result import (EVENT_D_OVERPOWERING, EVENT_DIVERGENCE, EVENT_NON_FINITE,  # noqa: F401
                                             KEY_D_LOSS, KEY_G_LOSS, KEY_KL, KEY_LOSS, KEY_RECON, KEY_STEP, RunResult)

log = logging.getLogger(__name__)

Progress = Callable[[int, int, dict[str, float]], None]


HISTORY_POINTS = 500            # at most this many points per loss curve in a RunResult
CHECK_EVERY = 25                # steps between host syncs (loss read-back, failure checks, progress)
CKPT_NAME = "last.pt"

# Failure thresholds. BCE(logit) GAN losses start near 2 ln 2 = 1.39 (D) and ln 2 = 0.69 (G).
D_OVERPOWER_D_LOSS = 0.05       # window-mean D loss below this = D separates real from fake almost perfectly
D_OVERPOWER_G_LOSS = 3.0        # ... while G's loss is above this and rising over the window
GAN_DIVERGENCE_LOSS = 50.0      # a window-mean BCE loss this large means saturated logits, not a game
VAE_DIVERGENCE_FACTOR = 2.0     # window-mean negative ELBO above 2x its first window: training went backwards


def downsample_history(history: dict[str, list[float]], max_points: int = HISTORY_POINTS) -> dict[str, list[float]]:
    """Bucket means of contiguous steps (at most max_points buckets); 'step' is each bucket's last step.

    Means, not every k-th point, so a plotted curve shows the trend rather than one noisy minibatch.
    """
    steps = np.asarray(history[KEY_STEP], dtype=np.int64)
    n = len(steps)
    if n <= max_points:
        return {k: [float(v) for v in vals] if k != KEY_STEP else [int(v) for v in vals]
                for k, vals in history.items()}
    edges = np.linspace(0, n, max_points + 1).round().astype(int)
    out: dict[str, list] = {KEY_STEP: [int(steps[e - 1]) for e in edges[1:]]}
    for key, vals in history.items():
        if key == KEY_STEP:
            continue
        arr = np.asarray(vals, dtype=np.float64)
        out[key] = [float(arr[a:b].mean()) for a, b in zip(edges[:-1], edges[1:])]
    return out


class FailureMonitor:
    """Scans full-resolution losses as they arrive and records each failure kind once, at its first step.

    kind 'gan' watches d_loss/g_loss (D overpowering, divergence); 'vae' watches loss (divergence).
    Non-finite losses are fatal: `stop` becomes True and the trainer ends the run there.
    """

    def __init__(self, kind: str, total_steps: int, events: list[dict] | None = None) -> None:
        self.kind = kind
        self.window = int(min(200, max(10, total_steps // 10)))
        self.events: list[dict] = list(events or [])
        self.stop = any(e["kind"] == EVENT_NON_FINITE for e in self.events)
        self.checked = 0        # history entries already scanned

    def _add(self, step: int, kind: str, detail: str) -> None:
        if any(e["kind"] == kind for e in self.events):
            return
        log.warning("training failure at step %d: %s (%s)", step, kind, detail)
        self.events.append({"step": int(step), "kind": kind, "detail": detail})

    def update(self, history: dict[str, list[float]]) -> None:
        """Check losses added since the last call. Window checks run at every multiple of CHECK_EVERY steps,
        so the events do not depend on when the trainer happened to sync (or was interrupted and resumed)."""
        keys = [KEY_D_LOSS, KEY_G_LOSS] if self.kind == "gan" else [KEY_LOSS]
        n = len(history[KEY_STEP])
        for k in keys:
            new = np.asarray(history[k][self.checked:n])
            bad = ~np.isfinite(new)
            if bad.any():
                self._add(history[KEY_STEP][self.checked + int(np.argmax(bad))], EVENT_NON_FINITE,
                          f"{k} is not finite")
                self.stop = True
        if self.stop:
            self.checked = n
            return
        for end in range(self.checked + 1, n + 1):
            if history[KEY_STEP][end - 1] % CHECK_EVERY == 0 and end >= self.window:
                self._check_window(history, end)
        self.checked = n

    def _check_window(self, history: dict[str, list[float]], end: int) -> None:
        w, step = self.window, history[KEY_STEP][end - 1]
        if self.kind == "gan":
            # float64 whatever the record's type (lists of floats, or a trainer's float32 array views)
            d = np.asarray(history[KEY_D_LOSS][end - w:end], dtype=np.float64)
            g = np.asarray(history[KEY_G_LOSS][end - w:end], dtype=np.float64)
            g_rising = g[w // 2:].mean() > g[: w // 2].mean()
            if d.mean() < D_OVERPOWER_D_LOSS and g.mean() > D_OVERPOWER_G_LOSS and g_rising:
                self._add(step, EVENT_D_OVERPOWERING,
                          f"mean d_loss {d.mean():.3g} < {D_OVERPOWER_D_LOSS} while g_loss rises (mean "
                          f"{g.mean():.3g}) over the last {w} steps")
            if max(d.mean(), g.mean()) > GAN_DIVERGENCE_LOSS:
                self._add(step, EVENT_DIVERGENCE,
                          f"mean losses d={d.mean():.3g} g={g.mean():.3g} above {GAN_DIVERGENCE_LOSS} over {w} steps")
        else:
            loss = np.asarray(history[KEY_LOSS][:end], dtype=np.float64)
            first, last = loss[:w].mean(), loss[end - w:].mean()
            if last > VAE_DIVERGENCE_FACTOR * first:
                self._add(step, EVENT_DIVERGENCE,
                          f"mean loss {last:.4g} over the last {w} steps is above {VAE_DIVERGENCE_FACTOR}x "
                          f"the first window's {first:.4g}")


class LossRecord(Protocol):
    """Where `run_steps` puts the losses it reads back, and whether the run must stop. HistoryRecord is the
    image models' (one run); the mixture ensemble keeps one record and one monitor per member."""

    @property
    def stop(self) -> bool:
        """True once no further step may run (a fatal failure)."""

    def add(self, first: int, losses: np.ndarray) -> None:
        """Take the losses of steps first, first + 1, ...: (steps, *the shape step_fn returns)."""

    def latest(self) -> dict[str, float]:
        """The losses that progress reports for the last step added."""


class HistoryRecord:
    """One run's LossRecord: losses (steps, len(keys)) appended to `history`'s lists, checked by `monitor`."""

    def __init__(self, keys: list[str], history: dict[str, list], monitor: FailureMonitor) -> None:
        self.keys, self.history, self.monitor = keys, history, monitor

    @property
    def stop(self) -> bool:
        return self.monitor.stop

    def add(self, first: int, losses: np.ndarray) -> None:
        self.history[KEY_STEP].extend(range(first, first + len(losses)))
        for j, k in enumerate(self.keys):
            self.history[k].extend(float(v) for v in losses[:, j])
        self.monitor.update(self.history)

    def latest(self) -> dict[str, float]:
        return {k: self.history[k][-1] for k in self.keys}


def run_steps(*, start: int, total: int, keys: list[str] | None = None, history: dict[str, list] | None = None,
              monitor: FailureMonitor | None = None, step_fn: Callable[[int], torch.Tensor],
              shape_of: Callable[[int], int], ledger: FlopLedger, progress: Progress | None,
              save_fn: Callable[[int], None] | None, save_every: int,
              after_step: Callable[[int], None] | None = None, record: LossRecord | None = None,
              save_at_end: bool = True) -> int:
    """The one step loop of every trainer: run step_fn(step) -> losses from `start` to `total`, reading
    losses back every CHECK_EVERY steps (one host sync, not one per step), checking failures, reporting
    progress and checkpointing every `save_every` steps and at the end. The ledger counts the FLOPs of each
    distinct step shape (`shape_of(step)`, the batch size) the first time it runs; `after_step(n)` runs after
    the n-th step, outside the FLOP counter (e.g. taking a snapshot). Returns the last completed step.

    Losses (len(keys),) per step go to `history`, checked by `monitor`; a trainer with another layout
    passes `record` instead (the mixture ensemble: losses (members, len(keys)), one record per member).
    `save_at_end=False` checkpoints only every `save_every` steps before `total`, never at the end or on
    a fatal failure (the ensemble: its state is a valid resume point at a data-chunk boundary only)."""
    if record is None:
        record = HistoryRecord(keys, history, monitor)
    pending: list[torch.Tensor] = []
    step = start
    while step < total and not record.stop:
        losses = ledger.run(shape_of(step), lambda: step_fn(step))
        pending.append(losses)
        step += 1
        if after_step is not None:
            after_step(step)
        at_save = (save_fn is not None and (step % save_every == 0 or step == total)
                   and (save_at_end or step < total))
        if step % CHECK_EVERY == 0 or step == total or at_save:
            arr = torch.stack(pending).float().cpu().numpy()              # (n, *losses' shape)
            first = step - len(pending) + 1
            pending.clear()
            record.add(first, arr)
            if progress is not None:
                progress(step, total, record.latest())
            if at_save or (save_at_end and record.stop and save_fn is not None):
                save_fn(step)
    return step


# ---- checkpoints ----

def save_checkpoint(ckpt_dir: Path, payload: dict[str, Any]) -> Path:
    """torch.save to a temp file in the same directory, then os.replace: a killed run never leaves half a file."""
    final = Path(ckpt_dir) / CKPT_NAME
    atomic_write(final, lambda tmp: torch.save(payload, tmp))
    return final


def load_checkpoint(ckpt_dir: Path | None, resume_key: dict) -> dict | None:
    """The last checkpoint in ckpt_dir when it belongs to the same run (resume_key), else None.

    Loaded with weights_only=True: a checkpoint is data (tensors, numbers, strings), never code.
    """
    if ckpt_dir is None or not (Path(ckpt_dir) / CKPT_NAME).is_file():
        return None
    payload = torch.load(Path(ckpt_dir) / CKPT_NAME, map_location="cpu", weights_only=True)
    if payload.get("resume_key") != resume_key:
        log.info("checkpoint in %s is for a different run; starting fresh", ckpt_dir)
        return None
    return payload


SNAPSHOT_FILE = "snapshot_{step}.npy"


def keep_snapshot(ckpt_dir: Path | None, kept: dict[int, np.ndarray], step: int, samples: np.ndarray) -> None:
    """Keep samples taken at `step`: in memory, and beside the checkpoint so a resumed run still has them."""
    kept[step] = samples
    if ckpt_dir is not None:
        def write(tmp: Path) -> None:
            with tmp.open("wb") as fh:
                np.save(fh, samples, allow_pickle=False)
        atomic_write(Path(ckpt_dir) / SNAPSHOT_FILE.format(step=step), write)


def load_snapshots(ckpt_dir: Path | None, kept: dict[int, np.ndarray], steps: list[int]) -> dict[int, np.ndarray]:
    """The snapshots of `steps` that this run took or an interrupted earlier attempt left beside its checkpoint."""
    out = {}
    for s in steps:
        path = Path(ckpt_dir) / SNAPSHOT_FILE.format(step=s) if ckpt_dir is not None else None
        if s in kept:
            out[s] = kept[s]
        elif path is not None and path.is_file():
            out[s] = np.load(path, allow_pickle=False)
    return out


def rng_state(device: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state(), "generator": generator.get_state()}
    if device == "cuda":
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(device: str, generator: torch.Generator, state: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    if device == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"])


def epoch_permutation(n: int, seed: int, epoch: int, device: str) -> torch.Tensor:
    """Shuffle order of epoch `epoch`: a pure function of (seed, epoch), so a resumed run needs no extra state."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen).to(device)


# Params that may differ between a checkpoint and the run resuming it: changing them does not change the
# trained numbers up to the checkpoint's step. One set for every trainer, matched by field name (a params
# class without a field simply has nothing to drop): the image models' `epochs` and `max_steps` only move the
# run's end. The mixtures' `steps` is deliberately not here: it also sizes their last data chunk, so it
# changes the trajectory (training/mixture.py), and their `eval_every`/`eval_samples` fix which checkpoint
# samples a checkpoint already holds.
RESUME_FREE = ("epochs", "max_steps", "n_samples", "snapshot_fractions")


def resume_params(params: Any) -> dict:
    """The params a checkpoint must match to be resumed: canonical(params) less RESUME_FREE."""
    return {k: v for k, v in canonical(params).items() if k not in RESUME_FREE}


def data_digest(images: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(images).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class StepPlan:
    """How an image model's run is laid out: steps per epoch, total steps, and what a checkpoint must match."""

    steps_per_epoch: int
    total: int
    resume_key: dict


def plan_steps(model: str, images: np.ndarray, params: Any, seed: int) -> StepPlan:
    """Epochs of `params.batch_size` over `images`, capped by `params.max_steps` (0 = no cap)."""
    steps_per_epoch = math.ceil(len(images) / params.batch_size)
    total = params.epochs * steps_per_epoch
    if params.max_steps > 0:
        total = min(total, params.max_steps)
    key = {"model": model, "seed": seed, "data": data_digest(images), "params": resume_params(params)}
    return StepPlan(steps_per_epoch, total, key)


@dataclass
class ResumePoint:
    """Where a run (re)starts: step, wall time and FLOPs already spent, history and failure events so far."""

    start: int
    prev_wall: float
    ledger: FlopLedger
    history: dict[str, list]
    events: list[dict]


def resume_progress(ckpt: dict | None, total: int, history: dict[str, list], device: str,
                    noise_gen: torch.Generator, modules: dict[str, Any]) -> ResumePoint:
    """Restore `modules` (state-dict owners keyed by checkpoint name) and the noise stream from `ckpt`
    when it fits this run; otherwise a fresh start with the given empty `history`."""
    if ckpt is None or ckpt["step"] > total:
        return ResumePoint(0, 0.0, FlopLedger(), history, [])
    for name, owner in modules.items():
        owner.load_state_dict(ckpt[name])
    set_rng_state(device, noise_gen, ckpt["rng"])
    return ResumePoint(ckpt["step"], ckpt["wall_s"], FlopLedger(ckpt["flops"]), ckpt["history"], ckpt["failure_events"])


class EpochBatches:
    """Batch indices for optimiser step `step`: epoch-wise shuffles (one permutation held at a time).
    An epoch's last batch holds what is left (`size(step)`), as the tutorial's tf.data batches do."""

    def __init__(self, n: int, batch_size: int, steps_per_epoch: int, seed: int, device: str):
        self.n, self.bsz, self.steps_per_epoch, self.seed, self.device = n, batch_size, steps_per_epoch, seed, device
        self._epoch, self._perm = -1, None

    def __call__(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.steps_per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, epoch_permutation(self.n, self.seed, epoch, self.device)
        return self._perm[i * self.bsz:(i + 1) * self.bsz]

    def size(self, step: int) -> int:
        i = step % self.steps_per_epoch
        return min(self.bsz, self.n - i * self.bsz)


def to_uint8_images(x: torch.Tensor, low: float) -> np.ndarray:
    """(N, 1, 28, 28) in [low, 1] -> (N, 28, 28) uint8."""
    unit = (x.float() - low) / (1.0 - low)
    return (unit.clamp(0, 1) * 255).round().to(torch.uint8).squeeze(1).cpu().numpy()
