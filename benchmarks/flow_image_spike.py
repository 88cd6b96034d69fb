"""Flow matching's U-Net at the quick budget: which batch, learning rate and time sampling train best in the
same FLOPs, and what each sampler makes of it (issue 24's image floor; 2026-12-07).

    python benchmarks/flow_image_spike.py --set bs=16 steps=3776 lr=1e-3 t=logitnormal --tag b16
    python benchmarks/flow_image_spike.py --smoke       # seconds: a 4-channel U-Net, 4 steps, n 100 (CI)

One run per call (run two at a time on two cores): trains a U-Net of `ch` base channels for `steps` steps of
`bs` images (batches drawn with replacement from the quick profile's 15,000 training images, lr decayed
linearly to 0, t uniform or logit-normal), then samples n images from the same noise with Euler at NFE 8,
16 and 32 and the midpoint rule at NFE 8 and 16 (two evaluations a step), sampled by the compiled network,
and prints one JSON line: the settings, the training seconds and the FID of each sampler in the quick
profile's domain features. Its loop is simpler than the build's (training/flow.py draws epochs without
replacement): compare its rows with each other, not with a build's FIDs. Recorded rows: benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from bubblelens.core.config import profile_config
from bubblelens.datasets.images import SHIPPED_IMAGES, load_split
from bubblelens.evaluation import quality, units
from bubblelens.models.flow import UNet, UNetConfig, interpolate
from bubblelens.training import loop as T
from bubblelens.training.flow import draw_times
from bubblelens.training.sampling import sampling_velocity

DEFAULTS = {"ch": 16, "bs": 128, "lr": 1e-3, "steps": 472, "t": "uniform", "seed": 0, "n": 2000}
SAMPLERS = (("euler", 8), ("euler", 16), ("euler", 32), ("midpoint", 8), ("midpoint", 16))
CHUNK = 500


@torch.no_grad()
def sample(velocity, n: int, seed: int, method: str, nfe: int) -> np.ndarray:
    gen = torch.Generator().manual_seed(seed + 7_919)
    out = []
    for a in range(0, n, CHUNK):
        x = torch.randn(min(CHUNK, n - a), 1, 28, 28, generator=gen)
        steps = nfe if method == "euler" else nfe // 2
        dt = 1.0 / steps
        for k in range(steps):
            t = torch.full((len(x),), k * dt)
            if method == "euler":
                x = x + dt * velocity(x, t)
            else:
                mid = x + 0.5 * dt * velocity(x, t)
                x = x + dt * velocity(mid, t + 0.5 * dt)
        out.append(T.to_uint8_images(x, low=-1.0))
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", nargs="*", default=[], help=f"key=value of {sorted(DEFAULTS)}")
    ap.add_argument("--tag", default="run")
    ap.add_argument("--smoke", action="store_true", help="a 4-channel U-Net, 4 steps of 8, n 100 (CI)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    s = dict(DEFAULTS)
    if args.smoke:
        s |= {"ch": 4, "bs": 8, "steps": 4, "n": 100}
    for item in args.set:
        key, value = item.split("=", 1)
        s[key] = type(DEFAULTS[key])(value)
    cfg = profile_config("smoke" if args.smoke else "quick")
    train = load_split(SHIPPED_IMAGES, "train", cfg.images.n_train)
    test = load_split(SHIPPED_IMAGES, "test", cfg.images.n_eval)
    _, state = units.feature_unit(cfg.features, train.images, train.labels, test.images, test.labels, "cpu")
    ext = units.extractor(cfg.features, state, "cpu")
    n = min(s["n"], len(test.images))
    real = ext.features(test.images[:n])
    torch.manual_seed(s["seed"])
    model = UNet(UNetConfig(channels=s["ch"]))
    data = torch.from_numpy(train.images.astype(np.float32) / 127.5 - 1.0).unsqueeze(1)
    opt = torch.optim.Adam(model.parameters(), lr=s["lr"])
    gen = torch.Generator().manual_seed(s["seed"] + 1)
    how = "logit_normal" if s["t"] in ("logitnormal", "logit_normal") else "uniform"
    t0 = time.perf_counter()
    for step in range(s["steps"]):
        x1 = data[torch.randint(len(data), (s["bs"],), generator=gen)]
        x0 = torch.randn(x1.shape, generator=gen)
        t = draw_times(s["bs"], how, gen, "cpu")
        for group in opt.param_groups:
            group["lr"] = s["lr"] * (1 - step / s["steps"])
        xt, target = interpolate(x0, x1, t)
        loss = ((model(xt, t) - target) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    row = {"tag": args.tag, **s, "train_s": round(time.perf_counter() - t0)}
    model.eval()
    velocity, row["sampler"] = sampling_velocity(model, float("inf") if not args.smoke else 0.0, "cpu",
                                                 torch.zeros(CHUNK, 1, 28, 28))
    for method, nfe in SAMPLERS:
        row[f"{method}{nfe}"] = round(quality.fid(real, ext.features(sample(velocity, n, s["seed"], method, nfe))), 1)
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
