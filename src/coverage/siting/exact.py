"""Exact siting models as mixed-integer programmes solved by HiGHS (``scipy.optimize.milp``).

Constraint matrices are assembled from the sparse coverage / time matrices with whole-array
operations (``scipy.sparse`` blocks built from index arrays); nothing loops over matrix entries.

Coverage models (LSCP, partial, MCLP, equity) first drop demand already covered by existing
facilities and demand no candidate reaches, then merge demand columns with identical coverage
sets (:func:`~eldercare_coverage.siting.problem.aggregate_columns`), which keeps the MILP small.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ..messages import Text
from .problem import SitingProblem, aggregate_columns, one_per_site_rows

logger = logging.getLogger(__name__)
from .result import SitingResult, build_result, selected_options

#: Above this many constraint-matrix entries HiGHS runs without presolve (see _run_highspy).
PRESOLVE_MAX_NNZ = 1_500_000

_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


@dataclass
class MilpOutcome:
    status: str
    x: np.ndarray | None
    fun: float  # objective of the incumbent (minimisation form), nan if none
    bound: float  # dual bound (minimisation form)


def run_milp(c, integrality, lb, ub, rows: list[tuple[sp.spmatrix, np.ndarray, np.ndarray]],
             time_limit_s: float | None, mip_gap: float, start: np.ndarray | None = None,
             presolve: bool = True, highs_options: dict | None = None) -> MilpOutcome:
    """Minimise ``c @ x`` over row blocks ``(A, lower, upper)`` with HiGHS; reports a dual bound.

    Uses ``highspy`` when installed (it accepts ``start``, a feasible solution such as the
    heuristic's, which gives branch-and-bound an incumbent from the first node), otherwise
    ``scipy.optimize.milp`` (same HiGHS solver, no start).
    """
    A = sp.vstack([r[0] for r in rows], format="csr") if rows else sp.csr_matrix((0, len(c)))
    lo = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    hi = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0)
    c = np.asarray(c, float)
    lb = np.asarray(lb, float)
    ub = np.asarray(ub, float)
    integrality = np.asarray(integrality)
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is optional
        highspy = None
    if highspy is not None:
        return _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start, presolve,
                            highs_options)
    options = {"disp": False, "mip_rel_gap": float(mip_gap)}
    if time_limit_s is not None and np.isfinite(time_limit_s):
        options["time_limit"] = max(float(time_limit_s), 0.01)
    cons = [LinearConstraint(A, lo, hi)] if A.shape[0] else []
    res = milp(c, integrality=integrality, bounds=Bounds(lb, ub), constraints=cons, options=options)
    status = _STATUS.get(res.status, "error")
    x = None if res.x is None else np.asarray(res.x)
    fun = float(res.fun) if x is not None else float("nan")
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        bound = fun if status == "optimal" else float("nan")
    return MilpOutcome(status, x, fun, float(bound))


def new_highs(highspy):
    """A silent ``highspy.Highs``: HiGHS 1.16 prints its banner on construction, before any option
    can be set, so the process's stdout is pointed at /dev/null for that moment."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start,
                 presolve: bool = True, highs_options: dict | None = None) -> MilpOutcome:
    A = A.tocsc()
    h = new_highs(highspy)
    for k, v in (highs_options or {}).items():
        h.setOptionValue(k, v)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if A.nnz > PRESOLVE_MAX_NNZ or not presolve:
        # HiGHS presolve does not check the time limit; on multi-million-entry coverage models
        # it ran for minutes past it. Without it the limit holds.
        h.setOptionValue("presolve", "off")
    if time_limit_s is not None and np.isfinite(time_limit_s):
        h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    lp = highspy.HighsLp()
    lp.num_col_ = len(c)
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = c
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = lo
    lp.row_upper_ = hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = len(c)
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    is_int = integrality > 0
    if is_int.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                           for v in is_int]
    h.passModel(lp)
    if start is not None and is_int.any():
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, float)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    MS = highspy.HighsModelStatus
    status = {MS.kOptimal: "optimal", MS.kInfeasible: "infeasible", MS.kTimeLimit: "time_limit",
              MS.kUnbounded: "unbounded", MS.kUnboundedOrInfeasible: "infeasible",
              MS.kSolutionLimit: "time_limit", MS.kIterationLimit: "time_limit",
              MS.kInterrupt: "time_limit"}.get(ms, "error")
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_x else None
    fun = float(info.objective_function_value) if has_x else float("nan")
    if is_int.any():
        bound = float(info.mip_dual_bound)
    else:
        bound = fun
    if not np.isfinite(bound):
        bound = fun if status == "optimal" else float("nan")
    if status == "optimal" and x is not None and not is_int.any():
        bound = fun
    if start is not None and x is not None and not _consistent(c, A, lo, hi, lb, ub, x, fun):
        # HiGHS 1.16 with a start and presolve on has returned "optimal" with an objective and
        # bound that the returned solution does not have (and that no solution has: Swain,
        # LSCP at 15, claimed 4 where brute force needs 5). Distrust the run; solve again cold.
        logger.info("HiGHS returned an inconsistent solution after a warm start; solving again without it")
        left = None if time_limit_s is None else max(float(time_limit_s) - h.getRunTime(), 0.01)
        return _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, left, mip_gap, None, presolve, highs_options)
    return MilpOutcome(status, x, fun, bound)


def _consistent(c, A, lo, hi, lb, ub, x, fun, tol: float = 1e-6) -> bool:
    """The solution has the reported objective and satisfies bounds and rows (within tol)."""
    if abs(float(c @ x) - fun) > tol * max(1.0, abs(fun)):
        return False
    if np.any(x < lb - tol) or np.any(x > ub + tol):
        return False
    v = A @ x
    return not (np.any(v < lo - tol * np.maximum(1.0, np.abs(lo))) or np.any(v > hi + tol * np.maximum(1.0, np.abs(hi))))


# ---------------------------------------------------------------------- coverage models
@dataclass
class CoverData:
    """Coverage model data after dropping fixed-covered / uncoverable demand and merging columns."""

    options: np.ndarray  # option indices (new options that cover something)
    A: sp.csc_matrix  # options × aggregated demand, 0/1
    w: np.ndarray  # aggregated weight
    group: np.ndarray | None  # group code per aggregated column
    group_names: np.ndarray | None
    group_total: np.ndarray | None  # total weight per group (all demand)
    group_before: np.ndarray | None  # weight covered by existing per group
    group_coverable: np.ndarray | None  # weight coverable (existing or any option) per group
    w_total: float
    w_before: float
    w_coverable: float
    n_points: int  # demand points entering the model (before merging)
    cost: np.ndarray
    site: np.ndarray


def cover_data(problem: SitingProblem, with_groups: bool) -> CoverData:
    """Build :class:`CoverData`; ``with_groups`` keeps equity groups apart when merging."""
    o = problem.options
    new = np.nonzero(~o.fixed)[0]
    w = problem.weights
    before = problem.covered_by_existing
    A_new = o.cover[new]
    free = ~before & (np.asarray(A_new.sum(axis=0)).ravel() > 0) & (w > 0)
    A_free = A_new[:, np.nonzero(free)[0]]
    useful = np.asarray(A_free.sum(axis=1)).ravel() > 0
    opts = new[useful]
    A_free = A_free[np.nonzero(useful)[0]]
    gcode = gnames = gtot = gbef = gcov = None
    if with_groups and problem.groups is not None:
        gnames, gall = np.unique(problem.groups.astype(str), return_inverse=True)
        ng = len(gnames)
        gtot = np.bincount(gall, weights=w, minlength=ng)
        gbef = np.bincount(gall, weights=w * before, minlength=ng)
        gcov = np.bincount(gall, weights=w * problem.coverable, minlength=ng)
        keys = gall[free]
    else:
        keys = None
    A, wa, inv = aggregate_columns(A_free, w[free], keys)
    if keys is not None:
        gcode = np.zeros(len(wa), dtype=int)
        gcode[inv] = keys
    return CoverData(
        options=opts, A=A, w=wa, group=gcode, group_names=gnames, group_total=gtot,
        group_before=gbef, group_coverable=gcov, w_total=float(w.sum()), w_before=float(w[before].sum()),
        w_coverable=float(w[problem.coverable].sum()), n_points=int(free.sum()),
        cost=o.cost[opts], site=o.site[opts],
    )


def group_need(cd: CoverData, min_group_share: float, notes: list[Text]) -> np.ndarray:
    """Weight each group must gain from new sites, clipped to what new sites can reach."""
    need = min_group_share * cd.group_total - cd.group_before
    reach = cd.group_coverable - cd.group_before
    short = need > reach + 1e-9
    if short.any():
        notes.append(Text("solver.group_share_unreachable", groups=[str(g) for g in cd.group_names[short]]))
    return np.maximum(np.minimum(need, reach), 0.0)


def _target_rows(cd: CoverData, nx: int, target_share: float | None, min_group_share: float,
                 notes: list[Text]):
    """Rows forcing total (partial) and per-group (equity) covered weight; clipped to what is reachable."""
    rows = []
    m = len(cd.w)
    if target_share is not None:
        need = target_share * cd.w_total - cd.w_before
        reachable = cd.w_coverable - cd.w_before
        if need > reachable + 1e-9:
            notes.append(Text("solver.target_unreachable", target=float(target_share),
                              reachable=cd.w_coverable / max(cd.w_total, 1e-12)))
            need = reachable
        row = sp.hstack([sp.csr_matrix((1, nx)), sp.csr_matrix(cd.w.reshape(1, -1))], format="csr")
        rows.append((row, np.array([need - 1e-9 * max(1.0, need)]), np.array([np.inf])))
    if min_group_share > 0 and cd.group is not None:
        need = group_need(cd, min_group_share, notes)
        active = need > 1e-12
        gidx = np.nonzero(active)[0]
        if len(gidx):
            remap = np.full(len(cd.group_names), -1)
            remap[gidx] = np.arange(len(gidx))
            r = remap[cd.group]
            k = r >= 0
            G = sp.csr_matrix((cd.w[k], (r[k], np.nonzero(k)[0])), shape=(len(gidx), m))
            rows.append((sp.hstack([sp.csr_matrix((len(gidx), nx)), G], format="csr"),
                         need[gidx] - 1e-9 * np.maximum(1.0, need[gidx]), np.full(len(gidx), np.inf)))
    return rows


def solve_cover_exact(problem: SitingProblem, model: str, *, p: int | None = None, budget: float | None = None,
                      target_share: float | None = None, min_group_share: float = 0.0,
                      minimize: str = "auto", time_limit_s: float | None = 120.0,
                      mip_gap: float = 0.0, start: SitingResult | None = None) -> SitingResult:
    """LSCP, partial cover or MCLP (with p and/or budget), optional equity rows, solved exactly.

    ``minimize`` ("auto", "count", "cost") chooses the LSCP / partial objective; "auto" uses
    costs when the user gave them (or tiers carry them). ``start`` (a feasible result, e.g.
    the heuristic's) is HiGHS' first incumbent.
    """
    t0 = time.perf_counter()
    notes: list[Text] = []
    cd = cover_data(problem, with_groups=min_group_share > 0)
    nx, m = len(cd.options), len(cd.w)
    weight_c = cd.cost if _use_cost(problem, minimize) else np.ones(nx)
    params = {"p": p, "budget": budget, "target_share": target_share, "min_group_share": min_group_share,
              "time_limit_s": time_limit_s, "mip_gap": mip_gap, "n_options": int(nx),
              "n_demand_points": int(cd.n_points), "n_demand_columns": int(m)}
    if model == "mclp" and not p and not budget:
        raise ValueError("MCLP needs p (number of new sites) or a budget.")
    if nx == 0 or m == 0:
        return trivial_cover_result(problem, model, cd, "exact", t0, params)
    opr = one_per_site_rows(cd.site)
    rows = []
    if opr.shape[0]:
        rows.append((_pad(opr, nx + (0 if model == "lscp" else m)), np.full(opr.shape[0], -np.inf),
                     np.ones(opr.shape[0])))
    if model == "lscp":
        # Every reachable point not yet covered must be covered: A^T x >= 1.
        rows.append((cd.A.T.tocsr(), np.ones(m), np.full(m, np.inf)))
        if min_group_share > 0:
            notes.append(Text("solver.equity_implied"))
        out = run_milp(weight_c, np.ones(nx), np.zeros(nx), np.ones(nx), rows, time_limit_s, mip_gap,
                       None if start is None else _start_x(problem, cd, start))
        x = out.x
        obj, bound = out.fun, out.bound
    else:
        c = np.concatenate([np.zeros(nx), -cd.w]) if model == "mclp" else np.concatenate([weight_c, np.zeros(m)])
        link = sp.hstack([-cd.A.T.tocsr(), sp.identity(m, format="csr")], format="csr")
        rows.append((link, np.full(m, -np.inf), np.zeros(m)))
        if model == "mclp":
            if not p and not budget:
                raise ValueError("MCLP needs p (number of new sites) or a budget.")
            if p:
                rows.append((sp.csr_matrix(np.concatenate([np.ones(nx), np.zeros(m)]).reshape(1, -1)),
                             np.array([-np.inf]), np.array([float(p)])))
            if budget:
                rows.append((sp.csr_matrix(np.concatenate([cd.cost, np.zeros(m)]).reshape(1, -1)),
                             np.array([-np.inf]), np.array([float(budget)])))
            rows += _target_rows(cd, nx, None, min_group_share, notes)
        else:
            rows += _target_rows(cd, nx, target_share if target_share is not None else 1.0, min_group_share, notes)
        integ = np.concatenate([np.ones(nx), np.zeros(m)])
        x0 = None if start is None else _start_x(problem, cd, start)
        if x0 is not None:
            x0 = np.concatenate([x0, np.minimum(cd.A.T @ x0, 1.0)])
        elif model == "mclp" and not min_group_share:
            # A greedy + swap solution hands HiGHS a good incumbent before the first node.
            from .heuristic import greedy_mclp, interchange

            ch = interchange(cd, greedy_mclp(cd, p, budget), p, budget, time_budget_s=2.0)
            xs = np.zeros(nx)
            xs[ch] = 1.0
            x0 = np.concatenate([xs, (cd.A.T @ xs > 0).astype(float)])
        out = run_milp(c, integ, np.zeros(nx + m), np.ones(nx + m), rows, time_limit_s, mip_gap, x0)
        x = None if out.x is None else out.x[:nx]
        if model == "mclp":
            obj, bound = cd.w_before - out.fun, cd.w_before - out.bound
        else:
            obj, bound = out.fun, out.bound
    chosen = np.zeros(0, int) if x is None else cd.options[x > 0.5]
    if x is None:
        obj = float("nan")
    return build_result(problem, model, "exact", out.status, chosen, obj, bound,
                        time.perf_counter() - t0, params, notes)


def _start_x(problem: SitingProblem, cd: CoverData, start: SitingResult) -> np.ndarray:
    """0/1 vector over ``cd.options`` of a result's selected options."""
    return np.isin(cd.options, selected_options(problem, start)).astype(float)


def trivial_cover_result(problem: SitingProblem, model: str, cd: CoverData, method: str, t0: float,
                         params: dict) -> SitingResult:
    """No new site can add coverage (all reachable demand already covered, or none reachable)."""
    obj = cd.w_before if model == "mclp" else 0.0
    return build_result(problem, model, method, "optimal", np.zeros(0, int), obj, obj,
                        time.perf_counter() - t0, params,
                        [Text("solver.nothing_to_add")])


def _use_cost(problem: SitingProblem, minimize: str) -> bool:
    if minimize == "cost":
        return True
    if minimize == "count":
        return False
    return bool(problem.cost_given)


def _pad(A: sp.spmatrix, ncols: int) -> sp.csr_matrix:
    """Widen ``A`` with zero columns on the right to ``ncols`` columns."""
    A = sp.csr_matrix(A)
    return sp.csr_matrix((A.data, A.indices, A.indptr), shape=(A.shape[0], ncols))


# ---------------------------------------------------------------------- assignment models
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
        rows.append((_pad(opr, nvar), np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
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


# ---------------------------------------------------------------------- p-center
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
    from .center import _cover_at, bracket, center_data, greedy_cover
    from .median import greedy_add, median_data

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


# ---------------------------------------------------------------------- p-median (radius formulation)
def solve_pmedian_exact(problem: SitingProblem, *, p: int | None = None, budget: float | None = None,
                        time_limit_s: float | None = 120.0, mip_gap: float = 0.0,
                        heuristic_time_s: float | None = None) -> SitingResult:
    """Uncapacitated p-median: heuristic warm start, Lagrangian fixing, then the radius MILP.

    The MILP is the covering ("radius") formulation of Cornuéjols, Nemhauser & Wolsey (1980)
    in the compact form of Elloumi (2010, "A tighter formulation of the p-median problem",
    J. Comb. Optim. 19:69–83): per point j its distinct times D_j^1 < … < D_j^K, a continuous
    z_j^k = "no open option within D_j^k", cost Σ_j w_j (D_j^1 + Σ_k (D_j^{k+1} − D_j^k) z_j^k),
    rows z_j^1 + Σ_{t_ij = D_j^1} y_i ≥ 1 and z_j^k + Σ_{t_ij = D_j^k} y_i ≥ z_j^{k−1}. Each
    stored pair appears once (the textbook model has a variable *and* a row per pair), the LP
    bound is the same, and levels beyond an always-open option's time are dropped. Options the
    Lagrangian reduced costs prove useless (or indispensable) for beating the heuristic are
    removed (fixed open) first. The answer is the better of the heuristic and the MILP
    incumbent, filled to ``p`` new sites; the bound is the better of the Lagrangian and MILP
    bounds, so status and gap never claim more than was proven.
    """
    from .median import greedy_add, local_search, median_cost, median_data, pmedian_heuristic, round_bound

    if not p and not budget:
        raise ValueError("pmedian needs p (number of new sites) or a budget.")
    t0 = time.perf_counter()
    md = median_data(problem)
    tl = 120.0 if time_limit_s is None else float(time_limit_s)
    # The heuristic's constructive part (greedy, Lagrangian with its primal solutions, swap
    # descents) starts the MILP; its iterated local search runs only if the MILP stops unproven,
    # from the better incumbent, in the time kept back for it (on pmed2 the search took 0.4 s of
    # a 0.5 s exact run whose MILP needed 0.1 s).
    h_time = heuristic_time_s if heuristic_time_s is not None else min(10.0, tl)
    x_h, ub, lag = pmedian_heuristic(md, p, budget, h_time, max_stale=0)
    polish_s = min(10.0, 0.1 * tl)
    params = {"p": p, "budget": budget, "time_limit_s": time_limit_s, "mip_gap": mip_gap,
              "n_options": int(md.n_opt), "n_pairs": int(len(md.R))}
    notes = []
    if md.need_pen:
        notes.append(Text("solver.unserved_penalty", minutes=float(md.pen)))
    best_x, best_v, bound = x_h, ub, lag.bound
    status = "optimal" if ub - bound <= max(mip_gap, 1e-9) * max(1.0, abs(ub)) else "feasible"
    milp_note = Text("solver.pmedian_lagrangian_proof", heuristic=float(ub), bound=float(lag.bound))
    if status != "optimal":
        left = max(tl - polish_s - (time.perf_counter() - t0), 0.5)
        out, x_m, n_cols = _radius_milp(md, p, budget, lag.closed, lag.forced, x_h, left, mip_gap)
        params["n_radius_columns"] = n_cols
        params["n_closed_by_lagrangian"] = int(lag.closed.sum())
        if x_m is not None:
            x_m = greedy_add(md, x_m, p, budget)  # fill to p: an extra site never costs anything
            v = median_cost(md, x_m)
            if v < best_v:
                best_x, best_v = x_m, v
        # Options fixed by the Lagrangian are excluded only from solutions better than the
        # heuristic, so the MILP bound holds for the full problem up to the heuristic value,
        # and a reduced model without any solution proves the heuristic optimal.
        if out.status == "infeasible":
            bound = ub
        elif np.isfinite(out.bound):
            bound = max(bound, min(round_bound(md, out.bound), ub))
        left = tl - (time.perf_counter() - t0)
        if best_v > bound + 1e-9 * max(1.0, abs(best_v)) and left > 0.05:
            x_s = local_search(md, p, budget, left, start=best_x, stop_at=bound)
            v = median_cost(md, x_s)
            if v < best_v:
                best_x, best_v = x_s, v
        gap = (best_v - bound) / max(abs(best_v), 1e-9)
        if gap <= 1e-9 or (out.status == "optimal" and gap <= mip_gap + 1e-9):
            status = "optimal"
        else:
            status = "time_limit" if out.status == "time_limit" else "feasible"
        milp_note = Text("solver.pmedian_radius_milp", heuristic=float(ub), bound=float(lag.bound), status=out.status)
    chosen = np.nonzero(best_x & ~md.fixed)[0]
    return build_result(problem, "pmedian", "exact", status, chosen, best_v, min(bound, best_v),
                        time.perf_counter() - t0, params,
                        notes + [milp_note])


def _radius_levels(md, avail: np.ndarray, fixed_open: np.ndarray) -> dict:
    """Per point the distinct times of available options below its cap (the nearest always-open
    option, or the unserved level where some option does not reach it): runs of equal
    (point, time) in the sorted pairs. A level followed by another (or by the cap) is active:
    it gets a z variable and a row."""
    n_pts = len(md.w)
    # cap_j: time to the nearest always-open option, else the unserved level where some
    # available option does not reach j, else none (inf).
    cap = np.full(n_pts, np.inf)
    fk = fixed_open[md.R]
    np.minimum.at(cap, md.C[fk], md.D[fk])
    reach = np.bincount(md.C[avail[md.R]], minlength=n_pts)
    cap = np.where(reach < max(int(avail.sum()), 1), np.minimum(cap, md.pen), cap)
    k = avail[md.R] & (md.D < cap[md.C])
    r, c, d = md.R[k], md.C[k], md.D[k]
    # Levels: runs of equal (point, time) in the sorted pairs.
    new_lvl = np.ones(len(c), bool)
    new_lvl[1:] = (c[1:] != c[:-1]) | (d[1:] != d[:-1])
    lvl = np.cumsum(new_lvl) - 1
    L_start = np.nonzero(new_lvl)[0]
    L_pt, L_d = c[L_start], d[L_start]
    nL = len(L_start)
    last_of_pt = np.ones(nL, bool)
    last_of_pt[:-1] = L_pt[:-1] != L_pt[1:]
    first_of_pt = np.ones(nL, bool)
    first_of_pt[1:] = L_pt[1:] != L_pt[:-1]
    nxt_d = np.empty(nL)
    nxt_d[:-1] = L_d[1:]
    nxt_d[last_of_pt] = cap[L_pt[last_of_pt]]
    active = np.isfinite(nxt_d)
    return {"r": r, "lvl": lvl, "L_pt": L_pt, "L_d": L_d, "first_of_pt": first_of_pt, "nxt_d": nxt_d,
            "active": active, "cap": cap}


@dataclass
class RadiusModel:
    """Elloumi's radius formulation over the available options: columns [y (ny), z (nz)],
    objective ``c @ x + const``, cover rows ``A x >= lo``."""

    c: np.ndarray
    const: float
    A: sp.csr_matrix
    lo: np.ndarray
    y_opts: np.ndarray  # option index per y column
    ny: int
    nz: int
    levels: dict

    def start(self, md, is_open: np.ndarray) -> np.ndarray:
        """The column vector of an open-option mask (z = 1 where the nearest open option is farther)."""
        from .median import two_nearest

        _, d1, _ = two_nearest(md, is_open)
        act = self.levels["active"]
        return np.concatenate([is_open[self.y_opts].astype(float),
                               (d1[self.levels["L_pt"][act]] > self.levels["L_d"][act] + 1e-12)])


def radius_model(md, avail: np.ndarray, fixed_open: np.ndarray) -> RadiusModel:
    """Build the radius formulation's columns and cover rows (see :func:`solve_pmedian_exact`)."""
    n_opt = md.n_opt
    lv = _radius_levels(md, avail, fixed_open)
    r, lvl, L_pt, L_d, first_of_pt, nxt_d, active, cap = (lv[k] for k in (
        "r", "lvl", "L_pt", "L_d", "first_of_pt", "nxt_d", "active", "cap"))
    nL = len(L_pt)
    pos = md.w > 0
    zid = np.full(nL, -1)
    zid[active] = np.arange(active.sum())
    nz = int(active.sum())
    y_opts = np.nonzero(avail)[0]
    ycol = np.full(n_opt, -1)
    ycol[y_opts] = np.arange(len(y_opts))
    ny = len(y_opts)
    # Constant: every point pays at least its first level (or its cap if no pair is left).
    d_first = cap.copy()
    d_first[L_pt[first_of_pt]] = L_d[first_of_pt]
    const = float(md.w[pos] @ d_first[pos])
    cz = md.w[L_pt[active]] * (nxt_d[active] - L_d[active])
    c_obj = np.concatenate([np.zeros(ny), cz])
    # Rows (one per active level): Σ y at that level + z_L − z_prev ≥ [first level].
    pr = active[lvl]
    rows_y = zid[lvl[pr]]
    cols_y = ycol[r[pr]]
    act = np.nonzero(active)[0]
    prev_ok = act[~first_of_pt[act]]
    A = sp.csr_matrix((np.concatenate([np.ones(len(rows_y)), np.ones(nz), -np.ones(len(prev_ok))]),
                       (np.concatenate([rows_y, np.arange(nz), zid[prev_ok]]),
                        np.concatenate([cols_y, ny + np.arange(nz), ny + zid[prev_ok - 1]]))),
                      shape=(nz, ny + nz))
    return RadiusModel(c_obj, const, A, np.where(first_of_pt[act], 1.0, 0.0), y_opts, ny, nz, lv)


def _radius_milp(md, p, budget, closed, forced, start_open, time_limit_s, mip_gap):
    """Build and solve Elloumi's radius formulation on the options left open by the fixing.

    Returns ``(MilpOutcome, open-option mask or None, number of columns)``.
    """
    n_opt = md.n_opt
    fixed_open = md.fixed | forced
    # A forced option's site hosts no other option.
    site_taken = np.zeros(md.site.max() + 1 if n_opt else 0, bool)
    site_taken[md.site[forced]] = True
    avail = ~md.fixed & ~forced & ~closed & ~site_taken[md.site]
    if not avail.any():
        # The fixing left one candidate solution: the forced options (HiGHS calls an empty model an error).
        from .median import median_cost

        v = median_cost(md, fixed_open)
        return MilpOutcome("optimal", np.zeros(0), v, v), fixed_open, 0
    rm = radius_model(md, avail, fixed_open)
    c_obj, const, y_opts, ny, nz = rm.c, rm.const, rm.y_opts, rm.ny, rm.nz
    rows = [(rm.A, rm.lo, np.full(nz, np.inf))]
    n_forced_new = int((forced & ~md.fixed).sum())
    if p:
        rows.append((sp.csr_matrix(np.concatenate([np.ones(ny), np.zeros(nz)]).reshape(1, -1)),
                     np.array([-np.inf]), np.array([float(p - n_forced_new)])))
    if budget:
        rows.append((sp.csr_matrix(np.concatenate([md.cost[y_opts], np.zeros(nz)]).reshape(1, -1)),
                     np.array([-np.inf]), np.array([float(budget) - float(md.cost[forced & ~md.fixed].sum())])))
    opr = one_per_site_rows(md.site[y_opts])
    if opr.shape[0]:
        rows.append((_pad(opr, ny + nz), np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
    start = None
    if not (start_open & ~md.fixed & ~avail & ~forced).any():
        start = rm.start(md, start_open)
    integ = np.concatenate([np.ones(ny), np.zeros(nz)])
    # On pmed22 HiGHS presolve found nothing to remove in 37 s, and its feasibility-jump
    # heuristic ran 35 s past the time limit before the root LP; the heuristic start makes both moot.
    out = run_milp(c_obj, integ, np.zeros(ny + nz), np.ones(ny + nz), rows, time_limit_s, mip_gap, start,
                   presolve=False, highs_options={"mip_heuristic_run_feasibility_jump": False})
    out = MilpOutcome(out.status, out.x, out.fun + const, out.bound + const)
    if out.x is None:
        return out, None, ny + nz
    x = fixed_open.copy()
    x[y_opts[out.x[:ny] > 0.5]] = True
    return out, x, ny + nz
