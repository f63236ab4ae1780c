"""Heuristics with bounds for every model, exact answers never worse, honest statuses at limits.

Optima come from the literature (OR-Library tables quoted in test_siting_orlib.py) or from
brute force over site subsets written here, never from the code under test. No test is
timed: tiny time limits only force the time-limit path, and the assertions hold whatever
the machine's speed (e.g. "if it says optimal, it is the brute-force optimum").
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from test_siting_models import LIMIT, brute_mclp, brute_multi_tier, covered_by, random_instance, subsets
from test_siting_orlib import ORLIB, PCENTER_OPT, PMED_OPT, PMEDCAP_OPT, read_pmed, read_pmedcap

from eldercare_coverage.siting import SitingProblem, Tier, coverage_by_group, solve
from eldercare_coverage.siting import median as median_mod
from eldercare_coverage.siting import pmedian as pmedian_mod

HERE = Path(__file__).resolve().parent


def orlib_problem(k: int):
    d, p = read_pmed(ORLIB / f"pmed{k}.txt")
    return SitingProblem.from_matrices(d, np.ones(len(d))), p


# ----------------------------------------------------------------------------- OR-Library
@pytest.mark.parametrize("k", range(1, 11))
def test_pmedian_heuristic_bound_brackets_the_published_optimum(k):
    prob, p = orlib_problem(k)
    res = solve(prob, "pmedian", p=p, method="heuristic", time_limit_s=10)  # it needs ≤ 0.7 s; room for a busy CI
    opt = PMED_OPT[k]
    assert res.bound <= opt <= res.objective
    assert res.objective <= opt * 1.001  # issue 14's target: within 0.1 % (the benchmark: 40 of 40)
    assert len(res.selected_ids) == p
    assert np.nansum(res.assigned_time) == pytest.approx(res.objective)
    assert res.status == ("optimal" if res.objective == res.bound else "feasible")
    if res.status == "optimal":
        assert res.objective == opt


@pytest.mark.parametrize("k", range(6, 11))
def test_pmedian_exact_is_honest_on_larger_orlib(k):
    prob, p = orlib_problem(k)
    res = solve(prob, "pmedian", p=p, method="exact", time_limit_s=60)
    assert res.bound <= PMED_OPT[k] <= res.objective and len(res.selected_ids) == p
    # proven: the benchmark takes at most 3.4 s (pmed6) on 2 shared cores
    assert res.status == "optimal" and res.objective == PMED_OPT[k] == res.bound


@pytest.mark.parametrize("k", range(1, 11))
def test_pcenter_heuristic_and_exact_bracket_the_published_optimum(k):
    prob, p = orlib_problem(k)
    heur = solve(prob, "pcenter", p=p, method="heuristic")
    opt = PCENTER_OPT[k]
    assert heur.bound <= opt <= heur.objective and len(heur.selected_ids) == p
    assert np.nanmax(heur.assigned_time) == heur.objective
    ex = solve(prob, "pcenter", p=p, method="exact", time_limit_s=60)
    assert ex.bound <= opt <= ex.objective <= heur.objective and len(ex.selected_ids) == p
    if ex.status == "optimal":
        assert ex.objective == opt


@pytest.mark.parametrize("k", sorted(PMEDCAP_OPT))
def test_capacitated_heuristic_bound_and_exact(k):
    d, demand, p, q = read_pmedcap(HERE / "data" / "pmedcap" / f"pmedcap1-{k}.txt")
    n = len(d)
    prob = SitingProblem.from_matrices(d, np.ones(n), candidate_capacity=np.full(n, q), demand_size=demand)
    heur = solve(prob, "pmedian", p=p, capacitated=True, single_source=True, method="heuristic", time_limit_s=5)
    opt = PMEDCAP_OPT[k]
    assert heur.bound <= opt + 1e-6
    if heur.status != "not_found":
        assert heur.objective >= opt - 1e-6 and len(heur.selected_ids) == p
        load = np.bincount(heur.assignment, weights=demand, minlength=n)
        assert load.max() <= q and (heur.assignment >= 0).all()
    ex = solve(prob, "pmedian", p=p, capacitated=True, single_source=True, time_limit_s=60)
    assert ex.bound <= opt + 1e-6 and ex.objective >= opt - 1e-6 and len(ex.selected_ids) == p
    if heur.status != "not_found":
        assert ex.objective <= heur.objective + 1e-6
    assert (ex.status == "optimal") == (ex.objective == pytest.approx(opt))


# ----------------------------------------------------------------------------- time limits
def test_tiny_time_limit_still_opens_p_sites_and_never_claims_more():
    prob, p = orlib_problem(10)  # p = 67
    res = solve(prob, "pmedian", p=p, method="exact", time_limit_s=0.01)
    assert len(res.selected_ids) == p
    assert res.bound <= PMED_OPT[10] <= res.objective
    assert res.status in ("optimal", "time_limit", "feasible")
    if res.status == "optimal":
        assert res.objective == PMED_OPT[10]
    else:
        assert res.gap > 0 and res.gap == pytest.approx((res.objective - res.bound) / res.objective)


def test_exact_pmedian_never_worse_than_its_warm_start(monkeypatch):
    seen = {}
    real = pmedian_mod.pmedian_heuristic

    def spy(*a, **kw):
        out = real(*a, **kw)
        seen["start"] = out[1]
        return out

    monkeypatch.setattr(pmedian_mod, "pmedian_heuristic", spy)
    for k, tl in ((8, 0.01), (8, 60), (9, 0.5)):
        prob, p = orlib_problem(k)
        res = solve(prob, "pmedian", p=p, method="exact", time_limit_s=tl)
        assert res.objective <= seen["start"] and len(res.selected_ids) == p
        assert res.bound <= PMED_OPT[k] <= res.objective


@pytest.mark.parametrize("model", ["mclp", "lscp", "partial", "pcenter"])
def test_statuses_are_honest_at_a_tiny_time_limit(model):
    tc, te, w, _ = random_instance(30, n_cand=10)
    prob = SitingProblem.from_matrices(np.where(tc <= LIMIT, tc, np.inf), w,
                                       existing_times=np.where(te <= LIMIT, te, np.inf), limit_min=LIMIT)
    if model == "pcenter":  # every pair counts, so that some 3 sites reach everyone
        prob = SitingProblem.from_matrices(tc, w, existing_times=te)
    kw = {"p": 3} if model in ("mclp", "pcenter") else {"target_share": 0.7} if model == "partial" else {}
    res = solve(prob, model, method="exact", time_limit_s=1e-3, **kw)
    full = solve(prob, model, method="exact", **kw)
    assert full.status == "optimal"
    maximise = model == "mclp"
    if res.status == "optimal":
        assert res.objective == pytest.approx(full.objective)
    if maximise:
        assert res.objective <= full.objective + 1e-9 <= res.bound + 2e-9
    else:
        assert res.bound - 1e-9 <= full.objective <= res.objective + 1e-9


# ----------------------------------------------------------------------------- brute force, every model
def brute_pmedian(tc, te, w, p):
    best = np.inf
    for s in itertools.combinations(range(len(tc)), p):
        best = min(best, (w * np.vstack([te, tc[list(s)]]).min(axis=0)).sum())
    return best


@pytest.mark.parametrize("seed", [40, 41, 42])
@pytest.mark.parametrize("p", [1, 3])
def test_pmedian_both_methods_against_brute_force(seed, p):
    tc, te, w, _ = random_instance(seed, n_cand=9, n_dem=35)
    opt = brute_pmedian(tc, te, w, p)
    prob = SitingProblem.from_matrices(tc, w, existing_times=te)
    for method in ("heuristic", "exact"):
        res = solve(prob, "pmedian", p=p, method=method, time_limit_s=5)
        assert res.bound <= opt + 1e-6 and res.objective >= opt - 1e-6 and len(res.selected_ids) == p
        assert (res.assigned_time * w).sum() == pytest.approx(res.objective)
    assert res.status == "optimal" and res.objective == pytest.approx(opt)


def test_pmedian_on_a_sparse_matrix_with_unreachable_pairs_matches_brute_force():
    tc, te, w, _ = random_instance(43, n_cand=8, n_dem=30)
    p = 2
    pen = 2 * max(tc[tc <= LIMIT].max(), te[te <= LIMIT].max())
    cost = lambda m: np.where(m <= LIMIT, m, pen)  # noqa: E731 - the model's unserved level
    opt = brute_pmedian(cost(tc), cost(te), w, p)
    prob = SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT)
    for method in ("heuristic", "exact"):
        res = solve(prob, "pmedian", p=p, method=method, time_limit_s=5)
        assert res.bound <= opt + 1e-6 <= res.objective + 2e-6 and len(res.selected_ids) == p
    assert res.status == "optimal" and res.objective == pytest.approx(opt)


@pytest.mark.parametrize("seed", [44, 45])
def test_pcenter_both_methods_against_brute_force(seed):
    tc, te, w, _ = random_instance(seed, n_cand=9, n_dem=35)
    p = 3
    opt = min(np.vstack([te, tc[list(s)]]).min(axis=0).max() for s in itertools.combinations(range(len(tc)), p))
    prob = SitingProblem.from_matrices(tc, w, existing_times=te)
    heur = solve(prob, "pcenter", p=p, method="heuristic")
    ex = solve(prob, "pcenter", p=p, method="exact")
    assert heur.bound <= opt <= heur.objective and len(heur.selected_ids) == p
    assert ex.status == "optimal" and ex.objective == pytest.approx(opt) and len(ex.selected_ids) == p


def brute_capacitated_median(tc, w, size, cap, p):
    """Least Σ w·t with split assignment: enumerate site sets, a transport LP per set."""
    best = np.inf
    m = len(w)
    for s in itertools.combinations(range(len(tc)), p):
        s = list(s)
        c = (w[None, :] * tc[s]).ravel()
        A_eq = np.kron(np.ones((1, len(s))), np.eye(m))
        A_ub = np.kron(np.eye(len(s)), size[None, :])
        r = linprog(c, A_ub=A_ub, b_ub=cap[s], A_eq=A_eq, b_eq=np.ones(m), bounds=(0, 1), method="highs")
        if r.status == 0:
            best = min(best, r.fun)
    return best


@pytest.mark.parametrize("seed", [46, 47])
def test_capacitated_pmedian_both_methods_against_brute_force(seed):
    tc, _, w, _ = random_instance(seed, n_cand=7, n_exist=0, n_dem=20)
    cap = np.full(len(tc), 0.45 * w.sum())
    p = 3
    opt = brute_capacitated_median(tc, w, w, cap, p)
    prob = SitingProblem.from_matrices(tc, w, candidate_capacity=cap)
    heur = solve(prob, "pmedian", p=p, capacitated=True, method="heuristic")
    ex = solve(prob, "pmedian", p=p, capacitated=True, method="exact")
    assert heur.bound <= opt + 1e-6
    if heur.status != "not_found":
        assert heur.objective >= opt - 1e-6 and (heur.site_load <= cap + 1e-6).all()
        assert ex.objective <= heur.objective + 1e-9
    assert ex.status == "optimal" and ex.objective == pytest.approx(opt, rel=1e-7) and len(ex.selected_ids) == p
    assert (ex.site_load <= cap + 1e-6).all()


@pytest.mark.parametrize("seed", [13, 14])
def test_capacitated_coverage_heuristic_within_its_bound(seed):
    from test_siting_models import brute_capacitated

    tc, _, w, _ = random_instance(seed, n_cand=7, n_exist=0, n_dem=25)
    cap = np.full(len(tc), 40.0)
    opt = brute_capacitated(tc, w, cap, 3)
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, candidate_capacity=cap)
    res = solve(prob, "mclp", p=3, capacitated=True, method="heuristic")
    assert res.objective <= opt + 1e-6 <= res.bound + 2e-6
    assert (res.site_load <= cap + 1e-6).all() and len(res.selected_ids) <= 3


def brute_equity(tc, w, groups, p, share):
    best = -1.0
    for s in subsets(len(tc), p):
        cov = covered_by(tc, s)
        if all(w[cov & (groups == g)].sum() >= share * w[groups == g].sum() - 1e-9 for g in np.unique(groups)):
            best = max(best, w[cov].sum())
    return best


@pytest.mark.parametrize("seed", [10, 11, 48])
def test_equity_mclp_both_methods_against_brute_force(seed):
    tc, _, w, _ = random_instance(seed, n_exist=0)
    groups = np.where(np.arange(len(w)) % 3 == 0, "A", "B")
    p, share = 2, 0.3
    opt = brute_equity(tc, w, groups, p, share)
    assert opt > 0
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, groups=groups)
    heur = solve(prob, "mclp", p=p, min_group_share=share, method="heuristic")
    assert heur.bound >= opt - 1e-9
    if heur.status != "not_found":
        assert heur.objective <= opt + 1e-9 and len(heur.selected_ids) <= p
        assert (coverage_by_group(heur, groups)["share_after"] >= share - 1e-9).all()
    ex = solve(prob, "mclp", p=p, min_group_share=share, method="exact")
    assert ex.status == "optimal" and ex.objective == pytest.approx(opt)
    if heur.status != "not_found":
        assert ex.objective >= heur.objective - 1e-9


def test_equity_partial_heuristic_meets_every_group_within_its_bound():
    tc, _, w, cost = random_instance(49, n_exist=0)
    groups = np.where(np.arange(len(w)) % 4 == 0, "A", "B")
    share, gshare = 0.5, 0.6
    best = np.inf
    for s in subsets(len(tc), len(tc)):
        cov = covered_by(tc, s)
        ok = w[cov].sum() >= share * w.sum() - 1e-9 and all(
            w[cov & (groups == g)].sum() >= min(gshare * w[groups == g].sum(),
                                                w[covered_by(tc, range(len(tc))) & (groups == g)].sum()) - 1e-9
            for g in "AB")
        if ok:
            best = min(best, len(s))
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, groups=groups)
    heur = solve(prob, "partial", target_share=share, min_group_share=gshare, method="heuristic")
    assert heur.status in ("optimal", "feasible")
    assert heur.bound <= best <= heur.objective
    ex = solve(prob, "partial", target_share=share, min_group_share=gshare, method="exact")
    assert ex.status == "optimal" and ex.objective == best


def test_multi_tier_mclp_heuristic_within_its_bound():
    tc, _, w, _ = random_instance(12, n_cand=6, n_exist=0)
    tiers = [Tier("station", cost=2.0, limit_min=6.0), Tier("centre", cost=5.0, limit_min=10.0)]
    budget = 9.0
    best = brute_multi_tier(tc, w, tiers, budget)
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, tiers=tiers)
    res = solve(prob, "mclp", budget=budget, method="heuristic")
    assert res.objective <= best + 1e-9 <= res.bound + 2e-9
    assert len(set(res.selected_ids)) == len(res.selected_ids) and res.to_frame()["cost"].sum() <= budget


@pytest.mark.parametrize("seed", [50, 51])
def test_mclp_exact_never_worse_than_heuristic(seed):
    tc, te, w, _ = random_instance(seed, n_cand=10)
    opt = brute_mclp(tc, te, w, p=3)
    prob = SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT)
    heur = solve(prob, "mclp", p=3, method="heuristic")
    ex = solve(prob, "mclp", p=3, method="exact")
    assert heur.objective <= ex.objective == pytest.approx(opt)


@pytest.mark.parametrize("seed", [3, 4])
def test_compiled_lagrangian_ascent_takes_the_same_steps_as_the_python_loop(seed):
    """The numba ascent is the Python subgradient loop step for step: same bound, multipliers,
    best relaxed solution priced, and options fixed (random real times: no ties in the top p)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 30, (60, 2))
    d = np.linalg.norm(pts[:, None] - pts[None], axis=2)
    md = median_mod.median_data(SitingProblem.from_matrices(d, rng.uniform(1, 5, 60)))
    x = median_mod.greedy_add(md, md.fixed.copy(), 6, None)
    v = median_mod.median_cost(md, x)
    a = median_mod.lagrangian_bound(md, 6, None, v, x, 60.0, max_iter=400)
    b = median_mod.lagrangian_bound(md, 6, None, v, x, 60.0, max_iter=400, compiled=False)
    assert a.bound == pytest.approx(b.bound, rel=1e-12)
    np.testing.assert_allclose(a.lam, b.lam, rtol=1e-9)
    assert a.primal_value == pytest.approx(b.primal_value, rel=1e-12)
    assert (a.closed == b.closed).all() and (a.forced == b.forced).all()
    assert a.bound <= v + 1e-9


def test_pmedian_with_tiers_opens_one_option_per_site():
    """Two tiers per candidate: a p-median plan opens p distinct sites, one tier each, even when
    the Lagrangian relaxation (which ignores one-per-site) picks or forces two tiers of a site."""
    rng = np.random.default_rng(5)
    for _ in range(60):
        nc, nd = int(rng.integers(3, 7)), int(rng.integers(5, 12))
        t = rng.integers(1, 15, (nc, nd)).astype(float)
        w = rng.integers(1, 5, nd).astype(float)
        prob = SitingProblem.from_matrices(t, w, limit_min=14, tiers=[Tier("a", 1.0), Tier("b", 2.0)])
        p = int(rng.integers(1, nc))
        for method in ("exact", "heuristic"):
            res = solve(prob, "pmedian", p=p, method=method, time_limit_s=10)
            ids = [str(s) for s in res.selected_ids]
            assert len(ids) == p and len(set(ids)) == p, (ids, res.status)
