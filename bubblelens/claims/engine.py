"""The claims engine: apply each registered claim's statistic to the evidence and record its verdict.

A claim never fails a build for want of data: too few seeds, a series too short or a missing sweep gives
"inconclusive" with the reason. The built-in statistic kinds (claims/statistics.py, `KINDS`)
are handed to `load_registry` here, where the registry is loaded.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bubblelens.claims import history
from bubblelens.claims.check import CHECKED_PROFILES, SETTLED_LABEL, ClaimCheck, check_claims
from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient, Outcome, fnum, jsonable
from bubblelens.claims.operating import OperatingCharacteristics, operating_characteristics
from bubblelens.claims.reachability import Reachability
from bubblelens.claims.simulators import ALTERNATIVES
from bubblelens.claims.registry import INDICATIVE_CATEGORIES, ClaimSpec, load_registry
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import DataError

log = logging.getLogger(__name__)

NOT_CHECKED = "reachability not checked"


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
    declared: str = ""                      # the registry's history of the claim (claims/history.py)
    revised: str | None = None              # date of the latest revision, None when never revised
    revisions: list[dict] = field(default_factory=list)
    known_when_declared: str = ""
    # Which verdicts the rule could reach on evidence of these sizes (claims/reachability.py), and the
    # status that follows: "decidable", "settled by its design at these sizes", or at smoke size
    # "cannot be decided at smoke size" (claims/check.py).
    reachable: list[str] = field(default_factory=list)
    reachability: str = ""
    # The dates of the evidence the test used (first, last): market statistics state it in their details
    # ("window_used"); None for model claims, whose evidence is this build's (or a bundle's) runs.
    evidence_window: list[str] | None = None
    # The probability of each verdict under plausible alternatives fitted to the evidence in hand
    # (claims/operating.py: OperatingCharacteristics.to_json), with whether the verdict is settled.
    operating: dict | None = None

    @property
    def settled(self) -> bool:
        """Its verdict could not plausibly have gone the other way at these sizes (by design or in practice)."""
        return self.reachability == SETTLED_LABEL or bool(self.operating and self.operating.get("settled"))

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
    ci = None if out.ci is None or None in out.ci else (float(out.ci[0]), float(out.ci[1]))
    return ClaimResult(
        claim_id=spec.id, verdict=out.verdict, reason=out.reason, effect=fnum(out.effect),
        effect_label=out.effect_label, ci=ci, ci_level=out.ci_level, p_value=fnum(out.p_value), n=out.n,
        evidence_window=_window(out.details), **_from_spec(spec, out.verdict, evidence.profile, details))


def _from_spec(spec: ClaimSpec, verdict: str, profile: str, details: dict) -> dict:
    """The fields of a result that the registry and the profile decide, not the statistic: the claim's
    texts and history, and whether its verdict is indicative. One place for a fresh result and a cached
    one (result_from_json), so a reworded reading shows either way."""
    references = {"references": list(spec.references)} if spec.references else {}
    return dict(statement=spec.statement, category=spec.category, reading=spec.readings[verdict],
                evidence=spec.evidence, decision_rule=spec.decision_rule,
                indicative=spec.category in INDICATIVE_CATEGORIES and profile != "full",
                declared=spec.declared, revised=spec.last_revision["date"] if spec.last_revision else None,
                revisions=[dict(r) for r in spec.revisions], known_when_declared=spec.known_when_declared,
                details=jsonable({**{k: v for k, v in details.items() if k != "references"}, **references}))


def _window(details: dict) -> list[str] | None:
    w = details.get("window_used")
    return [str(w[0])[:10], str(w[1])[:10]] if w and w[0] and w[1] else None


def simulates(profile: str) -> bool:
    """Verdict probabilities are simulated in the profiles whose verdicts count (quick, full); a smoke build
    checks that the pipeline runs, at sizes where no model claim can be decided, and skips them."""
    return profile in CHECKED_PROFILES


def evaluate_and_check(spec: ClaimSpec, evidence: Evidence, strict: bool = False) -> ClaimResult:
    """One claim's verdict, the verdicts its rule could reach at the evidence's sizes and, in quick and
    full, the probability of each verdict under alternatives fitted to the evidence (claims/operating.py)."""
    r = evaluate_claim(spec, evidence, strict)
    try:
        c = check_claims([spec], evidence)[0]
        r.reachable, r.reachability = list(c.reach.verdicts), c.status
    except Exception as exc:  # a probe's bug must not sink the report; the claim is then not counted
        if strict:
            raise
        log.warning("claim %s: reachability could not be checked: %s: %s", spec.id, type(exc).__name__, exc)
        r.reachable, r.reachability = [], f"{NOT_CHECKED} ({type(exc).__name__}: {exc})"
    if not simulates(evidence.profile):
        r.operating = OperatingCharacteristics(r.verdict, "", (), f"not simulated in the {evidence.profile} "
                                               "profile (quick and full simulate)").to_json()
        return r
    try:
        r.operating = operating_characteristics(spec.id, spec.statistic, spec.params, evidence, r.verdict,
                                                ALTERNATIVES).to_json()
    except Exception as exc:  # noqa: BLE001 - a simulator's bug leaves the claim without probabilities, said so
        if strict:
            raise
        log.warning("claim %s: verdict probabilities could not be simulated: %s: %s", spec.id,
                    type(exc).__name__, exc)
        r.operating = OperatingCharacteristics(r.verdict, "", (), f"simulation failed ({type(exc).__name__}: "
                                               f"{exc})").to_json()
    return r


# A memo: (spec, evidence, compute) -> ClaimResult. The pipeline passes one that looks each claim up in
# the stage cache by its rule, its evidence (evidence_digest) and the claims code, so a bootstrap test on
# an unchanged series is not run again on every build.
Memo = Callable[[ClaimSpec, Evidence, Callable[[], ClaimResult]], ClaimResult]


def evaluate_claims(path: Path, evidence: Evidence, series_ids: Iterable[str] | None = None,
                    strict: bool = False, lock: Path | None = None, memo: Memo | None = None) -> list[ClaimResult]:
    """Every claim of the registry at `path`, in file order, each with the verdicts its rule could reach
    at the evidence's sizes. Raises only for an invalid registry or, given the `lock` file, a rule that
    changed without a revision entry (claims/history.py)."""
    specs = load_registry(path, KINDS, series_ids)
    if lock is not None and (problems := history.lock_problems(specs, lock)):
        raise DataError("claims: " + " ".join(problems))
    results = []
    for spec in specs:
        if memo is None or strict:
            results.append(evaluate_and_check(spec, evidence, strict))
            continue
        # Only a clean result is memoised: the memo's computation raises on a bug, which is then recorded
        # (uncached) as the claim's result, so a transient failure is never served from the cache.
        try:
            results.append(memo(spec, evidence, functools.partial(evaluate_and_check, spec, evidence, True)))
        except Exception:  # noqa: BLE001 - recorded on the claim by the non-strict evaluation below
            results.append(evaluate_and_check(spec, evidence, False))
    log.info("claims: %s", ", ".join(f"{r.claim_id}={r.verdict}" for r in results))
    return results


def evidence_digest(spec: ClaimSpec, evidence: Evidence) -> dict[str, str]:
    """What a claim's result depends on besides its rule and the code: the series it names (values, dates,
    bounds, labels and metadata), and for claims on run metrics every run, sweep point and published row."""
    def digest(frame: pd.DataFrame | None) -> str:
        if frame is None or frame.empty:
            return "empty"
        return hashlib.sha256(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes()
                              + ",".join(map(str, frame.columns)).encode()).hexdigest()[:16]

    out: dict[str, str] = {}
    for sid in spec.series:
        s = evidence.market.series.get(sid) if evidence.market is not None else None
        meta = hashlib.sha256(repr(s.meta).encode()).hexdigest()[:16] if s is not None else ""
        # every column a statistic may read (value_text: a phase name), but not the CSV line numbers
        rows = None if s is None else s.frame.drop(columns="line", errors="ignore")
        out[f"series:{sid}"] = "missing" if s is None else f"{digest(rows)}:{meta}"
    out["verdict probabilities"] = "simulated" if simulates(evidence.profile) else "not simulated"
    if spec.metrics:          # runs differ by profile; a market claim's result does not (with_profile)
        out |= {"profile": evidence.profile, "runs": digest(evidence.runs), "sweep": digest(evidence.sweep),
                "published": digest(evidence.published)}
    return out


def result_from_json(d: dict, spec: ClaimSpec, profile: str) -> ClaimResult:
    """A ClaimResult back from `to_json` (the cache stores that). What the cache key leaves out is taken
    from `spec` and `profile` again: the texts and history of the claim (the rule fingerprint covers only
    what decides the verdict, so a reworded reading or a new revision entry must still show) and what
    depends on the profile alone (the indicative label, the reachability status)."""
    d = dict(d)
    d["ci"] = tuple(d["ci"]) if d.get("ci") is not None else None
    r = ClaimResult(**{**d, **_from_spec(spec, d["verdict"], profile, d["details"])})
    if not r.reachability.startswith(NOT_CHECKED):
        r.reachability = ClaimCheck(spec.id, Reachability(tuple(r.reachable), 0), profile).status
    return r


def claim_by_id(results: Iterable[ClaimResult], claim_id: str) -> ClaimResult | None:
    """The result of one claim, or None when the registry has no such claim."""
    return next((r for r in results if r.claim_id == claim_id), None)


def undecidable_claims(results: list[ClaimResult], profile: str) -> list[str]:
    """In a profile where it fails the build (quick, full), one phrase per claim that cannot reach every
    verdict at the sizes in hand (which can depend on the data: runs below a convergence floor do not
    count) or whose reachability could not be checked; at smoke size such claims are only labelled."""
    if profile not in CHECKED_PROFILES:
        return []
    out = []
    for r in results:
        if r.reachability == SETTLED_LABEL:
            missing = " or ".join(v for v in VERDICTS if v not in r.reachable)
            out.append(f"{r.claim_id} cannot reach {missing}" + (f" with the n = {r.n} in hand" if r.n else ""))
        elif r.reachability.startswith(NOT_CHECKED):
            out.append(f"{r.claim_id}: {r.reachability}")
    return out


def answer_questions(path: Path, results: list[ClaimResult]) -> list[dict]:
    """The registry's [[question]]s answered from `results` by the rule of claims/questions.py."""
    from bubblelens.claims.questions import answer, load_questions

    return [answer(q, results).to_json() for q in load_questions(path, [r.claim_id for r in results])]
