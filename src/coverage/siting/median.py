"""p-median heuristic and Lagrangian bound on the sparse options × demand time matrix.

Semantics shared with the exact models: a stored pair (option o, point j) costs ``t_oj``
minutes, an unstored pair costs ``pen`` minutes (the "unserved" level, twice the largest stored
time), and the objective is Σ_j w_j · (time to the nearest open option). Existing facilities
are always open.

* Greedy adds the option that lowers the objective most, then **vertex substitution**
  (Teitz & Bart 1968) picks the best swap each round. The swap profits are computed for
  all (in, out) pairs at once with the decomposition of Whitaker (1983) and Resende & Werneck
  (2007, "A fast swap-based local search procedure for location problems", Ann. Oper. Res.
  150:205–230): profit(i, r) = gain(i) − loss(r) + extra(i, r), where extra collects, over
  the points served by r, what i saves against their second-nearest open option. One round
  is a few passes over the stored pairs (O(nnz)), no Python loop over pairs or points.
* A short iterated local search (random k-swap kicks, then descent again) uses the remaining
  time; it stops early once the Lagrangian bound proves the incumbent.
* **Lagrangian bound** (relax "each point is served once"): L(λ) = Σ_j λ_j + Σ_{p smallest}
  ρ_i + Σ_{fixed} ρ_i with ρ_i = Σ_j min(0, w_j t_ij − λ_j), 0 ≤ λ_j ≤ w_j·pen; every λ gives a
  valid lower bound; λ follows subgradient steps. Its reduced costs prove options closed (or
  open) in every solution better than the incumbent ("variable fixing"), which the exact
  radius formulation uses to shrink the model.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import _median_kernels as kern
from .problem import SitingProblem


@dataclass
class MedianData:
    """Stored pairs sorted by (point, time), with everything the local search needs."""

    R: np.ndarray  # option per pair
    C: np.ndarray  # point per pair
    D: np.ndarray  # minutes per pair
    w: np.ndarray  # weight per point (all points)
    pen: float  # minutes charged to a point no open option reaches
    n_opt: int
    fixed: np.ndarray  # bool per option: existing, always open
    cost: np.ndarray  # per option
    site: np.ndarray  # site per option (one option per site may open)
    need_pen: bool  # some positive-weight point is not reached by every option
    wD: np.ndarray  # w_j · t_ij per pair
    integral: bool  # integer weights and times: every objective value is an integer
    start: np.ndarray  # first pair of each point (n_points + 1)
    by_opt: np.ndarray  # pair indices grouped by option
    opt_start: np.ndarray  # first entry of each option in by_opt (n_opt + 1)


def median_data(problem: SitingProblem, penalty_min: float | None = None) -> MedianData:
    """Sort the options × demand pairs once; points of zero weight are dropped."""
    o = problem.options
    T = o.times.tocoo()
    w = problem.weights.astype(float)
    keep = w[T.col] > 0
    R, C, D = T.row[keep], T.col[keep], T.data[keep]
    order = np.lexsort((D, C))
    R, C, D = R[order].astype(np.int64), C[order].astype(np.int64), D[order].astype(float)
    pos = w > 0
    cnt = np.bincount(C, minlength=len(w))
    need_pen = bool(np.any(cnt[pos] < o.n))
    pen = penalty_min if penalty_min is not None else 2.0 * float(D.max(initial=0.0))
    by_opt = np.argsort(R, kind="stable")
    return MedianData(R, C, D, w, float(pen), o.n, o.fixed.copy(), o.cost.astype(float), o.site.copy(), need_pen,
                      w[C] * D, bool(np.all(w == np.round(w)) and np.all(D == np.round(D)) and pen == round(pen)),
                      np.searchsorted(C, np.arange(len(w) + 1)), by_opt,
                      np.searchsorted(R[by_opt], np.arange(o.n + 1)))


def two_nearest(md: MedianData, is_open: np.ndarray):
    """Per point: nearest open option and its time, second-nearest time (pen where none)."""
    return kern.two_nearest(md.R, md.D, md.start, np.ascontiguousarray(is_open, dtype=np.bool_), md.pen)


def median_cost(md: MedianData, is_open: np.ndarray) -> float:
    """Σ_j w_j · time to the nearest open option (pen where none)."""
    _, d1, _ = two_nearest(md, is_open)
    return float(md.w @ d1)


def _one_per_site_ok(md: MedianData, is_open: np.ndarray) -> np.ndarray:
    """Bool per option: its site has no other open option."""
    used = np.bincount(md.site[is_open], minlength=md.site.max() + 1 if len(md.site) else 0)
    return used[md.site] == 0


def greedy_add(md: MedianData, is_open: np.ndarray, p: int | None, budget: float | None,
               allowed: np.ndarray | None = None) -> np.ndarray:
    """Add options (best objective drop, per cost under a budget) until p new are open / budget spent.

    Stops early only when no allowed option is left; a zero-gain option is still added (an
    extra site never costs anything in p-median), so the result opens p sites where it can.
    """
    is_open = is_open.copy()
    allowed = np.ones(md.n_opt, bool) if allowed is None else allowed
    _, d1, _ = two_nearest(md, is_open)
    by_opt, starts = md.by_opt, md.opt_start
    while True:
        n_new = int((is_open & ~md.fixed).sum())
        if p is not None and n_new >= p:
            break
        spent = float(md.cost[is_open & ~md.fixed].sum())
        gain = np.bincount(md.R, weights=md.w[md.C] * np.maximum(d1[md.C] - md.D, 0.0), minlength=md.n_opt)
        ok = allowed & ~is_open & ~md.fixed & _one_per_site_ok(md, is_open)
        if budget is not None:
            ok &= md.cost <= budget - spent + 1e-9
            score = np.where(md.cost > 0, gain / np.maximum(md.cost, 1e-300), np.inf)
            if p is None:
                ok &= gain > 0  # a budget alone: do not spend on sites that change nothing
        else:
            score = gain
        if not ok.any():
            break
        score = np.where(ok, score, -np.inf)
        # Ties (e.g. zero gain): the cheaper option, then the one with the larger raw gain.
        best = np.flatnonzero(score == score.max())
        o = int(best[np.lexsort((-gain[best], md.cost[best]))[0]])
        is_open[o] = True
        k = by_opt[starts[o]:starts[o + 1]]  # the new option's pairs lower d1 where it is nearer
        np.minimum.at(d1, md.C[k], md.D[k])
    return is_open


def swap_descent(md: MedianData, is_open: np.ndarray, budget: float | None, deadline: float,
                 allowed: np.ndarray | None = None) -> np.ndarray:
    """Best-improvement vertex substitution until no swap lowers the objective."""
    is_open = is_open.copy()
    allowed = np.ones(md.n_opt, bool) if allowed is None else allowed
    while time.perf_counter() < deadline:
        f1, d1, d2 = two_nearest(md, is_open)
        opened = np.nonzero(is_open & ~md.fixed)[0]
        if len(opened) == 0:
            break
        col = np.full(md.n_opt, -1)
        col[opened] = np.arange(len(opened))
        wC = md.w[md.C]
        gain = np.bincount(md.R, weights=wC * np.maximum(d1[md.C] - md.D, 0.0), minlength=md.n_opt)
        served = f1 >= 0
        loss = np.bincount(col[f1[served]].clip(0), weights=(md.w * (d2 - d1))[served] * (col[f1[served]] >= 0),
                           minlength=len(opened))
        # extra(i, r): points served by r that i would serve better than their second-nearest.
        fr = f1[md.C]
        k = (fr >= 0) & (md.D < d2[md.C])
        k[k] &= col[fr[k]] >= 0
        vals = wC[k] * (d2[md.C[k]] - np.maximum(md.D[k], d1[md.C[k]]))
        extra = np.bincount(md.R[k] * len(opened) + col[fr[k]], weights=vals,
                            minlength=md.n_opt * len(opened)).reshape(md.n_opt, len(opened))
        profit = (gain[:, None] - loss[None, :] + extra).astype(float)
        cand_ok = allowed & ~is_open & ~md.fixed
        profit[~cand_ok] = -np.inf
        # One option per site: i may replace r only if i's site is free or is r's site.
        used = np.bincount(md.site[is_open], minlength=md.site.max() + 1)
        busy = used[md.site] > 0
        if busy.any():
            same = md.site[:, None] == md.site[opened][None, :]
            profit[busy[:, None] & ~same] = -np.inf
        if budget is not None:
            spent = float(md.cost[opened].sum())
            too_dear = md.cost[:, None] - md.cost[opened][None, :] > budget - spent + 1e-9
            profit[too_dear] = -np.inf
        i, r = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if not profit[i, r] > 1e-9 * max(1.0, float(md.w @ d1)):
            break
        is_open[opened[r]] = False
        is_open[i] = True
    return is_open


def local_search(md: MedianData, p: int | None, budget: float | None, time_budget_s: float,
                 start: np.ndarray | None = None, stop_at: float = -np.inf, seed: int = 0,
                 allowed: np.ndarray | None = None, max_stale: int = 50) -> np.ndarray:
    """Greedy (or ``start``) + swap descent, then random-kick iterated local search.

    Stops at the time budget, after ``max_stale`` kicks without improvement, or when the objective
    reaches ``stop_at`` (a proven lower bound).
    """
    t0 = time.perf_counter()
    deadline = t0 + time_budget_s
    base = md.fixed.copy() if start is None else (start | md.fixed)
    x = greedy_add(md, base, p, budget, allowed)
    x = swap_descent(md, x, budget, deadline, allowed)
    best, best_v = x, median_cost(md, x)
    rng = np.random.default_rng(seed)
    stale = 0
    kick_s = 0.0  # the last kick's duration: a kick that cannot finish before the deadline is not started
    while (time.perf_counter() + kick_s < deadline and stale < max_stale
           and best_v > stop_at + 1e-9 * max(1.0, abs(stop_at))):
        t_kick = time.perf_counter()
        y = best.copy()
        opened = np.nonzero(y & ~md.fixed)[0]
        if len(opened) == 0:
            break
        k = int(rng.integers(1, min(3, len(opened)) + 1))
        y[rng.choice(opened, k, replace=False)] = False
        pool = np.nonzero(~y & ~md.fixed & (np.ones(md.n_opt, bool) if allowed is None else allowed))[0]
        y[rng.choice(pool, min(k, len(pool)), replace=False)] = True
        if budget is not None and md.cost[y & ~md.fixed].sum() > budget + 1e-9:
            stale += 1
            continue
        if len(np.unique(md.site[y])) < int(y.sum()):
            stale += 1
            continue
        y = swap_descent(md, greedy_add(md, y, p, budget, allowed), budget, deadline, allowed)
        v = median_cost(md, y)
        kick_s = time.perf_counter() - t_kick
        if v < best_v - 1e-9 * max(1.0, best_v):
            best, best_v, stale = y, v, 0
        else:
            stale += 1
    return best


@dataclass
class Lagrange:
    bound: float
    lam: np.ndarray
    rho: np.ndarray
    closed: np.ndarray  # bool per option: open only in solutions no better than the incumbent
    forced: np.ndarray  # bool per option: open in every solution better than the incumbent
    selected: np.ndarray  # options opened by the best relaxed solution
    primal: np.ndarray | None = None  # best feasible open mask met among the relaxed solutions
    primal_value: float = np.inf


def _relax(md: MedianData, lam: np.ndarray, p: int | None, budget: float | None):
    """(L(λ), ρ, relaxed open set) for one multiplier vector."""
    rho = kern.reduced_costs(md.R, md.C, md.wD, lam, md.n_opt)
    free = np.nonzero(~md.fixed)[0]
    val = float(lam.sum() + rho[md.fixed].sum())
    y = md.fixed.copy()
    rf = rho[free]
    if p is not None:
        k = min(p, len(free))
        if k:
            top = free[np.argpartition(rf, k - 1)[:k]]
            y[top] = True
            val += float(rho[top].sum())
        if budget is None:
            return val, rho, y
    # A budget: fractional knapsack on −ρ (an LP relaxation, so still a valid bound).
    order = free[np.argsort(rho[free] / np.maximum(md.cost[free], 1e-300))]
    order = order[rho[order] < 0]
    cum = np.cumsum(md.cost[order])
    full = order[cum <= budget + 1e-9]
    kval = float(rho[full].sum())
    nxt = len(full)
    if nxt < len(order):
        prev = cum[nxt - 1] if nxt else 0.0
        kval += rho[order[nxt]] * (budget - prev) / max(md.cost[order[nxt]], 1e-300)
    yb = md.fixed.copy()
    yb[full] = True
    if p is None or kval > val - lam.sum() - rho[md.fixed].sum():
        return float(lam.sum() + rho[md.fixed].sum() + kval), rho, yb
    return val, rho, y


def lagrangian_bound(md: MedianData, p: int | None, budget: float | None, upper: float,
                     incumbent: np.ndarray, time_budget_s: float, max_iter: int = 3000,
                     lam0: np.ndarray | None = None, compiled: bool = True) -> Lagrange:
    """Subgradient ascent on L(λ) (lower bound on the p-median objective) and variable fixing.

    λ starts at ``lam0`` or at w_j × the incumbent's second-nearest time; Polyak steps aim at
    ``upper``; it stops once the (rounded) bound reaches ``upper``.

    The relaxed solutions are also a **Lagrangian heuristic** (Beasley 1993, "Lagrangean
    heuristics for location problems", EJOR 65:383–399): every few steps the relaxed open set,
    when feasible, is priced exactly; the best one is kept (``primal``) and lowers the step
    target, which in turn speeds the ascent. With a pure p limit the loop runs compiled
    (``_median_kernels.ascent``, step for step the loop below; ``compiled=False`` runs this one).
    """
    t0 = time.perf_counter()
    cap = md.w * md.pen
    if lam0 is None:
        _, _, d2 = two_nearest(md, incumbent)
        lam0 = md.w * d2
    lam = np.minimum(lam0, cap)
    if compiled and p is not None and budget is None:
        return _ascent_compiled(md, p, upper, lam, cap, t0, time_budget_s, max_iter)
    best_v, best_lam, best_rho, best_y = -np.inf, lam, None, None
    primal, primal_v = None, np.inf
    mu, stall = 2.0, 0
    for it in range(max_iter):
        val, rho, y = _relax(md, lam, p, budget)
        improved = best_y is None or val > best_v + 1e-9 * max(1.0, abs(best_v))
        if improved:
            best_v, best_lam, best_rho, best_y, stall = val, lam.copy(), rho, y, 0
        else:
            stall += 1
            if stall >= 25:
                mu, stall = mu / 2, 0
        if (improved or it % 5 == 0) and _priceable(md, y, p, budget):
            v = median_cost(md, y)
            if v < primal_v - 1e-9 * max(1.0, abs(v)):
                primal, primal_v = y.copy(), v
                upper = min(upper, v)
        if (round_bound(md, best_v) >= upper - 1e-9 * max(1.0, abs(upper)) or mu < 1e-4
                or time.perf_counter() - t0 > time_budget_s):
            break
        # Subgradient: 1 − (open options serving j with a negative reduced cost).
        g = kern.subgradient(md.R, md.C, md.wD, lam, y, md.w)
        g[((lam <= 0) & (g < 0)) | ((lam >= cap) & (g > 0))] = 0.0
        gg = float(g @ g)
        if gg == 0:
            break
        lam = np.clip(lam + mu * (upper - val) / gg * g, 0.0, cap)
    closed, forced = _fixing(md, best_v, best_rho, p, budget, upper)
    return Lagrange(best_v, best_lam, best_rho, closed, forced, np.nonzero(best_y & ~md.fixed)[0],
                    primal, primal_v)


def _ascent_compiled(md: MedianData, p: int, upper: float, lam: np.ndarray, cap: np.ndarray, t0: float,
                     time_budget_s: float, max_iter: int) -> Lagrange:
    """The same ascent for a pure p limit in compiled chunks, the clock checked between them."""
    lam = np.ascontiguousarray(lam, dtype=float)
    best_lam = lam.copy()
    primal = np.zeros(md.n_opt, bool)
    free = np.flatnonzero(~md.fixed)
    mu, stall, best_v, primal_v, it, chunk = 2.0, 0, -np.inf, np.inf, 0, 10
    while it < max_iter:
        code, mu, stall, best_v, upper, primal_v, steps = kern.ascent(
            md.R, md.C, md.D, md.wD, md.start, md.w, md.pen, md.fixed, free, md.site, p, lam, cap, mu, stall,
            best_v, best_lam, upper, primal, primal_v, md.integral, it, min(chunk, max_iter - it))
        it += steps
        if code or time.perf_counter() - t0 > time_budget_s:
            break
        chunk = min(2 * chunk, 200)  # short first chunks: a tiny time budget is kept
    _, rho, y = _relax(md, best_lam, p, None)
    closed, forced = _fixing(md, best_v, rho, p, None, upper)
    return Lagrange(best_v, best_lam, rho, closed, forced, np.nonzero(y & ~md.fixed)[0],
                    primal if np.isfinite(primal_v) else None, primal_v)


def _priceable(md: MedianData, y: np.ndarray, p: int | None, budget: float | None) -> bool:
    """A relaxed open set is a solution: p new options (or within the budget), one per site."""
    new = y & ~md.fixed
    if p is not None and int(new.sum()) != min(p, int((~md.fixed).sum())):
        return False
    if budget is not None and float(md.cost[new].sum()) > budget + 1e-9:
        return False
    return len(np.unique(md.site[y])) == int(y.sum())


def _fixing(md: MedianData, bound: float, rho: np.ndarray, p: int | None, budget: float | None,
            upper: float) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-cost fixing (:func:`fix_by_reduced_costs`), only for a pure p limit (the relaxed
    problem is then "the p smallest ρ")."""
    if p is None or budget is not None or rho is None:
        return np.zeros(md.n_opt, bool), np.zeros(md.n_opt, bool)
    return fix_by_reduced_costs(md.fixed, rho, bound, p, upper, md.integral)


def fix_by_reduced_costs(fixed: np.ndarray, rho: np.ndarray, bound: float, p: int, upper: float,
                         integral: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(closed, forced)`` per option for a relaxation "the p smallest ρ among the free options":
    forcing option i in (out) raises the bound by ρ_i − ρ_(p) (ρ_(p+1) − ρ_i), so an option whose
    forced bound exceeds the incumbent ``upper`` by more than rounding is closed (forced open) in
    every better solution. ``integral``: objective values are integers, so a better solution
    costs at most upper − 1. Shared by the p-median and the capacitated Lagrangians."""
    closed = np.zeros(len(fixed), bool)
    forced = np.zeros(len(fixed), bool)
    free = np.nonzero(~fixed)[0]
    if len(free) <= p or p == 0:
        return closed, forced
    rs = np.sort(rho[free])
    kth, nxt = rs[p - 1], rs[p]
    tol = 1e-7 * max(1.0, abs(upper))
    if integral:
        upper = upper - 1.0 + 2 * tol
    chosen = np.zeros(len(fixed), bool)
    chosen[free[np.argsort(rho[free], kind="stable")[:p]]] = True
    closed[free] = ~chosen[free] & (bound + rho[free] - kth > upper + tol)
    forced[free] = chosen[free] & (bound + nxt - rho[free] > upper + tol)
    return closed, forced


def pmedian_heuristic(md: MedianData, p: int | None, budget: float | None, time_budget_s: float,
                      max_stale: int = 50) -> tuple[np.ndarray, float, Lagrange]:
    """Greedy, Lagrangian bound, swap descent from both the greedy and the best relaxed
    solution (the Lagrangian heuristic: its p smallest-ρ options are usually a near-optimal
    start), then iterated local search with the time left; reduced-cost fixing against the
    final incumbent. Returns ``(open mask, objective, Lagrange)``."""
    t0 = time.perf_counter()
    deadline = t0 + time_budget_s
    x_g = greedy_add(md, md.fixed.copy(), p, budget)
    v_g = median_cost(md, x_g)
    lag = lagrangian_bound(md, p, budget, v_g, x_g, time_budget_s=0.25 * time_budget_s)
    starts = [x_g]
    if lag.primal is not None:
        starts.append(lag.primal)
    if len(lag.selected):
        x_l = md.fixed.copy()
        x_l[lag.selected] = True
        # the relaxation ignores one option per site: such a set is no start
        if ((budget is None or md.cost[x_l & ~md.fixed].sum() <= budget + 1e-9)
                and len(np.unique(md.site[x_l])) == int(x_l.sum())):
            starts.insert(0, greedy_add(md, x_l, p, budget))
    best, best_v = None, np.inf
    # The cheaper start first: under a tight time budget its descent may be the only one.
    starts.sort(key=lambda x: median_cost(md, x))
    for x in starts:
        if time.perf_counter() >= deadline and best is not None:
            break
        x = swap_descent(md, x, budget, deadline)
        v = median_cost(md, x)
        if v < best_v:
            best, best_v = x, v
    if round_bound(md, lag.bound) < best_v - 1e-9 * max(1.0, abs(best_v)) and best_v < v_g:
        # The descent beat the greedy value the steps aimed at: aim again, from the best λ.
        more = lagrangian_bound(md, p, budget, best_v, best, 0.15 * time_budget_s, lam0=lag.lam)
        if more.bound > lag.bound:
            lag = more
    proven = round_bound(md, lag.bound)
    if best_v > proven + 1e-9 * max(1.0, abs(best_v)) and time.perf_counter() < deadline:
        x = local_search(md, p, budget, deadline - time.perf_counter(), start=best, stop_at=proven,
                         max_stale=max_stale)
        v = median_cost(md, x)
        if v < best_v:
            best, best_v = x, v
    lag.closed, lag.forced = _fixing(md, lag.bound, lag.rho, p, budget, best_v)
    lag.bound = round_bound(md, lag.bound)
    return best, best_v, lag


def round_bound(md: MedianData, bound: float) -> float:
    """With integer data the optimum is an integer, so a lower bound rounds up."""
    return round_up(bound, md.integral)


def round_up(bound: float, integral: bool) -> float:
    """A lower bound rounded up to the next integer when every objective value is one."""
    if integral and np.isfinite(bound):
        return float(np.ceil(bound - 1e-6 * max(1.0, abs(bound))))
    return bound
