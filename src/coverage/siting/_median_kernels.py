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


@numba.njit(cache=True, nogil=True)
def _round_up(v, integral):
    if integral and np.isfinite(v):
        return np.ceil(v - 1e-6 * max(1.0, abs(v)))
    return v


@numba.njit(cache=True, nogil=True)
def ascent(R, C, D, wD, start, w, pen, fixed, free, site, p, lam, cap, mu, stall, best_v, best_lam,
           upper, primal, primal_v, integral, it0, n_iter):
    """``n_iter`` subgradient steps on L(λ) for a pure p limit (see ``median.lagrangian_bound``,
    whose Python loop this is, step for step, without the per-step numpy overhead that made a
    100-point instance spend 0.2 s in 400 steps). Updates ``lam``, ``best_lam`` and ``primal``
    in place; returns ``(code, mu, stall, best_v, upper, primal_v, steps)`` with code 0 (steps
    done), 1 (bound reaches upper), 2 (step size exhausted) or 3 (zero subgradient)."""
    n_opt = len(fixed)
    n_free = len(free)
    k = min(p, n_free)
    y = np.zeros(n_opt, np.bool_)
    seen = np.zeros(site.max() + 1 if len(site) else 1, np.int64)
    rho_free = np.empty(n_free)
    for s in range(n_iter):
        it = it0 + s
        rho = reduced_costs(R, C, wD, lam, n_opt)
        val = 0.0
        for j in range(len(lam)):
            val += lam[j]
        y[:] = fixed
        for i in range(n_opt):
            if fixed[i]:
                val += rho[i]
        for t in range(n_free):
            rho_free[t] = rho[free[t]]
        order = np.argsort(rho_free)
        for t in range(k):
            y[free[order[t]]] = True
            val += rho_free[order[t]]
        improved = (not np.isfinite(best_v)) or val > best_v + 1e-9 * max(1.0, abs(best_v))
        if improved:
            best_v = val
            best_lam[:] = lam
            stall = 0
        else:
            stall += 1
            if stall >= 25:
                mu /= 2.0
                stall = 0
        if improved or it % 5 == 0:
            ok = True
            seen[:] = 0
            for i in range(n_opt):
                if y[i]:
                    seen[site[i]] += 1
                    if seen[site[i]] > 1:
                        ok = False
                        break
            if ok:
                _, d1, _ = two_nearest(R, D, start, y, pen)
                v = 0.0
                for j in range(len(w)):
                    v += w[j] * d1[j]
                if v < primal_v - 1e-9 * max(1.0, abs(v)):
                    primal[:] = y
                    primal_v = v
                    upper = min(upper, v)
        if _round_up(best_v, integral) >= upper - 1e-9 * max(1.0, abs(upper)):
            return 1, mu, stall, best_v, upper, primal_v, s + 1
        if mu < 1e-4:
            return 2, mu, stall, best_v, upper, primal_v, s + 1
        g = subgradient(R, C, wD, lam, y, w)
        gg = 0.0
        for j in range(len(g)):
            if (lam[j] <= 0.0 and g[j] < 0.0) or (lam[j] >= cap[j] and g[j] > 0.0):
                g[j] = 0.0
            gg += g[j] * g[j]
        if gg == 0.0:
            return 3, mu, stall, best_v, upper, primal_v, s + 1
        step = mu * (upper - val) / gg
        for j in range(len(lam)):
            lam[j] = min(max(lam[j] + step * g[j], 0.0), cap[j])
    return 0, mu, stall, best_v, upper, primal_v, n_iter
