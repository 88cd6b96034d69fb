"""Flow matching on the 2-D mixtures: which size and recipe reach every mode within the quick budget.

    python benchmarks/flow_spike.py ring8 grid25 [--seeds 10] [--set hidden=128 x_freqs=0 lr_decay=false]
    python benchmarks/flow_spike.py --smoke        # seconds: the smoke profile's sizes (CI)

Trains one ensemble per mixture with the quick profile's FlowMixtureParams (overridden by --set), then prints,
per NFE, every seed's mode count and the median and smallest high-quality share (evaluation/units.py:
mixture_metrics), with the ensemble's wall time. The quick profile's floor: every seed captures every mode
with a high-quality share of at least 0.5 at the largest NFE. Results that chose the quick profile's
settings are in core/config.py beside them.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import fields, replace

import numpy as np
import torch

from bubblelens.core.config import profile_config
from bubblelens.evaluation.units import mixture_metrics
from bubblelens.training.flow import train_flow_mixture_seeds
from bubblelens.training.names import nfe_array


def parse_set(items: list[str], params):
    types = {f.name: type(getattr(params, f.name)) for f in fields(params)}
    changes = {}
    for item in items:
        key, value = item.split("=", 1)
        changes[key] = value.lower() in ("1", "true", "yes") if types[key] is bool else types[key](value)
    return replace(params, **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("datasets", nargs="*", default=["ring8", "grid25"])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--smoke", action="store_true", help="the smoke profile's sizes, 2 seeds (seconds; CI)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = profile_config("smoke" if args.smoke else "quick")
    params = parse_set(args.set, cfg.flow_mixture)
    seeds = tuple(range(2 if args.smoke else args.seeds))
    for ds in args.datasets:
        t0 = time.perf_counter()
        runs = train_flow_mixture_seeds(replace(params, datasets=(ds,)), ds, seeds)
        print(f"{ds}: {len(seeds)} seeds, {params.steps} steps of {params.batch_size}, hidden {params.hidden}, "
              f"x_freqs {params.x_freqs}, lr {params.lr:g} (decay {params.lr_decay}): {time.perf_counter() - t0:.1f} s")
        for nfe in params.nfe:
            m = [mixture_metrics(r.extras[nfe_array(nfe)], ds) for r in runs]
            hq = [x["high_quality"] for x in m]
            print(f"  NFE {nfe:3d}  modes {[int(x['modes']) for x in m]}  high-quality median {np.median(hq):.3f} "
                  f"min {min(hq):.3f}")


if __name__ == "__main__":
    main()
