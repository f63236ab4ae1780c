"""Exact siting models as mixed-integer programmes solved by HiGHS (``scipy.optimize.milp``).

Constraint matrices are assembled from the sparse coverage / time matrices with whole-array
operations (``scipy.sparse`` blocks built from index arrays); nothing loops over matrix entries.

Coverage models (LSCP, partial, MCLP, equity) first drop demand already covered by existing
facilities and demand no candidate reaches, then merge demand columns with identical coverage
sets (:func:`~eldercare_coverage.siting.problem.aggregate_columns`), which keeps the MILP small.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .problem import SitingProblem, aggregate_columns, one_per_site_rows
from .result import SitingResult, build_result

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
             time_limit_s: float | None, mip_gap: float, start: np.ndarray | None = None) -> MilpOutcome:
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
        return _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start)
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


def _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start) -> MilpOutcome:
    A = A.tocsc()
    h = new_highs(highspy)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if A.nnz > PRESOLVE_MAX_NNZ:
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
    return MilpOutcome(status, x, fun, bound)


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


def _target_rows(cd: CoverData, nx: int, target_share: float | None, min_group_share: float,
                 notes: list[str]):
    """Rows forcing total (partial) and per-group (equity) covered weight; clipped to what is reachable."""
    rows = []
    m = len(cd.w)
    if target_share is not None:
        need = target_share * cd.w_total - cd.w_before
        reachable = cd.w_coverable - cd.w_before
        if need > reachable + 1e-9:
            notes.append(f"target share {target_share:.0%} is unreachable; the most any choice of sites "
                         f"covers is {cd.w_coverable / max(cd.w_total, 1e-12):.1%}, used instead.")
            need = reachable
        row = sp.hstack([sp.csr_matrix((1, nx)), sp.csr_matrix(cd.w.reshape(1, -1))], format="csr")
        rows.append((row, np.array([need - 1e-9 * max(1.0, need)]), np.array([np.inf])))
    if min_group_share > 0 and cd.group is not None:
        need = min_group_share * cd.group_total - cd.group_before
        reach = cd.group_coverable - cd.group_before
        short = need > reach + 1e-9
        if short.any():
            notes.append("minimum share unreachable in " + ", ".join(cd.group_names[short].astype(str))
                         + "; those groups are asked for everything reachable.")
        need = np.minimum(need, reach)
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
                      mip_gap: float = 0.0) -> SitingResult:
    """LSCP, partial cover or MCLP (with p and/or budget), optional equity rows, solved exactly.

    ``minimize`` ("auto", "count", "cost") chooses the LSCP / partial objective; "auto" uses
    costs when the user gave them (or tiers carry them).
    """
    t0 = time.perf_counter()
    notes: list[str] = []
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
            notes.append("equity rows are implied by the LSCP (it covers every reachable point).")
        out = run_milp(weight_c, np.ones(nx), np.zeros(nx), np.ones(nx), rows, time_limit_s, mip_gap)
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
        start = None
        if model == "mclp" and not min_group_share:
            # A greedy + swap solution hands HiGHS a good incumbent before the first node.
            from .heuristic import greedy_mclp, interchange

            ch = interchange(cd, greedy_mclp(cd, p, budget), p, budget, time_budget_s=2.0)
            xs = np.zeros(nx)
            xs[ch] = 1.0
            start = np.concatenate([xs, (cd.A.T @ xs > 0).astype(float)])
        out = run_milp(c, integ, np.zeros(nx + m), np.ones(nx + m), rows, time_limit_s, mip_gap, start)
        x = None if out.x is None else out.x[:nx]
        if model == "mclp":
            obj, bound = cd.w_before - out.fun, cd.w_before - out.bound
        else:
            obj, bound = out.fun, out.bound
    chosen = np.zeros(0, int) if x is None else cd.options[x > 0.5]
    if x is None:
        obj = float("nan")
    return build_result(problem, model, "exact", out.status, chosen, obj, bound,
                        time.perf_counter() - t0, params, " ".join(notes))


def trivial_cover_result(problem: SitingProblem, model: str, cd: CoverData, method: str, t0: float,
                         params: dict) -> SitingResult:
    """No new site can add coverage (all reachable demand already covered, or none reachable)."""
    obj = cd.w_before if model == "mclp" else 0.0
    return build_result(problem, model, method, "optimal", np.zeros(0, int), obj, obj,
                        time.perf_counter() - t0, params,
                        "no candidate site adds coverage: reachable demand is already covered or none is reachable.")


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
def solve_assignment_exact(problem: SitingProblem, model: str, *, p: int | None = None,
                           budget: float | None = None, capacitated: bool = False,
                           single_source: bool = False, unserved_penalty_min: float | None = None,
                           time_limit_s: float | None = 120.0, mip_gap: float = 0.0) -> SitingResult:
    """p-median (``model="pmedian"``) or capacitated coverage (``model="mclp"`` with capacities).

    Variables: ``x_o`` open option (existing fixed to 1), ``y_k`` share of demand point j_k
    assigned to option o_k for every stored pair k (only pairs within the limit), and for the
    p-median on an incomplete matrix ``u_j`` unserved share at ``unserved_penalty_min`` minutes
    (default: twice the largest stored time) so the model stays feasible.
    p-median: min Σ w_j t_k y_k; coverage: max Σ w_j y_k. Capacity: Σ size_j y_k ≤ cap_o x_o.
    """
    t0 = time.perf_counter()
    o = problem.options
    w = problem.weights
    size = problem.size
    T = o.times.tocoo()
    keep = (w[T.col] > 0) | (size[T.col] > 0)
    k_opt, k_dem, k_t = T.row[keep], T.col[keep], T.data[keep]
    nk, nx = len(k_opt), o.n
    dem = np.unique(k_dem)
    n_dem = problem.n_demand
    notes: list[str] = []
    median = model == "pmedian"
    need_u = median and np.any(np.bincount(k_dem, minlength=n_dem)[dem] < nx)
    nu = len(dem) if need_u else 0
    if need_u:
        pen = unserved_penalty_min if unserved_penalty_min is not None else 2.0 * float(k_t.max(initial=0))
        notes.append(f"demand out of reach of every open site counts {pen:g} minutes.")
    nvar = nx + nk + nu
    # Objective.
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
    if p:
        rows.append((sp.csr_matrix(np.concatenate([new.astype(float), np.zeros(nk + nu)]).reshape(1, -1)),
                     np.array([-np.inf]), np.array([float(p)])))
    if budget:
        rows.append((sp.csr_matrix(np.concatenate([o.cost * new, np.zeros(nk + nu)]).reshape(1, -1)),
                     np.array([-np.inf]), np.array([float(budget)])))
    if not p and not budget:
        raise ValueError(f"{model} needs p (number of new sites) or a budget.")
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
    out = run_milp(c, integ, lb, ub, rows, time_limit_s, mip_gap)
    params = {"p": p, "budget": budget, "capacitated": capacitated, "single_source": single_source,
              "time_limit_s": time_limit_s, "mip_gap": mip_gap, "n_options": int(nx), "n_pairs": int(nk)}
    if out.x is None:
        return build_result(problem, model, "exact", out.status, np.zeros(0, int), float("nan"),
                            out.bound if median else -out.bound, time.perf_counter() - t0, params,
                            " ".join(notes))
    x = out.x[:nx] > 0.5
    y = out.x[nx:nx + nk]
    # Each point goes to the option carrying most of its demand; served share = Σ y.
    order = np.lexsort((-y, k_dem))
    first = np.ones(nk, bool)
    first[1:] = k_dem[order][1:] != k_dem[order][:-1]
    a_opt = np.full(n_dem, -1)
    sel = order[first]
    a_opt[k_dem[sel]] = np.where(y[sel] > 1e-9, k_opt[sel], -1)
    served = np.minimum(np.bincount(k_dem, weights=y, minlength=n_dem), 1.0)
    obj, bound = (out.fun, out.bound) if median else (-out.fun, -out.bound)
    return build_result(problem, "capacitated_" + model if capacitated else model, "exact", out.status,
                        np.nonzero(x)[0], obj, bound, time.perf_counter() - t0, params, " ".join(notes),
                        assignment_options=a_opt, served_share=served,
                        site_load=np.bincount(o.site[k_opt], weights=w[k_dem] * y, minlength=problem.n_sites))


# ---------------------------------------------------------------------- p-center
def min_cover_count(problem: SitingProblem, radius: float, time_limit_s: float | None):
    """Fewest new options so every positive-weight point is within ``radius`` minutes of an open site.

    Returns ``(status, count, bound, chosen_options)``; status "infeasible" when some point is
    beyond ``radius`` of every site.
    """
    o = problem.options
    T = o.times
    within = T.copy()
    within.data = (within.data <= radius).astype(float)
    within.eliminate_zeros()  # drops pairs beyond the radius (data already 0/1)
    need = problem.weights > 0
    cov_fixed = np.asarray(within[o.fixed].sum(axis=0)).ravel() > 0
    new = np.nonzero(~o.fixed)[0]
    An = within[new]
    cnt = np.asarray(An.sum(axis=0)).ravel()
    todo = need & ~cov_fixed
    if np.any(todo & (cnt == 0)):
        return "infeasible", math.inf, math.inf, None
    cols = np.nonzero(todo)[0]
    if len(cols) == 0:
        return "optimal", 0, 0.0, np.zeros(0, int)
    A, _, _ = aggregate_columns(An[:, cols], np.ones(len(cols)))
    nx = len(new)
    rows = [(A.T.tocsr(), np.ones(A.shape[1]), np.full(A.shape[1], np.inf))]
    opr = one_per_site_rows(o.site[new])
    if opr.shape[0]:
        rows.append((opr, np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
    out = run_milp(np.ones(nx), np.ones(nx), np.zeros(nx), np.ones(nx), rows, time_limit_s, 0.0)
    if out.x is None:
        return out.status, math.inf, out.bound, None
    return out.status, int(round(out.fun)), out.bound, new[out.x > 0.5]


def solve_pcenter_exact(problem: SitingProblem, p: int, *, time_limit_s: float | None = 120.0) -> SitingResult:
    """Vertex p-center: least worst travel time over positive-weight, reachable demand.

    Binary search over the distinct stored times; each step asks a set-covering MILP whether
    ``p`` new sites (plus the existing ones) reach every point within that radius. The
    objective is unweighted (the worst point counts whatever its weight).
    """
    t0 = time.perf_counter()
    o = problem.options
    T = o.times.tocsc()
    need = (problem.weights > 0) & problem.coverable
    notes = []
    if np.any((problem.weights > 0) & ~problem.coverable):
        notes.append("points beyond every site's limit are left out of the p-center objective.")
    mins = np.full(problem.n_demand, np.inf)
    has = np.diff(T.indptr) > 0
    mins[has] = np.minimum.reduceat(T.data, T.indptr[:-1][has]) if T.nnz else np.inf
    lower = float(mins[need].max(initial=0.0))
    values = np.unique(o.times.data)
    values = values[values >= lower]
    sub = _restrict_weights(problem, need)
    if not need.any() or len(values) == 0:
        return build_result(problem, "pcenter", "exact", "optimal", np.zeros(0, int), 0.0, 0.0,
                            time.perf_counter() - t0, {"p": p},
                            "no demand point is within reach of any site: nothing to centre on.")
    lo, hi = 0, len(values) - 1
    best = None
    status = "optimal"

    def deadline():
        return None if time_limit_s is None else max(time_limit_s - (time.perf_counter() - t0), 0.01)

    st, cnt, bnd, ch = min_cover_count(sub, values[hi], deadline())
    if ch is None or cnt > p:
        return build_result(problem, "pcenter", "exact", "infeasible", np.zeros(0, int), float("nan"),
                            float("nan"), time.perf_counter() - t0, {"p": p},
                            f"{p} new sites cannot reach every point within the limit"
                            + (f"; at least {cnt} are needed." if np.isfinite(cnt) else "."))
    best = ch
    while lo < hi:
        mid = (lo + hi) // 2
        st, cnt, bnd, ch = min_cover_count(sub, values[mid], deadline())
        if ch is not None and cnt <= p:
            hi, best = mid, ch
        else:
            if st not in ("optimal", "infeasible") and not (np.isfinite(bnd) and math.ceil(bnd - 1e-6) > p):
                status = "time_limit"  # not proven: the bound below may be loose
            lo = mid + 1
    res = build_result(problem, "pcenter", "exact", status, best, float(values[hi]), float(values[lo]),
                       time.perf_counter() - t0, {"p": p, "time_limit_s": time_limit_s}, " ".join(notes))
    # The worst assigned time over the demand that counts is the objective actually achieved.
    res.objective = float(np.nanmax(np.where(need, res.assigned_time, np.nan)))
    return res


def _restrict_weights(problem: SitingProblem, need: np.ndarray) -> SitingProblem:
    """A shallow copy whose weights are zero outside ``need`` (options are shared)."""
    import copy

    sub = copy.copy(problem)
    sub.weights = np.where(need, 1.0, 0.0)
    return sub
