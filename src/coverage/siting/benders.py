"""Exact MCLP by Benders decomposition (Cordeau, Furini & Ljubić 2019, "Benders decomposition
for very large scale partial set covering and maximal covering location problems", EJOR
275(3):882–896).

The covering variables z_j are projected out. For a point ȳ (fractional or not) with coverage
s = Aᵀȳ, the points U = {j : s_j < 1} give the cut

    θ_g ≤ Σ_{j ∈ g \\ U} w_j + Σ_i y_i Σ_{j ∈ g ∩ U} A_ij w_j        (one per group g of points)

valid for every y ∈ [0, 1]ⁿ because min(1, s_j) ≤ 1 and ≤ s_j; it is tight at ȳ. The master
holds only y, one θ per group and the cuts; the groups are local (each point goes to the first
of a few hundred greedy "seed" sites that covers it), so each cut touches only the sites near
its group and stays sparse.

HiGHS (1.16) has no lazy-constraint callback, so the branch-and-cut of the paper becomes a loop:

1. **LP phase**: Kelley's cutting planes on the master LP with in-out stabilisation (Ben-Ameur
   & Neto 2007; Fischetti, Ljubić & Sinnl 2017): cuts are taken at a point between the master
   solution and a core point (first the heuristic solution), which converges in far fewer
   rounds. Every evaluated point is LP-feasible, so the LP bound is bracketed.
2. **MIP phase**: the master with binary y and every cut so far, warm-started from the best
   solution known; each integer master solution is scored exactly, its cuts are added, and the
   master is solved again, until the master's bound (a valid MCLP upper bound) meets the best
   solution within ``mip_gap``, or time runs out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .cover import CoverData, cover_data, trivial_cover_result
from .heuristic import greedy_mclp, interchange
from .milp import new_highs
from .problem import one_per_site_rows
from .result import build_result, selected_options

#: Seed sites (groups of points for the disaggregated θ): max(2p, 200), at most this many.
MAX_GROUPS = 600


@dataclass
class BendersOutcome:
    chosen: np.ndarray  # rows of cd.A opened (best solution)
    value: float  # its covered weight (new sites only)
    bound: float  # proven upper bound on the covered weight of new sites
    status: str  # "optimal" or "time_limit"
    lp_bound: float
    rounds: int
    n_cuts: int
    log: list
    n_closed: int = 0  # sites closed by reduced costs before the MIP phase
    last_master: str = ""  # HiGHS status of the last master MIP


def _groups(cd: CoverData, p: int | None) -> np.ndarray:
    """Group per point: the first greedy seed site covering it (seeds in greedy order)."""
    n = cd.A.shape[0]
    k = min(n, MAX_GROUPS, max(2 * (p or 1), 200))
    seeds = greedy_mclp(cd, k, None)
    S = cd.A.tocsr()[seeds].tocsc()
    S.sort_indices()
    has = np.diff(S.indptr) > 0
    g = np.full(cd.A.shape[1], len(seeds))
    g[has] = S.indices[S.indptr[:-1][has]]  # smallest seed rank covering the point
    _, g = np.unique(g, return_inverse=True)
    return g


class _Master:
    """The master problem in a persistent HiGHS model: columns [y (n), θ (G)]."""

    def __init__(self, highspy, cd: CoverData, grp: np.ndarray, p, budget):
        self.hs = highspy
        A = cd.A.tocsr()
        self.A, self.At, self.w, self.grp = A, cd.A.T.tocsr(), cd.w, grp
        self.n, self.G = A.shape[0], int(grp.max()) + 1
        self.Wg = np.bincount(grp, weights=cd.w, minlength=self.G)
        h = new_highs(highspy)
        h.setOptionValue("presolve", "off")
        inf = highspy.kHighsInf
        n, G = self.n, self.G
        cost = np.concatenate([np.zeros(n), -np.ones(G)])
        h.addVars(n + G, np.zeros(n + G), np.concatenate([np.ones(n), self.Wg]))
        h.changeColsCost(n + G, np.arange(n + G, dtype=np.int32), cost)
        rows = []
        if p:
            rows.append((np.ones(n), float(p)))
        if budget:
            rows.append((cd.cost.astype(float), float(budget)))
        for coef, rhs in rows:
            idx = np.nonzero(coef)[0].astype(np.int32)
            h.addRow(-inf, rhs, len(idx), idx, coef[idx])
        opr = one_per_site_rows(cd.site).tocsr()
        if opr.shape[0]:
            h.addRows(opr.shape[0], np.full(opr.shape[0], -inf), np.ones(opr.shape[0]), opr.nnz,
                      opr.indptr[:-1].astype(np.int32), opr.indices.astype(np.int32), opr.data.astype(float))
        self.h = h
        self.n_cuts = 0
        self.cuts: list = []
        # HiGHS' own time limit is checked rarely inside the MIP root (seen 44 s late on the
        # planar instance): an interrupt callback holds the deadline.
        self.deadline = np.inf
        h.cbMipInterrupt += self._stop_at_deadline
        h.cbSimplexInterrupt += self._stop_at_deadline
        # Every integer solution HiGHS finds in the master is scored and cut afterwards (its θ
        # may overestimate; pruning against it still leaves the master's bound valid, as no
        # pruned node holds a solution truly worth more than that θ).
        self.found: list[np.ndarray] = []
        h.cbMipSolution += self._collect

    def _collect(self, event) -> None:
        self.found.append(np.asarray(event.data_out.mip_solution)[:self.n] > 0.5)
    def _stop_at_deadline(self, event) -> None:
        # Always set the flag: HiGHS keeps the callback input across runs, so an interrupt from
        # one solve would otherwise stop the next one at once.
        event.interrupt(time.perf_counter() > self.deadline)

    def value(self, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(covered weight, per-group covered weight) of y (LP value min(1, s) for fractional y)."""
        s = np.minimum(self.At @ y, 1.0)
        per = np.bincount(self.grp, weights=self.w * s, minlength=self.G)
        return float(per.sum()), per

    def add_cuts(self, y_sep: np.ndarray, y: np.ndarray | None = None, theta: np.ndarray | None = None,
                 tol: float = 0.0) -> int:
        """Add the cuts taken at ``y_sep`` that the master point ``(y, theta)`` violates by more than
        ``tol`` (all of them when ``theta`` is None). Returns the number added."""
        s = self.At @ y_sep
        U = s < 1.0 - 1e-9
        const = np.bincount(self.grp, weights=self.w * ~U, minlength=self.G)
        # C[i, g] = Σ_{j ∈ g ∩ U} A_ij w_j
        Wg = sp.csr_matrix((self.w[U], (np.nonzero(U)[0], self.grp[U])), shape=(len(self.w), self.G))
        C = (self.A @ Wg).tocsc()
        C.sort_indices()
        if theta is None:
            todo = np.arange(self.G)
        else:
            todo = np.nonzero(theta > const + np.asarray(C.T @ y).ravel() + tol)[0]
        if not len(todo):
            return 0
        Ct = C[:, todo].T.tocsr()  # one row per cut, over y
        # Row: θ_g − Σ_i C_ig y_i ≤ const_g
        rows = sp.hstack([-Ct, sp.csr_matrix((np.ones(len(todo)), (np.arange(len(todo)), todo)),
                                             shape=(len(todo), self.G))], format="csr")
        self.h.addRows(len(todo), np.full(len(todo), -self.hs.kHighsInf), const[todo], rows.nnz,
                       rows.indptr[:-1].astype(np.int32), rows.indices.astype(np.int32), rows.data.astype(float))
        self.cuts.append((Ct, todo, const[todo]))
        self.n_cuts += len(todo)
        return len(todo)

    def solve(self, time_limit_s: float):
        # HiGHS' clock runs on across calls: the limit is on its total run time.
        self.h.setOptionValue("time_limit", self.h.getRunTime() + max(float(time_limit_s), 0.05))
        self.deadline = time.perf_counter() + max(float(time_limit_s), 0.05)
        self.h.run()
        info = self.h.getInfo()
        x = np.asarray(self.h.getSolution().col_value)
        return x[:self.n], x[self.n:], info

    def theta_at(self, y: np.ndarray) -> np.ndarray:
        """The largest θ the cuts allow at y (with y, a feasible master point: the MIP's start)."""
        th = self.Wg.copy()
        for Ct, g, const in self.cuts:
            np.minimum.at(th, g, const + Ct @ y)
        return np.maximum(th, 0.0)


def benders_mclp(cd: CoverData, p: int | None, budget: float | None, start: np.ndarray, time_limit_s: float,
                 mip_gap: float = 0.0, lp_tol: float = 2e-4, lp_share: float = 0.4,
                 alpha: float = 0.3) -> BendersOutcome:
    """Solve the MCLP on ``cd`` (new sites only) from the feasible ``start`` (rows of cd.A).

    The LP phase stops at a relative gap ``lp_tol`` between its bracket's ends, after
    ``lp_share`` of the time, or when it stalls; then the LP solution's best sites seed a local
    search (a better incumbent), reduced costs close the sites that cannot be in a better
    solution, and the MIP phase runs to ``mip_gap`` or the time limit.
    """
    import highspy

    t0 = time.perf_counter()
    deadline = t0 + time_limit_s
    grp = _groups(cd, p)
    m = _Master(highspy, cd, grp, p, budget)
    n = m.n
    best = np.zeros(n)
    best[start] = 1.0
    best_v, _ = m.value(best)
    log = []
    tol = 1e-7 * max(1.0, float(cd.w.sum()))
    m.add_cuts(best)
    y_lp, lp_ub, rc = _lp_phase(m, best, best_v, tol, t0 + lp_share * time_limit_s, lp_tol, alpha, log)
    rounds = len(log)
    # A better incumbent from the LP's sites (greedy on its support, then swaps).
    y_h = _lp_rounding(cd, y_lp, p, budget, min(5.0, 0.1 * time_limit_s))
    v_h, _ = m.value(y_h)
    if v_h > best_v:
        best, best_v = y_h, v_h
    # ---- MIP phase, on the sites the reduced costs leave open
    closed = (rc is not None) & (lp_ub - (rc if rc is not None else 0) < best_v - tol) & (best < 0.5)
    if closed.any():
        idx = np.nonzero(closed)[0].astype(np.int32)
        m.h.changeColsBounds(len(idx), idx, np.zeros(len(idx)), np.zeros(len(idx)))
    m.h.changeColsIntegrality(n, np.arange(n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n))
    m.h.setOptionValue("mip_rel_gap", float(mip_gap))
    m.h.setOptionValue("mip_heuristic_run_feasibility_jump", False)
    bound, status, ms = lp_ub, "time_limit", None
    while time.perf_counter() < deadline - 0.05:
        sol = highspy.HighsSolution()
        sol.col_value = np.concatenate([best, m.theta_at(best)])
        sol.value_valid = True
        m.h.setSolution(sol)
        y, th, info = m.solve(deadline - time.perf_counter())
        ms = m.h.getModelStatus()  # read before adding cuts (a changed model resets it)
        rounds += 1
        # Closed sites are only excluded from solutions better than the incumbent, so the
        # reduced master's bound holds for the whole problem once it is at least best_v.
        mb = -float(info.mip_dual_bound)
        if np.isfinite(mb):
            bound = min(bound, max(mb, best_v))
        added = 0
        sols = m.found + ([y > 0.5] if info.primal_solution_status == 2 else [])
        m.found = []
        for yb in {tuple(np.nonzero(v)[0]): v for v in sols}.values():
            yi = yb.astype(float)
            v, per = m.value(yi)
            if v > best_v:
                best, best_v = yi, v
            # The cut at yi is violated wherever the master's θ at yi exceeds the true value.
            added += m.add_cuts(yi, yi, m.theta_at(yi), tol)
        log.append(("mip", rounds, best_v, bound, m.n_cuts, time.perf_counter() - t0, int(closed.sum()), str(ms)))
        if bound - best_v <= max(mip_gap * max(1.0, best_v), tol):
            status = "optimal"
            break
        if ms != highspy.HighsModelStatus.kOptimal or added == 0:
            break  # out of time, or the master's optimum is exact at its own solution
    return BendersOutcome(np.nonzero(best > 0.5)[0], best_v, max(bound, best_v), status, lp_ub, rounds,
                          m.n_cuts, log, int(closed.sum()), str(ms).rsplit(".", 1)[-1] if ms is not None else "none")


def _lp_phase(m: _Master, core: np.ndarray, lp_lb: float, tol: float, until: float, lp_tol: float, alpha: float,
              log: list):
    """In-out Kelley on the master LP. Returns (LP solution, LP upper bound, reduced costs of y or None)."""
    lam, stall, flat = alpha, 0, 0
    lp_ub, y, rc, y_ok = np.inf, core, None, core
    while time.perf_counter() < until:
        y, th, info = m.solve(until - time.perf_counter())
        if m.h.getModelStatus() != m.hs.HighsModelStatus.kOptimal:
            break  # interrupted: keep the last complete round's solution and reduced costs
        ub = -float(info.objective_function_value)
        flat = flat + 1 if ub > lp_ub - 1e-5 * abs(ub) else 0
        if ub <= lp_ub:
            # Reduced costs go with this round's LP value: forcing y_i = 1 costs at least rc_i.
            lp_ub, rc, y_ok = ub, np.asarray(m.h.getSolution().col_dual)[:m.n], y
        if lp_ub - lp_lb <= lp_tol * max(1.0, lp_ub) or flat >= 10:
            break
        sep = lam * y + (1 - lam) * core
        v, _ = m.value(sep)
        if v > lp_lb + 1e-6 * max(1.0, v):
            lp_lb, stall = v, 0
        else:
            stall += 1
            if stall >= 5:
                lam = 1.0  # the core no longer helps: plain Kelley
        added = m.add_cuts(sep, y, th, tol)
        if added == 0 and lam < 1:
            added = m.add_cuts(y, y, th, tol)
        core = 0.5 * core + 0.5 * y
        log.append(("lp", len(log) + 1, lp_lb, lp_ub, m.n_cuts, time.perf_counter()))
        if added == 0:
            break  # the master's LP point is exact: it is the LP optimum
    return y_ok, lp_ub, rc


def _lp_rounding(cd: CoverData, y_lp: np.ndarray, p, budget, time_budget_s: float) -> np.ndarray:
    """Greedy restricted to the LP's support (its 3p largest values), then swaps over all sites."""
    k = min(len(y_lp), 3 * (p or max(1, int(np.ceil(y_lp.sum())))))
    support = np.argsort(-y_lp)[:k]
    sub = CoverData(options=cd.options[support], A=cd.A.tocsr()[support].tocsc(), w=cd.w, group=None,
                    group_names=None, group_total=None, group_before=None, group_coverable=None,
                    w_total=cd.w_total, w_before=cd.w_before, w_coverable=cd.w_coverable, n_points=cd.n_points,
                    cost=cd.cost[support], site=cd.site[support])
    chosen = support[greedy_mclp(sub, p, budget)]
    chosen = interchange(cd, chosen, p, budget, time_budget_s=time_budget_s)
    y = np.zeros(len(y_lp))
    y[chosen] = 1.0
    return y


def solve_mclp_benders(problem, *, p: int | None, budget: float | None, time_limit_s: float | None,
                       mip_gap: float, start=None):
    """MCLP (no equity rows) by :func:`benders_mclp` as a :class:`SitingResult`; ``start`` (a
    feasible result, e.g. the heuristic's) is the first incumbent, else greedy + swaps."""
    t0 = time.perf_counter()
    cd = cover_data(problem, with_groups=False)
    params = {"p": p, "budget": budget, "time_limit_s": time_limit_s, "mip_gap": mip_gap,
              "n_options": len(cd.options), "n_demand_points": cd.n_points, "n_demand_columns": len(cd.w)}
    if len(cd.options) == 0 or len(cd.w) == 0:
        return trivial_cover_result(problem, "mclp", cd, "exact", t0, params)
    if start is not None:
        first = np.nonzero(np.isin(cd.options, selected_options(problem, start)))[0]
    else:
        first = interchange(cd, greedy_mclp(cd, p, budget), p, budget, time_budget_s=2.0)
    tl = 120.0 if time_limit_s is None else float(time_limit_s)
    out = benders_mclp(cd, p, budget, first, max(tl - (time.perf_counter() - t0), 1.0), mip_gap)
    n_mip = sum(1 for r in out.log if r[0] == "mip")
    params.update(benders_rounds=out.rounds, benders_cuts=out.n_cuts, lp_bound=cd.w_before + out.lp_bound,
                  benders_mip_rounds=n_mip, closed_by_reduced_cost=out.n_closed)
    return build_result(problem, "mclp", "exact", out.status, cd.options[out.chosen], cd.w_before + out.value,
                        cd.w_before + out.bound, time.perf_counter() - t0, params,
                        [Text("solver.benders", lp_rounds=out.rounds - n_mip, mip_rounds=n_mip, last=out.last_master,
                              cuts=out.n_cuts, closed=out.n_closed, lp_bound=cd.w_before + out.lp_bound)])
