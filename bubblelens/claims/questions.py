"""The article's questions, answered from the verdicts of the claims the registry groups under each.

The executive summary opens with one short answer per question ("is generative AI a panacea?", "does
capability keep pace with what is spent and expected?", "do the markets show a bubble?"). Nothing in
an answer is written for a build: `data/claims.toml` declares, per `[[question]]`, its claims (each
phrased so that *supported* is the thesis side) and one text per outcome, and `answer` picks the outcome
by a fixed rule over the claims whose verdict counts as evidence — decided (supported or not supported)
by a rule that could have produced another verdict at these sizes:

- `thesis`: at least one such claim, and every one of them supported;
- `against`: at least one, and every one not supported;
- `mixed`: some of each;
- `open`: none (every claim inconclusive, or settled by its design at these sizes).

A verdict that is settled in practice — under every plausible alternative fitted to the data, the other
verdicts together come out under 5 % of the time (claims/operating.py) — does not count either: the data
could not plausibly have changed it. Each counted claim carries, per scenario, the probability that its
verdict comes out again: as measured (its replicability at these sizes) and with the truth on the other
side of its threshold (one minus the rule's power there), so a reader sees how much each piece of the
answer rests on.

No adjustment for the number of claims: `thesis` and `against` assert that *every* counted claim came out
the same way, an intersection-union test, which holds its level without correction (Berger 1982); `mixed`
asserts nothing beyond its claims, each reported with its own verdict. The claims inside a family (the
three valuation ratios, the three capability pairs) are Holm-adjusted by their own rules.

The strength of the evidence goes with the answer: how many of its claims were decided, which were not
and why — and how current it is: the period each claim's test covered and the date of the newest
evidence under the answer (market claims state theirs; model claims rest on the build's own runs).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bubblelens.claims.kinds import NOT_SUPPORTED, SUPPORTED

OUTCOMES = ("thesis", "against", "mixed", "open")
DECIDABLE = "decidable"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    claims: tuple[str, ...]
    answers: Mapping[str, str]          # outcome -> answer text ({decided}, {total} placeholders)


@dataclass(frozen=True)
class Answer:
    question: Question
    outcome: str
    text: str
    counted: tuple[tuple[str, str], ...]       # (claim id, verdict) that count as evidence
    not_counted: tuple[tuple[str, str], ...]   # (claim id, why not)
    windows: tuple[tuple[str, tuple[str, str] | None], ...] = ()   # (claim id, (first, last) or None: runs)
    # (claim id, ((scenario, P(its verdict again)), ...)) over the scenarios of claims/operating.py: the one
    # the data point to, then the other side; () when not simulated
    same_verdict: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()

    @property
    def evidence_through(self) -> str | None:
        """The newest date of market evidence under the answer (None when it rests on runs only)."""
        ends = [w[1] for _, w in self.windows if w]
        return max(ends) if ends else None

    def to_json(self) -> dict:
        return {"question": self.question.id, "text": self.question.text, "outcome": self.outcome,
                "answer": self.text, "counted": [list(c) for c in self.counted],
                "not_counted": [list(c) for c in self.not_counted],
                "windows": [[cid, list(w) if w else None] for cid, w in self.windows],
                "evidence_through": self.evidence_through,
                "same_verdict": [[cid, [list(x) for x in p]] for cid, p in self.same_verdict]}


def outcome(verdicts: Iterable[str]) -> str:
    """The rule of the module docstring, over the verdicts that count as evidence."""
    vs = list(verdicts)
    if not vs:
        return "open"
    if all(v == SUPPORTED for v in vs):
        return "thesis"
    if all(v == NOT_SUPPORTED for v in vs):
        return "against"
    return "mixed"


def answer(question: Question, results: Iterable[Any]) -> Answer:
    """Answer one question from claim results (claims/engine.ClaimResult: verdict, reason, reachability)."""
    by_id = {r.claim_id: r for r in results}
    counted, not_counted = [], []
    for cid in question.claims:
        r = by_id.get(cid)
        if r is None:
            not_counted.append((cid, "not evaluated in this build"))
        elif r.reachability not in (DECIDABLE, ""):
            not_counted.append((cid, f"{r.verdict}, but {r.reachability}"))
        elif _settled(r):
            not_counted.append((cid, f"{r.verdict}, but settled at these sizes: another verdict comes out under "
                                     f"{r.operating['settled_below']:.0%} of the time under every alternative tried"))
        elif r.verdict in (SUPPORTED, NOT_SUPPORTED):
            counted.append((cid, r.verdict))
        else:
            not_counted.append((cid, f"inconclusive: {r.reason}" if r.reason else "inconclusive"))
    result = outcome(v for _, v in counted)
    text = question.answers[result].format(decided=len(counted), total=len(question.claims))
    windows = tuple((cid, tuple(w) if (w := getattr(by_id.get(cid), "evidence_window", None)) else None)
                    for cid in question.claims if cid in by_id)
    same = tuple((cid, tuple((sc["name"], sc["same"]) for sc in (getattr(by_id[cid], "operating", None) or {}).get("scenarios", [])))
                 for cid, _ in counted)
    return Answer(question, result, " ".join(text.split()), tuple(counted), tuple(not_counted), windows, same)


def _settled(r: Any) -> bool:
    op = getattr(r, "operating", None)
    return bool(op and op.get("settled"))


def parse_questions(raw: Any, path: Any, claim_ids: Iterable[str]) -> list[Question]:
    """The `[[question]]` tables of the registry document, validated against its claim ids; errors name
    the file, the question and the field (DataError, exit 3)."""
    from bubblelens.core.errors import DataError

    ids = set(claim_ids)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise DataError(f"{path}: 'question' must be an array of [[question]] tables")
    out, seen = [], set()
    for i, q in enumerate(raw, 1):
        qid = q.get("id", f"#{i}") if isinstance(q, dict) else f"#{i}"
        where = f"{path}: question '{qid}'"
        if not isinstance(q, dict):
            raise DataError(f"{where}: each [[question]] must be a table")
        unknown = sorted(set(q) - {"id", "text", "claims", "answers"})
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}; valid: id, text, claims, answers")
        for fld, typ in (("id", str), ("text", str), ("claims", list), ("answers", dict)):
            if not isinstance(q.get(fld), typ) or not q[fld]:
                raise DataError(f"{where}: field '{fld}' missing or not a non-empty {typ.__name__}")
        if qid in seen:
            raise DataError(f"{where}: field 'id': duplicate id")
        seen.add(qid)
        for cid in q["claims"]:
            if cid not in ids:
                raise DataError(f"{where}: field 'claims': '{cid}' is not a claim id of the registry")
        for key in OUTCOMES:
            text = q["answers"].get(key)
            if not isinstance(text, str) or not text.strip():
                raise DataError(f"{where}: field 'answers.{key}' missing or empty (each of {', '.join(OUTCOMES)} "
                                "needs its text)")
            try:
                text.format(decided=0, total=0)
            except (KeyError, ValueError, IndexError) as exc:
                raise DataError(f"{where}: field 'answers.{key}': placeholder other than {{decided}}, {{total}} "
                                f"({exc!r})") from None
        extra = sorted(set(q["answers"]) - set(OUTCOMES))
        if extra:
            raise DataError(f"{where}: field 'answers': unknown outcome(s) {', '.join(extra)}; valid: {', '.join(OUTCOMES)}")
        out.append(Question(qid, q["text"].strip(), tuple(q["claims"]), dict(q["answers"])))
    return out


def load_questions(path: Any, claim_ids: Iterable[str]) -> list[Question]:
    """The `[[question]]` tables of the registry file at `path` (the registry itself is validated by
    claims/registry.py, which lets this key through)."""
    import tomllib
    from pathlib import Path

    doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return parse_questions(doc.get("question"), path, claim_ids)
