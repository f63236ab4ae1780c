"""Shared fixtures: a private copy of the embedded sample that a test may break."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SHARED = ROOT.parent / "shared"
SAMPLE_FILES = ("communities.geojson", "population.csv", "facilities.csv", "candidates.geojson",
                "district_border.geojson", "sample.toml")


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A folder holding a copy of the sample inputs and config (the network file is linked by path)."""
    folder = tmp_path / "study"
    folder.mkdir()
    for name in SAMPLE_FILES:
        shutil.copyfile(DATA / name, folder / name)
    config = (folder / "sample.toml").read_text(encoding="utf-8")
    config = config.replace('path = "chengdu-jinniu-xindu.osm.bz2"',
                            f'path = "{(DATA / "chengdu-jinniu-xindu.osm.bz2").as_posix()}"')
    config = config.replace('"../out"', '"out"').replace('"../reports"', '"reports"').replace('"../maps"', '"maps"')
    (folder / "sample.toml").write_text(config, encoding="utf-8")
    return folder
