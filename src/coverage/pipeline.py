"""The study pipeline: load → network → demand/access → norms → siting → reports/maps.

It only wires the stage functions together; each stage is usable on its own in a notebook.
All outputs of a run are staged and published together (see :mod:`eldercare_coverage.outputs`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
import unicodedata
from contextlib import contextmanager
from importlib import resources
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ._safe_cells import write_csv
from .config import StudyConfig, load_config
from .crs import lonlat_columns
from .errors import InputError, ProblemReport
from .io import Study, load_study
from .messages import RUN_LANGUAGE, ByLanguage, Text, text
from .outputs import StagedOutputs, check_output_folder, safe_name

log = logging.getLogger(__name__)



@dataclass
class RunResult:
    """What a run produced: the loaded study, each stage's result and the files written."""

    study: Study
    outputs: list[Path] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    stages: dict[str, object] = field(default_factory=dict)


def sample_config_path() -> Path:
    """The embedded sample's config: ``data/sample.toml`` of a checkout, shipped in the wheel as
    the package data ``eldercare_coverage.sample``."""
    path = Path(str(resources.files("eldercare_coverage.sample").joinpath("sample.toml")))
    if not path.is_file():
        from .errors import InputError

        raise InputError("pipeline.sample_missing", str(path))
    return path


#: Stage names (the keys of run.json's timings) -> the message id of their terminal label.
_STAGES = {"load and validate inputs": "stage.load", "write validated inputs": "stage.write_inputs",
           "walk network": "stage.network", "walk access": "stage.access", "norm checks": "stage.norms",
           "accessibility": "stage.accessibility", "siting": "stage.siting", "siting phases": "stage.siting_phases",
           "accessibility tables and new sites": "stage.accessibility_tables", "map": "stage.map",
           "reports": "stage.reports"}


def _stage_label(name: str) -> str:
    """A stage's name in the run's language, padded to a column of terminal width 26."""
    base, _, detail = name.partition(" (")
    label = text(_STAGES[base], RUN_LANGUAGE.get()) + (f" ({detail}" if detail else "") if base in _STAGES else name
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in label)  # CJK characters take two columns
    return label + " " * max(26 - len(label) - wide, 0)


@contextmanager
def _timed(name: str, timings: dict[str, float]):
    t0 = time.perf_counter()
    log.debug("%s ...", name)
    yield
    timings[name] = time.perf_counter() - t0
    # the one line per stage the terminal shows by default (marked for the command line's filter)
    log.info("%s %6.1f s", _stage_label(name), timings[name], extra={"stage": True})


@contextmanager
def _study_language(language: str):
    """The run's stage lines, and problems raised by an engine function (which knows no study),
    in the study's language."""
    token = RUN_LANGUAGE.set(language)
    try:
        yield
    except InputError as exc:
        exc.report.language = language
        raise
    finally:
        RUN_LANGUAGE.reset(token)


def parameters_of(config: StudyConfig) -> dict:
    """The parameters every output states, so its numbers can be traced to their rules."""
    return {
        "study": config.study.name,
        "walk_speed": config.access.walk_speed,
        "walk_speed_mps": config.walk_speed_mps,
        "time_limit_min": config.access.time_limit_min,
        "walk_limit_m": round(config.walk_speed_mps * config.access.time_limit_min * 60.0, 1),
        "norm_profile": config.norms.profile,
        "norm_profile_file": config.norms.profile_file,
        "language": config.study.language,
        # walk costs (walkcost): steps (none when avoided) and slopes from the DEM, if any
        "steps_speed_factor": None if config.access.avoid_steps else _steps_factor(config),
        "avoid_steps": config.access.avoid_steps,
        "dem": config.inputs.dem.path,
    }


def _steps_factor(config: StudyConfig) -> float:
    from .walkcost import steps_speed_factor

    return steps_speed_factor(config.access.walk_speed, config.access.steps_speed_factor)


def run(config: StudyConfig | str | Path | None = None, *, out_dir: str | Path | None = None) -> RunResult:
    """Run every stage of a study and publish its outputs; ``None`` runs the embedded sample.

    ``out_dir`` puts the data, reports and maps folders under one folder instead of the
    config's ``[output]`` folders.
    """
    config = _run_config(config, out_dir)
    timings: dict[str, float] = {}
    staged = _staged_outputs(config)
    with _study_language(config.study.language), staged:
        with _timed("load and validate inputs", timings):
            study = check_inputs(config)
            study.report.raise_if_errors()
            study = apply_profile_walk_limit(study)
        config = study.config
        result = RunResult(study=study, timings_s=timings)
        with _timed("write validated inputs", timings):
            _write_inputs(study, staged)
        access = _run_access(study, staged, result)
        with _timed("norm checks", timings):
            norms = check_norms(study, access)
            result.stages["norms"] = norms
        accessibility = None
        if access is not None and config.accessibility.measure:
            with _timed(f"accessibility ({config.accessibility.measure})", timings):
                accessibility = compute_study_accessibility(study, access)
            result.stages["accessibility"] = accessibility
        siting, proposed = _run_siting(study, access, norms, staged, result)
        if accessibility is not None:
            with _timed("accessibility tables and new sites", timings):
                if proposed is not None or config.accessibility.objective:
                    accessibility.siting = accessibility_siting(study, access, accessibility, proposed)
                add_accessibility_columns(norms, accessibility)
                _write_accessibility(accessibility, staged, sites=bool(config.accessibility.objective))
        # the map first: the report embeds its static image
        with _timed("map", timings):
            _write_map(study, access, norms, proposed, staged, accessibility)
        with _timed("reports", timings):
            _write_reports(study, access, norms, siting, proposed, staged, accessibility,
                           gates=result.stages.get("gate_effect"), phases=result.stages.get("siting_phases"))
        # Last, so the warnings of every stage are in it.
        staged.path("data", "validation.txt").write_text(study.report.format() + "\n", encoding="utf-8")
        _write_manifest(result, staged)
        result.outputs = staged.publish(inputs=[f["path"] for f in study.input_files])
    if access is not None and "tiles" in access.params:
        study_tile_cache(study).remove()  # published: the finished tiles are no longer needed
    for path in result.outputs:
        log.debug("wrote %s", path)
    return result


def _run_config(config: StudyConfig | str | Path | None, out_dir: str | Path | None) -> StudyConfig:
    """The config :func:`run` runs: loaded (the sample's for None), its config errors raised with
    the inputs' problems, its output folders moved under ``out_dir`` when given."""
    if config is None:
        config = sample_config_path()
        # The sample's files may sit in a read-only site-packages: its outputs go under the
        # current folder (in a checkout run from its root, that is its out/, reports/, maps/).
        out_dir = Path.cwd() if out_dir is None else out_dir
    if not isinstance(config, StudyConfig):
        config = load_config(config, raise_on_error=False)
    if any(p.severity == "error" for p in getattr(config, "warnings", [])):
        # config errors are reported with the inputs' problems, in one round, before anything is staged
        check_inputs(config).report.raise_if_errors()
    if out_dir is not None:
        out = Path(out_dir).resolve()
        check_output_folder(out, config.study.language)
        config.output.data_dir, config.output.reports_dir, config.output.maps_dir = (
            str(out / "out"), str(out / "reports"), str(out / "maps"))
    return config


def _staged_outputs(config: StudyConfig) -> StagedOutputs:
    """The run's staged outputs. Every output path is checked before anything is computed:
    refused when it is an input or an existing file this study did not write (outputs.py);
    staging folders are made here."""
    return StagedOutputs({"data": config.output.data_dir, "reports": config.output.reports_dir,
                          "maps": config.output.maps_dir}, study=config.study.name, inputs=input_paths(config),
                         expected=expected_outputs(config), adopt=_legacy_outputs(config),
                         language=config.study.language)


def _run_access(study: Study, staged: StagedOutputs, result: RunResult):
    """The walk network and walk access stages of :func:`run` (None without a network)."""
    config, timings = study.config, result.timings_s
    if not (config.inputs.network.path or config.inputs.network.download):
        log.info("no walk network configured: norm checks only, coverage marked as not computed")
        return None
    with _timed("walk network", timings):
        dem = study_dem(study)
        net = build_network(study)
        check_street_alignment(study, net)
    with _timed("walk access", timings):
        access = compute_study_access(study, net, dem=dem)
        _write_access(access, staged)
        result.stages["gate_effect"] = gate_effect(study, access, net)
    result.stages["network"] = net
    result.stages["access"] = access
    return access


def _run_siting(study: Study, access, norms: NormResult, staged: StagedOutputs, result: RunResult) -> tuple:
    """The siting stages of :func:`run` when the config asks for siting: (siting result, proposed
    sites), (None, None) without it or, with a warning, without a network."""
    config, timings = study.config, result.timings_s
    if not config.siting.model:
        return None, None
    if access is None:
        study.report.warning(config.source or "config", "pipeline.siting_needs_network", field="siting.model")
        return None, None
    with _timed(f"siting ({config.siting.model})", timings):
        siting = site_facilities(study, access, norms.profile)
        proposed = proposed_sites(study, siting)
        _write_siting(study, access, siting, proposed, staged)
    if config.siting.phases:
        with _timed("siting phases", timings):
            result.stages["siting_phases"] = siting_phases(study, access, norms.profile, staged)
    result.stages["siting"] = siting
    result.stages["proposed"] = proposed
    return siting, proposed


# ----------------------------------------------------------------------------------------------
# Stages (each usable on its own from Python)


def study_area(study: Study):
    """The union of the community polygons (metric CRS), without those flagged as far from the
    rest (a typo on the other side of the globe must not make the network clip span it)."""
    import shapely

    geoms = study.communities.geometry.to_numpy()
    if study.far_communities is not None and (~study.far_communities).any():
        geoms = geoms[~study.far_communities]
    return shapely.union_all(geoms)


def build_network(study: Study, *, raise_on_error: bool = True):
    """The study's walk network (from the configured file, or downloaded through osmnx).

    Problems go into ``study.report``; with ``raise_on_error`` an error raises
    :class:`~eldercare_coverage.errors.InputError`, else an unusable file gives an empty network.
    """
    from . import network

    cfg = study.config.inputs.network
    if cfg.path:
        net = _read_network(cfg.path, study.metric_crs, study_area(study), cfg.margin_m, study.report)
    else:
        import geopandas as gpd

        area_wgs = gpd.GeoSeries([study_area(study).buffer(cfg.margin_m)], crs=study.metric_crs).to_crs(4326).iloc[0]
        cache = Path(study.config.output.data_dir).parent / ".cache" / "osm"
        path = network.download_walk_network(area_wgs, cache, report=study.report)
        if Path(path).is_file():
            net = _read_network(str(path), study.metric_crs, study_area(study), cfg.margin_m, study.report)
        else:  # the download failed and said why in the report
            net = network.network_from_arrays(np.empty(0), np.empty(0), np.empty(0, np.int32),
                                              np.empty(0, np.int32), study.metric_crs, source="download")
    if raise_on_error:
        study.report.raise_if_errors()
    return net


#: The last network read from a file and the problems found reading it, so that validate and run
#: of one study in one process (a notebook, the tests) parse the file once; parsing a city's
#: extract takes seconds to minutes. Keyed on the file (path, size, mtime), CRS, area and margin.
_LAST_NETWORK: dict = {}


def _read_network(path: str, metric_crs, area, margin_m: float, report):
    import hashlib

    import shapely

    from . import network
    from .errors import ProblemReport

    from .pbf import file_key

    try:
        key = file_key(path)
        if key is not None:
            key += (metric_crs.to_wkt(), hashlib.sha1(shapely.to_wkb(area)).hexdigest(), float(margin_m))
    except TypeError:
        key = None
    if key is None or _LAST_NETWORK.get("key") != key:
        found = ProblemReport(language=report.language)
        net = network.load_walk_network(path, metric_crs, area=area, margin_m=margin_m, report=found)
        _LAST_NETWORK.clear()
        if key is not None:
            _LAST_NETWORK.update(key=key, net=net, problems=found.problems)
        report.problems.extend(found.problems)
        return net
    log.info("walk network %s: already read in this session", path)
    report.problems.extend(_LAST_NETWORK["problems"])
    return _LAST_NETWORK["net"]


def check_street_alignment(study: Study, net) -> None:
    """Warn when an input layer fits the walk network markedly better read in another
    longitude/latitude system (GCJ-02 / BD-09 / WGS-84); see :mod:`eldercare_coverage.checks`."""
    from . import checks
    from .crs import is_chinese_web_crs, normalise_crs_name

    if net.n_edges == 0:
        return
    for layer, gdf in (("communities", study.communities), ("facilities", study.facilities),
                       ("candidates", study.candidates)):
        spec = getattr(study.config.inputs, layer)
        if gdf is None or not len(gdf) or not spec.path:
            continue
        declared = normalise_crs_name(spec.crs) if spec.crs and is_chinese_web_crs(spec.crs) else "WGS-84"
        checks.check_street_alignment(gdf.geometry.to_numpy(), study.metric_crs, net.edge_geometry,
                                      declared=declared, layer=layer, path=spec.path, report=study.report)


#: Siting models whose ``p`` is the number of new sites.
_P_MODELS = ("mclp", "pmedian", "pcenter")


def check_siting_inputs(study: Study) -> None:
    """Siting options the loaded inputs cannot satisfy: ``p`` above the number of candidate sites
    (error), or no candidate sites at all (warning: coverage cannot improve)."""
    cfg = study.config.siting
    spec = study.config.inputs.candidates
    if not cfg.model or any(p.file == str(spec.path) for p in study.report.errors):
        return  # no siting, or the candidates file is already reported as unreadable
    source = str(study.config.source or "config")
    n = len(study.candidates)
    if n == 0:
        where = Text("pipeline.candidates_empty", path=str(spec.path)) if spec.path else \
            Text("pipeline.candidates_unset")
        study.report.warning(source, "pipeline.no_candidates", field="siting.model", model=cfg.model, where=where)
    elif cfg.model in _P_MODELS and cfg.p > n:
        study.report.error(source, "pipeline.p_above_candidates", field="siting.p", p=cfg.p, n=n, path=str(spec.path))


def compute_study_access(study: Study, net, dem=None):
    """Walk access of the study's demand to its facilities and candidates (``dem`` from
    :func:`study_dem`: slope-aware walk times); tile by tile, here or on Dask, when ``[compute]``
    asks for tiles (:mod:`eldercare_coverage.compute`)."""
    from .access import compute_access

    tiling = study_tiling(study)
    if tiling != "none":
        from .compute import compute_tiled_access

        c = study.config.compute
        return compute_tiled_access(study, net, *study_tile_inputs(study), tiling=tiling, tile_size_m=c.tile_size_m,
                                    halo_margin_m=c.halo_margin_m, scheduler=c.scheduler, workers=c.workers,
                                    retries=c.retries, cache=study_tile_cache(study), dem=dem)
    return compute_access(study.communities, covering_facilities(study), study.candidates, net,
                          study.config.access, buildings=study.buildings, report=study.report,
                          gates=study_gates(study), dem=dem, residents_ways=study_residents_ways(study))


def study_residents_ways(study: Study) -> gpd.GeoDataFrame | None:
    """The OSM file's residents-only ways (``access=private`` footways and driveways inside
    compounds, :func:`eldercare_coverage.network.residents_only`) in the metric CRS, for the
    walks inside gated compounds; None when gated compounds are off or there is no OSM file."""
    from . import network

    cfg = study.config
    if cfg.access.gated_compounds == "off" or not cfg.inputs.network.path or study.communities is None:
        return None
    area = gpd.GeoSeries([study_area(study).buffer(cfg.inputs.network.margin_m)], crs=study.metric_crs)
    ways = network.read_residents_ways(cfg.inputs.network.path, area.to_crs(4326).iloc[0])
    log.info("%d residents-only ways in %s", len(ways), Path(cfg.inputs.network.path).name)
    return ways.to_crs(study.metric_crs)


def study_dem(study: Study):
    """The ``[inputs.dem]`` elevation model around the study area (a
    :class:`~eldercare_coverage.walkcost.Dem`), or None without one or when it is unusable (the
    reason is an error in ``study.report``)."""
    from .walkcost import read_dem

    cfg = study.config.inputs
    if not cfg.dem.path or study.communities is None or study.metric_crs is None:
        return None
    return read_dem(cfg.dem.path, study_area(study), study.metric_crs, crs=cfg.dem.crs,
                    margin_m=cfg.network.margin_m, report=study.report)


def study_tile_inputs(study: Study):
    """(:class:`~eldercare_coverage.compute.TileInputs`, facility kinds): the layers tiles take
    subsets of (rows renumbered from 0)."""
    from .compute import TileInputs, _with_gate_ids

    inputs = TileInputs(study.communities.reset_index(drop=True), covering_facilities(study).reset_index(drop=True),
                     study.candidates.reset_index(drop=True), _with_gate_ids(study_gates(study)),
                     study.buildings.reset_index(drop=True) if study.buildings is not None else None)
    if study.config.access.gated_compounds != "auto":
        inputs.gates = None
    if inputs.gates is not None:
        ways = study_residents_ways(study)
        inputs.residents_ways = ways.reset_index(drop=True) if ways is not None and len(ways) else None
    kinds = sorted(set(inputs.facilities["kind"].astype(str)) - {""}) if "kind" in inputs.facilities else []
    return inputs, kinds


def study_tiling(study: Study) -> str:
    """``[compute] tiling`` resolved: "auto" is no tiles under the local scheduler, else tiles by
    district, or a grid when no community names a district."""
    c = study.config.compute
    if c.tiling != "auto":
        return c.tiling
    if c.scheduler == "local":
        return "none"
    districts = study.communities["district"] if "district" in study.communities else pd.Series(dtype=str)
    return "district" if districts.fillna("").astype(str).ne("").any() else "grid"


def study_tile_cache(study: Study):
    """The study's tile cache in its data folder, keyed on its inputs (checksums) and settings."""
    import hashlib

    from .tilestore import TileCache

    cfg = study.config
    key = json.dumps({"inputs": study.input_files, "access": dataclasses.asdict(cfg.access),
                      "dem": dataclasses.asdict(cfg.inputs.dem),  # the file's checksum is in the inputs
                      "tiles": [cfg.compute.tiling, cfg.compute.tile_size_m, cfg.compute.halo_margin_m]}, sort_keys=True, default=str)
    return TileCache(cfg.output.data_dir, cfg.study.name, hashlib.sha256(key.encode()).hexdigest()[:16])


def study_gates(study: Study) -> gpd.GeoDataFrame | None:
    """Compound gates in the metric CRS: the ``[inputs.gates]`` layer, else the OSM file's gate
    and entrance nodes; None when gated compounds are off or there is no source."""
    from . import network

    cfg = study.config
    if cfg.access.gated_compounds == "off":
        return None
    if study.gates is not None:
        return study.gates
    if not cfg.inputs.network.path:
        return None
    area = gpd.GeoSeries([study_area(study).buffer(cfg.inputs.network.margin_m)], crs=study.metric_crs)
    gates = network.read_osm_gates(cfg.inputs.network.path, area.to_crs(4326).iloc[0])
    log.info("%d gate/entrance nodes in %s", len(gates), Path(cfg.inputs.network.path).name)
    return gates.to_crs(study.metric_crs)


def gate_effect(study: Study, access, net) -> dict | None:
    """What the compound gates change (:mod:`eldercare_coverage.gate_effect`): ``table`` per
    district with and without gates, ``ungated`` compounds (community_id, name, district) whose
    homes have no usable gate, ``gates_used``, ``gates_given``, ``gates_illustrative`` and
    ``gate_hour``; None when no gate was used. The comparison is one more nearest-facility
    search on the plain network ``net`` (with the run's steps and slopes, ``street_network``), as
    a ``gated_compounds = "off"`` run would do."""
    from .access import nearest_facility, snap_points, street_network
    from .gate_effect import effect_table, illustrative_count

    if access is None or access.gates is None or not len(access.gates):
        return None
    cfg = study.config.access
    net = street_network(net, steps_factor=_steps_factor(study.config), avoid_steps=cfg.avoid_steps,
                         dem=access.dem)  # steps and slopes as in the run itself
    demand = access.demand
    ds = snap_points(net, demand.geometry.values, cfg.snap_max_m, cfg.fragment_max_extra_m)
    fs = snap_points(net, covering_facilities(study).geometry.values, cfg.snap_max_m, cfg.fragment_max_extra_m)
    _, tmin = nearest_facility(net, ds, fs, access.params["walk_speed_mps"])
    weight = pd.to_numeric(demand["elderly_population"], errors="coerce").to_numpy(float)
    table = effect_table(demand["district"].to_numpy(), weight, demand["within_limit"].to_numpy(bool),
                         tmin <= access.params["time_limit_min"])
    homes = access.ungated[~access.ungated["visitor"].astype(bool)] if access.ungated is not None else None
    rows = np.unique(homes["compound"].to_numpy(int)) if homes is not None else np.empty(0, int)
    ungated = pd.DataFrame(study.communities.iloc[rows][[c for c in ("community_id", "name", "district")
                                                          if c in study.communities]])
    given = study_gates(study)
    return {"table": table, "ungated": ungated.reset_index(drop=True),
            "gates_used": int(access.gates["gate"].nunique()),  # a gate on a shared wall serves two compounds
            "gates_given": len(given), "gates_illustrative": illustrative_count(given),
            "gate_hour": float(cfg.gate_hour)}


def covering_facilities(study: Study) -> gpd.GeoDataFrame:
    """The facilities whose kind counts for walk coverage (``[access] facility_kinds``)."""
    kinds = study.config.access.facility_kinds
    keep = study.facilities["kind"].isin(kinds)
    if (~keep).any():
        log.info("%d facilities of other kinds (%s) are mapped but do not count for walk coverage",
                 int((~keep).sum()), ", ".join(sorted(set(study.facilities.loc[~keep, "kind"]))))
    return study.facilities[keep]


def study_profile(study: Study):
    """The norm profile the study's ``[norms]`` section names."""
    from . import norms

    return norms.load_profile(study.config.norms.profile, study.config.norms.profile_file or None)


def apply_profile_walk_limit(study: Study, profile=None) -> Study:
    """The study, with ``[access] time_limit_min`` set to the walk limit its norm profile states.

    A profile that gives a network walking distance (Tianjin Hexi: 700 m) gets the time that
    walks exactly that distance at the study's speed, so the access engine reaches 700 m of
    network distance; one that gives a time gets that time; one that states neither keeps the
    study's setting. A changed limit is reported as a warning. The given study is not modified.
    """
    from . import norms

    cfg = study.config
    profile = profile or study_profile(study)
    limit = norms.walk_limit(profile, cfg.walk_speed_mps, cfg.access.time_limit_min)
    if limit.basis == "study" or math.isclose(limit.limit_min, cfg.access.time_limit_min, rel_tol=1e-12):
        return study
    study.report.warning(cfg.source or "config", "pipeline.profile_sets_limit", field="access.time_limit_min",
                         profile=profile.name, explain=ByLanguage(lambda lang: limit.explain(lang, cfg.walk_speed_mps)),
                         minutes=f"{limit.limit_min:.2f}", metres=f"{limit.distance_m:g}",
                         configured=f"{cfg.access.time_limit_min:g}")
    access = dataclasses.replace(cfg.access, time_limit_min=limit.limit_min)
    return dataclasses.replace(study, config=dataclasses.replace(cfg, access=access))


def walk_limit_basis(study: Study, profile) -> str:
    """Which walk limit the study's access analysis used and why, in the study's language."""
    from . import norms

    cfg = study.config
    language, speed, used = cfg.study.language, cfg.walk_speed_mps, cfg.access.time_limit_min
    limit = norms.walk_limit(profile, speed, used)
    if math.isclose(limit.limit_min, used, rel_tol=1e-9):
        return limit.explain(language, speed)
    stated = limit.explain(language, speed)
    return (f"研究设定的步行时间{used:g}分钟（[access] time_limit_min）；未采用规范规定的{stated}" if language == "zh"
            else f"walk time of {used:g} min set by the study ([access] time_limit_min); not the profile's {stated}")


def compute_study_accessibility(study: Study, access, *, measure: str | None = None):
    """Capacity-aware accessibility (``[accessibility]``) of the study's demand to its covering
    facilities, on the walk-time matrix of ``access``; unknown supply or demand counts as 0 and
    is reported as a warning. ``measure`` overrides the config's."""
    from .accessibility import DEMAND_COLUMNS, SUPPLY_COLUMNS, analyse

    cfg = study.config.accessibility
    source = str(study.config.source or "config")
    fac = study.facilities.set_index("facility_id").loc[access.facility_ids].reset_index()
    supply_col, demand_col = SUPPLY_COLUMNS[cfg.supply], DEMAND_COLUMNS[cfg.demand]
    if supply_col not in fac or fac[supply_col].isna().any():
        missing = fac["facility_id"][fac[supply_col].isna()] if supply_col in fac else fac["facility_id"]
        study.report.warning(source, "pipeline.facilities_without_supply", field="accessibility.supply",
                             n=len(missing), supply=supply_col, examples=", ".join(missing.astype(str).head(5)))
        if supply_col not in fac:
            fac[supply_col] = np.nan
    n_nan = int(access.demand[demand_col].isna().sum())
    if n_nan:
        study.report.warning(source, "pipeline.points_without_demand", field="accessibility.demand", n=n_nan,
                             demand=demand_col)
    return analyse(access.facility_matrix, fac, access.demand, study.communities["community_id"].astype(str),
                   measure=measure or cfg.measure, supply=cfg.supply, demand=cfg.demand,
                   limit_min=float(study.config.access.time_limit_min), bands_min=cfg.bands_min,
                   band_weights=cfg.band_weights, decay=cfg.decay, threshold=cfg.threshold or None)


def accessibility_siting(study: Study, access, tables, proposed=None) -> dict:
    """Accessibility after new sites, for ``tables`` (:func:`compute_study_accessibility`): the
    siting model's ``proposed`` sites and, with ``[accessibility] objective``, ``[siting] p``
    sites picked greedily for that objective (a heuristic). Candidates supply their
    ``max_floor_area_m2`` (unknown: the median known, as siting does with costs), so only
    floor-area supply can be sited. Returns ``{"proposed": AccessibilitySiting, "greedy": ...}``."""
    import scipy.sparse as sp

    from .accessibility import AccessibilitySiting, compute, greedy_sites

    cfg = study.config.accessibility
    source = str(study.config.source or "config")
    area = study.candidates.set_index("candidate_id").loc[access.candidate_ids]["max_floor_area_m2"]
    area = area.to_numpy(dtype=float)
    if cfg.supply != "floor_area" or not np.isfinite(area).any():
        study.report.warning(source, "pipeline.no_candidate_area" if cfg.supply == "floor_area"
                             else "pipeline.candidates_supply_area", field="accessibility.supply", supply=cfg.supply)
        return {}
    if not np.isfinite(area).all():
        study.report.warning(source, "pipeline.candidates_median_area", field="accessibility.objective",
                             n=int((~np.isfinite(area)).sum()))
        area = np.where(np.isfinite(area), area, np.nanmedian(area))
    res = tables.result
    kw = {k: res.params[k] for k in ("measure", "limit_min", "decay")}
    kw.update(bands_min=cfg.bands_min, band_weights=cfg.band_weights)
    out = {}
    if proposed is not None and len(proposed):
        rows = pd.Index(access.candidate_ids).get_indexer(proposed["candidate_id"].astype(str))
        after = compute(sp.vstack([res.times, access.candidate_matrix[rows]]),
                        np.concatenate([res.supply, area[rows]]), res.demand, **kw)
        out["proposed"] = AccessibilitySiting(rows, pd.DataFrame(), res.point, after.point,
                                              {"method": f"siting model {study.config.siting.model}", **kw})
    if cfg.objective:
        out["greedy"] = greedy_sites(res.times, access.candidate_matrix, res.supply, area, res.demand,
                                     tables.points["community_id"].to_numpy(), p=study.config.siting.p,
                                     objective=cfg.objective, threshold=tables.summary["threshold"], **kw)
    for value in out.values():
        value.params["candidate_ids"] = access.candidate_ids[value.selected].tolist()
        if len(value.steps):
            value.steps.insert(1, "candidate_id", access.candidate_ids[value.steps["candidate"].to_numpy()])
    return out


#: Accessibility columns added to the community and district tables.
ACCESSIBILITY_COLUMNS = {"accessibility": "accessibility", "relative": "accessibility_relative",
                         "share_no_access": "share_demand_no_supply"}


def add_accessibility_columns(norms: "NormResult", tables) -> None:
    """Join the accessibility columns onto the norm result's community and district tables
    (with new sites: ``accessibility_after_<proposed|greedy>``)."""
    from .accessibility import after_sites

    after = {name: after_sites(tables, s.after) for name, s in tables.siting.items()}
    for attr, key, src in (("communities", "community_id", tables.communities),
                           ("districts", "district", tables.districts)):
        table = getattr(norms, attr)
        add = src.set_index(key)[list(ACCESSIBILITY_COLUMNS)].rename(columns=ACCESSIBILITY_COLUMNS)
        totals = [tables.summary["mean"], 1.0, tables.summary["share_no_access"]]
        for name, (comm, dist, summary) in after.items():
            add[f"accessibility_after_{name}"] = (comm if attr == "communities" else dist).set_index(key)[
                "accessibility"]
            totals.append(summary["mean"])
        keys = table[key].astype(str) if key in table else pd.Series("", index=table.index)
        add = add.reindex(keys.to_numpy()).set_index(table.index)
        add.loc[(keys == "(all)").to_numpy(), list(add.columns)] = totals  # the roll-up's study-wide row
        setattr(norms, attr, pd.concat([table.drop(columns=[c for c in add.columns if c in table]), add], axis=1))


@dataclass
class NormResult:
    """Per-community checks and their roll-ups under one norm profile."""

    profile: object
    communities: object
    districts: object
    streets: object
    unassigned: object


def check_norms(study: Study, access=None, profile=None) -> NormResult:
    """Norm checks per community and roll-ups per district and street.

    ``profile``: a :class:`~eldercare_coverage.norms.NormProfile` or a shipped profile name; by default
    the study config's ``[norms]`` profile.
    """
    from . import norms

    cfg = study.config.norms
    if profile is None:
        profile = norms.load_profile(cfg.profile, cfg.profile_file or None)
    elif isinstance(profile, str):
        profile = norms.load_profile(profile)
    profile_limit = profile.walk_limit_min(study.config.walk_speed_mps)
    used_limit = float(study.config.access.time_limit_min)
    if access is not None and profile_limit is not None and abs(profile_limit - used_limit) > 0.01:
        distance = Text("pipeline.network_distance", metres=f"{profile.distance_m:g}") if profile.distance_m else ""
        study.report.warning(study.config.source or "config", "pipeline.profile_limit_differs",
                             field="access.time_limit_min", profile=profile.name, minutes=f"{profile_limit:.2f}",
                             distance=distance, speed=f"{study.config.walk_speed_mps:g}", used=f"{used_limit:g}")
    language = study.config.study.language
    table = norms.check_communities(study.communities, study.facilities, profile,
                                    access.communities if access is not None else None, language=language)
    return NormResult(profile=profile, communities=table,
                      districts=norms.rollup(table, study.facilities, profile, by="district", language=language),
                      streets=norms.rollup(table, study.facilities, profile, by="street", language=language),
                      unassigned=norms.unassigned_facilities(table, study.facilities))


def siting_problem(study: Study, access, weight: str | None = None, profile=None):
    """The study's :class:`~eldercare_coverage.siting.SitingProblem`, exactly as ``run`` solves it.

    Candidates against the demand points, existing facilities (of the covering kinds) fixed
    open, weights from ``weight`` (default ``[siting] weight``), districts as equity groups.
    Candidate costs: the ``cost`` column (unknown costs take the median known cost); with
    ``[siting] tiers`` each candidate may host the listed tiers its ``kind`` allows (blank = any),
    each tier costing the norm profile's build subsidy. With ``[siting] capacitated``, each
    site serves at most its floor area (``max_floor_area_m2`` / ``floor_area_m2``) divided by
    the profile's m² per resident, in residents, scaled to the weight by its share of residents.
    """
    from . import norms
    from .errors import InputError
    from .siting import DEFAULT_TIERS, SitingProblem, Tier

    cfg = study.config.siting
    weights = _demand_weights(study, access, weight or cfg.weight)
    source = str(study.config.source or "config")
    if profile is None:
        profile = norms.load_profile(study.config.norms.profile, study.config.norms.profile_file or None)
    cand = study.candidates.set_index("candidate_id").loc[access.candidate_ids]
    cost = cand["cost"].to_numpy(dtype=float)
    cost = np.where(np.isfinite(cost), cost, np.nanmedian(cost)) if np.isfinite(cost).any() else None
    tiers, allowed = [], None
    if cfg.tiers:
        for name in cfg.tiers:
            rule = profile.tier(name)
            tier_cost = rule.build_cost_cny if rule is not None and rule.build_cost_cny else DEFAULT_TIERS[name].cost
            tiers.append(Tier(name, cost=float(tier_cost)))
        kinds = cand["kind"].astype(str).to_numpy()
        allowed = np.column_stack([(kinds == "") | (kinds == t.name) for t in tiers])
        if not allowed.any():
            raise InputError("pipeline.no_candidate_for_tiers", source, language=study.config.study.language,
                             tiers=", ".join(cfg.tiers))
    cand_cap = exist_cap = None
    if cfg.capacitated:
        if not profile.per_resident_m2:
            raise InputError("pipeline.capacitated_needs_area", source, language=study.config.study.language,
                             profile=profile.name)
        population = access.demand["population"].to_numpy(dtype=float)
        scale = float(np.nansum(weights) / np.nansum(population)) if np.nansum(population) > 0 else 1.0
        fac = study.facilities.set_index("facility_id").loc[access.facility_ids]
        cand_cap = cand["max_floor_area_m2"].to_numpy(dtype=float) / profile.per_resident_m2 * scale
        exist_cap = fac["floor_area_m2"].to_numpy(dtype=float) / profile.per_resident_m2 * scale
    return SitingProblem.from_matrices(
        access.candidate_matrix, weights, existing_times=access.facility_matrix,
        candidate_ids=access.candidate_ids, existing_ids=access.facility_ids,
        limit_min=float(study.config.access.time_limit_min), candidate_cost=cost,
        candidate_capacity=cand_cap, existing_capacity=exist_cap,
        groups=access.demand["district"].to_numpy(), tiers=tiers, candidate_tiers=allowed)


def _demand_weights(study: Study, access, weight: str):
    weights = access.demand[weight].to_numpy(dtype=float)
    if np.isnan(weights).any():
        study.report.warning(study.config.source or "config", "pipeline.points_without_weight", field="siting.weight",
                             n=int(np.isnan(weights).sum()), weight=weight)
        weights = np.nan_to_num(weights)
    return weights


def proposed_sites(study: Study, result) -> gpd.GeoDataFrame:
    """The new sites of a siting result as a GeoDataFrame (metric CRS): the candidate's columns,
    the tier it would host (``kind``), its cost and the demand weight it serves and newly covers."""
    table = result.to_frame().rename(columns={"site_id": "candidate_id"})
    cand = study.candidates.set_index("candidate_id")
    chosen = cand.loc[table["candidate_id"].astype(str)]
    out = gpd.GeoDataFrame(table.join(chosen.drop(columns=["geometry", "cost"]).reset_index(drop=True)),
                           geometry=chosen.geometry.to_numpy(), crs=study.metric_crs)
    out["kind"] = np.where(out["tier"].astype(str) != "", out["tier"].astype(str), out["kind"].astype(str))
    out["model"] = result.model
    out["status"] = result.status
    # no placeholders a reader would take for figures: a unit cost where no costs were given,
    # an infinite capacity where capacities were not modelled
    if not study.config.siting.tiers and not study.candidates["cost"].notna().any():
        out["cost"] = np.nan
    out["capacity"] = out["capacity"].where(np.isfinite(out["capacity"].astype(float)))
    for col, values in lonlat_columns(out.geometry.to_numpy(), study.metric_crs,
                                      web_crs_of(study.config.inputs.candidates)).items():
        out[col] = values
    return out


def web_crs_of(spec) -> str:
    """"GCJ-02" / "BD-09" when an input's declared CRS is a Chinese web map's, else ""."""
    from .crs import is_chinese_web_crs, normalise_crs_name

    return normalise_crs_name(spec.crs) if spec.crs and is_chinese_web_crs(spec.crs) else ""


def with_coordinates(layer: gpd.GeoDataFrame, spec) -> gpd.GeoDataFrame:
    """A copy of a point layer with WGS-84 lon/lat and, for inputs in GCJ-02 or BD-09, lon/lat in
    that system (see :func:`eldercare_coverage.crs.lonlat_columns`)."""
    out = layer.copy()
    for col, values in lonlat_columns(out.geometry.to_numpy(), out.crs, web_crs_of(spec)).items():
        out[col] = values
    return out


def site_facilities(study: Study, access, profile=None):
    """Solve the ``[siting]`` model on the study's problem (see :func:`siting_problem`)."""
    from .errors import InputError
    from .siting import solve

    cfg = study.config.siting
    source = str(study.config.source or "config")
    cost = study.candidates["cost"].to_numpy(dtype=float)
    if cfg.budget and not np.isfinite(cost).any() and not cfg.tiers:
        raise InputError("pipeline.budget_without_costs", source, language=study.config.study.language)
    try:
        problem = siting_problem(study, access, profile=profile)
        result = solve(problem, cfg.model, p=cfg.p or None, budget=cfg.budget or None, target_share=cfg.target_share,
                       min_group_share=cfg.min_district_share, capacitated=cfg.capacitated, method=cfg.method,
                       time_limit_s=cfg.time_limit_s, mip_gap=cfg.mip_gap)
    except ValueError as exc:  # options the model cannot take: the user's config, not our bug
        raise InputError("pipeline.siting_options", source, language=study.config.study.language,
                         detail=str(exc)) from None
    result.params.update({"weight": cfg.weight, "limit_min": float(study.config.access.time_limit_min),
                          "tiers": list(cfg.tiers), "capacitated": cfg.capacitated})
    if result.status not in ("optimal", "feasible"):
        study.report.warning(source, "pipeline.siting_status", field="siting.model", model=result.model,
                             status=result.status, detail=ByLanguage(lambda lang: _solver_detail(result, lang)))
    return result


def _solver_detail(result, language: str) -> str:
    """The siting result's solver notes for the status warning, in ``language`` ("" without notes)."""
    notes = result.message_in(language)
    return ("：" if language == "zh" else ": ") + notes if notes else ""


def _write_inputs(study: Study, staged: StagedOutputs) -> None:
    """The validated layers in the metric CRS."""
    gpkg = staged.path("data", "inputs.gpkg")
    study.communities.to_file(gpkg, layer="communities", driver="GPKG", engine="pyogrio")
    if len(study.facilities):
        with_coordinates(study.facilities, study.config.inputs.facilities).to_file(
            gpkg, layer="facilities", driver="GPKG", engine="pyogrio")
    if len(study.candidates):
        with_coordinates(study.candidates, study.config.inputs.candidates).to_file(
            gpkg, layer="candidates", driver="GPKG", engine="pyogrio")


def _write_access(access, staged: StagedOutputs) -> None:
    from .access import write_access_outputs

    write_access_outputs(access, staged.path("data", "access.gpkg"), staged.path("data", "community_access.csv"))


def _write_accessibility(tables, staged: StagedOutputs, sites: bool = False) -> None:
    """Per-facility service pressure, its contributing communities and the equity summary;
    with ``sites`` the greedy picks (``[accessibility] objective``)."""
    write_csv(tables.facilities, staged.path("reports", "service_pressure.csv"))
    write_csv(tables.contributions, staged.path("reports", "service_pressure_communities.csv"))
    summary = dict(tables.summary, params=tables.result.params,
                   lorenz_communities=[list(map(float, v)) for v in tables.lorenz["communities"]])
    from .accessibility import after_sites

    for name, sited in tables.siting.items():
        summary[f"after_{name}"] = dict(after_sites(tables, sited.after)[2], **sited.params)
    if sites:  # written even when no site could be picked (header only), as expected_outputs says
        steps = tables.siting["greedy"].steps if "greedy" in tables.siting else pd.DataFrame(
            columns=["step", "candidate_id", "candidate", "objective", "mean", "min", "gini", "share_below_threshold"])
        write_csv(steps, staged.path("reports", "accessibility_sites.csv"))
    staged.path("data", "accessibility.json").write_text(
        json.dumps(_finite(summary), ensure_ascii=False, indent=2, default=str, allow_nan=False) + "\n",
        encoding="utf-8")


def _write_siting(study: Study, access, siting, proposed: gpd.GeoDataFrame, staged: StagedOutputs) -> None:
    """Proposed sites (GeoPackage, CSV) and before/after coverage by district and community."""
    proposed.to_file(staged.path("data", "proposed_sites.gpkg"), layer="proposed_sites", driver="GPKG",
                     engine="pyogrio")
    write_csv(pd.DataFrame(proposed.drop(columns="geometry")), staged.path("data", "proposed_sites.csv"))
    from .siting import coverage_by_group

    demand = access.demand
    for key, name in (("district", "siting_by_district.csv"), ("community_id", "siting_by_community.csv")):
        by = coverage_by_group(siting, demand[key].to_numpy()).rename(columns={"group": key})
        by.insert(1, "weight", study.config.siting.weight)
        write_csv(by, staged.path("reports", name))
    summary = {
        "model": siting.model, "method": siting.method, "status": siting.status, "objective": siting.objective,
        "bound": siting.bound, "gap": siting.gap, "solve_time_s": siting.solve_time_s,
        "new_sites": [str(x) for x in siting.selected_ids], "covered_share_before":
            float((siting.weights * siting.covered_before).sum() / siting.total_weight) if siting.total_weight else None,
        "covered_share_after": siting.covered_share, "uncoverable_weight": siting.uncoverable_weight,
        "params": {k: (v if isinstance(v, (int, float, str, bool, list, type(None))) else str(v))
                   for k, v in siting.params.items()}, "message": siting.message,
        # the same notes for the planner, in the study's language (message stays English data)
        "message_study_language": siting.message_in(study.config.study.language),
    }
    staged.path("data", "siting.json").write_text(json.dumps(_finite(summary), ensure_ascii=False, indent=2,
                                                             default=str, allow_nan=False) + "\n",
                                                  encoding="utf-8")


def siting_phases(study: Study, access, profile=None, staged: StagedOutputs | None = None) -> pd.DataFrame:
    """The ``[siting] phases`` nested plan (:func:`~eldercare_coverage.siting.phased`): its table, and
    with ``staged`` ``reports/siting_phases.csv`` and a chart ``reports/siting_phases.svg``."""
    from .siting import phased, phased_chart

    cfg = study.config.siting
    problem = siting_problem(study, access, profile=profile)
    df = phased(problem, cfg.model, phases=cfg.phases, method=cfg.method, time_limit_s=cfg.time_limit_s)
    if staged is not None:
        write_csv(df, staged.path("reports", "siting_phases.csv"))
        staged.path("reports", "siting_phases.svg").write_text(
            phased_chart(df, study.config.study.language, total_weight=float(problem.weights.sum())), encoding="utf-8")
    return df


def _finite(value):
    """JSON-safe copy: NaN and infinities become null (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_reports(study: Study, access, norms: NormResult, siting, proposed, staged: StagedOutputs,
                   accessibility=None, gates: dict | None = None, phases: pd.DataFrame | None = None) -> None:
    from .report import write_reports

    parameters = parameters_of(study.config)
    parameters["walk_limit_basis"] = walk_limit_basis(study, norms.profile)
    siting_tables = None
    if siting is not None:
        from .siting import coverage_by_group

        parameters.update({"siting_model": siting.model, "siting_method": siting.method,
                           "siting_status": siting.status, "siting_objective": round(float(siting.objective), 3),
                           "siting_bound": round(float(siting.bound), 3), "siting_gap": float(siting.gap),
                           "siting_weight": study.config.siting.weight, "siting_p": study.config.siting.p,
                           "siting_budget_cny": study.config.siting.budget})
        by_district = coverage_by_group(siting, access.demand["district"].to_numpy()).rename(
            columns={"group": "district"})
        from .summary import coverage_curve

        siting_tables = {"proposed": pd.DataFrame(proposed.drop(columns="geometry")), "siting_district": by_district,
                         # coverage as the proposed sites open one by one, for the report's chart
                         "curve": coverage_curve(siting, access)}
        if phases is not None:  # [siting] phases: the plan's chart and table in the siting section
            from .siting import phased_chart

            siting_tables.update(phases=phases, phases_chart=phased_chart(
                phases, study.config.study.language, total_weight=float(siting.total_weight)))
    write_reports(norms.communities, norms.districts, staged.folder("reports"), profile=norms.profile,
                  parameters=parameters, input_files=[Path(f["path"]) for f in study.input_files],
                  language=study.config.study.language, title=study.config.study.title or study.config.study.name,
                  street_table=norms.streets, unassigned=norms.unassigned, siting=siting_tables,
                  problems=study.report, accessibility=accessibility, gates=gates,
                  **_front_page_inputs(study, access, siting, staged))


def _front_page_inputs(study: Study, access, siting, staged: StagedOutputs) -> dict:
    """What the report's first page shows beyond the tables: the map image, what is left out
    (demand no site reaches; points off the network, per community) and the warnings."""
    from .summary import off_network_lines

    lang = study.config.study.language
    png = staged.folder("maps") / map_file_name(study.config, ".png")
    uncoverable = None
    if siting is not None and siting.total_weight:
        uncoverable = (float(siting.uncoverable_weight), float(siting.uncoverable_weight / siting.total_weight))
    left_out = off_network_lines(access, study, lang) if access is not None else []
    return {"map_png": png if png.is_file() else None, "left_out": left_out, "uncoverable": uncoverable,
            "warnings": [Text(p.code, **p.params).render(lang) for p in study.report.warnings],
            "siting_weight": study.config.siting.weight}


def _street_basemap(access):
    """The study's own OSM streets by class for the map's offline basemap (None without a network)."""
    if access is None or access.network is None:
        return None
    from .basemap import street_layers

    return street_layers(access.network)


def _basemap_features(study: Study, access) -> dict | None:
    """Water, waterways, buildings and labels for the offline basemap, from the study's OSM file
    (labels only when the network came from elsewhere); None without a network."""
    if access is None or access.network is None:
        return None
    from .basemap import basemap_features, labels

    cfg = study.config.inputs.network
    features = {}
    if cfg.path:
        # a narrower margin than the network's: the map frames the communities
        features = basemap_features(cfg.path, study.metric_crs, study_area(study), min(cfg.margin_m, 500.0))
    features["labels"] = labels(access.network, study.communities, features)
    return features


def _map_gates(study: Study):
    """The compound gates with their status at the study's gate hour (None when gates are off)."""
    gates = study_gates(study)
    if gates is None or not len(gates):
        return None
    from .maps import gate_status

    cfg = study.config.access
    return gate_status(gates, study.communities, tolerance_m=cfg.gate_tolerance_m, hour=cfg.gate_hour)


def _write_map(study: Study, access, norms: NormResult, proposed, staged: StagedOutputs,
               accessibility=None) -> None:
    from . import maps

    proposed = proposed if proposed is not None and len(proposed) else None
    stats = norms.communities
    facilities = study.facilities
    if access is not None and len(facilities):
        reach = maps.site_reach(access.facility_matrix, access.facility_ids, access.demand)
        facilities = facilities.join(reach, on="facility_id")
    m = maps.make_map(study.communities, facilities,
                      demand=access.demand if access is not None else None,
                      isochrones=access.isochrones if access is not None else None,
                      candidates=study.candidates if len(study.candidates) else None,
                      proposed=proposed, community_stats=stats, districts=study.districts,
                      basemap_streets=_street_basemap(access), basemap_features=_basemap_features(study, access),
                      gates=_map_gates(study) if access is not None else None,
                      gate_hour=study.config.access.gate_hour,
                      parameters=parameters_of(study.config), language=study.config.study.language,
                      basemap=study.config.output.basemap, tianditu_key=study.config.output.tianditu_key,
                      title=study.config.study.title or study.config.study.name, accessibility=accessibility)
    html = staged.path("maps", map_file_name(study.config, ".html"))
    maps.write_map(m, html)
    if study.config.output.png:
        if maps.find_chromium():
            maps.write_png(html, staged.path("maps", map_file_name(study.config, ".png")))
        else:
            study.report.warning(html.name, "pipeline.no_browser", field="output.png")


def _write_manifest(result: RunResult, staged: StagedOutputs) -> None:
    """run.json: parameters, inputs with checksums, outputs and stage timings of this run."""
    study = result.study
    manifest = {
        "parameters": parameters_of(study.config),
        "metric_crs": study.metric_crs.to_string() if study.metric_crs else None,
        "config": str(study.config.source) if study.config.source else None,
        "inputs": study.input_files,
        "outputs": sorted(str(final) for final in staged.planned().values()) + [
            str(staged.folders["data"] / "run.json")],
        "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()},
        "warnings": [str(p) for p in study.report.warnings],
    }
    staged.path("data", "run.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")


def input_paths(config: StudyConfig) -> list[str]:
    """Every file the study reads: the config, its input layers, network and profile file."""
    layers = [getattr(config.inputs, f.name).path for f in dataclasses.fields(config.inputs)]
    return [str(p) for p in (config.source, config.norms.profile_file, *layers) if p]


def expected_outputs(config: StudyConfig) -> dict[str, list[str]]:
    """The files a run of ``config`` writes, by output folder (checked before computing)."""
    data = ["inputs.gpkg", "validation.txt", "run.json"]
    reports = ["community_gaps.csv", "district_gaps.csv", "street_gaps.csv", "gaps.xlsx", "report.html"]
    if config.inputs.network.path or config.inputs.network.download:
        data += ["access.gpkg", "community_access.csv"]
        if config.accessibility.measure:
            data.append("accessibility.json")
            reports += ["service_pressure.csv", "service_pressure_communities.csv"]
            reports += ["accessibility_sites.csv"] if config.accessibility.objective else []
        if config.siting.model:
            data += ["proposed_sites.gpkg", "proposed_sites.csv", "siting.json"]
            reports += ["siting_by_district.csv", "siting_by_community.csv"]
            if config.siting.phases:
                reports += ["siting_phases.csv", "siting_phases.svg"]
    maps = [map_file_name(config, ".html")] + ([map_file_name(config, ".png")] if config.output.png else [])
    return {"data": data, "reports": reports, "maps": maps}


def map_file_name(config: StudyConfig, suffix: str) -> str:
    """``<study name><suffix>``, with the name made safe for every filesystem."""
    return safe_name(config.study.name) + suffix


def _legacy_outputs(config: StudyConfig) -> list[str]:
    """Files listed by a ``run.json`` of this study from before manifests existed, so a rerun
    may replace them (a run.json of another study gives none)."""
    path = Path(config.output.data_dir) / "run.json"
    try:
        if not path.is_file():
            return []
        old = json.loads(path.read_text(encoding="utf-8"))
        if old["parameters"]["study"] != config.study.name:
            return []
        return [p for p in old["outputs"] if isinstance(p, str)]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def validate(config: StudyConfig | str | Path | None = None) -> Study:
    """Load and check the config and the inputs only; returns the study with its problem report
    (never raises for config values or data problems; the config itself must be readable TOML)."""
    if config is None:
        config = sample_config_path()
    if not isinstance(config, StudyConfig):
        config = load_config(config, raise_on_error=False)
    return check_inputs(config, network=True)


def check_inputs(config: StudyConfig, *, network: bool = False) -> Study:
    """Every check of the config and the inputs in one round, into one report: the config's own
    problems (carried in ``config.warnings``), the input files, the siting inputs and, with
    ``network`` or when anything else is wrong, the walk network (so a run stopped by a data error
    names a broken network file too). Errors are not raised here."""
    config_errors = [p for p in getattr(config, "warnings", []) if p.severity == "error"]
    if any((p.field or "").startswith(("study.", "inputs.communities")) for p in config_errors):
        # the inputs cannot be placed without these: report the config alone
        raise InputError(ProblemReport(list(config.warnings), language=config.study.language))
    try:
        study = load_study(config, raise_on_error=False)
    except InputError as exc:
        exc.report.language = config.study.language
        raise
    check_siting_inputs(study)
    if not (network or study.report.errors):
        return study
    if config.inputs.network.path and study.communities is not None and study.metric_crs is not None and \
            not any(p.field == "inputs.network.path" for p in config_errors):
        # The same loader as run: an empty or unreadable network is found here, not mid-run.
        study_dem(study)
        net = build_network(study, raise_on_error=False)
        check_street_alignment(study, net)
    elif config.inputs.network.download and network:
        log.info("validate does not download the walk network; run fetches it")
    return study
