"""The series.toml tables the market importers add for a series that has none yet (text only).

An importer never edits an existing table (an analyst may have reworded it); it adds one of these when
the series is new, so the folder passes `bubblelens data check` straight after the import. The texts say
what is measured, on which suite, how dates are placed and how rows were selected; keys and allowed
values are those of data/market/README.md and market/schema.py (`SeriesMetaModel`).
"""
from __future__ import annotations

METR_UNRELIABLE = ("METR's own caveat: 'Measurements above 16 hrs are unreliable with our current task suite' "
                   "(16 hours = 960 minutes).")


def metr_templates(suite: str, horizon_id: str, doubling_id: str) -> dict[str, dict[str, str]]:
    """Tables for the p50 time-horizon series of `suite` and for METR's published doubling times."""
    return {
        horizon_id: {
            "title": f"METR 50 % time horizon of frontier models ({suite})",
            "description": (
                "Length of the software tasks, in minutes of a skilled human's working time, that a model "
                "completes with 50 % probability (METR's logistic fit of success against task length; point "
                f"estimate, with METR's bootstrap interval in the note), measured on METR's {suite} task "
                "suite. Only the models METR marks as state of the art (is_sota) and measured on this suite "
                "are kept: results on another suite version are left out, never pooled. Date = the model's "
                "release date; label = METR's result key. Imported with `bubblelens data import metr`."),
            "unit": "minutes",
            "frequency": "irregular",
            "category": "capability",
            "reliability": "medium-high",
            "reliability_note": (
                "METR's own published results file (primary). The intervals are wide, and widest for the "
                f"newest models, whose upper bound can be several times the estimate. {METR_UNRELIABLE} "
                "Task suites and agent scaffolds change between versions, so compare within one suite."),
            "direction": "up",
            "classification_note": (
                "The length of task a model completes on its own measures what the technology can do; METR "
                "reports it growing exponentially, so a log-linear growth rate is its natural summary."),
        },
        doubling_id: {
            "title": "METR's published doubling time of the 50 % time horizon",
            "description": (
                "Doubling time in days of the 50 % time horizon as METR fits it (doubling_time_in_days in "
                "its benchmark results file): one row per suite and fit (label = suite and METR's fit name, "
                "e.g. 'METR-Horizon-v1.1 from_2023_on'), the point estimate, with METR's interval in the note "
                "where given. Dated by the release date of the newest model in the file the fit comes from. "
                "Imported with `bubblelens data import metr`."),
            "unit": "days",
            "frequency": "irregular",
            "category": "capability",
            "reliability": "medium-high",
            "reliability_note": (
                "METR's own fits, as published; the file does not describe each fit's method beyond its "
                f"name, so compare rows of one fit only. {METR_UNRELIABLE}"),
            "direction": "down",
            "classification_note": (
                "A rate of capability growth stated by the measurer: a shorter doubling time means faster "
                "growth (direction down). bubblelens fits the horizon series itself as the check on it."),
        },
    }


_EPOCH = {
    "epoch_gpqa_diamond_frontier": (
        "GPQA Diamond", "the Diamond set of GPQA, graduate-level multiple-choice questions in biology, "
                        "physics and chemistry written to resist web search (four options: guessing scores 25 %)"),
    "epoch_math_level5_frontier": (
        "MATH Level 5", "the hardest level (5 of 5) of the MATH benchmark of competition mathematics problems "
                        "with a final answer"),
    "epoch_swe_bench_verified_frontier": (
        "SWE-bench Verified", "SWE-bench Verified, real GitHub issues of Python repositories that a model must "
                              "resolve with a patch that passes the repository's tests (a human-validated "
                              "subset of SWE-bench)"),
}


def epoch_templates() -> dict[str, dict[str, str]]:
    """Tables for Epoch AI's record-setting benchmark series (scores in percent, fitted on their odds)."""
    out = {}
    for series_id, (name, what) in _EPOCH.items():
        out[series_id] = {
            "title": f"{name} score of record-setting models (Epoch AI Benchmarking Hub)",
            "description": (
                f"Epoch AI's own evaluation of models on {what}: mean score in percent (100 x Epoch's "
                "mean_score). Only record-setting models are kept: a model enters when its score is above "
                "that of every model released before it (running maximum by release date, selected by "
                "bubblelens; on one release date only the best counts). Date = the model's release date; "
                "label = Epoch's model version. Imported with `bubblelens data import epoch-benchmarks`."),
            "unit": "percent",
            "frequency": "irregular",
            "category": "capability",
            "reliability": "medium-high",
            "reliability_note": (
                "Epoch runs the models itself with one harness, so scores are comparable across models, "
                "though settings (reasoning effort, scaffold) differ by model version. The record-setting "
                "selection depends on which models Epoch has evaluated, and a model Epoch adds later can "
                "displace a record."),
            "direction": "up",
            "transform": "odds",
            "classification_note": (
                "Benchmark scores measure capability. A percentage is bounded by 100 %, so growth is fitted on "
                "its odds, score / (100 - score), whose log is the logit (transform = odds): a score near its "
                "ceiling needs ever larger odds gains to move."),
        }
    return out
