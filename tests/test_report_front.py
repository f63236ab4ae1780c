"""The report's first page: key columns only, rules the profile lacks left out, whole persons,
sentences and charts in the study language with every user string escaped."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from eldercare_coverage import charts, report_front as rf


def _district(beds=np.nan):
    return pd.DataFrame({
        "district": ["<b>金牛区</b>", "新都区", "(all)"], "row_type": ["group", "group", "total"],
        "communities": [66, 12, 78], "elderly_population": [36124.0, 9875.0, 45999.0],
        "elderly_within": [18924.56, 6253.38, 25177.94], "share_elderly_within": [0.5239, 0.6333, 0.5474],
        "area_required_m2": [20092.2, 5493.3, 25585.5], "area_provided_m2": [2130.0, 1700.0, 3830.0],
        "area_gap_m2": [18382.0, 3953.3, 22335.3], "communities_with_area_gap": [64, 11, 75],
        "new_total": [0, 0, 0], "bed_shortfall": [beds, beds, beds], "station_shortfall": [np.nan] * 3,
        "capacity_gap": [np.nan] * 3, "existing_total": [9, 3, 12],
    })


def _community():
    return pd.DataFrame({"area_gap_m2": [10.0, 0.0, 5.5]})


def test_rules_the_profile_lacks_are_left_out_and_at_most_ten_columns():
    d = _district()
    assert rf.rule_columns(d) == ["area_gap_m2"]  # beds/stations/capacity all unknown; no tiers
    cols = rf.key_columns(d, has_tiers=False)
    assert len(cols) <= 10 and "bed_shortfall" not in cols and "new_total" not in cols
    assert "share_elderly_within" in cols and "area_gap_m2" in cols
    with_beds = rf.key_columns(_district(beds=3.0), has_tiers=True)
    assert "bed_shortfall" in with_beds and "new_total" in with_beds and len(with_beds) <= 10


def test_key_table_shows_whole_persons_translated_totals_and_escapes_names():
    page = rf.district_key_table(_district(), "zh", has_tiers=False)
    assert "&lt;b&gt;金牛区&lt;/b&gt;" in page and "<b>金牛区" not in page
    assert "18,925" in page and "18924.56" not in page and "inf" not in page
    assert ">合计<" in page and "(all)" not in page
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", page)
    assert headers[0] == "区县" and "老年人步行覆盖率" in headers
    assert not any(re.search(r"[a-z]+_[a-z]", h) for h in headers)


def test_sentences_and_headline_in_the_study_language():
    d = _district()
    lines = rf.sentences(d, _community(), profile_name="全国基准", limit_min=15, language="zh", has_tiers=False,
                         uncoverable=(3686.4, 0.0801))
    text = "".join(lines)
    assert "25,178 人（55%）步行 15 分钟内" in text
    assert "最低的是<b>金牛区</b>（52%）" in text  # plain text; escaped when written
    assert "2 个社区（共 3 个）" in text and "3,686 名老年人（8%）" in text
    assert not re.search(r"[a-z]+_[a-z]+", text)
    html_lines = rf.findings_html(lines)
    assert "&lt;b&gt;" in html_lines and "<b>金牛区" not in html_lines
    figures = dict(rf.headline_figures(d, None, 0.08, "en", has_tiers=False))
    assert figures["Older residents' walk coverage"] == "55 %"
    assert figures["Floor-area gap"] == "22,335 m²"


def test_siting_figures_name_what_the_siting_weight_counts():
    """The siting curve and the demand no site reaches count the [siting] weight, labelled as the
    run summary labels it: residents or households, not always older residents."""
    d = _district()
    curve = pd.DataFrame({"new_sites": [0, 1], "covered_weight": [100.0, 150.0], "covered_share": [0.4, 0.6]})
    for weight, zh_word, en_word in (("population", "居民", "residents"), ("households", "户", "households")):
        zh = "".join(rf.sentences(d, _community(), profile_name="全国基准", limit_min=15, language="zh",
                                  has_tiers=False, siting_curve=curve, uncoverable=(3686.4, 0.0801), weight=weight))
        assert f"{zh_word}步行覆盖率可从 40% 提高到 60%" in zh
        assert ("仍有 3,686 户（8%）" if weight == "households" else "仍有 3,686 名居民（8%）") in zh
        assert "老年人步行覆盖率可从" not in zh and "名老年人" not in zh
        en = dict(rf.headline_figures(d, curve, 0.08, "en", has_tiers=False, weight=weight))
        assert en[f"Walk coverage of {en_word} (after siting)"] == "60 %"
        assert en[f"{en_word.capitalize()} no site can reach"] == "8 %"
        chart = rf.chart_section(d, "zh", has_tiers=False, siting_curve=curve, uncoverable_share=0.08, weight=weight)
        assert f"新增设施数量与{zh_word}步行覆盖率" in chart and "新增设施数量与老年人" not in chart
    elderly = dict(rf.headline_figures(d, curve, 0.08, "zh", has_tiers=False))
    assert "老年人步行覆盖率（选址后）" in elderly and "无法覆盖的老年人" in elderly


def test_charts_are_svg_with_escaped_labels_and_a_colour_blind_safe_palette():
    svg = charts.bar_chart(["<x>", "新都区"], [0.5, 0.25], title="a & b", max_value=1.0,
                           value_text=lambda v: f"{v:.0%}")
    assert svg.startswith("<svg") and "&lt;x&gt;" in svg and "a &amp; b" in svg and "<x>" not in svg
    assert charts.PALETTE[0] in svg
    curve = pd.DataFrame({"new_sites": [0, 1, 2], "covered_share": [0.55, 0.7, 0.8], "covered_weight": [5.5, 7, 8]})
    page = rf.chart_section(_district(), "zh", False, siting_curve=curve, uncoverable_share=0.08)
    assert page.count("<svg") == 3  # coverage, area gap, the curve; no chart for rules the profile lacks
    assert "所有候选点都建设施时的上限 92%" in page
