"""Siting models checked against brute force (enumeration of site sets) on small instances.

Brute force here never calls the MILP code: it enumerates site subsets with itertools and
evaluates coverage / assignment directly (capacitated coverage: a transport LP per subset).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from eldercare_coverage.siting import SitingProblem, Tier, coverage_by_group, solve

LIMIT = 10.0


def random_instance(seed: int, n_cand: int = 9, n_exist: int = 1, n_dem: int = 40):
    """Points in a square; times in minutes = distance; pairs beyond LIMIT unreachable."""
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, 30, (n_dem, 2))
    cand = rng.uniform(0, 30, (n_cand, 2))
    exist = rng.uniform(0, 30, (n_exist, 2))
    tc = np.linalg.norm(cand[:, None] - dem[None], axis=2)
    te = np.linalg.norm(exist[:, None] - dem[None], axis=2)
    w = rng.integers(1, 20, n_dem).astype(float)
    cost = rng.integers(1, 6, n_cand).astype(float)
    return tc, te, w, cost


def covered_by(times: np.ndarray, rows, limit=LIMIT) -> np.ndarray:
    rows = list(rows)
    if not rows:
        return np.zeros(times.shape[1], bool)
    return (times[rows] <= limit).any(axis=0)


def subsets(n: int, kmax: int):
    for k in range(kmax + 1):
        yield from itertools.combinations(range(n), k)


def brute_mclp(tc, te, w, p=None, cost=None, budget=None):
    base = covered_by(te, range(len(te)))
    best = -1.0
    for s in subsets(len(tc), p if p else len(tc)):
        if budget is not None and cost[list(s)].sum() > budget + 1e-9:
            continue
        best = max(best, w[base | covered_by(tc, s)].sum())
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_mclp_matches_brute_force(seed, p):
    tc, te, w, _ = random_instance(seed)
    prob = SitingProblem.from_matrices(np.where(tc <= LIMIT, tc, np.inf), w,
                                       existing_times=np.where(te <= LIMIT, te, np.inf), limit_min=LIMIT)
    res = solve(prob, "mclp", p=p, method="exact")
    assert res.status == "optimal"
    assert res.objective == pytest.approx(brute_mclp(tc, te, w, p=p))
    assert res.covered_weight == pytest.approx(res.objective)
    assert len(res.selected_ids) <= p
    # The existing facility's demand is counted and it is never "selected".
    assert not set(res.selected_ids) & {"e0"}
    assert res.covered_before.sum() > 0 and np.all(res.covered[res.covered_before])


@pytest.mark.parametrize("seed", [3, 4])
@pytest.mark.parametrize("budget", [3.0, 7.0])
def test_mclp_budget_matches_brute_force(seed, budget):
    tc, te, w, cost = random_instance(seed)
    prob = SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT, candidate_cost=cost)
    res = solve(prob, "mclp", budget=budget, method="exact")
    assert res.objective == pytest.approx(brute_mclp(tc, te, w, cost=cost, budget=budget))
    assert res.to_frame()["cost"].sum() <= budget + 1e-9


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_lscp_count_and_cost_match_brute_force(seed):
    tc, te, w, cost = random_instance(seed, n_exist=0)
    reach = (tc <= LIMIT).any(axis=0)
    best_n, best_c = None, np.inf
    for s in subsets(len(tc), len(tc)):
        if np.all(covered_by(tc, s)[reach]):
            best_n = len(s) if best_n is None else min(best_n, len(s))
            best_c = min(best_c, cost[list(s)].sum())
    res = solve(SitingProblem.from_matrices(tc, w, limit_min=LIMIT), "lscp", method="exact")
    assert res.status == "optimal" and res.objective == best_n == len(res.selected_ids)
    assert np.all(res.covered[reach])
    # Demand no candidate reaches is reported, not made infeasible.
    assert res.uncoverable_weight == pytest.approx(w[~reach].sum())
    resc = solve(SitingProblem.from_matrices(tc, w, limit_min=LIMIT, candidate_cost=cost), "lscp", method="exact")
    assert resc.objective == pytest.approx(best_c)


def test_lscp_reports_uncoverable_demand():
    tc = np.array([[1.0, 2.0, np.inf], [np.inf, 3.0, np.inf]])
    res = solve(SitingProblem.from_matrices(tc, np.array([1.0, 2.0, 5.0]), limit_min=LIMIT), "lscp")
    assert res.status == "optimal"
    assert list(res.selected_ids) == ["c0"]
    assert res.uncoverable_weight == 5.0 and res.covered_weight == 3.0


@pytest.mark.parametrize("seed,share", [(8, 0.5), (9, 0.8)])
def test_partial_cover_matches_brute_force(seed, share):
    tc, te, w, _ = random_instance(seed)
    base = covered_by(te, range(len(te)))
    best = None
    for s in subsets(len(tc), len(tc)):
        if w[base | covered_by(tc, s)].sum() >= share * w.sum() - 1e-9:
            best = len(s)
            break  # subsets come in order of size
    prob = SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT)
    res = solve(prob, "partial", target_share=share, method="exact")
    if best is None:  # unreachable: the model asks for everything reachable and says so
        assert "unreachable" in res.message
    else:
        assert res.objective == best
        assert res.covered_share >= share - 1e-9


@pytest.mark.parametrize("seed", [10, 11])
def test_equity_constraint_matches_brute_force(seed):
    tc, te, w, _ = random_instance(seed, n_exist=0)
    groups = np.where(np.arange(len(w)) % 3 == 0, "A", "B")
    p, share = 2, 0.3
    best = -1.0
    for s in subsets(len(tc), p):
        cov = covered_by(tc, s)
        if all(w[cov & (groups == g)].sum() >= share * w[groups == g].sum() - 1e-9 for g in "AB"):
            best = max(best, w[cov].sum())
    assert best > 0, "instance must admit the equity constraint"
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, groups=groups)
    res = solve(prob, "mclp", p=p, min_group_share=share, method="exact")
    assert res.objective == pytest.approx(best)
    tab = coverage_by_group(res, groups)
    assert (tab["share_after"] >= share - 1e-9).all()
    assert tab["covered_after"].sum() == pytest.approx(res.covered_weight)


def brute_multi_tier(tc, w, tiers, budget) -> float:
    """Most covered weight over every choice of one tier (or none) per site within the budget."""
    best = -1.0
    for combo in itertools.product([-1] + list(range(len(tiers))), repeat=len(tc)):
        combo = np.array(combo)
        spent = sum(tiers[t].cost for t in combo if t >= 0)
        if spent > budget:
            continue
        cov = np.zeros(len(w), bool)
        for t, tr in enumerate(tiers):
            cov |= covered_by(tc, np.nonzero(combo == t)[0], tr.limit_min)
        best = max(best, w[cov].sum())
    return best


def test_multi_tier_matches_brute_force():
    tc, te, w, _ = random_instance(12, n_cand=6, n_exist=0)
    tiers = [Tier("station", cost=2.0, limit_min=6.0), Tier("centre", cost=5.0, limit_min=10.0)]
    budget = 9.0
    best = brute_multi_tier(tc, w, tiers, budget)
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, tiers=tiers)
    res = solve(prob, "mclp", budget=budget, method="exact")
    assert res.objective == pytest.approx(best)
    assert len(set(res.selected_ids)) == len(res.selected_ids)  # one tier per site
    frame = res.to_frame()
    assert set(frame["tier"]) <= {"station", "centre"} and frame["cost"].sum() <= budget


def brute_capacitated(tc, w, cap, p):
    """Max served weight: enumerate open sets, then a transport LP per set (independent of the MILP)."""
    best = 0.0
    for s in subsets(len(tc), p):
        if not s:
            continue
        pairs = [(i, j) for i in s for j in range(len(w)) if tc[i, j] <= LIMIT]
        if not pairs:
            continue
        n = len(pairs)
        A = np.zeros((len(w) + len(s), n))
        for k, (i, j) in enumerate(pairs):
            A[j, k] = 1.0
            A[len(w) + s.index(i), k] = w[j]
        b = np.concatenate([np.ones(len(w)), cap[list(s)]])
        c = -np.array([w[j] for _, j in pairs])
        r = linprog(c, A_ub=A, b_ub=b, bounds=(0, 1), method="highs")
        best = max(best, -r.fun)
    return best


@pytest.mark.parametrize("seed", [13, 14])
def test_capacitated_coverage_matches_brute_force(seed):
    tc, _, w, _ = random_instance(seed, n_cand=7, n_exist=0, n_dem=25)
    cap = np.full(len(tc), 40.0)
    p = 3
    prob = SitingProblem.from_matrices(tc, w, limit_min=LIMIT, candidate_capacity=cap)
    res = solve(prob, "mclp", p=p, capacitated=True, method="exact")
    assert res.objective == pytest.approx(brute_capacitated(tc, w, cap, p), rel=1e-6)
    assert (res.site_load <= cap + 1e-6).all()
    assert res.site_load.sum() == pytest.approx(res.objective)
    assert res.to_frame()["served_weight"].sum() == pytest.approx(res.objective)
    # Assignments stay within the walk limit.
    assert np.nanmax(res.assigned_time) <= LIMIT
    # Capacities bind: uncapacitated coverage of the same sites would be larger.
    assert res.objective < solve(SitingProblem.from_matrices(tc, w, limit_min=LIMIT), "mclp", p=p).objective


@pytest.mark.parametrize("seed", [15, 16])
def test_pmedian_and_pcenter_match_brute_force(seed):
    tc, te, w, _ = random_instance(seed, n_cand=8, n_exist=1, n_dem=30)
    p = 2
    best_med, best_cen = np.inf, np.inf
    for s in itertools.combinations(range(len(tc)), p):
        d = np.vstack([te, tc[list(s)]]).min(axis=0)
        best_med = min(best_med, (w * d).sum())
        best_cen = min(best_cen, d.max())
    prob = SitingProblem.from_matrices(tc, w, existing_times=te)  # dense, no limit: every pair counts
    med = solve(prob, "pmedian", p=p)
    assert med.status == "optimal" and med.objective == pytest.approx(best_med)
    assert (med.assigned_time * w).sum() == pytest.approx(best_med)
    cen = solve(prob, "pcenter", p=p)
    assert cen.status == "optimal" and cen.objective == pytest.approx(best_cen)
    assert cen.bound == pytest.approx(best_cen)


@pytest.mark.parametrize("seed", [17, 18, 19])
def test_mclp_heuristic_within_its_bound(seed):
    tc, te, w, _ = random_instance(seed, n_cand=10)
    opt = brute_mclp(tc, te, w, p=3)
    res = solve(SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT), "mclp", p=3,
                method="heuristic")
    assert res.method == "heuristic"
    assert res.objective <= opt + 1e-9 <= res.bound + 2e-9
    assert res.gap == pytest.approx((res.bound - res.objective) / res.objective)


@pytest.mark.parametrize("seed", [20, 21])
def test_lscp_heuristic_within_its_bound(seed):
    tc, _, w, _ = random_instance(seed, n_exist=0)
    exact = solve(SitingProblem.from_matrices(tc, w, limit_min=LIMIT), "lscp", method="exact")
    heur = solve(SitingProblem.from_matrices(tc, w, limit_min=LIMIT), "lscp", method="heuristic")
    assert heur.bound - 1e-9 <= exact.objective <= heur.objective
    reach = (tc <= LIMIT).any(axis=0)
    assert np.all(heur.covered[reach]) and heur.status in ("optimal", "feasible")


def test_explicit_zero_time_counts_as_covered():
    # Site 0 stands on demand point 0 (0 minutes, an explicit zero) and reaches nothing else.
    m = sp.csr_matrix((np.array([0.0, 5.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    assert m.nnz == 2
    res = solve(SitingProblem.from_matrices(m, np.array([10.0, 1.0]), limit_min=LIMIT), "mclp", p=1)
    assert list(res.selected_ids) == ["c0"] and res.objective == 10.0
    assert res.assigned_time[0] == 0.0


def test_sparse_and_dense_inputs_agree():
    tc, te, w, _ = random_instance(22)
    dense = SitingProblem.from_matrices(tc, w, existing_times=te, limit_min=LIMIT)
    csr = sp.csr_matrix(np.where(tc <= LIMIT, tc, 0.0))
    sparse = SitingProblem.from_matrices(csr, w, existing_times=sp.csr_matrix(np.where(te <= LIMIT, te, 0.0)),
                                         limit_min=LIMIT)
    a, b = solve(dense, "mclp", p=2), solve(sparse, "mclp", p=2)
    assert a.objective == b.objective
