"""The article's questions: the outcome rule, which claims count as evidence, and registry validation."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED
from bubblelens.claims.questions import OUTCOMES, Question, answer, outcome, parse_questions
from bubblelens.core.errors import DataError

ANSWERS = {k: f"{k}: {{decided}} of {{total}}" for k in OUTCOMES}
Q = Question("panacea", "Is generative AI a panacea?", ("a", "b", "c"), ANSWERS)


@dataclass
class R:                                       # the fields of a ClaimResult that answers read
    claim_id: str
    verdict: str
    reachability: str = "decidable"
    reason: str = ""
    operating: dict | None = None


@pytest.mark.parametrize("verdicts, expected", [
    ([], "open"), ([SUPPORTED], "thesis"), ([SUPPORTED, SUPPORTED], "thesis"),
    ([NOT_SUPPORTED], "against"), ([SUPPORTED, NOT_SUPPORTED], "mixed")])
def test_outcome_rule(verdicts, expected):
    assert outcome(verdicts) == expected


def test_only_decided_claims_that_could_have_gone_otherwise_count():
    results = [R("a", SUPPORTED), R("b", SUPPORTED, "settled by its design at these sizes"),
               R("c", INCONCLUSIVE, reason="too few seeds (n=1 < 3)")]
    a = answer(Q, results)
    assert a.outcome == "thesis" and a.text == "thesis: 1 of 3"
    assert a.counted == (("a", SUPPORTED),)
    assert dict(a.not_counted) == {"b": "supported, but settled by its design at these sizes",
                                   "c": "inconclusive: too few seeds (n=1 < 3)"}
    assert answer(Q, [R("a", NOT_SUPPORTED)]).outcome == "against"
    assert answer(Q, []).outcome == "open"


def test_a_verdict_settled_in_practice_does_not_count_and_counted_ones_carry_their_odds():
    """Settled in practice: no alternative fitted to the data gives another verdict 5 % of the time."""
    firm = {"settled": True, "max_other": 0.01, "settled_below": 0.05,
            "scenarios": [{"name": "as measured", "same": 1.0}, {"name": "mirrored", "same": 0.99}]}
    open_ = {"settled": False, "max_other": 0.62, "settled_below": 0.05,
             "scenarios": [{"name": "as measured", "same": 0.9}, {"name": "mirrored", "same": 0.38}]}
    a = answer(Q, [R("a", SUPPORTED, operating=open_), R("b", NOT_SUPPORTED, operating=firm), R("c", INCONCLUSIVE)])
    assert a.outcome == "thesis" and a.counted == (("a", SUPPORTED),)
    assert dict(a.not_counted)["b"] == ("not supported, but settled at these sizes: another verdict comes out "
                                        "under 5% of the time under every alternative tried")
    assert a.same_verdict == (("a", (("as measured", 0.9), ("mirrored", 0.38))),)
    assert a.to_json()["same_verdict"] == [["a", [["as measured", 0.9], ["mirrored", 0.38]]]]
    assert answer(Q, [R("b", NOT_SUPPORTED, operating=firm)]).outcome == "open"


def _raw(**changes):
    q = {"id": "panacea", "text": "Is it?", "claims": ["a"], "answers": dict(ANSWERS)}
    q.update(changes)
    return [q]


def test_parse_questions_validates_names_the_field():
    assert parse_questions(_raw(), "claims.toml", ["a"])[0].claims == ("a",)
    assert parse_questions(None, "claims.toml", ["a"]) == []
    with pytest.raises(DataError, match="question 'panacea': field 'claims': 'zz'"):
        parse_questions(_raw(claims=["zz"]), "claims.toml", ["a"])
    with pytest.raises(DataError, match="answers.open"):
        parse_questions(_raw(answers={k: v for k, v in ANSWERS.items() if k != "open"}), "claims.toml", ["a"])
    with pytest.raises(DataError, match="placeholder"):
        parse_questions(_raw(answers={**ANSWERS, "open": "{nope}"}), "claims.toml", ["a"])
    with pytest.raises(DataError, match="unknown field"):
        parse_questions(_raw(rule="x"), "claims.toml", ["a"])
    with pytest.raises(DataError, match="duplicate"):
        parse_questions(_raw() + _raw(), "claims.toml", ["a"])
