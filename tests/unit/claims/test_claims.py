"""Claims registry: each statistic reaches each verdict on synthetic evidence; the registry rejects bad
entries with messages naming file, claim and field; a changed CSV value flips a verdict end to end.

Closed forms used as references: Clopper-Pearson bounds for k = 0 and k = n ((alpha/2)^(1/n)), the Welch
interval written out from its textbook formula, and exact recovery of a noise-free quadratic.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from bubblelens.core.resources import DATA_DIR
from bubblelens.claims.engine import evaluate_claim, evaluate_claims
from bubblelens.claims.kinds import INCONCLUSIVE, NOT_SUPPORTED, REQUIRED, SUPPORTED, Evidence, register_kind
from bubblelens.claims.registry import ClaimSpec, load_registry, market_series_ids
from bubblelens.claims.statistics import KINDS
from bubblelens.core.errors import DataError
from bubblelens.market.load import Market, Series, SeriesMeta, load_market

RUN_COLS = ["model", "dataset", "variant", "seed", "metric", "value"]


# ------------------------------------------------------------------------------------ builders
def runs(*groups: tuple[str, str, str, str, list[float]]) -> pd.DataFrame:
    """(model, dataset, variant, metric, values per seed) -> the long runs frame."""
    rows = [(m, d, v, s, met, float(x)) for m, d, v, met, xs in groups for s, x in enumerate(xs)]
    return pd.DataFrame(rows, columns=RUN_COLS)


def fake_series(sid: str, dates, values, direction="up", transform="", labels=None, texts=None,
                category="hype") -> Series:
    dates = pd.to_datetime(list(dates))
    vals = np.asarray([np.nan if v is None else v for v in values], dtype=float)
    frame = pd.DataFrame({"date": dates, "value": vals,
                          "value_text": texts or [str(v) for v in values], "unit": "count",
                          "source_id": "src", "note": "", "label": labels or [""] * len(dates),
                          "bound": [""] * len(dates)})
    meta = SeriesMeta(series_id=sid, title=sid, description="", unit="count", frequency="irregular",
                      category=category, reliability="high", direction=direction, classification_note="",
                      file=f"market/{sid}.csv", transform=transform)
    return Series(meta, frame)


def evidence(runs_df=None, sweep=None, series=(), profile="quick") -> Evidence:
    market = Market(series={s.meta.series_id: s for s in series}, sources={}, data_dir=Path("."))
    return Evidence(runs=runs_df if runs_df is not None else pd.DataFrame(columns=RUN_COLS),
                    sweep=sweep if sweep is not None else pd.DataFrame(), market=market, profile=profile)


def spec(statistic: str, category="models", **params) -> ClaimSpec:
    kind = KINDS[statistic]
    full = {k: params.get(k, default) for k, default in kind.defaults.items()}
    return ClaimSpec("test-claim", "a statement", category, statistic, full, "rule",
                     {v: f"reading {v}" for v in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE)}, ("fid",), ())


def monthly(n: int, start="2020-01-31") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="ME")


def growing(sid: str, factor: float, n=12, direction="up", wiggle=0.05) -> Series:
    """Monthly series growing `factor` per year with a deterministic wiggle (so fits have residuals)."""
    t = np.arange(n) / 12.0
    vals = np.exp(np.log(factor) * t + wiggle * np.sin(np.arange(n) * 2.1))
    if direction == "down":
        vals = 1.0 / vals
    return fake_series(sid, monthly(n), vals, direction=direction)


# ------------------------------------------------------------------------------------ model kinds
MODES = dict(checks=[{"model": "mlp_gan", "dataset": "ring8", "variant": "vanilla", "metric": "modes",
                      "max": 8}], threshold=0.2)


@pytest.mark.parametrize("values, verdict", [
    ([5] * 10, SUPPORTED), ([8] * 20, NOT_SUPPORTED), ([8] * 9 + [7], INCONCLUSIVE), ([5, 5], INCONCLUSIVE)])
def test_share_of_runs_failing_verdicts(values, verdict):
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", values),
                       ("mlp_gan", "ring8", "pacgan", "modes", [0] * 30)))   # other variant: ignored
    r = evaluate_claim(spec("share_of_runs_failing", **MODES), ev)
    assert r.verdict == verdict
    if len(values) < 3:
        assert r.reason == "too few runs (n=2 < 3)"


def test_share_of_runs_failing_says_which_checked_groups_had_no_runs():
    both = dict(MODES, checks=MODES["checks"] + [{"model": "mlp_gan", "dataset": "grid25", "variant": "vanilla",
                                                   "metric": "modes", "max": 25}])
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [8] * 20)))
    r = evaluate_claim(spec("share_of_runs_failing", **both), ev)
    assert r.verdict == NOT_SUPPORTED and "no mlp_gan grid25 vanilla runs in this build" in r.reason
    with_grid = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [8] * 20),
                              ("mlp_gan", "grid25", "vanilla", "modes", [25] * 3)))
    assert "no mlp_gan" not in evaluate_claim(spec("share_of_runs_failing", **both), with_grid).reason


def test_share_of_runs_failing_matches_closed_form_bounds():
    ev = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [3] * 10)))
    r = evaluate_claim(spec("share_of_runs_failing", **MODES), ev)
    assert r.effect == 1.0 and r.n == 10
    assert r.ci[0] == pytest.approx(0.025 ** (1 / 10), abs=1e-9) and r.ci[1] == 1.0
    ev0 = evidence(runs(("mlp_gan", "ring8", "vanilla", "modes", [8] * 20)))
    r0 = evaluate_claim(spec("share_of_runs_failing", **MODES), ev0)
    assert r0.ci[1] == pytest.approx(1 - 0.025 ** (1 / 20), abs=1e-9)
    assert r0.p_value == pytest.approx(1.0)


BLUR = dict(metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0, compare_model="dcgan")
DCGAN_SHARP = ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [0.95, 1.02, 0.98, 1.05])


@pytest.mark.parametrize("vae, verdict", [
    ([0.38, 0.40, 0.42, 0.39, 0.41], SUPPORTED), ([1.30, 1.35, 1.28, 1.32], NOT_SUPPORTED),
    ([0.5, 1.3, 0.9], INCONCLUSIVE), ([0.4], INCONCLUSIVE)])
def test_mean_below_verdicts(vae, verdict):
    ev = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", vae), DCGAN_SHARP))
    r = evaluate_claim(spec("mean_below", **BLUR), ev)
    assert r.verdict == verdict
    if len(vae) == 1:
        assert r.reason == "too few seeds (n=1 < 3)"


def test_mean_below_welch_interval_matches_textbook_formula():
    a, b = np.array([0.38, 0.40, 0.42, 0.39, 0.41]), np.array(DCGAN_SHARP[4])
    ev = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", list(a)), DCGAN_SHARP))
    r = evaluate_claim(spec("mean_below", **BLUR), ev)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    half = sps.t.ppf(0.975, df) * math.sqrt(va + vb)
    d = a.mean() - b.mean()
    assert r.details["difference_ci"] == pytest.approx([d - half, d + half], rel=1e-10)
    assert r.effect == pytest.approx(a.mean())
    assert r.ci == pytest.approx(sps.t.interval(0.95, a.size - 1, a.mean(), a.std(ddof=1) / math.sqrt(a.size)))


@pytest.mark.parametrize("fids, verdict", [
    ([20, 30, 25, 40, 22, 35], SUPPORTED), ([30.0, 30.1, 29.9, 30.05, 29.95, 30.02], NOT_SUPPORTED),
    ([20, 30, 25], INCONCLUSIVE)])
def test_seed_cv_verdicts(fids, verdict):
    ev = evidence(runs(("dcgan", "fashion_mnist", "reference", "fid", fids)))
    r = evaluate_claim(spec("seed_cv", metric="fid", model="dcgan", dataset="fashion_mnist", threshold=0.05,
                            reps=500), ev)
    assert r.verdict == verdict
    f = np.asarray(fids, float)
    assert r.effect == pytest.approx(f.std(ddof=1) / f.mean()) if len(fids) >= 5 else r.effect is None
    if len(fids) < 5:
        assert r.reason == "too few seeds (n=3 < 5)"


def sweep_frame(fid_of_x, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Snapshots at 1/16 ... 1 of a run, per seed: 5 compute levels spanning 16x; fid_of_x(x, seed)."""
    rows = [("dcgan", 0.25, 12 * 2.0 ** (x - 4), s, 1e12 * 2.0 ** x, fid_of_x(float(x), s))
            for s in seeds for x in range(5)]
    return pd.DataFrame(rows, columns=["model", "width", "epochs", "seed", "flops_total", "fid"])


@pytest.mark.parametrize("fid_of_x, verdict", [
    (lambda x, s: 20 + 60 * math.exp(-(1.0 + 0.1 * s) * x), SUPPORTED),          # saturating: gains shrink
    (lambda x, s: 100 - (2 + 0.2 * s) * x ** 2, NOT_SUPPORTED),                  # accelerating gains
    (lambda x, s: 100 - 10 * x + (3 if (x + s) % 2 else -3), INCONCLUSIVE)])     # straight, with noise
def test_compute_returns_verdicts(fid_of_x, verdict):
    r = evaluate_claim(spec("compute_returns", "compute", model="dcgan"), evidence(sweep=sweep_frame(fid_of_x),
                                                                                   profile="full"))
    assert r.verdict == verdict
    assert r.indicative is False and r.ci[0] < r.ci[1]


def test_compute_returns_recovers_an_exact_saturating_law_and_needs_a_sweep():
    ks = {0: 0.6, 1: 0.8, 2: 1.0}
    r = evaluate_claim(spec("compute_returns", "compute", model="dcgan"),
                       evidence(sweep=sweep_frame(lambda x, s: 15 + 50 * math.exp(-ks[s] * x)), profile="full"))
    for row in r.details["series"]:
        assert row["k"] == pytest.approx(ks[row["seed"]], abs=1e-4)
        assert row["floor"] == pytest.approx(15, abs=1e-3) and row["amplitude"] == pytest.approx(50, abs=1e-3)
        assert row["ratio"] == pytest.approx(math.exp(-ks[row["seed"]] * 3), rel=1e-3)    # x_max - 1 = 3
    assert r.effect == pytest.approx(math.exp(np.mean([-3 * k for k in ks.values()])), rel=1e-3)
    r = evaluate_claim(spec("compute_returns", "compute", model="dcgan"), evidence(profile="quick"))
    assert r.verdict == INCONCLUSIVE and "no compute sweep" in r.reason and r.indicative is True


# ------------------------------------------------------------------------------------ registry
GOOD = """
[[claim]]
id = "vae-blurrier"
category = "models"
statement = "VAE samples are blurrier."
metrics = ["laplacian_ratio"]
statistic = "mean_below"
decision_rule = "supported when the {level:.0%} interval lies below {bound}"
declared = 2026-11-29
known_when_declared = "written before any run"
revisions = []
[claim.params]
metric = "laplacian_ratio"
model = "vae"
dataset = "fashion_mnist"
bound = 1
[claim.reading]
supported = "s"
not_supported = "n"
inconclusive = "i"
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "market").mkdir(exist_ok=True)
    (tmp_path / "market" / "mmlu_sota.csv").write_text("date,value,unit,source_id,note\n")
    path = tmp_path / "claims.toml"
    path.write_text(text)
    return path


def test_registry_good_entry_fills_rule_and_defaults(tmp_path):
    (s,) = load_registry(write(tmp_path, GOOD), KINDS)
    assert s.decision_rule == "supported when the 95% interval lies below 1.0"
    assert s.params["min_n"] == 3 and s.params["bound"] == 1.0 and s.readings[NOT_SUPPORTED] == "n"


@pytest.mark.parametrize("old, new, field, words", [
    ('statement = "VAE samples are blurrier."\n', "", "statement", "missing"),
    ('statistic = "mean_below"', 'statistic = "mean_belwo"', "statistic", "unknown statistic 'mean_belwo'"),
    ('metrics = ["laplacian_ratio"]', 'metrics = ["laplacian_ratio"]\nseries = ["mmlu_sotaa"]', "series",
     "unknown series id 'mmlu_sotaa'"),
    ('metrics = ["laplacian_ratio"]', 'metrics = ["blur"]', "metrics", "unknown metric 'blur'"),
    ('bound = 1', 'bound = "one"', "params.bound", "must be float, got 'one'"),
    ('bound = 1', 'bound = true', "params.bound", "must be float, got True"),
    ('bound = 1', 'bound = 1\nmin_n = 3.0', "params.min_n", "must be int, got 3.0"),
    ('bound = 1', 'bound = 1\npaired = 1', "params.paired", "must be bool, got 1"),
    ('bound = 1', 'bound = 1\nthreshold = 2', "params.threshold", "unknown parameter of 'mean_below'; valid: metric, "),
    ('model = "vae"\n', "", "params.model", "missing; statistic 'mean_below' requires it"),
    ('metric = "laplacian_ratio"', 'metric = "fid"', "params.metric",
     "'fid' is not declared in the claim's 'metrics' list"),
    ("{bound}", "{bund}", "decision_rule", "placeholder"),
    ('inconclusive = "i"', "", "reading.inconclusive", "missing"),
    ('category = "models"', 'category = "vibes"', "category", "'vibes' is not one of"),
])
def test_registry_errors_name_file_claim_and_field(tmp_path, old, new, field, words):
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(DataError) as exc:
        load_registry(path, KINDS)
    msg = str(exc.value)
    assert str(path) in msg and "claim 'vae-blurrier'" in msg and f"field '{field}'" in msg and words in msg


def test_registry_reports_one_sentence_for_the_first_fault(tmp_path):
    """Several faults in a claim's params: one message, on the first parameter in the kind's order."""
    text = GOOD.replace('bound = 1', 'bound = "one"\nmin_n = 2.5\nextra = 1')
    with pytest.raises(DataError) as exc:
        load_registry(write(tmp_path, text), KINDS)
    assert str(exc.value).endswith("claim 'vae-blurrier': field 'params.bound': must be float, got 'one'")


def test_a_kind_is_registered_once_and_whole():
    kind = KINDS["mean_below"]
    with pytest.raises(ValueError, match="'mean_below' is registered twice"):
        register_kind("mean_below", kind.params, kind.statistic, probe=kind.probe, alternatives=kind.alternatives)
    with pytest.raises(TypeError, match="params must be a Params model"):
        register_kind("new_kind", dict, kind.statistic, probe=kind.probe, alternatives=None)
    assert "new_kind" not in KINDS and KINDS["mean_below"] is kind
    assert kind.defaults["min_n"] == 3 and kind.defaults["bound"] is REQUIRED and kind.context_params == ()
    assert KINDS["explosive_window"].context_params == ("yardstick_window",)


def test_registry_checks_table_entries(tmp_path):
    text = GOOD.replace('statistic = "mean_below"', 'statistic = "share_of_runs_failing"').replace(
        'decision_rule = "supported when the {level:.0%} interval lies below {bound}"', 'decision_rule = "r"')
    text = text.replace('metric = "laplacian_ratio"\nmodel = "vae"\ndataset = "fashion_mnist"\nbound = 1',
                        'checks = [{ model = "vae", dataset = "ring8", metric = "laplacian_ratio" }]\nthreshold = 0.2')
    with pytest.raises(DataError, match=r"field 'params.checks': entry 1 lacks max"):
        load_registry(write(tmp_path, text), KINDS)


def test_registry_rejects_duplicate_ids_and_bad_toml(tmp_path):
    with pytest.raises(DataError, match="duplicate id"):
        load_registry(write(tmp_path, GOOD + GOOD), KINDS)
    with pytest.raises(DataError, match="unknown top-level key"):
        load_registry(write(tmp_path, "claims = 1\n" + GOOD), KINDS)
    with pytest.raises(DataError, match="not valid TOML"):
        load_registry(write(tmp_path, GOOD + "[[claim"), KINDS)


def test_shipped_registry_is_valid_and_covers_every_statistic():
    specs = load_registry(DATA_DIR / "claims.toml", KINDS)
    assert len(specs) >= 8
    assert {s.statistic for s in specs} == set(KINDS)
    assert {s.category for s in specs} == {"models", "compute", "market"}
    assert all("{" not in s.decision_rule for s in specs)
    assert market_series_ids(DATA_DIR) >= {i for s in specs for i in s.series}


# ------------------------------------------------------------------------------------ engine
def test_no_evidence_gives_inconclusive_with_a_reason_for_every_shipped_claim():
    # Missing data is weak evidence, never a crash: every statistic says so through `Insufficient`. (A
    # statistic that raises anything else fails the build naming the claim: test_claim_failures.py.)
    empty = evidence(profile="smoke")
    results = [evaluate_claim(s, empty) for s in load_registry(DATA_DIR / "claims.toml", KINDS)]
    assert all(r.verdict == INCONCLUSIVE and r.reason for r in results)
    assert [r.indicative for r in results] == [r.category != "market" for r in results]
    json.dumps([r.to_json() for r in results], allow_nan=False)


DISILLUSION = """
[[claim]]
id = "disillusionment-after-peak"
category = "market"
statement = "Abandonment rose between two post-peak survey waves."
series = ["sp_global_ai_initiative_abandonment", "survey_sample_sizes", "gartner_hype_cycle_genai"]
statistic = "proportion_change"
decision_rule = "supported when Newcombe's {level:.0%} interval lies above 0 (an unknown n taken as {assumed_min_n})"
declared = 2026-11-29
known_when_declared = "written after the survey waves were known"
revisions = []
[claim.params]
signal = "sp_global_ai_initiative_abandonment"
sizes = "survey_sample_sizes"
waves = [{ when = "2024", size_label = "" }, { when = "2025", size_label = "spglobal_vote_aiml_2025" }]
assumed_min_n = 100
phase_series = "gartner_hype_cycle_genai"
peak_phase = "peak_of_inflated_expectations"
[claim.reading]
supported = "rose"
not_supported = "fell"
inconclusive = "cannot tell"
"""


def test_changed_csv_value_flips_the_verdict(tmp_path):
    shutil.copytree(DATA_DIR / "market", tmp_path / "market")
    registry = tmp_path / "claims.toml"
    registry.write_text(DISILLUSION)
    csv = tmp_path / "market" / "sp_global_ai_initiative_abandonment.csv"
    text = csv.read_text()

    def verdict() -> tuple[str, str]:
        ev = Evidence(pd.DataFrame(columns=RUN_COLS), pd.DataFrame(), load_market(tmp_path), "smoke")
        (r,) = evaluate_claims(registry, ev)
        assert r.details["waves"][1]["n"] == 1006 and r.details["both_after_peak"] is True
        return r.verdict, r.reading

    assert verdict() == (SUPPORTED, "rose")                       # 17 % (n taken as 100) -> 42 % (n = 1006)
    assert text.count(",42,") == 1
    csv.write_text(text.replace(",42,", ",17,"))                  # an analyst corrects the 2025 value
    assert verdict() == (INCONCLUSIVE, "cannot tell")
    csv.write_text(text.replace(",42,", ",5,"))
    assert verdict() == (NOT_SUPPORTED, "fell")


def test_mean_below_paired_compares_seed_by_seed():
    # DCGAN varies a lot between seeds, but on every seed it is sharper than the VAE by about 0.5
    ev = evidence(runs(("vae", "fashion_mnist", "reference", "laplacian_ratio", [0.2, 0.5, 0.8]),
                       ("dcgan", "fashion_mnist", "reference", "laplacian_ratio", [0.72, 0.98, 1.31])))
    p = dict(metric="laplacian_ratio", model="vae", dataset="fashion_mnist", bound=1.0, compare_model="dcgan")
    welch = evaluate_claim(spec("mean_below", **p), ev)
    paired = evaluate_claim(spec("mean_below", **p, paired=True), ev)
    assert welch.details["difference_ci"][1] > 0 and paired.details["difference_ci"][1] < 0
    d = np.array([0.2 - 0.72, 0.5 - 0.98, 0.8 - 1.31])
    half = sps.t.ppf(0.975, 2) * d.std(ddof=1) / math.sqrt(3)
    assert paired.details["difference_ci"] == pytest.approx([d.mean() - half, d.mean() + half])
    assert paired.details["per_seed_difference"] == pytest.approx({str(i): v for i, v in enumerate(d)})
