"""The claims engine: apply each registered claim's statistic to the evidence and record its verdict.

A claim never fails a build for want of data: too few seeds, a series too short or a missing sweep gives
"inconclusive" with the reason (the statistic raises `Insufficient`). Anything else that a claim's
statistic, its reachability probe or its verdict simulation raises is a bug, and it fails the build with a
`ClaimError` naming the claim: shown as "inconclusive", a crash would read as weak evidence. Each claim
kind (claims/statistics.py, `KINDS`) brings its statistic, probe and alternatives in one record; the
table is handed to `load_registry` here, where the registry is loaded.
"""
from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bubblelens.claims import history
from bubblelens.claims.check import CHECKED_PROFILES, SETTLED_LABEL, ClaimCheck, check_claims
from bubblelens.claims.kinds import INCONCLUSIVE, VERDICTS, Evidence, Insufficient, Outcome, fnum, jsonable
from bubblelens.claims.operating import OperatingCharacteristics, operating_characteristics
from bubblelens.claims.reachability import Reachability
from bubblelens.claims.registry import INDICATIVE_CATEGORIES, ClaimSpec, load_registry
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import ClaimError, DataError

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


@contextmanager
def _failure_of(spec: ClaimSpec, what: str) -> Iterator[None]:
    """Anything raised inside becomes a ClaimError naming the claim and `what` raised it, chained so that
    --debug shows the original traceback. Weak evidence (`Insufficient`) is handled inside, where it means
    "inconclusive"; whatever gets here is a bug."""
    try:
        yield
    except Exception as exc:
        raise ClaimError(f"claim {spec.id}: {what} raised {type(exc).__name__}: {exc} — a bug, not weak "
                         "evidence; run with --debug for the traceback") from exc


def evaluate_claim(spec: ClaimSpec, evidence: Evidence) -> ClaimResult:
    """Apply one claim's declared statistic. Too little evidence gives 'inconclusive' with the reason;
    anything else the statistic raises fails with a ClaimError naming the claim."""
    with _failure_of(spec, f"its statistic '{spec.statistic}'"):
        try:
            out = KINDS[spec.statistic].statistic(evidence, spec.params)
        except Insufficient as exc:
            out = Outcome(INCONCLUSIVE, str(exc), details=exc.details)
    if out.verdict not in VERDICTS:
        raise ClaimError(f"claim {spec.id}: its statistic '{spec.statistic}' returned the verdict "
                         f"{out.verdict!r}, not one of {', '.join(VERDICTS)} — a bug, not weak evidence")
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


def check_claim(spec: ClaimSpec, evidence: Evidence) -> ClaimCheck:
    """The verdicts the claim's rule could reach at the evidence's sizes (claims/check.py); a probe that
    raises fails with a ClaimError naming the claim."""
    with _failure_of(spec, f"the reachability probe of its statistic '{spec.statistic}'"):
        return check_claims([spec], evidence)[0]


def verdict_probabilities(spec: ClaimSpec, evidence: Evidence, verdict: str) -> OperatingCharacteristics:
    """In quick and full, the probability of each verdict under alternatives fitted to the evidence
    (claims/operating.py); a simulation that raises fails with a ClaimError naming the claim."""
    if not simulates(evidence.profile):
        return OperatingCharacteristics(verdict, "", (), f"not simulated in the {evidence.profile} profile "
                                        "(quick and full simulate)")
    with _failure_of(spec, f"the simulation of its verdict probabilities ('{spec.statistic}')"):
        return operating_characteristics(spec.id, KINDS[spec.statistic], spec.params, evidence, verdict)


def evaluate_and_check(spec: ClaimSpec, evidence: Evidence) -> ClaimResult:
    """One claim's verdict, the verdicts its rule could reach at the evidence's sizes and, in quick and
    full, the probability of each verdict under alternatives fitted to the evidence (claims/operating.py)."""
    r = evaluate_claim(spec, evidence)
    c = check_claim(spec, evidence)
    r.reachable, r.reachability = list(c.reach.verdicts), c.status
    r.operating = verdict_probabilities(spec, evidence, r.verdict).to_json()
    return r


def claim_unit(spec: ClaimSpec, evidence: Evidence) -> tuple[dict, dict]:
    """`evaluate_and_check` as a pipeline unit (a top-level function a worker process can run): the result
    in its cache form, no arrays. The build runs the market claims this way beside training
    (pipeline/report_stages.market_claim_units)."""
    return evaluate_and_check(spec, evidence).to_json(), {}


# A memo: (spec, evidence, compute) -> ClaimResult. The pipeline passes one that looks each claim up in
# the stage cache by its rule, its evidence (evidence_digest) and the claims code, so a bootstrap test on
# an unchanged series is not run again on every build. A memo stores only what `compute` returns: a claim
# that fails raises out of `compute`, so a failure is never memoised.
Memo = Callable[[ClaimSpec, Evidence, Callable[[], ClaimResult]], ClaimResult]


def evaluate_claims(path: Path, evidence: Evidence, series_ids: Iterable[str] | None = None,
                    lock: Path | None = None, memo: Memo | None = None) -> list[ClaimResult]:
    """Every claim of the registry at `path`, in file order, each with the verdicts its rule could reach
    at the evidence's sizes. Raises for an invalid registry, given the `lock` file for a rule that changed
    without a revision entry (claims/history.py), and a ClaimError for a claim whose statistic, probe or
    simulation fails."""
    specs = load_registry(path, KINDS, series_ids)
    if lock is not None and (problems := history.lock_problems(specs, lock)):
        raise DataError("claims: " + " ".join(problems))
    results = []
    for spec in specs:
        compute = functools.partial(evaluate_and_check, spec, evidence)
        results.append(compute() if memo is None else memo(spec, evidence, compute))
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
    r.reachability = ClaimCheck(spec.id, Reachability(tuple(r.reachable), 0), profile).status
    return r


def claim_by_id(results: Iterable[ClaimResult], claim_id: str) -> ClaimResult | None:
    """The result of one claim, or None when the registry has no such claim."""
    return next((r for r in results if r.claim_id == claim_id), None)


def undecidable_claims(results: list[ClaimResult], profile: str) -> list[str]:
    """In a profile where it fails the build (quick, full), one phrase per claim that cannot reach every
    verdict at the sizes in hand (which can depend on the data: runs below a convergence floor do not
    count); at smoke size such claims are only labelled."""
    if profile not in CHECKED_PROFILES:
        return []
    out = []
    for r in results:
        if r.reachability == SETTLED_LABEL:
            missing = " or ".join(v for v in VERDICTS if v not in r.reachable)
            out.append(f"{r.claim_id} cannot reach {missing}" + (f" with the n = {r.n} in hand" if r.n else ""))
    return out


def answer_questions(path: Path, results: list[ClaimResult]) -> list[dict]:
    """The registry's [[question]]s answered from `results` by the rule of claims/questions.py."""
    from bubblelens.claims.questions import answer, load_questions

    return [answer(q, results).to_json() for q in load_questions(path, [r.claim_id for r in results])]
