"""A result read back from the stage cache has its dict keys sorted (cache.py writes sorted JSON); one just
computed has them in the order it was built. What the build writes must not depend on which it was: a cold
build and the rebuild after it printed the verdict probabilities in different orders and wrote
results/nfe.csv's rows in different orders (found while making the charts reusable, charts/reuse.py)."""
from __future__ import annotations

from types import SimpleNamespace

from bubblelens.pipeline.model_stages import nfe_rows
from bubblelens.report.content import _claim_odds

RUN = SimpleNamespace(model="flow", dataset="ring8", variant="rectified", seed=3,
                      compute={"flops_per_sample_by_nfe": {"1": 10.0, "2": 20.0}})


def test_nfe_rows_do_not_depend_on_the_order_of_the_metrics():
    computed = [{"nfe": 1, "modes": 8, "high_quality": 0.5}, {"nfe": 2, "modes": 8, "high_quality": 0.7}]
    from_cache = [dict(sorted(row.items())) for row in computed]
    assert nfe_rows(RUN, computed) == nfe_rows(RUN, from_cache)
    assert [r.metric for r in nfe_rows(RUN, computed)][:2] == ["high_quality", "modes"]


def test_verdict_probabilities_are_printed_in_the_rules_order():
    def claim(probabilities: dict) -> SimpleNamespace:
        scenario = {"name": "as measured", "text": "n = 20", "probabilities": probabilities, "sims": 200,
                    "same": 0.9}
        return SimpleNamespace(verdict="supported", operating={"scenarios": [scenario], "settled": False,
                                                               "model": "binomial"})

    computed = {"supported": 0.9, "not supported": 0.0, "inconclusive": 0.1}
    from_cache = dict(sorted(computed.items()))
    assert list(from_cache) != list(computed)
    text = _claim_odds(claim(computed))
    assert text == _claim_odds(claim(from_cache))
    assert "supported 90 %, not supported 0 %, inconclusive 10 %" in text
