"""FID, KID and PRDC against reference implementations and closed forms (tolerances stated per test)."""
from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import torch
from prdc import compute_prdc
from scipy import linalg

from bubblelens.evaluation import quality, names
from bubblelens.evaluation.quality import _knn_radii_mixed, knn_sq_radii


def _ref_prdc(real: np.ndarray, fake: np.ndarray, k: int) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        return {key: float(v) for key, v in compute_prdc(real, fake, k).items()}


def _ref_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's route: scipy.linalg.sqrtm of the covariance product."""
    m1, m2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def _gauss_fid(m1, s1, m2, s2) -> float:
    """Closed-form Frechet distance between N(m1, s1) and N(m2, s2)."""
    root = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * root))


@pytest.fixture(scope="module")
def feats():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((800, 16))
    fake = 1.2 * rng.standard_normal((700, 16)) + 0.3
    return real, fake


# ---- PRDC ----

@pytest.mark.parametrize("k", [1, 3, 5])
def test_prdc_matches_reference_package(feats, k):
    real, fake = feats
    ours, ref = quality.prdc(real, fake, k=k), _ref_prdc(real, fake, k)
    for key in (names.KEY_PRECISION, names.KEY_RECALL, names.KEY_DENSITY, names.KEY_COVERAGE):
        assert ours[key] == pytest.approx(ref[key], abs=1e-12), key
    assert 0 < ours[names.KEY_PRECISION] < 1  # a non-trivial case, not all-or-nothing


def test_prdc_matches_reference_on_structured_features():
    """Clustered features with unequal spreads, torch float32 input (cast to float64 inside)."""
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((6, 8)) * 4
    real = centres[rng.integers(0, 6, 600)] + rng.standard_normal((600, 8))
    fake = centres[rng.integers(0, 3, 500)] + 0.5 * rng.standard_normal((500, 8))
    ours = quality.prdc(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    ref = _ref_prdc(real, fake, 5)
    assert ours == pytest.approx(ref, abs=1e-12)


@pytest.mark.parametrize("mixed", [True, False])
def test_prdc_lattice_ties_match_exact_arithmetic(mixed):
    """Integer coordinates: many distances tie exactly with radii, and float64 Gram products are exact, so
    the reference computes strict < exactly; our rounding guard and float32 filter must agree on every tie."""
    rng = np.random.default_rng(12)
    real = rng.integers(0, 10, (400, 3)).astype(np.float64)
    fake = rng.integers(0, 10, (300, 3)).astype(np.float64)
    for k in (3, 5):
        assert quality.prdc(real, fake, k=k, mixed=mixed) == pytest.approx(_ref_prdc(real, fake, k), abs=1e-12)


def test_prdc_mixed_equals_float64(feats):
    real, fake = feats
    assert quality.prdc(real, fake, k=5, mixed=True) == quality.prdc(real, fake, k=5, mixed=False)


def test_prdc_blocks_equal_unblocked(feats):
    real, fake = feats
    whole = quality.prdc(real, fake, k=4, block_elems=10**9)
    tiny = quality.prdc(real, fake, k=4, block_elems=7)      # 1 row per block
    small = quality.prdc(real, fake, k=4, block_elems=5000)  # several rows, ragged last block
    plain = quality.prdc(real, fake, k=4, block_elems=5000, mixed=False)
    assert whole == tiny == small == plain


def test_knn_radii_match_brute_force():
    x = torch.from_numpy(np.random.default_rng(2).standard_normal((50, 3)))
    brute = torch.cdist(x, x).sort(dim=1).values[:, 3] ** 2      # 3rd nearest other point
    assert torch.allclose(knn_sq_radii(x, 3, block_elems=11), brute, rtol=1e-10)
    assert torch.allclose(_knn_radii_mixed(x, 3, block_elems=11), brute, rtol=1e-12)


def test_prdc_identical_sets():
    x = np.random.default_rng(3).standard_normal((300, 5))
    res = quality.prdc(x, x, k=5)
    assert res[names.KEY_PRECISION] == res[names.KEY_RECALL] == res[names.KEY_COVERAGE] == 1.0
    # exact arithmetic: each real ball strictly holds itself and k - 1 others (the k-th is on the boundary)
    assert res[names.KEY_DENSITY] == 1.0
    assert res == pytest.approx(_ref_prdc(x, x, 5), abs=1e-12)
    # a copy (not the same object) of the set, in float32, shuffled: ties still resolved the same way
    y = torch.from_numpy(x[::-1].copy()).float()
    assert quality.prdc(y, y.clone(), k=5) == pytest.approx({k: 1.0 for k in res}, abs=1e-12)


def test_prdc_duplicated_real_points_have_empty_balls():
    """Every point twice and k = 1: the nearest other point is the copy, radius 0, ball empty (strict <)."""
    x = np.random.default_rng(11).standard_normal((100, 4))
    doubled = np.vstack([x, x])
    res = quality.prdc(doubled, x, k=1)
    assert res[names.KEY_PRECISION] == 0.0 and res[names.KEY_DENSITY] == 0.0 and res[names.KEY_COVERAGE] == 0.0
    assert res[names.KEY_RECALL] == 1.0     # fake balls (distinct points) hold their real copies
    assert quality.prdc(doubled, x, k=2)[names.KEY_PRECISION] == 1.0


def test_prdc_total_collapse_documented_answer():
    """Fakes all copies of one real point: fake radii are 0, so recall is 0 (strict <); precision 1."""
    real = np.random.default_rng(4).standard_normal((200, 5)) * 10.0 + 3.0
    fake = np.repeat(real[:1], 50, axis=0)
    res = quality.prdc(real, fake, k=5)
    assert res[names.KEY_RECALL] == 0.0
    assert res[names.KEY_PRECISION] == 1.0
    # coverage: real points whose k-NN ball (exact distances) contains the single distinct fake point
    d = torch.cdist(torch.from_numpy(real), torch.from_numpy(real))
    radii = d.sort(dim=1).values[:, 5]
    assert res[names.KEY_COVERAGE] == pytest.approx(float((d[:, 0] < radii).double().mean()), abs=1e-12)
    assert res[names.KEY_DENSITY] == pytest.approx(float((d[:, 0] < radii).sum()) / 5, abs=1e-12)


# ---- FID ----

def test_fid_matches_scipy_sqrtm(feats):
    real, fake = feats
    fake = fake[:800] if len(fake) >= 800 else np.vstack([fake, fake[:100] + 0.01])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # equal n: no bias warning
        ours = quality.fid(real, fake)
    assert ours == pytest.approx(_ref_fid(real, fake), rel=1e-8)


def test_fid_nonsymmetric_product():
    """Non-commuting covariances make S1 S2 non-symmetric; eigvalsh would be wrong here."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((1000, 3)) @ np.array([[3, 0, 0], [1, 1, 0], [0, 2, 0.5]])
    b = rng.standard_normal((1000, 3)) @ np.array([[0.5, 1, 0], [0, 2, 1], [1, 0, 1]])
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    assert not np.allclose(s1 @ s2, (s1 @ s2).T)
    assert quality.fid(a, b) == pytest.approx(_ref_fid(a, b), rel=1e-8)


def test_fid_self_is_zero(feats):
    real, _ = feats
    assert quality.fid(real, real) == pytest.approx(0.0, abs=1e-9)


def test_fid_approaches_gaussian_closed_form():
    """Mean of 10 estimates at n = 2000 in D = 2 (sd of one estimate ~0.1, of the mean ~0.03, bias ~1e-3),
    against a closed-form distance of 1.80: 5 % is ~3 sd."""
    rng = np.random.default_rng(6)
    m1, m2 = np.zeros(2), np.array([1.0, -0.5])
    s1 = np.array([[2.0, 0.5], [0.5, 1.0]])
    s2 = np.array([[1.0, -0.3], [-0.3, 0.5]])
    est = [quality.fid(rng.multivariate_normal(m1, s1, 2000), rng.multivariate_normal(m2, s2, 2000))
           for _ in range(10)]
    expected = _gauss_fid(m1, s1, m2, s2)
    assert np.mean(est) == pytest.approx(expected, rel=0.05)


def test_fid_warns_on_unequal_n(feats):
    real, fake = feats
    with pytest.warns(UserWarning, match="unequal sizes"):
        quality.fid(real, fake)


def test_fid_singular_covariance_is_finite():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((10, 32))   # N < D: rank-deficient covariance
    b = rng.standard_normal((10, 32))
    assert np.isfinite(quality.fid(a, b))


# ---- KID ----

def _ref_kid(real, fake, subsets, m, seed):
    """Plain numpy loop of the unbiased MMD^2 with the cubic kernel, same subset draws."""
    rng = np.random.default_rng(seed)
    d = real.shape[1]
    vals = []
    for _ in range(subsets):
        x = real[rng.choice(len(real), m, replace=False)]
        y = fake[rng.choice(len(fake), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        vals.append((kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(np.mean(vals)), float(np.std(vals))


def test_kid_matches_reference_loop(feats):
    real, fake = feats
    ours = quality.kid(real, fake, subsets=7, subset_size=200, seed=3)
    assert ours == pytest.approx(_ref_kid(real, fake, 7, 200, 3), rel=1e-10)


def test_kid_unbiased_near_zero_same_distribution():
    rng = np.random.default_rng(8)
    a, b = rng.standard_normal((1500, 8)), rng.standard_normal((1500, 8))
    mean, std = quality.kid(a, b, subsets=20, subset_size=500)
    far_mean, _ = quality.kid(a, b + 0.5, subsets=20, subset_size=500)
    assert abs(mean) < 3 * std          # unbiased: centred on 0 within the subset spread
    assert far_mean > 10 * std          # and it does detect a shift


def test_kid_reduces_subset_size_with_warning(feats):
    real, fake = feats
    with pytest.warns(UserWarning, match="reduced from 1000 to 700"):
        quality.kid(real, fake, subsets=2, subset_size=1000)


# ---- bad input ----

@pytest.mark.parametrize("fn", [quality.fid, lambda a, b: quality.kid(a, b, subsets=2), quality.prdc])
def test_bad_input_raises(fn):
    good = np.random.default_rng(9).standard_normal((20, 4))
    nan = good.copy()
    nan[3, 1] = np.nan
    inf = good.copy()
    inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        fn(good, nan)
    with pytest.raises(ValueError, match="NaN or infinite"):
        fn(inf, good)
    with pytest.raises(ValueError, match="empty"):
        fn(good, good[:0])
    with pytest.raises(ValueError, match="mismatched feature dimensions"):
        fn(good, good[:, :3])
    with pytest.raises(ValueError, match="2-D"):
        fn(good[:, 0], good)


def test_prdc_too_few_samples():
    x = np.random.default_rng(10).standard_normal((5, 3))
    with pytest.raises(ValueError, match="needs >= 6 samples"):
        quality.prdc(x, x, k=5)
