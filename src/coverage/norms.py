"""Norm profiles (shipped as TOML data) and the per-community and per-district norm checks.

A *profile* holds the planning rules of one source document, each figure with the verbatim
quote it stands on (``[cite."<key>"]``, see :mod:`eldercare_coverage.norm_sources`) or labelled a
toolkit default. Requirement kinds are kept apart, as the documents keep them apart:

* **land** (``[land]``, 用地): site area a plan must reserve per resident (Baoji, Tibet:
  人均用地不少于0.1平方米). Compared with the facilities' ``site_area_m2`` (占地面积) when the
  input has it; otherwise reported as land to reserve, with no pass/fail. Never compared with
  floor area.
* **floor area** (``[area] per_resident_m2``, 建筑面积 / 面积 of facilities built: Lhasa), in
  the estate types its text names.
* **floor area per 100 households** (``[area] per_100_households_*``: Yuxi).
* **tier minimum / maximum floor area** (``[tiers.<kind>]``: Baoji), never exceeded by one
  facility: when a community needs more, the check says how to split it (:func:`tier_cap_plan`).

Profiles live in ``eldercare_coverage/profiles/<name>.toml``; a planner's own TOML file may
``extends = "<name>"`` and override any number. Every figure remembers which profile (or file)
it came from, so each requirement names the rule that produced it, e.g.
``"baoji: tiers.day_care_centre.min_population = 10000"``.

Population bands: a tier's ``min_population`` is inclusive and the band runs up to the next
tier's threshold, exclusive. With the Baoji figures a community of exactly 10,000 residents
needs a day-care centre, exactly 5,000 a service centre, 4,999 a service station (the profile's
``[cite]`` states this choice, since the text's bands overlap at both boundaries).

Units: areas in m², populations in persons, money in CNY, times in minutes, distances in m,
speeds in m/s.
"""

from __future__ import annotations

import difflib
import math
import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import tomllib

from .errors import InputError, ProblemReport
from .messages import Text
from .norm_sources import (CITE_KEYS, NOTE_KEYS, STATUS_LABELS, TARGET_KEYS, Citation, Note, OfficialTargets,
                           compare_official_targets, field_text, parse_citations, parse_notes,
                           parse_official_targets)
from .schema import FACILITY_KINDS

#: Tiered kinds, highest first; their ``new_*`` / ``communities_band_*`` columns are always present.
TIER_KINDS: tuple[str, ...] = ("day_care_centre", "service_centre", "service_station")
#: Kinds whose floor area counts as community eldercare service space unless a profile says
#: otherwise. Nursing homes are institutional care, planned separately, so they are left out.
DEFAULT_AREA_KINDS: tuple[str, ...] = ("day_care_centre", "service_centre", "service_station",
                                       "meal_point", "other")
#: ``redevelopment`` is an existing estate under old-town redevelopment (旧城改造, Lhasa's scope).
ESTATE_TYPES = ("new", "existing", "redevelopment", "unknown")
#: What a requirement measures, in words a planner uses (zh, en). Land and floor area are never mixed.
REQUIREMENT_KINDS: dict[str, tuple[str, str]] = {
    "land": ("用地面积（规划预留的场地面积）", "land area (site area reserved in plans)"),
    "floor_area": ("建筑面积", "floor area"),
    "floor_area_per_households": ("按户数计的建筑面积", "floor area per 100 households"),
    "walk": ("步行可达范围", "walk limit"),
    "tier": ("设施层级", "facility tier"),
    "beds": ("床位", "beds"),
    "subsidy": ("补助", "subsidy"),
    "capacity": ("服务对象", "service recipients"),
    "setting": ("计算设定", "calculation setting"),
}

# Allowed keys per section: key -> (kind, constraint). Kinds: "text", "number", "int",
# "bool", "kinds" (list of facility kinds), "estates" (list of estate types), "choice:a|b".
_TOP = {"name": "text", "title": "text", "title_en": "text", "extends": "text"}
#: Top-level tables that describe the sources, not figures: validated apart, never flattened.
_META = ("cite", "notes", "official_targets")
_SECTIONS: dict[str, dict[str, str]] = {
    "source": {"document": "text", "document_en": "text", "clause": "text", "clause_en": "text",
               "note": "text", "note_en": "text", "url": "text", "file": "text", "issuer": "text", "date": "text",
               "status": "choice:" + "|".join(STATUS_LABELS)},
    "access": {"time_limit_min": "number>0", "distance_m": "number>0"},
    "land": {"per_resident_m2": "number>=0", "estate_types": "estates"},
    "area": {"per_resident_m2": "number>=0", "per_resident_estate_types": "estates",
             "per_100_households_new_m2": "number>=0", "per_100_households_existing_m2": "number>=0",
             "unknown_estate_type": "choice:new|existing|none", "facility_kinds": "kinds"},
    "service_capacity": {"kinds": "kinds", "recipients_per_facility_min": "number>0",
                         "recipients_per_facility_max": "number>0",
                         "recipient_base": "choice:basic_service_recipients|elderly_population|population|households",
                         "recipient_share": "share"},
}
#: Keys that moved: a user file using one gets an error naming the new place.
_MOVED = {"access.walk_speed_mps": "profile.moved_walk_speed", "access.service_radius_m": "profile.moved_service_radius"}
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
class WalkLimit:
    """The walk limit the access analysis uses under a profile, and why."""

    limit_min: float
    #: Network walking distance the limit reaches (m): the profile's ``distance_m`` when it states one.
    distance_m: float
    #: ``"profile_distance"``, ``"profile_time"`` or ``"study"`` (the profile states no limit).
    basis: str
    #: The profile rule behind it (``""`` for the study's choice).
    rule: str = ""

    def explain(self, language: str = "zh", speed_mps: float | None = None) -> str:
        """One sentence for reports: which limit was used and why."""
        speed = f"{speed_mps:g}" if speed_mps else "?"
        zh = language == "zh"
        if self.basis == "profile_distance":
            return (f"规范规定的步行网络距离{self.distance_m:g}米（{self.rule}），按研究步行速度{speed}米/秒折合"
                    f"{self.limit_min:.2f}分钟" if zh else
                    f"network walking distance of {self.distance_m:g} m stated by the profile ({self.rule}), "
                    f"{self.limit_min:.2f} min at the study's {speed} m/s")
        if self.basis == "profile_time":
            return (f"规范规定的步行时间{self.limit_min:g}分钟（{self.rule}）" if zh else
                    f"walk time of {self.limit_min:g} min stated by the profile ({self.rule})")
        return (f"研究设定的步行时间{self.limit_min:g}分钟（[access] time_limit_min；所选规范未规定步行时间或距离）"
                if zh else f"walk time of {self.limit_min:g} min, the study's choice ([access] time_limit_min; "
                "the profile states no walk time or distance)")


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
    #: Network walking distance limit (m), when the source gives a distance instead of a time.
    distance_m: float | None = None
    #: Land (用地) per resident a plan must reserve (m²), and the estate types it applies to.
    land_per_resident_m2: float | None = None
    land_estate_types: tuple[str, ...] = ESTATE_TYPES
    #: Floor area (建筑面积) per resident (m²), and the estate types it applies to.
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
    recipient_base: str = "basic_service_recipients"
    recipient_share: float = 1.0
    #: Flat key ("area.per_resident_m2") -> (value, origin) for every figure that was set.
    values: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: Flat key -> the citations of the layer that set the figure (empty: no source given).
    citations: dict[str, tuple[Citation, ...]] = field(default_factory=dict)
    #: Published targets and figures carried as information (no check).
    notes: tuple[Note, ...] = ()
    official_targets: OfficialTargets | None = None

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
        """Walk time limit the profile states (minutes): ``time_limit_min``, or ``distance_m``
        walked at ``walk_speed_mps`` (m/s; required then). None when it states neither."""
        if self.distance_m is not None:
            if not walk_speed_mps:
                raise ValueError(f"profile '{self.name}' states a walking distance: give walk_speed_mps")
            return self.distance_m / walk_speed_mps / 60.0
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

    def source_of(self, key: str, language: str = "zh") -> tuple[str, str]:
        """(document, clause with quote) behind one figure, in words for a report."""
        _, origin = self.values[key]
        cites = self.citations.get(key, ())
        if not cites:
            doc = field_text(self.sources.get(origin, {}), "document", language)
            word = "未引用原文" if language == "zh" else "no source text quoted"
            return doc, word
        docs = []
        for c in cites:
            if c.is_toolkit_default:
                continue
            status = STATUS_LABELS.get(c.status, ("", ""))[0 if language == "zh" else 1]
            label = f"{c.document}（{status}）" if language == "zh" else f"{c.document} ({status})"
            docs.append(f"{label} [{c.file}]")
        return "; ".join(dict.fromkeys(docs)), " | ".join(c.describe(language) for c in cites)

    def rules_table(self, language: str = "zh") -> pd.DataFrame:
        """One row per figure in force: rule label, key, value, origin, requirement kind,
        description, source document (with its status: draft, exchange material) and the clause
        with its verbatim quote, or "toolkit default" with the reason."""
        rows = []
        for key, (value, origin) in self.values.items():
            if key.startswith("source.") or key in _TOP:
                continue
            doc, clause = self.source_of(key, language)
            rows.append({"rule": self.rule(key), "key": key, "value": _fmt(value), "origin": origin,
                         "kind": requirement_kind(key),
                         "description_zh": _describe(key, "zh"), "description_en": _describe(key, "en"),
                         "source_document": doc, "source_clause": clause,
                         "toolkit_default": any(c.is_toolkit_default for c in self.citations.get(key, ()))})
        return pd.DataFrame(rows, columns=["rule", "key", "value", "origin", "kind", "description_zh",
                                           "description_en", "source_document", "source_clause",
                                           "toolkit_default"])


def requirement_kind(key: str) -> str:
    """The :data:`REQUIREMENT_KINDS` code of a profile key."""
    if key.startswith("land."):
        return "land"
    if key.startswith("area.per_100_households"):
        return "floor_area_per_households"
    if key.startswith("area.per_resident") or key.endswith("floor_area_m2") or key.endswith("shared_area_m2"):
        return "floor_area"
    if key.startswith("access."):
        return "walk"
    if key.endswith("min_population"):
        return "tier"
    if key.endswith("min_beds"):
        return "beds"
    if "subsidy" in key:
        return "subsidy"
    if key.startswith("service_capacity.recipients"):
        return "capacity"
    return "setting"


def walk_limit(profile: NormProfile, walk_speed_mps: float, study_limit_min: float) -> WalkLimit:
    """The walk limit to analyse access with: the profile's stated distance (m, turned into
    minutes at ``walk_speed_mps`` so the reach is exactly that network distance) or time
    (minutes); without either, the study's ``study_limit_min``. When a user file sets one and a
    base profile the other, the layer closer to the user wins."""
    keys = [k for k in ("access.distance_m", "access.time_limit_min") if k in profile.values]
    if not keys:
        return WalkLimit(float(study_limit_min), float(study_limit_min) * 60.0 * walk_speed_mps, "study")
    key = max(keys, key=lambda k: profile.chain.index(profile.values[k][1]))
    if key == "access.distance_m":
        d = float(profile.values[key][0])
        return WalkLimit(d / walk_speed_mps / 60.0, d, "profile_distance", profile.rule(key))
    t = float(profile.values[key][0])
    return WalkLimit(t, t * 60.0 * walk_speed_mps, "profile_time", profile.rule(key))


# ---------------------------------------------------------------------------------------------
# Loading profiles


def _profiles_dir():
    return resources.files("eldercare_coverage").joinpath("profiles")


def shipped_profile_names() -> list[str]:
    """Names of the profiles shipped with the package."""
    return sorted(p.name[:-5] for p in _profiles_dir().iterdir() if p.name.endswith(".toml"))


def list_profiles() -> pd.DataFrame:
    """The shipped profiles: name, title (zh/en), what they extend, source document (with its
    status: issued, draft, exchange material) and clause."""
    rows = []
    for name in shipped_profile_names():
        raw = _read_toml(_profiles_dir().joinpath(f"{name}.toml"), f"{name}.toml")
        src = raw.get("source", {})
        rows.append({"name": name, "title": raw.get("title", ""), "title_en": raw.get("title_en", ""),
                     "extends": raw.get("extends", ""), "source_document": src.get("document", ""),
                     "source_document_en": src.get("document_en", ""), "status": src.get("status", ""),
                     "source_file": src.get("file", ""),
                     "clause": src.get("clause", ""), "clause_en": src.get("clause_en", "")})
    return pd.DataFrame(rows)


def load_profile(name: str = "national", user_file: str | Path | None = None) -> NormProfile:
    """Resolve a shipped profile, optionally extended by a user TOML file.

    With ``user_file``, the file's ``extends`` (default: ``name``) picks the base profile and
    its keys override the base's. Raises :class:`~eldercare_coverage.errors.InputError` naming the file,
    the key and a fix for an unknown profile, unknown key, wrong type or inconsistent figures.
    """
    report = ProblemReport()
    layers = _layers(name, user_file, report)
    values: dict[str, tuple[Any, str]] = {}
    sources: dict[str, dict[str, str]] = {}
    citations: dict[str, tuple[Citation, ...]] = {}
    notes: list[Note] = []
    targets: OfficialTargets | None = None
    for origin, raw in layers:
        sources[origin] = {k: str(v) for k, v in raw.get("source", {}).items()}
        file = sources[origin].get("file", "")
        cites = parse_citations(raw, file)
        for key, value in _flatten({k: v for k, v in raw.items() if k not in _META}).items():
            if key in ("extends", "name"):
                continue
            values[key] = (value, origin)
            # A figure's citation is the one of the layer that set it: an override without a
            # [cite] is reported as "no source text quoted", never with the base's quote.
            citations[key] = cites.get(key, ())
        notes += parse_notes(raw, file)
        targets = parse_official_targets(raw, file) or targets
        if origin == layers[-1][0] and user_file is not None:
            # A user file without a [source] is still named as the source of the figures it sets.
            if not (sources[origin].get("document") or sources[origin].get("document_en")):
                sources[origin] |= {"document": f"用户规范文件：{user_file}",
                                    "document_en": f"user profile file: {user_file}"}
            sources[origin].setdefault("status", "user")
    profile = _build_profile(layers[-1][1].get("name") or layers[-1][0], values, sources,
                             tuple(o for o, _ in layers), report, layers[-1][0])
    report.raise_if_errors()
    return dataclasses.replace(profile, citations=citations, notes=tuple(notes), official_targets=targets)


def _layers(name: str, user_file: str | Path | None, report: ProblemReport) -> list[tuple[str, dict]]:
    """(origin, raw TOML) of every profile in the chain, base first, each validated."""
    layers: list[tuple[str, dict]] = []  # user file first while walking up the chain
    if user_file is not None:
        path = Path(user_file)
        raw = _read_toml(path, str(path))
        _validate_raw(raw, str(path), report)
        report.raise_if_errors()
        layers.append((path.name, raw))
        name = raw.get("extends") or name
    seen: set[str] = set()
    current: str | None = name
    while current:
        if current in seen:
            report.error(layers[-1][0] if layers else f"{current}.toml", "profile.extends_cycle", field="extends",
                         name=current)
            report.raise_if_errors()
        seen.add(current)
        if current not in shipped_profile_names():
            file = str(user_file) if user_file is not None else "norms.profile"
            report.error(file, "profile.unknown", field="extends" if user_file else "profile", name=current,
                         known=", ".join(shipped_profile_names()))
            report.raise_if_errors()
        raw = _read_toml(_profiles_dir().joinpath(f"{current}.toml"), f"{current}.toml")
        _validate_raw(raw, f"{current}.toml", report)
        layers.append((current, raw))
        current = raw.get("extends") or None
    report.raise_if_errors()
    return layers[::-1]


def _read_toml(resource, label: str) -> dict:
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("profile.file_not_found", label) from None
    except UnicodeDecodeError:
        raise InputError("profile.not_utf8", label) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError("profile.not_toml", label, detail=str(exc)) from None


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
    hint = Text("hint.did_you_mean", name=close[0]) if close else ""
    report.error(file, "config.unknown_key", field=key, key=key, hint=hint, known=", ".join(sorted(known)))


def _validate_raw(raw: dict, file: str, report: ProblemReport) -> None:
    """Check every key and value of one profile file (not yet merged)."""
    for key, value in raw.items():
        if key in _TOP:
            _check_value(value, "text", key, file, report)
        elif key == "tiers":
            if not isinstance(value, dict):
                report.error(file, "profile.tiers_not_table", field="tiers")
                continue
            for kind, body in value.items():
                if kind not in FACILITY_KINDS or FACILITY_KINDS[kind]["tier"] < 1:
                    report.error(file, "profile.tier_unknown", field=f"tiers.{kind}", kind=kind,
                                 known=", ".join(TIER_KINDS))
                    continue
                if not isinstance(body, dict):
                    report.error(file, "config.not_a_table", field=f"tiers.{kind}", key=f"tiers.{kind}")
                    continue
                for k, v in body.items():
                    if k not in _TIER_KEYS:
                        _unknown(report, file, f"tiers.{kind}.{k}", _TIER_KEYS)
                    else:
                        _check_value(v, _TIER_KEYS[k], f"tiers.{kind}.{k}", file, report)
        elif key in _META:
            _validate_meta(key, value, file, report)
        elif key in _SECTIONS:
            if not isinstance(value, dict):
                report.error(file, "config.not_a_table", field=key, key=key)
                continue
            for k, v in value.items():
                if f"{key}.{k}" in _MOVED:
                    report.error(file, "profile.key_moved", field=f"{key}.{k}", key=f"{key}.{k}",
                                 instead=Text(_MOVED[f"{key}.{k}"]))
                elif k not in _SECTIONS[key]:
                    _unknown(report, file, f"{key}.{k}", _SECTIONS[key])
                else:
                    _check_value(v, _SECTIONS[key][k], f"{key}.{k}", file, report)
        else:
            _unknown(report, file, key, list(_TOP) + list(_SECTIONS) + ["tiers"] + list(_META))


def _validate_meta(key: str, value: Any, file: str, report: ProblemReport) -> None:
    """``[cite."<key>"]``, ``[[notes]]`` and ``[official_targets]``: their shape and keys."""
    def check_table(body: Any, allowed: dict[str, str], where: str) -> None:
        if not isinstance(body, dict):
            report.error(file, "config.not_a_table", field=where, key=where)
            return
        for k in body:
            if k not in allowed:
                _unknown(report, file, f"{where}.{k}", allowed)

    if key == "cite":
        if not isinstance(value, dict):
            report.error(file, "profile.cite_not_table", field="cite")
            return
        for figure, body in value.items():
            for item in body if isinstance(body, list) else [body]:
                check_table(item, CITE_KEYS, f"cite.{figure}")
    elif key == "notes":
        for item in value if isinstance(value, list) else [value]:
            check_table(item, NOTE_KEYS, "notes")
    else:
        check_table(value, TARGET_KEYS, "official_targets")


def _check_value(value: Any, kind: str, key: str, file: str, report: ProblemReport) -> None:
    def bad(code: str, **values: Any) -> None:
        report.error(file, code, field=key, key=key, value=repr(value), name=key.rsplit(".", 1)[-1], **values)

    is_num = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "text":
        if not isinstance(value, str):
            bad("profile.value_text")
    elif kind == "bool":
        if not isinstance(value, bool):
            bad("profile.value_bool")
    elif kind in ("number>0", "number>=0", "speed", "share"):
        if not is_num or math.isnan(value) or math.isinf(value):
            bad("profile.value_number")
        elif kind == "number>0" and value <= 0:
            bad("profile.value_positive")
        elif kind == "number>=0" and value < 0:
            bad("profile.value_nonnegative")
        elif kind == "speed" and not 0.1 <= value <= 3.0:
            bad("profile.value_speed")
        elif kind == "share" and not 0 < value <= 1:
            bad("profile.value_share")
    elif kind.startswith("choice:"):
        options = kind[7:].split("|")
        if value not in options:
            bad("profile.value_choice", options=", ".join(f'"{o}"' for o in options))
    elif kind in ("kinds", "estates"):
        allowed = list(FACILITY_KINDS) if kind == "kinds" else list(ESTATE_TYPES)
        if not isinstance(value, list) or any(v not in allowed for v in value):
            bad("profile.value_list", allowed=", ".join(allowed), first=allowed[0])


def _build_profile(name: str, values: dict[str, tuple[Any, str]], sources: dict[str, dict[str, str]],
                   chain: tuple[str, ...], report: ProblemReport, file: str) -> NormProfile:
    def num(key: str) -> float | None:
        v = values.get(key)
        return None if v is None else float(v[0])

    def positive(key: str) -> float | None:
        # 0 switches an area rule off: it would require nothing, so it is not reported as a rule.
        v = num(key)
        return v if v else None

    for key in [k for k, (v, _) in values.items() if k.startswith(("area.per_", "land.per_")) and v == 0]:
        del values[key]
    if "access.distance_m" in values and "access.time_limit_min" in values:
        d_layer, t_layer = (chain.index(values[k][1]) for k in ("access.distance_m", "access.time_limit_min"))
        if d_layer == t_layer:
            report.error(file, "profile.distance_and_time", field="access.distance_m")
        else:  # the layer closer to the user replaces the base's limit
            del values["access.time_limit_min" if d_layer > t_layer else "access.distance_m"]
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
            report.error(file, "profile.tier_bands_order", field=f"tiers.{hi.kind}.min_population", hi=hi.kind,
                         lo=lo.kind, hi_value=_fmt(hi.min_population), lo_value=_fmt(lo.min_population))
    for t in tiers:
        if t.min_floor_area_m2 and t.max_floor_area_m2 and t.min_floor_area_m2 > t.max_floor_area_m2:
            report.error(file, "profile.tier_area_order", field=f"tiers.{t.kind}.min_floor_area_m2", kind=t.kind)
    rmin, rmax = num("service_capacity.recipients_per_facility_min"), num("service_capacity.recipients_per_facility_max")
    if rmin is not None and rmax is None:
        rmax = rmin
    if rmax is not None and rmin is None:
        rmin = rmax
    if rmin and rmax and rmin > rmax:
        report.error(file, "profile.recipients_order", field="service_capacity.recipients_per_facility_min")

    def get(key: str, default: Any) -> Any:
        return values[key][0] if key in values else default

    top = {k: v for k, (v, _) in values.items()}
    return NormProfile(
        name=name, title=top.get("title", ""), title_en=top.get("title_en", ""),
        source=dict(sources.get(chain[-1], {})), chain=chain, sources=sources,
        time_limit_min=num("access.time_limit_min"), distance_m=num("access.distance_m"),
        land_per_resident_m2=positive("land.per_resident_m2"),
        land_estate_types=tuple(get("land.estate_types", ESTATE_TYPES)),
        per_resident_m2=positive("area.per_resident_m2"),
        per_resident_estate_types=tuple(get("area.per_resident_estate_types", ESTATE_TYPES)),
        per_100_households_new_m2=positive("area.per_100_households_new_m2"),
        per_100_households_existing_m2=positive("area.per_100_households_existing_m2"),
        unknown_estate_type=get("area.unknown_estate_type", "existing"),
        area_kinds=tuple(get("area.facility_kinds", DEFAULT_AREA_KINDS)),
        tiers=tuple(tiers),
        capacity_kinds=tuple(get("service_capacity.kinds", ("service_station",))),
        recipients_per_facility_min=rmin, recipients_per_facility_max=rmax,
        recipient_base=get("service_capacity.recipient_base", "basic_service_recipients"),
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
    "access.distance_m": ("步行网络距离上限（米），按研究的步行速度折算为时间",
                          "network walking distance limit (m), turned into minutes at the study's walking speed"),
    "land.per_resident_m2": ("规划人均用地（平方米/人，养老服务设施用地，非建筑面积）",
                             "land per resident reserved in plans (m² of site area per resident, not floor area)"),
    "land.estate_types": ("人均用地标准适用的小区类型", "estate types the land rule applies to"),
    "area.per_resident_m2": ("每位居民所需养老服务设施建筑面积（平方米）", "floor area required per resident (m²)"),
    "area.per_resident_estate_types": ("人均建筑面积标准适用的小区类型", "estate types the per-resident floor-area rule applies to"),
    "area.per_100_households_new_m2": ("新建小区每百户所需建筑面积（平方米）", "floor area per 100 households, new estates (m²)"),
    "area.per_100_households_existing_m2": ("既有小区每百户所需建筑面积（平方米）", "floor area per 100 households, existing estates (m²)"),
    "area.unknown_estate_type": ("小区类型未知时按此类型计算", "estate type assumed when unknown"),
    "area.facility_kinds": ("计入已建面积的设施类型", "facility kinds whose floor area counts as provided"),
    "service_capacity.kinds": ("按服务对象配置的设施类型", "facility kinds counted against recipients"),
    "service_capacity.recipients_per_facility_min": ("每个设施服务对象下限（人）", "recipients per facility, lower figure"),
    "service_capacity.recipients_per_facility_max": ("每个设施服务对象上限（人）", "recipients per facility, upper figure"),
    "service_capacity.recipient_base": ("服务对象人数所在的输入列", "input column holding the recipients"),
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
                 "elderly_population", "basic_service_recipients", "estate_type")
_NUMERIC_BASE = ("population", "households", "elderly_population", "basic_service_recipients")


def check_communities(communities: pd.DataFrame, facilities: pd.DataFrame, profile: NormProfile,
                      access_table: pd.DataFrame | None = None, *, language: str = "zh") -> pd.DataFrame:
    """Check every community against ``profile``; one row per community, in input order.

    Columns (areas m², money CNY), each requirement with a ``*_rule`` column naming the profile
    figure behind it:

    * the community's own fields and ``existing_<kind>`` counts, ``facility_ids``;
    * **land** (用地, never compared with floor area): ``land_required_m2`` (land a plan must
      reserve), ``land_provided_m2`` (``site_area_m2`` of the community's facilities),
      ``land_gap_m2`` and ``land_status`` — ``"not checkable: no site area"`` when the
      facilities carry no site area, so the figure is the land to reserve, with no pass/fail;
    * **floor area** (建筑面积): ``area_per_resident_m2``, ``area_per_households_m2``,
      ``area_tier_min_m2`` and the binding ``area_required_m2``; ``area_provided_m2`` (floor
      area of facilities of the profile's ``area.facility_kinds``, see :func:`assign_facilities`),
      ``area_gap_m2`` (shortfall, 0 when met); ``area_tier_max_m2`` and, when the requirement
      exceeds what one facility of the required tier may have, ``area_exceeds_tier_max`` and
      ``area_plan`` (how to meet it within the tier sizes, :func:`tier_cap_plan`);
    * **tier task**: ``tier_required`` / ``tier_present`` / ``tier_met`` / ``new_facility`` (one
      facility of the required tier unless one of that tier or higher is present); beds; build
      and operating subsidy of the new facility; ``facilities_below_tier_area``;
    * walk coverage from ``access_table`` (NaN and ``coverage_status = "not computed"`` without it);
    * service capacity against recipients (Beijing) with ``service_capacity_status``.

    ``language`` ("zh"/"en") is the language of the ``area_plan`` sentences.
    """
    com = pd.DataFrame({c: communities[c].to_numpy() if c in communities else np.nan for c in _BASE_COLUMNS})
    com["community_id"] = com["community_id"].astype(str)
    for c in ("name", "district", "street", "estate_type"):
        com[c] = com[c].fillna("").astype(str)
    for c in _NUMERIC_BASE:
        com[c] = pd.to_numeric(com[c], errors="coerce").astype(float)
    agg, kind_counts = _facilities_by_community(communities, facilities, profile)
    agg = agg.reindex(com["community_id"])
    out = com.copy()
    out["facilities_count"] = agg["facilities_count"].fillna(0).astype(int).to_numpy()
    out["facility_ids"] = agg["facility_ids"].fillna("").to_numpy()
    for kind in FACILITY_KINDS:
        col = kind_counts[kind].reindex(com["community_id"]).fillna(0) if kind in kind_counts else 0
        out[f"existing_{kind}"] = np.asarray(col, dtype=int) if np.ndim(col) else np.zeros(len(com), int)
    has_site = "site_area_m2" in facilities and pd.to_numeric(facilities["site_area_m2"], errors="coerce").notna().any()
    blocks = [_land_block(com, agg, profile, has_site), _tier_block(com, agg, profile)]
    for block in blocks:
        for c, v in block.items():
            out[c] = v
    for c, v in _floor_area_block(out, agg, profile, language).items():
        out[c] = v
    for c, v in _access_block(com, access_table).items():
        out[c] = v
    for c, v in _capacity_block(com, agg, profile).items():
        out[c] = v
    return out


def _facilities_by_community(communities: pd.DataFrame, facilities: pd.DataFrame,
                             profile: NormProfile) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per community id: counts, ids, floor and site area, beds, highest tier and capacity of its
    facilities (one groupby, no loop over rows); and facility counts by kind."""
    assign = assign_facilities(communities, facilities)

    def number(col: str) -> pd.Series:
        return pd.to_numeric(facilities[col], errors="coerce").reset_index(drop=True) if col in facilities \
            else pd.Series(np.nan, index=range(len(facilities)))

    fac = pd.DataFrame({
        "facility_id": assign["facility_id"], "community_id": assign["assigned_community_id"],
        "kind": facilities["kind"].astype(str).to_numpy(), "floor_area_m2": number("floor_area_m2"),
        "site_area_m2": number("site_area_m2"), "beds": number("beds"), "capacity": number("capacity"),
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
        site=fac["site_area_m2"].where(counts_area, 0.0).fillna(0.0),
        site_unknown=(counts_area & fac["site_area_m2"].isna()).astype(int),
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
        "site_provided_m2": grouped["site"].sum(),
        "facilities_site_unknown": grouped["site_unknown"].sum(),
        "facilities_below_tier_area": grouped["below"].sum(),
        "beds_provided": grouped["tier_beds"].sum(),
        "rank_present": grouped["rank"].max(),
        "stations_present": grouped["cap_n"].sum(),
        "capacity_provided": grouped["cap"].sum(),
    })
    kind_counts = pd.crosstab(fac["community_id"], fac["kind"]) if len(fac) else pd.DataFrame()
    return agg, kind_counts


def _estates(com: pd.DataFrame) -> np.ndarray:
    known = ["new", "existing", "redevelopment"]
    return com["estate_type"].where(com["estate_type"].isin(known), "unknown").to_numpy()


def _land_block(com: pd.DataFrame, agg: pd.DataFrame, profile: NormProfile, has_site: bool) -> dict[str, Any]:
    """Land (用地) a plan must reserve, checked against site area only where the input has it."""
    n = len(com)
    nan = np.full(n, np.nan)
    if not profile.land_per_resident_m2:
        return {"land_required_m2": nan, "land_rule": "no land rule in profile", "land_provided_m2": nan,
                "land_gap_m2": nan, "land_status": "no land rule"}
    pop = com["population"].to_numpy()
    applies = np.isin(_estates(com), profile.land_estate_types)
    required = np.where(applies, pop * profile.land_per_resident_m2, np.nan)
    scope = ("not applicable: " + profile.rule("land.estate_types")) if "land.estate_types" in profile.values \
        else "not applicable: estate type"
    rule = np.where(applies, profile.rule("land.per_resident_m2"), scope).astype(object)
    if not has_site:
        # Land is never compared with floor area: without site areas it is the land to reserve.
        status = np.where(applies, "not checkable: no site area", "not applicable: estate type")
        return {"land_required_m2": required, "land_rule": rule, "land_provided_m2": nan, "land_gap_m2": nan,
                "land_status": status.astype(object)}
    provided = agg["site_provided_m2"].fillna(0.0).to_numpy()
    unknown = agg["facilities_site_unknown"].fillna(0).to_numpy()
    gap = np.where(applies, np.maximum(required - provided, 0.0), np.nan)
    status = np.select([~applies, np.isnan(pop), unknown > 0, gap > 0],
                       ["not applicable: estate type", "population unknown", "site area unknown", "short"], "met")
    return {"land_required_m2": required, "land_rule": rule, "land_provided_m2": np.where(applies, provided, np.nan),
            "land_gap_m2": gap, "land_status": status.astype(object)}


def _tier_block(com: pd.DataFrame, agg: pd.DataFrame, profile: NormProfile) -> dict[str, Any]:
    """Tier by population band (lower bound inclusive, highest band first), the tier task, beds
    and subsidies of the new facility."""
    n = len(com)
    pop = com["population"].to_numpy()
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
    kinds = pd.Series(tier_req)
    present_rank = agg["rank_present"].fillna(0).astype(int).to_numpy()
    rank_to_kind = {v["tier"]: k for k, v in FACILITY_KINDS.items() if v["tier"] >= 1}
    met = (req_rank == 0) | (present_rank >= req_rank)
    new = pd.Series(np.where(met, "", tier_req), dtype=object)
    out: dict[str, Any] = {
        "tier_required": tier_req, "tier_required_rule": tier_rule,
        "tier_present": pd.Series(present_rank).map(rank_to_kind).astype(object).fillna("").to_numpy(dtype=object),
        "tier_met": met,
        "facilities_below_tier_area": agg["facilities_below_tier_area"].fillna(0).astype(int).to_numpy(),
        "new_facility": new.to_numpy(),
    }
    for kind in TIER_KINDS:
        out[f"new_{kind}"] = (new == kind).astype(int).to_numpy()
    beds_req = _tier_figure(profile, kinds, "min_beds")
    beds = agg["beds_provided"].fillna(0.0).to_numpy()
    build = {t.kind: t.build_cost_cny or 0.0 for t in profile.tiers}
    oper = {t.kind: t.operating_subsidy_cny_per_year or 0.0 for t in profile.tiers}
    # A figure the profile does not state counts as 0 under that profile; subsidy_rule says so.
    out |= {"beds_required": beds_req, "beds_required_rule": _tier_rule_label(profile, kinds, "min_beds"),
            "beds_provided": beds,
            "bed_shortfall": np.where(np.isnan(beds_req), np.nan, np.maximum(beds_req - beds, 0.0)),
            "subsidy_build_cny": new.map(build).fillna(0.0).astype(float).to_numpy(),
            "subsidy_operating_cny_per_year": new.map(oper).fillna(0.0).astype(float).to_numpy(),
            "subsidy_rule": new.map({k: _subsidy_rule(profile, k) for k in TIER_KINDS}).astype(object)
            .fillna("").to_numpy()}
    return out


def _tier_figure(profile: NormProfile, kinds: pd.Series, attr: str) -> np.ndarray:
    """A tier figure per community, looked up by its required tier (a map over the few tiers)."""
    lookup = {t.kind: getattr(t, attr) for t in profile.tiers if getattr(t, attr) is not None}
    return kinds.map(lookup).astype(float).to_numpy()


def _tier_rule_label(profile: NormProfile, kinds: pd.Series, attr: str) -> np.ndarray:
    keys = {t.kind: f"tiers.{t.kind}.{attr}" for t in profile.tiers}
    lookup = {k: profile.rule(v) for k, v in keys.items() if v in profile.values}
    return kinds.map(lookup).astype(object).fillna("").to_numpy(dtype=object)


def _floor_area_block(out: pd.DataFrame, agg: pd.DataFrame, profile: NormProfile, language: str) -> dict[str, Any]:
    """Floor area (建筑面积) required by each rule, the binding one, and the tier-cap plan."""
    n = len(out)
    pop, hh = out["population"].to_numpy(), out["households"].to_numpy()
    estate = _estates(out)
    req_res = np.full(n, np.nan)
    rule_res = np.full(n, "no per-resident floor-area rule in profile", dtype=object)
    if profile.per_resident_m2:
        applies = np.isin(estate, profile.per_resident_estate_types)
        req_res = np.where(applies, pop * profile.per_resident_m2, np.nan)
        scope = ("not applicable: " + profile.rule("area.per_resident_estate_types")
                 if "area.per_resident_estate_types" in profile.values else "not applicable: estate type")
        rule_res = np.where(applies, profile.rule("area.per_resident_m2"), scope).astype(object)
    req_hh = np.full(n, np.nan)
    rule_hh = np.full(n, "", dtype=object)
    # An estate under old-town redevelopment is an existing (已建成) estate for the household rule.
    known = np.where(estate == "redevelopment", "existing", estate)
    eff_estate = np.where(known == "unknown", profile.unknown_estate_type, known)
    for etype, rate in (("new", profile.per_100_households_new_m2), ("existing", profile.per_100_households_existing_m2)):
        if not rate:
            continue
        sel = eff_estate == etype
        req_hh = np.where(sel, hh / 100.0 * rate, req_hh)
        label = profile.rule(f"area.per_100_households_{etype}_m2")
        unknown_label = f"{label} (estate type unknown, taken as {etype})"
        rule_hh = np.where(sel, np.where(known == "unknown", unknown_label, label), rule_hh)
    rule_hh = np.where((rule_hh != "") & np.isnan(hh), "households unknown", rule_hh)
    if not (profile.per_100_households_new_m2 or profile.per_100_households_existing_m2):
        rule_hh[:] = "no per-household rule in profile"
    kinds = pd.Series(out["tier_required"].to_numpy())
    req_tier = _tier_figure(profile, kinds, "min_floor_area_m2")
    stack = np.vstack([req_res, req_hh, req_tier])
    rules = np.vstack([rule_res, rule_hh, _tier_rule_label(profile, kinds, "min_floor_area_m2")])
    has_req = ~np.isnan(stack).all(axis=0)
    binding = np.argmax(np.where(np.isnan(stack), -np.inf, stack), axis=0)  # first max wins ties
    required = np.where(has_req, stack[binding, np.arange(n)], np.nan)
    provided = agg["area_provided_m2"].fillna(0.0).to_numpy()
    tier_max = _tier_figure(profile, kinds, "max_floor_area_m2")
    exceeds = np.nan_to_num(required, nan=0.0) > np.nan_to_num(tier_max, nan=np.inf)
    plan = np.full(n, "", dtype=object)
    for i in np.flatnonzero(exceeds):  # only the communities in conflict, usually a few
        plan[i] = tier_cap_plan(profile, kinds.iloc[i], float(required[i]), language=language)
    return {"area_per_resident_m2": req_res, "area_per_resident_rule": rule_res,
            "area_per_households_m2": req_hh, "area_per_households_rule": rule_hh,
            "area_tier_min_m2": req_tier, "area_tier_min_rule": rules[2],
            "area_required_m2": required,
            "area_required_rule": np.where(has_req, rules[binding, np.arange(n)], "no floor-area rule applies"),
            "area_provided_m2": provided,
            "facilities_area_unknown": agg["facilities_area_unknown"].fillna(0).astype(int).to_numpy(),
            "area_gap_m2": np.where(has_req, np.maximum(required - provided, 0.0), np.nan),
            "area_tier_max_m2": tier_max, "area_exceeds_tier_max": exceeds, "area_plan": plan}


def tier_cap_plan(profile: NormProfile, kind: str, required_m2: float, *, language: str = "zh") -> str:
    """How ``required_m2`` of floor area can be met when it exceeds the largest facility of tier
    ``kind`` the profile allows: one facility of that tier at its maximum plus the rest in
    facilities of that tier or lower within their own sizes, or one facility of a higher tier
    (none larger than its tier allows). Each size names its rule. ``""`` when no cap binds."""
    tier = profile.tier(kind)
    if tier is None or tier.max_floor_area_m2 is None or required_m2 <= tier.max_floor_area_m2:
        return ""
    top = tier.max_floor_area_m2
    rest = required_m2 - top
    name = _kind_name(kind, language)
    lower = [t for t in profile.tiers if t.rank <= tier.rank and t.min_floor_area_m2 is not None]
    fits = [t for t in lower if t.min_floor_area_m2 <= rest <= (t.max_floor_area_m2 or math.inf)]
    if fits:
        t = fits[0]  # highest tier whose size range holds the rest in one facility
        extra = (f"1个{_kind_name(t.kind, language)}（{_m2(rest)}平方米，{_size_rule(profile, t)}）" if language == "zh"
                 else f"one {_kind_name(t.kind, language)} of {_m2(rest)} m² ({_size_rule(profile, t)})")
    elif lower and rest < min(t.min_floor_area_m2 for t in lower):
        t = min(lower, key=lambda t: t.min_floor_area_m2)
        extra = (f"1个{_kind_name(t.kind, language)}（按其最小{_m2(t.min_floor_area_m2)}平方米，{_size_rule(profile, t)}）"
                 if language == "zh" else
                 f"one {_kind_name(t.kind, language)} at its minimum of {_m2(t.min_floor_area_m2)} m² "
                 f"({_size_rule(profile, t)})")
    else:
        k = math.ceil(rest / top)
        extra = (f"{k}个{name}（每个不超过{_m2(top)}平方米）" if language == "zh"
                 else f"{k} more {name}(s) of at most {_m2(top)} m² each")
    higher = [t for t in profile.tiers if t.rank > tier.rank and t.min_floor_area_m2 is not None
              and (t.max_floor_area_m2 is None or t.max_floor_area_m2 >= required_m2)]
    cap = profile.rule(f"tiers.{kind}.max_floor_area_m2")
    if language == "zh":
        text = (f"所需{_m2(required_m2)}平方米超过单个{name}的上限{_m2(top)}平方米（{cap}）：可建1个{_m2(top)}平方米的"
                f"{name}加{extra}")
        if higher:
            h = higher[-1]  # the next tier up
            text += (f"；或改为新建1个{_kind_name(h.kind, language)}（不少于{_m2(max(required_m2, h.min_floor_area_m2))}"
                     f"平方米，{_size_rule(profile, h)}）")
        return text
    text = (f"{_m2(required_m2)} m² exceeds the largest {name} allowed, {_m2(top)} m² ({cap}): e.g. one "
            f"{_m2(top)} m² {name} plus {extra}")
    if higher:
        h = higher[-1]
        text += (f"; or one {_kind_name(h.kind, language)} of at least "
                 f"{_m2(max(required_m2, h.min_floor_area_m2))} m² ({_size_rule(profile, h)})")
    return text


def _kind_name(kind: str, language: str) -> str:
    return FACILITY_KINDS[kind]["zh"] if language == "zh" else FACILITY_KINDS[kind]["en"].lower()


def _size_rule(profile: NormProfile, tier: TierRule) -> str:
    keys = [f"tiers.{tier.kind}.{k}" for k in ("min_floor_area_m2", "max_floor_area_m2")]
    return "; ".join(profile.rule(k) for k in keys if k in profile.values)


def _m2(value: float) -> str:
    return f"{value:,.1f}".rstrip("0").rstrip(".")


def _access_block(com: pd.DataFrame, access_table: pd.DataFrame | None) -> dict[str, Any]:
    """Walk coverage columns joined from the access engine's community table."""
    n = len(com)
    if access_table is None:
        return {c: np.full(n, np.nan) for c in ACCESS_COLUMNS} | {"coverage_status": "not computed"}
    acc = pd.DataFrame(access_table).copy()
    acc["community_id"] = acc["community_id"].astype(str)
    found = com["community_id"].isin(acc["community_id"]).to_numpy()
    acc = acc.drop_duplicates("community_id").set_index("community_id").reindex(com["community_id"])
    out = {c: pd.to_numeric(acc[c], errors="coerce").to_numpy() if c in acc else np.full(n, np.nan)
           for c in ACCESS_COLUMNS}
    out["coverage_status"] = np.where(found, "computed", "missing from access table")
    return out


def _capacity_block(com: pd.DataFrame, agg: pd.DataFrame, profile: NormProfile) -> dict[str, Any]:
    """Service capacity against recipients (e.g. Beijing: 200-300 basic-service recipients per
    post). Recipients come from the profile's ``recipient_base`` column only: without its
    values the rule is reported as not checked, never estimated from all older residents."""
    n = len(com)
    cols = ("service_recipients", "stations_required_min", "stations_required_max", "stations_present",
            "station_shortfall", "capacity_provided", "capacity_gap")
    empty = {c: np.full(n, np.nan) for c in cols}
    if not profile.has_capacity_rule:
        return empty | {"service_capacity_rule": "no service capacity rule in profile",
                        "service_capacity_status": "no rule"}
    base = com[profile.recipient_base].to_numpy(dtype=float)
    rule = f"{profile.rule('service_capacity.recipients_per_facility_max')}; recipients = {profile.recipient_base}"
    if profile.recipient_share != 1.0:
        rule += f" x {profile.recipient_share:g}"
    if np.isnan(base).all():
        return empty | {"service_capacity_rule": rule, "service_capacity_status": f"no {profile.recipient_base}"}
    recipients = base * profile.recipient_share
    present = agg["stations_present"].fillna(0).to_numpy().astype(float)
    need_min = np.ceil(recipients / profile.recipients_per_facility_max)
    capacity = agg["capacity_provided"].fillna(0.0).to_numpy()
    return {"service_recipients": recipients, "stations_required_min": need_min,
            "stations_required_max": np.ceil(recipients / profile.recipients_per_facility_min),
            "stations_present": present, "station_shortfall": np.maximum(need_min - present, 0.0),
            "capacity_provided": capacity, "capacity_gap": np.maximum(recipients - capacity, 0.0),
            "service_capacity_rule": rule,
            "service_capacity_status": np.where(np.isnan(recipients), "recipients unknown", "checked").astype(object)}


def _subsidy_rule(profile: NormProfile, kind: str) -> str:
    if not kind:
        return ""
    keys = [f"tiers.{kind}.{k}" for k in ("build_subsidy_cny", "build_subsidy_extra_cny",
                                           "operating_subsidy_cny_per_year")]
    found = [profile.rule(k) for k in keys if k in profile.values]
    return "; ".join(found) if found else "no subsidy figure in profile"


# ---------------------------------------------------------------------------------------------
# Roll-up by district or street

_SUM_COLUMNS = (["population", "households", "elderly_population", "basic_service_recipients"]
                + [f"existing_{k}" for k in FACILITY_KINDS]
                + [f"new_{k}" for k in TIER_KINDS] + ["facilities_below_tier_area"]
                + ["subsidy_build_cny", "subsidy_operating_cny_per_year",
                   "area_required_m2", "area_provided_m2", "area_gap_m2",
                   "land_required_m2", "land_provided_m2", "land_gap_m2",
                   "beds_required", "beds_provided", "bed_shortfall",
                   "residents_within", "elderly_within", "households_within",
                   "service_recipients", "stations_required_min", "stations_required_max",
                   "stations_present", "station_shortfall", "capacity_provided", "capacity_gap"])
_SHARES = (("share_residents_within", "residents_within", "population"),
           ("share_elderly_within", "elderly_within", "elderly_population"),
           ("share_households_within", "households_within", "households"))


def rollup(community_table: pd.DataFrame, facilities: pd.DataFrame | None, profile: NormProfile,
           by: str = "district", total: bool = True, *, language: str = "zh") -> pd.DataFrame:
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
    Land (``land_*``, 用地) is summed apart from floor area (``area_*``); the land gap is NaN
    when no site area was given (the land is then what plans must reserve).

    By district, when the profile carries official targets (Baoji annex 2) for districts of the
    study, ``official_<column>`` columns show them beside the rule's counts, with
    ``official_differences`` and ``official_row_check`` (see
    :func:`eldercare_coverage.norm_sources.compare_official_targets`).
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
           "land_required_m2", "land_provided_m2", "land_gap_m2", "basic_service_recipients",
           "beds_required", "beds_provided", "bed_shortfall",
           "service_recipients", "stations_required_min", "stations_required_max", "stations_present",
           "station_shortfall", "capacity_provided", "capacity_gap"]
    res = res[[c for c in order if c in res]]
    if by == "district" and profile.official_targets is not None:
        res = compare_official_targets(res, profile.official_targets)
    return res
