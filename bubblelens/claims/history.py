"""The claims registry's history, kept honest: rule fingerprints, the lock file and `revise`.

Why: a registry only protects a verdict if its rules cannot change quietly after the data are in. Saying
"declared before the data were seen" is a promise nobody can check; a history can be checked. Each claim
in data/claims.toml carries the date it was `declared` and a list of `revisions` (date, what, why), and
data/claims.lock records a fingerprint of each claim's rule — the statistic, its parameters (declared
values merged with the kind's defaults) and the decision rule with its placeholders filled, i.e. exactly
what decides the verdict, taken from the validated `ClaimSpec`. `lock_problems` names every rule that
changed without a revision entry newer than its lock entry; `revise` appends that entry to the TOML text
(comments and layout survive: tomllib cannot write, so the edit is surgical) and refreshes the lock, so an
analyst's change of a rule is one command, recorded, rather than a failed build.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from bubblelens.claims.kinds import jsonable
from bubblelens.claims.registry import ClaimSpec, iso_date, load_registry, loads_registry
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import DataError, UsageError
from bubblelens.core.io import atomic_write_text, dumps_json

LOCK_FORMAT = 1
_LOCK_NOTE = ("Rule fingerprints of data/claims.toml (bubblelens/claims/history.py). Do not edit by hand: "
              "record a changed rule with `bubblelens claims revise ID --why ...`.")


def rule_fingerprint(spec: ClaimSpec) -> str:
    """sha256 (first 16 hex) of the canonical JSON of what decides the verdict: statistic, full params and
    the filled-in decision rule. Readings, statement and history do not enter."""
    rule = {"statistic": spec.statistic, "params": jsonable(dict(spec.params)), "decision_rule": spec.decision_rule}
    text = json.dumps(rule, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_lock(lock_path: Path) -> dict[str, dict[str, Any]] | None:
    """claim id -> {fingerprint, locked_on, revisions}; None when there is no lock file."""
    try:
        doc = json.loads(Path(lock_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except json.JSONDecodeError as exc:
        raise DataError(f"{lock_path}: not valid JSON ({exc})") from None
    claims = doc.get("claims") if isinstance(doc, dict) else None
    if not isinstance(claims, dict) or not all(isinstance(e, dict) and isinstance(e.get("fingerprint"), str)
                                               and iso_date(e.get("locked_on")) for e in claims.values()):
        raise DataError(f"{lock_path}: expected {{\"claims\": {{id: {{fingerprint, locked_on}}}}}}")
    return claims


def _entry(spec: ClaimSpec, locked_on: str) -> dict[str, Any]:
    return {"fingerprint": rule_fingerprint(spec), "locked_on": locked_on, "revisions": len(spec.revisions)}


def _write(lock_path: Path, claims: Mapping[str, Any]) -> None:
    atomic_write_text(Path(lock_path), dumps_json({"format": LOCK_FORMAT, "note": _LOCK_NOTE, "claims": dict(claims)}))


def _today(date: str | dt.date | None) -> str:
    iso = iso_date(date if date is not None else dt.date.today())
    if iso is None:
        raise UsageError(f"date {date!r} is not a date (YYYY-MM-DD)")
    return iso


def write_lock(specs: Iterable[ClaimSpec], lock_path: Path, date: str | dt.date | None = None) -> None:
    """Lock every claim's current rule. Entries whose fingerprint is unchanged keep their date (and the lock
    stays byte-identical); changed or new ones are locked on `date` (default today)."""
    specs = list(specs)
    old, today = read_lock(lock_path) or {}, _today(date)
    same = {s.id for s in specs if old.get(s.id, {}).get("fingerprint") == rule_fingerprint(s)}
    _write(lock_path, {s.id: _entry(s, old[s.id]["locked_on"] if s.id in same else today) for s in specs})


def _newer_revisions(spec: ClaimSpec, entry: Mapping[str, Any]) -> list[Mapping[str, str]]:
    """Revision entries the lock has not seen: beyond the count it recorded, dated on or after its date."""
    count = entry.get("revisions", 0) if isinstance(entry.get("revisions", 0), int) else 0
    return [r for r in spec.revisions[count:] if r["date"] >= iso_date(entry["locked_on"])]


def lock_problems(specs: Iterable[ClaimSpec], lock_path: Path) -> list[str]:
    """One sentence per problem: a rule changed with no newer revision entry, a claim missing from the
    lock, a lock entry for a claim that no longer exists. [] when the history accounts for every rule."""
    specs = list(specs)
    lock = read_lock(lock_path)
    if lock is None:
        return [f"{lock_path}: no lock file; create it with bubblelens.claims.history.write_lock"]
    problems = []
    for s in specs:
        entry = lock.get(s.id)
        if entry is None:
            problems.append(f"claim '{s.id}' is not in {lock_path}; lock a new claim with "
                            f"bubblelens.claims.history.write_lock or `bubblelens claims revise {s.id} --why \"...\"`")
        elif entry["fingerprint"] != rule_fingerprint(s) and not _newer_revisions(s, entry):
            problems.append(f"claim '{s.id}': its rule changed since it was locked on {entry['locked_on']} "
                            f"(fingerprint {entry['fingerprint']} -> {rule_fingerprint(s)}) but has no newer "
                            f"revision entry; record it with `bubblelens claims revise {s.id} --why \"...\"`")
    ids = {s.id for s in specs}
    problems += [f"{lock_path}: entry for claim '{cid}', which is no longer in the registry"
                 for cid in sorted(set(lock) - ids)]
    return problems


# ------------------------------------------------------------------------------------ TOML surgery
_HEADER_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")


def _code_mask(text: str) -> list[bool]:
    """Per character: True where it is TOML syntax, False inside strings and comments."""
    mask, i, n = [True] * len(text), 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif c in "\"'":
            q = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(q)
            while j < n and text[j:j + len(q)] != q:
                j += 2 if c == '"' and text[j] == "\\" else 1
            j = min(n, j + len(q))
            while len(q) == 3 and j < n and text[j] == c:   # up to two quotes may close a multi-line string
                j += 1
        else:
            i += 1
            continue
        mask[i:j] = [False] * (j - i)
        i = j
    return mask


def _toml_str(text: str) -> str:
    text = " ".join(str(text).split())
    return '"' + "".join(f"\\u{ord(ch):04x}" if ord(ch) < 32 or ord(ch) == 127 else
                         "\\\\" if ch == "\\" else '\\"' if ch == '"' else ch for ch in text) + '"'


def _claim_span(text: str, mask: list[bool], claim_id: str) -> tuple[int, int] | None:
    """(start, end) of the top-level keys of the [[claim]] whose id is `claim_id` (up to its first sub-table)."""
    heads, pos = [], 0
    for line in text.splitlines(keepends=True):
        m = _HEADER_RE.match(line)
        if m and mask[pos + len(line) - len(line.lstrip())]:
            heads.append((pos, line.strip().startswith("[["), m.group(1).strip()))
        pos += len(line)
    heads.append((len(text), True, ""))
    for (start, arr, name), (end, _, _) in zip(heads, heads[1:]):
        if arr and name == "claim":
            body = text[start:end]
            for m in re.finditer(r"^[ \t]*(id)[ \t]*=[ \t]*([\"'])(.*?)\2", body, re.M):
                if mask[start + m.start(1)] and m.group(3) == claim_id:
                    return start, end
    return None


def append_revision(text: str, claim_id: str, date: str, what: str, why: str) -> str | None:
    """`text` with one revision entry appended to the claim's `revisions` array (created when absent);
    None when no [[claim]] has that id. Everything outside the array is left byte-identical."""
    mask = _code_mask(text)
    span = _claim_span(text, mask, claim_id)
    if span is None:
        return None
    start, end = span
    entry = f"{{ date = {date}, what = {_toml_str(what)}, why = {_toml_str(why)} }}"
    m = next((m for m in re.finditer(r"^[ \t]*(revisions)[ \t]*=[ \t]*\[", text[start:end], re.M)
              if mask[start + m.start(1)]), None)
    if m is None:                     # no array yet: add one after the claim's last key
        at = end
        while at > start:             # step back over blank and comment lines that lead into what follows
            nl = text.rfind("\n", start, at - 1)
            line_start = nl + 1 if nl >= 0 else start
            if text[line_start:at].strip() and not text[line_start:at].lstrip().startswith("#"):
                break
            at = line_start
        lead = "" if text[at - 1:at] in ("\n", "") else "\n"
        return text[:at] + f"{lead}revisions = [\n  {entry},\n]\n" + text[at:]
    open_at, depth, i = start + m.end() - 1, 0, start + m.end() - 1
    while i < len(text):              # the matching ']' (strings and comments masked out)
        if mask[i] and text[i] in "[{":
            depth += 1
        elif mask[i] and text[i] in "]}":
            depth -= 1
            if depth == 0:
                break
        i += 1
    close_at = i
    inner = [k for k in range(open_at + 1, close_at) if mask[k] and not text[k].isspace()]
    if not inner:                     # empty array: one entry per line from now on
        return text[:open_at] + f"[\n  {entry},\n]" + text[close_at + 1:]
    last = inner[-1]
    comma = "" if text[last] == "," else ","
    line_start = text.rfind("\n", 0, close_at) + 1
    if text[line_start:close_at].strip() == "":      # ']' on its own line: a new line above it
        first = inner[0]
        indent = text[text.rfind("\n", 0, first) + 1:first]
        indent = indent if indent.strip() == "" and text.rfind("\n", 0, first) > open_at else "  "
        text = text[:last + 1] + comma + text[last + 1:]
        line_start += len(comma)
        return text[:line_start] + f"{indent}{entry},\n" + text[line_start:]
    return text[:last + 1] + comma + f" {entry}" + text[last + 1:]


def revise(registry_path: Path, lock_path: Path, claim_id: str, why: str, date: str | dt.date | None = None,
           what: str | None = None) -> dict[str, str]:
    """Append a revision entry {date, what, why} to `claim_id` in the registry and refresh its lock entry.
    `what` defaults to the change of rule fingerprint. Returns the entry written."""
    registry_path, day = Path(registry_path), _today(date)
    specs = {s.id: s for s in load_registry(registry_path, KINDS)}
    if claim_id not in specs:
        raise UsageError(f"unknown claim '{claim_id}' in {registry_path}; known: {', '.join(specs)}")
    if not why or not why.strip():
        raise UsageError(f"claim '{claim_id}': a revision needs a reason (--why)")
    lock = read_lock(lock_path)
    if lock is None:
        raise DataError(f"{lock_path}: no lock file to refresh; create it with bubblelens.claims.history.write_lock")
    old, new = (lock.get(claim_id) or {}).get("fingerprint"), rule_fingerprint(specs[claim_id])
    if what is None or not what.strip():
        what = (f"rule changed (fingerprint {old} -> {new})" if old and old != new else
                f"rule recorded (fingerprint {new})" if not old else f"rule unchanged (fingerprint {new})")
    text = append_revision(registry_path.read_text(encoding="utf-8"), claim_id, day, what, why)
    try:                              # the edited registry must be valid before it replaces the old one
        spec = {s.id: s for s in loads_registry(text or "", registry_path, KINDS)}.get(claim_id)
    except DataError as exc:
        raise DataError(f"{registry_path}: the revision of '{claim_id}' would make the registry invalid "
                        f"({exc}); nothing was changed") from None
    if spec is None or len(spec.revisions) != len(specs[claim_id].revisions) + 1:
        raise DataError(f"{registry_path}: cannot edit the `revisions` array of '{claim_id}' safely; "
                        "add the entry by hand")
    atomic_write_text(registry_path, text)
    _write(lock_path, {**lock, claim_id: _entry(spec, day)})
    return dict(spec.revisions[-1])
