"""Numba kernels for the p-median local search and Lagrangian (internal).

The pairs arrive sorted by (point, time) as in :class:`~eldercare_coverage.siting.median.MedianData`;
``start`` holds each point's first pair (length n_points + 1). Each kernel is one pass over the
pairs: numpy needs a gather, a temporary and a ``bincount`` for the same work, which made the
subgradient steps the heuristic's bottleneck (3 ms a step on 250,000 pairs).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def reduced_costs(R, C, wD, lam, n_opt):
    """ρ_i = Σ_j min(0, w_j t_ij − λ_j) per option."""
    rho = np.zeros(n_opt)
    for k in range(len(R)):
        v = wD[k] - lam[C[k]]
        if v < 0.0:
            rho[R[k]] += v
    return rho


@numba.njit(cache=True, nogil=True)
def subgradient(R, C, wD, lam, y, w):
    """1 − (open options with a negative reduced cost for point j), 0 for zero-weight points."""
    g = np.ones(len(w))
    for k in range(len(R)):
        if y[R[k]] and wD[k] < lam[C[k]]:
            g[C[k]] -= 1.0
    for j in range(len(w)):
        if w[j] <= 0.0:
            g[j] = 0.0
    return g


@numba.njit(cache=True, nogil=True)
def two_nearest(R, D, start, is_open, pen):
    """Per point: nearest open option (−1 where none), its time and the second-nearest time,
    both capped at ``pen``; a point's scan stops at its second open option."""
    n = len(start) - 1
    f1 = np.full(n, -1, dtype=np.int64)
    d1 = np.full(n, pen)
    d2 = np.full(n, pen)
    for j in range(n):
        found = 0
        for k in range(start[j], start[j + 1]):
            if is_open[R[k]]:
                if found == 0:
                    f1[j] = R[k]
                    d1[j] = min(D[k], pen)
                    found = 1
                else:
                    d2[j] = min(D[k], pen)
                    break
    return f1, d1, d2
