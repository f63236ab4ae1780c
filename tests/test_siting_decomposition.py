"""Benders MCLP and the iterative-relaxation p-center against brute force on small instances.

The decompositions only switch on for large matrices; here their thresholds are lowered so
that they run on instances small enough to enumerate. Brute force never calls the solvers.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_siting_models import LIMIT, brute_mclp, random_instance

from eldercare_coverage.siting import SitingProblem, center, dispatch, solve
from eldercare_coverage.siting.benders import solve_mclp_benders


def cover_problem(seed, n_cand=10, n_dem=45, cost=False):
    tc, te, w, c = random_instance(seed, n_cand=n_cand, n_exist=1, n_dem=n_dem)
    prob = SitingProblem.from_matrices(np.where(tc <= LIMIT, tc, np.inf), w,
                                       existing_times=np.where(te <= LIMIT, te, np.inf), limit_min=LIMIT,
                                       candidate_cost=c if cost else None)
    return prob, tc, te, w, c


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("p", [1, 2, 4])
def test_benders_mclp_matches_brute_force(seed, p):
    prob, tc, te, w, _ = cover_problem(seed)
    opt = brute_mclp(tc, te, w, p=p)
    res = solve_mclp_benders(prob, p=p, budget=None, time_limit_s=30, mip_gap=0.0)
    assert res.status == "optimal" and res.objective == pytest.approx(opt) and res.bound == pytest.approx(opt)
    assert len(res.selected_ids) <= p
    assert res.covered_weight == pytest.approx(res.objective)  # the sites listed give the objective


@pytest.mark.parametrize("seed", [4, 5])
def test_benders_mclp_with_a_budget_matches_brute_force(seed):
    prob, tc, te, w, c = cover_problem(seed, cost=True)
    opt = brute_mclp(tc, te, w, cost=c, budget=7.0)
    res = solve_mclp_benders(prob, p=None, budget=7.0, time_limit_s=30, mip_gap=0.0)
    assert res.status == "optimal" and res.objective == pytest.approx(opt)
    assert res.site_cost[res.selected_sites].sum() <= 7.0 + 1e-9


def test_benders_at_a_tiny_limit_never_claims_more_than_it_proved():
    prob, tc, te, w, _ = cover_problem(6, n_cand=12, n_dem=80)
    opt = brute_mclp(tc, te, w, p=3)
    res = solve_mclp_benders(prob, p=3, budget=None, time_limit_s=1e-3, mip_gap=0.0)
    assert res.objective <= opt + 1e-9 <= res.bound + 2e-9 and len(res.selected_ids) <= 3
    assert res.status in ("optimal", "time_limit")
    if res.status == "optimal":
        assert res.objective == pytest.approx(opt)


def test_exact_mclp_on_big_instances_goes_through_benders(monkeypatch):
    prob, tc, te, w, _ = cover_problem(7)
    monkeypatch.setattr(dispatch, "HEURISTIC_FIRST_PAIRS", 0)
    monkeypatch.setattr(dispatch, "MCLP_BENDERS_MIN_PAIRS", 0)
    res = solve(prob, "mclp", p=3, method="exact", time_limit_s=30)
    assert res.objective == pytest.approx(brute_mclp(tc, te, w, p=3)) and res.status == "optimal"
    assert "Benders" in res.message or (res.method == "heuristic" and res.gap == 0)  # a proven heuristic returns first


@pytest.mark.parametrize("seed", [44, 45, 46])
@pytest.mark.parametrize("p", [2, 3])
def test_pcenter_row_generation_matches_brute_force(monkeypatch, seed, p):
    monkeypatch.setattr(center, "ROWGEN_MIN_COLUMNS", 0)  # the relaxation on every radius
    tc, te, w, _ = random_instance(seed, n_cand=9, n_dem=60)
    opt = min(np.vstack([te, tc[list(s)]]).min(axis=0).max() for s in itertools.combinations(range(len(tc)), p))
    res = solve(SitingProblem.from_matrices(tc, w, existing_times=te), "pcenter", p=p, method="exact")
    assert res.status == "optimal" and res.objective == pytest.approx(opt) and res.bound == pytest.approx(opt)
    assert len(res.selected_ids) == p


def test_cover_decision_adds_missed_columns_until_it_decides(monkeypatch):
    import scipy.sparse as sp

    monkeypatch.setattr(center, "ROWGEN_MIN_COLUMNS", 0)
    # 3 options; option k covers columns of block k (60 columns each) and one shared column.
    n, blk = 3, 60
    rows = np.repeat(np.arange(n), blk)
    cols = np.arange(n * blk)
    A = sp.csr_matrix((np.ones(n * blk), (rows, cols)), shape=(n, n * blk))
    site = np.arange(n)
    assert center.cover_decision(A, site, 2, 10)[0] == "infeasible"
    st, chosen = center.cover_decision(A, site, 3, 10)
    assert st == "feasible" and sorted(chosen) == [0, 1, 2]
