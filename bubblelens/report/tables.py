"""Tables of the report, built from measured results and curated data (pure functions -> report/model.Table).

Numbers are formatted here once, so the PDF, the HTML and the tests agree on what a reader sees.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from bubblelens.analysis import stats
from bubblelens.datasets.mixtures import mixture_spec
from bubblelens.evaluation import names
from bubblelens.report.inputs import RunFacts
from bubblelens.report.model import Table
from bubblelens.report.numbers import fmt, fmt_p
from bubblelens.training.names import FLOW_VARIANT

# Image metrics in the quality table, in this order, with the label a reader sees.
IMAGE_CLASSES = 10              # Fashion-MNIST's (evaluation.features.N_CLASSES; not imported: it brings torch)
METRIC_LABELS = {
    names.KEY_FID: "FID (domain features)", names.KEY_KID_MEAN: "KID", names.KEY_PRECISION: "Precision",
    names.KEY_RECALL: "Recall", names.KEY_DENSITY: "Density", names.KEY_COVERAGE: "Coverage",
    names.KEY_CLASSES_COVERED: f"Classes covered (of {IMAGE_CLASSES})",
    names.KEY_CLASS_KL: "KL(class histogram ‖ uniform)",
    names.KEY_MIN_CLASS_SHARE: "Least-made class (share × 10)",
    names.KEY_LAPLACIAN_RATIO: "Laplacian variance / real", names.KEY_HF_RATIO: "High-frequency power share / real",
    names.KEY_MEMORISATION_RATIO: "NN distance train / held-out", names.KEY_ACTIVE_UNITS: "VAE active units",
    names.KEY_FID_BATCH_STATS: "FID, batch-statistics sampling (not scored)",
}
QUALITY_METRICS = tuple(METRIC_LABELS)


# Metrics with a bounded range, whose intervals are clipped to it (modes: the mixture's own count).
_SHARE_METRICS = (names.KEY_HIGH_QUALITY, names.KEY_CONVERGED, names.KEY_PRECISION, names.KEY_RECALL,
                  names.KEY_COVERAGE)


def _support(metric: str, dataset: str) -> tuple[float, float] | None:
    if metric in _SHARE_METRICS:
        return (0.0, 1.0)
    if metric == names.KEY_MODES:
        return (0.0, float(len(mixture_spec(dataset)[0])))
    if metric == names.KEY_CLASSES_COVERED:
        return (0.0, float(IMAGE_CLASSES))
    return None


def metric_summary(runs_long: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95 % t interval across seeds per (model, dataset, variant, metric), clipped to the range
    of a bounded metric (`_support`)."""
    rows = []
    for (model, dataset, variant, metric), g in runs_long.groupby(["model", "dataset", "variant", "metric"], sort=False):
        values = g["value"].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            continue
        ci = stats.mean_ci(finite, support=_support(metric, dataset))
        rows.append({"model": model, "dataset": dataset, "variant": variant, "metric": metric, "mean": ci["mean"],
                     "lo": ci["lo"] if ci["lo"] is not None else math.nan,
                     "hi": ci["hi"] if ci["hi"] is not None else math.nan, "n": ci["n"], "n_total": len(values)})
    return pd.DataFrame(rows, columns=["model", "dataset", "variant", "metric", "mean", "lo", "hi", "n", "n_total"])


def _ci_text(r) -> str:
    if not math.isfinite(r["lo"]):
        return fmt(r["mean"])
    return f"{fmt(r['mean'])} [{fmt(r['lo'])}, {fmt(r['hi'])}]"


def quality_table(summary: pd.DataFrame, n_fid: int) -> Table:
    img = summary[summary.dataset == "fashion_mnist"]
    models = list(dict.fromkeys(img.model))
    rows = []
    for metric in QUALITY_METRICS:
        cells = []
        for m in models:
            hit = img[(img.model == m) & (img.metric == metric)]
            cells.append(_ci_text(hit.iloc[0]) if len(hit) else "–")
        if any(c != "–" for c in cells):
            rows.append([METRIC_LABELS[metric]] + cells)
    n = img.groupby("model")["n"].max().to_dict()
    total = img.groupby("model")["n_total"].max().to_dict()
    return Table("Image-model quality and failure metrics: mean [95 % t interval] across seeds",
                 ["Metric"] + [f"{m.upper()} ({n.get(m, 0)} of {total.get(m, 0)} seeds)" for m in models], rows, table_id="tab-quality",
                 note=f"Each metric on n = {n_fid:,} generated and {n_fid:,} held-out real images; FID is compared "
                      "only at equal n. One seed gives no interval. A seed whose metric is not finite (a diverged "
                      "run) is left out of that metric's mean, and the header counts the seeds that remain.")


def mixture_table(summary: pd.DataFrame, published: pd.DataFrame, pack: int, convergence_floor: float) -> Table:
    mix = summary[summary.model.isin(["mlp_gan", "flow"]) & (summary.dataset != "fashion_mnist")]
    rows = []
    for (dataset, variant), g in mix.groupby(["dataset", "variant"], sort=False):
        get = lambda m: g[g.metric == m].iloc[0] if (g.metric == m).any() else None  # noqa: E731
        modes, hq, conv = get(names.KEY_MODES), get(names.KEY_HIGH_QUALITY), get(names.KEY_CONVERGED)
        pub = _published_text(published, dataset, variant, pack)
        seeds = int(modes["n"]) if modes is not None else 0
        converged = round(conv["mean"] * conv["n"]) if conv is not None else 0
        rows.append([dataset, "flow matching" if variant == FLOW_VARIANT else variant, seeds, f"{converged} of {seeds}",
                     _ci_text(modes) if modes is not None else "–",
                     _ci_text({k: 100 * hq[k] for k in ("mean", "lo", "hi")}) if hq is not None else "–",
                     pub])
    return Table("2-D mixtures: convergence, modes captured and high-quality samples of the GANs and of flow matching "
                 "(at its largest NFE), this build beside PacGAN's Table 1",
                 ["Dataset", "Variant", "Seeds", f"Converged (HQ ≥ {100 * convergence_floor:.0f} %)", "Modes captured",
                  "High quality (%)", "PacGAN Table 1 (modes / HQ %)"],
                 rows, table_id="tab-mixtures",
                 note="Mean [95 % t interval] across seeds, the interval clipped to the quantity's range (at most "
                      "all modes, at most 100 %). "
                      "A run converged when at least the stated share of its samples lies within 3 standard deviations "
                      "of a mode; a run that did not has failed to learn the mixture, its own failure mode, and its "
                      "missing modes are not mode dropping. PacGAN (Lin et al. 2018): mean ± standard error over 10 "
                      "trials, with far longer training than a CPU profile; quoted for scale, not as a like-for-like "
                      "comparison.")


def published_row(pub: pd.DataFrame, dataset: str, variant: str, pack: int = 2):
    """PacGAN Table 1's row for our (dataset, variant), or None. Only PacGAN's set-up is compared (see
    data/reference/README.md: VEEGAN's GAN baseline differs under the same metric names)."""
    if pub is None or pub.empty:
        return None
    name = {"ring8": "2D-ring", "grid25": "2D-grid"}.get(dataset)
    model = {"vanilla": "GAN", "pacgan": f"PacGAN{pack}"}.get(variant)
    hit = pub[pub.source.str.startswith("PacGAN") & (pub.dataset == name) & (pub.model == model)]
    return None if hit.empty else hit.iloc[0]


def _published_text(pub: pd.DataFrame, dataset: str, variant: str, pack: int) -> str:
    r = published_row(pub, dataset, variant, pack)
    if r is None:
        return "–"
    err = f" ± {r.modes_err}" if pd.notna(r.modes_err) else ""
    return f"{r.modes_captured}{err} / {r.high_quality_pct}"


def compute_table(runs: Sequence[RunFacts], costs) -> Table:
    from bubblelens.training.costs import cost_usd, price_item

    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r.model, r.dataset, r.variant), []).append(r.compute)
    rows = []
    for (model, dataset, variant), cs in groups.items():
        mean = lambda k: sum((c.get(k) or 0.0) for c in cs) / len(cs)  # noqa: E731
        item = price_item(cs[0])
        usd = cost_usd(item, mean(names.KEY_WALL_S) / 3600, costs) if item else None
        rows.append([f"{model} / {dataset} / {variant}", len(cs), fmt(cs[0].get("params")),
                     fmt(cs[0].get("flops_forward_per_sample")), fmt(mean(names.KEY_FLOPS_TOTAL)),
                     fmt(mean(names.KEY_WALL_S)), fmt(mean("samples_per_s")), fmt(mean("peak_mem_bytes") / 2**20),
                     fmt(mean("energy_j")) if any(c.get("energy_j") for c in cs) else "–",
                     f"{usd:.4f}" if usd is not None else "–"])
    return Table("Compute per run (mean over seeds)",
                 ["Configuration", "Runs", "Params", "Fwd FLOP/sample", "Train FLOP", "Wall (s)", "Samples/s",
                  "Peak mem (MiB)", "Energy (J)", "Cost estimate (USD)"], rows, table_id="tab-compute",
                 note="Training FLOPs counted with torch.utils.flop_counter per distinct step shape and summed over "
                      "the steps run; peak memory is each unit's own resident high-water mark on CPU (the whole "
                      "ensemble's for 2-D mixtures) and allocated device memory on CUDA; energy from NVML on CUDA "
                      "only. Seeds of a 2-D mixture configuration train together in batched ensembles (of the "
                      "configuration's ensemble size) and are given 1/E of their ensemble's wall time and FLOPs. "
                      "A dollar figure is an estimate from a quoted price "
                      "(data/costs, GPU-hours) and appears only where one exists; there is no sourced CPU price, so "
                      "CPU runs show none.")


QUALITY_PER_COMPUTE = (("fashion_mnist", names.KEY_COVERAGE, "coverage (fraction of real images covered)"),
                       ("ring8", names.KEY_MODES, "modes captured (of 8)"),
                       ("grid25", names.KEY_MODES, "modes captured (of 25)"))


def quality_per_compute(summary: pd.DataFrame, runs: Sequence[RunFacts]) -> Table:
    """Mean quality and mean training FLOPs per configuration, and their ratio (quality per TFLOP)."""
    flops: dict[tuple, list[float]] = {}
    for r in runs:
        if r.compute.get(names.KEY_FLOPS_TOTAL):
            flops.setdefault((r.model, r.dataset, r.variant), []).append(r.compute[names.KEY_FLOPS_TOTAL])
    rows = []
    for dataset, metric, label in QUALITY_PER_COMPUTE:
        hit = summary[(summary.dataset == dataset) & (summary.metric == metric)]
        for r in hit.itertuples():
            f = flops.get((r.model, r.dataset, r.variant))
            if not f:
                continue
            tflop = sum(f) / len(f) / 1e12
            rows.append([f"{r.model} / {r.dataset} / {r.variant}", label, fmt(r.mean), fmt(tflop),
                         fmt(r.mean / tflop) if tflop > 0 else "–"])
    return Table("Quality bought per unit of training compute in this build",
                 ["Configuration", "Quality measure", "Mean quality", "Training TFLOP", "Quality per TFLOP"], rows,
                 table_id="tab-quality-per-compute",
                 note="Means over seeds; FLOPs counted with torch.utils.flop_counter. Ratios compare configurations "
                      "of one dataset only; short-profile numbers are indicative.")


def growth_rows(growth: pd.DataFrame) -> Table:
    rows = [[r.series_id, r.category, r.measure, r.n, f"{r.first} – {r.last}",
             f"{fmt(r.annual_factor)}" + (f" [{fmt(r.lo)}, {fmt(r.hi)}]" if math.isfinite(r.lo) else " (2 points: no interval)"),
             fmt(r.doubling_years), fmt_p(r.p_value), r.reliability] for r in growth.itertuples()]
    return Table("Growth rates of curated series (log-linear fits, 95 % intervals)",
                 ["Series", "Category", "Measure", "n", "Dates", "× per year", "Doubling (years)", "p (slope = 0)",
                  "Reliability"], rows, table_id="tab-growth",
                 note="Dates are irregular; a calendar-year value sits at mid-year. Bounds ('less than') are excluded "
                      "from fits.")


def claims_table(claims: list) -> Table:
    rows = []
    for c in claims:
        ci = f"{100 * c.ci_level:.0f} % [{fmt(c.ci[0])}, {fmt(c.ci[1])}]" if c.ci else "–"
        verdict = c.verdict + (" (indicative)" if c.indicative else "")
        reach = ", ".join(getattr(c, "reachable", [])) or "–"
        if getattr(c, "reachability", "") and c.reachability != "decidable":
            reach = f"only {reach}: {c.reachability}"
        op = getattr(c, "operating", None) or {}
        same = [f"{100 * sc['same']:.0f} %" for sc in op.get("scenarios", []) if "same" in sc]
        other = " / ".join(same) + (" (settled)" if op.get("settled") else "") if same else "–"
        rows.append([c.claim_id, c.statement, f"{c.effect_label}: {fmt(c.effect)}" if c.effect is not None else "–",
                     ci, fmt_p(c.p_value), fmt(c.n), reach, other, verdict])
    return Table("Verdicts on the claims registry (data/claims.toml)",
                 ["Id", "Claim", "Effect", "CI", "p", "n", "Reachable verdicts", "P(same verdict)", "Verdict"], rows,
                 table_id="tab-verdicts",
                 note="Decision rules are those of data/claims.toml; each claim below gives the date its rule was "
                      "declared and revised and which data were already known then. 'Reachable verdicts' are those "
                      "the rule can produce on evidence of this build's sizes (`bubblelens claims check`): a verdict "
                      "whose alternatives are out of reach is settled by the rule's design, not by the data. "
                      "'P(same verdict)' is the probability that the rule gives this verdict again at these "
                      "sizes, simulated from a model fitted to the data: first with the effect as measured "
                      "(replicability), then with the truth on the other side of the threshold (for the "
                      "explosive tests: the null, then a data-fitted explosive alternative); a low second "
                      "number is the rule's power. When every scenario gives it 95 % of the time or more, the "
                      "verdict is settled in practice. "
                      "'indicative' marks model verdicts from a short-training profile.")
