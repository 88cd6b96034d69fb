"""Monte Carlo critical values for the explosive-root tests (ADF, SADF, GSADF, BSADF sequences).

Null model: a driftless Gaussian random walk y_t = y_{t-1} + e_t, e_t ~ N(0, 1), as exuber simulates
(PSY 2015 add a drift d T^-eta; `drift` lets you do that, default 0). The statistics are invariant to the
level and scale of y, so neither y_0 nor the variance matters. Quantiles use numpy's default "linear"
method, which is R's quantile type 7.

Two BSADF critical-value sequences are kept, both per observation t:
- "psy": the null quantile of BSADF_t itself (PSY 2015, the date-stamping rule of the paper);
- "exuber": the null quantile of max_{s<=t} BADF_s, the running maximum of the forward-recursive ADF
  (what exuber stores in radf_crit; it ends at the SADF critical value).

P-values: a table can also carry its null draws (ADF, SADF, GSADF per replication) and the null BSADF
values of the last TAIL_OBS observations, so that a test gives a Monte Carlo p-value
(1 + #{null >= observed}) / (R + 1) (Davison & Hinkley 1997, eq. 4.11), e.g. for Holm corrections,
rather than only "above the 95 % value or not". `CriticalValues.window_p_value` does the same for the
sup of BSADF over a window of trailing observations (its null is the sup of the same window's null
BSADF values, replication by replication).

Tables that the smoke and quick profiles need are shipped in data/critical_values/ (CSV + JSON
metadata, plus `<stem>_draws.csv` and `<stem>_tail.csv` for DRAWS_N); regenerate them with
`python -m bubblelens.analysis.critical_values --out data/critical_values`.
`load_or_compute_critical_values` returns a shipped table when its parameters match and simulates
(and memoises in-process) otherwise.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bubblelens.core.resources import DATA_DIR
from bubblelens import __version__
from bubblelens.core.io import atomic_write_text
from bubblelens.analysis.timeseries import RadfResult, adf_engine, default_min_window

log = logging.getLogger(__name__)

LEVELS = (0.90, 0.95, 0.99)
LEVEL_COLUMNS = ("cv90", "cv95", "cv99")
DEFAULT_REPS = 2000
DEFAULT_SEED = 123
DEFAULT_DRIFT = 0.0
BATCH = 16                       # replications per engine call: small batches stay in cache (fastest)
SHIPPED_DIR = DATA_DIR / "critical_values"
SHIPPED_SMALL_N = tuple(range(24, 61))
# The S&P 500 P/D sample of PSY (2015), 1871-2010, which the report re-tests as a check of the engine, then
# short monthly series. (The valuation claim's longer ratios are tested against a bootstrap of their own
# changes, analysis/explosive_bootstrap.py, so no random-walk table of their length is shipped.)
SHIPPED_N = (1680,) + SHIPPED_SMALL_N
DRAWS_N = (38, 47, 1680)         # tables that ship null draws and BSADF tails (Monte Carlo p-values)
TAIL_OBS = 60                    # trailing observations whose null BSADF values are kept (window p-values)
DRAWS_SUFFIX, TAIL_SUFFIX = "_draws", "_tail"

STAT_ADF, STAT_SADF, STAT_GSADF = "adf", "sadf", "gsadf"
SEQ_PSY, SEQ_EXUBER = "bsadf", "bsadf_cummax_badf"
METHODS = {"psy": SEQ_PSY, "exuber": SEQ_EXUBER}


@dataclass(frozen=True, eq=False)
class CriticalValues:
    """Null quantiles at LEVELS for one (n, min_window, lag) set-up.

    adf/sadf/gsadf: (3,) one per level. bsadf (PSY) and bsadf_cummax_badf (exuber): (m, 3) with
    m = n - lag - min_window, row i for the window ending at observation obs[i] (1-based), aligned with
    `RadfResult.bsadf`.

    Optional null draws (None for tables shipped without them): `draws` maps 'adf', 'sadf', 'gsadf' to
    (reps,) arrays; `bsadf_tail` (reps, K) holds the null BSADF of the last K = min(m, TAIL_OBS)
    windows, i.e. of observations obs[-K:].
    """

    n: int
    min_window: int
    lag: int
    reps: int
    seed: int
    drift: float
    adf: np.ndarray
    sadf: np.ndarray
    gsadf: np.ndarray
    bsadf: np.ndarray
    bsadf_cummax_badf: np.ndarray
    obs: np.ndarray
    source: str = "computed"
    draws: dict[str, np.ndarray] | None = None
    bsadf_tail: np.ndarray | None = None

    @property
    def tail_obs(self) -> np.ndarray:
        """1-based observations covered by `bsadf_tail` (empty when there is none)."""
        k = 0 if self.bsadf_tail is None else self.bsadf_tail.shape[1]
        return self.obs[len(self.obs) - k:]

    def p_value(self, stat: str, observed: float) -> float:
        """Monte Carlo p-value (1 + #{draws >= observed}) / (reps + 1) of a scalar statistic ('adf', 'sadf',
        'gsadf'), as in Davison & Hinkley (1997, eq. 4.11): never 0, exact in size for a statistic that is
        exchangeable with the null draws. ValueError if this table has no draws."""
        if stat not in (STAT_ADF, STAT_SADF, STAT_GSADF):
            raise ValueError(f"unknown statistic '{stat}'")
        if self.draws is None:
            raise ValueError(f"critical values ({self.source}) carry no null draws; use "
                             "load_or_compute_critical_values(..., need_draws=True)")
        return _mc_p_value(self.draws[stat], observed)

    def window_p_value(self, result: RadfResult, first_obs: int, last_obs: int) -> tuple[float, float]:
        """(observed, p) for sup BSADF over the windows ending at 1-based observations first_obs..last_obs
        of `result` (aligned as `sequence_for`). The null is, per replication, the max of `bsadf_tail`
        over the same observations; p = (1 + #{null >= observed}) / (reps + 1). ValueError when the
        table is for another (n, min_window, lag), has no tail, or the window is not inside its tail."""
        self._check_matches(result)
        if self.bsadf_tail is None:
            raise ValueError(f"critical values ({self.source}) carry no null BSADF tail; use "
                             "load_or_compute_critical_values(..., need_draws=True)")
        first, last = int(first_obs), int(last_obs)
        tail = self.tail_obs
        if first > last:
            raise ValueError(f"window_p_value: first_obs={first} is after last_obs={last}")
        if first < tail[0] or last > tail[-1]:
            raise ValueError(f"window {first}..{last} is not inside the shipped null tail: observations "
                             f"{tail[0]}..{tail[-1]} (the last {len(tail)} of n={self.n}) only")
        sel = (np.asarray(result.obs) >= first) & (np.asarray(result.obs) <= last)
        observed = float(np.max(np.asarray(result.bsadf)[sel]))
        null = self.bsadf_tail[:, first - tail[0]:last - tail[0] + 1].max(axis=1)
        return observed, _mc_p_value(null, observed)

    def _check_matches(self, result: RadfResult) -> None:
        if (self.n, self.min_window, self.lag) != (result.n, result.min_window, result.lag):
            raise ValueError(f"critical values are for n={self.n}, min_window={self.min_window}, lag={self.lag}; "
                             f"the result has n={result.n}, min_window={result.min_window}, lag={result.lag}")

    def value(self, stat: str, level: float = 0.95) -> float:
        """Critical value of a scalar statistic ('adf', 'sadf', 'gsadf') at a level in LEVELS."""
        if stat not in (STAT_ADF, STAT_SADF, STAT_GSADF):
            raise ValueError(f"unknown statistic '{stat}'")
        return float(getattr(self, stat)[_level_col(level)])

    def sequence(self, level: float = 0.95, method: str = "psy") -> np.ndarray:
        """BSADF critical-value sequence (m,) at `level`: method 'psy' or 'exuber' (see module doc)."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {sorted(METHODS)}, got '{method}'")
        return getattr(self, METHODS[method])[:, _level_col(level)]

    def sequence_for(self, result: RadfResult, level: float = 0.95, method: str = "psy") -> np.ndarray:
        """`sequence` for date-stamping `result`; ValueError when these values were simulated for another
        n, min_window or lag. method="psy": the null quantile of BSADF_t (PSY 2015); "exuber": the quantile
        of the running maximum of BADF (exuber's stored sequence)."""
        self._check_matches(result)
        return self.sequence(level, method)

    def metadata(self, with_draws: bool = True) -> dict:
        """JSON metadata; `tail_obs` (K, the number of trailing observations in `<stem>_tail.csv`) only when
        the draws are written with the table."""
        meta = {"n": self.n, "min_window": self.min_window, "lag": self.lag, "reps": self.reps,
                "seed": self.seed, "drift": self.drift, "levels": list(LEVELS),
                "null": "Gaussian random walk y_t = y_{t-1} + drift + e_t, e_t ~ N(0,1)",
                "quantile_method": "numpy linear (R type 7)", "bubblelens_version": __version__}
        if with_draws and self.bsadf_tail is not None:
            meta["tail_obs"] = int(self.bsadf_tail.shape[1])
        return meta


def _mc_p_value(null: np.ndarray, observed: float) -> float:
    observed = float(observed)
    if not np.isfinite(observed):
        raise ValueError(f"observed statistic must be finite, got {observed}")
    return (1 + int(np.count_nonzero(null >= observed))) / (len(null) + 1)


def _level_col(level: float) -> int:
    for i, lv in enumerate(LEVELS):
        if abs(level - lv) < 1e-9:
            return i
    raise ValueError(f"level must be one of {LEVELS}, got {level}")


def simulate_statistics(n: int, min_window: int, lag: int, reps: int, seed: int,
                        drift: float = DEFAULT_DRIFT) -> dict[str, np.ndarray]:
    """Null draws: adf, sadf, gsadf (reps,) and bsadf, cummax_badf (reps, m).

    All innovations come from one `default_rng(seed)` draw of shape (reps, n), so results do not depend
    on the batch size.
    """
    rng = np.random.default_rng(seed)
    y = np.cumsum(rng.standard_normal((reps, n)) + drift, axis=1)   # (reps, n)
    badf = np.empty((reps, n - lag - min_window))
    bsadf = np.empty_like(badf)
    for lo in range(0, reps, BATCH):
        badf[lo:lo + BATCH], bsadf[lo:lo + BATCH] = adf_engine(y[lo:lo + BATCH], min_window, lag)
    cummax = np.maximum.accumulate(badf, axis=1)
    return {STAT_ADF: badf[:, -1], STAT_SADF: cummax[:, -1], STAT_GSADF: bsadf.max(axis=1),
            SEQ_PSY: bsadf, SEQ_EXUBER: cummax}


def critical_values(n: int, min_window: int | None = None, lag: int = 0, reps: int = DEFAULT_REPS,
                    seed: int = DEFAULT_SEED, *, drift: float = DEFAULT_DRIFT) -> CriticalValues:
    """Simulate critical values (always computes; see `load_or_compute_critical_values` for the cache)."""
    minw = default_min_window(n) if min_window is None else int(min_window)
    t0 = time.perf_counter()
    draws = simulate_statistics(n, minw, lag, reps, seed, drift)
    q = {k: np.quantile(v, LEVELS, axis=0).T for k, v in draws.items()}   # scalars (3,), sequences (m, 3)
    # Drift-matched nulls (one per series and per reachability scenario) take a fraction of a second each:
    # only a simulation long enough to notice is worth a line of the build's log.
    elapsed = time.perf_counter() - t0
    log.log(logging.INFO if elapsed > 1.0 else logging.DEBUG, "simulated critical values n=%d minw=%d lag=%d "
            "reps=%d drift=%.3g: %.1f s", n, minw, lag, reps, drift, elapsed)
    k = min(draws[SEQ_PSY].shape[1], TAIL_OBS)
    return CriticalValues(n=n, min_window=minw, lag=lag, reps=reps, seed=seed, drift=float(drift),
                          adf=q[STAT_ADF], sadf=q[STAT_SADF], gsadf=q[STAT_GSADF], bsadf=q[SEQ_PSY],
                          bsadf_cummax_badf=q[SEQ_EXUBER], obs=np.arange(minw + lag + 1, n + 1),
                          draws={s: draws[s].copy() for s in (STAT_ADF, STAT_SADF, STAT_GSADF)},
                          bsadf_tail=draws[SEQ_PSY][:, draws[SEQ_PSY].shape[1] - k:].copy())


# ------------------------------------------------------------------------------------------ files
def table_stem(n: int, min_window: int, lag: int, reps: int, seed: int, drift: float = DEFAULT_DRIFT) -> str:
    return f"cv_n{n}_minw{min_window}_lag{lag}_reps{reps}_seed{seed}_drift{drift:g}"


def save_table(cv: CriticalValues, out_dir: Path, with_draws: bool = True) -> Path:
    """Write `<stem>.csv` (stat, obs_index, cv90, cv95, cv99; full float precision) and `<stem>.json`; with
    draws (when `cv` has them and with_draws), also `<stem>_draws.csv` (rep, adf, sadf, gsadf; %.10g) and
    `<stem>_tail.csv` (rep, then obs<k> for each tail observation k; %.7g). Returns the main CSV's path."""
    rows = [(s, "", *getattr(cv, s)) for s in (STAT_ADF, STAT_SADF, STAT_GSADF)]
    for seq in (SEQ_PSY, SEQ_EXUBER):
        rows += [(seq, int(o), *vals) for o, vals in zip(cv.obs, getattr(cv, seq))]
    frame = pd.DataFrame(rows, columns=["stat", "obs_index", *LEVEL_COLUMNS])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = table_stem(cv.n, cv.min_window, cv.lag, cv.reps, cv.seed, cv.drift)
    atomic_write_text(out_dir / f"{stem}.csv", frame.to_csv(index=False, float_format="%.17g"))
    with_draws = with_draws and cv.draws is not None and cv.bsadf_tail is not None
    if with_draws:
        reps = pd.RangeIndex(1, cv.reps + 1, name="rep")
        d = pd.DataFrame({s: cv.draws[s] for s in (STAT_ADF, STAT_SADF, STAT_GSADF)}, index=reps)
        atomic_write_text(out_dir / f"{stem}{DRAWS_SUFFIX}.csv", d.to_csv(float_format="%.10g"))
        t = pd.DataFrame(cv.bsadf_tail, index=reps, columns=[f"obs{int(k)}" for k in cv.tail_obs])
        atomic_write_text(out_dir / f"{stem}{TAIL_SUFFIX}.csv", t.to_csv(float_format="%.7g"))
    atomic_write_text(out_dir / f"{stem}.json",
                      json.dumps(cv.metadata(with_draws), indent=2, sort_keys=True) + "\n")
    return out_dir / f"{stem}.csv"


def _load_draws(csv_path: Path, meta: dict, obs: np.ndarray
                ) -> tuple[dict[str, np.ndarray] | None, np.ndarray | None]:
    """The draws and tail files beside `csv_path`, checked against the metadata; (None, None) if absent."""
    dpath = csv_path.with_name(f"{csv_path.stem}{DRAWS_SUFFIX}.csv")
    tpath = csv_path.with_name(f"{csv_path.stem}{TAIL_SUFFIX}.csv")
    if not (dpath.is_file() and tpath.is_file()):
        return None, None
    d = pd.read_csv(dpath, index_col="rep")
    t = pd.read_csv(tpath, index_col="rep")
    tail_obs = np.array([int(c.removeprefix("obs")) for c in t.columns], dtype=np.int64)
    k = len(tail_obs)
    if (len(d) != meta["reps"] or len(t) != meta["reps"] or k != meta.get("tail_obs", k)
            or not np.array_equal(tail_obs, obs[len(obs) - k:])):
        raise ValueError(f"{dpath.name} / {tpath.name} do not match {csv_path.name}: expected {meta['reps']} "
                         f"replications and tail columns obs{obs[len(obs) - k]}..obs{obs[-1]}")
    draws = {s: d[s].to_numpy(np.float64) for s in (STAT_ADF, STAT_SADF, STAT_GSADF)}
    return draws, t.to_numpy(np.float64)


def load_table(csv_path: Path) -> CriticalValues:
    """Read a table written by `save_table`; its JSON metadata supplies the parameters. Draws and tail
    are read when both files are there (else None)."""
    csv_path = Path(csv_path)
    meta = json.loads(csv_path.with_suffix(".json").read_text(encoding="utf-8"))
    frame = pd.read_csv(csv_path)
    vals = {s: g[list(LEVEL_COLUMNS)].to_numpy(np.float64) for s, g in frame.groupby("stat", sort=False)}
    seq = frame[frame.stat == SEQ_PSY]
    obs = seq.obs_index.to_numpy(np.int64)
    draws, tail = _load_draws(csv_path, meta, obs)
    return CriticalValues(n=meta["n"], min_window=meta["min_window"], lag=meta["lag"], reps=meta["reps"],
                          seed=meta["seed"], drift=float(meta["drift"]), adf=vals[STAT_ADF][0],
                          sadf=vals[STAT_SADF][0], gsadf=vals[STAT_GSADF][0], bsadf=vals[SEQ_PSY],
                          bsadf_cummax_badf=vals[SEQ_EXUBER], obs=obs,
                          source=f"shipped:{csv_path.name}", draws=draws, bsadf_tail=tail)


@functools.lru_cache(maxsize=64)
def _computed(n: int, minw: int, lag: int, reps: int, seed: int, drift: float) -> CriticalValues:
    return critical_values(n, minw, lag, reps, seed, drift=drift)


def load_or_compute_critical_values(n: int, min_window: int | None = None, lag: int = 0,
                                    reps: int = DEFAULT_REPS, seed: int = DEFAULT_SEED, *,
                                    drift: float = DEFAULT_DRIFT, table_dir: Path | None = None,
                                    need_draws: bool = False) -> CriticalValues:
    """The shipped table when one matches every parameter, else a simulation memoised in-process (which
    always has draws). need_draws: a shipped table without null draws is not enough; simulate instead."""
    minw = default_min_window(n) if min_window is None else int(min_window)
    path = Path(table_dir or SHIPPED_DIR) / f"{table_stem(n, minw, lag, reps, seed, drift)}.csv"
    if path.is_file():
        cv = load_table(path)
        if (cv.n, cv.min_window, cv.lag, cv.reps, cv.seed, cv.drift) != (n, minw, lag, reps, seed, drift):
            log.warning("%s: metadata does not match its name; simulating instead", path)
        elif need_draws and cv.draws is None:
            log.info("%s has no null draws; simulating them", path.name)
        else:
            return cv
    log.debug("no shipped critical values for n=%d minw=%d lag=%d reps=%d seed=%d drift=%.3g; simulating", n, minw,
              lag, reps, seed, drift)
    return _computed(n, minw, lag, reps, seed, float(drift))


def main(argv: list[str] | None = None) -> int:
    """Regenerate shipped tables: `python -m bubblelens.analysis.critical_values --out data/critical_values`."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--out", type=Path, default=SHIPPED_DIR)
    parser.add_argument("--n", type=int, action="append", help="sample sizes (default "
                        f"{', '.join(map(str, SHIPPED_N[:len(SHIPPED_N) - len(SHIPPED_SMALL_N)]))} and "
                        f"{SHIPPED_SMALL_N[0]}..{SHIPPED_SMALL_N[-1]}); repeat the flag for several")
    parser.add_argument("--reps", type=int, default=DEFAULT_REPS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--lag", type=int, default=0)
    parser.add_argument("--draws", action=argparse.BooleanOptionalAction, default=None,
                        help=f"also write <stem>_draws.csv and <stem>_tail.csv (default: only for n in {DRAWS_N})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for n in args.n or SHIPPED_N:
        with_draws = n in DRAWS_N if args.draws is None else args.draws
        path = save_table(critical_values(n, None, args.lag, args.reps, args.seed), args.out, with_draws)
        log.info("wrote %s%s", path, " with draws and tail" if with_draws else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
