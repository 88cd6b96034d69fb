"""The smoke build's slowest checks, in a file of their own so that pytest-xdist's second worker runs them
beside test_build.py (issue 25: CI time): serial and Ray builds give the pool's results, and `claims check`
labels what each profile's sizes can decide. The smoke build they compare against is made once per session
(smoke_build.py)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from smoke_build import SOURCE_DATE_EPOCH, run_cli


def _untimed_metrics(out: Path) -> list[str]:
    """metrics.csv without its timing rows (wall-clock seconds differ between any two builds)."""
    lines = (out / "results" / "metrics.csv").read_text().splitlines()
    kept = [line for line in lines if line.split(",")[4] != "wall_s"]
    assert len(kept) > len(lines) / 2
    return kept


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["serial", "ray"])
def test_every_backend_gives_the_same_claims_and_metrics(request, tmp_path, backend):
    """The smoke fixture ran on the default pool; serial and Ray builds, each training and evaluating every
    unit afresh, must give byte-identical claims and the same metrics (timings aside).

    The serial build computes every claim in its claims stage, so its claims.json checks the pool's claims,
    computed on workers (the market claims beside training, the model claims side by side before the claims
    stage), against the same claims computed in-process; the manifest lists the units in the same order. It needs
    the smoke build only to compare, so it asks for it after its own build: while another worker makes the
    shared build, this one builds too instead of waiting on the lock. The Ray build computes its claims
    in-process too (market claims run beside training on the pool only); its cache starts with the
    fixture's claim entries (not its features, training or evaluation), which saves a minute of bootstraps
    already checked by the serial build (issue 25: CI time): a claim is looked up by its evidence's digest,
    so had Ray's metrics differed in any value its model claims would be computed afresh and compared below."""
    if backend == "ray":
        pytest.importorskip("ray")
        smoke = request.getfixturevalue("smoke")
        shutil.copytree(smoke["root"] / "cache" / "claims", tmp_path / "cache" / "claims")
    out = tmp_path / "out"
    env = {"BUBBLELENS_CACHE": str(tmp_path / "cache"), "SOURCE_DATE_EPOCH": SOURCE_DATE_EPOCH}
    run_cli("build", "--profile", "smoke", "--out", str(out), "--device", "cpu", "--executor", backend, env=env,
            check=True)
    smoke = request.getfixturevalue("smoke")
    assert (out / "results" / "claims.json").read_bytes() == (smoke["out"] / "results" / "claims.json").read_bytes()
    assert _untimed_metrics(out) == _untimed_metrics(smoke["out"])
    stages = json.loads((out / "manifest.json").read_text())["stages"]
    assert [(s["stage"], s["key"]) for s in stages] == [(s["stage"], s["key"]) for s in smoke["manifest"]["stages"]]
    trained = [s for s in stages if s["stage"] == "train"]
    assert trained and all(s["status"] == "computed" and s["ran_on"] for s in trained)


def test_claims_check_labels_smoke_and_names_what_quick_cannot_decide(smoke):
    ok = run_cli("claims", "check", "--profile", "smoke", "--out", str(smoke["out"]), "--json")
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["sizes_from"].startswith("the smoke build")
    assert any(c["status"] == "cannot be decided at smoke size" for c in report["claims"])
    assert all(c["operating"]["unavailable"].startswith("not simulated") for c in report["claims"])
    quick = run_cli("claims", "check", "--profile", "quick", "--out", str(smoke["out"]), "--json")
    claims = json.loads(quick.stdout)["claims"]
    # at quick sizes every claim carries its verdict probabilities, or says why none could be simulated
    assert all(c["operating"]["scenarios"] or c["operating"]["unavailable"] for c in claims)
    market = [c for c in claims if c["claim"] == "disillusionment-after-peak"][0]["operating"]
    assert [s["name"] for s in market["scenarios"]] == ["as measured", "mirrored"]
    settled = [c["claim"] for c in claims if c["unreachable"]]
    # exit 3 exactly when some claim cannot reach a verdict, and the error names each such claim
    assert quick.returncode == (3 if settled else 0)
    assert all(cid in quick.stderr for cid in settled) and "Traceback" not in quick.stderr
