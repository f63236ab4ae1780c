"""The first page of the HTML report, for a director: headline figures, a few generated
sentences, the district table cut to its key columns, charts, the map image and a glossary.

Every function returns HTML text in which each value is escaped here (no template engine);
numbers are rounded as a reader expects them: whole persons, whole m², whole percentages.
Columns of rules the norm profile does not have are left out, not filled with zeros.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

from . import charts
from .summary import GLOSSARY, percent, weight_label, weight_unit

#: Text of the first page (zh, en) by id.
TEXT: dict[str, tuple[str, str]] = {
    "headline": ("主要结论", "Headline figures"),
    "findings": ("要点", "Findings"),
    "district_key": ("各区县主要指标", "Key figures by district"),
    "charts": ("图表", "Charts"),
    "map": ("覆盖地图", "Coverage map"),
    "map_missing": ("未生成地图图片（需要 Chromium 浏览器）；交互地图见 maps 文件夹。",
                    "No map image (it needs a Chromium browser); the interactive map is in the maps folder."),
    "glossary": ("术语", "Glossary"),
    "more_columns": ("全部列（另见 Excel 文件）", "All columns (also in the Excel workbook)"),
    "left_out": ("未能覆盖的部分与警告", "What is left out, and warnings"),
    "district": ("区县", "District"), "communities": ("社区数", "Communities"),
    "elderly_population": ("60岁以上老年人", "Residents aged 60+"),
    "communities_with_area_gap": ("有面积缺口的社区数", "Communities with a floor-area gap"),
    "chart_coverage": ("各区县老年人步行覆盖率", "Older residents' walk coverage by district"),
    "chart_area_gap": ("各区县建筑面积缺口（平方米）", "Floor-area gap by district (m²)"),
    "chart_beds": ("各区县床位缺口（张）", "Bed shortfall by district"),
    "chart_stations": ("各区县服务站缺口（处）", "Service station shortfall by district"),
    "chart_new": ("各区县需新建设施（处）", "New facilities needed by district"),
    "chart_curve": ("新增设施数量与{weight}步行覆盖率", "Walk coverage of {weight} against new sites"),
    "curve_x": ("新增设施数量（处）", "New sites"),
    "after_siting": ("{weight}步行覆盖率（选址后）", "Walk coverage of {weight} (after siting)"),
    "unreachable_weight": ("无法覆盖的{weight}", "{weight} no site can reach"),
    "curve_y": ("{weight}步行覆盖率", "Walk coverage"),
    "ceiling": ("所有候选点都建设施时的上限 {share}", "ceiling with a site on every candidate: {share}"),
    "persons": ("人", "persons"), "m2": ("平方米", "m²"), "sites": ("处", "sites"),
    "total": ("合计", "Total"),
}

#: Sentences of the first page (zh, en), filled with str.format.
SENTENCES: dict[str, tuple[str, str]] = {
    "coverage": ("研究区共有 60 岁以上老年人 {total:,} 人，其中 {within:,} 人（{share}）步行 {limit} 分钟内能到达社区养老服务设施。",
                 "Of {total:,} residents aged 60+, {within:,} ({share}) can walk to a community eldercare facility within {limit} minutes."),
    "lowest": ("老年人步行覆盖率最低的是{district}（{share}），最高的是{best}（{best_share}）。",
               "Walk coverage is lowest in {district} ({share}) and highest in {best} ({best_share})."),
    "area": ("按{profile}，{n} 个社区（共 {total} 个）的设施建筑面积不足，缺口合计 {gap:,} 平方米。",
             "Under {profile}, {n} of {total} communities lack facility floor area, {gap:,} m² in all."),
    "area_none": ("按{profile}，所有社区的设施建筑面积均达标。", "Under {profile}, every community has enough facility floor area."),
    "new": ("按人口分档，还需新建设施 {n} 处。", "The population bands call for {n} new facilities."),
    "no_tiers": ("所选规范没有按人口配置设施层级的规则，因此不计算需新建的设施。",
                 "The profile has no tier-by-population rule, so no new facilities are counted."),
    "siting": ("若在建议的 {n} 处新建设施，{weight}步行覆盖率可从 {before} 提高到 {after}，新增覆盖 {added:,} {unit}。",
               "With the {n} proposed new sites, walk coverage of {weight} rises from {before} to {after}, {added:,} more covered."),
    "unreachable": ("仍有 {n:,} {counted}（{share}）距离所有现有设施和候选点都超过 {limit} 分钟，需要增加候选点或改善步行路网。",
                    "{n:,} {weight} ({share}) are beyond {limit} minutes of every existing facility and candidate site: "
                    "they need more candidate sites or better walking links."),
}


def _t(key: str, language: str) -> str:
    return TEXT[key][0 if language == "zh" else 1]


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return v


def whole(value: Any) -> str:
    """A count of persons, m², beds or sites: whole, with separators; "–" when unknown."""
    v = _num(value)
    return "–" if not math.isfinite(v) else f"{round(v):,}"


def metric_name(column: str, language: str) -> str:
    """The one name of a metric (the glossary's), else the first page's own label."""
    entry = GLOSSARY["zh" if language == "zh" else "en"].get(column)
    if entry:
        return entry[0]
    return _t(column, language) if column in TEXT else column


def rule_columns(table: pd.DataFrame) -> list[str]:
    """Gap columns of rules the profile has (at least one known value): the floor-area gap, beds,
    service stations, service capacity. New facilities depend on tiers (see :func:`key_columns`)."""
    out = []
    for c in ("area_gap_m2", "bed_shortfall", "station_shortfall", "capacity_gap"):
        if c in table and pd.to_numeric(table[c], errors="coerce").notna().any():
            out.append(c)
    return out


#: Reading order of the key columns of the district table.
_KEY_ORDER = ["district", "communities", "elderly_population", "elderly_within", "share_elderly_within",
              "area_required_m2", "area_provided_m2", "area_gap_m2", "communities_with_area_gap", "new_total",
              "bed_shortfall", "station_shortfall", "capacity_gap"]


def key_columns(district: pd.DataFrame, has_tiers: bool, most: int = 10) -> list[str]:
    """At most ``most`` key columns of the district table, in reading order: coverage and the
    gaps of the rules the profile has first, required and provided area when there is room."""
    must = ["district", "communities", "elderly_population", "elderly_within", "share_elderly_within",
            "area_gap_m2", "communities_with_area_gap"]
    must += (["new_total"] if has_tiers else []) + [c for c in rule_columns(district) if c != "area_gap_m2"]
    chosen = [c for c in must if c in district][:most]
    for c in ("area_required_m2", "area_provided_m2"):
        if c in district and len(chosen) < most:
            chosen.append(c)
    return [c for c in _KEY_ORDER if c in chosen]


def _cell(column: str, value: Any, language: str) -> tuple[str, str]:
    """(text, css class) of a key-table cell."""
    if column == "district":
        text = _t("total", language) if value == "(all)" else str(value)
        return _esc(text), ""
    if column.startswith("share_"):
        return _esc(percent(_num(value), language)), "n"
    return _esc(whole(value)), "n"


def district_key_table(district: pd.DataFrame, language: str, has_tiers: bool) -> str:
    """The district table with its key columns; the total row last, in bold."""
    cols = key_columns(district, has_tiers)
    rows = district[district.get("row_type", pd.Series("group", index=district.index)) != "no_community"]
    head = "".join(f'<th data-column="{_esc(c)}">{_esc(metric_name(c, language))}</th>' for c in cols)
    body = []
    for _, r in rows.iterrows():
        cells = []
        for c in cols:
            text, cls = _cell(c, r[c], language)
            cells.append(f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>")
        total = ' class="total"' if r.get("row_type") == "total" else ""
        body.append(f"<tr{total}>{''.join(cells)}</tr>")
    return (f'<table id="table-district-key" class="key"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def headline_figures(district: pd.DataFrame, siting_curve: pd.DataFrame | None, uncoverable_share: float | None,
                     language: str, has_tiers: bool, weight: str = "elderly_population") -> list[tuple[str, str]]:
    """(name, value) pairs of the headline boxes; ``weight``: the siting weight (what the
    after-siting coverage and the demand no site reaches count)."""
    total = district[district["row_type"] == "total"].iloc[0] if "row_type" in district and \
        (district["row_type"] == "total").any() else district.sum(numeric_only=True)
    out = []
    if "share_elderly_within" in district and math.isfinite(_num(total.get("share_elderly_within"))):
        out.append((metric_name("share_elderly_within", language), percent(_num(total["share_elderly_within"]), language)))
        out.append((metric_name("elderly_within", language),
                    f"{whole(total['elderly_within'])} / {whole(total['elderly_population'])} {_t('persons', language)}"))
    out.append((metric_name("area_gap_m2", language), f"{whole(total.get('area_gap_m2'))} {_t('m2', language)}"))
    if has_tiers and "new_total" in district:
        out.append((metric_name("new_total", language), f"{whole(total['new_total'])} {_t('sites', language)}"))
    if siting_curve is not None and len(siting_curve) > 1:
        out.append((_t("after_siting", language).format(weight=weight_label(weight, language)),
                    percent(float(siting_curve["covered_share"].iloc[-1]), language)))
    if uncoverable_share is not None and math.isfinite(uncoverable_share):
        name = metric_name("unreachable", language) if weight == "elderly_population" else \
            _t("unreachable_weight", language).format(weight=weight_label(weight, language)).capitalize()
        out.append((name, percent(uncoverable_share, language)))
    return out


def sentences(district: pd.DataFrame, community: pd.DataFrame, *, profile_name: str, limit_min: float,
              language: str, has_tiers: bool, siting_curve: pd.DataFrame | None = None,
              uncoverable: tuple[float, float] | None = None, weight: str = "elderly_population") -> list[str]:
    """A few generated sentences in planning language (plain text; escape when writing HTML);
    ``weight``: the siting weight, which the siting and unreachable sentences count."""
    i = 0 if language == "zh" else 1
    label = weight_label(weight, language)
    # "3,686 名老年人" / "120 户": a measure word before persons, none before households (户 is both)
    counted = {"weight": label, "unit": weight_unit(weight, language),
               "counted": label if weight == "households" or language != "zh" else f"名{label}"}
    s = {k: v[i] for k, v in SENTENCES.items()}
    limit = f"{limit_min:g}"
    out = []
    groups = district[district["row_type"] == "group"] if "row_type" in district else district
    totals = district[district["row_type"] == "total"] if "row_type" in district else district.iloc[0:0]
    if "share_elderly_within" in district and groups["share_elderly_within"].notna().any() and len(totals):
        total = totals.iloc[0]
        out.append(s["coverage"].format(total=round(_num(total["elderly_population"])),
                                        within=round(_num(total["elderly_within"])),
                                        share=percent(_num(total["share_elderly_within"]), language), limit=limit))
        known = groups.dropna(subset=["share_elderly_within"])  # a district without older residents ranks nowhere
        if len(known) > 1:
            order = known.sort_values("share_elderly_within")
            lo, hi = order.iloc[0], order.iloc[-1]
            out.append(s["lowest"].format(district=lo["district"], share=percent(_num(lo["share_elderly_within"]), language),
                                          best=hi["district"], best_share=percent(_num(hi["share_elderly_within"]), language)))
    gap = community["area_gap_m2"].fillna(0)
    n_gap = int((gap > 1e-9).sum())
    if n_gap:
        out.append(s["area"].format(profile=profile_name, n=n_gap, total=len(community), gap=round(float(gap.sum()))))
    else:
        out.append(s["area_none"].format(profile=profile_name))
    if has_tiers and "new_total" in district:
        n_new = int(round(_num(district["new_total"][district["row_type"] == "total"].iloc[0])))
        if n_new:
            out.append(s["new"].format(n=n_new))
    elif not has_tiers:
        out.append(s["no_tiers"])
    if siting_curve is not None and len(siting_curve) > 1:
        first, last = siting_curve.iloc[0], siting_curve.iloc[-1]
        out.append(s["siting"].format(n=len(siting_curve) - 1, before=percent(first["covered_share"], language),
                                      after=percent(last["covered_share"], language),
                                      added=round(last["covered_weight"] - first["covered_weight"]), **counted))
    if uncoverable is not None and uncoverable[0] > 0.5:
        n, share = uncoverable
        out.append(s["unreachable"].format(n=round(n), share=percent(share, language), limit=limit, **counted))
    return out


def chart_section(district: pd.DataFrame, language: str, has_tiers: bool,
                  siting_curve: pd.DataFrame | None = None, uncoverable_share: float | None = None,
                  weight: str = "elderly_population") -> str:
    """Inline SVG charts: coverage by district; gap by district per requirement the profile has;
    coverage against the number of new sites when siting ran."""
    groups = district[district["row_type"] == "group"] if "row_type" in district else district
    names = groups["district"].astype(str).tolist()
    parts = []
    if "share_elderly_within" in groups and groups["share_elderly_within"].notna().any():
        parts.append(charts.bar_chart(names, groups["share_elderly_within"].fillna(0).tolist(),
                                      title=_t("chart_coverage", language), max_value=1.0,
                                      value_text=lambda v: percent(v, language), color=charts.PALETTE[0]))
    kinds = [("area_gap_m2", "chart_area_gap", charts.PALETTE[1]), ("new_total", "chart_new", charts.PALETTE[2]),
             ("bed_shortfall", "chart_beds", charts.PALETTE[3]), ("station_shortfall", "chart_stations", charts.PALETTE[4])]
    have = rule_columns(groups) + (["new_total"] if has_tiers and "new_total" in groups else [])
    for col, key, color in kinds:
        if col in have:
            parts.append(charts.bar_chart(names, pd.to_numeric(groups[col], errors="coerce").fillna(0).tolist(),
                                          title=_t(key, language), value_text=lambda v: f"{round(v):,}", color=color))
    if siting_curve is not None and len(siting_curve) > 1:
        counted = weight_label(weight, language)
        ceiling = None if uncoverable_share is None else 1.0 - uncoverable_share
        parts.append(charts.line_chart(siting_curve["new_sites"].tolist(), siting_curve["covered_share"].tolist(),
                                       title=_t("chart_curve", language).format(weight=counted),
                                       x_label=_t("curve_x", language),
                                       y_label=_t("curve_y", language).format(weight=counted), y_text=lambda v: percent(v, language),
                                       ceiling=ceiling, ceiling_label=_t("ceiling", language).format(
                                           share=percent(ceiling, language)) if ceiling is not None else ""))
    return "".join(f'<figure class="chart">{p}</figure>' for p in parts)


def map_image(png: Path | None, language: str) -> str:
    """The static map as an embedded PNG (the report stays one file), or a note when there is none."""
    if png is None or not Path(png).is_file():
        return f"<p>{_esc(_t('map_missing', language))}</p>"
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return f'<img class="map" alt="{_esc(_t("map", language))}" src="data:image/png;base64,{data}">'


def glossary(language: str, columns: set[str] | None = None) -> str:
    """One name and definition per metric (those shown, when ``columns`` is given)."""
    entries = GLOSSARY["zh" if language == "zh" else "en"]
    keys = [k for k in entries if columns is None or k in columns]
    items = "".join(f"<dt>{_esc(entries[k][0])}</dt><dd>{_esc(entries[k][1])}</dd>" for k in keys)
    return f'<dl class="glossary">{items}</dl>'


#: Print and screen CSS of the first page (A4 landscape, tables that fit, repeated headers).
CSS = """
@page{size:A4 landscape;margin:10mm}
@media print{body{margin:0;font-size:9pt}.wrap{overflow:visible}details{display:none}
 h2{break-after:avoid}figure.chart,table.key,.headline{break-inside:avoid}}
thead{display:table-header-group}tr{break-inside:avoid}
.headline{display:flex;flex-wrap:wrap;gap:8px;margin:.6em 0}
.headline div{border:1px solid #9ab;border-radius:4px;padding:6px 10px;min-width:10em;background:#f5f9fc}
.headline b{display:block;font-size:1.5em;color:#0b4f86}
ul.findings li{margin:.25em 0}
table.key{font-size:.95em}table.key td{white-space:nowrap}
figure.chart{display:inline-block;margin:.4em 1em .4em 0;vertical-align:top}
img.map{max-width:100%;max-height:170mm;border:1px solid #bbb}
dl.glossary dt{font-weight:bold;margin-top:.4em}dl.glossary dd{margin-left:1.5em}
"""


def headline_html(figures: list[tuple[str, str]]) -> str:
    return '<div class="headline">' + "".join(
        f"<div>{_esc(name)}<b>{_esc(value)}</b></div>" for name, value in figures) + "</div>"


def findings_html(lines: list[str]) -> str:
    return '<ul class="findings">' + "".join(f"<li>{_esc(line)}</li>" for line in lines) + "</ul>"


def uncoverable_of(siting_summary: dict | None) -> tuple[float, float] | None:
    """(older residents no site reaches, their share) from a siting summary dict."""
    if not siting_summary:
        return None
    n, total = siting_summary.get("uncoverable_weight"), siting_summary.get("total_weight")
    if n is None or not total:
        return None
    return float(n), float(n) / float(total)


