"""Gap reports: the community and district tables as CSV, one Excel workbook and one HTML page.

* ``community_gaps.csv`` / ``district_gaps.csv``: UTF-8 with BOM (Excel and WPS then read
  Chinese text correctly), stable English snake_case column names whatever the language,
  empty cells for unknown values, shares as fractions 0-1.
* ``gaps.xlsx``: one sheet per table under a title block (study, profile, walk speed, limit,
  date), printed A4 landscape fitted to the page width with the header row repeated, panes
  frozen at the row's name, an autofilter, column widths and number formats, headers in the
  study language; plus the rules in force and the parameters and input files. Empty tables get
  no sheet.
* ``report.html``: one self-contained page (inline CSS, no scripts, fonts or links to fetch)
  that prints on A4 landscape: a first page for the director (headline figures, generated
  sentences, the district table cut to its key columns, charts as inline SVG, the map image,
  what is left out and the warnings, a glossary with one name per metric), then every table in
  full in collapsible sections, the rules, parameters and input files with SHA-256 checksums.
  Columns of rules the profile lacks are left out of the page and the workbook (the CSV files
  keep every column). Every string that
  came from the user is HTML-escaped; each numeric cell carries its exact value in
  ``data-value``.

Labels are Chinese (``language="zh"``, default) or English (``"en"``).
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import report_front as front
from ._safe_cells import XlsxText, write_csv
from .errors import ProblemReport
from .gate_effect import TOTAL as GATE_TOTAL
from .messages import text as catalogue_text
from .summary import GLOSSARY
from .xlsx_layout import freeze_after, print_layout, title_rows
from .norms import REQUIREMENT_KINDS, NormProfile
from .norm_sources import ROW_CHECK_LEAD, STATUS_LABELS, field_text, in_language
from .schema import FACILITY_KINDS

CSV_ENCODING = "utf-8-sig"

# Column -> (zh, en). Columns not listed are shown by their own name.
_LABELS: dict[str, tuple[str, str]] = {
    "community_id": ("社区编码", "Community ID"), "name": ("名称", "Name"),
    "district": ("区县", "District"), "street": ("街道", "Street"),
    "population": ("常住人口", "Residents"), "households": ("户数", "Households"),
    "elderly_population": ("60岁以上人口", "Residents 60+"), "estate_type": ("小区类型", "Estate type"),
    "basic_service_recipients": ("基本养老服务对象(人)", "Basic-service recipients"),
    # Land (用地) and floor area (建筑面积) are labelled apart: they are never compared.
    "land_required_m2": ("规划应预留用地(m²，用地面积)", "Land to reserve (m² of site area)"),
    "land_rule": ("用地标准依据", "Land rule"),
    "land_provided_m2": ("设施占地面积(m²)", "Site area of facilities (m²)"),
    "land_gap_m2": ("用地缺口(m²)", "Land gap (m²)"), "land_status": ("用地核查", "Land check"),
    "area_tier_max_m2": ("应配层级单个设施最大建筑面积(m²)", "Largest floor area of one facility of the tier (m²)"),
    "area_exceeds_tier_max": ("所需建筑面积超过单个设施上限", "Floor area needed exceeds one facility's maximum"),
    "area_plan": ("满足方式（不超过各层级面积上限）", "How to meet it within the tier sizes"),
    "service_capacity_status": ("服务对象规则核查", "Recipients rule check"),
    "official_target_district": ("官方目标表中的区县", "District in the official targets"),
    "official_differences": ("规则结果与官方目标的差异", "Rule vs official targets: differences"),
    "official_row_check": ("官方目标表该行核查", "Official row check"),
    "facilities_count": ("设施数", "Facilities"), "facility_ids": ("设施编码", "Facility IDs"),
    "area_per_resident_m2": ("按人均标准所需建筑面积(m²)", "Floor area by per-resident rule (m²)"),
    "area_per_resident_rule": ("人均建筑面积标准依据", "Per-resident floor-area rule"),
    "area_per_households_m2": ("按户数标准所需建筑面积(m²)", "Floor area by per-household rule (m²)"),
    "area_per_households_rule": ("户数标准依据", "Per-household rule"),
    "area_tier_min_m2": ("应配层级最小建筑面积(m²)", "Tier minimum floor area (m²)"),
    "area_tier_min_rule": ("层级面积依据", "Tier area rule"),
    "area_required_m2": ("所需建筑面积(m²)", "Floor area required (m²)"),
    "area_required_rule": ("所需建筑面积依据（起控制作用的规则）", "Binding floor-area rule"),
    "area_provided_m2": ("已有建筑面积(m²)", "Floor area provided (m²)"),
    "facilities_area_unknown": ("面积未知的设施数", "Facilities with unknown area"),
    "area_gap_m2": ("建筑面积缺口(m²)", "Floor-area gap (m²)"),
    "tier_required": ("应配设施层级", "Tier required"), "tier_required_rule": ("层级依据", "Tier rule"),
    "tier_present": ("现有最高层级", "Highest tier present"), "tier_met": ("层级达标", "Tier met"),
    "facilities_below_tier_area": ("面积低于本层级标准的设施数", "Facilities below their tier's minimum area"),
    "new_facility": ("需新建设施", "Facility to build"),
    "beds_required": ("应有床位", "Beds required"), "beds_required_rule": ("床位依据", "Bed rule"),
    "beds_provided": ("现有床位", "Beds provided"), "bed_shortfall": ("床位缺口", "Bed shortfall"),
    "subsidy_build_cny": ("建设补助(元)", "Build subsidy (CNY)"),
    "subsidy_operating_cny_per_year": ("运营补贴(元/年)", "Operating subsidy (CNY/year)"),
    "subsidy_rule": ("补助依据", "Subsidy rule"),
    "residents_within": ("步行范围内居民", "Residents within walk"),
    "elderly_within": ("步行范围内老年人", "Older residents within walk"),
    "households_within": ("步行范围内户数", "Households within walk"),
    "share_residents_within": ("居民覆盖率", "Share of residents within walk"),
    "share_elderly_within": ("老年人覆盖率", "Share of older residents within walk"),
    "share_households_within": ("户数覆盖率", "Share of households within walk"),
    "median_time_min": ("步行时间中位数(分钟)", "Median walk time (min)"),
    "coverage_status": ("覆盖计算状态", "Coverage status"),
    "service_recipients": ("服务对象(人)", "Service recipients"),
    "stations_required_min": ("应有驿站数(下限)", "Posts required (fewest)"),
    "stations_required_max": ("应有驿站数(上限)", "Posts required (most)"),
    "stations_present": ("现有驿站数", "Posts present"), "station_shortfall": ("驿站缺口", "Post shortfall"),
    "capacity_provided": ("服务能力(人)", "Capacity (persons)"), "capacity_gap": ("服务能力缺口(人)", "Capacity gap"),
    "service_capacity_rule": ("服务能力依据", "Capacity rule"),
    "row_type": ("行类型", "Row type"), "communities": ("社区数", "Communities"),
    "existing_total": ("现有设施合计", "Existing facilities"), "new_total": ("新建合计", "New facilities"),
    "communities_with_area_gap": ("存在建筑面积缺口的社区数", "Communities with a floor-area gap"),
    "facility_id": ("设施编码", "Facility ID"), "kind": ("类型", "Kind"),
    "floor_area_m2": ("建筑面积(m²)", "Floor area (m²)"), "beds": ("床位", "Beds"),
    "capacity": ("服务能力(人)", "Capacity"),
    "accessibility": ("供需可达性", "Accessibility (supply per demand)"),
    "accessibility_after_proposed": ("新增设施后的供需可达性", "Accessibility with the proposed sites"),
    "accessibility_relative": ("可达性（相对全区平均）", "Accessibility relative to mean"),
    "share_demand_no_supply": ("步行范围内无供给的需求比例", "Share of demand with no supply in reach"),
}
_LABELS.update({
    "candidate_id": ("候选点编码", "Candidate ID"), "tier": ("设施层级", "Tier"), "cost": ("费用(元)", "Cost (CNY)"),
    "served_weight": ("服务人数", "Demand served"), "newly_covered_weight": ("新增覆盖人数", "Newly covered"),
    "max_floor_area_m2": ("可用建筑面积(m²)", "Floor area available (m²)"), "model": ("选址模型", "Siting model"),
    "status": ("求解状态", "Solver status"), "lon": ("经度(WGS-84)", "Longitude (WGS-84)"),
    "lat": ("纬度(WGS-84)", "Latitude (WGS-84)"), "lon_gcj02": ("经度(GCJ-02，高德)", "Longitude (GCJ-02, Amap)"),
    "lat_gcj02": ("纬度(GCJ-02，高德)", "Latitude (GCJ-02, Amap)"), "lon_bd09": ("经度(BD-09，百度)", "Longitude (BD-09, Baidu)"),
    "lat_bd09": ("纬度(BD-09，百度)", "Latitude (BD-09, Baidu)"), "weight": ("需求权重", "Demand weight"),
    "total_weight": ("需求合计", "Total demand"), "covered_before": ("选址前覆盖", "Covered before"),
    "covered_after": ("选址后覆盖", "Covered after"), "share_before": ("选址前覆盖率", "Share before"),
    "share_after": ("选址后覆盖率", "Share after"),
    "elderly_within_no_gates": ("不考虑出入口时步行范围内老年人", "Older residents within walk, without gates"),
    "share_elderly_within_no_gates": ("不考虑出入口时老年人覆盖率", "Older residents' walk coverage, without gates"),
    "change_pp": ("变化(百分点)", "Change (percentage points)"),
})
for _k in GLOSSARY["zh"]:  # one name per metric, the glossary's
    if _k in _LABELS:
        _LABELS[_k] = (GLOSSARY["zh"][_k][0], GLOSSARY["en"][_k][0])
for _k, _v in FACILITY_KINDS.items():
    _LABELS[f"existing_{_k}"] = (f"现有{_v['zh']}", f"Existing: {_v['en'].lower()}")
    _LABELS[f"new_{_k}"] = (f"新建{_v['zh']}", f"New: {_v['en'].lower()}")

# Canonical codes shown translated, per column (a district called "new" stays "new").
_STATUS = {"computed": ("已计算", "computed"), "not computed": ("未计算（无路网）", "not computed (no network)"),
           "partial": ("部分计算", "partial"), "missing from access table": ("可达性结果缺失", "missing from access results")}
_KINDS = {k: (v["zh"], v["en"]) for k, v in FACILITY_KINDS.items()}
_PLACES = {"(all)": ("合计", "Total"), "(no community)": ("不属于任何社区", "In no community")}
_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "row_type": {"group": ("", ""), "no_community": ("未落入社区的设施", "Facilities in no community"),
                 "total": ("合计", "Total")},
    "district": _PLACES, "street": _PLACES, "coverage_status": _STATUS,
    "estate_type": {"new": ("新建", "new"), "existing": ("既有", "existing"),
                    "redevelopment": ("旧城改造", "old-town redevelopment")},
    "land_status": {
        "met": ("满足", "met"), "short": ("不足", "short"),
        "site area unknown": ("部分设施占地面积未知", "site area unknown for some facilities"),
        "not checkable: no site area": ("无设施占地面积，无法核查：所列为规划应预留用地",
                                        "not checkable without site area: the figure is land plans must reserve"),
        "not applicable: estate type": ("该小区类型不适用", "not applicable to this estate type"),
        "no land rule": ("规范无用地标准", "no land rule in the profile"),
        "population unknown": ("人口未知", "population unknown")},
    "service_capacity_status": {
        "checked": ("已核查", "checked"), "no rule": ("规范无此规则", "no such rule in the profile"),
        "recipients unknown": ("该社区服务对象人数未知", "recipients unknown for this community"),
        "no basic_service_recipients": ("输入无基本养老服务对象人数，该规则无法核查",
                                        "not checked: the input has no basic_service_recipients (基本养老服务对象)")}
    | {f"no {c}": (f"输入无{c}数据，该规则无法核查", f"not checked: the input has no {c}")
       for c in ("elderly_population", "population", "households")},
    "tier_required": _KINDS, "tier_present": _KINDS, "new_facility": _KINDS, "kind": _KINDS, "tier": _KINDS,
    "weight": {"elderly_population": ("60岁以上人口", "residents aged 60+"), "population": ("常住人口", "residents"),
               "households": ("户数", "households")},
    "status": {"optimal": ("最优", "optimal"), "feasible": ("可行（未证明最优）", "feasible (not proven optimal)"),
               "time_limit": ("达到时间限制", "time limit reached"), "infeasible": ("无可行解", "infeasible")},
    "walk_speed": {"older": ("老年人步速", "older walkers"), "general": ("一般步速", "general walkers"),
                   "frail": ("体弱老人步速", "frail walkers")},
    "method": {"auto": ("自动（启发式 + 精确求解）", "auto (heuristic + exact)"), "exact": ("精确求解", "exact"),
               "heuristic": ("启发式", "heuristic")},
    "model": {"mclp": ("最大覆盖 MCLP", "MCLP"), "lscp": ("集合覆盖 LSCP", "LSCP"), "partial": ("部分覆盖", "partial cover"),
              "pmedian": ("P 中值", "p-median"), "pcenter": ("P 中心", "p-center")},
}
#: Parameter names shown in the report and workbook (the keys stay in run.json).
_PARAMS: dict[str, tuple[str, str]] = {
    "study": ("研究", "Study"), "walk_speed": ("步速设定", "Walk speed setting"),
    "walk_speed_mps": ("步速(米/秒)", "Walk speed (m/s)"), "time_limit_min": ("步行时间限制(分钟)", "Walk time limit (min)"),
    "walk_limit_m": ("步行距离(米)", "Walk distance (m)"), "norm_profile": ("规范", "Norm profile"),
    "norm_profile_file": ("自定义规范文件", "Profile file"), "language": ("语言", "Language"),
    "siting_model": ("选址模型", "Siting model"), "siting_method": ("求解方法", "Solution method"),
    "siting_status": ("求解状态", "Solver status"), "siting_objective": ("目标值", "Objective"),
    "siting_bound": ("目标上界", "Objective bound"), "siting_gap": ("最优性差距", "Optimality gap"),
    "siting_weight": ("需求权重", "Demand weight"), "siting_p": ("新增设施数", "New sites (p)"),
    "siting_budget_cny": ("预算(元)", "Budget (CNY)"), "profile_chain": ("规范继承链", "Profile chain"),
    "walk_limit_basis": ("步行时限依据", "Walk limit basis"), "title": ("标题", "Title"),
    "gate_hour": ("出入口开放时间按(时)", "Gates open as at (hour)"),
    "gates_used": ("使用的出入口数", "Gates used"), "gates_illustrative": ("示意（非实测）出入口数", "Illustrative gates (not surveyed)"),
    "steps_speed_factor": ("台阶步速系数(×步速)", "Steps speed factor (× walk speed)"),
    "avoid_steps": ("避开台阶(轮椅)", "Avoid steps (wheelchair)"), "dem": ("高程模型(坡度)", "Elevation model (slopes)"),
}
#: Notes the norm tables write into a rule column, in the words of the message catalogues.
_VALUES["tier_required_rule"] = {code: (catalogue_text(key, "zh"), catalogue_text(key, "en")) for code, key in (
    ("no tier rule in profile", "profile.value_no_tier_rule"), ("population unknown", "profile.value_population_unknown"))}
#: Notes the norm tables write into any rule column (norms.py), whatever the column.
_RULE_NOTES: dict[str, str] = {
    "no tier rule in profile": "profile.value_no_tier_rule", "population unknown": "profile.value_population_unknown",
    "no per-resident floor-area rule in profile": "profile.value_no_resident_rule",
    "no per-household rule in profile": "profile.value_no_household_rule",
    "no land rule in profile": "profile.value_no_land_rule",
    "no service capacity rule in profile": "profile.value_no_capacity_rule",
    "households unknown": "profile.value_households_unknown",
    "no floor-area rule applies": "profile.value_no_area_rule_applies"}
_NOT_APPLICABLE = "not applicable: "
_TRANSLATED = set(_VALUES)

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("居家养老服务设施缺口报告", "Eldercare facility gap report"),
    "summary": ("概要", "Summary"), "district": ("区县汇总", "By district"),
    "street": ("街道汇总", "By street"), "community": ("社区明细", "By community"),
    "unassigned": ("未落入任何社区的设施", "Facilities in no community"),
    "proposed": ("建议新建设施（选址结果）", "Proposed new sites (siting)"),
    "siting_district": ("选址前后各区覆盖", "Coverage by district before and after siting"),
    "siting_phases": ("分期建设方案", "Phased plan"),
    "phase": ("期次", "Phase"), "phase_p": ("累计新建数 p", "Sites so far, p"),
    "phase_sites": ("本期新建设施", "Sites opened in this phase"), "phase_objective": ("分期方案目标值", "Objective of the phased plan"),
    "phase_loss": ("相对该 p 最佳方案的损失", "Loss against the best plan for this p"),
    "phase_exact": ("精确（该 p 最优已证明）", "exact (optimum for this p proven)"),
    "phase_bounded": ("至多 {most}（该 p 最优未证明）", "at most {most} (optimum for this p not proven)"),
    "rules": ("采用的规则", "Rules used"), "parameters": ("参数", "Parameters"),
    "inputs": ("输入文件", "Input files"), "profile": ("规范配置", "Norm profile"),
    "source": ("来源文件", "Source document"), "clause": ("条款", "Clause"), "note": ("说明", "Note"),
    "bands": ("人口分档（下限含、上限不含）", "Population bands (lower bound inclusive, upper exclusive)"),
    "key": ("项目", "Item"), "value": ("值", "Value"), "path": ("文件", "File"),
    "size": ("大小(字节)", "Size (bytes)"), "sha256": ("SHA-256 校验值", "SHA-256"),
    "missing": ("文件不存在", "file missing"),
    "n_communities": ("社区数", "Communities"), "population": ("常住人口", "Residents"),
    "elderly": ("60岁以上人口", "Residents 60+"),
    "area_gap": ("建筑面积缺口合计(m²)", "Total floor-area gap (m²)"),
    "land": ("规划应预留养老服务设施用地合计(m²)", "Land plans must reserve for eldercare facilities (m²)"),
    "land_unchecked": ("无设施占地面积数据，未与现状比较；用地不与建筑面积比较",
                       "not compared with existing sites: no site area given; land is never compared with floor area"),
    "land_gap": ("用地缺口合计(m²)", "Total land gap (m²)"),
    "over_cap": ("所需建筑面积超过单个设施上限的社区（见满足方式）",
                 "Communities needing more floor area than one facility of their tier may have (see how to meet it)"),
    "status": ("文件性质", "Status"), "official_note": ("官方目标与数据", "Official targets and figures"),
    "gap_communities": ("存在建筑面积缺口的社区", "Communities with a floor-area gap"),
    "new": ("需新建设施", "New facilities needed"),
    "subsidy": ("新建设施建设补助(元)", "Build subsidy of new facilities (CNY)"),
    "operating": ("新建设施运营补贴(元/年)", "Operating subsidy of new facilities (CNY/year)"),
    "coverage": ("步行范围内老年人比例", "Older residents within the walk limit"),
    "walk": ("步行条件", "Walk limit"), "not_computed": ("未计算（无路网）", "not computed (no network)"),
    "no_unassigned": ("无", "None"),
    "no_tiers": ("所选规范无按人口配置设施层级的规则", "the profile has no tier-by-population rule"),
    "rule": ("规则", "Rule"), "origin": ("出处", "From"), "description": ("含义", "Meaning"),
    "gate_effect": ("小区出入口的影响", "What compound gates change"),
    "gate_ungated": ("没有已知可用出入口的小区", "Compounds with no known usable gate"),
    "gate_sentence": ("居民只能经小区出入口进出时（{gates} 个出入口，按 {hour} 时的开放情况），步行 {limit} 分钟内的老年人占 "
                      "{with_gates}；不考虑出入口、每户就近上街时为 {without}（{change} 个百分点）。",
                      "With residents leaving their compounds only through the gates ({gates} gates, open as at "
                      "{hour}), {with_gates} of older residents are within a {limit}-minute walk; with every home "
                      "on its nearest street, as without gates, {without} ({change} percentage points)."),
    "gate_illustrative": ("注意：{n} / {total} 个出入口为示意数据（名称或来源注明“示意”/illustrative，非实测），"
                          "本节数字仅说明方法，不代表实际情况。",
                          "Note: {n} of the {total} gates are illustrative (marked \u201cillustrative\u201d/示意 in their "
                          "name or source, not surveyed): these figures show the method, not the real situation."),
    "row_check_lead": ("该行无法由分档规则得出：", "row not reproducible by the banding rule: "),
    "row_check_sum": ("现有 + 新建 = {total} ≠ 社区数 {communities}", "existing + new = {total} ≠ communities {communities}"),
    "differences_words": ("规则|官方|：", "rule|official|: "),
    "gate_none_ungated": ("所有有住宅的小区都有已知可用的出入口。", "Every compound with homes has a known usable gate."),
    "gate_ungated_note": ("以下小区的住宅仍按就近上街计算：", "The homes of these compounds still use their nearest street:"),
}


def label(column: str, language: str = "zh", profile: NormProfile | None = None) -> str:
    """Header label of a column in ``language``; band columns use the profile's thresholds."""
    i = 0 if language == "zh" else 1
    if column.startswith("communities_band_"):
        kind = column[len("communities_band_"):]
        band = profile.band_label(kind, language) if profile else ""
        name = FACILITY_KINDS.get(kind, {}).get("zh" if i == 0 else "en", kind)
        if i == 0:
            return f"{band}的社区数（应配{name}）" if band else f"应配{name}的社区数"
        return f"Communities {band} ({name.lower()})" if band else f"Communities needing {name.lower()}"
    if column.startswith("official_") and column not in _LABELS:
        inner = label(column[len("official_"):], language, profile)
        return f"官方目标：{inner}" if i == 0 else f"Official target: {inner}"
    return _LABELS.get(column, (column, column))[i]


def _official_differences(value: str, language: str) -> str:
    """``"<column>: rule a / official b; …"`` (norm_sources' data form) with column labels."""
    rule, official, colon = _text("differences_words", language).split("|")
    parts = []
    for part in value.split("; "):
        col, sep, figures = part.partition(": rule ")
        if not sep or " / official " not in figures:
            parts.append(part)
            continue
        a, b = figures.split(" / official ", 1)
        parts.append(f"{label(col, language)}{colon}{rule} {a} / {official} {b}")
    return "；".join(parts) if language == "zh" else "; ".join(parts)


def _official_row_check(problems: str, language: str) -> str:
    """norm_sources.row_consistency's problems with column labels, after the lead sentence."""
    def one(part: str) -> str:
        m = re.fullmatch(r"(\w+) (\S+) > (\w+) (\S+)", part)
        if m:
            return f"{label(m[1], language)} {m[2]} > {label(m[3], language)} {m[4]}"
        m = re.fullmatch(r"existing \+ new = (\S+) ≠ communities (\S+)", part)
        if m:
            return _text("row_check_sum", language).format(total=m[1], communities=m[2])
        return part
    sep = "；" if language == "zh" else "; "
    return _text("row_check_lead", language) + sep.join(one(p) for p in problems.split("; "))


def _text(key: str, language: str) -> str:
    return _TEXT[key][0 if language == "zh" else 1]


def display_value(column: str, value: Any, language: str = "zh") -> Any:
    """A cell as shown in XLSX/HTML: canonical codes (kinds, statuses) translated, rest unchanged."""
    if isinstance(value, str) and value in _VALUES.get(column, {}):
        return _VALUES[column][value][0 if language == "zh" else 1]
    if column == "official_differences" and isinstance(value, str) and value:
        return _official_differences(value, language)
    if column == "official_row_check" and isinstance(value, str) and value.startswith(ROW_CHECK_LEAD + ": "):
        return _official_row_check(value[len(ROW_CHECK_LEAD) + 2:], language)
    if isinstance(value, str) and column.endswith("_rule"):
        if value in _RULE_NOTES:
            return catalogue_text(_RULE_NOTES[value], language)
        if value.startswith(_NOT_APPLICABLE):
            return catalogue_text("profile.value_not_applicable", language, rule=value[len(_NOT_APPLICABLE):])
    return value


def number_format(column: str) -> str | None:
    """Excel number format of a numeric column (None = text / general)."""
    if column.startswith("share_"):
        return "0.0%"
    if column.endswith("_pp"):  # percentage points, signed
        return "+0.0;-0.0;0.0"
    if column.startswith("accessibility"):  # m² per older resident: small fractions
        return "0.0000"
    if column.endswith("_m2") or column in ("median_time_min",):
        return "#,##0.0"
    if column.startswith(("lon", "lat")):
        return "0.000000"
    if "cny" in column or column in ("population", "households", "elderly_population", "residents_within",
                                     "elderly_within", "households_within", "service_recipients",
                                     "capacity_provided", "capacity_gap", "capacity", "cost", "served_weight",
                                     "newly_covered_weight", "total_weight", "covered_before", "covered_after",
                                     "elderly_within_no_gates",
                                     "basic_service_recipients"):
        return "#,##0"
    return "0"


def _is_number_column(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _cell(value: Any) -> Any:
    """A value openpyxl can store: NaN/None -> empty, numpy scalars -> Python."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    return value


def file_checksums(paths: Iterable[Path]) -> pd.DataFrame:
    """Path, size (bytes) and SHA-256 of each input file (empty for a missing file)."""
    rows = []
    for p in paths:
        p = Path(p)
        if p.is_file():
            digest = hashlib.sha256()
            with p.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
            rows.append({"path": str(p), "size_bytes": p.stat().st_size, "sha256": digest.hexdigest()})
        else:
            rows.append({"path": str(p), "size_bytes": None, "sha256": ""})
    return pd.DataFrame(rows, columns=["path", "size_bytes", "sha256"])


def _rules(profile: NormProfile, language: str) -> pd.DataFrame:
    r = profile.rules_table(language)
    desc = "description_zh" if language == "zh" else "description_en"
    # The requirement kind leads the description, so land (用地) and floor area never blur.
    kind = r["kind"].map(lambda k: REQUIREMENT_KINDS[k][0 if language == "zh" else 1])
    r[desc] = "[" + kind + "] " + r[desc]
    return r[["rule", "key", "value", "origin", desc, "source_document", "source_clause"]].rename(
        columns={desc: "description"})


def _parameter_rows(profile: NormProfile, parameters: dict, language: str) -> list[tuple[str, str]]:
    i = 0 if language == "zh" else 1
    rows = [(_PARAMS[k][i] if k in _PARAMS else str(k), _fmt_param(display_value(k.replace("siting_", ""), v, language), language))
            for k, v in parameters.items()]
    title = profile.title if language == "zh" else (profile.title_en or profile.title)
    rows.append((_text("profile", language), f"{profile.name} — {title}"))
    rows.append((_PARAMS["profile_chain"][i], " → ".join(profile.chain)))
    for origin in profile.chain:
        src = profile.sources.get(origin, {})
        rows.append((f"{_text('source', language)} ({origin})", field_text(src, "document", language)))
        if src.get("status"):
            status = STATUS_LABELS.get(src["status"], (src["status"],) * 2)[0 if language == "zh" else 1]
            rows.append((f"{_text('status', language)} ({origin})", status))
        rows.append((f"{_text('clause', language)} ({origin})", field_text(src, "clause", language)))
        note = field_text(src, "note", language)
        if note:
            rows.append((f"{_text('note', language)} ({origin})", note))
    for n in profile.notes:
        text = in_language(n.text, n.text_en, language)
        rows.append((_text("official_note", language), f"{text} — {n.clause}「{n.quote}」"))
    targets = profile.official_targets
    if targets is not None:
        note = in_language(targets.note, targets.note_en, language)
        rows.append((_text("official_note", language), f"{targets.clause}「{targets.quote}」 {note}".strip()))
    for t in profile.bands:
        name = FACILITY_KINDS[t.kind]["zh" if language == "zh" else "en"]
        rows.append((f"{_text('bands', language)}: {name}", profile.band_label(t.kind, language)))
    return rows


def _fmt_param(value: Any, language: str = "zh") -> str:
    if isinstance(value, bool):
        return catalogue_text("value.yes" if value else "value.no", language)
    if value is None:
        return catalogue_text("value.none", language)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# ---------------------------------------------------------------------------------------------


def write_reports(community_table: pd.DataFrame, district_table: pd.DataFrame, out_dir: str | Path, *,
                  profile: NormProfile, parameters: dict, input_files: list[Path], language: str = "zh",
                  title: str = "", street_table: pd.DataFrame | None = None,
                  unassigned: pd.DataFrame | None = None,
                  siting: dict[str, pd.DataFrame] | None = None,
                  problems: ProblemReport | None = None, accessibility: Any = None, map_png: Path | None = None,
                  left_out: list[str] | None = None, warnings: list[str] | None = None,
                  uncoverable: tuple[float, float] | None = None, gates: dict | None = None,
                  siting_weight: str = "elderly_population") -> dict[str, Path]:
    """Write ``community_gaps.csv``, ``district_gaps.csv``, ``gaps.xlsx`` and ``report.html``.

    ``parameters`` (walk speed m/s, time limit min, profile name, …) is shown verbatim in the
    workbook and the page; ``input_files`` are listed with size and SHA-256. ``street_table``
    (``rollup(by="street")``) and ``unassigned`` (:func:`eldercare_coverage.norms.unassigned_facilities`)
    add a sheet/section each when given, as do the siting tables ``siting = {"proposed": ...,
    "siting_district": ...}`` (proposed sites; covered weight before/after by district). Returns ``{"community_csv", "district_csv", "xlsx",
    "html"}`` (plus ``"street_csv"`` with a street table) -> path.

    The page's first section also shows ``map_png`` (the static map, embedded), ``left_out``
    (lines saying what the analysis leaves out), ``warnings`` and, from siting, the
    ``siting["curve"]`` of coverage against new sites and ``uncoverable`` = (weight no site
    reaches, its share), both counting ``siting_weight`` (older residents, residents or households).

    ``gates`` (:func:`eldercare_coverage.pipeline.gate_effect`) adds a section and a sheet: coverage
    per district with and without the compound gates, and the compounds with no known gate.

    Text cells of the CSV and XLSX files are spreadsheet-safe (:mod:`eldercare_coverage._safe_cells`);
    control characters replaced in the workbook are reported to ``problems`` (else logged).
    """
    if language not in ("zh", "en"):
        raise ValueError("language must be 'zh' or 'en'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"community_csv": out / "community_gaps.csv", "district_csv": out / "district_gaps.csv",
             "xlsx": out / "gaps.xlsx", "html": out / "report.html"}
    write_csv(community_table, paths["community_csv"], encoding=CSV_ENCODING)
    write_csv(district_table, paths["district_csv"], encoding=CSV_ENCODING)
    if street_table is not None:
        paths["street_csv"] = out / "street_gaps.csv"
        write_csv(street_table, paths["street_csv"], encoding=CSV_ENCODING)
    checksums = file_checksums(input_files)
    tables = _report_tables(community_table, district_table, street_table, unassigned, profile)
    for key in ("proposed", "siting_district"):
        if siting is not None and siting.get(key) is not None:
            tables.append((key, _known_columns(pd.DataFrame(siting[key]))))
    title = title or _text("title", language)
    gate_tables = []
    if gates:
        parameters = {**parameters, **_gate_parameters(gates)}
        gate_tables = [("gate_effect", gates["table"])] + (
            [("gate_ungated", gates["ungated"])] if len(gates["ungated"]) else [])
    _write_xlsx(paths["xlsx"], tables + gate_tables, profile, parameters, checksums, language, title).report(problems)
    # accessibility (AccessibilityTables): Lorenz curve and service pressure, escaped by accessibility_charts
    extra = ""
    if accessibility is not None:
        from .accessibility_charts import accessibility_section

        extra = accessibility_section(accessibility, language)
    front_page = _front_page(district_table, community_table, profile, parameters, language,
                             curve=None if siting is None else siting.get("curve"), uncoverable=uncoverable,
                             map_png=map_png, left_out=left_out or [], warnings=warnings or [], weight=siting_weight)
    gate_html = _gate_section(gates, parameters, language, profile) if gates else ""
    phases = None if siting is None else siting.get("phases")
    after = {tables[-1][0]: _phases_section(phases, siting.get("phases_chart", ""), language)} if phases is not None else {}
    _write_html(paths["html"], tables, profile, parameters, checksums, language, title, front_page + gate_html + extra,
                after=after)
    return paths


def _gate_parameters(gates: dict) -> dict:
    return {"gate_hour": gates["gate_hour"], "gates_used": gates["gates_used"],
            "gates_illustrative": gates["gates_illustrative"]}


def _gate_section(gates: dict, parameters: dict, language: str, profile: NormProfile) -> str:
    """Coverage per district with and without the compound gates, the note when the gates are
    illustrative, and the compounds with no known usable gate."""
    from .summary import clock

    t = lambda k: _text(k, language)  # noqa: E731
    total = gates["table"].set_index("district").loc[GATE_TOTAL]
    limit = parameters.get("time_limit_min") or 15
    parts = [f'<section id="gates"><h2 id="gate-effect">{_esc(t("gate_effect"))}</h2>',
             "<p>" + _esc(t("gate_sentence").format(
                 gates=gates["gates_used"], hour=clock(gates["gate_hour"]), limit=f"{float(limit):g}",
                 with_gates=format_number("share_elderly_within", total["share_elderly_within"]),
                 without=format_number("share_elderly_within_no_gates", total["share_elderly_within_no_gates"]),
                 change=format_number("change_pp", total["change_pp"]))) + "</p>"]
    if gates["gates_illustrative"]:
        parts.append(f'<p class="note"><b>{_esc(t("gate_illustrative").format(n=gates["gates_illustrative"], total=gates["gates_given"]))}</b></p>')
    parts.append(_html_table(gates["table"], language, profile, "table-gate-effect"))
    parts.append(f'<h3 id="gate-ungated">{_esc(t("gate_ungated"))}</h3>')
    if len(gates["ungated"]):
        parts.append(f"<p>{_esc(t('gate_ungated_note'))}</p>")
        parts.append(_html_table(gates["ungated"], language, profile, "table-gate-ungated"))
    else:
        parts.append(f"<p>{_esc(t('gate_none_ungated'))}</p>")
    parts.append("</section>")
    return "".join(parts)


#: Columns that exist only for a rule, by the column that is empty when the profile lacks it;
#: left out of the page and workbook then.
_RULE_COLUMNS = {
    "beds_required": ("beds_required", "beds_required_rule", "bed_shortfall"),
    "land_required_m2": ("land_required_m2", "land_rule", "land_provided_m2", "land_gap_m2", "land_status"),
    "stations_required_min": ("service_recipients", "stations_required_min", "stations_required_max",
                              "stations_present", "station_shortfall", "capacity_provided", "capacity_gap",
                              "service_capacity_rule", "service_capacity_status"),
}
_TIER_COLUMNS = ("tier_required", "tier_required_rule", "tier_met", "new_facility", "facilities_below_tier_area",
                 "area_tier_max_m2", "area_exceeds_tier_max", "area_plan",
                 "area_tier_min_m2", "area_tier_min_rule", "new_total", "subsidy_build_cny",
                 "subsidy_operating_cny_per_year", "subsidy_rule")


def _known_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Without columns that hold no value at all (a rule or option that did not apply)."""
    empty = [c for c in df.columns if df[c].isna().all()]
    return df.drop(columns=empty)


#: Status columns that say a rule exists but could not be checked (their text explains why).
_RULE_STATUS = {"land_required_m2": ("land_status", {"no land rule"}),
                "stations_required_min": ("service_capacity_status", {"no rule"})}


def _rule_absent(df: pd.DataFrame, key: str) -> bool:
    """Whether the profile lacks the rule whose figure is ``key`` (no value, and no status
    saying the rule exists but could not be checked)."""
    if key in df and df[key].notna().any():
        return False
    status, absent = _RULE_STATUS.get(key, ("", set()))
    if status in df:
        return bool(df[status].dropna().astype(str).isin(absent).all())
    return True


def _shown_columns(df: pd.DataFrame, profile: NormProfile) -> pd.DataFrame:
    """The columns a reader sees: none of a rule the profile lacks (no bed rule: no bed
    columns; no tier bands: no tier, new-facility and subsidy columns)."""
    drop = [c for key, cols in _RULE_COLUMNS.items() if _rule_absent(df, key) for c in cols if c in df]
    if not profile.bands:
        drop += [c for c in df.columns if c in _TIER_COLUMNS or c.startswith(("new_", "communities_band_"))]
    return df.drop(columns=sorted(set(drop)))


def _report_tables(community, district, street, unassigned, profile) -> list[tuple[str, pd.DataFrame]]:
    tables = [("district", _shown_columns(district, profile))]
    if street is not None:
        tables.append(("street", _shown_columns(street, profile)))
    tables.append(("community", _shown_columns(community, profile)))
    if unassigned is not None and len(unassigned):
        cols = [c for c in ("facility_id", "name", "kind", "floor_area_m2", "beds", "capacity", "community_id")
                if c in unassigned]
        tables.append(("unassigned", pd.DataFrame(unassigned)[cols]))
    return tables


#: Sheet name of each table per language (Excel allows 31 characters, no []:*?/\).
SHEETS = {"district": ("区县汇总", "district_gaps"), "street": ("街道汇总", "street_gaps"),
          "community": ("社区明细", "community_gaps"), "unassigned": ("未落入社区的设施", "unassigned_facilities"),
          "proposed": ("建议新建设施", "proposed_sites"), "siting_district": ("选址前后覆盖", "siting_by_district"),
          "rules": ("规则", "rules"), "parameters": ("参数与输入文件", "parameters_inputs"),
          "gate_effect": ("小区出入口的影响", "gate_effect"), "gate_ungated": ("无已知出入口的小区", "ungated_compounds")}


def sheet_name(table: str, language: str = "zh") -> str:
    return SHEETS[table][0 if language == "zh" else 1]


def _write_xlsx(path: Path, tables, profile, parameters, checksums, language, title: str = "") -> XlsxText:
    """Write the workbook; returns its text-cell maker, which knows what it had to replace."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    # Write-only mode streams rows to disk: about twice as fast and far leaner at city scale.
    wb = Workbook(write_only=True)
    heading = title_rows(title, _title_lines(profile, parameters, language))
    top = len(heading) + 1  # the header row, under the title block
    text = XlsxText(path, header_row=top)  # every str cell goes through it: string-typed, never a formula


    def sheet(name: str, header: list[str], rows: list[list], formats: list[str | None],
              widths: list[float], freeze_col: int = 1) -> None:
        ws = wb.create_sheet(name)
        print_layout(ws, header_row=top, n_rows=len(rows), n_cols=len(header), freeze_col=freeze_col)
        for j, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(j)].width = width
        for r, line in enumerate(heading, start=1):
            cells = [text.cell(ws, v, r, j) for j, v in enumerate(line, start=1)]
            if r == 1 and cells:
                cells[0].font = Font(bold=True, size=14)
            ws.append(cells)
        cells = []
        for j, h in enumerate(header, start=1):
            cell = text.cell(ws, h, top, j)
            cell.font, cell.fill, cell.alignment = bold, fill, wrap
            cells.append(cell)
        ws.append(cells)
        styled = [(j, fmt) for j, fmt in enumerate(formats) if fmt]
        for i, row in enumerate(rows, start=top + 1):
            values = [text.cell(ws, _cell(v), i, j) for j, v in enumerate(row, start=1)]
            for j, fmt in styled:  # numeric columns: plain numbers, never str
                if values[j] is not None:
                    cell = WriteOnlyCell(ws, value=values[j])
                    cell.number_format = fmt
                    values[j] = cell
            ws.append(values)

    for key, df in tables:
        cols = list(df.columns)
        numeric = [_is_number_column(df[c]) for c in cols]
        body = df.copy()
        for c, is_num in zip(cols, numeric):
            if not is_num and (c in _TRANSLATED or c.endswith("_rule")):
                body[c] = body[c].map(lambda v, c=c: display_value(c, v, language))
            elif pd.api.types.is_bool_dtype(body[c]):
                body[c] = body[c].map({True: "是" if language == "zh" else "yes",
                                       False: "否" if language == "zh" else "no"})
        header = [label(c, language, profile) for c in cols]
        widths = [_width(h, body[c], is_num) for h, c, is_num in zip(header, cols, numeric)]
        sheet(sheet_name(key, language), header, list(body.itertuples(index=False, name=None)),
              [number_format(c) if n else None for c, n in zip(cols, numeric)], widths, freeze_after(cols))

    rules = _rules(profile, language)
    rheader = [_text(k, language) for k in ("rule", "key", "value", "origin", "description", "source", "clause")]
    sheet(sheet_name("rules", language), rheader, list(rules.itertuples(index=False, name=None)),
          [None] * 7, [48, 40, 12, 16, 36, 40, 60])
    prow = [[k, v] for k, v in _parameter_rows(profile, parameters, language)]
    prow.append([])
    prow.append([_text("path", language), _text("size", language), _text("sha256", language)])
    prow += [[r.path, r.size_bytes, r.sha256 or _text("missing", language)] for r in checksums.itertuples()]
    sheet(sheet_name("parameters", language), [_text("key", language), _text("value", language), ""],
          prow, [None, None, None], [36, 80, 66])
    wb.save(path)
    return text


def _title_lines(profile: NormProfile, parameters: dict, language: str) -> list[str]:
    """Profile, walk speed and limit, and the date, under the title of every sheet."""
    import datetime

    zh = language == "zh"
    name = profile.title if zh else (profile.title_en or profile.title)
    speed, limit = parameters.get("walk_speed_mps"), parameters.get("time_limit_min")
    walk = (f"步速 {speed:g} 米/秒，步行时间限制 {limit:g} 分钟" if zh else
            f"walk speed {speed:g} m/s, walk time limit {limit:g} min") if speed and limit else ""
    today = datetime.date.today().isoformat()
    if zh:
        return [f"规范：{profile.name}（{name}）", walk, f"生成日期：{today}"]
    return [f"Norm profile: {profile.name} ({name})", walk, f"Generated: {today}"]


def _width(header: str, values: pd.Series, numeric: bool) -> float:
    """Column width in characters: fits the header (wrapped to two lines) and most values."""
    sample = values.head(500).astype(str)
    longest = int(sample.map(_display_len).max()) if len(sample) else 0
    if numeric:
        longest += 3  # thousands separators
    return float(min(max(longest, _display_len(header) / 2, 6) + 2, 60))


def _display_len(text: str) -> int:
    # CJK characters are about two Latin characters wide.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(text))


# ---------------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #bbb;padding:2px 6px;vertical-align:top}
th{background:#ddebf7;position:sticky;top:0;min-width:4em}td{white-space:nowrap}
td.n{text-align:right}
tr.total td{font-weight:bold;background:#f3f3f3}.wrap{overflow-x:auto}
dl.summary{display:grid;grid-template-columns:max-content auto;gap:.2em 1.2em}dt{font-weight:bold}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def format_number(column: str, value: Any) -> str:
    """Number as shown in the HTML report (same rounding as the workbook's formats)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    fmt = number_format(column)
    v = float(value)
    if fmt == "0.0%":
        return f"{v * 100:.1f}%"
    if fmt == "#,##0.0":
        return f"{v:,.1f}"
    if fmt == "#,##0":
        return f"{v:,.0f}"
    if fmt == "+0.0;-0.0;0.0":
        return f"{v:+.1f}"
    return f"{v:.0f}" if v.is_integer() else f"{v:g}"


def _html_table(df: pd.DataFrame, language: str, profile: NormProfile, table_id: str) -> str:
    cols = list(df.columns)
    numeric = [_is_number_column(df[c]) for c in cols]
    head = "".join(f'<th data-column="{_esc(c)}">{_esc(label(c, language, profile))}</th>' for c in cols)
    rows = []
    values = [df[c].to_numpy() for c in cols]
    row_types = df["row_type"].to_numpy() if "row_type" in df else None
    for i in range(len(df)):
        cells = []
        for c, is_num, vals in zip(cols, numeric, values):
            v = vals[i]
            if is_num:
                raw = "" if pd.isna(v) else repr(float(v))
                cells.append(f'<td class="n" data-value="{raw}">{_esc(format_number(c, v))}</td>')
            else:
                if isinstance(v, (bool, np.bool_)):
                    shown = ("是" if v else "否") if language == "zh" else ("yes" if v else "no")
                else:
                    shown = "" if v is None or (isinstance(v, float) and math.isnan(v)) else display_value(c, v, language)
                raw = "" if v is None or (isinstance(v, float) and math.isnan(v)) else v
                cells.append(f'<td data-value="{_esc(raw)}">{_esc(shown)}</td>')
        cls = ' class="total"' if row_types is not None and row_types[i] == "total" else ""
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return (f'<div class="wrap"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _land_summary(community: pd.DataFrame, language: str) -> list[tuple[str, str]]:
    """Land (用地) in the summary, apart from floor area: the land to reserve, and its gap only
    where site areas were given."""
    t = lambda k: _text(k, language)  # noqa: E731
    rows = []
    if "land_required_m2" in community and community["land_required_m2"].notna().any():
        total = format_number("land_required_m2", community["land_required_m2"].sum())
        if community["land_gap_m2"].notna().any():
            rows += [(t("land"), total), (t("land_gap"), format_number("land_gap_m2", community["land_gap_m2"].sum()))]
        else:
            rows.append((t("land"), f"{total} ({t('land_unchecked')})"))
    if "area_exceeds_tier_max" in community and community["area_exceeds_tier_max"].any():
        rows.append((t("over_cap"), f"{int(community['area_exceeds_tier_max'].sum()):,}"))
    return rows


def _front_page(district, community, profile, parameters, language, *, curve, uncoverable, map_png, left_out,
                warnings, weight: str = "elderly_population") -> str:
    """The director's first page (see :mod:`eldercare_coverage.report_front`)."""
    i = 0 if language == "zh" else 1
    has_tiers = bool(profile.bands)
    name = profile.title if language == "zh" else (profile.title_en or profile.title)
    share = None if uncoverable is None else uncoverable[1]
    ft = lambda k: _esc(front.TEXT[k][i])  # noqa: E731
    lines = front.sentences(district, community, profile_name=name or profile.name,
                            limit_min=float(parameters.get("time_limit_min") or 15), language=language,
                            has_tiers=has_tiers, siting_curve=curve, uncoverable=uncoverable, weight=weight)
    # land (用地) stays apart from floor area: its own lines, never a comparison
    sep = "：" if language == "zh" else ": "
    lines += [f"{k}{sep}{v}" for k, v in _land_summary(community, language)]
    parts = [f'<section id="front"><h2 id="summary">{ft("headline")}</h2>',
             front.headline_html(front.headline_figures(district, curve, share, language, has_tiers, weight)),
             front.findings_html(lines),
             f'<h2 id="district-key">{ft("district_key")}</h2>', front.district_key_table(district, language, has_tiers),
             f'<h2 id="charts">{ft("charts")}</h2>', front.chart_section(district, language, has_tiers, curve, share, weight),
             f'<h2 id="map">{ft("map")}</h2>', front.map_image(map_png, language)]
    if left_out or warnings:
        parts.append(f'<h2 id="left-out">{ft("left_out")}</h2><ul class="findings">')
        parts += [f"<li>{_esc(x.strip())}</li>" for x in left_out]
        parts += [f"<li>{_esc(x)}</li>" for x in warnings]
        parts.append("</ul>")
    shown = set(front.key_columns(district, has_tiers)) | {"off_network"}  # the metrics this page shows
    shown |= {"unreachable", "newly_covered"} if curve is not None else set()
    parts += [f'<h2 id="glossary">{ft("glossary")}</h2>', front.glossary(language, shown), "</section>"]
    return "".join(parts)


def _phases_section(df: pd.DataFrame, chart_svg: str, language: str) -> str:
    """The ``[siting] phases`` plan in the siting section: its chart (SVG from
    :func:`~eldercare_coverage.siting.phased_chart`, which escapes its labels) and a compact table,
    phase, p, the sites opened, the objective and the loss against the best plan for that p."""
    t = lambda k: _text(k, language)  # noqa: E731
    i = 0 if language == "zh" else 1
    parts = [f'<h2 id="siting_phases">{t("siting_phases")}</h2>']
    if chart_svg:
        parts.append(f'<figure class="chart">{chart_svg}</figure>')
    parts.append('<table id="table-siting_phases"><thead><tr>'
                 + "".join(f"<th>{t(k)}</th>" for k in ("phase", "phase_p", "phase_sites", "phase_objective", "phase_loss"))
                 + "</tr></thead><tbody>")
    comma = "，" if language == "zh" else ", "
    for r in df.itertuples():
        loss = f"{r.loss:,.4g} ({r.loss_share:.2%})"
        status = (t("phase_exact") if r.loss_status == "exact"
                  else _TEXT["phase_bounded"][i].format(most=f"{r.loss_max:,.4g}"))
        # site ids as the phased table joins them ("; "): a user's id is shown whole, never re-split
        parts.append(f'<tr><td class="n">{int(r.phase)}</td><td class="n">{int(r.p)}</td><td>{_esc(r.site_ids)}</td>'
                     f'<td class="n">{_esc(f"{r.objective:,.6g}")}</td><td>{_esc(loss + comma + status)}</td></tr>')
    parts.append("</tbody></table>")
    return "".join(parts)


def _write_html(path: Path, tables, profile, parameters, checksums, language, title, front_page: str = "",
                after: dict[str, str] | None = None) -> None:
    """``after`` maps a table key to HTML placed right after that table's section."""
    t = lambda k: _text(k, language)  # noqa: E731
    more = _esc(front.TEXT["more_columns"][0 if language == "zh" else 1])
    parts = [f'<!DOCTYPE html><html lang="{"zh-CN" if language == "zh" else "en"}"><head><meta charset="utf-8">',
             f"<title>{_esc(title)}</title><style>{_CSS}{front.CSS}</style></head><body>", f"<h1>{_esc(title)}</h1>",
             front_page]
    for key, df in tables:
        parts.append(f'<h2 id="{key}">{t(key)}</h2>')
        table = _html_table(df, language, profile, f"table-{key}")
        # the full tables fold away (and do not print): the first page has the key columns
        parts.append(f"<details><summary>{more}</summary>{table}</details>"
                     if key in ("district", "street", "community") else table)
        parts.append((after or {}).get(key, ""))
    parts.append(f'<h2 id="parameters">{t("parameters")}</h2><table id="table-parameters">')
    parts += [f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in _parameter_rows(profile, parameters, language)]
    parts.append("</table>")
    rules = _rules(profile, language)
    parts.append(f'<h2 id="rules">{t("rules")}</h2><table id="table-rules"><thead><tr>')
    parts += [f"<th>{t(k)}</th>" for k in ("rule", "description", "source", "clause")]
    parts.append("</tr></thead><tbody>")
    parts += [f"<tr><td>{_esc(r.rule)}</td><td>{_esc(r.description)}</td><td>{_esc(r.source_document)}</td>"
              f"<td>{_esc(r.source_clause)}</td></tr>" for r in rules.itertuples()]
    parts.append("</tbody></table>")
    parts.append(f'<h2 id="inputs">{t("inputs")}</h2><table id="table-inputs"><thead><tr>'
                 f'<th>{t("path")}</th><th>{t("size")}</th><th>{t("sha256")}</th></tr></thead><tbody>')
    parts += [f'<tr><td>{_esc(r.path)}</td><td class="n">{"" if pd.isna(r.size_bytes) else f"{int(r.size_bytes):,}"}'
              f'</td><td><code>{_esc(r.sha256 or t("missing"))}</code></td></tr>' for r in checksums.itertuples()]
    parts.append("</tbody></table></body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
