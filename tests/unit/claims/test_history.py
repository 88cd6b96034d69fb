"""Registry history: rule fingerprints, the lock file, `revise`'s surgical TOML edit, and validation of the
declared / revisions / known_when_declared fields."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bubblelens.claims.history import append_revision, lock_problems, revise, rule_fingerprint, write_lock
from bubblelens.claims.registry import load_registry
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import DataError, UsageError
from bubblelens.core.resources import DATA_DIR

from test_claims import GOOD

def claim(cid: str) -> str:
    """One valid claim (test_claims.GOOD) under another id."""
    return GOOD.replace('id = "vae-blurrier"', f'id = "{cid}"')


REGISTRY = "# header comment\nschema = 1\n" + claim("claim-a") + "\n# --- section\n" + claim("claim-b")


def setup(tmp_path: Path, text: str = REGISTRY) -> tuple[Path, Path]:
    (tmp_path / "market").mkdir(exist_ok=True)
    registry, lock = tmp_path / "claims.toml", tmp_path / "claims.lock"
    registry.write_text(text)
    return registry, lock


def specs(registry: Path) -> list:
    return load_registry(registry, KINDS)


# ------------------------------------------------------------------------------------ fingerprints
def test_fingerprint_is_stable_across_runs_and_sensitive_to_a_param(tmp_path):
    registry, _ = setup(tmp_path)
    a, b = specs(registry)
    assert rule_fingerprint(a) == rule_fingerprint(b) and len(rule_fingerprint(a)) == 16
    code = ("from bubblelens.claims.history import rule_fingerprint; from bubblelens.claims.registry import "
            "load_registry; from bubblelens.claims.statistics import KINDS; import sys; "
            "print(rule_fingerprint(load_registry(sys.argv[1], KINDS)[0]))")
    out = subprocess.run([sys.executable, "-c", code, str(registry)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == rule_fingerprint(a)                   # another process, another hash seed
    setup(tmp_path, REGISTRY.replace("bound = 1\n", "bound = 1.0\n"))  # same value, other spelling
    assert rule_fingerprint(specs(registry)[0]) == rule_fingerprint(a)
    for old, new in (("bound = 1\n", "bound = 0.9\n"), ("bound = 1\n", "bound = 1\nmin_n = 4\n"),
                     ("interval lies below", "interval lies under")):
        setup(tmp_path, REGISTRY.replace(old, new, 1))
        assert rule_fingerprint(specs(registry)[0]) != rule_fingerprint(a), new
    setup(tmp_path, REGISTRY.replace('supported = "s"', 'supported = "other words"', 1))
    assert rule_fingerprint(specs(registry)[0]) == rule_fingerprint(a)   # readings are not the rule


# ------------------------------------------------------------------------------------ lock
def test_lock_is_sorted_json_and_rewriting_it_changes_nothing(tmp_path):
    registry, lock = setup(tmp_path)
    write_lock(specs(registry), lock, "2026-12-01")
    first = lock.read_bytes()
    doc = json.loads(first)
    assert list(doc["claims"]) == ["claim-a", "claim-b"]
    assert doc["claims"]["claim-a"] == {"fingerprint": rule_fingerprint(specs(registry)[0]),
                                        "locked_on": "2026-12-01", "revisions": 0}
    write_lock(specs(registry), lock, "2026-12-05")                     # unchanged rules keep their date
    assert lock.read_bytes() == first
    assert lock_problems(specs(registry), lock) == []


def test_changed_rule_without_revision_is_a_problem_until_revise(tmp_path):
    registry, lock = setup(tmp_path)
    write_lock(specs(registry), lock, "2026-12-01")
    registry.write_text(REGISTRY.replace("bound = 1\n", "bound = 0.8\n", 1))
    (problem,) = lock_problems(specs(registry), lock)
    assert "claim 'claim-a'" in problem and "rule changed" in problem and "claims revise claim-a" in problem
    entry = revise(registry, lock, "claim-a", why="the blur bound was set too high", date="2026-12-02")
    assert entry["date"] == "2026-12-02" and entry["why"] == "the blur bound was set too high"
    assert "fingerprint" in entry["what"]
    assert lock_problems(specs(registry), lock) == []
    a = specs(registry)[0]
    assert a.revisions == (entry,) and a.last_revision == entry
    assert json.loads(lock.read_text())["claims"]["claim-a"] == {
        "fingerprint": rule_fingerprint(a), "locked_on": "2026-12-02", "revisions": 1}
    registry.write_text(registry.read_text().replace("bound = 0.8\n", "bound = 0.7\n", 1))
    assert len(lock_problems(specs(registry), lock)) == 1               # the next change needs its own entry


def test_hand_written_revision_entry_newer_than_the_lock_passes(tmp_path):
    registry, lock = setup(tmp_path)
    write_lock(specs(registry), lock, "2026-12-01")
    text = REGISTRY.replace("bound = 1\n", "bound = 0.8\n", 1).replace(
        "revisions = []", 'revisions = [{ date = 2026-12-03, what = "bound 1 -> 0.8", why = "w" }]', 1)
    registry.write_text(text)
    assert lock_problems(specs(registry), lock) == []


def test_missing_and_stale_lock_entries(tmp_path):
    registry, lock = setup(tmp_path)
    assert "no lock file" in lock_problems(specs(registry), lock)[0]
    write_lock(specs(registry)[:1], lock, "2026-12-01")
    (missing,) = lock_problems(specs(registry), lock)
    assert "claim 'claim-b' is not in" in missing
    write_lock(specs(registry), lock, "2026-12-01")
    setup(tmp_path, "schema = 1\n" + claim("claim-a"))
    (stale,) = lock_problems(specs(registry), lock)
    assert "claim-b" in stale and "no longer in the registry" in stale
    lock.write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        lock_problems(specs(registry), lock)


# ------------------------------------------------------------------------------------ revise
def test_revise_leaves_everything_outside_the_claim_byte_identical(tmp_path):
    registry, lock = setup(tmp_path)
    write_lock(specs(registry), lock, "2026-12-01")
    revise(registry, lock, "claim-b", why='a "quoted" \\ reason\nover two lines', date="2026-12-02", what="x")
    after = registry.read_text()
    start = REGISTRY.index('id = "claim-b"')
    assert after[:start] == REGISTRY[:start]                            # header, claim-a, section comment
    head, tail = REGISTRY[start:].split("revisions = []", 1)
    assert after[start:].startswith(head) and after.endswith(tail)
    assert after[start + len(head):len(after) - len(tail)] == (
        'revisions = [\n  { date = 2026-12-02, what = "x", why = "a \\"quoted\\" \\\\ reason over two lines" },\n]')
    revise(registry, lock, "claim-b", why="second", date="2026-12-02")
    doc = tomllib.loads(registry.read_text())
    assert [r["why"] for r in doc["claim"][1]["revisions"]] == ['a "quoted" \\ reason over two lines', "second"]
    assert doc["claim"][0]["revisions"] == [] and lock_problems(specs(registry), lock) == []


@pytest.mark.parametrize("array, expected", [
    ('revisions = [ { date = 2026-12-01, what = "a", why = "b" } ]',
     'revisions = [ { date = 2026-12-01, what = "a", why = "b" }, { date = 2026-12-09, what = "w", why = "y" } ]'),
    ('revisions = [\n    { date = 2026-12-01, what = "a ]", why = "b" },  # note ]\n]',
     'revisions = [\n    { date = 2026-12-01, what = "a ]", why = "b" },  # note ]\n'
     '    { date = 2026-12-09, what = "w", why = "y" },\n]'),
    ('revisions = [\n  { date = 2026-12-01, what = "a", why = "b" }\n]',
     'revisions = [\n  { date = 2026-12-01, what = "a", why = "b" },\n'
     '  { date = 2026-12-09, what = "w", why = "y" },\n]'),
    ("revisions = [  ] # none yet", 'revisions = [\n  { date = 2026-12-09, what = "w", why = "y" },\n] # none yet'),
])
def test_append_revision_layouts(array, expected):
    text = REGISTRY.replace("revisions = []", array)
    out = append_revision(text, "claim-b", "2026-12-09", "w", "y")
    pos = text.rindex(array)
    assert out == text[:pos] + expected + text[pos + len(array):]
    assert [len(c["revisions"]) for c in tomllib.loads(out)["claim"]] == [
        len(c["revisions"]) + (c["id"] == "claim-b") for c in tomllib.loads(text)["claim"]]


def test_append_revision_adds_a_missing_array_after_the_claims_last_key():
    text = "schema = 1\n" + claim("claim-a").replace("revisions = []\n", "")
    out = append_revision(text, "claim-a", "2026-12-09", "w", "y")
    assert out == text.replace("[claim.params]", 'revisions = [\n  { date = 2026-12-09, what = "w", why = "y" },\n]\n'
                               "[claim.params]")
    assert append_revision(text, "claim-z", "2026-12-09", "w", "y") is None


def test_revise_rejects_unknown_id_missing_reason_and_bad_date(tmp_path):
    registry, lock = setup(tmp_path)
    write_lock(specs(registry), lock, "2026-12-01")
    before = registry.read_bytes(), lock.read_bytes()
    with pytest.raises(UsageError, match="unknown claim 'claim-z'"):
        revise(registry, lock, "claim-z", why="w", date="2026-12-02")
    with pytest.raises(UsageError, match="reason"):
        revise(registry, lock, "claim-a", why="  ", date="2026-12-02")
    with pytest.raises(UsageError, match="not a date"):
        revise(registry, lock, "claim-a", why="w", date="02/12/2026")
    with pytest.raises(DataError, match="earlier than 2026-11-29"):       # before the claim was declared
        revise(registry, lock, "claim-a", why="w", date="2026-11-01")
    assert (registry.read_bytes(), lock.read_bytes()) == before


# ------------------------------------------------------------------------------------ registry fields
@pytest.mark.parametrize("old, new, field, words", [
    ("declared = 2026-11-29\n", "", "declared", "missing"),
    ("revisions = []\n", "", "revisions", "missing"),
    ('known_when_declared = "written before any run"\n', "", "known_when_declared", "missing"),
    ("declared = 2026-11-29", 'declared = "29 Nov 2026"', "declared", "must be a date"),
    ("declared = 2026-11-29", "declared = 2026-11-29T10:00:00", "declared", "must be a date"),
    ("declared = 2026-11-29", 'declared = "2026-02-30"', "declared", "must be a date"),
    ("revisions = []", 'revisions = "none"', "revisions", "must be a list"),
    ("revisions = []", "revisions = [1]", "revisions[1]", "must be a table"),
    ("revisions = []", 'revisions = [{ date = 2026-12-01, what = "w" }]', "revisions[1]", "lacks why"),
    ("revisions = []", 'revisions = [{ date = 2026-12-01, what = "w", why = "y", who = "me" }]', "revisions[1]",
     "unknown who"),
    ("revisions = []", 'revisions = [{ date = "soon", what = "w", why = "y" }]', "revisions[1].date",
     "must be a date"),
    ("revisions = []", 'revisions = [{ date = 2026-11-01, what = "w", why = "y" }]', "revisions[1].date",
     "earlier than"),
    ("revisions = []", 'revisions = [{ date = 2026-12-01, what = " ", why = "y" }]', "revisions[1].what",
     "non-empty"),
    ('known_when_declared = "written before any run"', 'known_when_declared = ""', "known_when_declared",
     "must not be empty"),
])
def test_history_fields_errors_name_file_claim_and_field(tmp_path, old, new, field, words):
    assert old in REGISTRY
    registry, _ = setup(tmp_path, REGISTRY.replace(old, new, 1))
    with pytest.raises(DataError) as exc:
        specs(registry)
    msg = str(exc.value)
    assert str(registry) in msg and "claim 'claim-a'" in msg and f"field '{field}'" in msg and words in msg


def test_history_fields_on_the_spec(tmp_path):
    text = REGISTRY.replace("declared = 2026-11-29", 'declared = "2026-11-29"', 1).replace(
        "revisions = []", 'revisions = [{ date = "2026-12-01", what = "w", why = "y" }]', 1)
    registry, _ = setup(tmp_path, text)
    a, b = specs(registry)
    assert (a.declared, a.known_when_declared) == ("2026-11-29", "written before any run")
    assert a.revisions == ({"date": "2026-12-01", "what": "w", "why": "y"},) and b.last_revision is None


# ------------------------------------------------------------------------------------ shipped data
def test_shipped_registry_matches_its_lock(tmp_path):
    shipped = load_registry(DATA_DIR / "claims.toml", KINDS)
    assert lock_problems(shipped, DATA_DIR / "claims.lock") == []
    assert all(s.declared and s.known_when_declared for s in shipped)
    copy = tmp_path / "claims.lock"
    shutil.copy(DATA_DIR / "claims.lock", copy)
    write_lock(shipped, copy)                                           # the shipped lock is up to date
    assert copy.read_bytes() == (DATA_DIR / "claims.lock").read_bytes()


def test_results_and_report_carry_the_history(tmp_path):
    import pandas as pd
    from bubblelens.claims.engine import evaluate_claim
    from bubblelens.claims.kinds import Evidence
    from bubblelens.report.content import _verdict_callouts
    text = REGISTRY.replace("revisions = []",
                            'revisions = [{ date = 2026-12-01, what = "bound 1.2 -> 1", why = "y" }]', 1)
    registry, _ = setup(tmp_path, text)
    ev = Evidence(runs=pd.DataFrame(columns=["model", "dataset", "variant", "seed", "metric", "value"]),
                  sweep=pd.DataFrame(), market=None, profile="smoke")
    a, b = (evaluate_claim(s, ev) for s in specs(registry))
    j = a.to_json()
    assert (j["declared"], j["revised"], j["known_when_declared"]) == (
        "2026-11-29", "2026-12-01", "written before any run")
    assert j["revisions"] == [{"date": "2026-12-01", "what": "bound 1.2 -> 1", "why": "y"}]
    assert b.to_json()["revised"] is None and b.to_json()["revisions"] == []
    ca, cb = _verdict_callouts([a, b])
    assert ca.text.split("\n")[1] == ("*Declared 2026-11-29; revised 2026-12-01 (bound 1.2 -> 1; why: y).* "
                                      "Known when declared: written before any run")
    assert cb.text.split("\n")[1].startswith("*Declared 2026-11-29; not revised since.*")
