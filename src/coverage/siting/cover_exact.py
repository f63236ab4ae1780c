"""The exact coverage models (LSCP, partial cover, MCLP, per-group equity rows) as one cover
MILP solved by HiGHS (:mod:`.milp`).

Constraint matrices are assembled from the sparse coverage matrix with whole-array operations
(``scipy.sparse`` blocks built from index arrays); nothing loops over matrix entries. The data
(:func:`~eldercare_coverage.siting.cover.cover_data`) has fixed-covered and unreachable demand
dropped and identical columns merged, which keeps the MILP small. An MCLP without a given
start is warm-started from the greedy + swap heuristic (:mod:`.heuristic`).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .cover import CoverData, cover_data, group_need, trivial_cover_result, use_cost
from .heuristic import greedy_mclp, interchange
from .milp import pad_columns, run_milp
from .problem import SitingProblem, one_per_site_rows
from .result import SitingResult, build_result, selected_options


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
    weight_c = cd.cost if use_cost(problem, minimize) else np.ones(nx)
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
        rows.append((pad_columns(opr, nx + (0 if model == "lscp" else m)), np.full(opr.shape[0], -np.inf),
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
