"""The whole run on the sample: every stage's outputs, consistent with each other and the inputs."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from eldercare_coverage import cli, pipeline
from eldercare_coverage.io import sha256_of

ROOT = Path(__file__).resolve().parents[1]


def test_run_writes_every_output(sample_run):
    out, result = sample_run
    expected = {
        "out/inputs.gpkg", "out/access.gpkg", "out/community_access.csv", "out/proposed_sites.gpkg",
        "out/proposed_sites.csv", "out/siting.json", "out/run.json", "out/validation.txt",
        "reports/community_gaps.csv", "reports/district_gaps.csv", "reports/street_gaps.csv", "reports/gaps.xlsx",
        "reports/report.html", "reports/siting_by_district.csv", "reports/siting_by_community.csv",
        "maps/chengdu-north-sample.html", "maps/chengdu-north-sample.png",
    }
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert expected <= written, expected - written
    assert {p.relative_to(out).as_posix() for p in result.outputs} == written
    # Every file the run wrote was checked for conflicts before anything was computed.
    checked = {f"{folder}/{name}" for logical, folder in (("data", "out"), ("reports", "reports"), ("maps", "maps"))
               for name in pipeline.expected_outputs(result.study.config)[logical]}
    assert {w for w in written if "/.eldercare-manifest-" not in w} <= checked
    assert not list(out.rglob(".eldercare-staging-*"))


def test_manifest_traces_parameters_and_inputs(sample_run):
    out, _ = sample_run
    manifest = json.loads((out / "out" / "run.json").read_text(encoding="utf-8"))
    params = manifest["parameters"]
    assert params["walk_speed_mps"] == 0.9 and params["time_limit_min"] == 15
    assert params["walk_limit_m"] == 810.0 and params["norm_profile"] == "national"
    assert manifest["metric_crs"] == "EPSG:32648"
    for item in manifest["inputs"]:
        assert item["sha256"] == sha256_of(item["path"])
    assert {i["input"] for i in manifest["inputs"]} == {"communities", "population", "facilities", "candidates",
                                                        "districts", "gates", "network"}
    # The real district border is drawn on the map, escaped into its data.
    html = (out / "maps" / "chengdu-north-sample.html").read_text(encoding="utf-8")
    assert "金牛新都边界" in html
    assert set(manifest["timings_s"]) >= {"walk network", "walk access", "norm checks", "reports", "map"}


def test_numbers_agree_across_outputs_and_with_inputs(sample_run):
    out, result = sample_run
    study = result.study
    communities = pd.read_csv(out / "reports" / "community_gaps.csv", encoding="utf-8-sig")
    districts = pd.read_csv(out / "reports" / "district_gaps.csv", encoding="utf-8-sig")
    access = pd.read_csv(out / "out" / "community_access.csv", encoding="utf-8-sig")
    assert communities["population"].sum() == study.communities["population"].sum()
    groups = districts[districts["row_type"] == "group"].set_index("district")
    total = districts[districts["row_type"] == "total"].iloc[0]
    for col in ("population", "elderly_population", "area_required_m2", "area_gap_m2", "elderly_within"):
        by_district = communities.groupby("district")[col].sum()
        np.testing.assert_allclose(groups.loc[by_district.index, col], by_district, rtol=1e-9)
        np.testing.assert_allclose(total[col], communities[col].sum(), rtol=1e-9)
    merged = communities.merge(access, on="community_id", suffixes=("", "_access"))
    np.testing.assert_allclose(merged["elderly_within"], merged["elderly_within_access"], rtol=1e-9)
    assert (merged["elderly_within"] <= merged["elderly_population"] + 1e-6).all()
    # Demand points carry exactly the community totals.
    demand = gpd.read_file(out / "out" / "access.gpkg", layer="demand_points")
    np.testing.assert_allclose(demand["population"].sum(), study.communities["population"].sum(), rtol=1e-9)
    # The national rules: floor area 20/15 m² per 100 households (new/existing estates); land
    # 0.1 m² per resident, reported apart and never added to the floor area.
    np.testing.assert_allclose(total["area_required_m2"],
                               (study.communities["households"] / 100 *
                                np.where(study.communities["estate_type"] == "new", 20, 15)).sum(), rtol=1e-9)
    np.testing.assert_allclose(total["land_required_m2"], study.communities["population"].sum() * 0.1, rtol=1e-9)


def test_siting_outputs_agree(sample_run):
    out, result = sample_run
    siting = json.loads((out / "out" / "siting.json").read_text(encoding="utf-8"))
    proposed = pd.read_csv(out / "out" / "proposed_sites.csv", encoding="utf-8-sig")
    by_district = pd.read_csv(out / "reports" / "siting_by_district.csv", encoding="utf-8-sig")
    assert siting["status"] == "optimal" and len(siting["new_sites"]) == 5
    assert sorted(proposed["candidate_id"]) == sorted(siting["new_sites"])
    assert siting["covered_share_after"] >= siting["covered_share_before"]
    # the solver's notes: English data text, and the same in the study's language (zh)
    assert isinstance(siting["message"], str)
    assert siting["message_study_language"] == result.stages["siting"].message_in("zh")
    np.testing.assert_allclose(by_district["covered_after"].sum() / by_district["total_weight"].sum(),
                               siting["covered_share_after"], rtol=1e-9)
    np.testing.assert_allclose(by_district["total_weight"].sum(), result.study.communities["elderly_population"].sum(),
                               rtol=1e-9)


def test_run_without_network_checks_norms_only(sample_copy):
    cfg = sample_copy / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    start = text.index("[inputs.network]")
    text = text[:start] + text[text.index("[access]"):]
    text = text.replace('model = "mclp"', 'model = ""')
    cfg.write_text(text, encoding="utf-8")
    assert cli.main(["run", str(cfg)]) == 0
    communities = pd.read_csv(sample_copy / "reports" / "community_gaps.csv", encoding="utf-8-sig")
    assert (communities["coverage_status"] == "not computed").all()
    assert communities["elderly_within"].isna().all()
    assert not (sample_copy / "out" / "access.gpkg").exists()
    assert (sample_copy / "maps" / "chengdu-north-sample.html").exists()


def test_internal_error_exits_1_with_a_hint_and_writes_nothing(sample_copy, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("simulated failure in the norm checks")

    monkeypatch.setattr(pipeline, "check_norms", broken)
    assert cli.main(["run", str(sample_copy / "sample.toml")]) == 1
    err = capsys.readouterr().err
    assert "simulated failure" in err and "--verbose" in err and "Traceback" not in err
    for folder in ("out", "reports", "maps"):
        assert not (sample_copy / folder).exists()
    assert not list(sample_copy.rglob(".eldercare-staging-*"))


def test_help_of_every_command_has_examples(capsys):
    for command in ("run", "validate", "profiles"):
        with pytest.raises(SystemExit) as info:
            cli.main([command, "--help"])
        assert info.value.code == 0
        assert "example" in capsys.readouterr().out


def test_profiles_command_lists_sources(capsys):
    assert cli.main(["profiles"]) == 0
    out = capsys.readouterr().out
    for name in ("national", "baoji", "yuxi", "lhasa", "beijing", "tianjin_hexi"):
        assert name in out


def test_profile_walk_limit_differing_from_access_is_warned(sample_copy):
    cfg = sample_copy / "sample.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('profile = "national"', 'profile = "tianjin_hexi"')
                   .replace('model = "mclp"', 'model = ""'), encoding="utf-8")
    result = pipeline.run(cfg)
    warning = [p for p in result.study.report.warnings if p.field == "access.time_limit_min"]
    # 700 m at 0.9 m/s is 12.96 minutes.
    assert warning and "12.96" in warning[0].message and "700 m" in warning[0].message
    assert "12.96" in (sample_copy / "out" / "validation.txt").read_text(encoding="utf-8")
    # the access analysis honours the profile's 700 m of network walking distance
    access = result.stages["access"]
    assert access.params["limit_m"] == pytest.approx(700.0) and access.params["time_limit_min"] == pytest.approx(700 / 54)
    assert result.study.config.access.time_limit_min == pytest.approx(700 / 54)
    run_json = json.loads((sample_copy / "out" / "run.json").read_text(encoding="utf-8"))
    assert run_json["parameters"]["walk_limit_m"] == 700.0
    html = (sample_copy / "reports" / "report.html").read_text(encoding="utf-8")
    assert "规范规定的步行网络距离700米" in html and "tianjin_hexi: access.distance_m = 700" in html


def test_public_siting_helpers_match_the_run(sample_run):
    import eldercare_coverage as ec

    out, result = sample_run
    study, access = result.study, result.stages["access"]
    problem = ec.siting_problem(study, access)
    solved = ec.solve(problem, "mclp", p=5)
    assert solved.status == "optimal"
    np.testing.assert_allclose(solved.objective, result.stages["siting"].objective, rtol=1e-9)
    layer = ec.proposed_sites(study, solved)
    assert sorted(layer["candidate_id"]) == sorted(pd.read_csv(out / "out" / "proposed_sites.csv")["candidate_id"])
    assert layer.crs == study.metric_crs and layer.geometry.notna().all()
    # check_norms with another profile, without touching the config
    baoji = ec.check_norms(study, access, profile="baoji")
    assert study.config.norms.profile == "national"
    assert baoji.profile.name == "baoji" and baoji.communities["tier_required"].ne("").any()


def test_reports_carry_the_siting_result(sample_run):
    import openpyxl

    out, result = sample_run
    siting = json.loads((out / "out" / "siting.json").read_text(encoding="utf-8"))
    book = openpyxl.load_workbook(out / "reports" / "gaps.xlsx", read_only=True)
    assert {"建议新建设施", "选址前后覆盖"} <= set(book.sheetnames)
    rows = [r for r in book["建议新建设施"].iter_rows(values_only=True) if r and r[0] in siting["new_sites"]]
    assert len(rows) == len(siting["new_sites"])  # one row per new site, under the title block
    html = (out / "reports" / "report.html").read_text(encoding="utf-8")
    assert "建议新建设施（选址结果）" in html
    for site in siting["new_sites"]:
        assert f">{site}<" in html


def test_a_later_run_removes_what_it_no_longer_writes(sample_copy):
    cfg = sample_copy / "sample.toml"
    assert cli.main(["run", str(cfg)]) == 0
    assert (sample_copy / "out" / "siting.json").exists()
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('model = "mclp"', 'model = ""'), encoding="utf-8")
    assert cli.main(["run", str(cfg)]) == 0
    for name in ("siting.json", "proposed_sites.gpkg", "proposed_sites.csv"):
        assert not (sample_copy / "out" / name).exists(), name
    assert not (sample_copy / "reports" / "siting_by_district.csv").exists()
    assert (sample_copy / "out" / "access.gpkg").exists()


def test_infeasible_siting_is_warned_and_json_is_strict(sample_copy):
    cfg = sample_copy / "sample.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("p = 5", "p = 1\nmin_district_share = 0.99"),
                   encoding="utf-8")
    result = pipeline.run(cfg)
    assert result.stages["siting"].status not in ("optimal", "feasible")
    assert any(p.field == "siting.model" and "status" in p.message for p in result.study.report.warnings)
    json.loads((sample_copy / "out" / "siting.json").read_text(encoding="utf-8"),
               parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))


def test_nursing_homes_do_not_count_for_walk_coverage(sample_copy):
    fac = sample_copy / "facilities.csv"
    table = pd.read_csv(fac, encoding="utf-8-sig", dtype=str)
    before = pipeline.run(sample_copy / "sample.toml")
    table.loc[0, "设施类型"] = "养老院"
    table.to_csv(fac, index=False, encoding="utf-8-sig")
    after = pipeline.run(sample_copy / "sample.toml")
    assert "F01" not in set(after.stages["access"].facility_ids)
    assert after.stages["access"].demand["within_limit"].sum() < before.stages["access"].demand["within_limit"].sum()


def test_tiered_siting_respects_candidate_kinds_and_profile_costs(sample_copy):
    cfg = sample_copy / "sample.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('profile = "national"', 'profile = "baoji"')
                   .replace('p = 5', 'p = 0\nbudget = 2000000\ntiers = ["day_care_centre", "service_station"]'),
                   encoding="utf-8")
    result = pipeline.run(cfg)
    siting = result.stages["siting"]
    proposed = result.stages["proposed"]
    kinds = result.study.candidates.set_index("candidate_id")["kind"]
    for cid, tier in zip(proposed["candidate_id"], proposed["tier"]):
        assert kinds[cid] in ("", tier), (cid, kinds[cid], tier)
    # Baoji build subsidies: day-care 700k + 100k, station 200k + 50k CNY.
    costs = {"day_care_centre": 800_000, "service_station": 250_000}
    assert proposed["cost"].tolist() == [costs[t] for t in proposed["tier"]]
    assert proposed["cost"].sum() <= 2_000_000 and siting.status == "optimal"


def test_capacitated_siting_caps_served_demand_by_floor_area(sample_copy):
    cfg = sample_copy / "sample.toml"
    # Lhasa states floor area per resident (national's 0.1 m² is land, which is not floor area).
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('p = 5', 'p = 3\ncapacitated = true')
                   .replace('profile = "national"', 'profile = "lhasa"'), encoding="utf-8")
    result = pipeline.run(cfg)
    siting = result.stages["siting"]
    problem = pipeline.siting_problem(result.study, result.stages["access"])
    served = result.stages["proposed"]["served_weight"].to_numpy()
    cand = result.study.candidates.set_index("candidate_id").loc[result.stages["proposed"]["candidate_id"]]
    study_demand = result.stages["access"].demand
    scale = study_demand["elderly_population"].sum() / study_demand["population"].sum()
    cap = cand["max_floor_area_m2"].to_numpy() / 0.1 * scale  # lhasa: 0.1 m² of facility area per resident
    assert (served <= cap + 1e-6).all()
    assert siting.served_weight <= siting.covered_weight + 1e-6
    assert problem.n_existing == len(result.stages["access"].facility_ids)
