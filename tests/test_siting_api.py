"""The pipeline entry ``run_siting``, the shared result shape and before/after tables."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from eldercare_coverage.config import SitingSection
from eldercare_coverage.siting import MODELS, SitingProblem, Tier, coverage_by_group, run_siting, solve

# Demand points 0..5 on a line, 1 minute apart; district A = points 0-2, B = points 3-5.
# Existing facility E covers points 0-1; candidate sites a (points 1-3), b (4-5), c (5 only).
WEIGHTS = np.array([10.0, 10.0, 5.0, 8.0, 4.0, 6.0])
GROUPS = np.array(["A", "A", "A", "B", "B", "B"])
LIMIT = 15.0


def matrices():
    # Explicit zero: E stands on point 0 (0 minutes is stored, not "absent").
    existing = sp.csr_matrix((np.array([0.0, 5.0]), (np.array([0, 0]), np.array([0, 1]))), shape=(1, 6))
    cand = sp.csr_matrix((np.array([4.0, 2.0, 7.0, 3.0, 9.0, 1.0]),
                          (np.array([0, 0, 0, 1, 1, 2]), np.array([1, 2, 3, 4, 5, 5]))), shape=(3, 6))
    return cand, existing


def call(cfg, **kw):
    cand, exist = matrices()
    args = dict(candidate_matrix=cand, existing_matrix=exist, weights=WEIGHTS, demand_group=GROUPS,
                candidate_ids=np.array(["a", "b", "c"]), existing_ids=np.array(["E"]), limit_min=LIMIT)
    args.update(kw)
    return run_siting(cfg, **args)


def test_run_siting_mclp_shape_and_tables():
    res = call(SitingSection(model="mclp", p=1))
    # a adds points 2-3 (13), b adds 4-5 (10): a wins.
    assert list(res.selected_ids) == ["a"] and res.status == "optimal"
    assert res.objective == pytest.approx(20 + 13) == res.covered_weight
    assert res.covered_before.tolist() == [True, True, False, False, False, False]
    # Point 1 is 5 min from E and 4 min from a: nearest open site wins.
    assert list(res.assigned_ids) == ["E", "a", "a", "a", "", ""]
    assert res.assigned_ids[0] == "E" and res.assigned_time[0] == 0.0
    frame = res.to_frame()
    assert list(frame.columns) == ["site_id", "tier", "cost", "capacity", "served_weight", "newly_covered_weight"]
    assert frame.loc[0, "newly_covered_weight"] == pytest.approx(13.0)
    tab = coverage_by_group(res, GROUPS).set_index("group")
    assert tab.loc["A", "covered_before"] == 20 and tab.loc["A", "covered_after"] == 25
    assert tab.loc["B", "covered_before"] == 0 and tab.loc["B", "covered_after"] == 8
    assert tab.loc["B", "share_after"] == pytest.approx(8 / 18)
    for key in ("p", "time_limit_s", "weight", "limit_min"):
        assert key in res.params
    assert res.solve_time_s >= 0 and res.model == "mclp" and res.method == "exact"


def test_run_siting_equity_changes_the_choice():
    # District B must reach 50 %: only b (10 of 18 in B) does that with one site.
    res = call(SitingSection(model="mclp", p=1, min_district_share=0.5))
    assert list(res.selected_ids) == ["b"]
    tab = coverage_by_group(res, GROUPS).set_index("group")
    assert tab.loc["B", "share_after"] >= 0.5


def test_run_siting_budget_with_costs():
    res = call(SitingSection(model="mclp", budget=3.0), candidate_cost=np.array([5.0, 2.0, 1.0]))
    assert set(res.selected_ids) == {"b", "c"} or list(res.selected_ids) == ["b"]
    assert res.to_frame()["cost"].sum() <= 3.0
    assert res.objective == pytest.approx(30.0)


def test_run_siting_lscp_and_partial():
    lscp = call(SitingSection(model="lscp"))
    assert sorted(lscp.selected_ids) == ["a", "b"] and lscp.covered.all()
    part = call(SitingSection(model="partial", target_share=0.7))
    # 20 of 43 covered already; 0.7 × 43 = 30.1 needs a (→ 33).
    assert list(part.selected_ids) == ["a"] and part.covered_share >= 0.7


@pytest.mark.parametrize("model", MODELS)
def test_every_model_returns_the_same_shape(model):
    res = call(SitingSection(model=model, p=2, target_share=0.8))
    for name in ("selected_ids", "objective", "covered_weight", "assignment", "status", "bound", "gap",
                 "solve_time_s", "model", "params"):
        assert hasattr(res, name)
    assert res.status == "optimal", res.message
    assert len(res.assignment) == len(WEIGHTS) and res.gap == 0


def test_run_siting_capacitated_limits_service():
    res = call(SitingSection(model="mclp", p=1, capacitated=True),
               candidate_capacity=np.array([6.0, 100.0, 100.0]), existing_capacity=np.array([100.0]))
    # a may serve only 6 of its 13 new weight; b serves all 10: b wins.
    assert list(res.selected_ids) == ["b"]
    assert res.objective == pytest.approx(20 + 10)


def test_run_siting_tiers_from_config_and_override():
    tiers = [Tier("service_station", cost=1.0, limit_min=3.0), Tier("day_care_centre", cost=3.0)]
    res = call(SitingSection(model="mclp", budget=3.0), tiers=tiers)
    # A station reaches only pairs ≤ 3 min; best within budget 3: one centre at a (13) or
    # stations at a (point 2: 5), b (point 4: 4) and c (point 5: 6) = 15.
    assert res.objective == pytest.approx(20 + 15)
    assert set(res.selected_tiers) == {"service_station"}
    named = call(SitingSection(model="mclp", p=1, tiers=["service_station", "day_care_centre"]))
    assert len(named.selected_ids) == 1 and named.selected_tiers[0] in ("service_station", "day_care_centre")
    with pytest.raises(ValueError, match="not known"):
        call(SitingSection(model="mclp", p=1, tiers=["castle"]))


def test_heuristic_method_from_config():
    res = call(SitingSection(model="mclp", p=1, method="heuristic"))
    assert res.method == "heuristic" and list(res.selected_ids) == ["a"] and res.bound >= res.objective


def test_missing_p_is_an_error():
    with pytest.raises(ValueError, match="p"):
        call(SitingSection(model="mclp"))
    with pytest.raises(ValueError, match="empty"):
        call(SitingSection(model=""))


def test_problem_validates_shapes():
    cand, _ = matrices()
    with pytest.raises(ValueError, match="weights"):
        SitingProblem.from_matrices(cand, np.ones(5))
    with pytest.raises(ValueError, match="candidate_cost"):
        SitingProblem.from_matrices(cand, WEIGHTS, candidate_cost=np.array([1.0, -1.0, 2.0]))


def test_pcenter_infeasible_within_limit_is_reported():
    # Point 0 reachable only from a; p = 0 new sites beyond... p=1 cannot reach both ends.
    cand = sp.csr_matrix((np.array([1.0, 1.0]), (np.array([0, 1]), np.array([0, 1]))), shape=(2, 2))
    res = solve(SitingProblem.from_matrices(cand, np.ones(2), limit_min=LIMIT), "pcenter", p=1)
    assert res.status == "infeasible" and "at least 2" in res.message


@pytest.mark.parametrize("model", MODELS)
def test_nothing_to_add_is_a_clean_answer(model):
    # The existing facility already reaches every point: no model needs a new site to cover more.
    exist = np.array([[1.0, 1.0, 1.0]])
    cand = np.array([[1.0, np.inf, np.inf], [np.inf, 2.0, np.inf]])
    prob = SitingProblem.from_matrices(cand, np.ones(3), existing_times=exist, limit_min=5)
    res = solve(prob, model, p=1)
    assert res.status == "optimal" and res.covered.all() and res.covered_before.all()
    if model in ("mclp", "lscp", "partial"):
        assert len(res.selected_ids) == 0


def test_unreachable_demand_only():
    prob = SitingProblem.from_matrices(np.full((2, 3), np.inf), np.ones(3), limit_min=5)
    for model in MODELS:
        res = solve(prob, model, p=1)
        assert res.uncoverable_weight == 3.0 and not res.covered.any()


def test_auto_switches_to_the_heuristic_on_large_matrices(monkeypatch):
    from eldercare_coverage.siting import dispatch

    monkeypatch.setattr(dispatch, "AUTO_EXACT_MAX_PAIRS", 0)
    res = call(SitingSection(model="mclp", p=1, method="auto"))
    assert res.method == "heuristic" and list(res.selected_ids) == ["a"]
    # Every model has a heuristic now; p-median's opens exactly p sites.
    med = call(SitingSection(model="pmedian", p=1, method="heuristic"))
    assert med.method == "heuristic" and len(med.selected_ids) == 1 and med.bound <= med.objective


def test_exact_mclp_on_big_instances_tries_the_heuristic_first(monkeypatch):

    from eldercare_coverage.siting import SitingProblem, dispatch, solve

    rng = np.random.default_rng(7)
    dense = np.where(rng.random((60, 400)) < 0.08, rng.uniform(1, 15, (60, 400)), np.inf)
    weights = rng.uniform(1, 10, 400)
    prob = SitingProblem.from_matrices(dense, weights, limit_min=15)
    plain = solve(prob, "mclp", p=6, method="exact")
    assert plain.status == "optimal"
    monkeypatch.setattr(dispatch, "HEURISTIC_FIRST_PAIRS", 0)
    # A loose gap accepts the heuristic when its own bound proves it within the gap.
    loose = solve(prob, "mclp", p=6, method="exact", mip_gap=0.5)
    assert loose.gap <= 0.5 and loose.objective <= plain.objective + 1e-9
    # A zero gap still ends at the proven optimum.
    tight = solve(prob, "mclp", p=6, method="exact", mip_gap=0.0)
    assert tight.status == "optimal" and abs(tight.objective - plain.objective) < 1e-6


def test_solving_prints_nothing(capfd):
    from eldercare_coverage.siting import SitingProblem, solve

    rng = np.random.default_rng(3)
    dense = np.where(rng.random((20, 80)) < 0.2, rng.uniform(1, 15, (20, 80)), np.inf)
    solve(SitingProblem.from_matrices(dense, rng.uniform(1, 5, 80), limit_min=15), "mclp", p=3, method="exact")
    out, err = capfd.readouterr()
    assert out == "" and "HiGHS" not in err


@pytest.mark.parametrize("method", ["exact", "heuristic"])
def test_solver_notes_are_catalogue_texts_in_the_study_language(method):
    # Point 2 is out of every site's reach, so a 100 % target share is unreachable.
    cand = np.array([[1.0, 2.0, np.inf], [np.inf, 1.0, np.inf]])
    prob = SitingProblem.from_matrices(cand, np.array([3.0, 1.0, 6.0]), limit_min=5)
    res = solve(prob, "partial", target_share=1.0, method=method)
    assert [n.key for n in res.notes] == ["solver.target_unreachable"]
    assert res.message == res.notes[0].render("en") and "Target share 100% is unreachable" in res.message
    assert "40.0%" in res.message  # the most any choice covers: 4 of 10
    zh = res.message_in("zh")
    assert "目标覆盖比例 100% 无法达到" in zh and "40.0%" in zh and "unreachable" not in zh


def test_siting_status_warning_carries_the_notes_in_the_study_language():
    from eldercare_coverage.errors import ProblemReport
    from eldercare_coverage.messages import ByLanguage
    from eldercare_coverage.pipeline import _solver_detail

    cand = np.array([[1.0, 2.0, np.inf]])
    prob = SitingProblem.from_matrices(cand, np.array([3.0, 1.0, 6.0]), limit_min=5)
    res = solve(prob, "partial", target_share=1.0, method="heuristic")
    for lang, word in (("zh", "无法达到"), ("en", "unreachable")):
        report = ProblemReport(language=lang)
        report.warning("study.toml", "pipeline.siting_status", field="siting.model", model="partial",
                       status="time_limit", detail=ByLanguage(lambda lg: _solver_detail(res, lg)))
        text = report.format(lang)
        assert word in text and ("无法达到" in text) == (lang == "zh")
    assert _solver_detail(dataclasses_replace_notes(res), "zh") == ""


def dataclasses_replace_notes(res):
    import dataclasses

    return dataclasses.replace(res, notes=(), message="")
