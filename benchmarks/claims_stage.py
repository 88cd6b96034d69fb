"""Wall time of the claims on the models, as a cold build meets them after evaluation, side by side with a ref.

    python benchmarks/claims_stage.py --seed-cache DIR [--profile quick] [--ref REV] [--repeats 2]
    python benchmarks/claims_stage.py --smoke     # seconds: a made-up cache, each build `--only data` (CI)

A cold build computes the claims on market data beside training (pipeline/report_stages.market_claim_units)
and the claims on the models after evaluation, when nothing else runs. This script starts from a cache
holding a finished build of the profile (`--seed-cache`, e.g. the cache of a cold `bubblelens build`), drops
the entries of the claims that read run metrics, and times the rebuild that computes them again (plus the
render, which reruns because the claims did) for the current tree and, interleaved, for REV. Everything
else comes from the cache, so the difference is the claims stage's.

--smoke starts from a made-up cache holding one entry of a claim on the models and one of a market claim,
checks that exactly the first is dropped, and runs each build `--only data`: it checks this script against
the registry's layout and the CLI, not the claims' time.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import tomllib
from pathlib import Path

from build_times import REPO, build
from ref_tree import checked_out


def model_claim_ids(tree: Path) -> set[str]:
    """Claims whose evidence names run metrics (the ones a cold build computes after evaluation)."""
    registry = tomllib.loads((tree / "data" / "claims.toml").read_text(encoding="utf-8"))
    return {c["id"] for c in registry["claim"] if c.get("metrics")}


def cache_without_model_claims(seed: Path, target: Path, ids: set[str]) -> int:
    shutil.copytree(seed, target)
    dropped = 0
    for entry in (target / "claims").iterdir():
        result = entry / "result.json"
        if result.is_file() and json.loads(result.read_text()).get("claim_id") in ids:
            shutil.rmtree(entry)
            dropped += 1
    return dropped


def made_up_cache(seed: Path) -> Path:
    """A cache with one entry of a claim on the models and one of a market claim (for --smoke)."""
    registry = tomllib.loads((REPO / "data" / "claims.toml").read_text(encoding="utf-8"))
    model = next(c["id"] for c in registry["claim"] if c.get("metrics"))
    market = next(c["id"] for c in registry["claim"] if not c.get("metrics"))
    for name in (model, market):
        (seed / "claims" / name).mkdir(parents=True)
        (seed / "claims" / name / "result.json").write_text(json.dumps({"claim_id": name}))
    return seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-cache", type=Path, help="the cache of a finished build of the profile")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--ref", default=None, help="git revision to time beside the current tree")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--smoke", action="store_true", help="check the plumbing in seconds (see above)")
    args = parser.parse_args()
    if args.seed_cache is None and not args.smoke:
        parser.error("--seed-cache DIR is required (the cache of a finished build of the profile)")
    root = Path(tempfile.mkdtemp(prefix="bubblelens-claims-bench-"))
    if args.smoke:
        args.profile, args.repeats, args.seed_cache = "smoke", 1, made_up_cache(root / "seed")
    ids = model_claim_ids(REPO)
    rows = []
    try:
        with checked_out(args.ref, root / "ref-tree") as ref_tree:
            trees = ([(args.ref, ref_tree)] if args.ref else []) + [("current", REPO)]
            for rep in range(args.repeats):
                for name, tree in trees:
                    run = root / f"{name}-{rep}"
                    dropped = cache_without_model_claims(args.seed_cache, run / "cache", ids)
                    if args.smoke and dropped != 1:
                        raise SystemExit(f"expected to drop the one entry of a claim on the models, "
                                         f"dropped {dropped}")
                    wall, summary = build(args.profile, run / "out", run / "cache", tree / "data", tree,
                                          "data" if args.smoke else None)
                    rows.append((name, rep, dropped, wall, summary["computed"]))
                    shutil.rmtree(run, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"profile {args.profile}: rebuild computing the {len(ids)} claims on the models again (and the render)")
    print(f"{'tree':12s} {'repeat':>6s} {'dropped':>8s} {'wall s':>8s} {'computed':>9s}")
    for name, rep, dropped, wall, computed in rows:
        print(f"{name:12s} {rep:6d} {dropped:8d} {wall:8.1f} {computed:9d}")


if __name__ == "__main__":
    main()
