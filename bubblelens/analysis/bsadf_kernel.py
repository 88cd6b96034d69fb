"""The compiled inner loop of `explosive_bootstrap.bsadf_at_ends`: BSADF at chosen window ends, every
replicate of a batch in one pass (numba).

Why compiled: the sieve wild bootstrap asks for BSADF at ~40 ends of 499 replicates of series ~1,860 long,
39 times in a hype-explosive claim (its observed tests and reachability probes): 32 of the claim's 34 s in
a smoke build. NumPy did each window's sums, centring and sweep as ~150 whole-array operations on
(16, ~1,800) temporaries per end, bound by memory traffic (10 s a test at lag 6). Here the same arithmetic
runs in registers, one window start at a time, with the replicates in the innermost, contiguous loop so
that LLVM vectorises across them: 4.2x (lag 0) to 5.8x (lag 6) on these machines
(benchmarks/bsadf_kernel.py). fastmath stays off: no reassociation, so the result does not depend on what
the compiler chose to vectorise. `cache=True` keeps the compiled code beside this file (__pycache__), so
only the first process on a machine pays the ~1.5 s compilation.

The arithmetic (all windows [a, e] of regression rows with at least min_window rows; row r is observation
r + lag + 2, 1-based): raw sums and cross-products of (Δy_{t-1}, ..., Δy_{t-lag}, y_{t-1}, Δy_t) are
accumulated as the start a moves back from e; centring removes the constant; sweeping the lagged
differences (Frisch-Waugh) leaves the partial cross-products of y_{t-1} and Δy_t, whose ADF t-ratio uses
the error variance SSR / (rows - lag - 2), as `timeseries.radf`. y_{t-1} is shifted by its value at the
end row e, which lies inside every window ending there, so centring never subtracts large, nearly equal
numbers. t * |t| (monotone in t, no square root) is maximised over starts; a NaN wins, as in np.max.
"""
from __future__ import annotations

import numba
import numpy as np


def _compiled(fn):
    """numba's njit with IEEE division (0/0 is NaN, as in NumPy), its compiled code kept on disk. numba looks
    for a writable cache location as it decorates; where there is none (a read-only install, no usable
    home directory) it raises RuntimeError, and the kernel is compiled in each process instead (1.5 s)."""
    try:
        return numba.njit(cache=True, error_model="numpy")(fn)
    except RuntimeError:
        return numba.njit(cache=False, error_model="numpy")(fn)


@_compiled
def bsadf_columns(y_t: np.ndarray, min_window: int, lag: int, end_rows: np.ndarray) -> np.ndarray:
    """BSADF (len(end_rows), R) of the R series in the columns of y_t (T, R), for 0-based end rows."""
    t_len, reps = y_t.shape
    m = lag + 2                                               # lagged differences, y_{t-1}, Δy_t
    dy = np.empty((t_len - 1, reps))                          # dy[i] = Δy at observation i + 2
    for i in range(t_len - 1):
        for b in range(reps):
            dy[i, b] = y_t[i + 1, b] - y_t[i, b]
    v = np.empty((m, reps))                                   # one regression row's variables
    s = np.empty((m, reps))                                   # sums over the window
    ss = np.empty((m, m, reps))                               # cross-products over the window (upper)
    c = np.empty((m, m, reps))                                # centred, then swept
    best = np.empty(reps)
    piv = np.empty(reps)
    f = np.empty(reps)
    out = np.empty((end_rows.size, reps))
    for k in range(end_rows.size):
        e = end_rows[k]
        s[:] = 0.0
        ss[:] = 0.0
        best[:] = -np.inf
        for a in range(e, -1, -1):                            # window [a, e], one row longer each step
            for j in range(lag):
                for b in range(reps):
                    v[j, b] = dy[lag - 1 - j + a, b]
            for b in range(reps):
                v[m - 2, b] = y_t[lag + a, b] - y_t[lag + e, b]
                v[m - 1, b] = dy[lag + a, b]
            for i in range(m):
                for b in range(reps):
                    s[i, b] += v[i, b]
                for j in range(i, m):
                    for b in range(reps):
                        ss[i, j, b] += v[i, b] * v[j, b]
            rows = e - a + 1
            if rows < min_window:
                continue
            inv_rows = 1.0 / rows
            dof = rows - lag - 2
            for i in range(m):
                for j in range(i, m):
                    for b in range(reps):
                        c[i, j, b] = ss[i, j, b] - s[i, b] * (s[j, b] * inv_rows)
            for p in range(lag):                              # sweep out lagged difference p
                for b in range(reps):
                    piv[b] = 1.0 / c[p, p, b]
                for i in range(p + 1, m):
                    for b in range(reps):
                        f[b] = c[p, i, b] * piv[b]
                    for j in range(i, m):
                        for b in range(reps):
                            c[i, j, b] -= f[b] * c[p, j, b]
            for b in range(reps):
                sxx, sxy, syy = c[m - 2, m - 2, b], c[m - 2, m - 1, b], c[m - 1, m - 1, b]
                q = sxy * abs(sxy) * dof / (sxx * syy - sxy * sxy)   # t * |t|
                if q > best[b] or q != q:
                    best[b] = q
        for b in range(reps):
            out[k, b] = np.sign(best[b]) * np.sqrt(abs(best[b]))
    return out
