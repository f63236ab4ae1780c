"""The p-median as a :class:`SitingResult`: the heuristic of :mod:`.median` (greedy, vertex
substitution, iterated local search, Lagrangian bound) and the exact method, the radius MILP of
Elloumi (2010) warm-started from it and shrunk by its Lagrangian variable fixing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .median import (greedy_add, local_search, median_cost, median_data, pmedian_heuristic, round_bound,
                     two_nearest)
from .milp import MilpOutcome, pad_columns, run_milp
from .problem import SitingProblem, one_per_site_rows
from .result import SitingResult, build_result


def solve_pmedian_heuristic(problem: SitingProblem, *, p: int | None = None, budget: float | None = None,
                            time_limit_s: float = 10.0) -> SitingResult:
    """Greedy + vertex substitution + iterated local search, with the Lagrangian lower bound
    (see :mod:`.median`). Opens exactly ``p`` new sites where there are that many."""
    if not p and not budget:
        raise ValueError("pmedian needs p (number of new sites) or a budget.")
    t0 = time.perf_counter()
    md = median_data(problem)
    x, v, lag = pmedian_heuristic(md, p, budget, max(time_limit_s - (time.perf_counter() - t0), 0.0))
    bound = min(lag.bound, v)
    status = "optimal" if v - bound <= 1e-9 * max(1.0, abs(v)) else "feasible"
    notes = [Text("solver.unserved_penalty", minutes=float(md.pen))] if md.need_pen else []
    return build_result(problem, "pmedian", "heuristic", status, np.nonzero(x & ~md.fixed)[0], v, bound,
                        time.perf_counter() - t0, {"p": p, "budget": budget, "time_limit_s": time_limit_s,
                                                   "n_options": int(md.n_opt)}, notes)


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
    if not p and not budget:
        raise ValueError("pmedian needs p (number of new sites) or a budget.")
    t0 = time.perf_counter()
    md = median_data(problem)
    tl = 120.0 if time_limit_s is None else float(time_limit_s)
    # The heuristic's constructive part (greedy, Lagrangian with its primal solutions, swap
    # descents) starts the MILP; its iterated local search runs only if the MILP stops unproven,
    # from the better incumbent, in the time kept back for it (on pmed2 the search took 0.4 s of
    # a 0.5 s exact run whose MILP needed 0.1 s).
    h_time = heuristic_time_s if heuristic_time_s is not None else min(10.0, 0.5 * tl)
    x_h, ub, lag = pmedian_heuristic(md, p, budget, h_time, max_stale=0)
    polish_s = min(10.0, 0.1 * tl)
    params = {"p": p, "budget": budget, "time_limit_s": time_limit_s, "mip_gap": mip_gap,
              "n_options": int(md.n_opt), "n_pairs": int(len(md.R)), "lagrangian_bound": float(lag.bound)}
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
    if n_opt and np.bincount(md.site[forced & ~md.fixed], minlength=md.site.max() + 1).max(initial=0) > 1:
        # Two options of one site would both have to open (the relaxation ignores one-per-site):
        # no solution beats the incumbent, which is therefore optimal.
        return MilpOutcome("infeasible", None, np.inf, np.inf), None, 0
    # A forced option's site hosts no other option.
    site_taken = np.zeros(md.site.max() + 1 if n_opt else 0, bool)
    site_taken[md.site[forced]] = True
    avail = ~md.fixed & ~forced & ~closed & ~site_taken[md.site]
    if not avail.any():
        # The fixing left one candidate solution: the forced options (HiGHS calls an empty model an error).
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
        rows.append((pad_columns(opr, ny + nz), np.full(opr.shape[0], -np.inf), np.ones(opr.shape[0])))
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
