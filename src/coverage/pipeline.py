"""The study pipeline: load → network → demand/access → norms → siting → reports/maps.

It only wires the stage functions together; each stage is usable on its own in a notebook.
All outputs of a run are staged and published together (see :mod:`coverage.outputs`).
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .config import StudyConfig, load_config
from .io import Study, load_study
from .outputs import StagedOutputs

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CONFIG = REPO_ROOT / "data" / "sample.toml"


@dataclass
class RunResult:
    """What a run produced: the loaded study, each stage's result and the files written."""

    study: Study
    outputs: list[Path] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    stages: dict[str, object] = field(default_factory=dict)


def sample_config_path() -> Path:
    """The embedded sample's config (``data/sample.toml`` of a source checkout)."""
    if not SAMPLE_CONFIG.exists():
        from .errors import InputError

        raise InputError("the embedded sample is not here (it ships with a source checkout, in data/).",
                         str(SAMPLE_CONFIG), "Pass your own study config: eldercare-coverage run study.toml")
    return SAMPLE_CONFIG


@contextmanager
def _timed(name: str, timings: dict[str, float]):
    t0 = time.perf_counter()
    log.info("%s ...", name)
    yield
    timings[name] = time.perf_counter() - t0
    log.info("%s done in %.2f s", name, timings[name])


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
    }


def run(config: StudyConfig | str | Path | None = None, *, out_dir: str | Path | None = None) -> RunResult:
    """Run every stage of a study and publish its outputs; ``None`` runs the embedded sample.

    ``out_dir`` puts the data, reports and maps folders under one folder instead of the
    config's ``[output]`` folders.
    """
    if config is None:
        config = sample_config_path()
    if not isinstance(config, StudyConfig):
        config = load_config(config)
    if out_dir is not None:
        out = Path(out_dir).resolve()
        config.output.data_dir, config.output.reports_dir, config.output.maps_dir = (
            str(out / "out"), str(out / "reports"), str(out / "maps"))
    timings: dict[str, float] = {}
    with _timed("load and validate inputs", timings):
        study = load_study(config)
    result = RunResult(study=study, timings_s=timings)
    folders = {"data": config.output.data_dir, "reports": config.output.reports_dir, "maps": config.output.maps_dir}
    with StagedOutputs(folders) as staged:
        with _timed("write validated inputs", timings):
            _write_inputs(study, staged)
        _write_manifest(result, staged)
        result.outputs = staged.publish()
    for path in result.outputs:
        log.info("wrote %s", path)
    return result


def _write_inputs(study: Study, staged: StagedOutputs) -> None:
    """The validated layers in the metric CRS, and the problem report (warnings) of loading."""
    gpkg = staged.path("data", "inputs.gpkg")
    study.communities.to_file(gpkg, layer="communities", driver="GPKG", engine="pyogrio")
    if len(study.facilities):
        study.facilities.to_file(gpkg, layer="facilities", driver="GPKG", engine="pyogrio")
    if len(study.candidates):
        study.candidates.to_file(gpkg, layer="candidates", driver="GPKG", engine="pyogrio")
    staged.path("data", "validation.txt").write_text(study.report.format() + "\n", encoding="utf-8")


def _write_manifest(result: RunResult, staged: StagedOutputs) -> None:
    """run.json: parameters, inputs with checksums, outputs and stage timings of this run."""
    study = result.study
    manifest = {
        "parameters": parameters_of(study.config),
        "metric_crs": study.metric_crs.to_string() if study.metric_crs else None,
        "config": str(study.config.source) if study.config.source else None,
        "inputs": study.input_files,
        "outputs": sorted(str(final) for final in staged.files.values()) + [
            str(staged.folders["data"] / "run.json")],
        "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()},
        "warnings": [str(p) for p in study.report.warnings],
    }
    staged.path("data", "run.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                               encoding="utf-8")


def validate(config: StudyConfig | str | Path | None = None) -> Study:
    """Load and check the inputs only; returns the study with its problem report (never raises
    for data problems; the config itself must be readable)."""
    if config is None:
        config = sample_config_path()
    if not isinstance(config, StudyConfig):
        config = load_config(config)
    return load_study(config, raise_on_error=False)
