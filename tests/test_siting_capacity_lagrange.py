"""The capacitated p-median's knapsack Lagrangian: a valid bound, and options it closes open
in no solution better than the incumbent it was given (brute force over all site sets with
single-source assignment); the exact method built on it matches brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from eldercare_coverage.siting import SitingProblem, solve
from eldercare_coverage.siting.capacity_lagrange import capacity_lagrange


def instance(seed: int, n_cand: int = 7, n_dem: int = 12):
    rng = np.random.default_rng(seed)
    dem = rng.uniform(0, 30, (n_dem, 2))
    cand = rng.uniform(0, 30, (n_cand, 2))
    tc = np.floor(np.linalg.norm(cand[:, None] - dem[None], axis=2))
    size = rng.integers(1, 8, n_dem).astype(float)
    cap = np.full(n_cand, float(np.ceil(size.sum() / 2.5)))
    return tc, size, cap


def single_source_value(tc, size, cap, sites) -> float:
    """Least Σ t over single-source assignments of every point to ``sites`` (a small MILP)."""
    s = list(sites)
    m = tc.shape[1]
    c = tc[s].ravel()
    eq = LinearConstraint(np.kron(np.ones((1, len(s))), np.eye(m)), 1, 1)
    capr = LinearConstraint(np.kron(np.eye(len(s)), size[None, :]), -np.inf, cap[s])
    r = milp(c, constraints=[eq, capr], integrality=np.ones(len(c)), bounds=Bounds(0, 1))
    return float(r.fun) if r.status == 0 else np.inf


def all_values(tc, size, cap, p) -> dict:
    return {s: single_source_value(tc, size, cap, s) for s in itertools.combinations(range(len(tc)), p)}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_bound_is_valid_and_closed_options_are_in_no_better_solution(seed):
    tc, size, cap = instance(seed)
    p = 3
    values = all_values(tc, size, cap, p)
    opt = min(values.values())
    prob = SitingProblem.from_matrices(tc, np.ones(tc.shape[1]), candidate_capacity=cap, demand_size=size)
    # an incumbent a little worse than the optimum, as a heuristic would give
    upper = sorted(v for v in values.values() if np.isfinite(v))[len(values) // 4]
    lag = capacity_lagrange(prob, p, upper, single_source=True, time_budget_s=5)
    assert lag.exact_knapsacks
    assert lag.bound <= opt + 1e-9
    better = [s for s, v in values.items() if v < upper - 1e-9]
    for s in better:
        assert not lag.closed[list(s)].any(), (s, values[s], np.flatnonzero(lag.closed))


@pytest.mark.parametrize("seed", [5, 6, 7])
def test_exact_single_source_capacitated_pmedian_matches_brute_force(seed):
    tc, size, cap = instance(seed)
    p = 3
    opt = min(all_values(tc, size, cap, p).values())
    prob = SitingProblem.from_matrices(tc, np.ones(tc.shape[1]), candidate_capacity=cap, demand_size=size)
    res = solve(prob, "pmedian", p=p, capacitated=True, single_source=True, method="exact", time_limit_s=60)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(opt)
    assert len(res.selected_ids) == p
    load = np.bincount(res.assignment, weights=size, minlength=len(tc))
    assert (load <= cap + 1e-9).all() and (res.assignment >= 0).all()
    assert res.params["lagrangian_bound"] <= opt + 1e-9


@pytest.mark.parametrize("seed", [8, 9])
def test_capacitated_heuristic_is_the_lagrangian_heuristic_with_its_bound(seed):
    """The heuristic tries the relaxation's open sets and states the Lagrangian bound."""
    tc, size, cap = instance(seed)
    p = 3
    opt = min(all_values(tc, size, cap, p).values())
    prob = SitingProblem.from_matrices(tc, np.ones(tc.shape[1]), candidate_capacity=cap, demand_size=size)
    lag = capacity_lagrange(prob, p, 10 * opt, single_source=True, time_budget_s=5)
    assert lag.site_sets and all(int(y.sum()) == p for y in lag.site_sets)
    res = solve(prob, "pmedian", p=p, capacitated=True, single_source=True, method="heuristic", time_limit_s=10)
    assert res.bound <= opt + 1e-9 <= res.objective + 2e-9
    assert res.bound >= lag.bound - 1e-9  # at least the Lagrangian bound, not only the uncapacitated one
    assert len(res.selected_ids) == p


def test_split_assignment_bounds_are_not_rounded_to_whole_numbers():
    """With split assignment the optimum can be a fraction (26.25) even with whole times and
    weights: the bound must not round up past it, nor the fixing assume whole steps (review of
    the knapsack Lagrangian; 32 of 400 such instances were wrong before)."""
    from eldercare_coverage.siting.assignment import solve_assignment_exact

    rng = np.random.default_rng(2)
    checked = 0
    for _ in range(120):
        nc, nd = int(rng.integers(3, 7)), int(rng.integers(4, 9))
        t = rng.integers(1, 10, (nc, nd)).astype(float)
        w = rng.integers(1, 5, nd).astype(float)
        size = rng.integers(1, 5, nd).astype(float)
        cap = rng.integers(3, 9, nc).astype(float)
        prob = SitingProblem.from_matrices(t, w, candidate_capacity=cap, demand_size=size, limit_min=100)
        p = int(rng.integers(1, nc))
        ref = solve_assignment_exact(prob, "pmedian", p=p, capacitated=True, time_limit_s=20)
        if ref.status != "optimal":
            continue
        checked += 1
        lag = capacity_lagrange(prob, p, 2 * ref.objective + 1, single_source=False)
        assert lag.bound <= ref.objective + 1e-6
        for method in ("exact", "heuristic"):
            res = solve(prob, "pmedian", p=p, capacitated=True, method=method, time_limit_s=20)
            assert res.bound <= ref.objective + 1e-6
            if res.status == "optimal":
                assert res.objective == pytest.approx(ref.objective, abs=1e-6)
    assert checked > 30  # instances whose site sets can hold the demand
