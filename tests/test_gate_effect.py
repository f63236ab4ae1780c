"""What the compound gates change, as the report, the workbook, the run summary and the map show
it on the sample (99 illustrative gates), checked against a separate run with the gates off."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from eldercare_coverage import pipeline
from eldercare_coverage.summary import run_summary

GATE_SHEET = "小区出入口的影响"


def _older_share(demand: pd.DataFrame) -> pd.Series:
    """Share of older residents within the limit per district and "(all)", from the demand points."""
    w = demand["elderly_population"].astype(float)
    d = pd.DataFrame({"district": demand["district"].astype(str), "w": w, "in": w.where(demand["within_limit"], 0.0)})
    by = d.groupby("district")[["w", "in"]].sum()
    by.loc["(all)"] = by.sum()
    return by["in"] / by["w"]


def _rows(ws) -> list[tuple]:
    return [r for r in ws.iter_rows(values_only=True)]


def test_gate_effect_shown_in_report_workbook_summary_and_map(sample_run):
    out, result = sample_run
    effect = result.stages["gate_effect"]
    table = effect["table"].set_index("district")
    # the "with gates" column is the run's own coverage, district by district
    with_gates = _older_share(result.stages["access"].demand)
    assert np.allclose(table["share_elderly_within"], with_gates.reindex(table.index))
    total = table.loc["(all)"]
    # the sample's documented figures (README, gated compounds)
    assert round(total["share_elderly_within_no_gates"], 3) == 0.547 and round(total["share_elderly_within"], 3) == 0.434
    assert np.isclose(total["change_pp"], 100 * (total["share_elderly_within"] - total["share_elderly_within_no_gates"]))
    assert effect["gates_given"] == 99 and effect["gates_illustrative"] == 99 and 0 < effect["gates_used"] <= 99
    assert effect["ungated"].empty  # every sample compound has a gate

    html = (out / "reports" / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<section id="gates">'):]
    section = section[:section.index("</section>")]
    assert "43.4%" in section and "54.7%" in section and "-11.3" in section
    assert "示意数据" in section and "99 / 99" in section
    assert "所有有住宅的小区都有已知可用的出入口" in section
    # every cell of the district table carries the exact figure the pipeline computed
    body = section[section.index("<tbody>"):section.index("</tbody>")]
    rows = [re.findall(r'data-value="([^"]*)"', r) for r in re.findall(r"<tr>(.*?)</tr>", body)]
    assert [r[0] for r in rows] == list(table.index)
    cols = ["elderly_population", "elderly_within_no_gates", "share_elderly_within_no_gates", "elderly_within",
            "share_elderly_within", "change_pp"]
    assert np.allclose(np.array([[float(v) for v in r[1:]] for r in rows]), table[cols].to_numpy(), rtol=0, atol=1e-12)

    wb = load_workbook(out / "reports" / "gaps.xlsx")
    assert GATE_SHEET in wb.sheetnames and "无已知出入口的小区" not in wb.sheetnames  # no empty sheet
    rows = _rows(wb[GATE_SHEET])
    header = next(i for i, r in enumerate(rows) if r[0] == "区县")
    assert rows[header][3] == "不考虑出入口时老年人覆盖率" and rows[header][5] == "老年人步行覆盖率"
    body = {r[0]: r for r in rows[header + 1:] if r[0]}
    assert set(body) == {"新都区", "金牛区", "合计"}
    assert np.isclose(body["合计"][3], total["share_elderly_within_no_gates"], rtol=1e-12)
    assert np.isclose(body["合计"][5], total["share_elderly_within"], rtol=1e-12)
    assert wb[GATE_SHEET].cell(header + 2, 4).number_format == "0.0%"
    params = {r[0]: r[1] for r in _rows(wb["参数与输入文件"]) if r and r[0]}
    assert params["示意（非实测）出入口数"] == "99" and params["出入口开放时间按(时)"] == "10"

    lines = [x for x in run_summary(result) if x.startswith("小区出入口")]
    assert len(lines) == 1 and "43.4%" in lines[0] and "54.7%" in lines[0] and "99 个出入口中 99 个为示意数据" in lines[0]

    page = next((out / "maps").glob("*.html")).read_text(encoding="utf-8")
    data = re.search(r'<script type="application/json" id="coverage_data_gates">(.*?)</script>', page, re.S)
    gates = json.loads(data.group(1))
    assert len(gates["lon"]) == 99
    # the 21 side gates are residents only (access=private, open 06:00-22:00 at 10:00)
    assert sorted(pd.Series(gates["props"]["_s"]).value_counts().items()) == [(0, 78), (1, 21)]


def test_gates_off_run_gives_the_no_gates_figures_and_no_gate_section(sample_copy, sample_run, tmp_path):
    _, gated = sample_run
    config = sample_copy / "sample.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[access]\n", '[access]\ngated_compounds = "off"\n'), encoding="utf-8")
    result = pipeline.run(config, out_dir=tmp_path / "off")
    assert result.stages["gate_effect"] is None
    # the off run's coverage is what the gated run reported as "without gates", per district
    expected = gated.stages["gate_effect"]["table"].set_index("district")["share_elderly_within_no_gates"]
    got = _older_share(result.stages["access"].demand)
    assert np.allclose(got.reindex(expected.index), expected, rtol=0, atol=1e-12)

    html = (tmp_path / "off" / "reports" / "report.html").read_text(encoding="utf-8")
    assert 'id="gates"' not in html and "小区出入口的影响" not in html
    assert GATE_SHEET not in load_workbook(tmp_path / "off" / "reports" / "gaps.xlsx").sheetnames
    assert not [x for x in run_summary(result) if x.startswith("小区出入口")]
    page = next((tmp_path / "off" / "maps").glob("*.html")).read_text(encoding="utf-8")
    assert "coverage_data_gates" not in page and "coverage_data_basemap_labels" in page


def test_compounds_without_a_gate_are_listed_escaped(sample_run):
    from eldercare_coverage.report import _gate_section

    _, result = sample_run
    effect = dict(result.stages["gate_effect"], gates_illustrative=0,
                  ungated=pd.DataFrame({"community_id": ["X1"], "name": ["<b>无门</b>小区"], "district": ["金牛区"]}))
    html = _gate_section(effect, {"time_limit_min": 15}, "en", result.stages["norms"].profile)
    assert "Compounds with no known usable gate" in html and "X1" in html
    assert "&lt;b&gt;无门&lt;/b&gt;小区" in html and "<b>无门" not in html
    assert "illustrative" not in html  # surveyed gates: no note
    assert "43.4%" in html and "54.7%" in html
