"""What the terminal shows: one line per stage, each warning once, and the summary in the study's
language; coordinates the user can paste back into the web map their inputs came from."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from eldercare_coverage import cli, pipeline
from eldercare_coverage.summary import GLOSSARY, run_summary


def test_glossary_covers_every_metric_in_both_languages():
    # the summary's messages are in the package catalogues, tested in test_messages.py
    assert set(GLOSSARY["zh"]) == set(GLOSSARY["en"])
    # one name per metric: no two metrics share a name
    for lang in ("zh", "en"):
        names = [name for name, _ in GLOSSARY[lang].values()]
        assert len(names) == len(set(names))


def test_zh_run_prints_stage_lines_the_summary_and_each_warning_once(sample_copy, monkeypatch, capsys):
    results = []
    real_run = pipeline.run
    monkeypatch.setattr(pipeline, "run", lambda *a, **k: results.append(real_run(*a, **k)) or results[-1])
    assert cli.main(["run", str(sample_copy / "sample.toml")]) == 0
    out, err = capsys.readouterr()
    # quiet by default: one line per stage with its time, no log prefixes, no list of 17 paths
    assert "INFO" not in err and "wrote " not in err
    stage_lines = [line for line in err.splitlines() if re.match(r"^\S.*\s\d+\.\d s$", line)]
    assert [line.split("  ")[0].strip() for line in stage_lines][:3] == [
        "读取并检查输入", "写出检查后的输入", "步行路网"]  # in the study's language
    # each warning once, although the run logs it and the report keeps it (the network's own
    # warnings print when it is read; a second run in one session reuses it silently)
    warnings = [line for line in err.splitlines() if line.startswith("警告：")]  # in the study's language
    assert len(warnings) == len(set(warnings))
    assert sum("段不连通的孤立路段" in w for w in warnings) <= 1
    assert err.count("步行路网") == 1  # only the stage line mentions it
    # the summary, in Chinese, with the answer
    assert "步行 15 分钟（0.9 米/秒）范围内的老年人" in out
    assert re.search(r"新都区：\d+%（[\d,]+ / [\d,]+ 人）", out) and "金牛区：" in out
    assert "设施建筑面积不足：" in out and "设施建筑面积缺口合计：" in out
    assert re.search(r"选址（MCLP）：新增 5 处设施，老年人步行覆盖率从 \d+% 提高到 \d+%", out)
    assert "未能覆盖的部分：" in out and "无法在 15 分钟内到达的老年人" in out
    assert re.search(r"位于经度 104\.\d{5}，纬度 30\.\d{5}，靠近", out)  # fragments located by lon/lat
    assert "outputs" not in out.lower() and "输出文件已写入" in out
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", out.replace("validation.txt", "")), "snake_case in the zh summary"
    result = results[0]
    # points off the network or only on a fragment, listed per community by name and id
    demand = result.stages["access"].demand
    bad = demand[demand["off_network"] | demand["fragment_only"]]
    for cid, n in bad.groupby("community_id").size().head(10).items():
        name = result.study.communities.set_index("community_id").loc[cid, "name"]
        assert f"{name}（{cid}）：{n} 个点" in out
    # the same figures in English, from the same stages
    result.study.config.study.language = "en"
    en = "\n".join(run_summary(result))
    assert "Older residents within a 15-minute walk (0.9 m/s)" in en and "Left out:" in en
    # what is left out adds up: reachable at most (100 - unreachable) %
    siting = result.stages["siting"]
    share = siting.uncoverable_weight / siting.total_weight
    assert f"{share * 100:.0f} %" in en and f"at most {(1 - share) * 100:.0f} %" in en
    # the report's curve of coverage against new sites ends at the siting result, never falling
    from eldercare_coverage.summary import coverage_curve

    curve = coverage_curve(siting, result.stages["access"])
    assert len(curve) == len(siting.selected_ids) + 1 and curve["covered_share"].is_monotonic_increasing
    assert curve["covered_share"].iloc[-1] == pytest.approx(siting.covered_share, abs=1e-9)
    before = float((siting.weights * siting.covered_before).sum() / siting.total_weight)
    assert curve["covered_share"].iloc[0] == pytest.approx(before, abs=1e-9)


def test_quiet_prints_errors_only(sample_copy, capsys):
    cfg = sample_copy / "sample.toml"
    text = cfg.read_text(encoding="utf-8").replace('model = "mclp"', 'model = ""')
    cfg.write_text(text, encoding="utf-8")
    assert cli.main(["-q", "run", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_validate_lists_each_warning_once(sample_copy, capsys):
    cfg = sample_copy / "sample.toml"
    text = cfg.read_text(encoding="utf-8").replace("[access]", "[access]\nstreet_buffer_m = 30")
    cfg.write_text(text, encoding="utf-8")
    assert cli.main(["validate", str(cfg)]) == 0
    out, err = capsys.readouterr()
    both = out + err
    assert both.count("access.street_buffer_m 已不再使用") == 1  # a config warning: in the report, not also live
    warnings = [line for line in both.splitlines() if line.startswith("警告：")]
    assert warnings and len(warnings) == len(set(warnings))


def test_gcj02_inputs_give_gcj02_coordinates_to_paste_back(sample_copy):
    """Candidates given in GCJ-02 (Amap): the proposed-site and facility tables carry GCJ-02
    lon/lat that convert back to the WGS-84 point within 1 m."""
    import geopandas as gpd

    from eldercare_coverage.config import load_config
    from eldercare_coverage.crs import gcj02_to_wgs84, wgs84_to_gcj02
    from eldercare_coverage.io import load_study

    cand = gpd.read_file(sample_copy / "candidates.geojson")
    glon, glat = wgs84_to_gcj02(cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy())
    table = pd.DataFrame(cand.drop(columns="geometry")).assign(经度=glon, 纬度=glat)
    table.to_csv(sample_copy / "candidates_amap.csv", index=False)
    cfg = sample_copy / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    text = re.sub(r'\[inputs\.candidates\][^\n]*\npath = "candidates\.geojson"[^\n]*\n',
                  '[inputs.candidates]\npath = "candidates_amap.csv"\ncrs = "GCJ-02"\nx_column = "经度"\n'
                  'y_column = "纬度"\n', text)
    assert "candidates_amap.csv" in text
    cfg.write_text(text, encoding="utf-8")
    study = load_study(load_config(cfg))
    out = pipeline.with_coordinates(study.candidates, study.config.inputs.candidates)
    assert {"lon", "lat", "lon_gcj02", "lat_gcj02"} <= set(out.columns)
    # the GCJ-02 columns are what the user gave (to ~1 cm) and convert back to the WGS-84 point
    by_id = table.set_index("candidate_id")
    given = by_id.loc[out["candidate_id"].astype(str)]
    assert np.abs(out["lon_gcj02"].to_numpy() - given["经度"].to_numpy()).max() < 1e-6
    back_lon, back_lat = gcj02_to_wgs84(out["lon_gcj02"].to_numpy(), out["lat_gcj02"].to_numpy())
    metres = np.hypot((back_lon - out["lon"]) * 111_320 * np.cos(np.radians(out["lat"])), (back_lat - out["lat"]) * 110_540)
    assert metres.max() < 1.0
    # and GCJ-02 differs from WGS-84 by hundreds of metres here: the columns matter
    assert np.hypot((out["lon_gcj02"] - out["lon"]) * 95_000, (out["lat_gcj02"] - out["lat"]) * 110_540).min() > 200

    class _Chosen:  # the part of a SitingResult the table builder reads
        model, status = "mclp", "optimal"

        def to_frame(self):
            return pd.DataFrame({"site_id": ["C03", "C17"], "tier": ["", ""], "cost": [1.0, 1.0],
                                 "capacity": [np.inf, np.inf], "served_weight": [10.0, 20.0],
                                 "newly_covered_weight": [5.0, 6.0]})

    proposed = pipeline.proposed_sites(study, _Chosen())
    row = out.set_index("candidate_id").loc[["C03", "C17"]]
    assert np.allclose(proposed[["lon_gcj02", "lat_gcj02"]].to_numpy(), row[["lon_gcj02", "lat_gcj02"]].to_numpy())
    # facilities given in WGS-84: no web-map columns
    assert "lon_gcj02" not in pipeline.with_coordinates(study.facilities, study.config.inputs.facilities)
