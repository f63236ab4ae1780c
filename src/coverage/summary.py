"""The answer of a run in a few lines, in the study's language: walk coverage per district,
communities failing each norm, the floor-area gap, the proposed sites and what they add, and what
is left out (demand no site can reach, points off the network or only on a fragment).

The text comes from the catalogues of :mod:`eldercare_coverage.messages` (ids ``summary.*``); the
figures come from the stages of a :class:`eldercare_coverage.pipeline.RunResult`. The command
line prints :func:`run_summary`; a notebook can too.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .gate_effect import TOTAL as GATE_TOTAL
from .messages import LANGUAGES, LIST_LIMIT, text  # noqa: F401  (LANGUAGES: public)

#: Siting weights -> the label of what they count (one label source for the summary and the report).
WEIGHT_LABELS = {"elderly_population": "summary.weight_elderly_population",
                 "population": "summary.weight_population", "households": "summary.weight_households"}


def weight_label(weight: str, language: str) -> str:
    """What a siting weight counts ("older residents", "residents", "households") in ``language``."""
    return text(WEIGHT_LABELS.get(weight, "summary.weight_elderly_population"), language)


def weight_unit(weight: str, language: str) -> str:
    """The unit of a siting weight's count ("人" or "户" in zh; empty in en, where the label is the noun)."""
    return text("summary.unit_households" if weight == "households" else "summary.unit_persons", language)


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


def run_summary(result: Any, *, validation_path: str = "validation.txt") -> list[str]:
    """The summary lines of a run, in the study's language."""
    study = result.study
    cfg = study.config
    lang = cfg.study.language
    lines = [text("summary.heading", lang, title=cfg.study.title or cfg.study.name)]
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
        lines.append(text("summary.warnings", lang, n=len(study.report.warnings), path=validation_path))
    return lines


def _coverage_lines(access, cfg, lang: str) -> list[str]:
    if access is None:
        return [text("summary.no_access", lang)]
    demand = access.demand
    w = demand["elderly_population"].to_numpy(dtype=float)
    w = np.nan_to_num(w)
    within = demand["within_limit"].to_numpy(dtype=bool)
    total = w.sum()
    lines = [text("summary.coverage", lang, limit=float(cfg.access.time_limit_min), speed=cfg.walk_speed_mps,
                     within=_people(w[within].sum()), total=_people(total),
                     share=percent(w[within].sum() / total if total > 0 else np.nan, lang))]
    by = pd.DataFrame({"district": demand["district"].astype(str), "w": w, "in": np.where(within, w, 0.0)})
    for district, row in by.groupby("district", sort=True).sum().iterrows():
        lines.append(text("summary.coverage_district", lang, district=district, within=_people(row["in"]),
                             total=_people(row["w"]), share=percent(row["in"] / row["w"] if row["w"] > 0 else np.nan, lang)))
    return lines


def gate_lines(effect: dict | None, lang: str) -> list[str]:
    """What the compound gates change (:func:`eldercare_coverage.pipeline.gate_effect`); none
    without gates."""
    if not effect:
        return []
    total = effect["table"].set_index("district").loc[GATE_TOTAL]
    n_ill = effect["gates_illustrative"]
    note = text("summary.gate_note_illustrative", lang, n=n_ill, total=effect["gates_given"]) if n_ill else ""
    lines = [text("summary.gate_effect", lang, gates=effect["gates_used"], hour=clock(effect["gate_hour"]),
                     with_gates=f"{total['share_elderly_within'] * 100:.1f}%",
                     without=f"{total['share_elderly_within_no_gates'] * 100:.1f}%",
                     change=f"{total['change_pp']:+.1f}", note=note)]
    if len(effect["ungated"]):
        lines.append(text("summary.gate_ungated", lang, n=len(effect["ungated"])))
    return lines


def _norm_lines(norms, lang: str) -> list[str]:
    """Communities failing each norm the profile has (rules it lacks are not listed)."""
    c = norms.communities
    profile = norms.profile
    name = getattr(profile, "title" if lang == "zh" else "title_en", "") or getattr(profile, "name", "")
    checks = [("summary.norm_area", c.get("area_gap_m2"))]
    if "tier_required" in c and (c["tier_required"].astype(str) != "").any():
        checks.append(("summary.norm_tier", (c["tier_required"].astype(str) != "") & ~c["tier_met"].fillna(True).astype(bool)))
    checks += [("summary.norm_beds", c.get("bed_shortfall")), ("summary.norm_stations", c.get("station_shortfall")),
               ("summary.norm_capacity", c.get("capacity_gap"))]
    lines = [text("summary.norms_heading", lang, total=len(c), profile=name)]
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
            failing.append(text(key, lang, n=n))
    lines += failing or [text("summary.norms_all_met", lang)]
    if "area_gap_m2" in c:
        lines.append(text("summary.area_gap", lang, gap=int(round(float(c["area_gap_m2"].fillna(0).sum())))))
    return lines


def _siting_lines(siting, proposed, cfg, lang: str) -> list[str]:
    weight = weight_label(cfg.siting.weight, lang)
    total = siting.total_weight
    before = float((siting.weights * siting.covered_before).sum())
    unit = weight_unit(cfg.siting.weight, lang)
    lines = [text("summary.siting", lang, model=siting.model.upper(), n=len(siting.selected_ids), weight=weight, unit=unit,
                     before=percent(before / total if total else np.nan, lang),
                     after=percent(siting.covered_weight / total if total else np.nan, lang),
                     added=_people(siting.covered_weight - before))]
    if siting.status not in ("optimal",):
        lines.append(text("summary.siting_status", lang, status=siting.status))
    if proposed is None or not len(proposed):
        return lines + [text("summary.no_sites", lang)]
    from .schema import FACILITY_KINDS

    for row in proposed.head(LIST_LIMIT).itertuples(index=False):
        tier = str(getattr(row, "kind", "") or "")
        tier_text = FACILITY_KINDS.get(tier, {}).get(lang, tier) if tier else ""
        web = ""
        for system in ("GCJ-02", "BD-09"):
            col = system.lower().replace("-", "")
            if f"lon_{col}" in proposed.columns:
                web = text("summary.site_web", lang, system=system, lon=getattr(row, f"lon_{col}"),
                              lat=getattr(row, f"lat_{col}"))
        lines.append(text("summary.site", lang, name=str(getattr(row, "name", "") or row.candidate_id), id=row.candidate_id,
                             tier=(f" {tier_text}" if lang == "zh" else f", {tier_text}") if tier_text else "",
                             lon=row.lon, lat=row.lat, web=web, new=_people(row.newly_covered_weight), weight=weight,
                             unit=unit))
    if len(proposed) > LIST_LIMIT:
        lines.append(text("summary.more", lang, n=len(proposed) - LIST_LIMIT, path="proposed_sites.csv"))
    return lines


def _left_out_lines(access, siting, study, lang: str, validation_path: str) -> list[str]:
    lines = [text("summary.left_out_heading", lang)]
    cfg = study.config
    if siting is not None and siting.total_weight:
        share = siting.uncoverable_weight / siting.total_weight
        lines.append(text("summary.unreachable_demand", lang, weight=weight_label(cfg.siting.weight, lang),
                          unit=weight_unit(cfg.siting.weight, lang),
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
        lines.append(text("summary.off_network", lang, points=len(bad), people=_people(per["people"].sum()),
                             communities=len(per)))
        for cid, row in per.head(LIST_LIMIT).iterrows():
            lines.append(text("summary.off_network_row", lang, name=names.get(cid, cid), id=cid, points=int(row["points"]),
                                 off=int(row["off"]), frag=int(row["frag"]), people=_people(row["people"]),
                                 max_m=float(access.params.get("snap_max_m", 250.0))))
        if len(per) > LIST_LIMIT:
            lines.append(text("summary.more", lang, n=len(per) - LIST_LIMIT, path=validation_path))
    net = access.network
    fragments = getattr(net, "fragments", None)
    if fragments is not None and len(fragments):
        lines.append(text("summary.fragments", lang, n=len(fragments)))
        top = fragments.head(3)
        lon, lat, near = locate(top["x"].to_numpy(), top["y"].to_numpy(), study)
        for k, row in enumerate(top.itertuples()):
            lines.append(text("summary.fragment_row", lang, nodes=int(row.nodes), length=int(round(row.length_m)),
                                 lon=lon[k], lat=lat[k], community=near[k]))
    if len(lines) == 0:
        lines.append(text("summary.nothing_left_out", lang))
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
