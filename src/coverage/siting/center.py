"""Vertex p-center: radius bisection with set-cover feasibility, heuristic and exact.

A radius r is feasible when p new options (plus the existing facilities) can bring every
positive-weight reachable point within r minutes. Feasibility is monotone in r, so both
methods bisect over the distinct stored times:

* heuristic (upper bracket): r is accepted when the greedy set cover at r needs ≤ p options;
* bound (lower bracket): r is rejected when the LP relaxation of the set cover at r needs
  more than p options (then no integer cover with p exists); the smallest radius not rejected
  is a valid lower bound on the optimum;
* exact: only radii strictly inside the bracket need a set-cover MILP (Daskin 1995, ch. 5),
  and it is solved by the iterative relaxation of Contardo, Iori & Kramer (2019, "A scalable
  exact algorithm for the vertex p-center problem", C&OR 103:211–220): on a growing subset of
  the points to cover (:func:`~eldercare_coverage.siting.exact.cover_decision`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .problem import SitingProblem, aggregate_columns, one_per_site_rows


@dataclass
class CenterData:
    need: np.ndarray  # bool per point: positive weight and reachable
    values: np.ndarray  # candidate radii (distinct stored times ≥ the trivial lower bound)
    lower: float  # max over points of the time to their nearest option
    new: np.ndarray  # non-fixed option indices


def center_data(problem: SitingProblem) -> CenterData:
    o = problem.options
    T = o.times.tocsc()
    need = (problem.weights > 0) & problem.coverable
    mins = np.full(problem.n_demand, np.inf)
    has = np.diff(T.indptr) > 0
    if T.nnz:
        mins[has] = np.minimum.reduceat(T.data, T.indptr[:-1][has])
    lower = float(mins[need].max(initial=0.0))
    values = np.unique(o.times.data)
    return CenterData(need, values[values >= lower], lower, np.nonzero(~o.fixed)[0])


def _cover_at(problem: SitingProblem, cd: CenterData, radius: float):
    """(options × points-to-cover 0/1 matrix over new options, or None if some point is unreachable)."""
    o = problem.options
    within = o.times.copy()
    within.data = (within.data <= radius).astype(float)
    within.eliminate_zeros()
    cov_fixed = np.asarray(within[o.fixed].sum(axis=0)).ravel() > 0
    An = within[cd.new]
    todo = cd.need & ~cov_fixed
    if np.any(todo & (np.asarray(An.sum(axis=0)).ravel() == 0)):
        return None
    cols = np.nonzero(todo)[0]
    A, _, _ = aggregate_columns(An[:, cols], np.ones(len(cols)))
    return A.tocsr()


def greedy_cover(A: sp.csr_matrix, site: np.ndarray) -> np.ndarray:
    """Greedy set cover (most uncovered columns first), one option per site, redundant ones dropped."""
    n, m = A.shape
    Ac = A.tocsc()
    gain = np.asarray(A.sum(axis=1)).ravel()
    covered = np.zeros(m, bool)
    blocked = np.zeros(n, bool)
    chosen = []
    while not covered.all():
        g = np.where(blocked, -1.0, gain)
        i = int(np.argmax(g))
        if g[i] <= 0:
            return None
        chosen.append(i)
        blocked |= site == site[i]
        cols = A.indices[A.indptr[i]:A.indptr[i + 1]]
        newc = cols[~covered[cols]]
        covered[newc] = True
        gain -= np.asarray(Ac[:, newc].sum(axis=1)).ravel()
    x = np.zeros(n, bool)
    x[chosen] = True
    for i in chosen[::-1]:
        x[i] = False
        if not ((A.T @ x.astype(float)) > 0).all():
            x[i] = True
    return np.nonzero(x)[0]


def lp_cover_count(A: sp.csr_matrix, site: np.ndarray) -> float:
    """LP relaxation of the min-count set cover (a lower bound on the integer count)."""
    from .exact import run_milp

    n, m = A.shape
    rows = [(A.T.tocsr(), np.ones(m), np.full(m, np.inf))]
    opr = one_per_site_rows(site)
    if opr.shape[0]:
        rows.append((opr, np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
    out = run_milp(np.ones(n), np.zeros(n), np.zeros(n), np.ones(n), rows, None, 0.0)
    return out.fun if out.status == "optimal" else 0.0


def bracket(problem: SitingProblem, cd: CenterData, p: int, deadline: float):
    """(lo index: smallest radius the LP does not reject, hi index and options: smallest radius
    the greedy cover accepts, or None). Both by bisection over ``cd.values``."""
    site = problem.options.site[cd.new]
    lo, hi = 0, len(cd.values) - 1
    A = _cover_at(problem, cd, cd.values[hi])
    best = greedy_cover(A, site) if A is not None else None
    if best is None or len(best) > p:
        return 0, None, None
    a, b = lo, hi
    while a < b and time.perf_counter() < deadline:
        mid = (a + b) // 2
        A = _cover_at(problem, cd, cd.values[mid])
        ch = greedy_cover(A, site) if A is not None else None
        if ch is not None and len(ch) <= p:
            b, best = mid, ch
        else:
            a = mid + 1
    hi = b
    a, b = 0, hi
    while a < b and time.perf_counter() < deadline:
        mid = (a + b) // 2
        A = _cover_at(problem, cd, cd.values[mid])
        if A is None or math.ceil(lp_cover_count(A, site) - 1e-6) > p:
            a = mid + 1
        else:
            b = mid
    return a, hi, cd.new[best]
