"""Norm profiles (shipped as TOML data) and the per-community and per-district norm checks.

A *profile* holds the planning rules of one source document: floor area per resident and per
100 households, the facility tier a community's population calls for (with floor areas, beds
and subsidies), the walk limit, and service capacity per facility. Profiles live in
``coverage/profiles/<name>.toml``; a planner's own TOML file may ``extends = "<name>"`` and
override any number. Every figure remembers which profile (or file) it came from, so each
requirement in the output names the rule that produced it, e.g.
``"baoji: tiers.day_care_centre.min_population = 10000"``.

Population bands: a tier's ``min_population`` is inclusive and the band runs up to the next
tier's threshold, exclusive. With the Baoji figures a community of exactly 10,000 residents
needs a day-care centre, exactly 5,000 a service centre, 4,999 a service station.

Units: areas in m², populations in persons, money in CNY, times in minutes, speeds in m/s.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import tomllib

from .errors import InputError, ProblemReport
from .schema import FACILITY_KINDS

#: Tiered kinds, highest first; their ``new_*`` / ``communities_band_*`` columns are always present.
TIER_KINDS: tuple[str, ...] = ("day_care_centre", "service_centre", "service_station")
#: Kinds whose floor area counts as community eldercare service space unless a profile says
#: otherwise. Nursing homes are institutional care, planned separately, so they are left out.
DEFAULT_AREA_KINDS: tuple[str, ...] = ("day_care_centre", "service_centre", "service_station",
                                       "meal_point", "other")
ESTATE_TYPES = ("new", "existing", "unknown")

# Allowed keys per section: key -> (kind, constraint). Kinds: "text", "number", "int",
# "bool", "kinds" (list of facility kinds), "estates" (list of estate types), "choice:a|b".
_TOP = {"name": "text", "title": "text", "title_en": "text", "extends": "text"}
_SECTIONS: dict[str, dict[str, str]] = {
    "source": {"document": "text", "document_en": "text", "clause": "text", "clause_en": "text",
               "note": "text", "url": "text"},
    "access": {"time_limit_min": "number>0", "walk_speed_mps": "speed", "service_radius_m": "number>0"},
    "area": {"per_resident_m2": "number>=0", "per_resident_estate_types": "estates",
             "per_100_households_new_m2": "number>=0", "per_100_households_existing_m2": "number>=0",
             "unknown_estate_type": "choice:new|existing|none", "facility_kinds": "kinds"},
    "service_capacity": {"kinds": "kinds", "recipients_per_facility_min": "number>0",
                         "recipients_per_facility_max": "number>0",
                         "recipient_base": "choice:elderly_population|population|households",
                         "recipient_share": "share"},
}
_TIER_KEYS = {"enabled": "bool", "min_population": "number>=0", "min_floor_area_m2": "number>=0",
              "max_floor_area_m2": "number>=0", "max_shared_area_m2": "number>=0",
              "min_beds": "number>=0", "build_subsidy_cny": "number>=0",
              "build_subsidy_extra_cny": "number>=0", "operating_subsidy_cny_per_year": "number>=0"}


@dataclass(frozen=True)
class TierRule:
    """What one facility tier must offer and what building or running one is subsidised with."""

    kind: str
    min_population: float | None = None  # inclusive lower bound of the band (persons)
    min_floor_area_m2: float | None = None
    max_floor_area_m2: float | None = None
    max_shared_area_m2: float | None = None
    min_beds: float | None = None
    build_subsidy_cny: float | None = None
    build_subsidy_extra_cny: float | None = None  # the minimum top-up on the base subsidy
    operating_subsidy_cny_per_year: float | None = None

    @property
    def rank(self) -> int:
        return FACILITY_KINDS[self.kind]["tier"]

    @property
    def build_cost_cny(self) -> float | None:
        """Build subsidy counted per new facility: base + minimum top-up (CNY)."""
        if self.build_subsidy_cny is None and self.build_subsidy_extra_cny is None:
            return None
        return (self.build_subsidy_cny or 0.0) + (self.build_subsidy_extra_cny or 0.0)


@dataclass(frozen=True)
class NormProfile:
    """A resolved profile: every figure plus the profile/file each one came from (``origin``)."""

    name: str
    title: str = ""
    title_en: str = ""
    source: dict[str, str] = field(default_factory=dict)
    #: Profiles/files this one was built from, base first (e.g. ``("baoji", "mine.toml")``).
    chain: tuple[str, ...] = ()
    #: Source section of each profile in the chain, keyed like ``chain``.
    sources: dict[str, dict[str, str]] = field(default_factory=dict)
    time_limit_min: float | None = None
    walk_speed_mps: float | None = None
    service_radius_m: float | None = None
    per_resident_m2: float | None = None
    per_resident_estate_types: tuple[str, ...] = ESTATE_TYPES
    per_100_households_new_m2: float | None = None
    per_100_households_existing_m2: float | None = None
    unknown_estate_type: str = "existing"
    area_kinds: tuple[str, ...] = DEFAULT_AREA_KINDS
    #: Tier rules, highest tier first.
    tiers: tuple[TierRule, ...] = ()
    capacity_kinds: tuple[str, ...] = ()
    recipients_per_facility_min: float | None = None
    recipients_per_facility_max: float | None = None
    recipient_base: str = "elderly_population"
    recipient_share: float = 1.0
    #: Flat key ("area.per_resident_m2") -> (value, origin) for every figure that was set.
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)

    def rule(self, key: str) -> str:
        """Rule label for a key, naming where its value came from: ``"national: key = value"``."""
        value, origin = self.values[key]
        return f"{origin}: {key} = {_fmt(value)}"

    def tier(self, kind: str) -> TierRule | None:
        return next((t for t in self.tiers if t.kind == kind), None)

    @property
    def bands(self) -> tuple[TierRule, ...]:
        """Tiers that take part in population banding, highest threshold first."""
        return tuple(t for t in self.tiers if t.min_population is not None)

    @property
    def has_capacity_rule(self) -> bool:
        return self.recipients_per_facility_max is not None

    def walk_limit_min(self, walk_speed_mps: float | None = None) -> float | None:
        """Walk time limit (minutes): ``time_limit_min``, or the service radius (m) walked at
        ``walk_speed_mps`` (default: the profile's speed) when the profile states a radius."""
        speed = walk_speed_mps or self.walk_speed_mps
        if self.service_radius_m is not None and speed:
            return self.service_radius_m / speed / 60.0
        return self.time_limit_min

    def band_label(self, kind: str, language: str = "zh") -> str:
        """Population band of a tier, e.g. ``"5000≤人口<10000"`` (bounds: lower inclusive)."""
        bands = self.bands
        tier = self.tier(kind)
        if tier is None or tier.min_population is None:
            return ""
        higher = [t.min_population for t in bands if t.min_population > tier.min_population]
        upper = min(higher) if higher else None
        word = "人口" if language == "zh" else "population"
        lo, hi = _fmt(tier.min_population), _fmt(upper) if upper is not None else ""
        if upper is None:
            return f"{word}≥{lo}"
        if tier.min_population <= 0:
            return f"{word}<{hi}"
        return f"{lo}≤{word}<{hi}"

    def rules_table(self) -> pd.DataFrame:
        """One row per figure in force: rule label, key, value, origin, source document and clause."""
        rows = []
        for key, (value, origin) in self.values.items():
            if key.startswith("source.") or key in _TOP:
                continue
            src = self.sources.get(origin, {})
            rows.append({"rule": self.rule(key), "key": key, "value": _fmt(value), "origin": origin,
                         "description_zh": _describe(key, "zh"), "description_en": _describe(key, "en"),
                         "source_document": src.get("document", ""), "source_clause": src.get("clause", "")})
        return pd.DataFrame(rows, columns=["rule", "key", "value", "origin", "description_zh",
                                           "description_en", "source_document", "source_clause"])


# ---------------------------------------------------------------------------------------------
# Loading profiles


def _profiles_dir():
    return resources.files("eldercare_coverage").joinpath("profiles")


def shipped_profile_names() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.name[:-5] for p in _profiles_dir().iterdir() if p.name.endswith(".toml"))


def list_profiles() -> pd.DataFrame:
    """The shipped profiles: name, title (zh/en), what they extend, source document and clause."""
    rows = []
    for name in shipped_profile_names():
        raw = _read_toml(_profiles_dir().joinpath(f"{name}.toml"), f"{name}.toml")
        src = raw.get("source", {})
        rows.append({"name": name, "title": raw.get("title", ""), "title_en": raw.get("title_en", ""),
                     "extends": raw.get("extends", ""), "source_document": src.get("document", ""),
                     "source_document_en": src.get("document_en", ""),
                     "clause": src.get("clause", ""), "clause_en": src.get("clause_en", "")})
    return pd.DataFrame(rows)


def load_profile(name: str = "national", user_file: str | Path | None = None) -> NormProfile:
    """Resolve a shipped profile, optionally extended by a user TOML file.

    With ``user_file``, the file's ``extends`` (default: ``name``) picks the base profile and
    its keys override the base's. Raises :class:`~eldercare_coverage.errors.InputError` naming the file,
    the key and a fix for an unknown profile, unknown key, wrong type or inconsistent figures.
    """
    report = ProblemReport()
    layers: list[tuple[str, dict]] = []  # (origin, raw), user file last
    if user_file is not None:
        path = Path(user_file)
        raw = _read_toml(path, str(path))
        _validate_raw(raw, str(path), report)
        report.raise_if_errors()
        base = raw.get("extends") or name
        layers.append((path.name, raw))
        name = base
    seen: set[str] = set()
    current: str | None = name
    while current:
        if current in seen:
            report.error(layers[-1][0] if layers else f"{current}.toml",
                         f"profile '{current}' extends itself through a cycle.",
                         "Remove one 'extends' from the chain.", field="extends")
            report.raise_if_errors()
        seen.add(current)
        if current not in shipped_profile_names():
            file = str(user_file) if user_file is not None else "norms.profile"
            report.error(file, f"unknown norm profile '{current}'.",
                         f"Use one of: {', '.join(shipped_profile_names())} "
                         "(see `eldercare-coverage profiles`).", field="extends" if user_file else "profile")
            report.raise_if_errors()
        raw = _read_toml(_profiles_dir().joinpath(f"{current}.toml"), f"{current}.toml")
        _validate_raw(raw, f"{current}.toml", report)
        layers.append((current, raw))
        current = raw.get("extends") or None
    report.raise_if_errors()
    layers.reverse()  # base first
    values: dict[str, tuple[Any, str]] = {}
    sources: dict[str, dict[str, str]] = {}
    for origin, raw in layers:
        for key, value in _flatten(raw).items():
            if key in ("extends", "name"):
                continue
            values[key] = (value, origin)
        sources[origin] = dict(raw.get("source", {}))
        if origin != layers[-1][0] or user_file is None:
            continue
        # A user file without a [source] is still named as the source of the figures it sets.
        sources[origin].setdefault("document", f"用户规范文件 / user profile file: {user_file}")
    profile = _build_profile(layers[-1][1].get("name") or layers[-1][0], values, sources,
                             tuple(o for o, _ in layers), report, layers[-1][0])
    report.raise_if_errors()
    return profile


def _read_toml(resource, label: str) -> dict:
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("norm profile file not found.", label,
                         "Check the path given as [norms] profile_file.") from None
    except UnicodeDecodeError:
        raise InputError("norm profile is not UTF-8 text.", label, "Save the file as UTF-8.") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}.", label,
                         "Correct the TOML syntax (quotes around text, [section] headers, "
                         "numbers without units).") from None


def _flatten(raw: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _unknown(report: ProblemReport, file: str, key: str, known) -> None:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(known), n=1)
    hint = f"Did you mean '{close[0]}'? " if close else ""
    report.error(file, f"unknown key '{key}'.",
                 f"{hint}Remove it or correct its spelling; known keys here: {', '.join(sorted(known))}.",
                 field=key)


def _validate_raw(raw: dict, file: str, report: ProblemReport) -> None:
    """Check every key and value of one profile file (not yet merged)."""
    for key, value in raw.items():
        if key in _TOP:
            _check_value(value, "text", key, file, report)
        elif key == "tiers":
            if not isinstance(value, dict):
                report.error(file, "'tiers' must be a table of [tiers.<kind>] sections.",
                             "Write e.g. [tiers.day_care_centre] with min_population = 10000.", field="tiers")
                continue
            for kind, body in value.items():
                if kind not in FACILITY_KINDS or FACILITY_KINDS[kind]["tier"] < 1:
                    report.error(file, f"unknown tier '{kind}'.",
                                 f"Use one of: {', '.join(TIER_KINDS)}.", field=f"tiers.{kind}")
                    continue
                if not isinstance(body, dict):
                    report.error(file, f"'tiers.{kind}' must be a table.",
                                 f"Write [tiers.{kind}] followed by its keys.", field=f"tiers.{kind}")
                    continue
                for k, v in body.items():
                    if k not in _TIER_KEYS:
                        _unknown(report, file, f"tiers.{kind}.{k}", _TIER_KEYS)
                    else:
                        _check_value(v, _TIER_KEYS[k], f"tiers.{kind}.{k}", file, report)
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                report.error(file, f"'{key}' must be a table.", f"Write [{key}] followed by its keys.",
                             field=key)
                continue
            for k, v in value.items():
                if k not in _SECTIONS[key]:
                    _unknown(report, file, f"{key}.{k}", _SECTIONS[key])
                else:
                    _check_value(v, _SECTIONS[key][k], f"{key}.{k}", file, report)
        else:
            _unknown(report, file, key, list(_TOP) + list(_SECTIONS) + ["tiers"])


def _check_value(value: Any, kind: str, key: str, file: str, report: ProblemReport) -> None:
    def bad(expected: str, fix: str) -> None:
        report.error(file, f"key '{key}' has the value {value!r}; expected {expected}.", fix, field=key)

    is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "text":
        if not isinstance(value, str):
            bad("text", f'Write it in quotes, e.g. {key.rsplit(".", 1)[-1]} = "…".')
    elif kind == "bool":
        if not isinstance(value, bool):
            bad("true or false", "Write true or false without quotes.")
    elif kind in ("number>0", "number>=0", "speed", "share"):
        if not is_num or math.isnan(value) or math.isinf(value):
            bad("a number", f"Write a plain number without quotes or units, e.g. {key.rsplit('.', 1)[-1]} = 0.1.")
        elif kind == "number>0" and value <= 0:
            bad("a number above 0", "Give a positive number.")
        elif kind == "number>=0" and value < 0:
            bad("a number of 0 or more", "Give 0 (rule not applied) or a positive number.")
        elif kind == "speed" and not 0.1 <= value <= 3.0:
            bad("a walking speed between 0.1 and 3.0 m/s", "Give metres per second, e.g. 0.9.")
        elif kind == "share" and not 0 < value <= 1:
            bad("a share above 0 and at most 1", "Give a fraction, e.g. 0.15 for 15 %.")
    elif kind.startswith("choice:"):
        options = kind[7:].split("|")
        if value not in options:
            bad(" or ".join(f'"{o}"' for o in options), f'Write one of {", ".join(options)} in quotes.')
    elif kind in ("kinds", "estates"):
        allowed = list(FACILITY_KINDS) if kind == "kinds" else list(ESTATE_TYPES)
        if not isinstance(value, list) or any(v not in allowed for v in value):
            bad(f"a list drawn from {allowed}", f'Write e.g. {key.rsplit(".", 1)[-1]} = ["{allowed[0]}"].')


def _build_profile(name: str, values: dict[str, tuple[Any, str]], sources: dict[str, dict[str, str]],
                   chain: tuple[str, ...], report: ProblemReport, file: str) -> NormProfile:
    def num(key: str) -> float | None:
        v = values.get(key)
        return None if v is None else float(v[0])

    def positive(key: str) -> float | None:
        # 0 switches an area rule off: it would require nothing, so it is not reported as a rule.
        v = num(key)
        return v if v else None

    for key in [k for k, (v, _) in values.items() if k.startswith("area.per_") and v == 0]:
        del values[key]
    tiers = []
    for kind in TIER_KINDS:
        p = f"tiers.{kind}."
        if not any(k.startswith(p) for k in values):
            continue
        if values.get(p + "enabled", (True, ""))[0] is False:
            for k in [k for k in values if k.startswith(p)]:
                del values[k]
            continue
        tiers.append(TierRule(kind, *(num(p + k) for k in (
            "min_population", "min_floor_area_m2", "max_floor_area_m2", "max_shared_area_m2", "min_beds",
            "build_subsidy_cny", "build_subsidy_extra_cny", "operating_subsidy_cny_per_year"))))
    tiers.sort(key=lambda t: -t.rank)
    banded = [t for t in tiers if t.min_population is not None]
    for hi, lo in zip(banded, banded[1:]):
        if hi.min_population <= lo.min_population:
            report.error(file, f"tiers.{hi.kind}.min_population ({_fmt(hi.min_population)}) is not above "
                         f"tiers.{lo.kind}.min_population ({_fmt(lo.min_population)}).",
                         "A higher tier must start at a larger population; correct one of the two.",
                         field=f"tiers.{hi.kind}.min_population")
    for t in tiers:
        if t.min_floor_area_m2 and t.max_floor_area_m2 and t.min_floor_area_m2 > t.max_floor_area_m2:
            report.error(file, f"tiers.{t.kind}: min_floor_area_m2 is above max_floor_area_m2.",
                         "Swap or correct the two figures.", field=f"tiers.{t.kind}.min_floor_area_m2")
    rmin, rmax = num("service_capacity.recipients_per_facility_min"), num("service_capacity.recipients_per_facility_max")
    if rmin is not None and rmax is None:
        rmax = rmin
    if rmax is not None and rmin is None:
        rmin = rmax
    if rmin and rmax and rmin > rmax:
        report.error(file, "service_capacity.recipients_per_facility_min is above recipients_per_facility_max.",
                     "Swap or correct the two figures.", field="service_capacity.recipients_per_facility_min")
    if "access.time_limit_min" not in values and "access.service_radius_m" not in values:
        report.error(file, "the profile sets neither access.time_limit_min nor access.service_radius_m.",
                     "Add [access] time_limit_min = 15 (or extend a shipped profile).", field="access")

    def get(key: str, default: Any) -> Any:
        return values[key][0] if key in values else default

    top = {k: v for k, (v, _) in values.items()}
    return NormProfile(
        name=name, title=top.get("title", ""), title_en=top.get("title_en", ""),
        source=dict(sources.get(chain[-1], {})), chain=chain, sources=sources,
        time_limit_min=num("access.time_limit_min"), walk_speed_mps=num("access.walk_speed_mps"),
        service_radius_m=num("access.service_radius_m"),
        per_resident_m2=positive("area.per_resident_m2"),
        per_resident_estate_types=tuple(get("area.per_resident_estate_types", ESTATE_TYPES)),
        per_100_households_new_m2=positive("area.per_100_households_new_m2"),
        per_100_households_existing_m2=positive("area.per_100_households_existing_m2"),
        unknown_estate_type=get("area.unknown_estate_type", "existing"),
        area_kinds=tuple(get("area.facility_kinds", DEFAULT_AREA_KINDS)),
        tiers=tuple(tiers),
        capacity_kinds=tuple(get("service_capacity.kinds", ("service_station",))),
        recipients_per_facility_min=rmin, recipients_per_facility_max=rmax,
        recipient_base=get("service_capacity.recipient_base", "elderly_population"),
        recipient_share=float(get("service_capacity.recipient_share", 1.0)),
        values=values,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "access.time_limit_min": ("步行时间上限（分钟）", "walk time limit (minutes)"),
    "access.walk_speed_mps": ("老年人步行速度（米/秒）", "walking speed of older people (m/s)"),
    "access.service_radius_m": ("服务半径（米），按步行速度折算为时间", "service radius (m), walked at the walking speed"),
    "area.per_resident_m2": ("每位居民所需养老服务设施建筑面积（平方米）", "floor area required per resident (m²)"),
    "area.per_resident_estate_types": ("人均面积标准适用的小区类型", "estate types the per-resident rule applies to"),
    "area.per_100_households_new_m2": ("新建小区每百户所需建筑面积（平方米）", "floor area per 100 households, new estates (m²)"),
    "area.per_100_households_existing_m2": ("既有小区每百户所需建筑面积（平方米）", "floor area per 100 households, existing estates (m²)"),
    "area.unknown_estate_type": ("小区类型未知时按此类型计算", "estate type assumed when unknown"),
    "area.facility_kinds": ("计入已建面积的设施类型", "facility kinds whose floor area counts as provided"),
    "service_capacity.kinds": ("按服务对象配置的设施类型", "facility kinds counted against recipients"),
    "service_capacity.recipients_per_facility_min": ("每个设施服务对象下限（人）", "recipients per facility, lower figure"),
    "service_capacity.recipients_per_facility_max": ("每个设施服务对象上限（人）", "recipients per facility, upper figure"),
    "service_capacity.recipient_base": ("服务对象的计算基数", "column the recipients are estimated from"),
    "service_capacity.recipient_share": ("服务对象占基数的比例", "share of that column who are recipients"),
}
_TIER_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "enabled": ("是否启用该层级", "tier enabled"),
    "min_population": ("该层级适用的社区人口下限（含）", "community population from which this tier is required (inclusive)"),
    "min_floor_area_m2": ("最小建筑面积（平方米）", "minimum floor area (m²)"),
    "max_floor_area_m2": ("最大建筑面积（平方米）", "maximum floor area (m²)"),
    "max_shared_area_m2": ("共享面积上限（平方米）", "maximum shared floor area (m²)"),
    "min_beds": ("最少床位（张）", "minimum beds"),
    "build_subsidy_cny": ("建设补助（元）", "build subsidy (CNY)"),
    "build_subsidy_extra_cny": ("建设补助追加下限（元）", "minimum build subsidy top-up (CNY)"),
    "operating_subsidy_cny_per_year": ("运营补贴（元/年）", "operating subsidy (CNY per year)"),
}


def _describe(key: str, language: str) -> str:
    i = 0 if language == "zh" else 1
    if key.startswith("tiers."):
        _, kind, sub = key.split(".", 2)
        label = FACILITY_KINDS.get(kind, {}).get("zh" if i == 0 else "en", kind)
        return f"{label}：{_TIER_DESCRIPTIONS[sub][0]}" if i == 0 else f"{label}: {_TIER_DESCRIPTIONS[sub][1]}"
    return _DESCRIPTIONS.get(key, (key, key))[i]


# ---------------------------------------------------------------------------------------------
# Facilities to communities


def assign_facilities(communities: pd.DataFrame, facilities: pd.DataFrame) -> pd.DataFrame:
    """Which community each facility belongs to, and how that was decided.

    A non-empty ``community_id`` on the facility that names an existing community wins
    (``assigned_by = "community_id"``). Otherwise the community polygon containing the
    facility's point is used (``"polygon"``; on a shared boundary the first community in input
    order). Facilities in no community keep ``community_id = ""`` and ``assigned_by = "none"``:
    they are counted in the roll-up's ``no_community`` row and listed in the reports, never
    dropped. Returns one row per facility with ``facility_id, assigned_community_id,
    assigned_by, note``.
    """
    ids = communities["community_id"].astype(str).to_numpy()
    n = len(facilities)
    own = (facilities["community_id"].fillna("").astype(str).str.strip().to_numpy()
           if "community_id" in facilities else np.full(n, "", dtype=object))
    known = np.isin(own, ids)
    assigned = np.where(known, own, "").astype(object)
    by = np.where(known, "community_id", "none").astype(object)
    note = np.where((own != "") & ~known, "community_id '" + own.astype(str) + "' not found", "").astype(object)
    todo = np.flatnonzero(~known)
    if len(todo) and len(communities):
        geoms = facilities.geometry.iloc[todo]
        # Polygons given as facilities are placed at a point guaranteed inside them.
        pts = geoms.where(geoms.geom_type == "Point", geoms.representative_point())
        hit_pt, hit_com = communities.sindex.query(pts.to_numpy(), predicate="intersects")
        order = np.lexsort((hit_com, hit_pt))  # first community (input order) per point
        hit_pt, hit_com = hit_pt[order], hit_com[order]
        first = np.r_[True, hit_pt[1:] != hit_pt[:-1]] if len(hit_pt) else np.array([], bool)
        rows = todo[hit_pt[first]]
        assigned[rows] = ids[hit_com[first]]
        by[rows] = "polygon"
    return pd.DataFrame({"facility_id": facilities["facility_id"].astype(str).to_numpy(),
                         "assigned_community_id": assigned, "assigned_by": by, "note": note})


def unassigned_facilities(community_table: pd.DataFrame, facilities: pd.DataFrame) -> pd.DataFrame:
    """Facilities that no community of ``community_table`` lists in its ``facility_ids``."""
    listed = set(";".join(community_table["facility_ids"].fillna("")).split(";")) - {""}
    out = pd.DataFrame(facilities.drop(columns="geometry", errors="ignore"))
    out = out[~out["facility_id"].astype(str).isin(listed)]
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Per-community checks

ACCESS_COLUMNS = ("residents_within", "elderly_within", "households_within", "share_residents_within",
                  "share_elderly_within", "share_households_within", "median_time_min")
_BASE_COLUMNS = ("community_id", "name", "district", "street", "population", "households",
                 "elderly_population", "estate_type")


def check_communities(communities: pd.DataFrame, facilities: pd.DataFrame, profile: NormProfile,
                      access_table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check every community against ``profile``; one row per community, in input order.

    Columns (areas m², money CNY): the community's own fields; ``area_per_resident_m2``,
    ``area_per_households_m2``, ``area_tier_min_m2`` and the binding ``area_required_m2``, each
    with a ``*_rule`` column naming the profile figure behind it; ``area_provided_m2`` (floor
    area of facilities of the profile's ``area.facility_kinds`` assigned to the community, see
    :func:`assign_facilities`), ``area_gap_m2`` (shortfall, 0 when met); ``tier_required`` /
    ``tier_present`` / ``tier_met`` / ``new_facility`` (tier task rule: one facility of the
    required tier unless one of that tier or higher is present); beds; ``existing_<kind>``
    counts and ``facility_ids``; build and operating subsidy of the new facility; walk
    coverage from ``access_table`` (NaN and ``coverage_status = "not computed"`` without it);
    ``facilities_below_tier_area`` counts facilities smaller than their own tier's minimum
    floor area (they still count as present; the shared-area cap is not checked: the input
    carries no shared area);
    service capacity against recipients where the profile has such a rule.
    """
    com = pd.DataFrame({c: communities[c].to_numpy() if c in communities else np.nan for c in _BASE_COLUMNS})
    com["community_id"] = com["community_id"].astype(str)
    for c in ("name", "district", "street", "estate_type"):
        com[c] = com[c].fillna("").astype(str)
    for c in ("population", "households", "elderly_population"):
        com[c] = pd.to_numeric(com[c], errors="coerce").astype(float)
    n = len(com)
    pop, hh = com["population"].to_numpy(), com["households"].to_numpy()
    estate = com["estate_type"].where(com["estate_type"].isin(["new", "existing"]), "unknown").to_numpy()

    # Facilities per community, aggregated with one groupby (no loop over rows).
    assign = assign_facilities(communities, facilities)
    fac = pd.DataFrame({
        "facility_id": assign["facility_id"], "community_id": assign["assigned_community_id"],
        "kind": facilities["kind"].astype(str).to_numpy(),
        "floor_area_m2": pd.to_numeric(facilities.get("floor_area_m2", np.nan), errors="coerce"),
        "beds": pd.to_numeric(facilities.get("beds", np.nan), errors="coerce"),
        "capacity": pd.to_numeric(facilities.get("capacity", np.nan), errors="coerce"),
    })
    fac = fac[fac["community_id"] != ""]
    rank = fac["kind"].map({k: v["tier"] for k, v in FACILITY_KINDS.items()}).fillna(0).astype(int)
    counts_area = fac["kind"].isin(profile.area_kinds)
    in_cap = fac["kind"].isin(profile.capacity_kinds)
    per_max = profile.recipients_per_facility_max or np.nan
    tier_min = {t.kind: t.min_floor_area_m2 for t in profile.tiers if t.min_floor_area_m2}
    fac = fac.assign(
        rank=rank,
        # Existing facilities smaller than their own tier's minimum (still counted as present).
        below=(fac["floor_area_m2"] < fac["kind"].map(tier_min).astype(float)).astype(int),
        area=fac["floor_area_m2"].where(counts_area, 0.0).fillna(0.0),
        area_unknown=(counts_area & fac["floor_area_m2"].isna()).astype(int),
        tier_beds=fac["beds"].where(rank >= 1, 0.0).fillna(0.0),
        cap_n=in_cap.astype(int),
        # A counted facility without a stated capacity is taken at the rule's upper figure.
        cap=np.where(in_cap, fac["capacity"].fillna(per_max), 0.0),
    )
    grouped = fac.groupby("community_id")
    agg = pd.DataFrame({
        "facilities_count": grouped.size(),
        "facility_ids": grouped["facility_id"].agg(";".join),
        "area_provided_m2": grouped["area"].sum(),
        "facilities_area_unknown": grouped["area_unknown"].sum(),
        "facilities_below_tier_area": grouped["below"].sum(),
        "beds_provided": grouped["tier_beds"].sum(),
        "rank_present": grouped["rank"].max(),
        "stations_present": grouped["cap_n"].sum(),
        "capacity_provided": grouped["cap"].sum(),
    })
    kind_counts = pd.crosstab(fac["community_id"], fac["kind"]) if len(fac) else pd.DataFrame()
    agg = agg.reindex(com["community_id"])
    out = com.copy()
    out["facilities_count"] = agg["facilities_count"].fillna(0).astype(int).to_numpy()
    out["facility_ids"] = agg["facility_ids"].fillna("").to_numpy()
    for kind in FACILITY_KINDS:
        col = kind_counts[kind].reindex(com["community_id"]).fillna(0) if kind in kind_counts else 0
        out[f"existing_{kind}"] = np.asarray(col, dtype=int) if np.ndim(col) else np.zeros(n, int)

    # --- floor area required by each rule, and the binding one
    req_res = np.full(n, np.nan)
    rule_res = np.full(n, "", dtype=object)
    if profile.per_resident_m2:
        applies = np.isin(estate, profile.per_resident_estate_types)
        req_res = np.where(applies, pop * profile.per_resident_m2, np.nan)
        rule_res = np.where(applies, profile.rule("area.per_resident_m2"), "not applicable: estate type")
    else:
        rule_res[:] = "no per-resident rule in profile"
    req_hh = np.full(n, np.nan)
    rule_hh = np.full(n, "", dtype=object)
    eff_estate = np.where(estate == "unknown", profile.unknown_estate_type, estate)
    for etype, rate in (("new", profile.per_100_households_new_m2), ("existing", profile.per_100_households_existing_m2)):
        if not rate:
            continue
        key = f"area.per_100_households_{etype}_m2"
        sel = eff_estate == etype
        req_hh = np.where(sel, hh / 100.0 * rate, req_hh)
        label = profile.rule(key)
        unknown_label = f"{label} (estate type unknown, taken as {etype})"
        rule_hh = np.where(sel, np.where(estate == "unknown", unknown_label, label), rule_hh)
    rule_hh = np.where((rule_hh != "") & np.isnan(hh), "households unknown", rule_hh)
    if not (profile.per_100_households_new_m2 or profile.per_100_households_existing_m2):
        rule_hh[:] = "no per-household rule in profile"

    # --- tier by population band (lower bound inclusive), highest band first
    req_rank = np.zeros(n, int)
    tier_req = np.full(n, "", dtype=object)
    tier_rule = np.where(np.isnan(pop), "population unknown", "").astype(object)
    if not profile.bands:
        tier_rule[:] = "no tier rule in profile"
    upper = ""  # the next band's threshold is this band's upper bound: name it too
    for t in profile.bands:
        sel = (tier_req == "") & (pop >= t.min_population)
        tier_req[sel] = t.kind
        req_rank[sel] = t.rank
        tier_rule[sel] = profile.rule(f"tiers.{t.kind}.min_population") + (f"; below {upper}" if upper else "")
        upper = profile.rule(f"tiers.{t.kind}.min_population")

    # Per-tier figures and rule labels looked up by kind (a map over the few tiers, not the rows).
    kinds = pd.Series(tier_req)

    def tier_figure(attr: str) -> np.ndarray:
        lookup = {t.kind: getattr(t, attr) for t in profile.tiers if getattr(t, attr) is not None}
        return kinds.map(lookup).astype(float).to_numpy()

    def tier_rule_label(attr: str, of: pd.Series = kinds) -> np.ndarray:
        keys = {t.kind: f"tiers.{t.kind}.{attr}" for t in profile.tiers}
        lookup = {k: profile.rule(v) for k, v in keys.items() if v in profile.values}
        return of.map(lookup).astype(object).fillna("").to_numpy(dtype=object)

    req_tier_area = tier_figure("min_floor_area_m2")
    rule_tier_area = tier_rule_label("min_floor_area_m2")

    stack = np.vstack([req_res, req_hh, req_tier_area])
    rules = np.vstack([rule_res, rule_hh, rule_tier_area])
    has_req = ~np.isnan(stack).all(axis=0)
    binding = np.argmax(np.where(np.isnan(stack), -np.inf, stack), axis=0)  # first max wins ties
    area_required = np.where(has_req, stack[binding, np.arange(n)], np.nan)
    area_rule = np.where(has_req, rules[binding, np.arange(n)], "no area rule applies")
    provided = agg["area_provided_m2"].fillna(0.0).to_numpy()
    out["area_per_resident_m2"] = req_res
    out["area_per_resident_rule"] = rule_res
    out["area_per_households_m2"] = req_hh
    out["area_per_households_rule"] = rule_hh
    out["area_tier_min_m2"] = req_tier_area
    out["area_tier_min_rule"] = rule_tier_area
    out["area_required_m2"] = area_required
    out["area_required_rule"] = area_rule
    out["area_provided_m2"] = provided
    out["facilities_area_unknown"] = agg["facilities_area_unknown"].fillna(0).astype(int).to_numpy()
    out["area_gap_m2"] = np.where(has_req, np.maximum(area_required - provided, 0.0), np.nan)

    # --- tier task
    present_rank = agg["rank_present"].fillna(0).astype(int).to_numpy()
    rank_to_kind = {v["tier"]: k for k, v in FACILITY_KINDS.items() if v["tier"] >= 1}
    met = (req_rank == 0) | (present_rank >= req_rank)
    out["tier_required"] = tier_req
    out["tier_required_rule"] = tier_rule
    out["tier_present"] = pd.Series(present_rank).map(rank_to_kind).astype(object).fillna("").to_numpy(dtype=object)
    out["tier_met"] = met
    out["facilities_below_tier_area"] = agg["facilities_below_tier_area"].fillna(0).astype(int).to_numpy()
    out["new_facility"] = np.where(met, "", tier_req)
    for kind in TIER_KINDS:
        out[f"new_{kind}"] = (out["new_facility"] == kind).astype(int)
    beds_req = tier_figure("min_beds")
    out["beds_required"] = beds_req
    out["beds_required_rule"] = tier_rule_label("min_beds")
    out["beds_provided"] = agg["beds_provided"].fillna(0.0).to_numpy()
    out["bed_shortfall"] = np.where(np.isnan(beds_req), np.nan, np.maximum(beds_req - out["beds_provided"], 0.0))
    new = out["new_facility"]
    build = {t.kind: t.build_cost_cny or 0.0 for t in profile.tiers}
    oper = {t.kind: t.operating_subsidy_cny_per_year or 0.0 for t in profile.tiers}
    # A figure the profile does not state counts as 0 under that profile; subsidy_rule says so.
    out["subsidy_build_cny"] = new.map(build).fillna(0.0).astype(float)
    out["subsidy_operating_cny_per_year"] = new.map(oper).fillna(0.0).astype(float)
    out["subsidy_rule"] = new.map({k: _subsidy_rule(profile, k) for k in TIER_KINDS}).astype(object).fillna("")

    # --- walk coverage from the access engine
    if access_table is None:
        for c in ACCESS_COLUMNS:
            out[c] = np.nan
        out["coverage_status"] = "not computed"
    else:
        acc = pd.DataFrame(access_table).copy()
        acc["community_id"] = acc["community_id"].astype(str)
        acc = acc.drop_duplicates("community_id").set_index("community_id").reindex(com["community_id"])
        for c in ACCESS_COLUMNS:
            out[c] = pd.to_numeric(acc[c], errors="coerce").to_numpy() if c in acc else np.nan
        found = com["community_id"].isin(pd.DataFrame(access_table)["community_id"].astype(str)).to_numpy()
        out["coverage_status"] = np.where(found, "computed", "missing from access table")

    # --- service capacity against recipients (e.g. Beijing: 200-300 recipients per post)
    if profile.has_capacity_rule:
        base = com[profile.recipient_base].to_numpy()
        recipients = base * profile.recipient_share
        out["service_recipients"] = recipients
        out["stations_required_min"] = np.ceil(recipients / profile.recipients_per_facility_max)
        out["stations_required_max"] = np.ceil(recipients / profile.recipients_per_facility_min)
        out["stations_present"] = agg["stations_present"].fillna(0).to_numpy().astype(float)
        out["station_shortfall"] = np.maximum(out["stations_required_min"] - out["stations_present"], 0.0)
        out["capacity_provided"] = agg["capacity_provided"].fillna(0.0).to_numpy()
        out["capacity_gap"] = np.maximum(recipients - out["capacity_provided"], 0.0)
        out["service_capacity_rule"] = (f"{profile.rule('service_capacity.recipients_per_facility_max')}; "
                                        f"recipients = {profile.recipient_share:g} x {profile.recipient_base}")
    else:
        for c in ("service_recipients", "stations_required_min", "stations_required_max", "stations_present",
                  "station_shortfall", "capacity_provided", "capacity_gap"):
            out[c] = np.nan
        out["service_capacity_rule"] = "no service capacity rule in profile"
    return out


def _subsidy_rule(profile: NormProfile, kind: str) -> str:
    if not kind:
        return ""
    keys = [f"tiers.{kind}.{k}" for k in ("build_subsidy_cny", "build_subsidy_extra_cny",
                                           "operating_subsidy_cny_per_year")]
    found = [profile.rule(k) for k in keys if k in profile.values]
    return "; ".join(found) if found else "no subsidy figure in profile"


# ---------------------------------------------------------------------------------------------
# Roll-up by district or street

_SUM_COLUMNS = (["population", "households", "elderly_population"]
                + [f"existing_{k}" for k in FACILITY_KINDS]
                + [f"new_{k}" for k in TIER_KINDS] + ["facilities_below_tier_area"]
                + ["subsidy_build_cny", "subsidy_operating_cny_per_year",
                   "area_required_m2", "area_provided_m2", "area_gap_m2",
                   "beds_required", "beds_provided", "bed_shortfall",
                   "residents_within", "elderly_within", "households_within",
                   "service_recipients", "stations_required_min", "stations_required_max",
                   "stations_present", "station_shortfall", "capacity_provided", "capacity_gap"])
_SHARES = (("share_residents_within", "residents_within", "population"),
           ("share_elderly_within", "elderly_within", "elderly_population"),
           ("share_households_within", "households_within", "households"))


def rollup(community_table: pd.DataFrame, facilities: pd.DataFrame | None, profile: NormProfile,
           by: str = "district", total: bool = True) -> pd.DataFrame:
    """Roll the community checks up by ``"district"`` or ``"street"`` (grouped by district + street).

    Columns: ``communities``; ``communities_band_<tier>`` (communities whose population calls
    for that tier; bands as in :meth:`NormProfile.band_label`, lower bound inclusive);
    ``existing_<kind>`` and ``existing_total`` (facilities by kind); ``new_<tier>`` and
    ``new_total`` (tier task rule); subsidy totals of the new facilities (CNY);
    population, households, older residents; residents/older residents/households within the
    walk limit and the population-weighted shares (over communities with coverage computed);
    area required / provided / gap (m², the gap is the sum of community shortfalls: a surplus
    in one community does not offset another's); beds; service capacity. ``row_type`` is
    ``"group"``, ``"no_community"`` (facilities in no community, from ``facilities``; counts
    only; present only when there are such facilities) or ``"total"``. Sums over group rows equal the community table's sums.
    """
    if by not in ("district", "street"):
        raise ValueError("by must be 'district' or 'street'")
    keys = ["district"] if by == "district" else ["district", "street"]
    t = community_table.copy()
    covered = t["coverage_status"] == "computed"
    for c in ("population", "elderly_population", "households"):
        t[f"_{c}_cov"] = t[c].where(covered, np.nan)
    t["_covered"] = covered.astype(int)
    t["_area_gap_n"] = (t["area_gap_m2"] > 0).astype(int)
    for kind in TIER_KINDS:
        t[f"communities_band_{kind}"] = (t["tier_required"] == kind).astype(int)
    sums = [c for c in _SUM_COLUMNS if c in t]
    extra = ([f"communities_band_{k}" for k in TIER_KINDS] + ["_area_gap_n", "_covered"]
             + [f"_{c}_cov" for c in ("population", "elderly_population", "households")])
    g = t.groupby(keys, sort=True, dropna=False)
    # min_count=1 keeps "unknown in every community" as NaN instead of a misleading 0.
    out = g[sums + extra].sum(min_count=1)
    out.insert(0, "communities", g.size())
    out = out.reset_index()
    out.insert(len(keys), "row_type", "group")
    frames = [out]
    loose = unassigned_facilities(community_table, facilities) if facilities is not None else None
    if loose is not None and len(loose):  # the row exists only when some facility is in no community
        row = {k: "(no community)" for k in keys} | {"row_type": "no_community", "communities": 0}
        for kind in FACILITY_KINDS:
            row[f"existing_{kind}"] = int((loose["kind"] == kind).sum())
        frames.append(pd.DataFrame([row]))
    if total:
        body = pd.concat(frames, ignore_index=True)
        tot = body[[c for c in body.columns if c not in keys and c != "row_type"]].sum(min_count=1)
        row = {k: "(all)" for k in keys} | {"row_type": "total"} | tot.to_dict()
        frames.append(pd.DataFrame([row]))
    res = pd.concat(frames, ignore_index=True)
    ints = ["communities"] + [f"communities_band_{k}" for k in TIER_KINDS] + [f"existing_{k}" for k in FACILITY_KINDS] \
        + [f"new_{k}" for k in TIER_KINDS] + ["_area_gap_n", "_covered", "facilities_below_tier_area"]
    for c in ints:
        res[c] = res[c].fillna(0).astype(int)
    res["existing_total"] = res[[f"existing_{k}" for k in FACILITY_KINDS]].sum(axis=1)
    res["new_total"] = res[[f"new_{k}" for k in TIER_KINDS]].sum(axis=1)
    res["communities_with_area_gap"] = res.pop("_area_gap_n")
    for share, num, den in _SHARES:
        d = res[f"_{den}_cov"]
        res[share] = np.where(d > 0, res[num] / d.where(d > 0, 1.0), np.nan)
    n_cov = res.pop("_covered")
    res["coverage_status"] = np.select([n_cov == 0, n_cov == res["communities"]], ["not computed", "computed"],
                                       "partial")
    res.loc[res["row_type"] == "no_community", "coverage_status"] = ""
    res = res.drop(columns=[c for c in res.columns if c.startswith("_")])
    order = keys + ["row_type", "communities"] + [f"communities_band_{k}" for k in TIER_KINDS] \
        + [f"existing_{k}" for k in FACILITY_KINDS] + ["existing_total"] + [f"new_{k}" for k in TIER_KINDS] \
        + ["new_total", "facilities_below_tier_area", "subsidy_build_cny", "subsidy_operating_cny_per_year",
           "population", "households", "elderly_population",
           "residents_within", "elderly_within", "households_within",
           "share_residents_within", "share_elderly_within", "share_households_within", "coverage_status",
           "area_required_m2", "area_provided_m2", "area_gap_m2", "communities_with_area_gap",
           "beds_required", "beds_provided", "bed_shortfall",
           "service_recipients", "stations_required_min", "stations_required_max", "stations_present",
           "station_shortfall", "capacity_provided", "capacity_gap"]
    return res[[c for c in order if c in res]]
