"""The answer of a run in a few lines, in the study's language: walk coverage per district,
communities failing each norm, the floor-area gap, the proposed sites and what they add, and what
is left out (demand no site can reach, points off the network or only on a fragment).

The text comes from :data:`MESSAGES`, one catalogue per language keyed by message id; the
figures come from the stages of a :class:`eldercare_coverage.pipeline.RunResult`. The command
line prints :func:`run_summary`; a notebook can too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .pipeline import RunResult

LANGUAGES = ("zh", "en")

#: Message catalogues: the same ids in every language (tested).
MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "heading": "结果：{title}",
        "coverage": "步行 {limit:g} 分钟（{speed:g} 米/秒）范围内的老年人：{within:,} 人，占 {share}（共 {total:,} 人）。",
        "coverage_district": "  {district}：{share}（{within:,} / {total:,} 人）",
        "no_access": "未配置步行路网：未计算步行覆盖。",
        "gate_effect": "小区出入口：按 {gates} 个出入口（{hour} 时的开放情况）计，上述比例为 {with_gates}；不考虑出入口（就近上街）时为 {without}，变化 {change} 个百分点。{note}",
        "gate_note_illustrative": "输入的 {total} 个出入口中 {n} 个为示意数据（非实测）。",
        "gate_ungated": "  {n} 个小区没有已知可用的出入口，其住宅仍按就近上街计算（名单见报告）。",
        "norms_heading": "未达标的社区（共 {total} 个社区，标准：{profile}）：",
        "norm_area": "  设施建筑面积不足：{n} 个社区",
        "norm_tier": "  缺少应配置的设施层级：{n} 个社区",
        "norm_beds": "  床位不足：{n} 个社区",
        "norm_stations": "  服务站数量不足：{n} 个社区",
        "norm_capacity": "  服务能力不足：{n} 个社区",
        "norms_all_met": "  所有社区均达标。",
        "area_gap": "设施建筑面积缺口合计：{gap:,} 平方米。",
        "siting": "选址（{model}）：新增 {n} 处设施，{weight}步行覆盖率从 {before} 提高到 {after}，新增覆盖 {added:,} 人。",
        "siting_status": "  求解状态：{status}；结果可能不是最优。",
        "site": "  {name}（{id}）{tier}：经度 {lon:.6f}，纬度 {lat:.6f}{web}；新增覆盖{weight} {new:,} 人",
        "site_web": "（{system}：{lon:.6f}, {lat:.6f}）",
        "no_sites": "  没有提出新设施。",
        "left_out_heading": "未能覆盖的部分：",
        "unreachable_demand": "  任何现有设施或候选点都无法在 {limit:g} 分钟内到达的{weight}：{n:,} 人，占 {share}；即使在所有候选点都建设施，覆盖率最多为 {max_share}。",
        "off_network": "  不在路网上或只连到孤立路段的需求点（计为不可达）：{points} 个点，约 {people:,} 名老年人，分布在 {communities} 个社区：",
        "off_network_row": "    {name}（{id}）：{points} 个点（{off} 个离街道超过 {max_m:g} 米，{frag} 个只连到孤立路段），约 {people:,} 名老年人",
        "fragment_row": "    孤立路段 {nodes} 个节点 / {length:,} 米，位于经度 {lon:.5f}，纬度 {lat:.5f}，靠近{community}",
        "fragments": "  路网中有 {n} 段孤立路段（与主路网不连通），最大的几段：",
        "nothing_left_out": "  无：所有需求点都在主路网上。",
        "more": "    ……及其他 {n} 项（完整列表见 {path}）",
        "warnings": "{n} 条警告，完整列表见 {path}。",
        "outputs": "输出文件已写入：{paths}",
        "weight_elderly_population": "老年人",
        "weight_population": "居民",
        "weight_households": "户",
        "unit_households": "户",
    },
    "en": {
        "heading": "Results: {title}",
        "coverage": "Older residents within a {limit:g}-minute walk ({speed:g} m/s): {within:,}, {share} of {total:,}.",
        "coverage_district": "  {district}: {share} ({within:,} of {total:,})",
        "no_access": "No walk network configured: walk coverage was not computed.",
        "gate_effect": "Compound gates: with {gates} gates (open as at {hour}) that share is {with_gates}; without gates "
                       "(every home on its nearest street) it would be {without}, a difference of {change} "
                       "percentage points.{note}",
        "gate_note_illustrative": " {n} of the {total} gates given are illustrative (not surveyed).",
        "gate_ungated": "  {n} compounds have no known usable gate: their homes still use the nearest street (listed "
                        "in the report).",
        "norms_heading": "Communities failing a norm (of {total}; norms: {profile}):",
        "norm_area": "  too little facility floor area: {n} communities",
        "norm_tier": "  missing the facility tier they need: {n} communities",
        "norm_beds": "  too few beds: {n} communities",
        "norm_stations": "  too few service stations: {n} communities",
        "norm_capacity": "  too little service capacity: {n} communities",
        "norms_all_met": "  every community meets every norm.",
        "area_gap": "Total facility floor-area gap: {gap:,} m².",
        "siting": "Siting ({model}): {n} new sites raise the walk coverage of {weight} from {before} to {after}, "
                  "{added:,} more covered.",
        "siting_status": "  Solver status: {status}; the sites may not be optimal.",
        "site": "  {name} ({id}){tier}: lon {lon:.6f}, lat {lat:.6f}{web}; newly covers {new:,} {weight}",
        "site_web": " ({system}: {lon:.6f}, {lat:.6f})",
        "no_sites": "  No new site proposed.",
        "left_out_heading": "Left out:",
        "unreachable_demand": "  {weight} no existing facility or candidate site reaches within {limit:g} minutes: {n:,}, "
                              "{share}; even a site on every candidate covers at most {max_share}.",
        "off_network": "  Demand points off the network or only on a disconnected fragment (counted as not reached): "
                       "{points} points, about {people:,} older residents, in {communities} communities:",
        "off_network_row": "    {name} ({id}): {points} points ({off} farther than {max_m:g} m from a street, {frag} only "
                           "on a fragment), about {people:,} older residents",
        "fragment_row": "    fragment of {nodes} nodes / {length:,} m at lon {lon:.5f}, lat {lat:.5f}, near {community}",
        "fragments": "  The network has {n} disconnected fragments; the largest:",
        "nothing_left_out": "  Nothing: every demand point is on the main network.",
        "more": "    ... and {n} more (the full list is in {path})",
        "warnings": "{n} warning(s); the full list is in {path}.",
        "outputs": "Outputs written to: {paths}",
        "weight_elderly_population": "older residents",
        "weight_population": "residents",
        "weight_households": "households",
        "unit_households": "households",
    },
}

#: One name and one definition per metric, used by the summary, the report's glossary and its
#: headers (metric id -> (name, definition)); the same ids in every language (tested).
GLOSSARY: dict[str, dict[str, tuple[str, str]]] = {
    "zh": {
        "share_elderly_within": ("老年人步行覆盖率", "步行时间限制内能到达至少一处计入覆盖的社区养老服务设施的 60 岁以上老年人，占 60 岁以上老年人总数的比例。"),
        "elderly_within": ("步行范围内老年人", "步行时间限制内能到达至少一处社区养老服务设施的 60 岁以上老年人数（人）。"),
        "area_required_m2": ("应配建筑面积", "按规范计算的社区养老服务设施建筑面积（平方米），取人均、每百户和设施层级最小面积中起控制作用的一项。"),
        "area_provided_m2": ("现有建筑面积", "社区内计入的现有养老服务设施建筑面积之和（平方米）。"),
        "area_gap_m2": ("建筑面积缺口", "应配建筑面积减现有建筑面积，不小于 0（平方米）；一个社区的富余不抵消另一个社区的缺口。"),
        "new_total": ("需新建设施", "按规范的人口分档，社区还缺少的设施层级（处）。"),
        "bed_shortfall": ("床位缺口", "应有床位减现有床位，不小于 0（张）。"),
        "station_shortfall": ("服务站缺口", "按服务对象人数应有的服务站数下限减现有服务站数，不小于 0（处）。"),
        "capacity_gap": ("服务能力缺口", "服务对象人数减现有设施的服务能力，不小于 0（人）。"),
        "unreachable": ("无法覆盖的老年人", "距离所有现有设施和候选点的步行时间都超过限制的老年人；无论在哪个候选点建设施都覆盖不到。"),
        "off_network": ("不在路网上的需求点", "离最近街道超过吸附距离，或只连到与主路网不连通的孤立路段的需求点；计为不可达。"),
        "newly_covered": ("新增覆盖老年人", "因新增设施而首次进入步行时间限制内的老年人（人）。"),
    },
    "en": {
        "share_elderly_within": ("Older residents' walk coverage", "The share of residents aged 60+ who can reach at least one counted community eldercare facility within the walk time limit."),
        "elderly_within": ("Older residents within walk", "Residents aged 60+ who can reach at least one community eldercare facility within the walk time limit (persons)."),
        "area_required_m2": ("Floor area required", "The eldercare floor area a community needs under the profile (m²): the binding one of the per-resident, per-100-household and tier-minimum rules."),
        "area_provided_m2": ("Floor area provided", "The floor area of the counted existing facilities in the community (m²)."),
        "area_gap_m2": ("Floor-area gap", "Floor area required minus provided, at least 0 (m²); one community's surplus does not offset another's gap."),
        "new_total": ("New facilities needed", "Facility tiers a community still lacks under the profile's population bands (facilities)."),
        "bed_shortfall": ("Bed shortfall", "Beds required minus beds provided, at least 0."),
        "station_shortfall": ("Service station shortfall", "The fewest service stations the recipients call for minus those present, at least 0."),
        "capacity_gap": ("Service capacity gap", "Service recipients minus the capacity of the existing facilities, at least 0 (persons)."),
        "unreachable": ("Older residents no site can reach", "Older residents farther than the walk limit from every existing facility and candidate site: no choice of sites covers them."),
        "off_network": ("Demand points off the network", "Demand points farther than the snap distance from any street, or only near a fragment not connected to the main network; counted as not reached."),
        "newly_covered": ("Older residents newly covered", "Older residents who come within the walk limit because of the new sites (persons)."),
    },
}

#: Rows shown per list before "and N more".
LIST_LIMIT = 10


def message(key: str, language: str, **values: Any) -> str:
    """The catalogue text ``key`` in ``language`` (zh or en), filled with ``values``."""
    return MESSAGES[language if language in MESSAGES else "zh"][key].format(**values)


def clock(hour: float) -> str:
    """An hour of the day 0-24 as HH:MM (10.5 -> "10:30")."""
    minutes = int(round(float(hour) * 60))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def percent(share: float, language: str = "zh") -> str:
    """A share 0..1 as a whole percentage ("62%" in zh, "62 %" in en); "–" when unknown."""
    if share is None or not np.isfinite(share):
        return "–"
    return f"{share * 100:.0f}{'' if language == 'zh' else ' '}%"


def _people(value: float) -> int:
    """Whole persons (people are never fractional in what a planner reads)."""
    return int(round(float(value))) if np.isfinite(value) else 0


def run_summary(result: "RunResult", *, validation_path: str = "validation.txt") -> list[str]:
    """The summary lines of a run, in the study's language."""
    study = result.study
    cfg = study.config
    lang = cfg.study.language
    lines = [message("heading", lang, title=cfg.study.title or cfg.study.name)]
    access = result.stages.get("access")
    norms = result.stages.get("norms")
    lines += _coverage_lines(access, cfg, lang)
    lines += gate_lines(result.stages.get("gate_effect"), lang)
    if norms is not None:
        lines += _norm_lines(norms, lang)
    siting = result.stages.get("siting")
    if siting is not None:
        lines += _siting_lines(siting, result.stages.get("proposed"), cfg, lang)
    if access is not None:
        lines += _left_out_lines(access, siting, study, lang, validation_path)
    if study.report.warnings:
        lines.append(message("warnings", lang, n=len(study.report.warnings), path=validation_path))
    return lines


def _coverage_lines(access, cfg, lang: str) -> list[str]:
    if access is None:
        return [message("no_access", lang)]
    demand = access.demand
    w = demand["elderly_population"].to_numpy(dtype=float)
    w = np.nan_to_num(w)
    within = demand["within_limit"].to_numpy(dtype=bool)
    total = w.sum()
    lines = [message("coverage", lang, limit=float(cfg.access.time_limit_min), speed=cfg.walk_speed_mps,
                     within=_people(w[within].sum()), total=_people(total),
                     share=percent(w[within].sum() / total if total > 0 else np.nan, lang))]
    by = pd.DataFrame({"district": demand["district"].astype(str), "w": w, "in": np.where(within, w, 0.0)})
    for district, row in by.groupby("district", sort=True).sum().iterrows():
        lines.append(message("coverage_district", lang, district=district, within=_people(row["in"]),
                             total=_people(row["w"]), share=percent(row["in"] / row["w"] if row["w"] > 0 else np.nan, lang)))
    return lines


def gate_lines(effect: dict | None, lang: str) -> list[str]:
    """What the compound gates change (:func:`eldercare_coverage.pipeline.gate_effect`); none
    without gates."""
    if not effect:
        return []
    total = effect["table"].set_index("district").loc["(all)"]
    n_ill = effect["gates_illustrative"]
    note = message("gate_note_illustrative", lang, n=n_ill, total=effect["gates_given"]) if n_ill else ""
    lines = [message("gate_effect", lang, gates=effect["gates_used"], hour=clock(effect["gate_hour"]),
                     with_gates=f"{total['share_elderly_within'] * 100:.1f}%",
                     without=f"{total['share_elderly_within_no_gates'] * 100:.1f}%",
                     change=f"{total['change_pp']:+.1f}", note=note)]
    if len(effect["ungated"]):
        lines.append(message("gate_ungated", lang, n=len(effect["ungated"])))
    return lines


def _norm_lines(norms, lang: str) -> list[str]:
    """Communities failing each norm the profile has (rules it lacks are not listed)."""
    c = norms.communities
    profile = norms.profile
    name = getattr(profile, "title" if lang == "zh" else "title_en", "") or getattr(profile, "name", "")
    checks = [("norm_area", c.get("area_gap_m2"))]
    if "tier_required" in c and (c["tier_required"].astype(str) != "").any():
        checks.append(("norm_tier", (c["tier_required"].astype(str) != "") & ~c["tier_met"].fillna(True).astype(bool)))
    checks += [("norm_beds", c.get("bed_shortfall")), ("norm_stations", c.get("station_shortfall")),
               ("norm_capacity", c.get("capacity_gap"))]
    lines = [message("norms_heading", lang, total=len(c), profile=name)]
    failing = []
    for key, col in checks:
        if col is None:
            continue
        col = pd.Series(col)
        if col.dtype == bool:
            n = int(col.sum())
        elif col.notna().any():
            n = int((col.fillna(0) > 1e-9).sum())
        else:
            continue  # the profile has no such rule
        if n:
            failing.append(message(key, lang, n=n))
    lines += failing or [message("norms_all_met", lang)]
    if "area_gap_m2" in c:
        lines.append(message("area_gap", lang, gap=int(round(float(c["area_gap_m2"].fillna(0).sum())))))
    return lines


def _siting_lines(siting, proposed, cfg, lang: str) -> list[str]:
    weight = message(f"weight_{cfg.siting.weight}", lang)
    total = siting.total_weight
    before = float((siting.weights * siting.covered_before).sum())
    lines = [message("siting", lang, model=siting.model.upper(), n=len(siting.selected_ids), weight=weight,
                     before=percent(before / total if total else np.nan, lang),
                     after=percent(siting.covered_weight / total if total else np.nan, lang),
                     added=_people(siting.covered_weight - before))]
    if siting.status not in ("optimal",):
        lines.append(message("siting_status", lang, status=siting.status))
    if proposed is None or not len(proposed):
        return lines + [message("no_sites", lang)]
    from .schema import FACILITY_KINDS

    for row in proposed.head(LIST_LIMIT).itertuples(index=False):
        tier = str(getattr(row, "kind", "") or "")
        tier_text = FACILITY_KINDS.get(tier, {}).get(lang, tier) if tier else ""
        web = ""
        for system in ("GCJ-02", "BD-09"):
            col = system.lower().replace("-", "")
            if f"lon_{col}" in proposed.columns:
                web = message("site_web", lang, system=system, lon=getattr(row, f"lon_{col}"),
                              lat=getattr(row, f"lat_{col}"))
        lines.append(message("site", lang, name=str(getattr(row, "name", "") or row.candidate_id), id=row.candidate_id,
                             tier=(f" {tier_text}" if lang == "zh" else f", {tier_text}") if tier_text else "",
                             lon=row.lon, lat=row.lat, web=web, new=_people(row.newly_covered_weight), weight=weight))
    if len(proposed) > LIST_LIMIT:
        lines.append(message("more", lang, n=len(proposed) - LIST_LIMIT, path="proposed_sites.csv"))
    return lines


def _left_out_lines(access, siting, study, lang: str, validation_path: str) -> list[str]:
    lines = [message("left_out_heading", lang)]
    cfg = study.config
    if siting is not None and siting.total_weight:
        share = siting.uncoverable_weight / siting.total_weight
        lines.append(message("unreachable_demand", lang, weight=message(f"weight_{cfg.siting.weight}", lang),
                             limit=float(cfg.access.time_limit_min), n=_people(siting.uncoverable_weight),
                             share=percent(share, lang), max_share=percent(1.0 - share, lang)))
    lines += off_network_lines(access, study, lang, validation_path)
    return lines


def off_network_lines(access, study, lang: str, validation_path: str = "validation.txt") -> list[str]:
    """Demand points off the network or only on a fragment, per community, and the largest
    fragments located by lon/lat and the nearest community."""
    d = access.demand
    bad = d[d["off_network"].astype(bool) | d["fragment_only"].astype(bool)]
    lines = []
    if len(bad):
        names = study.communities.set_index("community_id")["name"].astype(str) \
            if "name" in study.communities else pd.Series(dtype=str)
        per = bad.assign(off=bad["off_network"].astype(int), frag=bad["fragment_only"].astype(int),
                         people=np.nan_to_num(bad["elderly_population"].to_numpy(dtype=float))) \
            .groupby("community_id").agg(points=("off", "size"), off=("off", "sum"), frag=("frag", "sum"),
                                         people=("people", "sum")).sort_values("people", ascending=False)
        lines.append(message("off_network", lang, points=len(bad), people=_people(per["people"].sum()),
                             communities=len(per)))
        for cid, row in per.head(LIST_LIMIT).iterrows():
            lines.append(message("off_network_row", lang, name=names.get(cid, cid), id=cid, points=int(row["points"]),
                                 off=int(row["off"]), frag=int(row["frag"]), people=_people(row["people"]),
                                 max_m=float(access.params.get("snap_max_m", 250.0))))
        if len(per) > LIST_LIMIT:
            lines.append(message("more", lang, n=len(per) - LIST_LIMIT, path=validation_path))
    net = access.network
    fragments = getattr(net, "fragments", None)
    if fragments is not None and len(fragments):
        lines.append(message("fragments", lang, n=len(fragments)))
        top = fragments.head(3)
        lon, lat, near = locate(top["x"].to_numpy(), top["y"].to_numpy(), study)
        for k, row in enumerate(top.itertuples()):
            lines.append(message("fragment_row", lang, nodes=int(row.nodes), length=int(round(row.length_m)),
                                 lon=lon[k], lat=lat[k], community=near[k]))
    if len(lines) == 0:
        lines.append(message("nothing_left_out", lang))
    return lines


def locate(x, y, study) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """WGS-84 lon/lat and the nearest community's name of metric points of a study."""
    import geopandas as gpd
    import shapely

    pts = gpd.GeoSeries(shapely.points(np.asarray(x, float), np.asarray(y, float)), crs=study.metric_crs)
    wgs = pts.to_crs(4326)
    comm = study.communities
    names = (comm["name"].astype(str) if "name" in comm else comm["community_id"].astype(str)).to_numpy()
    if len(comm):
        idx = shapely.STRtree(comm.geometry.to_numpy()).query_nearest(pts.to_numpy(), all_matches=False)[1]
        near = [str(names[i]) for i in idx]
    else:
        near = [""] * len(pts)
    return wgs.x.to_numpy(), wgs.y.to_numpy(), near


def coverage_curve(siting, access) -> pd.DataFrame:
    """Covered share of the siting weight as the proposed sites open one by one, each next the one
    adding most (k = 0 is today): the chart of coverage against the number of new sites.
    Columns ``new_sites``, ``candidate_id`` (the site opened at that step; "" for k = 0),
    ``covered_weight``, ``covered_share`` (0..1)."""
    w = np.asarray(siting.weights, dtype=float)
    total = float(w.sum())
    covered = np.asarray(siting.covered_before, dtype=bool).copy()
    rows_of = {str(c): i for i, c in enumerate(access.candidate_ids)}
    reach = access.candidate_matrix.tocsr()
    left = [str(s) for s in dict.fromkeys(str(x) for x in siting.selected_ids) if str(s) in rows_of]
    out = [{"new_sites": 0, "candidate_id": "", "covered_weight": float(w[covered].sum())}]
    while left:
        gains = []
        for cid in left:
            cols = reach.indices[reach.indptr[rows_of[cid]]:reach.indptr[rows_of[cid] + 1]]
            gains.append(float(w[cols][~covered[cols]].sum()))
        best = int(np.argmax(gains))
        cid = left.pop(best)
        covered[reach.indices[reach.indptr[rows_of[cid]]:reach.indptr[rows_of[cid] + 1]]] = True
        out.append({"new_sites": len(out), "candidate_id": cid, "covered_weight": float(w[covered].sum())})
    curve = pd.DataFrame(out)
    curve["covered_share"] = curve["covered_weight"] / total if total > 0 else np.nan
    return curve
