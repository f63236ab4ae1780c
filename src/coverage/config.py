"""The study configuration: one TOML file naming the inputs, their columns and CRS, the walk
parameters, the norm profile, siting options and where outputs go.

Every key has a default except the communities file. Unknown keys and wrong types are errors
that name the key. Relative paths resolve against the folder of the config file.

Example::

    [study]
    name = "chengdu-north"
    language = "zh"               # zh | en

    [inputs.communities]
    path = "communities.geojson"
    crs = "EPSG:4326"             # overrides the file's own CRS (a warning names both)
    [inputs.communities.columns]  # canonical name = your column name
    community_id = "社区编码"
    population = "人口"

    [access]
    walk_speed = "older"          # older 0.9 m/s | general 1.0 | frail 0.76 | a number in m/s
    time_limit_min = 15

    [norms]
    profile = "national"
"""

from __future__ import annotations

import dataclasses
import difflib
import errno
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import tomllib

from .errors import InputError, ProblemReport
from .messages import Text, detect_language, language_of

#: Walking speeds in m/s. ``older`` is the default: about 810 m in 15 minutes.
WALK_SPEEDS: dict[str, float] = {"older": 0.9, "general": 1.0, "frail": 0.76}

#: Basemap tile hosts refused: Baidu (BD-09 with its own tile grid) and Tencent (GCJ-02 with
#: flipped tile rows) cannot be lined up by shifting the overlays, so they are refused rather
#: than silently misdrawn (checked in the config and again by the map).
REFUSED_TILE_HINTS = ("baidu", "bdimg", "bdstatic", "qq.com", "tencent", "gtimg")

#: Coordinate systems pyproj does not know: Chinese web-map obfuscations, converted to WGS-84.
CHINESE_WEB_CRS = ("GCJ-02", "BD-09")


@dataclass
class LayerInput:
    """One input file and how to read it."""

    path: str = ""
    #: The coordinates' CRS: an EPSG code / PROJ string, or "GCJ-02" / "BD-09" for Amap/Tencent and
    #: Baidu coordinates. Needed when the file declares none (tables, a Shapefile without .prj);
    #: when the file declares another, this one wins (with a warning naming both), since it is
    #: set precisely when the file's declaration is wrong (GCJ-02 coordinates labelled WGS-84).
    crs: str = ""
    #: Layer name in a GeoPackage; sheet name in an Excel workbook.
    layer: str = ""
    #: Table columns holding coordinates (x/lon and y/lat) or a WKT geometry.
    x_column: str = ""
    y_column: str = ""
    wkt_column: str = ""
    #: Canonical column name -> the user's column name.
    columns: dict[str, str] = field(default_factory=dict)
    #: Text encoding of a CSV file; "" tries UTF-8 (with or without BOM), then GB18030.
    encoding: str = ""


@dataclass
class PopulationInput(LayerInput):
    """A separate population table (census or 民政 spreadsheet) joined to the communities."""

    #: Join key: "community_id" or "name".
    join_on: str = "community_id"


@dataclass
class NetworkInput:
    """The walk network source."""

    #: .osm / .osm.bz2 XML, .osm.pbf, or .graphml; "" means no network (norm checks only).
    path: str = ""
    #: Download from OpenStreetMap through osmnx when no path is given and the machine is online.
    download: bool = False
    #: Clip the network to the study area plus this margin (m).
    margin_m: float = 1500.0


@dataclass
class DemInput:
    """An optional digital elevation model for slope-aware walk times (see ``walkcost``)."""

    #: GeoTIFF (or any raster GDAL reads) of elevations in metres, in any CRS; "" = no slopes.
    path: str = ""
    #: Overrides the raster's own CRS (or gives one it lacks), e.g. "EPSG:4326".
    crs: str = ""


@dataclass
class Inputs:
    communities: LayerInput = field(default_factory=LayerInput)
    population: PopulationInput = field(default_factory=PopulationInput)
    facilities: LayerInput = field(default_factory=LayerInput)
    candidates: LayerInput = field(default_factory=LayerInput)
    buildings: LayerInput = field(default_factory=LayerInput)
    #: Optional district (or other administrative) boundaries drawn on the map: polygons or
    #: lines with a name column; without it the map outlines districts from the communities.
    districts: LayerInput = field(default_factory=LayerInput)
    #: Optional compound gates (小区出入口) as points, with optional access / opening_hours
    #: columns; without it, gates come from the OSM network file's gate and entrance nodes.
    gates: LayerInput = field(default_factory=LayerInput)
    network: NetworkInput = field(default_factory=NetworkInput)
    #: Optional elevation model: walk times follow the slopes (Tobler's hiking function).
    dem: DemInput = field(default_factory=DemInput)


@dataclass
class StudySection:
    #: Short name used in file names (the map is maps/<name>.html).
    name: str = "study"
    #: The title reports and maps show (e.g. "成都市金牛区一刻钟养老服务圈评估"); blank = the name.
    title: str = ""
    #: Report and map language: "zh" (default) or "en".
    language: str = "zh"
    #: "auto" picks the UTM zone of the study area; otherwise any metric CRS pyproj knows.
    metric_crs: str = "auto"
    #: Points (facilities, candidates) farther than this outside the communities' extent are
    #: reported as probably in the wrong CRS (m).
    extent_margin_m: float = 5000.0


@dataclass
class AccessSection:
    #: "older" (0.9 m/s, default), "general" (1.0), "frail" (0.76), or a number in m/s.
    walk_speed: Union[str, float] = "older"
    #: The walk time limit (minutes).
    time_limit_min: float = 15.0
    #: Isochrone bands drawn on maps (minutes).
    bands_min: list[float] = field(default_factory=lambda: [5.0, 10.0, 15.0])
    #: Points farther than this from any street are reported off-network (m).
    snap_max_m: float = 250.0
    #: Demand grid spacing inside each community when no building layer is given (m, at least 5).
    grid_spacing_m: float = 50.0
    #: Refuse a demand grid estimated above this many points (memory grows with it: about
    #: 128 bytes per lattice point while the grid is built).
    max_demand_points: int = 2_000_000
    #: Ignored (kept so older configs load): isochrones follow the access model, a street reached
    #: with r metres of walk left covering min(r, snap_max_m) around it.
    street_buffer_m: float = 40.0
    #: Facility kinds that count for walk coverage (一刻钟: day-care centres, service centres and
    #: service stations); other kinds (nursing homes, meal points) are mapped but do not cover.
    facility_kinds: list[str] = field(default_factory=lambda: ["day_care_centre", "service_centre",
                                                                "service_station"])
    #: "auto": homes (and facilities) inside a community polygon with known gates reach the
    #: streets only through those gates; "off": every point snaps to its nearest street.
    gated_compounds: str = "auto"
    #: A gate counts for a compound when it lies within this distance of its boundary (m).
    gate_tolerance_m: float = 10.0
    #: Hour of day (0-24) at which gate opening_hours are read.
    gate_hour: float = 10.0
    #: A home whose nearest street is a disconnected fragment is snapped past it to the main
    #: network only if that is at most this much farther (m); else it counts as fragment-only.
    fragment_max_extra_m: float = 150.0
    #: Speed on steps (highway=steps) as a share of the walk speed: "auto" = the walk-speed
    #: preset's (general 0.7, older 0.6, frail 0.5; a numeric speed uses 0.6), or a number in (0, 1].
    steps_speed_factor: Union[str, float] = "auto"
    #: Wheelchair users: steps are not walkable at all (elevators and ramps stay).
    avoid_steps: bool = False


@dataclass
class NormsSection:
    #: Shipped profile name (see ``eldercare-coverage profiles``).
    profile: str = "national"
    #: Optional user profile file (TOML) extending a shipped one.
    profile_file: str = ""


@dataclass
class SitingSection:
    #: "" (no siting), "lscp", "partial", "mclp", "pmedian", "pcenter".
    model: str = ""
    #: Number of new sites (mclp, pmedian, pcenter); 0 = not set.
    p: int = 0
    #: Budget in CNY for new sites (mclp); 0 = not set.
    budget: float = 0.0
    #: Target covered share for the partial model (0..1).
    target_share: float = 0.9
    #: Demand weight: "population", "elderly_population" or "households".
    weight: str = "elderly_population"
    #: Tiers a candidate may host (costs from the norm profile's build subsidies); a candidate's
    #: ``kind`` limits it to that tier, blank = any. [] = no tiers: each candidate is one site.
    tiers: list[str] = field(default_factory=list)
    #: Minimum covered share per district (0 = no equity constraint).
    min_district_share: float = 0.0
    capacitated: bool = False
    time_limit_s: float = 120.0
    mip_gap: float = 0.0
    #: "exact", "heuristic" or "auto" (exact unless the instance is very large).
    method: str = "auto"
    #: Phased (nested) plan: increasing cumulative numbers of new sites, e.g. [2, 5, 10]; each
    #: phase's plan contains the previous one (mclp / pmedian; see siting.phased). [] = off.
    phases: list[int] = field(default_factory=list)


@dataclass
class AccessibilitySection:
    """Capacity-aware accessibility (2SFCA family) on the walk-time matrix; see
    :mod:`eldercare_coverage.accessibility`. On by default (classic 2SFCA, floor area per older
    resident): it costs milliseconds once walk access exists. ``measure = ""`` turns it off."""

    #: "" (off), "2sfca", "e2sfca", "g2sfca" (Gaussian), "kd2sfca" (kernel), "3sfca", "gravity".
    measure: str = "2sfca"
    #: Supply per facility: "floor_area" (floor_area_m2), "beds" or "capacity".
    supply: str = "floor_area"
    #: Demand per point: "elderly" (elderly_population), "residents" or "households".
    demand: str = "elderly"
    #: Distance decay: the kernel exponent (kd2sfca: 1 Epanechnikov, 2 quartic) or the gravity power β.
    decay: float = 1.0
    #: Walk-time bands (minutes) of E2SFCA / 3SFCA and their weights (Luo & Qi 2009).
    bands_min: list[float] = field(default_factory=lambda: [5.0, 10.0, 15.0])
    band_weights: list[float] = field(default_factory=lambda: [1.0, 0.68, 0.22])
    #: Accessibility (supply per demand unit) below which residents count as under-served;
    #: 0 = half the study-wide mean.
    threshold: float = 0.0
    #: Also pick [siting] p candidates greedily for an accessibility objective: "" (off), "mean",
    #: "min", "variance", "gini" or "below" (a heuristic; the report says so).
    objective: str = ""


@dataclass
class ComputeSection:
    """Where walk access is computed (README "Scale-out"): here, or tile by tile on Dask."""

    #: "local" (default: this process), "processes" (a Dask LocalCluster of ``workers``
    #: processes) or "tcp://host:8786" (a running Dask cluster).
    scheduler: str = "local"
    workers: int = 2
    #: "auto" (no tiles under "local"; by district, or a grid without districts, on Dask),
    #: "none", "district" or "grid".
    tiling: str = "auto"
    #: Grid cell size (m) for tiling = "grid".
    tile_size_m: float = 5000.0
    #: Added to the walk limit and snap distance to make a tile's halo (m).
    halo_margin_m: float = 250.0
    #: Attempts after a tile fails.
    retries: int = 2


@dataclass
class OutputSection:
    #: Folders for tables/GeoPackages, reports and maps.
    data_dir: str = "out"
    reports_dir: str = "reports"
    maps_dir: str = "maps"
    #: Basemap tiles: "none" (default, works offline), "osm", "tianditu", or a URL template.
    basemap: str = "none"
    tianditu_key: str = ""
    #: Also write a static PNG of the map (needs Chromium; skipped with a warning without it).
    png: bool = True


@dataclass
class StudyConfig:
    """A whole study. Paths are absolute once loaded through :func:`load_config`."""

    study: StudySection = field(default_factory=StudySection)
    inputs: Inputs = field(default_factory=Inputs)
    access: AccessSection = field(default_factory=AccessSection)
    norms: NormsSection = field(default_factory=NormsSection)
    siting: SitingSection = field(default_factory=SitingSection)
    accessibility: AccessibilitySection = field(default_factory=AccessibilitySection)
    output: OutputSection = field(default_factory=OutputSection)
    compute: ComputeSection = field(default_factory=ComputeSection)
    #: The config file this came from (None when built in Python).
    source: Path | None = None

    @property
    def walk_speed_mps(self) -> float:
        """Walking speed (m/s) after resolving presets."""
        return resolve_walk_speed(self.access.walk_speed)

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source else Path.cwd()


def resolve_walk_speed(value: str | float) -> float:
    """Walking speed in m/s from a preset name or a number (within ``NUMERIC_RANGES``)."""
    if isinstance(value, str):
        if value in WALK_SPEEDS:
            return WALK_SPEEDS[value]
        try:
            value = float(value)
        except ValueError:
            raise InputError("config.walk_speed_unknown", "config", value=value, presets=", ".join(WALK_SPEEDS))
    speed = float(value)
    problem = NUMERIC_RANGES["access.walk_speed"].problem("access.walk_speed", speed)
    if problem:
        raise InputError(problem, "config")
    return speed


@dataclass(frozen=True)
class Range:
    """The plausible values of one numeric setting: ``low``..``high`` in ``unit``."""

    low: float
    high: float
    unit: str
    example: str
    #: The low end itself is not allowed (a time limit of 0 minutes).
    low_open: bool = False

    def problem(self, key: str, value: float) -> Text | None:
        """The problem (message id and values) when ``value`` is outside the range or NaN, else None."""
        v = float(value)
        if (v > self.low if self.low_open else v >= self.low) and v <= self.high:  # NaN fails both
            return None
        unit = f" {self.unit}" if self.unit else ""
        bounds = f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]{unit}"
        return Text("config.value_nan" if math.isnan(v) else "config.value_out_of_range", key=key, value=f"{v:g}",
                    bounds=bounds, name=key.rsplit(".", 1)[-1], example=self.example)


#: Every numeric setting with its plausible range, written once (scikit-learn's parameter
#: constraints as data); :func:`validate_config` checks them all. Lists are checked per item.
NUMERIC_RANGES: dict[str, Range] = {
    "study.extent_margin_m": Range(0, 1_000_000, "m", "5000"),
    "inputs.network.margin_m": Range(0, 50_000, "m", "1500"),
    "access.walk_speed": Range(0.3, 2.5, "m/s", "0.9"),
    "access.time_limit_min": Range(0, 120, "minutes", "15", low_open=True),
    "access.bands_min": Range(0, 120, "minutes", "[5, 10, 15]", low_open=True),
    "access.snap_max_m": Range(0, 5_000, "m", "250", low_open=True),
    "access.grid_spacing_m": Range(5, 10_000, "m", "50"),
    "access.max_demand_points": Range(1, 200_000_000, "points", "2000000"),
    "access.street_buffer_m": Range(0, 1_000, "m", "40", low_open=True),
    "access.gate_tolerance_m": Range(0, 200, "m", "10"),
    "access.gate_hour": Range(0, 24, "h", "10"),
    "access.fragment_max_extra_m": Range(0, 5_000, "m", "150"),
    "siting.p": Range(0, 100_000, "sites", "5"),
    "siting.budget": Range(0, 1e12, "CNY", "3000000"),
    "siting.target_share": Range(0, 1, "", "0.9", low_open=True),
    "siting.min_district_share": Range(0, 1, "", "0.8"),
    "siting.time_limit_s": Range(0, 86_400, "s", "120", low_open=True),
    "siting.mip_gap": Range(0, 1, "", "0.001"),
    "accessibility.decay": Range(0, 10, "", "1.0", low_open=True),
    "accessibility.bands_min": Range(0, 120, "minutes", "[5, 10, 15]", low_open=True),
    "accessibility.threshold": Range(0, 1e9, "supply per demand unit", "0"),
    "compute.workers": Range(1, 4096, "workers", "2"),
    "compute.tile_size_m": Range(100, 1_000_000, "m", "5000"),
    "compute.halo_margin_m": Range(0, 50_000, "m", "250"),
    "compute.retries": Range(0, 100, "attempts", "2"),
}


def _validate_compute(cfg: ComputeSection, report: ProblemReport, file: str) -> None:
    if cfg.scheduler not in ("local", "processes") and not cfg.scheduler.startswith("tcp://"):
        report.error(file, "config.compute_scheduler_unknown", value=cfg.scheduler, field="compute.scheduler")
    if cfg.tiling not in ("auto", "none", "district", "grid"):
        report.error(file, "config.compute_tiling_unknown", value=cfg.tiling, field="compute.tiling")


def _check_ranges(config: StudyConfig, report: ProblemReport, file: str) -> None:
    for key, rule in NUMERIC_RANGES.items():
        value: Any = config
        for part in key.split("."):
            value = getattr(value, part)
        if key == "access.walk_speed":  # a preset name or a number: resolve_walk_speed applies this rule
            try:
                resolve_walk_speed(value)
            except InputError as exc:
                first = exc.report.errors[0]
                report.error(file, Text(first.code, **first.params), field=key)
            continue
        for item in value if isinstance(value, list) else [value]:
            problem = rule.problem(key, item)
            if problem:
                report.error(file, problem, field=key)
                break


def input_file_problem(path: str | Path) -> Text | None:
    """Why ``path`` cannot be read as an input file (a message id and values); None for a regular file.

    Only ``stat`` is used, so a FIFO or a device is never opened: reading one blocks or never ends.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Text("config.file_not_found")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Text("config.path_link_loop")
        return Text("config.path_unreadable", detail=exc.strerror)
    if stat.S_ISDIR(st.st_mode):
        return Text("config.path_is_folder")
    if not stat.S_ISREG(st.st_mode):
        kind = ("config.kind_fifo" if stat.S_ISFIFO(st.st_mode) else
                "config.kind_device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "config.kind_special")
        return Text("config.path_special", kind=Text(kind))
    return None


def closest(name: str, options) -> Text | str:
    """" Did you mean 'x'?" (a :class:`Text`) for the option closest to a misspelt ``name``, or ""."""
    match = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return Text("hint.did_you_mean", name=match[0]) if match else ""


_PATH_FIELDS = {"path", "profile_file"}
_OUTPUT_DIRS = {"data_dir", "reports_dir", "maps_dir"}


def load_config(path: str | Path, *, raise_on_error: bool = True) -> StudyConfig:
    """Read and validate a study config (TOML); relative paths resolve against its folder.

    ``raise_on_error=False`` (``validate`` and ``run``, so the inputs are checked in the same
    round): a config that parses is returned with its errors in ``config.warnings``, which the
    study's problem report takes over; unreadable or invalid TOML still raises."""
    path = Path(path)
    name = str(path)
    problem = input_file_problem(path)
    if problem:
        # No text to read the language from: the default (zh), as for every message before a config.
        raise InputError(problem if os.path.lexists(path) else Text("config.config_not_found"), name)
    try:
        # utf-8-sig: Notepad and some editors save UTF-8 with a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("config.config_not_utf8", name, language=detect_language(path.read_bytes())) from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The config cannot be parsed: its language line is read from the raw text.
        raise InputError("config.config_not_toml", name, language=detect_language(text), detail=str(exc)) from None
    study = raw.get("study")
    report = ProblemReport(language=language_of(study.get("language") if isinstance(study, dict) else None))
    config = config_from_dict(raw, report, name)
    if raise_on_error:
        report.raise_if_errors()
    config.source = path.resolve()
    resolve_paths(config, config.base_dir)
    validate_config(config, report, name)
    if raise_on_error:
        report.raise_if_errors()
    config.warnings = report.warnings if raise_on_error else report.problems  # into the study's report
    return config


def config_from_dict(raw: dict, report: ProblemReport | None = None, file: str = "config") -> StudyConfig:
    """Build a config from a parsed TOML mapping, recording unknown keys and wrong types."""
    own = report is None
    report = report or ProblemReport()
    config = _build(StudyConfig, raw, "", report, file)
    if own:
        report.raise_if_errors()
    return config


def _build(cls: type, raw: Any, prefix: str, report: ProblemReport, file: str):
    obj = cls()
    if not isinstance(raw, dict):
        report.error(file, "config.not_a_table", field=prefix.rstrip("."), key=prefix.rstrip("."))
        return obj
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    for key, value in raw.items():
        full = f"{prefix}{key}"
        if key not in known:
            report.error(file, "config.unknown_key", field=full, key=full, hint=closest(key, known),
                         known=", ".join(sorted(known)))
            continue
        expected = hints[key]
        if dataclasses.is_dataclass(expected):
            setattr(obj, key, _build(expected, value, full + ".", report, file))
            continue
        converted = _convert(value, expected)
        if converted is _BAD:
            report.error(file, "config.wrong_type", field=full, key=full, got=type(value).__name__,
                         value=repr(value), expected=_type_name(expected))
            continue
        setattr(obj, key, converted)
    return obj


_BAD = object()


def _convert(value: Any, expected: Any) -> Any:
    origin = get_origin(expected)
    if origin is Union:
        for option in get_args(expected):
            out = _convert(value, option)
            if out is not _BAD:
                return out
        return _BAD
    if origin is dict:
        key_t, val_t = get_args(expected)
        if not isinstance(value, dict):
            return _BAD
        out = {}
        for k, v in value.items():
            cv = _convert(v, val_t)
            if cv is _BAD:
                return _BAD
            out[str(k)] = cv
        return out
    if origin is list:
        (item_t,) = get_args(expected)
        if not isinstance(value, list):
            return _BAD
        out = [_convert(v, item_t) for v in value]
        return _BAD if any(v is _BAD for v in out) else out
    if expected is bool:
        return value if isinstance(value, bool) else _BAD
    if expected is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _BAD
    if expected is float:
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else _BAD
    if expected is str:
        return value if isinstance(value, str) else _BAD
    return _BAD


def _type_name(expected: Any) -> str:
    origin = get_origin(expected)
    if origin is Union:
        return " or ".join(_type_name(a) for a in get_args(expected))
    if origin is list:
        return f"a list of {_type_name(get_args(expected)[0])}"
    if origin is dict:
        return "a table of text values"
    return {bool: "true/false", int: "a whole number", float: "a number", str: "text"}.get(expected, str(expected))


def resolve_paths(config: StudyConfig, base: Path) -> None:
    """Make every input path and output folder absolute, relative to ``base``."""
    for layer in dataclasses.fields(config.inputs):
        section = getattr(config.inputs, layer.name)
        if section.path:
            section.path = _absolute(base, section.path)
    if config.norms.profile_file:
        config.norms.profile_file = _absolute(base, config.norms.profile_file)
    for key in _OUTPUT_DIRS:
        setattr(config.output, key, _absolute(base, getattr(config.output, key)))


def _absolute(base: Path, path: str) -> str:
    try:
        return str((base / path).resolve())
    except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13): reported on use
        return os.path.abspath(base / path)


def validate_config(config: StudyConfig, report: ProblemReport, file: str = "config") -> None:
    """Check values that are the right type but not allowed."""
    if config.study.language not in ("zh", "en"):
        report.error(file, "config.language_unknown", field="study.language", value=config.study.language)
    _check_ranges(config, report, file)
    if config.access.gated_compounds not in ("auto", "off"):
        report.error(file, "config.gated_compounds_unknown", field="access.gated_compounds",
                     value=config.access.gated_compounds)
    _validate_walk_costs(config, report, file)
    if config.access.street_buffer_m != AccessSection.street_buffer_m:
        report.warning(file, "config.street_buffer_ignored", field="access.street_buffer_m")
    if not config.inputs.communities.path:
        report.error(file, "config.no_communities", field="inputs.communities.path")
    if config.inputs.population.join_on not in ("community_id", "name"):
        report.error(file, "config.join_on_unknown", field="inputs.population.join_on",
                     value=config.inputs.population.join_on)
    if config.siting.model not in ("", "lscp", "partial", "mclp", "pmedian", "pcenter"):
        report.error(file, "config.siting_model_unknown", field="siting.model", value=config.siting.model)
    if config.siting.weight not in ("population", "elderly_population", "households"):
        report.error(file, "config.siting_weight_unknown", field="siting.weight", value=config.siting.weight)
    if config.siting.method not in ("auto", "exact", "heuristic"):
        report.error(file, "config.siting_method_unknown", field="siting.method", value=config.siting.method)
    _validate_siting(config, report, file)
    _validate_accessibility(config, report, file)
    _validate_compute(config.compute, report, file)
    from .schema import FACILITY_KINDS

    for kind in config.access.facility_kinds:
        if kind not in FACILITY_KINDS:
            report.error(file, "config.facility_kind_unknown", field="access.facility_kinds", value=kind,
                         known=", ".join(FACILITY_KINDS))
    if config.inputs.network.path:
        suffix = config.inputs.network.path.lower()
        if not suffix.endswith((".osm", ".osm.bz2", ".xml", ".osm.xml", ".xml.bz2", ".pbf", ".graphml")):
            report.error(config.inputs.network.path, "network.unknown_format", field="inputs.network.path")
        elif problem := input_file_problem(config.inputs.network.path):
            report.error(config.inputs.network.path, problem, field="inputs.network.path")
    _validate_profile_and_basemap(config, report, file)


def _validate_walk_costs(config: StudyConfig, report: ProblemReport, file: str) -> None:
    """``[access] steps_speed_factor`` and the ``[inputs.dem]`` file."""
    f = config.access.steps_speed_factor
    if isinstance(f, str) and f != "auto" or not isinstance(f, str) and not 0 < f <= 1:
        report.error(file, "config.steps_factor_invalid", field="access.steps_speed_factor", value=repr(f))
    dem = config.inputs.dem
    if dem.path and (problem := input_file_problem(dem.path)):
        report.error(dem.path, problem, field="inputs.dem.path")
    elif dem.crs and not dem.path:
        report.warning(file, "config.dem_crs_without_path", field="inputs.dem.crs")


_TIER_KINDS = ("day_care_centre", "service_centre", "service_station")


def _validate_siting(config: StudyConfig, report: ProblemReport, file: str) -> None:
    """Siting options that cannot work, caught before any network is built."""
    s = config.siting
    for tier in s.tiers:
        if tier not in _TIER_KINDS:
            report.error(file, "config.siting_tier_unknown", field="siting.tiers", value=tier,
                         known=", ".join(_TIER_KINDS))
    if s.model in ("pmedian", "pcenter") and s.p <= 0:
        report.error(file, "config.siting_needs_p", field="siting.p", model=s.model)
    if s.model == "mclp" and s.p <= 0 and s.budget <= 0:
        report.error(file, "config.mclp_needs_p_or_budget", field="siting.p")
    if s.phases:
        ph = s.phases
        if s.model not in ("mclp", "pmedian") or s.capacitated or s.min_district_share > 0:
            report.error(file, "config.phases_model", field="siting.phases", model=s.model)
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 1 for v in ph) or any(
                b <= a for a, b in zip(ph, ph[1:])):
            report.error(file, "config.phases_not_increasing", field="siting.phases", value=str(ph))
        if s.budget > 0:  # phased plans count sites; a budget would be silently ignored by them
            report.error(file, "config.phases_with_budget", field="siting.phases")


def _validate_accessibility(config: StudyConfig, report: ProblemReport, file: str) -> None:
    """``[accessibility]`` options the engine would refuse, named by key."""
    from .accessibility import DEMAND_COLUMNS, MEASURES, OBJECTIVES, SUPPLY_COLUMNS

    a = config.accessibility
    for key, allowed in (("measure", ("", *MEASURES)), ("supply", SUPPLY_COLUMNS), ("demand", DEMAND_COLUMNS)):
        if getattr(a, key) not in allowed:
            report.error(file, "config.accessibility_value_unknown", field=f"accessibility.{key}",
                         key=f"accessibility.{key}", value=getattr(a, key), known=", ".join(repr(x) for x in allowed))
    bands = a.bands_min  # each band's range is in NUMERIC_RANGES; here their order and weights
    if not bands or len(bands) != len(a.band_weights) or \
            any(b2 <= b1 for b1, b2 in zip(bands, bands[1:])) or any(not w >= 0 for w in a.band_weights):
        report.error(file, "config.accessibility_bands", field="accessibility.bands_min")
    if a.objective not in ("", *OBJECTIVES):
        report.error(file, "config.accessibility_value_unknown", field="accessibility.objective",
                     key="accessibility.objective", value=a.objective,
                     known=", ".join(repr(x) for x in ("", *OBJECTIVES)))
    elif a.objective and config.siting.p <= 0:
        report.error(file, "config.objective_needs_p", field="siting.p")


def _validate_profile_and_basemap(config: StudyConfig, report: ProblemReport, file: str) -> None:
    """The norm profile must load and the basemap must be one the map can use."""
    from . import norms

    if config.norms.profile_file and (problem := input_file_problem(config.norms.profile_file)):
        report.error(config.norms.profile_file, problem, field="norms.profile_file")
    else:
        try:
            norms.load_profile(config.norms.profile, config.norms.profile_file or None)
        except InputError as exc:
            for p in exc.report.errors:
                user_file = config.norms.profile_file and p.file == config.norms.profile_file
                report.error(p.file if user_file else file, Text(p.code, **p.params), row=p.row,
                             field=p.field if user_file else "norms.profile")

    basemap = config.output.basemap.strip().lower()
    if basemap not in ("none", "", "osm", "tianditu", "amap", "gaode") and \
            not basemap.startswith(("http://", "https://")):
        report.error(file, "config.basemap_unknown", field="output.basemap", value=config.output.basemap)
    elif any(h in basemap for h in REFUSED_TILE_HINTS):
        report.error(file, "config.basemap_refused", field="output.basemap", value=config.output.basemap)
    if basemap == "tianditu" and not config.output.tianditu_key:
        report.error(file, "config.tianditu_needs_key", field="output.tianditu_key")
