"""Failure-mode metrics: PacGAN mode coverage, class coverage, blur/spectrum, active units, memorisation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from bubblelens.evaluation import failures, names
from bubblelens.datasets.mixtures import mixture_spec, sample_mixture

N = 2000


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_true_samples_cover_all_modes_at_expected_quality(name):
    """True samples: P(high quality) = P(chi2_2 < 9) = 1 - e^-4.5; 4 binomial sd at n = 2000 is 0.0094."""
    means, std = mixture_spec(name)
    res = failures.mode_coverage(sample_mixture(name, N, np.random.default_rng(0)), means, std)
    p = failures.TRUE_HIGH_QUALITY
    assert p == pytest.approx(0.98889, abs=1e-5)
    assert res[names.KEY_MODES] == len(means)
    assert abs(res[names.KEY_HIGH_QUALITY] - p) < 4 * math.sqrt(p * (1 - p) / N)
    # multinomial noise only: KL of N draws over K balanced bins is ~ (K-1)/(2N)
    assert res[names.KEY_MODE_KL] < 5 * (len(means) - 1) / (2 * N)
    assert res["kl"] == res[names.KEY_MODE_KL]


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_collapsed_samples_cover_one_mode(name):
    means, std = mixture_spec(name)
    rng = np.random.default_rng(1)
    collapsed = means[3] + std * rng.standard_normal((N, 2))
    res = failures.mode_coverage(collapsed, means, std)
    assert res[names.KEY_MODES] == 1
    assert res[names.KEY_MODE_KL] == pytest.approx(math.log(len(means)), rel=1e-12)


def test_samples_between_modes_are_low_quality():
    means, std = mixture_spec("ring8")
    res = failures.mode_coverage(np.zeros((100, 2)), means, std)   # the ring's centre is 100 std from every mode
    assert res[names.KEY_HIGH_QUALITY] == 0.0 and res[names.KEY_MODES] == 0
    assert math.isnan(res[names.KEY_MODE_KL])


def test_mode_coverage_bad_input():
    means, std = mixture_spec("ring8")
    with pytest.raises(ValueError, match="mismatched feature dimensions"):
        failures.mode_coverage(np.zeros((10, 3)), means, std)
    with pytest.raises(ValueError, match="std"):
        failures.mode_coverage(np.zeros((10, 2)), means, 0.0)


def test_class_coverage():
    uniform = failures.class_coverage(np.repeat(np.arange(10), 30))
    assert uniform[names.KEY_CLASSES_COVERED] == 10 and uniform[names.KEY_CLASS_KL] == pytest.approx(0, abs=1e-12)
    one = failures.class_coverage(np.full(50, 7))
    assert one[names.KEY_CLASSES_COVERED] == 1
    assert one[names.KEY_CLASS_KL] == pytest.approx(math.log(10))
    assert one["histogram"][7] == 50
    half = failures.class_coverage(np.array([0, 1] * 10))     # two classes equally: KL = log(10/2)
    assert half[names.KEY_CLASS_KL] == pytest.approx(math.log(5))
    assert uniform[names.KEY_MIN_CLASS_SHARE] == 1.0 and half[names.KEY_MIN_CLASS_SHARE] == 0.0
    # 100 samples, class 3 made 4 times (a fair share is 10): 4 * 10 / 100 = 0.4 of its share
    skewed = failures.class_coverage(np.array([3] * 4 + [c for c in range(10) if c != 3] * 10 + [0] * 6))
    assert skewed[names.KEY_MIN_CLASS_SHARE] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="outside"):
        failures.class_coverage(np.array([0, 10]))
    with pytest.raises(ValueError, match="non-empty"):
        failures.class_coverage(np.array([], dtype=np.int64))


def _textures(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, 28, 28)) * 255).astype(np.uint8)


def test_blur_is_detected():
    real = _textures(64, 0)
    blurred = ndimage.gaussian_filter(real.astype(np.float64), sigma=(0, 1.5, 1.5)).round().astype(np.uint8)
    same = failures.blur_report(real, real)
    assert same[names.KEY_LAPLACIAN_RATIO] == pytest.approx(1.0) and same[names.KEY_HF_RATIO] == pytest.approx(1.0)
    rep = failures.blur_report(real, blurred)
    assert rep[names.KEY_LAPLACIAN_RATIO] < 0.2
    assert rep[names.KEY_HF_RATIO] < 0.2
    with pytest.raises(ValueError, match="both be uint8"):
        failures.blur_report(real, real.astype(np.float32) / 127.5 - 1)


def test_laplacian_matches_explicit_stencil():
    img = np.random.default_rng(2).random((3, 28, 28))
    pad = np.pad(img, ((0, 0), (1, 1), (1, 1)), mode="symmetric")   # scipy "reflect" = edge-repeating
    lap = pad[:, :-2, 1:-1] + pad[:, 2:, 1:-1] + pad[:, 1:-1, :-2] + pad[:, 1:-1, 2:] - 4 * img
    assert np.allclose(failures.laplacian_variance(img), lap.reshape(3, -1).var(axis=1), rtol=1e-12)


def test_spectrum_peaks_at_the_cosine_frequency():
    yy, xx = np.indices((28, 28))
    img = np.cos(2 * np.pi * 5 * xx / 28)[None]                # 5 cycles across: power at radius 5
    spec = failures.spectrum(img)
    assert len(spec) == 15
    assert int(np.argmax(spec)) == 5
    constant = failures.spectrum(np.ones((2, 28, 28)))
    assert constant[0] > 0 and np.allclose(constant[1:], 0)
    assert failures.high_freq_share(np.cos(2 * np.pi * 12 * xx / 28)[None]) == pytest.approx(1.0)
    assert failures.high_freq_share(img) == pytest.approx(0.0, abs=1e-12)


def test_active_units_on_synthetic_latents():
    rng = np.random.default_rng(3)
    mu = rng.standard_normal((1000, 8)) * np.array([1.0, 0.5, 0.2, 0.01, 0.01, 0.001, 0.0, 0.3])
    res = failures.active_units(mu)
    assert res[names.KEY_ACTIVE_UNITS] == 4        # variances 1, 0.25, 0.04, 0.09 exceed 0.01; 1e-4 do not
    assert res["n_dims"] == 8 and len(res["variances"]) == 8
    assert res["variances"][0] == pytest.approx(1.0, rel=0.1)
    assert failures.active_units(mu, threshold=1e-5)[names.KEY_ACTIVE_UNITS] == 6
    with pytest.raises(ValueError, match="NaN"):
        failures.active_units(np.full((4, 2), np.nan))


def test_memorisation_detects_copies_and_not_fresh_samples():
    rng = np.random.default_rng(4)
    train, held = rng.standard_normal((1000, 6)), rng.standard_normal((800, 6))
    copies = train[:300] + 1e-3 * rng.standard_normal((300, 6))
    fresh = rng.standard_normal((300, 6))
    mem = failures.memorisation(copies, train, held)
    new = failures.memorisation(fresh, train, held)
    assert mem[names.KEY_MEMORISATION_RATIO] < 0.05
    assert mem["n_reference"] == 800
    assert 0.8 < new[names.KEY_MEMORISATION_RATIO] < 1.25   # no preference: median ratio near 1
    assert 0.35 < new["frac_closer_to_train"] < 0.65
    with pytest.warns(UserWarning, match="exact copies"):
        exact = failures.memorisation(train[:10], train[:100], held[:100])   # equal sizes: no subsampling
    assert exact["exact_copies"] == 10 and exact[names.KEY_MEMORISATION_RATIO] == 0.0


def test_compute_to_target_from_checkpoints():
    from bubblelens.datasets.mixtures import sample_mixture
    from bubblelens.evaluation.units import target_metrics

    rng = np.random.default_rng(0)
    true = sample_mixture("ring8", 1000, rng)
    noise = rng.normal(0, 5, (1000, 2))
    reached = target_metrics(np.stack([noise, true, true]), [100, 200, 300], 300, 1e6, "ring8")
    assert reached == {names.KEY_TARGET_STEP: 200.0, names.KEY_REACHED_TARGET: 1.0, names.KEY_FLOPS_TO_TARGET: 2e8,
                       names.KEY_CHECKPOINT_EVERY: 100.0, names.KEY_FLOPS_PER_STEP: 1e6}
    censored = target_metrics(np.stack([noise, noise]), [100, 200], 200, 1e6, "ring8")
    assert censored[names.KEY_REACHED_TARGET] == 0.0 and censored[names.KEY_TARGET_STEP] == 200.0
    # a member stopped at step 150 (its failure monitor) while the ensemble trained on: later checkpoints
    # do not count, so it is censored at its last checkpoint before the stop
    stopped = target_metrics(np.stack([noise, true]), [100, 200], 150, 1e6, "ring8")
    assert stopped[names.KEY_REACHED_TARGET] == 0.0 and stopped[names.KEY_TARGET_STEP] == 100.0
    assert target_metrics(None, [], 0, 1e6, "ring8") == {}
