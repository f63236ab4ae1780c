"""The assignment MILP (x open, y share of each stored pair, u unserved) for the p-median and
the capacitated p-median / coverage models, and the capacitated heuristic: the uncapacitated
heuristic's sites with the optimal assignment to exactly those sites (the same MILP with the
sites fixed), whose solution warm-starts the exact run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .capacity_lagrange import capacity_lagrange
from .heuristic import solve_mclp_heuristic
from .milp import MilpOutcome, pad_columns, run_milp
from .pmedian import solve_pmedian_heuristic
from .problem import SitingProblem, one_per_site_rows
from .result import SitingResult, build_result, selected_options


@dataclass
class AssignModel:
    """The textbook assignment MILP: x_o open, y_k share of pair k, u_j unserved (p-median)."""

    c: np.ndarray
    integ: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    rows: list
    k_opt: np.ndarray
    k_dem: np.ndarray
    k_t: np.ndarray
    nx: int
    nk: int
    dem: np.ndarray
    notes: list
    p_row: int | None = None  # index in rows of the p limit


def assignment_model(problem: SitingProblem, model: str, *, p: int | None, budget: float | None,
                     capacitated: bool, single_source: bool,
                     unserved_penalty_min: float | None = None, exact_p: bool = True) -> AssignModel:
    """Build p-median (``model="pmedian"``) or capacitated-coverage rows from the stored pairs.

    Variables: ``x_o`` open option (existing fixed to 1), ``y_k`` share of demand point j_k
    assigned to option o_k for every stored pair k (only pairs within the limit), and for the
    p-median on an incomplete matrix ``u_j`` unserved share at ``unserved_penalty_min`` minutes
    (default: twice the largest stored time) so the model stays feasible.
    p-median: min Σ w_j t_k y_k with exactly p new sites (an extra site never costs anything,
    so "= p" loses no optimum and keeps incumbents from opening fewer); coverage: max Σ w_j y_k
    with at most p (``exact_p=False``: at most p for the p-median too, the textbook form the
    benchmark compares with). Capacity: Σ size_j y_k ≤ cap_o x_o.
    """
    if not p and not budget:
        raise ValueError(f"{model} needs p (number of new sites) or a budget.")
    o = problem.options
    w = problem.weights
    size = problem.size
    T = o.times.tocoo()
    keep = (w[T.col] > 0) | (size[T.col] > 0)
    k_opt, k_dem, k_t = T.row[keep], T.col[keep], T.data[keep]
    nk, nx = len(k_opt), o.n
    dem = np.unique(k_dem)
    n_dem = problem.n_demand
    notes: list[Text] = []
    median = model == "pmedian"
    need_u = median and np.any(np.bincount(k_dem, minlength=n_dem)[dem] < nx)
    nu = len(dem) if need_u else 0
    pen = 0.0
    if need_u:
        pen = unserved_penalty_min if unserved_penalty_min is not None else 2.0 * float(k_t.max(initial=0))
        notes.append(Text("solver.unserved_penalty", minutes=float(pen)))
    nvar = nx + nk + nu
    if median:
        c = np.concatenate([np.zeros(nx), w[k_dem] * k_t, (w[dem] * pen) if nu else np.zeros(0)])
    else:
        c = np.concatenate([np.zeros(nx), -w[k_dem], np.zeros(nu)])
    rows = []
    # Each point assigned once (median) or at most once (coverage).
    drow = np.searchsorted(dem, k_dem)
    Aas = sp.csr_matrix((np.ones(nk), (drow, nx + np.arange(nk))), shape=(len(dem), nvar))
    if nu:
        Aas = Aas + sp.csr_matrix((np.ones(nu), (np.arange(nu), nx + nk + np.arange(nu))), shape=(len(dem), nvar))
    rows.append((Aas, np.ones(len(dem)) if median else np.full(len(dem), -np.inf), np.ones(len(dem))))
    # Link y_k <= x_o (the strong form: keeps the LP relaxation tight).
    r = np.arange(nk)
    link = sp.csr_matrix((np.concatenate([np.ones(nk), -np.ones(nk)]),
                          (np.concatenate([r, r]), np.concatenate([nx + r, k_opt]))), shape=(nk, nvar))
    rows.append((link, np.full(nk, -np.inf), np.zeros(nk)))
    if capacitated:
        cap = o.capacity
        fin = np.isfinite(cap)
        if fin.any():
            fo = np.nonzero(fin)[0]
            remap = np.full(nx, -1)
            remap[fo] = np.arange(len(fo))
            kk = np.nonzero(fin[k_opt])[0]
            C = sp.csr_matrix((np.concatenate([size[k_dem[kk]], -cap[fo]]),
                               (np.concatenate([remap[k_opt[kk]], np.arange(len(fo))]),
                                np.concatenate([nx + kk, fo]))), shape=(len(fo), nvar))
            rows.append((C, np.full(len(fo), -np.inf), np.zeros(len(fo))))
    new = ~o.fixed
    p_row = None
    if p:
        p_row = len(rows)
        n_sites_new = len(np.unique(o.site[new]))
        exact_p = exact_p and median and not budget and p <= n_sites_new
        rows.append((sp.csr_matrix(np.concatenate([new.astype(float), np.zeros(nk + nu)]).reshape(1, -1)),
                     np.array([float(p) if exact_p else -np.inf]), np.array([float(p)])))
    if budget:
        rows.append((sp.csr_matrix(np.concatenate([o.cost * new, np.zeros(nk + nu)]).reshape(1, -1)),
                     np.array([-np.inf]), np.array([float(budget)])))
    opr = one_per_site_rows(o.site)
    if opr.shape[0]:
        rows.append((pad_columns(opr, nvar), np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
    lb = np.zeros(nvar)
    lb[:nx] = o.fixed
    ub = np.ones(nvar)
    integ = np.zeros(nvar)
    integ[:nx] = 1
    if single_source:
        integ[nx:nx + nk] = 1
    return AssignModel(c, integ, lb, ub, rows, k_opt, k_dem, k_t, nx, nk, dem, notes, p_row)


def run_assignment(problem: SitingProblem, model: str, *, p: int | None, budget: float | None,
                   capacitated: bool, single_source: bool, time_limit_s: float | None, mip_gap: float,
                   unserved_penalty_min: float | None = None, open_only: np.ndarray | None = None,
                   start: np.ndarray | None = None) -> tuple[AssignModel, MilpOutcome]:
    """Solve :func:`assignment_model`; ``open_only`` (bool per option) restricts the sites
    (the heuristic fixes them and only assigns); ``start`` is a full warm-start vector, and
    the outcome is never worse than it."""
    m = assignment_model(problem, model, p=p, budget=budget, capacitated=capacitated,
                         single_source=single_source, unserved_penalty_min=unserved_penalty_min)
    lb, ub = m.lb.copy(), m.ub.copy()
    if open_only is not None:
        ub[:m.nx] = np.asarray(open_only, float)
        if m.p_row is not None:
            # "Exactly p" holds only as far as the given sites allow.
            A, lo, hi = m.rows[m.p_row]
            n_given = float((np.asarray(open_only, bool) & ~problem.options.fixed).sum())
            m.rows[m.p_row] = (A, np.minimum(lo, n_given), hi)
    m.lb, m.ub = lb, ub
    out = run_milp(m.c, m.integ, lb, ub, m.rows, time_limit_s, mip_gap, start)
    if start is not None and _feasible(m, start) and (out.x is None or m.c @ start < out.fun - 1e-9):
        # HiGHS dropped (or did not improve on) the warm start: never return worse than it.
        out = MilpOutcome("time_limit" if out.x is None else out.status, np.asarray(start, float),
                          float(m.c @ start), out.bound)
    return m, out


def solve_assignment_exact(problem: SitingProblem, model: str, *, p: int | None = None,
                           budget: float | None = None, capacitated: bool = False,
                           single_source: bool = False, unserved_penalty_min: float | None = None,
                           time_limit_s: float | None = 120.0, mip_gap: float = 0.0,
                           start: np.ndarray | None = None, method: str = "exact",
                           other_bound: float | None = None) -> SitingResult:
    """p-median or capacitated coverage by the assignment MILP (:func:`assignment_model`).

    ``start`` warm-starts HiGHS; ``other_bound`` (e.g. a Lagrangian bound, in the model's own
    sense) tightens the reported bound when HiGHS' is weaker.
    """
    t0 = time.perf_counter()
    m, out = run_assignment(problem, model, p=p, budget=budget, capacitated=capacitated,
                            single_source=single_source, time_limit_s=time_limit_s, mip_gap=mip_gap,
                            unserved_penalty_min=unserved_penalty_min, start=start)
    median = model == "pmedian"
    sign = 1.0 if median else -1.0
    bound = sign * out.bound
    if other_bound is not None and np.isfinite(other_bound):
        bound = max(bound, other_bound) if median else min(bound, other_bound) if np.isfinite(bound) else other_bound
    params = {"p": p, "budget": budget, "capacitated": capacitated, "single_source": single_source,
              "time_limit_s": time_limit_s, "mip_gap": mip_gap, "n_options": int(m.nx), "n_pairs": int(m.nk)}
    name = "capacitated_" + model if capacitated else model
    if out.x is None:
        return build_result(problem, name, method, out.status, np.zeros(0, int), float("nan"),
                            bound, time.perf_counter() - t0, params, m.notes)
    obj = sign * out.fun
    gap = abs(obj - bound) / max(abs(obj), 1e-9) if np.isfinite(bound) else np.inf
    status = "optimal" if out.status == "optimal" or gap <= 1e-9 else out.status
    return assignment_result(problem, name, method, out, m, time.perf_counter() - t0, params, status, bound)


def _feasible(m: AssignModel, x: np.ndarray, tol: float = 1e-6) -> bool:
    x = np.asarray(x, float)
    if np.any(x < m.lb - tol) or np.any(x > m.ub + tol):
        return False
    for A, lo, hi in m.rows:
        v = A @ x
        if np.any(v < lo - tol * np.maximum(1, np.abs(lo))) or np.any(v > hi + tol * np.maximum(1, np.abs(hi))):
            return False
    return True


def assignment_result(problem: SitingProblem, name: str, method: str, out: MilpOutcome, m: AssignModel,
                      elapsed: float, params: dict, status: str | None = None,
                      bound: float | None = None) -> SitingResult:
    """A :class:`SitingResult` from an assignment-model solution vector."""
    o = problem.options
    w = problem.weights
    n_dem = problem.n_demand
    median = name.endswith("pmedian")
    x = out.x[:m.nx] > 0.5
    y = out.x[m.nx:m.nx + m.nk]
    k_dem, k_opt = m.k_dem, m.k_opt
    # Each point goes to the option carrying most of its demand; served share = Σ y.
    order = np.lexsort((-y, k_dem))
    first = np.ones(m.nk, bool)
    first[1:] = k_dem[order][1:] != k_dem[order][:-1]
    a_opt = np.full(n_dem, -1)
    sel = order[first]
    a_opt[k_dem[sel]] = np.where(y[sel] > 1e-9, k_opt[sel], -1)
    served = np.minimum(np.bincount(k_dem, weights=y, minlength=n_dem), 1.0)
    obj, bnd = (out.fun, out.bound) if median else (-out.fun, -out.bound)
    if bound is not None:
        bnd = bound
    return build_result(problem, name, method, status or out.status, np.nonzero(x)[0], obj, bnd, elapsed,
                        params, m.notes, assignment_options=a_opt, served_share=served,
                        site_load=np.bincount(o.site[k_opt], weights=w[k_dem] * y, minlength=problem.n_sites))


def capacitated_start(problem: SitingProblem, model: str, *, p, budget, single_source: bool,
                      time_limit_s: float):
    """Sites from the uncapacitated heuristic, then the best assignment to exactly those sites
    (a transport LP, or a small MILP with single sourcing).

    For the capacitated p-median with ``p`` (no budget) the knapsack Lagrangian
    (:mod:`.capacity_lagrange`) then offers its relaxed open sets, each assigned the same way;
    the best assignment found wins.

    Returns ``(AssignModel, MilpOutcome or None, bound, CapacityLagrange or None)``: the bound is
    the better of the uncapacitated heuristic's (valid, as capacities only restrict) and the
    Lagrangian's; the outcome is None when no site set tried can hold the demand.
    """
    t0 = time.perf_counter()
    if model == "pmedian":
        unc = solve_pmedian_heuristic(problem, p=p, budget=budget, time_limit_s=0.4 * time_limit_s)
    else:
        unc = solve_mclp_heuristic(problem, p=p, budget=budget, time_limit_s=0.4 * time_limit_s)
    o = problem.options
    chosen = o.fixed.copy()
    chosen[selected_options(problem, unc)] = True
    left = max(time_limit_s - (time.perf_counter() - t0), 0.5)
    m, out = run_assignment(problem, model, p=p, budget=budget, capacitated=True, single_source=single_source,
                            time_limit_s=left, mip_gap=0.0, open_only=chosen)
    out = out if out.x is not None else None
    if model != "pmedian" or not p or budget:
        return m, out, unc.bound, None
    # The Lagrangian heuristic: the knapsack relaxation's open sets, each repaired by the best
    # assignment to exactly those sites, while the bound rises (Beasley 1993; Lorena & Senne 2004).
    # the step target: the incumbent, or (none yet) a value above any optimum worth finding
    target = float(out.fun) if out is not None else 2.0 * (abs(float(unc.objective)) + 1.0)
    lag = capacity_lagrange(problem, p, target, single_source=single_source, time_budget_s=0.3 * time_limit_s)
    for y in lag.site_sets[:5]:
        left = time_limit_s - (time.perf_counter() - t0)
        if left <= 0.05:
            break
        if out is not None and (y == chosen).all():
            continue
        _, cand = run_assignment(problem, model, p=p, budget=None, capacitated=True, single_source=single_source,
                                 time_limit_s=left, mip_gap=0.0, open_only=y | o.fixed)
        if cand.x is not None and (out is None or cand.fun < out.fun - 1e-9):
            out, chosen = cand, y | o.fixed
    return m, out, max(unc.bound, lag.bound), lag


def solve_capacitated_heuristic(problem: SitingProblem, model: str, *, p=None, budget=None,
                                single_source: bool = False, time_limit_s: float = 10.0) -> SitingResult:
    """Capacitated p-median / coverage: uncapacitated heuristic sites (and, for the p-median,
    the knapsack Lagrangian's open sets), optimal assignment to them; the bound is the
    uncapacitated model's or the Lagrangian's (see :func:`capacitated_start`)."""
    t0 = time.perf_counter()
    m, out, bound, _ = capacitated_start(problem, model, p=p, budget=budget, single_source=single_source,
                                         time_limit_s=time_limit_s)
    params = {"p": p, "budget": budget, "single_source": single_source, "time_limit_s": time_limit_s}
    if out is None:
        return build_result(problem, "capacitated_" + model, "heuristic", "not_found", np.zeros(0, int),
                            float("nan"), bound, time.perf_counter() - t0, params,
                            "the heuristic's sites cannot hold the demand; use method='exact'.")
    obj = out.fun if model == "pmedian" else -out.fun
    bound = min(bound, obj) if model == "pmedian" else max(bound, obj)
    status = "optimal" if abs(obj - bound) <= 1e-9 * max(1.0, abs(obj)) else "feasible"
    return assignment_result(problem, "capacitated_" + model, "heuristic", out, m, time.perf_counter() - t0,
                             params, status, bound)
