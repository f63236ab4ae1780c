"""Lagrangian bound for the capacitated p-median: relax "each point is assigned once".

With multipliers λ_j on the assignment rows, the problem splits by option: option i, if open,
takes the points that pay most, K_i(λ) = min Σ_j (w_j t_ij − λ_j) x_ij subject to
Σ_j s_j x_ij ≤ Q_i — a 0-1 knapsack with single sourcing, a fractional one without — and
L(λ) = Σ_j λ_j + Σ_{always open} K_i + (sum of the p smallest K_i among the others) is a lower
bound for every λ (Beasley 1993, EJOR 65:383–399; Lorena & Senne 2004, C&OR 31:863–876). The
integer knapsacks make it stronger than the LP relaxation the MILP starts from, which is what
lets reduced-cost fixing close options before the MILP runs: forcing option i in (out)
raises L by K_i − K_(p) (K_(p+1) − K_i), so an option whose forced bound exceeds the incumbent
opens in no better solution.

The 0-1 knapsacks are solved exactly by dynamic programming over the capacity when sizes and
capacities are integers and the capacity is at most ``DP_MAX_CAP``; otherwise by the
fractional (LP) knapsack, still a valid bound. Points no option reaches within the stored pairs
pay ``pen`` (λ_j ≤ w_j · pen).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numba
import numpy as np

from .median import fix_by_reduced_costs, round_up
from .problem import SitingProblem

#: Largest integer capacity solved by dynamic programming.
DP_MAX_CAP = 20_000
#: Largest DP table (points × (capacity + 1)) per knapsack: beyond it the fractional knapsack
#: (still a valid bound) keeps a step within memory and time at city scale.
DP_MAX_CELLS = 4_000_000


@dataclass
class CapacityLagrange:
    bound: float  # best L(λ) (rounded up with integer data)
    closed: np.ndarray  # bool per option: open in no solution better than the incumbent
    iterations: int
    exact_knapsacks: bool  # 0-1 knapsacks by DP (else fractional)
    site_sets: list  # distinct relaxed open sets (bool per option) met as the bound rose, latest first
    raw_bound: float = -np.inf
    K: np.ndarray | None = None  # knapsack values at the best λ
    fixed: np.ndarray | None = None
    integral: bool = False
    p: int = 0

    def closed_for(self, upper: float) -> np.ndarray:
        """The options reduced-cost fixing closes against a (better) incumbent ``upper``."""
        return _closed(self.fixed, self.integral, self.raw_bound, self.K, self.p, upper)


@dataclass
class _Data:
    R: np.ndarray  # option per pair, pairs grouped by option
    C: np.ndarray  # point per pair
    wt: np.ndarray  # w_j · t_ij per pair
    start: np.ndarray  # first pair of each option (n_opt + 1)
    size: np.ndarray  # per point
    cap: np.ndarray  # per option (inf = unlimited)
    w: np.ndarray
    pen: float
    fixed: np.ndarray
    integral: bool  # integer costs: bounds round up
    dp: bool


def _data(problem: SitingProblem, single_source: bool) -> _Data:
    o = problem.options
    T = o.times.tocoo()
    w = problem.weights.astype(float)
    size = problem.size.astype(float)
    keep = (w[T.col] > 0) | (size[T.col] > 0)
    R, C, D = T.row[keep].astype(np.int64), T.col[keep].astype(np.int64), T.data[keep].astype(float)
    order = np.lexsort((C, R))
    R, C, D = R[order], C[order], D[order]
    pen = 2.0 * float(D.max(initial=0.0))
    cap = o.capacity.astype(float)
    fin = np.isfinite(cap)
    dp = bool(single_source and np.all(size == np.round(size)) and np.all(size >= 0) and len(w) * (
              float(cap[fin].max(initial=0)) + 1) <= DP_MAX_CELLS
              and np.all(cap[fin] == np.round(cap[fin])) and float(cap[fin].max(initial=0)) <= DP_MAX_CAP)
    # whole objective values only when each point goes wholly to one site (split shares are fractions)
    integral = bool(single_source and np.all(w == np.round(w)) and np.all(D == np.round(D)))
    return _Data(R, C, w[C] * D, np.searchsorted(R, np.arange(o.n + 1)), size, cap, w, pen,
                 o.fixed.copy(), integral, dp)


@numba.njit(cache=True, nogil=True)
def _knapsacks(start, C, wt, lam, size, cap, dp_mode):
    """Per option: K_i (≤ 0) and the chosen share x per pair (0/1, or fractional)."""
    n_opt = len(start) - 1
    K = np.zeros(n_opt)
    x = np.zeros(len(C))
    for i in range(n_opt):
        a, b = start[i], start[i + 1]
        # items with a negative reduced cost
        m = 0
        for k in range(a, b):
            if wt[k] - lam[C[k]] < 0.0:
                m += 1
        if m == 0:
            continue
        items = np.empty(m, np.int64)
        m = 0
        for k in range(a, b):
            if wt[k] - lam[C[k]] < 0.0:
                items[m] = k
                m += 1
        tot = 0.0
        for t in range(m):
            tot += size[C[items[t]]]
        if not np.isfinite(cap[i]) or tot <= cap[i]:
            for t in range(m):
                k = items[t]
                K[i] += wt[k] - lam[C[k]]
                x[k] = 1.0
            continue
        if dp_mode:
            Q = int(cap[i])
            best = np.zeros(Q + 1)
            take = np.zeros((m, Q + 1), np.bool_)
            for t in range(m):
                k = items[t]
                s = int(size[C[k]])
                v = lam[C[k]] - wt[k]
                for q in range(Q, s - 1, -1):
                    if best[q - s] + v > best[q]:
                        best[q] = best[q - s] + v
                        take[t, q] = True
            q = Q
            for t in range(m - 1, -1, -1):
                if take[t, q]:
                    k = items[t]
                    x[k] = 1.0
                    q -= int(size[C[k]])
            K[i] = -best[Q]
        else:
            # fractional knapsack: best profit per unit of size first
            ratio = np.empty(m)
            for t in range(m):
                k = items[t]
                s = size[C[k]]
                ratio[t] = (lam[C[k]] - wt[k]) / s if s > 0 else np.inf
            order = np.argsort(-ratio)
            room = cap[i]
            for t in order:
                k = items[t]
                s = size[C[k]]
                v = lam[C[k]] - wt[k]
                if s <= room:
                    x[k] = 1.0
                    room -= s
                    K[i] -= v
                else:
                    f = room / s
                    x[k] = f
                    K[i] -= v * f
                    break
    return K, x


def _value(d: _Data, lam: np.ndarray, p: int):
    K, x = _knapsacks(d.start, d.C, d.wt, lam, d.size, d.cap, d.dp)
    free = np.flatnonzero(~d.fixed)
    k = min(p, len(free))
    top = free[np.argpartition(K[free], k - 1)[:k]] if k else free[:0]
    y = d.fixed.copy()
    y[top] = True
    # a point no option reaches pays pen: the unserved share u_j takes min(0, w_j pen − λ_j) = 0 as λ ≤ w pen
    val = float(lam.sum() + K[d.fixed].sum() + K[top].sum())
    return val, K, x, y


def capacity_lagrange(problem: SitingProblem, p: int, upper: float, *, single_source: bool,
                      time_budget_s: float = 5.0, max_iter: int = 2000) -> CapacityLagrange:
    """Subgradient ascent on L(λ) for the capacitated p-median with ``p`` new sites, aiming at
    the incumbent value ``upper``; returns the bound and the options it proves closed."""
    t0 = time.perf_counter()
    d = _data(problem, single_source)
    n_pts = len(d.w)
    lam_cap = d.w * d.pen
    # start: each point's cheapest stored pair (the uncapacitated assignment)
    first = np.full(n_pts, np.inf)
    np.minimum.at(first, d.C, d.wt)
    lam = np.minimum(np.where(np.isfinite(first), first, lam_cap), lam_cap)
    best_v, best_K = -np.inf, None
    mu, stall, it = 2.0, 0, 0
    pos = (d.w > 0) | (d.size > 0)
    sets: dict[bytes, np.ndarray] = {}
    for it in range(max_iter):
        val, K, x, y = _value(d, lam, p)
        if best_K is None or val > best_v + 1e-9 * max(1.0, abs(best_v)):
            best_v, best_K, stall = val, K, 0
            sets.pop(y.tobytes(), None)
            sets[y.tobytes()] = y  # re-inserted: dict order puts the latest last
        else:
            stall += 1
            if stall >= 20:
                mu, stall = mu / 2, 0
        if round_up(best_v, d.integral) >= upper - 1e-9 * max(1.0, abs(upper)) or mu < 1e-4 \
                or time.perf_counter() - t0 > time_budget_s:
            break
        served = np.bincount(d.C, weights=x * y[d.R], minlength=n_pts)
        g = np.where(pos, 1.0 - served, 0.0)
        g[(lam >= lam_cap) & (g > 0)] = 0.0
        gg = float(g @ g)
        if gg == 0:
            break
        lam = np.clip(lam + mu * (upper - val) / gg * g, 0.0, lam_cap)
    closed = _closed(d.fixed, d.integral, best_v, best_K, p, upper)
    return CapacityLagrange(round_up(best_v, d.integral), closed, it + 1, d.dp, list(sets.values())[::-1], best_v, best_K,
                            d.fixed, d.integral, p)


def _closed(fixed: np.ndarray, integral: bool, bound: float, K: np.ndarray | None, p: int,
            upper: float) -> np.ndarray:
    if K is None:
        return np.zeros(len(fixed), bool)
    return fix_by_reduced_costs(fixed, K, bound, p, upper, integral)[0]
