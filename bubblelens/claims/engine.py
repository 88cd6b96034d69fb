"""The claims engine: apply each registered claim's statistic to the evidence and record its verdict.

A claim never fails a build for want of data: too few seeds, a series too short or a missing sweep gives
"inconclusive" with the reason. The built-in statistic kinds (claims/statistics.py, `KINDS`)
are handed to `load_registry` here, where the registry is loaded.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient, Outcome, fnum, jsonable
from bubblelens.claims.registry import INDICATIVE_CATEGORIES, ClaimSpec, load_registry
from bubblelens.claims.statistics import KINDS

log = logging.getLogger(__name__)


@dataclass
class ClaimResult:
    claim_id: str
    statement: str
    category: str
    verdict: str
    reason: str
    reading: str
    effect: float | None
    effect_label: str
    ci: tuple[float, float] | None
    ci_level: float
    p_value: float | None
    n: int | None
    evidence: list[str]
    decision_rule: str
    indicative: bool
    details: dict

    def to_json(self) -> dict:
        return {k: jsonable(getattr(self, k)) for k in self.__dataclass_fields__}


def evaluate_claim(spec: ClaimSpec, evidence: Evidence, strict: bool = False) -> ClaimResult:
    """Apply one claim's declared statistic; data problems give 'inconclusive' with the reason."""
    try:
        out = KINDS[spec.statistic].fn(evidence, spec.params)
    except Insufficient as exc:
        out = Outcome(INCONCLUSIVE, str(exc), details=exc.details)
    except Exception as exc:  # a bug or malformed evidence must not sink the whole report
        if strict:
            raise
        log.warning("claim %s could not be evaluated: %s: %s", spec.id, type(exc).__name__, exc)
        out = Outcome(INCONCLUSIVE, f"could not be evaluated ({type(exc).__name__}: {exc})")
    if out.verdict not in VERDICTS:
        raise ValueError(f"statistic {spec.statistic} returned verdict {out.verdict!r}")
    details = {**out.details, "statistic": spec.statistic, "params": dict(spec.params)}
    if spec.references:
        details["references"] = list(spec.references)
    ci = None if out.ci is None or None in out.ci else (float(out.ci[0]), float(out.ci[1]))
    return ClaimResult(
        claim_id=spec.id, statement=spec.statement, category=spec.category, verdict=out.verdict,
        reason=out.reason, reading=spec.readings[out.verdict], effect=fnum(out.effect),
        effect_label=out.effect_label, ci=ci, ci_level=out.ci_level, p_value=fnum(out.p_value), n=out.n,
        evidence=spec.evidence, decision_rule=spec.decision_rule,
        indicative=spec.category in INDICATIVE_CATEGORIES and evidence.profile != "full",
        details=jsonable(details))


def evaluate_claims(path: Path, evidence: Evidence, series_ids: Iterable[str] | None = None,
                    strict: bool = False) -> list[ClaimResult]:
    """Every claim of the registry at `path`, in file order. Raises only for an invalid registry."""
    results = [evaluate_claim(s, evidence, strict) for s in load_registry(path, KINDS, series_ids)]
    log.info("claims: %s", ", ".join(f"{r.claim_id}={r.verdict}" for r in results))
    return results
