"""Greedy + interchange heuristics for the coverage models, each with a proven bound.

MCLP: greedy by marginal covered weight (per unit cost under a budget), then best-swap
interchange; the bound is a Lagrangian relaxation of the covering rows ``z_j <= Σ x_o``
minimised by projected subgradient steps (every evaluated multiplier vector gives a valid
upper bound), seeded with the better of approximate LP duals from HiGHS' first-order solver
(PDLP, when highspy is installed) and duals read off the greedy solution. Its limit is the
LP relaxation: on instances whose LP gap is large no Lagrangian bound proves the heuristic
closer than that gap (see bench/bench_siting.py).
LSCP / partial: greedy by newly covered weight per cost, redundant sites dropped; the bound
is the LP relaxation solved by HiGHS.

Each iteration is a handful of sparse matrix–vector products over the coverage matrix, so
the cost per step is O(nnz), never a Python loop over demand points.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ..messages import Text
from .cover import CoverData, cover_data, group_need, trivial_cover_result, use_cost
from .milp import PRESOLVE_MAX_NNZ, new_highs
from .problem import SitingProblem
from .result import SitingResult, build_result, selected_options


def _site_block(cd: CoverData) -> tuple[np.ndarray, np.ndarray]:
    """(site code per option, options sorted by site) for 'one option per site' bookkeeping."""
    _, code = np.unique(cd.site, return_inverse=True)
    return code, np.argsort(code, kind="stable")


def greedy_mclp(cd: CoverData, p: int | None, budget: float | None) -> np.ndarray:
    """Greedy MCLP: add the option with most uncovered weight (per cost with a budget)."""
    A = cd.A.tocsr()
    Ac = cd.A.tocsc()
    gain = A @ cd.w
    covered = np.zeros(len(cd.w), bool)
    code, _ = _site_block(cd)
    blocked = np.zeros(len(code), bool)
    site_opts = sp.csr_matrix((np.ones(len(code)), (code, np.arange(len(code)))))
    chosen: list[int] = []
    spent = 0.0
    limit = p if p else len(code)
    while len(chosen) < limit:
        score = gain.copy()
        if budget:
            score = np.where(cd.cost > 0, gain / np.maximum(cd.cost, 1e-300), np.where(gain > 0, np.inf, 0.0))
            blocked_now = blocked | (cd.cost > budget - spent + 1e-9)
        else:
            blocked_now = blocked
        score[blocked_now] = -np.inf
        o = int(np.argmax(score))
        if not np.isfinite(score[o]) and score[o] < 0 or gain[o] <= 0:
            break
        chosen.append(o)
        spent += cd.cost[o]
        blocked[site_opts[code[o]].indices] = True
        cols = A.indices[A.indptr[o]:A.indptr[o + 1]]
        newc = cols[~covered[cols]]
        covered[newc] = True
        gain -= Ac[:, newc] @ cd.w[newc]
    return np.array(chosen, dtype=int)


def interchange(cd: CoverData, chosen: np.ndarray, p: int | None, budget: float | None,
                time_budget_s: float = 5.0) -> np.ndarray:
    """Best-improvement swaps (one out, one in) until none improves covered weight."""
    A = cd.A.tocsr()
    Ac = cd.A.tocsc()
    w = cd.w
    x = np.zeros(A.shape[0], bool)
    x[chosen] = True
    code, _ = _site_block(cd)
    t0 = time.perf_counter()
    improved = True
    while improved and time.perf_counter() - t0 < time_budget_s:
        improved = False
        cnt = A.T @ x.astype(float)
        gain_add = A @ (w * (cnt == 0))
        sel = np.nonzero(x)[0]
        spent = cd.cost[sel].sum()
        used_sites = np.zeros(code.max() + 1, bool)
        used_sites[code[sel]] = True
        for s in sel:
            if time.perf_counter() - t0 > time_budget_s:
                break
            cols = A.indices[A.indptr[s]:A.indptr[s + 1]]
            uniq = cols[cnt[cols] == 1]
            loss = w[uniq].sum()
            g = gain_add + Ac[:, uniq] @ w[uniq]
            bad = x | (used_sites[code] & (code != code[s]))
            if budget:
                bad |= cd.cost > budget - spent + cd.cost[s] + 1e-9
            g[bad] = -np.inf
            c = int(np.argmax(g))
            if g[c] - loss > 1e-9 * max(1.0, loss):
                x[s] = False
                x[c] = True
                used_sites[code[s]] = False
                used_sites[code[c]] = True
                spent += cd.cost[c] - cd.cost[s]
                cnt = A.T @ x.astype(float)
                gain_add = A @ (w * (cnt == 0))
                improved = True
    return np.nonzero(x)[0]


def lagrangian_bound(cd: CoverData, p: int | None, budget: float | None, lower: float,
                     time_budget_s: float = 3.0, max_iter: int = 5000,
                     start: np.ndarray | None = None,
                     lam0: np.ndarray | None = None) -> tuple[float, np.ndarray | None, float]:
    """Upper bound on the covered weight of new sites (MCLP) by Lagrangian relaxation.

    L(λ) = Σ_j (w_j − λ_j) + max over the site limit of Σ_o x_o (Aλ)_o, with 0 ≤ λ ≤ w. The
    second term is the sum of the p largest (Aλ)_o, or a fractional knapsack under a budget
    (both relax the problem further, so every evaluated L(λ) is a valid upper bound).
    λ follows subgradient steps (Polyak step towards ``lower``, halved after 20 steps without
    progress). ``lam0`` seeds λ (e.g. LP duals); otherwise ``start`` (chosen options) does:
    the weight of points covered at most once.
    Each relaxed solution is also scored as a primal candidate.

    Returns ``(bound, best relaxed selection, its covered weight)``.
    """
    A = cd.A.tocsr()
    At = A.T.tocsr()
    w = cd.w
    seeds = [w / np.maximum(np.asarray(A.sum(axis=0)).ravel(), 1.0)]
    if start is not None and len(start):
        xs0 = np.zeros(A.shape[0])
        xs0[start] = 1.0
        seeds.append(np.where(At @ xs0 <= 1, w, 0.0))  # dual-like: uncovered / singly covered points keep value
    if lam0 is not None:
        seeds.append(np.clip(lam0, 0.0, w))
    if p and not budget:  # start from the seed with the best (lowest) bound
        def value(l):
            r = A @ l
            return float(np.sum(w - l) + np.sort(r)[-p:].sum())
        lam = min(seeds, key=value)
    else:
        lam = seeds[-1]
    best = np.inf
    best_sel, best_val = None, -np.inf
    mu = 2.0
    stall = 0
    t0 = time.perf_counter()
    for _ in range(max_iter):
        r = A @ lam
        if budget:
            order = np.argsort(-r / np.maximum(cd.cost, 1e-300))
            cum = np.cumsum(cd.cost[order])
            full = cum <= budget
            xs = np.zeros(len(r))
            xs[order[full]] = 1.0
            k = np.searchsorted(cum, budget, side="right")
            if k < len(order):
                prev = cum[k - 1] if k else 0.0
                xs[order[k]] = (budget - prev) / max(cd.cost[order[k]], 1e-300)
            if p:  # both limits: take the smaller of the two relaxations
                xp = np.zeros(len(r))
                top = np.argpartition(-r, min(p, len(r)) - 1)[:p] if len(r) else []
                xp[top] = 1.0
                if xp @ r < xs @ r:
                    xs = xp
        else:
            xs = np.zeros(len(r))
            if len(r):
                top = np.argpartition(-r, min(p, len(r)) - 1)[:p]
                xs[top] = 1.0
        zs = w > lam
        val = float(np.sum((w - lam)[zs]) + xs @ r)
        if not np.isfinite(best) or val < best - 1e-9 * max(1.0, best):
            best, stall = val, 0
        else:
            stall += 1
            if stall >= 20:
                mu, stall = mu / 2, 0
        cover_cnt = At @ xs
        if not budget:  # the relaxed choice is a feasible p-set (budget relaxations may not be)
            got = float(w[cover_cnt >= 1 - 1e-9].sum())
            if got > best_val:
                best_val, best_sel = got, np.nonzero(xs > 0.5)[0]
        g = cover_cnt - zs
        # Project the direction: components that would push λ out of [0, w] do not move it,
        # and leaving them in ||g||² would shrink every step.
        g[((lam <= 0) & (g > 0)) | ((lam >= w) & (g < 0))] = 0.0
        gg = float(g @ g)
        target = max(lower, best_val)
        if gg == 0 or best - target <= 1e-6 * max(1.0, best) or mu < 1e-5:
            break
        lam = np.clip(lam - mu * (val - target) / gg * g, 0.0, w)
        if time.perf_counter() - t0 > time_budget_s:
            break
    return best, best_sel, best_val


def lp_duals_pdlp(cd: CoverData, p: int | None, budget: float | None, time_limit_s: float) -> np.ndarray | None:
    """Approximate LP duals of the covering rows from HiGHS' first-order LP solver (PDLP).

    The duals need not be optimal: they only seed λ, and L(λ) is a valid bound for any λ.
    Returns None when highspy is missing or gives no duals.
    """
    try:
        import highspy
    except ImportError:  # pragma: no cover
        return None
    n, m = cd.A.shape
    At = cd.A.T.tocsr()
    lim_rows = []
    if p:
        lim_rows.append((np.ones(n), float(p)))
    if budget:
        lim_rows.append((cd.cost, float(budget)))
    top = sp.hstack([-At, sp.identity(m, format="csr")], format="csr")
    extra = sp.csr_matrix(np.vstack([np.concatenate([r, np.zeros(m)]) for r, _ in lim_rows]))
    M = sp.vstack([top, extra], format="csc")
    h = new_highs(highspy)
    h.setOptionValue("solver", "pdlp")
    h.setOptionValue("presolve", "off")
    h.setOptionValue("time_limit", max(float(time_limit_s), 0.1))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + m, M.shape[0]
    lp.col_cost_ = np.concatenate([np.zeros(n), -cd.w])
    lp.col_lower_ = np.zeros(n + m)
    lp.col_upper_ = np.ones(n + m)
    lp.row_lower_ = np.full(M.shape[0], -np.inf)
    lp.row_upper_ = np.concatenate([np.zeros(m), [b for _, b in lim_rows]])
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n + m, M.shape[0]
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(float)
    h.passModel(lp)
    h.run()
    dual = np.asarray(h.getSolution().row_dual)
    if dual.size < m:
        return None
    return np.abs(dual[:m])


def _covered(cd: CoverData, chosen: np.ndarray) -> float:
    x = np.zeros(cd.A.shape[0])
    x[chosen] = 1.0
    return float(cd.w[(cd.A.T @ x) > 0].sum())


def solve_mclp_heuristic(problem: SitingProblem, *, p: int | None = None, budget: float | None = None,
                         time_limit_s: float = 10.0) -> SitingResult:
    """Greedy + interchange MCLP with a Lagrangian upper bound (gap reported)."""
    if not p and not budget:
        raise ValueError("MCLP needs p (number of new sites) or a budget.")
    t0 = time.perf_counter()
    cd = cover_data(problem, with_groups=False)
    params = {"p": p, "budget": budget, "time_limit_s": time_limit_s, "n_options": len(cd.options),
              "n_demand_points": cd.n_points, "n_demand_columns": len(cd.w)}
    if len(cd.options) == 0 or len(cd.w) == 0:
        return trivial_cover_result(problem, "mclp", cd, "heuristic", t0, params)
    chosen = greedy_mclp(cd, p, budget)
    chosen = interchange(cd, chosen, p, budget, time_budget_s=max(0.15 * time_limit_s, 0.5))
    gained = _covered(cd, chosen)
    # Most of the time goes to the bound; its relaxed solutions are primal candidates too.
    remaining = max(0.75 * time_limit_s - (time.perf_counter() - t0), 0.5)
    # LP duals from PDLP (if available) seed the multipliers; keep whichever seed bounds better.
    lam0 = lp_duals_pdlp(cd, p, budget, 0.35 * remaining)
    remaining = max(0.75 * time_limit_s - (time.perf_counter() - t0), 0.5)
    ub, lag_sel, lag_val = lagrangian_bound(cd, p, budget, gained, time_budget_s=remaining, start=chosen,
                                            lam0=lam0)
    if (lag_sel is not None and lag_val > gained * (1 - 0.02)
            and len(np.unique(cd.site[lag_sel])) == len(lag_sel)):  # one option per site
        alt = interchange(cd, lag_sel, p, budget,
                          time_budget_s=max(time_limit_s - (time.perf_counter() - t0), 0.2))
        if _covered(cd, alt) > gained:
            chosen, gained = alt, _covered(cd, alt)
    ub = min(ub, float(cd.w.sum()))
    status = "optimal" if ub - gained <= 1e-9 * max(1.0, ub) else "feasible"
    return build_result(problem, "mclp", "heuristic", status, cd.options[chosen],
                        cd.w_before + gained, cd.w_before + ub, time.perf_counter() - t0, params)


def solve_cover_heuristic(problem: SitingProblem, model: str, *, target_share: float | None = None,
                          minimize: str = "auto", time_limit_s: float = 10.0) -> SitingResult:
    """Greedy LSCP / partial cover (weight per cost), redundant sites removed; LP bound."""
    t0 = time.perf_counter()
    cd = cover_data(problem, with_groups=False)
    n, m = cd.A.shape
    params = {"target_share": target_share, "time_limit_s": time_limit_s, "n_options": n,
              "n_demand_points": cd.n_points, "n_demand_columns": m}
    if n == 0 or m == 0:
        return trivial_cover_result(problem, model, cd, "heuristic", t0, params)
    A = cd.A.tocsr()
    Ac = cd.A.tocsc()
    cost = cd.cost if use_cost(problem, minimize) else np.ones(n)
    notes = []
    if model == "lscp":
        need = float(cd.w.sum())
        val = np.ones(m)  # every column counts the same: all must be covered
    else:
        share = 1.0 if target_share is None else target_share
        need = share * cd.w_total - cd.w_before
        reach = cd.w_coverable - cd.w_before
        if need > reach + 1e-9:
            notes.append(Text("solver.target_unreachable", target=float(share), reachable=cd.w_coverable / cd.w_total))
            need = reach
        val = cd.w
    code, _ = _site_block(cd)
    site_opts = sp.csr_matrix((np.ones(n), (code, np.arange(n))))
    blocked = np.zeros(n, bool)
    gain = A @ val
    covered = np.zeros(m, bool)
    got = 0.0
    chosen = []
    target = m if model == "lscp" else need
    while got < target - 1e-9 * max(1.0, target):
        score = np.where(cost > 0, gain / np.maximum(cost, 1e-300), np.where(gain > 0, np.inf, 0.0))
        score[blocked | (gain <= 0)] = -np.inf
        o = int(np.argmax(score))
        if not np.isfinite(score[o]) and score[o] < 0:
            break
        chosen.append(o)
        blocked[site_opts[code[o]].indices] = True
        cols = A.indices[A.indptr[o]:A.indptr[o + 1]]
        newc = cols[~covered[cols]]
        covered[newc] = True
        got += newc.size if model == "lscp" else cd.w[newc].sum()
        gain -= Ac[:, newc] @ val[newc]
    # Drop sites (most expensive first) whose removal keeps the target.
    x = np.zeros(n, bool)
    x[chosen] = True
    for o in sorted(chosen, key=lambda i: -cost[i]):
        x[o] = False
        cnt = A.T @ x.astype(float)
        ok = (cnt > 0).all() if model == "lscp" else cd.w[cnt > 0].sum() >= need - 1e-9 * max(1.0, need)
        if not ok:
            x[o] = True
    chosen = np.nonzero(x)[0]
    obj = float(cost[chosen].sum())
    # LP relaxation bound.
    if model == "lscp":
        lp = linprog(cost, A_ub=-A.T.tocsr(), b_ub=-np.ones(m), bounds=(0, 1), method="highs",
                     options={"time_limit": max(time_limit_s - (time.perf_counter() - t0), 0.5),
                              "presolve": cd.A.nnz <= PRESOLVE_MAX_NNZ})
    else:
        c = np.concatenate([cost, np.zeros(m)])
        A_ub = sp.vstack([sp.hstack([-A.T.tocsr(), sp.identity(m)]),
                          sp.hstack([sp.csr_matrix((1, n)), sp.csr_matrix(-cd.w.reshape(1, -1))])], format="csr")
        b_ub = np.concatenate([np.zeros(m), [-need]])
        lp = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=(0, 1), method="highs",
                     options={"time_limit": max(time_limit_s - (time.perf_counter() - t0), 0.5),
                              "presolve": cd.A.nnz <= PRESOLVE_MAX_NNZ})
    bound = float(lp.fun) if lp.status == 0 else 0.0
    if model == "lscp" or not use_cost(problem, minimize):
        bound = float(np.ceil(bound - 1e-6)) if not use_cost(problem, minimize) else bound
    status = "optimal" if obj - bound <= 1e-9 * max(1.0, obj) else "feasible"
    return build_result(problem, model, "heuristic", status, cd.options[chosen], obj, bound,
                        time.perf_counter() - t0, params, notes)


# ---------------------------------------------------------------------- equity
def _deficit(cd: CoverData, x: np.ndarray, need: np.ndarray) -> np.ndarray:
    cov = (cd.A.T @ x.astype(float)) > 0
    got = np.bincount(cd.group, weights=cd.w * cov, minlength=len(need))
    return np.maximum(need - got, 0.0)


def repair_groups(cd: CoverData, chosen: np.ndarray, need: np.ndarray, p: int | None, budget: float | None,
                  cost: np.ndarray, time_budget_s: float = 5.0) -> tuple[np.ndarray, bool]:
    """Make every group reach its need: add the option that removes most deficit (per cost),
    or, at the site limit, swap out the chosen option whose loss the new one outweighs most.
    Returns ``(chosen options, every need met)``."""
    A = cd.A.tocsr()
    code, _ = _site_block(cd)
    x = np.zeros(A.shape[0], bool)
    x[chosen] = True
    onehot = sp.csr_matrix((np.ones(len(cd.group)), (np.arange(len(cd.group)), cd.group)),
                           shape=(len(cd.group), len(need)))
    t0 = time.perf_counter()
    tol = 1e-9 * max(1.0, float(need.sum()))
    while time.perf_counter() - t0 < time_budget_s:
        dfc = _deficit(cd, x, need)
        if dfc.sum() <= tol:
            return np.nonzero(x)[0], True
        unc = (A.T @ x.astype(float)) == 0
        G = (A @ sp.diags(cd.w * unc) @ onehot).toarray()  # options × groups, newly covered weight
        fix = np.minimum(G, dfc[None, :]).sum(axis=1)
        used = np.zeros(code.max() + 1, bool)
        used[code[x]] = True
        ok = ~x & ~used[code]
        spent = float(cost[x].sum())
        room = (p is None or x.sum() < p) and (budget is None or (ok & (cost <= budget - spent + 1e-9)).any())
        if room:
            cand = ok & ((cost <= budget - spent + 1e-9) if budget else True)
            score = np.where(cand, fix / np.maximum(cost, 1e-12) if budget else fix, -np.inf)
            i = int(np.argmax(score))
            if not score[i] > 0:
                return np.nonzero(x)[0], False
            x[i] = True
            continue
        # Swap: try each chosen option out, the best deficit-reducing option in.
        best = (dfc.sum() - tol, None, None)
        for s in np.nonzero(x)[0]:
            x[s] = False
            d_s = _deficit(cd, x, need)
            unc_s = (A.T @ x.astype(float)) == 0
            G_s = (A @ sp.diags(cd.w * unc_s) @ onehot).toarray()
            fix_s = np.minimum(G_s, d_s[None, :]).sum(axis=1)
            used_s = used.copy()
            used_s[code[s]] = False
            cand = ~x & ~used_s[code]
            cand[s] = False
            if budget:
                cand &= cost <= budget - spent + cost[s] + 1e-9
            if cand.any():
                i = int(np.argmax(np.where(cand, fix_s, -np.inf)))
                val = d_s.sum() - fix_s[i]
                if val < best[0]:
                    best = (val, s, i)
            x[s] = True
        if best[1] is None:
            return np.nonzero(x)[0], False
        x[best[1]] = False
        x[best[2]] = True
    return np.nonzero(x)[0], bool(_deficit(cd, x, need).sum() <= tol)


def solve_equity_heuristic(problem: SitingProblem, model: str, *, p=None, budget=None, target_share=None,
                           min_group_share: float, minimize: str = "auto",
                           time_limit_s: float = 10.0) -> SitingResult:
    """MCLP or partial cover with a minimum covered share per group: the plain heuristic's
    solution repaired group by group (:func:`repair_groups`). Bound: the model without the
    group rows (MCLP Lagrangian upper bound / partial-cover LP lower bound), valid because the
    rows only restrict. Status "not_found" when the repair cannot meet every group."""
    t0 = time.perf_counter()
    notes: list[Text] = []
    cd = cover_data(problem, with_groups=True)
    if model == "mclp":
        plain = solve_mclp_heuristic(problem, p=p, budget=budget, time_limit_s=0.5 * time_limit_s)
        cost = cd.cost
    else:
        plain = solve_cover_heuristic(problem, model, target_share=target_share, minimize=minimize,
                                      time_limit_s=0.5 * time_limit_s)
        cost = cd.cost if use_cost(problem, minimize) else np.ones(len(cd.options))
    if len(cd.options) == 0 or cd.group is None:
        return plain
    need = group_need(cd, min_group_share, notes)
    chosen = np.nonzero(np.isin(cd.options, selected_options(problem, plain)))[0]
    fixed_p = p if model == "mclp" else None
    fixed_b = budget if model == "mclp" else None
    chosen, ok = repair_groups(cd, chosen, need, fixed_p, fixed_b, cost,
                               max(time_limit_s - (time.perf_counter() - t0), 0.5))
    if model == "mclp":
        obj = cd.w_before + float(cd.w[(cd.A.T @ np.isin(np.arange(len(cd.options)), chosen)) > 0].sum())
        bound = max(plain.bound, obj)
    else:
        obj = float(cost[chosen].sum())
        bound = min(plain.bound, obj)
    if ok and model != "mclp" and model != "lscp":
        chosen = _drop_redundant(cd, chosen, cost, need, plain.params, cd.w_total, target_share)
        obj = float(cost[chosen].sum())
    res = build_result(problem, model, "heuristic", "feasible" if ok else "not_found", cd.options[chosen], obj,
                       bound, time.perf_counter() - t0, dict(plain.params, min_group_share=min_group_share),
                       notes + ([] if ok else [Text("solver.repair_failed")]))
    if ok and res.gap <= 1e-9:
        res = dataclasses.replace(res, status="optimal")
    return res


def _drop_redundant(cd: CoverData, chosen: np.ndarray, cost: np.ndarray, need: np.ndarray, params: dict,
                    w_total: float, target_share: float | None) -> np.ndarray:
    """Drop chosen options (dearest first) while the total target and every group need still hold."""
    x = np.zeros(len(cd.options), bool)
    x[chosen] = True
    share = 1.0 if target_share is None else target_share
    total_need = min(share * w_total, cd.w_coverable) - cd.w_before
    for o in sorted(chosen, key=lambda i: -cost[i]):
        x[o] = False
        cov = (cd.A.T @ x.astype(float)) > 0
        if (cd.w[cov].sum() < total_need - 1e-9 * max(1.0, total_need)
                or _deficit(cd, x, need).sum() > 1e-9 * max(1.0, need.sum())):
            x[o] = True
    return np.nonzero(x)[0]
