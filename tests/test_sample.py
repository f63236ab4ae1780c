"""The embedded sample: reproducible from the OSM file, and consistent with what its README says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from eldercare_coverage.config import load_config
from eldercare_coverage.io import load_study

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def test_generation_script_reproduces_the_sample_byte_for_byte(tmp_path):
    out = tmp_path / "regenerated"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_sample.py"), "--osm",
                    str(DATA / "chengdu-jinniu-xindu.osm.bz2"), "--out", str(out)], check=True,
                   capture_output=True)
    for name in ("communities.geojson", "population.csv", "facilities.csv", "candidates.geojson",
                 "district_border.geojson", "gates.geojson", "chengdu-jinniu-xindu.osm.bz2"):
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), f"{name} differs"


def test_sample_matches_its_description():
    study = load_study(load_config(DATA / "sample.toml"))
    com = study.communities
    assert len(com) == 78
    assert (~com["name"].str.startswith("未命名小区")).sum() == 69
    assert set(com["district"]) == {"金牛区", "新都区"}
    assert study.report.ok and not study.report.warnings
    table = pd.read_csv(DATA / "population.csv", encoding="utf-8-sig")
    assert com["population"].sum() == table["人口"].sum()
    assert ((com["elderly_population"] / com["population"]).round(2) == 0.18).all()
    assert len(study.facilities) == 12 and 30 <= len(study.candidates) <= 60
    assert set(study.facilities["kind"]) == {"day_care_centre", "service_centre", "service_station"}
    assert list(study.districts["name"]) == ["金牛新都边界"]
    assert study.districts.geom_type.iloc[0] in ("LineString", "MultiLineString")
