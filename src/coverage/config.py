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
    crs = "EPSG:4326"             # only used when the file declares none
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
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from .errors import InputError, ProblemReport

#: Walking speeds in m/s. ``older`` is the default: about 810 m in 15 minutes.
WALK_SPEEDS: dict[str, float] = {"older": 0.9, "general": 1.0, "frail": 0.76}

#: Coordinate systems pyproj does not know: Chinese web-map obfuscations, converted to WGS-84.
CHINESE_WEB_CRS = ("GCJ-02", "BD-09")


@dataclass
class LayerInput:
    """One input file and how to read it."""

    path: str = ""
    #: CRS used when the file declares none (tables always need one unless lon/lat WGS-84):
    #: an EPSG code / PROJ string, or "GCJ-02" / "BD-09" for Amap/Tencent and Baidu coordinates.
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
class Inputs:
    communities: LayerInput = field(default_factory=LayerInput)
    population: PopulationInput = field(default_factory=PopulationInput)
    facilities: LayerInput = field(default_factory=LayerInput)
    candidates: LayerInput = field(default_factory=LayerInput)
    buildings: LayerInput = field(default_factory=LayerInput)
    network: NetworkInput = field(default_factory=NetworkInput)


@dataclass
class StudySection:
    name: str = "study"
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
    #: Demand grid spacing inside each community when no building layer is given (m).
    grid_spacing_m: float = 50.0
    #: Street-side width of isochrones (m).
    street_buffer_m: float = 40.0


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
    #: Tiers a candidate may host; [] means the candidates' own kind or service_station.
    tiers: list[str] = field(default_factory=list)
    #: Minimum covered share per district (0 = no equity constraint).
    min_district_share: float = 0.0
    capacitated: bool = False
    time_limit_s: float = 120.0
    mip_gap: float = 0.0
    #: "exact", "heuristic" or "auto" (exact unless the instance is very large).
    method: str = "auto"


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
    output: OutputSection = field(default_factory=OutputSection)
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
    """Walking speed in m/s from a preset name or a number."""
    if isinstance(value, str):
        if value in WALK_SPEEDS:
            return WALK_SPEEDS[value]
        try:
            value = float(value)
        except ValueError:
            raise InputError(f"walk_speed '{value}' is neither a preset nor a number.", "config",
                             f"Use one of {', '.join(WALK_SPEEDS)} or a speed in m/s such as 0.9.")
    speed = float(value)
    if not 0.1 <= speed <= 3.0:
        raise InputError(f"walk_speed {speed} m/s is outside 0.1-3.0 m/s.", "config",
                         "Give a walking speed in metres per second, e.g. 0.9.")
    return speed


_PATH_FIELDS = {"path", "profile_file"}
_OUTPUT_DIRS = {"data_dir", "reports_dir", "maps_dir"}


def load_config(path: str | Path) -> StudyConfig:
    """Read and validate a study config (TOML); relative paths resolve against its folder."""
    path = Path(path)
    report = ProblemReport()
    name = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"config file not found.", name, "Check the path you passed.") from None
    except UnicodeDecodeError:
        raise InputError("config file is not UTF-8 text.", name, "Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}.", name,
                         "Correct the TOML syntax (quotes around text, [section] headers).") from None
    config = config_from_dict(raw, report, name)
    report.raise_if_errors()
    config.source = path.resolve()
    resolve_paths(config, config.base_dir)
    validate_config(config, report, name)
    report.raise_if_errors()
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
        report.error(file, f"'{prefix.rstrip('.')}' must be a table (a [section]).", field=prefix.rstrip("."))
        return obj
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    for key, value in raw.items():
        full = f"{prefix}{key}"
        if key not in known:
            report.error(file, f"unknown key '{full}'.",
                         f"Remove it or correct its spelling; known keys here: {', '.join(sorted(known))}.",
                         field=full)
            continue
        expected = hints[key]
        if dataclasses.is_dataclass(expected):
            setattr(obj, key, _build(expected, value, full + ".", report, file))
            continue
        converted = _convert(value, expected)
        if converted is _BAD:
            report.error(file, f"key '{full}' has the wrong type: got {type(value).__name__} {value!r}, "
                         f"expected {_type_name(expected)}.", f"Write '{full}' as {_type_name(expected)}.",
                         field=full)
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
            section.path = str((base / section.path).resolve())
    if config.norms.profile_file:
        config.norms.profile_file = str((base / config.norms.profile_file).resolve())
    for key in _OUTPUT_DIRS:
        setattr(config.output, key, str((base / getattr(config.output, key)).resolve()))


def validate_config(config: StudyConfig, report: ProblemReport, file: str = "config") -> None:
    """Check values that are the right type but not allowed."""
    if config.study.language not in ("zh", "en"):
        report.error(file, f"study.language '{config.study.language}' is not supported.",
                     "Use \"zh\" or \"en\".", field="study.language")
    try:
        resolve_walk_speed(config.access.walk_speed)
    except InputError as exc:
        for p in exc.report.errors:
            report.error(file, p.message, p.fix, field="access.walk_speed")
    if not config.access.time_limit_min > 0:
        report.error(file, "access.time_limit_min must be positive.", "Give minutes, e.g. 15.",
                     field="access.time_limit_min")
    for key in ("snap_max_m", "grid_spacing_m", "street_buffer_m"):
        if not getattr(config.access, key) > 0:
            report.error(file, f"access.{key} must be positive.", "Give a distance in metres.",
                         field=f"access.{key}")
    if any(b <= 0 for b in config.access.bands_min):
        report.error(file, "access.bands_min must hold positive minutes.", "e.g. [5, 10, 15]",
                     field="access.bands_min")
    if not config.inputs.communities.path:
        report.error(file, "no communities file is given.",
                     "Add [inputs.communities] with path = \"your_communities.geojson\".",
                     field="inputs.communities.path")
    if config.inputs.population.join_on not in ("community_id", "name"):
        report.error(file, f"inputs.population.join_on '{config.inputs.population.join_on}' is not supported.",
                     "Use \"community_id\" or \"name\".", field="inputs.population.join_on")
    if config.siting.model not in ("", "lscp", "partial", "mclp", "pmedian", "pcenter"):
        report.error(file, f"siting.model '{config.siting.model}' is not known.",
                     "Use lscp, partial, mclp, pmedian or pcenter (or leave it empty).", field="siting.model")
    if config.siting.weight not in ("population", "elderly_population", "households"):
        report.error(file, f"siting.weight '{config.siting.weight}' is not known.",
                     "Use population, elderly_population or households.", field="siting.weight")
    if config.siting.method not in ("auto", "exact", "heuristic"):
        report.error(file, f"siting.method '{config.siting.method}' is not known.",
                     "Use auto, exact or heuristic.", field="siting.method")
    if not 0 < config.siting.target_share <= 1:
        report.error(file, "siting.target_share must be in (0, 1].", "e.g. 0.9", field="siting.target_share")
