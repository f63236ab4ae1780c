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
  the points to cover (:func:`cover_decision`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .median import greedy_add, median_data
from .milp import run_milp
from .problem import SitingProblem, aggregate_columns, one_per_site_rows
from .result import SitingResult, build_result


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


def min_cover_count(A: sp.csr_matrix, site: np.ndarray, p: int, time_limit_s: float | None,
                    start: np.ndarray | None = None):
    """Fewest options (rows of the 0/1 matrix ``A``) covering every column, one per site.

    ``start`` (option indices of any cover, e.g. the greedy one) is HiGHS' first incumbent.
    Returns ``(status, count, bound, chosen_options)``.
    """
    nx, m = A.shape
    if m == 0:
        return "optimal", 0, 0.0, np.zeros(0, int)
    rows = [(A.T.tocsr(), np.ones(m), np.full(m, np.inf))]
    opr = one_per_site_rows(site)
    if opr.shape[0]:
        rows.append((opr, np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
    x0 = None
    if start is not None:
        x0 = np.zeros(nx)
        x0[start] = 1.0
    out = run_milp(np.ones(nx), np.ones(nx), np.zeros(nx), np.ones(nx), rows, time_limit_s, 0.0, x0,
                   highs_options={"mip_heuristic_run_feasibility_jump": False})
    if out.x is None:
        return out.status, math.inf, out.bound, None
    return out.status, int(round(out.fun)), out.bound, np.nonzero(out.x > 0.5)[0]


#: Below this many columns the p-center decision solves the whole set cover at once (on
#: pmed22, 33 and 36 the relaxation was 1.1–2.4× faster than the whole cover, same process).
ROWGEN_MIN_COLUMNS = 100


def cover_decision(A: sp.csr_matrix, site: np.ndarray, p: int,
                   time_limit_s: float | None) -> tuple[str, np.ndarray | None]:
    """Can at most ``p`` options (rows of the 0/1 matrix ``A``, one per site) cover every column?

    The iterative relaxation of Contardo, Iori & Kramer (2019, "A scalable exact algorithm for
    the vertex p-center problem", C&OR 103:211–220): the set cover is solved on a subset S of
    the columns only (first the hardest to cover: fewest options). No cover of S within p
    (HiGHS' optimum or bound above p) decides "no" (S relaxes the full problem); a cover of S that covers
    every column decides "yes"; otherwise the columns it misses join S and it is solved again.
    Returns ``("feasible", chosen options)``, ``("infeasible", None)`` or ``("time_limit", None)``.
    """
    t0 = time.perf_counter()
    nx, m = A.shape
    if m == 0:
        return "feasible", np.zeros(0, int)
    Ac = A.tocsc()
    n_cov = np.diff(Ac.indptr)
    hard = np.argsort(n_cov, kind="stable")  # fewest covering options first
    step = max(50, 2 * p)
    in_S = np.zeros(m, bool)
    in_S[hard[:m if m <= ROWGEN_MIN_COLUMNS else min(m, 4 * step)]] = True
    opr = one_per_site_rows(site)
    options = {"mip_heuristic_run_feasibility_jump": False}
    while True:
        left = None if time_limit_s is None else time_limit_s - (time.perf_counter() - t0)
        if left is not None and left <= 0.01:
            return "time_limit", None
        cols = np.nonzero(in_S)[0]
        rows = [(Ac[:, cols].T.tocsr(), np.ones(len(cols)), np.full(len(cols), np.inf))]
        if opr.shape[0]:
            rows.append((opr, np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
        out = run_milp(np.ones(nx), np.ones(nx), np.zeros(nx), np.ones(nx), rows, left, 0.0, None,
                       highs_options=options)
        if out.status == "infeasible" or (np.isfinite(out.bound) and math.ceil(out.bound - 1e-6) > p):
            return "infeasible", None  # no cover of S within p, so none of every column
        if out.x is None or out.fun > p + 0.5:
            return "time_limit", None
        chosen = np.nonzero(out.x > 0.5)[0]
        x = np.zeros(nx)
        x[chosen] = 1.0
        missed = np.nonzero((Ac.T @ x) < 0.5)[0]
        if not len(missed):
            return "feasible", chosen
        order = missed[np.argsort(n_cov[missed], kind="stable")]
        in_S[order[:step]] = True


def solve_pcenter_exact(problem: SitingProblem, p: int, *, time_limit_s: float | None = 120.0,
                        heuristic_only: bool = False) -> SitingResult:
    """Vertex p-center: least worst travel time over positive-weight, reachable demand.

    Bisection over the distinct stored times, bracketed by :func:`center.bracket` (greedy
    cover above, LP cover bound below); inside the bracket each radius is decided by
    :func:`cover_decision` (the iterative relaxation of Contardo, Iori & Kramer 2019). The objective is unweighted (the worst point
    counts whatever its weight). ``heuristic_only`` stops after the bracket.
    """
    t0 = time.perf_counter()
    cd = center_data(problem)
    method = "heuristic" if heuristic_only else "exact"
    notes = []
    if np.any((problem.weights > 0) & ~problem.coverable):
        notes.append(Text("solver.pcenter_unreachable_left_out"))
    params = {"p": p, "time_limit_s": time_limit_s}
    if not cd.need.any() or len(cd.values) == 0:
        return build_result(problem, "pcenter", method, "optimal", np.zeros(0, int), 0.0, 0.0,
                            time.perf_counter() - t0, params,
                            "no demand point is within reach of any site: nothing to centre on.")
    tl = math.inf if time_limit_s is None else float(time_limit_s)
    lo, hi, best = bracket(problem, cd, p, t0 + (0.5 * tl if not heuristic_only else tl))
    site = problem.options.site[cd.new]
    status = "optimal"
    if hi is None:
        # The greedy cover needs more than p even at the largest radius: ask the MILP there.
        A = _cover_at(problem, cd, cd.values[-1])
        st, cnt, _, ch = (min_cover_count(A, site, p, max(tl - (time.perf_counter() - t0), 0.01))
                          if A is not None and not heuristic_only else ("infeasible", math.inf, math.inf, None))
        if ch is None or cnt > p:
            proven = A is None or st == "optimal"
            return build_result(problem, "pcenter", method, "infeasible" if proven else "time_limit",
                                np.zeros(0, int), float("nan"), float("nan"), time.perf_counter() - t0, params,
                                f"{p} new sites cannot reach every point within the limit"
                                + (f"; at least {cnt} are needed." if np.isfinite(cnt) and proven else "."))
        hi, best = len(cd.values) - 1, cd.new[ch]
    while lo < hi and not heuristic_only:
        left = tl - (time.perf_counter() - t0)
        if left <= 0.01:
            status = "time_limit"
            break
        mid = (lo + hi) // 2
        A = _cover_at(problem, cd, cd.values[mid])
        if A is None:
            lo = mid + 1
            continue
        g = greedy_cover(A, site)
        if g is not None and len(g) <= p:
            hi, best = mid, cd.new[g]
            continue
        st, ch = cover_decision(A, site, p, left)
        if st == "feasible":
            hi, best = mid, cd.new[ch]
        elif st == "infeasible":
            lo = mid + 1
        else:
            status = "time_limit"  # radius mid undecided: the bound stays below it
            break
    if lo < hi:
        status = "time_limit" if not heuristic_only else "feasible"
    # Fill to p with the sites that lower total travel most: the worst time cannot grow.
    md = median_data(problem)
    x = md.fixed.copy()
    x[best] = True
    x = greedy_add(md, x, p, None)
    res = build_result(problem, "pcenter", method, status, np.nonzero(x & ~md.fixed)[0],
                       float(cd.values[hi]), float(cd.values[lo]), time.perf_counter() - t0, params, notes)
    # The worst assigned time over the demand that counts is the objective actually achieved.
    res.objective = float(np.nanmax(np.where(cd.need, res.assigned_time, np.nan)))
    res.gap = (res.objective - res.bound) / max(abs(res.objective), 1e-9)
    if res.gap <= 1e-12:
        res.gap, res.status = 0.0, "optimal"
    return res
