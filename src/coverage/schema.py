"""The data model: canonical column names of each layer, their units, and the names planners use.

Every loader returns GeoDataFrames with exactly these canonical columns (plus ``geometry``)
in the study's metric CRS, so every later stage can rely on them:

communities (Polygon/MultiPolygon)
    ``community_id`` str, unique; ``name`` str; ``district`` str; ``street`` str ("" if unknown);
    ``population`` float (residents); ``households`` float (NaN if unknown);
    ``elderly_population`` float (residents aged 60+, NaN if unknown);
    ``basic_service_recipients`` float (基本养老服务对象: the basic-service recipients a
    city registers, e.g. Beijing's three groups; NaN if unknown, never estimated);
    ``estate_type`` str, ``"new"``, ``"existing"`` or ``"redevelopment"`` (an existing estate
    under old-town redevelopment, 旧城改造) ("" if unknown).
facilities (Point)
    ``facility_id`` str, unique; ``name`` str; ``kind`` str (see :data:`FACILITY_KINDS`);
    ``floor_area_m2`` float (building floor area 建筑面积, m², NaN if unknown);
    ``site_area_m2`` float (land / site area 占地面积, m², NaN if unknown); ``beds`` float; ``capacity`` float (persons
    served, NaN if unknown); ``community_id`` str ("" if not assigned).
candidates (Point)
    ``candidate_id`` str, unique; ``name`` str; ``kind`` str ("" = any tier);
    ``max_floor_area_m2`` float (m², NaN if unknown); ``cost`` float (CNY, NaN if unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Facility kinds, from the highest tier down. ``tier`` orders the community service tiers:
#: a community that needs tier t is served by any facility of tier >= t.
FACILITY_KINDS: dict[str, dict] = {
    "day_care_centre": {"tier": 3, "zh": "日间照料中心", "en": "Day-care centre"},
    "service_centre": {"tier": 2, "zh": "养老服务中心", "en": "Eldercare service centre"},
    "service_station": {"tier": 1, "zh": "养老服务站", "en": "Eldercare service station"},
    "nursing_home": {"tier": 0, "zh": "养老院", "en": "Nursing home"},
    "meal_point": {"tier": 0, "zh": "助餐点", "en": "Meal point"},
    "other": {"tier": 0, "zh": "其他", "en": "Other"},
}

#: Names planners write in the ``kind`` column, mapped to canonical kinds.
KIND_ALIASES: dict[str, str] = {
    "日间照料中心": "day_care_centre", "社区日间照料中心": "day_care_centre",
    "日照中心": "day_care_centre", "day care": "day_care_centre", "day_care": "day_care_centre",
    "daycare": "day_care_centre", "day-care centre": "day_care_centre",
    "养老服务中心": "service_centre", "社区养老服务中心": "service_centre",
    "养老服务综合体": "service_centre", "居家养老服务中心": "service_centre",
    "service centre": "service_centre", "service center": "service_centre",
    "养老服务站": "service_station", "社区养老服务站": "service_station",
    "居家养老服务站": "service_station", "养老驿站": "service_station",
    "养老服务驿站": "service_station", "服务站": "service_station",
    "service station": "service_station", "station": "service_station",
    "养老院": "nursing_home", "敬老院": "nursing_home", "养老机构": "nursing_home",
    "助餐点": "meal_point", "老年食堂": "meal_point", "长者食堂": "meal_point",
    "其他": "other",
}


def canonical_kind(value: object) -> str | None:
    """Canonical facility kind for a user's label, or None when it is not recognised."""
    if value is None:
        return None
    text = str(value).strip()
    if text in FACILITY_KINDS:
        return text
    return KIND_ALIASES.get(text) or KIND_ALIASES.get(text.lower())


@dataclass(frozen=True)
class Column:
    """One canonical column: its type, whether it is required, and the user names it may have."""

    name: str
    dtype: str  # "str", "float", "estate"
    required: bool
    aliases: tuple[str, ...]
    unit: str = ""


COMMUNITY_COLUMNS: tuple[Column, ...] = (
    Column("community_id", "str", True, ("id", "社区编码", "社区代码", "社区id", "小区编码", "编码", "编号", "code")),
    Column("name", "str", False, ("名称", "社区名称", "小区名称", "社区", "小区", "name:zh")),
    Column("district", "str", False, ("区", "区县", "所属区", "行政区", "区域")),
    Column("street", "str", False, ("街道", "所属街道", "乡镇街道", "街道办")),
    Column("population", "float", True, ("人口", "常住人口", "总人口", "居民人数", "residents", "pop"), "persons"),
    Column("households", "float", False, ("户数", "总户数", "住户数", "hh"), "households"),
    Column("elderly_population", "float", False,
           ("60岁以上人口", "老年人口", "60岁及以上人口", "老年人数", "elderly", "older_residents"), "persons"),
    Column("basic_service_recipients", "float", False,
           ("基本养老服务对象", "基本养老服务对象数", "基本养老服务对象人数", "recipients"), "persons"),
    Column("estate_type", "estate", False, ("小区类型", "新旧", "新建或既有", "estate")),
)

FACILITY_COLUMNS: tuple[Column, ...] = (
    Column("facility_id", "str", True, ("id", "设施编码", "编号", "编码", "code")),
    Column("name", "str", False, ("名称", "设施名称", "机构名称")),
    Column("kind", "kind", True, ("类型", "设施类型", "等级", "tier", "type")),
    Column("floor_area_m2", "float", False, ("建筑面积", "面积", "建筑面积(m2)", "建筑面积（㎡）", "floor_area"), "m²"),
    Column("site_area_m2", "float", False, ("占地面积", "用地面积", "占地面积(m2)", "占地面积（㎡）", "site_area"), "m²"),
    Column("beds", "float", False, ("床位", "床位数", "床位(张)"), "beds"),
    Column("capacity", "float", False, ("服务能力", "服务人数", "容量"), "persons"),
    Column("community_id", "str", False, ("所属社区编码", "社区编码", "所属社区")),
)

CANDIDATE_COLUMNS: tuple[Column, ...] = (
    Column("candidate_id", "str", True, ("id", "候选点编码", "编号", "编码", "code")),
    Column("name", "str", False, ("名称", "地点", "地址")),
    Column("kind", "kind_or_any", False, ("类型", "设施类型", "等级", "tier")),
    Column("max_floor_area_m2", "float", False, ("可用面积", "最大面积", "面积", "max_floor_area"), "m²"),
    Column("cost", "float", False, ("成本", "费用", "造价", "建设费用"), "CNY"),
)

#: Columns of a separate population table joined to communities.
POPULATION_COLUMNS: tuple[Column, ...] = tuple(
    c for c in COMMUNITY_COLUMNS
    if c.name in ("community_id", "name", "population", "households", "elderly_population",
                  "basic_service_recipients", "street", "district", "estate_type")
)

LAYER_COLUMNS: dict[str, tuple[Column, ...]] = {
    "communities": COMMUNITY_COLUMNS,
    "facilities": FACILITY_COLUMNS,
    "candidates": CANDIDATE_COLUMNS,
    "population": POPULATION_COLUMNS,
}

ESTATE_ALIASES: dict[str, str] = {
    "new": "new", "新建": "new", "新": "new", "新建小区": "new", "新区": "new",
    "existing": "existing", "既有": "existing", "旧": "existing", "老旧": "existing",
    "老旧小区": "existing", "已建成": "existing", "old": "existing", "已建": "existing",
    "redevelopment": "redevelopment", "旧城改造": "redevelopment", "旧改": "redevelopment",
    "改造": "redevelopment", "改造小区": "redevelopment",
}
