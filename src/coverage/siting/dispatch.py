"""Which solver runs a siting model: :func:`solve` picks the heuristic, the exact method or
both (the exact one warm-started from the heuristic, the better answer kept), and
:func:`run_siting` solves the study config's ``[siting]`` section. The size thresholds that
steer ``method="auto"`` live here.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..messages import Text
from .assignment import (assignment_result, capacitated_start, run_assignment, solve_assignment_exact,
                         solve_capacitated_heuristic)
from .benders import solve_mclp_benders
from .center import solve_pcenter_exact
from .cover_exact import solve_cover_exact
from .heuristic import solve_cover_heuristic, solve_equity_heuristic, solve_mclp_heuristic
from .pmedian import solve_pmedian_exact, solve_pmedian_heuristic
from .problem import SitingProblem, Tier
from .result import SitingResult

MODELS = ("lscp", "partial", "mclp", "pmedian", "pcenter")

#: Tier defaults from the Baoji 2019 figures in the design notes: cost = construction subsidy
#: plus the minimum operating subsidy (CNY); walk limit = the study's limit. Capacities are
#: unknown here (inf) — the norms profile supplies them through ``run_siting(tiers=...)``.
DEFAULT_TIERS: dict[str, Tier] = {
    "day_care_centre": Tier("day_care_centre", cost=800_000.0),
    "service_centre": Tier("service_centre", cost=350_000.0),
    "service_station": Tier("service_station", cost=250_000.0),
}

#: Above this many candidate–demand pairs an exact MCLP first tries the heuristic, and returns
#: it when its Lagrangian bound already proves the solution within ``mip_gap``.
HEURISTIC_FIRST_PAIRS = 500_000

#: Exact MCLP above this many pairs by Benders decomposition (:mod:`.benders`) rather than the
#: full cover MILP (None: never): on the planar instance (4.85 M pairs) and its --small version
#: (428 k pairs) it ends with a better solution and bound in the same time; on small instances
#: with a weak LP the cover MILP, whose structure HiGHS' cuts exploit, is faster
#: (bench/bench_siting.py).
MCLP_BENDERS_MIN_PAIRS: int | None = 200_000

#: Above this many stored site–demand pairs "auto" uses the heuristic for MCLP / LSCP / partial:
#: HiGHS' simplex needs minutes for the root LP of a city-scale (millions of pairs) MCLP, while
#: the heuristic reports a solution and a bound in seconds (bench/bench_siting.py).
AUTO_EXACT_MAX_PAIRS = 1_000_000


def solve(problem: SitingProblem, model: str, *, p: int | None = None, budget: float | None = None,
          target_share: float | None = None, min_group_share: float = 0.0, capacitated: bool = False,
          single_source: bool = False, method: str = "auto", minimize: str = "auto",
          time_limit_s: float | None = 120.0, mip_gap: float = 0.0) -> SitingResult:
    """Solve one siting model.

    Every model has a heuristic with a proven bound, and the exact method starts from it and
    returns the better of the two: an exact answer is never worse than the heuristic's.

    Parameters
    ----------
    model : "lscp" | "partial" | "mclp" | "pmedian" | "pcenter".
    p : maximum number of new sites (p-median and p-center open exactly p where there are
        that many candidates: another site never costs them anything);
    budget : maximum total cost of new sites (same unit as costs).
    target_share : covered share of total demand weight the partial model must reach (0..1).
    min_group_share : minimum covered share in every group of ``problem.groups`` (0 = off).
    capacitated : respect site capacities (mclp → capacitated coverage, pmedian → capacitated p-median).
    single_source : each demand point goes wholly to one site (capacitated models).
    method : "exact", "heuristic" or "auto" (exact, except the coverage models on very large matrices).
    minimize : LSCP / partial objective, "count", "cost" or "auto" (cost when costs were given).
    time_limit_s, mip_gap : limits (seconds; relative gap, 0 = prove optimality). At the limit
        the result says "time_limit" with the bound and gap actually proven.
    """
    if model not in MODELS:
        raise ValueError(f"unknown siting model {model!r}; use one of {', '.join(MODELS)}.")
    if method not in ("auto", "exact", "heuristic"):
        raise ValueError(f"unknown method {method!r}; use auto, exact or heuristic.")
    p = int(p) if p else None
    budget = float(budget) if budget else None
    cover_model = model in ("lscp", "partial", "mclp") and not capacitated
    use_heur = method == "heuristic" or (method == "auto" and cover_model
                                         and problem.options.times.nnz > AUTO_EXACT_MAX_PAIRS)
    tl = 10.0 if time_limit_s is None else time_limit_s
    if model == "pcenter":
        if not p:
            raise ValueError("pcenter needs p (number of new sites).")
        return solve_pcenter_exact(problem, p, time_limit_s=time_limit_s, heuristic_only=use_heur)
    if model == "mclp" and not (p or budget):
        raise ValueError("MCLP needs p (number of new sites) or a budget.")
    if capacitated and model in ("mclp", "pmedian"):
        if use_heur:
            return solve_capacitated_heuristic(problem, model, p=p, budget=budget, single_source=single_source,
                                               time_limit_s=tl)
        return _capacitated_exact(problem, model, p=p, budget=budget, single_source=single_source,
                                  time_limit_s=time_limit_s, mip_gap=mip_gap)
    if model == "pmedian":
        if use_heur:
            return solve_pmedian_heuristic(problem, p=p, budget=budget, time_limit_s=tl)
        return solve_pmedian_exact(problem, p=p, budget=budget, time_limit_s=time_limit_s, mip_gap=mip_gap)
    if min_group_share and model in ("mclp", "partial"):
        return _equity(problem, model, p=p, budget=budget, target_share=target_share,
                       min_group_share=min_group_share, minimize=minimize, use_heur=use_heur,
                       time_limit_s=time_limit_s, mip_gap=mip_gap)
    if model == "mclp":
        return _mclp(problem, p=p, budget=budget, use_heur=use_heur, time_limit_s=time_limit_s, mip_gap=mip_gap)
    # lscp, partial
    ts = target_share if model == "partial" else None
    if use_heur:
        return solve_cover_heuristic(problem, model, target_share=ts, minimize=minimize, time_limit_s=tl)
    heur = solve_cover_heuristic(problem, model, target_share=ts, minimize=minimize, time_limit_s=min(10.0, tl))
    res = solve_cover_exact(problem, model, target_share=ts, minimize=minimize,
                            time_limit_s=_left(time_limit_s, heur), mip_gap=mip_gap, start=heur)
    return _best_of(res, heur, maximise=False)


def _equity(problem: SitingProblem, model: str, *, p, budget, target_share, min_group_share, minimize, use_heur,
            time_limit_s, mip_gap) -> SitingResult:
    """MCLP / partial cover with per-group minimum shares: repaired heuristic, then the MILP from it."""
    tl = 10.0 if time_limit_s is None else time_limit_s
    heur = solve_equity_heuristic(problem, model, p=p, budget=budget, target_share=target_share,
                                  min_group_share=min_group_share, minimize=minimize,
                                  time_limit_s=tl if use_heur else min(10.0, tl))
    if use_heur:
        return heur
    ts = target_share if model == "partial" else None
    res = solve_cover_exact(problem, model, p=p, budget=budget, target_share=ts, min_group_share=min_group_share,
                            minimize=minimize, time_limit_s=_left(time_limit_s, heur), mip_gap=mip_gap,
                            start=None if heur.status == "not_found" else heur)
    return _best_of(res, heur, maximise=model == "mclp") if heur.status != "not_found" else res


def _mclp(problem: SitingProblem, *, p, budget, use_heur, time_limit_s, mip_gap) -> SitingResult:
    """Plain MCLP: the heuristic first on big instances, the MILP, the best of both."""
    tl = 10.0 if time_limit_s is None else time_limit_s
    if use_heur:
        return solve_mclp_heuristic(problem, p=p, budget=budget, time_limit_s=tl)
    heur = None
    remaining = time_limit_s
    nnz = problem.options.times.nnz
    benders = MCLP_BENDERS_MIN_PAIRS is not None and nnz > MCLP_BENDERS_MIN_PAIRS
    if nnz > HEURISTIC_FIRST_PAIRS or benders:
        # On big instances HiGHS may not even finish the root LP in the time limit, while the
        # greedy + swap solution with its Lagrangian bound is often already within mip_gap.
        # Benders starts from it (its own LP bound is far better than the Lagrangian one on
        # dense instances), so it gets the heuristic's usual 10 s, not a quarter of the time.
        heur = solve_mclp_heuristic(problem, p=p, budget=budget,
                                    time_limit_s=min(10.0, tl) if benders else min(tl, max(1.0, tl / 4)))
        if heur.gap <= mip_gap:
            return heur
        remaining = _left(time_limit_s, heur)
    if benders:
        # Benders decomposition (Cordeau, Furini & Ljubić 2019): a master over the sites only,
        # started from the heuristic's solution, so never worse than it.
        res = solve_mclp_benders(problem, p=p, budget=budget, time_limit_s=remaining, mip_gap=mip_gap, start=heur)
        return res if res.status == "optimal" else _best_of(res, heur)
    res = solve_cover_exact(problem, "mclp", p=p, budget=budget, time_limit_s=remaining, mip_gap=mip_gap)
    if res.status != "optimal" and res.gap > max(mip_gap, 1e-9):
        # HiGHS ran out of time: the heuristic's solution and Lagrangian bound may both be
        # better; keep the best of each.
        heur = heur or solve_mclp_heuristic(problem, p=p, budget=budget, time_limit_s=tl)
        return _best_of(res, heur)
    return res


def _left(time_limit_s: float | None, used: SitingResult) -> float | None:
    """Time left for the exact solve after a heuristic run (at least one second)."""
    return None if time_limit_s is None else max(1.0, time_limit_s - used.solve_time_s)


def _capacitated_exact(problem: SitingProblem, model: str, *, p, budget, single_source, time_limit_s,
                       mip_gap) -> SitingResult:
    """The assignment MILP warm-started from the capacitated heuristic; the uncapacitated
    heuristic bound joins HiGHS' bound. For the capacitated p-median with ``p`` (no budget) the
    knapsack Lagrangian (:mod:`.capacity_lagrange`) first closes the options that open in no
    solution better than the heuristic's, and its bound joins too."""
    t0 = time.perf_counter()
    tl = 120.0 if time_limit_s is None else time_limit_s
    m0, start, unc_bound, lag = capacitated_start(problem, model, p=p, budget=budget, single_source=single_source,
                                                  time_limit_s=min(10.0, tl))
    left = None if time_limit_s is None else max(1.0, time_limit_s - (time.perf_counter() - t0))
    if lag is None or start is None:
        res = solve_assignment_exact(problem, model, p=p, budget=budget, capacitated=True,
                                     single_source=single_source, time_limit_s=left, mip_gap=mip_gap,
                                     start=None if start is None else start.x, other_bound=unc_bound)
        res.solve_time_s = time.perf_counter() - t0
        return res
    ub = float(start.fun)
    closed = lag.closed_for(ub)
    bound = unc_bound  # the heuristic's: the better of the uncapacitated and the Lagrangian bounds
    params = {"p": p, "budget": budget, "capacitated": True, "single_source": single_source,
              "time_limit_s": time_limit_s, "mip_gap": mip_gap, "n_options": int(m0.nx), "n_pairs": int(m0.nk),
              "n_closed_by_lagrangian": int(closed.sum()), "lagrangian_bound": float(lag.bound)}
    best, best_v, status = start, ub, "optimal" if ub - bound <= max(mip_gap, 1e-9) * max(1.0, ub) else "feasible"
    m = m0
    if status != "optimal":
        left = None if time_limit_s is None else max(1.0, time_limit_s - (time.perf_counter() - t0))
        # Options closed by the Lagrangian are out of every solution better than the start, so the
        # MILP searches only those; its bound holds for the full problem up to the start's value.
        opened = start.x[:m0.nx] > 0.5
        m, out = run_assignment(problem, model, p=p, budget=None, capacitated=True, single_source=single_source,
                                time_limit_s=left, mip_gap=mip_gap, open_only=~closed | problem.options.fixed,
                                start=None if (opened & closed).any() else start.x)
        if out.x is not None and out.fun < best_v:
            best, best_v = out, float(out.fun)
        else:
            m = m0
        if out.status == "infeasible":
            bound = ub
        elif np.isfinite(out.bound):
            bound = max(bound, min(float(out.bound), ub))
        gap = (best_v - bound) / max(abs(best_v), 1e-9)
        if gap <= 1e-9 or (out.status == "optimal" and gap <= mip_gap + 1e-9):
            status = "optimal"
        else:
            status = "time_limit" if out.status == "time_limit" else "feasible"
    return assignment_result(problem, "capacitated_pmedian", "exact", best, m, time.perf_counter() - t0, params,
                             status, min(bound, best_v))


def _best_of(exact: SitingResult, heur: SitingResult, maximise: bool = True) -> SitingResult:
    """The better solution of an exact and a heuristic result, with the tighter of their bounds.

    Status stays "optimal" only when the gap is closed, and "time_limit" when the exact
    solver stopped at its limit without closing it.
    """
    def better(a, b):
        if not np.isfinite(b.objective):
            return True
        if not np.isfinite(a.objective):
            return False
        return a.objective >= b.objective if maximise else a.objective <= b.objective

    best = exact if better(exact, heur) else heur
    bounds = [b for b in (exact.bound, heur.bound) if np.isfinite(b)]
    bound = (min(bounds) if maximise else max(bounds)) if bounds else float("nan")
    if best is heur and heur.status == "optimal" or best is exact and exact.status == "optimal":
        return dataclasses.replace(best, solve_time_s=exact.solve_time_s + heur.solve_time_s)
    gap = abs(best.objective - bound) / max(abs(best.objective), 1e-9) if np.isfinite(bound) else float("inf")
    status = "optimal" if gap < 1e-9 else ("time_limit" if exact.status == "time_limit" else "feasible")
    note = Text("solver.exact_stopped", status=exact.status, objective=exact.objective, bound=exact.bound,
                heuristic=heur.objective, heuristic_bound=heur.bound)
    notes = best.notes + (note,)
    return dataclasses.replace(best, method="exact+heuristic", status=status, bound=bound, gap=gap,
                               solve_time_s=exact.solve_time_s + heur.solve_time_s, notes=notes,
                               message=" ".join(n.render("en") for n in notes))


def run_siting(cfg, *, candidate_matrix, existing_matrix, weights, demand_group, candidate_ids,
               existing_ids, candidate_cost=None, candidate_capacity=None, limit_min: float,
               existing_capacity=None, tiers=None, candidate_tiers=None) -> SitingResult:
    """Pipeline entry: solve the ``[siting]`` section's model on the study's coverage matrices.

    ``cfg`` is a :class:`eldercare_coverage.config.SitingSection`. Matrices are CSR, rows = sites,
    columns = demand points, values = minutes within ``limit_min`` (explicit zeros allowed).
    ``tiers`` (a list of :class:`Tier`) overrides the names in ``cfg.tiers``, which otherwise
    take :data:`DEFAULT_TIERS`. A NaN candidate cost counts as 0 only when no cost is known at all.
    """
    if not cfg.model:
        raise ValueError("siting.model is empty: nothing to solve.")
    if tiers is None and cfg.tiers:
        unknown = [t for t in cfg.tiers if t not in DEFAULT_TIERS]
        if unknown:
            raise ValueError(f"siting.tiers {unknown} are not known; use {', '.join(DEFAULT_TIERS)}.")
        tiers = [DEFAULT_TIERS[t] for t in cfg.tiers]
    cost = None
    if candidate_cost is not None:
        cc = np.asarray(candidate_cost, float)
        if np.isfinite(cc).any():
            # Unknown costs take the median known cost, so they are neither free nor excluded.
            cost = np.where(np.isfinite(cc), cc, np.nanmedian(cc))
    problem = SitingProblem.from_matrices(
        candidate_matrix, weights, existing_times=existing_matrix, candidate_ids=candidate_ids,
        existing_ids=existing_ids, limit_min=limit_min, candidate_cost=cost,
        candidate_capacity=candidate_capacity, existing_capacity=existing_capacity,
        groups=demand_group, tiers=tiers or (), candidate_tiers=candidate_tiers)
    res = solve(problem, cfg.model, p=cfg.p or None, budget=cfg.budget or None, target_share=cfg.target_share,
                min_group_share=cfg.min_district_share, capacitated=cfg.capacitated, method=cfg.method,
                time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap)
    res.params.update({"weight": cfg.weight, "limit_min": limit_min,
                       "tiers": [t.name for t in (tiers or ())]})
    return res
