"""What moved since the previous build in the same output directory: verdicts, key metrics, curated rows.

Analysts update data and need to see what moved. Before a build overwrites `results/`, `snapshot` reads
the previous verdicts, metrics and curated rows; `compare` diffs them against the new ones. The report
shows the section only when something changed, so an unchanged rebuild stays byte-identical.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from bubblelens.core.io import atomic_write_text
from bubblelens.evaluation import names

KEY_METRICS = (names.KEY_FID, names.KEY_PRECISION, names.KEY_RECALL, names.KEY_COVERAGE, names.KEY_MODES,
               names.KEY_HIGH_QUALITY, names.KEY_LAPLACIAN_RATIO)
MARKET_ROWS = "market_rows.csv"


def snapshot(out_dir: Path) -> dict | None:
    """The previous build's verdicts, metrics and curated rows, read from its output files (or None)."""
    results = Path(out_dir) / "results"
    try:
        claims = json.loads((results / "claims.json").read_text(encoding="utf-8"))
        metrics = pd.read_csv(results / "metrics.csv")
        rows = pd.read_csv(results / MARKET_ROWS, dtype=str, keep_default_na=False)
        manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    return {"claims": claims, "metrics": metrics, "rows": rows, "build_id": manifest.get("build_id", "unknown")}


def current(evaluated, claims: list, market) -> dict:
    """The same three things for the build in progress, from memory (nothing is written before it succeeds)."""
    return {"claims": [c.to_json() for c in claims], "metrics": evaluated.runs_long(), "rows": market_rows(market)}


def market_rows(market) -> pd.DataFrame:
    frames = []
    for sid, s in sorted(market.series.items()):
        f = s.frame[["date_text", "label", "value_text", "source_id"]].copy()
        f.insert(0, "series_id", sid)
        frames.append(f)
    return pd.concat(frames, ignore_index=True).astype(str) if frames else pd.DataFrame()


def write_market_rows(out_dir: Path, market) -> None:
    atomic_write_text(Path(out_dir) / "results" / MARKET_ROWS, market_rows(market).to_csv(index=False))


def _metric_means(metrics: pd.DataFrame) -> dict[str, float]:
    m = metrics[metrics.metric.isin(KEY_METRICS)]
    grouped = m.groupby(["model", "dataset", "variant", "metric"])["value"].mean()
    return {"/".join(map(str, k)): float(v) for k, v in grouped.items()}


def compare(before: dict | None, after: dict) -> dict | None:
    """Differences between the previous build and this one; None when there is none or nothing moved."""
    if before is None:
        return None
    old_v = {c["claim_id"]: c["verdict"] for c in before["claims"]}
    verdicts = [[cid, old_v.get(cid, "(new claim)"), c["verdict"]] for c in after["claims"]
                for cid in [c["claim_id"]] if old_v.get(cid) != c["verdict"]]
    m0, m1 = _metric_means(before["metrics"]), _metric_means(after["metrics"])
    metrics = [[k, _num(m0.get(k)), _num(m1.get(k))] for k in sorted(set(m0) | set(m1))
               if m0.get(k) is None or m1.get(k) is None or abs(m0[k] - m1[k]) > 1e-9 * max(1.0, abs(m0[k]))]
    key = ["series_id", "date_text", "label"]
    r0 = before["rows"].set_index(key)["value_text"].to_dict() if len(before["rows"]) else {}
    r1 = after["rows"].set_index(key)["value_text"].to_dict() if len(after["rows"]) else {}
    rows = []
    for k in sorted(set(r0) | set(r1)):
        label = f" [{k[2]}]" if k[2] else ""
        if k not in r0:
            rows.append([k[0], k[1] + label, f"added: {r1[k]}"])
        elif k not in r1:
            rows.append([k[0], k[1] + label, f"removed (was {r0[k]})"])
        elif r0[k] != r1[k]:
            rows.append([k[0], k[1] + label, f"{r0[k]} → {r1[k]}"])
    if not (verdicts or metrics or rows):
        return None
    return {"previous_build": before["build_id"], "verdicts": verdicts, "metrics": metrics[:30], "rows": rows[:60]}


def _num(v) -> str:
    return "–" if v is None else f"{v:.4g}"
