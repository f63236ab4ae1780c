"""Siting on a stitched matrix (whole study or per district, with the boundary effect) and
scenario sweeps over the same tiles (issue 17)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.siting_scale import estimated_bytes, site_at_scale


@pytest.fixture(scope="module")
def sample(sample_run):
    _, result = sample_run
    return dataclasses.replace(result.study, report=ProblemReport()), result.stages["network"], result.stages["access"]


def _problem(access):
    w = access.demand["elderly_population"].to_numpy(float)
    return dict(candidate_matrix=access.candidate_matrix, weights=w, groups=access.demand["district"].to_numpy(),
                existing_matrix=access.facility_matrix, candidate_ids=access.candidate_ids, limit_min=15.0)


def _covered_share(access, chosen, weights) -> float:
    m = access.candidate_matrix[np.flatnonzero(np.isin(access.candidate_ids, chosen))]
    reach = (np.asarray((m > 0).sum(axis=0)).ravel() > 0) | (np.asarray((access.facility_matrix > 0).sum(axis=0)).ravel() > 0)
    return float(weights[reach].sum() / weights.sum())


def test_whole_study_when_it_fits(sample):
    _, _, access = sample
    kw = _problem(access)
    res = site_at_scale(p=5, memory_bytes=10 ** 12, **kw)
    assert res.strategy == "whole study (heuristic)" and len(res.selected_ids) == 5
    assert res.estimated_bytes == estimated_bytes(access.candidate_matrix, access.facility_matrix) > 0
    assert res.covered_share == pytest.approx(_covered_share(access, res.selected_ids, kw["weights"]))
    assert res.covered_share > res.covered_share_before


def test_per_district_when_it_does_not_fit_reports_the_boundary_effect(sample):
    _, _, access = sample
    kw = _problem(access)
    res = site_at_scale(p=5, memory_bytes=1, **kw)
    assert res.strategy == "per district"
    assert sorted(res.by_district["district"]) == sorted(set(kw["groups"]))
    assert res.by_district["p"].sum() == 5 and len(res.selected_ids) == res.by_district["new_sites"].sum() <= 5
    # evaluated on the whole matrix; the boundary effect is what the districts could not count
    assert res.covered_share == pytest.approx(_covered_share(access, res.selected_ids, kw["weights"]))
    assert res.boundary_effect_share == pytest.approx(res.covered_share - res.district_sum_share)
    assert res.boundary_effect_share >= -1e-12
    whole = site_at_scale(p=5, memory_bytes=10 ** 12, **kw)
    assert whole.covered_share >= res.covered_share - 1e-9  # the split never helps


def test_sweep_compares_scenarios_over_the_same_tiles(sample):
    from eldercare_coverage.sweeps import sweep

    study, net, access = sample
    table = sweep(study, net, [{"name": "as run"}, {"name": "10 min, 3 sites", "time_limit_min": 10.0, "p": 3}],
                  tiling="district")
    assert list(table["scenario"]) == ["as run", "10 min, 3 sites"] and set(table["tiles"]) == {2}
    base, short = table.iloc[0], table.iloc[1]
    d = access.demand
    w = d["elderly_population"].to_numpy(float)
    assert base["share_elderly_within"] == pytest.approx(w[d["within_limit"].to_numpy(bool)].sum() / w.sum())
    assert short["time_limit_min"] == 10.0 and short["share_elderly_within"] < base["share_elderly_within"]
    assert base["new_sites"] == study.config.siting.p and short["new_sites"] == 3
    with pytest.raises(ValueError, match="unknown scenario keys"):
        sweep(study, net, [{"speed": 1.0}])
