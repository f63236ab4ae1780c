"""Bad geometry, coordinates and siting options are flagged or refused, never absorbed:
overlapping and far-away communities, a metric CRS that outliers cannot move, coordinates in
the wrong Chinese web-map system, an unusable walk network found by validate, and siting
options the candidates cannot satisfy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import mapping, shape

from eldercare_coverage import checks, cli, crs, pipeline
from eldercare_coverage.config import load_config
from eldercare_coverage.io import load_study

ROOT = Path(__file__).resolve().parents[1]
COM, POP, FAC, CFG = "communities.geojson", "population.csv", "facilities.csv", "sample.toml"
NETWORK_LINE = f'path = "{(ROOT / "data" / "chengdu-jinniu-xindu.osm.bz2").as_posix()}"'


def _edit_config(folder: Path, old: str, new: str) -> None:
    cfg = folder / CFG
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def _no_network(folder: Path) -> None:
    """Checks that need no walk network run without one (seconds faster)."""
    _edit_config(folder, NETWORK_LINE, 'path = ""')


def _add_communities(folder: Path, features: list[dict]) -> None:
    """Append community features, each with a population row (so the join has nothing to say)."""
    path = folder / COM
    data = json.loads(path.read_text(encoding="utf-8"))
    data["features"].extend(features)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    table = pd.read_csv(folder / POP, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    rows = [{"社区编码": f["properties"]["community_id"], "小区名称": f["properties"]["name"], "人口": "1000",
             "户数": "400", "60岁以上人口": "200", "数据说明": "test"} for f in features]
    pd.concat([table, pd.DataFrame(rows)], ignore_index=True).to_csv(folder / POP, index=False, encoding="utf-8-sig")


def _feature(folder: Path, index: int, community_id: str, geometry: dict) -> dict:
    """A copy of the sample's feature ``index`` with a new id and geometry."""
    base = json.loads((folder / COM).read_text(encoding="utf-8"))["features"][index]
    return {"type": "Feature", "geometry": geometry,
            "properties": dict(base["properties"], community_id=community_id, name=f"{community_id} 小区")}


def _box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return mapping(shapely.box(x0, y0, x1, y1))


@pytest.fixture(scope="module")
def sample_validated():
    """``validate`` of the shipped sample (read only; it writes nothing)."""
    return pipeline.validate(ROOT / "data" / CFG)


# ---------------------------------------------------------------------------------------------
# Overlapping communities


def test_overlap_pairs_and_shares_of_known_squares():
    a = shapely.box(0, 0, 100, 100)
    geoms = np.array([
        a,
        shapely.box(0, 0, 100, 100),          # 1: the same boundary again
        shapely.box(10, 10, 40, 40),          # 2: inside a (and inside 1)
        shapely.box(70, 0, 170, 100),         # 3: 30 % of it overlaps a, 1
        shapely.box(195, 0, 295, 100),        # 4: 5 m × 100 m of it overlaps 3: 5 %, below the threshold
        shapely.box(300, 0, 400, 100),        # 5: touches nothing
        None,                                 # 6: missing geometry is skipped
    ], dtype=object)
    pairs = checks.community_overlaps(geoms)
    found = {(int(r.i), int(r.j)): (r.kind, round(r.share_smaller, 6), round(r.overlap_m2, 6))
             for r in pairs.itertuples()}
    assert found == {
        (0, 1): ("duplicate", 1.0, 10000.0),
        (0, 2): ("nested", 1.0, 900.0),
        (1, 2): ("nested", 1.0, 900.0),
        (0, 3): ("overlap", 0.3, 3000.0),
        (1, 3): ("overlap", 0.3, 3000.0),
    }


def test_duplicated_nested_and_overlapping_communities_are_flagged(sample_copy, capsys):
    _no_network(sample_copy)
    data = json.loads((sample_copy / COM).read_text(encoding="utf-8"))
    first = data["features"][0]
    inner = shape(data["features"][1]["geometry"]).representative_point()
    x0, y0, x1, y1 = shapely.bounds(shape(data["features"][2]["geometry"]))
    width = x1 - x0
    _add_communities(sample_copy, [
        _feature(sample_copy, 0, "DUP1", first["geometry"]),
        _feature(sample_copy, 1, "IN1", _box(inner.x - 0.0002, inner.y - 0.0002, inner.x + 0.0002, inner.y + 0.0002)),
        # The bounding box of feature 3 moved by half its width: a heavy but partial overlap.
        _feature(sample_copy, 2, "HALF1", _box(x0 + width / 2, y0, x1 + width / 2, y1)),
    ])
    study = pipeline.validate(sample_copy / CFG)
    path = str(sample_copy / COM)
    dup = [p for p in study.report.errors if p.file == path and "same boundary" in p.message]
    assert len(dup) == 1, study.report.format()
    assert dup[0].row == "feature 79 (id DUP1)" and dup[0].field == "geometry"
    assert f"'{first['properties']['community_id']}'" in dup[0].message and "counted twice" in dup[0].message
    assert dup[0].fix
    nested = [p for p in study.report.warnings if p.row == "feature 80 (id IN1)" and "lies inside" in p.message]
    assert len(nested) == 1 and "100%" in nested[0].message, study.report.format()
    partial = [p for p in study.report.warnings if "HALF1" in (p.row or "") + p.message and "overlaps" in p.message]
    assert partial, study.report.format()
    assert all(p.field == "geometry" for p in nested + partial)
    # The sample's own compounds do not overlap: every pair reported involves an added feature.
    flagged = [p for p in study.report.problems if p.field == "geometry" and p.file == path]
    assert len(flagged) == 3 and all(any(new in (p.row or "") + p.message for new in ("DUP1", "IN1", "HALF1"))
                                     for p in flagged), flagged

    assert cli.main(["validate", str(sample_copy / CFG)]) == 2
    out = capsys.readouterr()
    assert dup[0].render("zh") in out.out and "边界相同" in out.out and "Traceback" not in out.out + out.err


# ---------------------------------------------------------------------------------------------
# Features far away and the metric CRS


def test_far_community_is_flagged_and_does_not_move_the_metric_crs(sample_copy, sample_validated):
    # A compound near the antimeridian: with the bounding box's centre the metric CRS became
    # UTM zone 54 and the covered share of older residents fell from 55 % to 15 %.
    _add_communities(sample_copy, [_feature(sample_copy, 0, "FAR1", _box(179.95, 30.77, 179.952, 30.772))])
    config = load_config(sample_copy / CFG)
    study = load_study(config)
    raw = study.communities.to_crs(4326)
    assert crs.pick_metric_crs(tuple(raw.total_bounds)).to_epsg() == 32654  # the old choice, for the record
    assert study.metric_crs.to_epsg() == sample_validated.metric_crs.to_epsg() == 32648
    far = [p for p in study.report.warnings if p.row == "feature 79 (id FAR1)"]
    assert len(far) == 1 and far[0].field == "geometry" and "km from the median centre" in far[0].message
    info = [p for p in study.report.problems if p.severity == "info" and p.field == "study.metric_crs"]
    assert len(info) == 1 and "EPSG:32648" in info[0].message and "78 of 79 communities" in info[0].message
    assert list(study.far_communities) == [False] * 78 + [True]

    base = pipeline.compute_study_access(sample_validated, pipeline.build_network(sample_validated))
    access = pipeline.compute_study_access(study, pipeline.build_network(study))
    ours = access.communities.set_index("community_id").drop(index="FAR1")
    theirs = base.communities.set_index("community_id")
    pd.testing.assert_series_equal(ours["share_elderly_within"], theirs["share_elderly_within"])
    share = ours["elderly_within"].sum() / study.communities.set_index("community_id").drop(
        index="FAR1")["elderly_population"].sum()
    assert share == pytest.approx(theirs["elderly_within"].sum() / sample_validated.communities["elderly_population"].sum())
    assert 0.4 < share < 0.5  # 45 % (the sample with its illustrative gates), as without the outlier


# ---------------------------------------------------------------------------------------------
# Coordinates in the wrong system, found against the street network


def _shift_to_gcj02(folder: Path) -> None:
    path = folder / COM
    data = json.loads(path.read_text(encoding="utf-8"))
    for f in data["features"]:
        geom = shape(f["geometry"])
        f["geometry"] = mapping(
            shapely.transform(geom, lambda c: np.column_stack(crs.wgs84_to_gcj02(c[:, 0], c[:, 1]))))
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    table = pd.read_csv(folder / FAC, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    lon, lat = crs.wgs84_to_gcj02(table["经度"].astype(float).to_numpy(), table["纬度"].astype(float).to_numpy())
    table["经度"], table["纬度"] = [f"{v:.7f}" for v in lon], [f"{v:.7f}" for v in lat]
    table.to_csv(folder / FAC, index=False, encoding="utf-8-sig")


def _crs_warnings(study) -> list:
    return [p for p in study.report.warnings if p.field == "crs" and "streets" in p.message]


def test_amap_coordinates_declared_as_wgs84_are_detected(sample_copy, sample_validated):
    assert not _crs_warnings(sample_validated), sample_validated.report.format()
    _shift_to_gcj02(sample_copy)
    study = pipeline.validate(sample_copy / CFG)
    found = _crs_warnings(study)
    assert [Path(p.file).name for p in found] == [COM], study.report.format()
    assert "look like GCJ-02" in found[0].message and "WGS-84 (GPS, OpenStreetMap) is declared" in found[0].message
    assert 'crs = "GCJ-02"' in found[0].fix and "[inputs.communities]" in found[0].fix
    assert study.report.ok  # a warning: the user may know better
    # The fix it names works: declared GCJ-02, the communities sit on the streets again.
    _edit_config(sample_copy, 'path = "communities.geojson"', 'path = "communities.geojson"\ncrs = "GCJ-02"')
    assert not _crs_warnings(pipeline.validate(sample_copy / CFG))


def test_misfit_measures_agree_with_a_known_offset():
    # Streets on a 200 m grid; compounds are the blocks between them, points sit on the streets.
    lines = [shapely.LineString([(x, 0), (x, 2000)]) for x in range(0, 2001, 200)]
    lines += [shapely.LineString([(0, y), (2000, y)]) for y in range(0, 2001, 200)]
    streets = np.array(lines, dtype=object)
    tree = shapely.STRtree(streets)
    blocks = np.array([shapely.box(x + 5, y + 5, x + 195, y + 195) for x in range(0, 1800, 200)
                       for y in range(0, 1800, 200)], dtype=object)
    assert checks.street_misfit(blocks, tree, streets) == 0.0
    moved = shapely.transform(blocks, lambda c: c + [100.0, 0.0])
    # Each moved block is crossed by one street along its inner height (190 - 2 × inset).
    assert checks.street_misfit(moved, tree, streets) == pytest.approx(190 - 2 * checks.INTERIOR_INSET_M)
    points = shapely.points([[x, 100.0] for x in range(0, 1801, 200)])
    assert checks.street_misfit(points, tree, streets) == 0.0
    assert checks.street_misfit(shapely.transform(points, lambda c: c + [30.0, 0.0]), tree, streets) == 30.0


# ---------------------------------------------------------------------------------------------
# validate opens the walk network


EMPTY_OSM = '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="test">\n</osm>\n'
MOTORWAY_OSM = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="30.7650" lon="104.0650" version="1"/>
  <node id="2" lat="30.7680" lon="104.0700" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>
</osm>
"""


@pytest.mark.parametrize("content, words", [(EMPTY_OSM, "cannot read the walk network"),
                                            (MOTORWAY_OSM, "no walkable streets")], ids=["empty", "motorway-only"])
def test_validate_catches_an_unusable_network(sample_copy, content, words, capsys):
    (sample_copy / "streets.osm").write_text(content, encoding="utf-8")
    _edit_config(sample_copy, NETWORK_LINE, 'path = "streets.osm"')
    study = pipeline.validate(sample_copy / CFG)
    found = [p for p in study.report.errors if Path(p.file).name == "streets.osm"]
    assert len(found) == 1 and words in found[0].message and found[0].fix, study.report.format()
    assert cli.main(["validate", str(sample_copy / CFG)]) == 2
    out = capsys.readouterr()
    assert found[0].render("zh") in out.out and "Traceback" not in out.out + out.err


# ---------------------------------------------------------------------------------------------
# Siting options the candidates cannot satisfy


def test_p_above_the_number_of_candidates_is_refused(sample_copy, capsys):
    _edit_config(sample_copy, "p = 5", "p = 50")
    assert cli.main(["run", str(sample_copy / CFG)]) == 2
    err = capsys.readouterr().err
    assert "siting.p = 50 处新设施，但只有 45 个候选点" in err and "不超过 45" in err
    assert "Traceback" not in err
    assert not any((sample_copy / d).exists() for d in ("out", "reports", "maps"))
    _no_network(sample_copy)
    errors = pipeline.validate(sample_copy / CFG).report.errors
    assert [p.field for p in errors] == ["siting.p"]


def test_mclp_without_candidates_warns_that_coverage_cannot_improve(sample_copy):
    _no_network(sample_copy)
    _edit_config(sample_copy, 'path = "candidates.geojson"', 'path = ""')
    study = pipeline.validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    found = [p for p in study.report.warnings if p.field == "siting.model"]
    assert len(found) == 1 and "coverage cannot improve" in found[0].message
    assert "[inputs.candidates] is not set" in found[0].message and found[0].fix
