"""A bug is not a verdict: a claim whose statistic, reachability probe or verdict simulation raises anything
but `Insufficient` fails the build, and `bubblelens claims check`, with a ClaimError (exit 1) naming the
claim, and leaves nothing in the stage cache that a later build would trust. Too little evidence stays
"inconclusive" with its reason.
"""
from __future__ import annotations

import dataclasses
import functools
import shutil
import sys

import pandas as pd
import pytest

from bubblelens.claims.engine import evaluate_and_check, evaluate_claim, evaluate_claims
from bubblelens.claims.kinds import INCONCLUSIVE, SUPPORTED, Evidence, Insufficient
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import EXIT_STAGE_FAILED, ClaimError, StageError
from bubblelens.core.resources import DATA_DIR
from bubblelens.market.load import load_market
from test_claims import DISILLUSION, MODES, RUN_COLS, evidence, runs, spec

FAILING = "share_of_runs_failing"


def raising(exc: Exception):
    def fn(*_args, **_kwargs):
        raise exc
    return fn


def break_statistic(monkeypatch, name: str, exc: Exception) -> None:
    monkeypatch.setitem(KINDS, name, dataclasses.replace(KINDS[name], statistic=raising(exc)))


def mode_runs(profile="quick") -> Evidence:
    return evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [3, 8, 8, 5, 8, 8, 8, 2, 8, 8])), profile=profile)


@pytest.mark.parametrize("exc, shown", [(ValueError("window too short"), "ValueError: window too short"),
                                        (KeyError("x"), "KeyError: 'x'")])
def test_a_raising_statistic_fails_naming_the_claim_not_inconclusive(monkeypatch, exc, shown):
    break_statistic(monkeypatch, FAILING, exc)
    with pytest.raises(ClaimError) as err:
        evaluate_claim(spec(FAILING, **MODES), mode_runs())
    assert str(err.value) == (f"claim test-claim: its statistic '{FAILING}' raised {shown} — a bug, not weak "
                              "evidence; run with --debug for the traceback")
    assert isinstance(err.value, StageError) and err.value.exit_code == EXIT_STAGE_FAILED == 1
    assert err.value.__cause__ is exc                       # chained: --debug shows where it was raised


def test_insufficient_evidence_stays_inconclusive_with_its_reason(monkeypatch):
    break_statistic(monkeypatch, FAILING, Insufficient("too few runs (n=2 < 3)", details={"n": 2}))
    r = evaluate_claim(spec(FAILING, **MODES), mode_runs())
    assert (r.verdict, r.reason, r.details["n"]) == (INCONCLUSIVE, "too few runs (n=2 < 3)", 2)


def test_a_raising_probe_or_simulation_fails_naming_the_claim(monkeypatch):
    claim, ev = spec(FAILING, **MODES), mode_runs("quick")
    assert evaluate_and_check(claim, ev).operating["scenarios"]             # sound: simulated in quick
    with monkeypatch.context() as m:
        m.setitem(KINDS, FAILING, dataclasses.replace(KINDS[FAILING], probe=raising(IndexError("no scenario"))))
        with pytest.raises(ClaimError, match=f"^claim test-claim: the reachability probe of its statistic "
                                             f"'{FAILING}' raised IndexError: no scenario — a bug") as err:
            evaluate_and_check(claim, ev)
        assert isinstance(err.value.__cause__, IndexError)
    monkeypatch.setitem(KINDS, FAILING, dataclasses.replace(KINDS[FAILING],
                                                            alternatives=raising(ZeroDivisionError("division by zero"))))
    with pytest.raises(ClaimError, match="^claim test-claim: the simulation of its verdict probabilities "
                                         f"\\('{FAILING}'\\) raised ZeroDivisionError: division by zero"):
        evaluate_and_check(claim, ev)
    # smoke does not simulate, so the same broken simulator is never reached there
    assert evaluate_and_check(claim, mode_runs("smoke")).operating["unavailable"].startswith("not simulated")


def test_a_statistic_returning_no_verdict_fails_naming_the_claim(monkeypatch):
    kind = KINDS[FAILING]
    wrong = lambda ev, p: dataclasses.replace(kind.statistic(ev, p), verdict="maybe")   # noqa: E731
    monkeypatch.setitem(KINDS, FAILING, dataclasses.replace(kind, statistic=wrong))
    with pytest.raises(ClaimError, match="^claim test-claim: its statistic .* returned the verdict 'maybe'"):
        evaluate_claim(spec(FAILING, **MODES), mode_runs())


def test_a_failed_claim_is_never_cached_and_a_fixed_one_is_computed(tmp_path, monkeypatch):
    """Through the build's own memo (report_stages._cached_claim over the stage cache): the failure leaves
    no entry, so once the bug is gone the next build computes the claim instead of trusting a cached one."""
    from bubblelens.core.config import profile_config
    from bubblelens.pipeline.cache import Cache
    from bubblelens.pipeline.context import BuildContext, BuildOptions
    from bubblelens.pipeline.progress import Reporter
    from bubblelens.pipeline.report_stages import _cached_claim

    shutil.copytree(DATA_DIR / "market", tmp_path / "market")
    registry = tmp_path / "claims.toml"
    registry.write_text(DISILLUSION)
    ev = Evidence(pd.DataFrame(columns=RUN_COLS), pd.DataFrame(), load_market(tmp_path), "smoke")
    ctx = BuildContext(BuildOptions(profile_config("smoke")), Cache(tmp_path / "cache"), Reporter(quiet=True), "cpu")
    memo = functools.partial(_cached_claim, ctx)

    def entries() -> list:
        return sorted((tmp_path / "cache" / "claims").glob("*/entry.json"))

    with monkeypatch.context() as m:
        break_statistic(m, "proportion_change", KeyError("x"))
        with pytest.raises(ClaimError, match="^claim disillusionment-after-peak: its statistic "
                                             "'proportion_change' raised KeyError: 'x'"):
            evaluate_claims(registry, ev, memo=memo)
    assert entries() == [] and ctx.records == []
    (fixed,) = evaluate_claims(registry, ev, memo=memo)
    assert fixed.verdict == SUPPORTED and len(entries()) == 1 and ctx.records[-1].status == "computed"
    # the next build (its own context: within one build a unit keeps its first record) finds the entry
    later = BuildContext(BuildOptions(profile_config("smoke")), Cache(tmp_path / "cache"), Reporter(quiet=True), "cpu")
    evaluate_claims(registry, ev, memo=functools.partial(_cached_claim, later))
    assert len(entries()) == 1 and later.records[-1].status == "cached"


def test_claims_check_reports_a_raising_statistic_as_an_error_naming_the_claim(tmp_path, monkeypatch, capsys):
    """`bubblelens claims check` as a user runs it (cli/main.py:main maps errors to exit codes): one
    sentence on stderr, exit 1, no traceback and no table of verdicts."""
    from bubblelens.claims.registry import load_registry
    from bubblelens.cli.main import main

    first = next(s.id for s in load_registry(DATA_DIR / "claims.toml", KINDS) if s.statistic == FAILING)
    break_statistic(monkeypatch, FAILING, KeyError("x"))
    monkeypatch.setattr(sys, "argv", ["bubblelens", "claims", "check", "--profile", "smoke",
                                      "--out", str(tmp_path / "no-build"), "--data", str(DATA_DIR), "--json"])
    with pytest.raises(SystemExit) as stop:
        main()
    out, err = capsys.readouterr()
    assert stop.value.code == 1 and out == ""
    assert err == (f"bubblelens: error: claim {first}: its statistic '{FAILING}' raised KeyError: 'x' "
                   "— a bug, not weak evidence; run with --debug for the traceback\n")


def test_a_claim_failing_on_the_pool_is_named_by_the_claims_stage_in_file_order(tmp_path):
    """On the pool the claims stage computes the missing claims side by side first; when one raises there,
    the error of whichever worker failed first is not what the build reports: the claims stage computes
    what is still missing in file order and stops at the first claim that fails."""
    from types import SimpleNamespace

    from bubblelens.pipeline.report_stages import _claims_on_the_pool

    batches = []

    def run_units(units):
        batches.append([u.key for u in units])
        raise ClaimError("claim flow-costs-compute: its statistic raised ValueError: from a worker")

    ctx = SimpleNamespace(executor=SimpleNamespace(name="pool", jobs=2), opts=SimpleNamespace(force=False,
                          data_dir=DATA_DIR), all_cached=lambda units: False, run_units=run_units, threads=1)
    ev = Evidence(pd.DataFrame(columns=RUN_COLS), pd.DataFrame(), load_market(DATA_DIR), "smoke")
    _claims_on_the_pool(ctx, ev)                       # swallowed: evaluate_claims raises in file order
    assert len(batches) == 1 and "gan-mode-dropping" in batches[0] and len(batches[0]) > 1
