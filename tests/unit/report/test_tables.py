"""Report tables' summary of per-seed metrics: t intervals, clipped to a bounded metric's range."""
from __future__ import annotations

import pandas as pd

from bubblelens.evaluation import names
from bubblelens.report.tables import metric_summary


def _long(metric: str, dataset: str, values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"model": "mlp_gan", "dataset": dataset, "variant": "pacgan", "metric": metric,
                         "seed": range(len(values)), "value": values})


def test_bounded_metrics_never_show_an_impossible_bound():
    runs = pd.concat([_long(names.KEY_MODES, "ring8", [8.0] * 19 + [7.0]),
                      _long(names.KEY_MODES, "grid25", [25.0] * 9 + [23.0]),
                      _long(names.KEY_HIGH_QUALITY, "ring8", [0.99] * 9 + [0.90]),
                      _long(names.KEY_WALL_S, "ring8", [10.0] * 9 + [1.0])])
    s = metric_summary(runs).set_index(["dataset", "metric"])
    assert s.loc[("ring8", names.KEY_MODES), "hi"] == 8.0
    assert s.loc[("grid25", names.KEY_MODES), "hi"] == 25.0
    assert s.loc[("ring8", names.KEY_HIGH_QUALITY), "hi"] == 1.0
    assert s.loc[("ring8", names.KEY_MODES), "lo"] < 8.0
    assert s.loc[("ring8", names.KEY_WALL_S), "hi"] > 10.0       # an unbounded metric keeps its t interval


def test_the_class_count_matches_the_domain_classifier():
    from bubblelens.evaluation.features import N_CLASSES
    from bubblelens.report.tables import IMAGE_CLASSES

    assert IMAGE_CLASSES == N_CLASSES
