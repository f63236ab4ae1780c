"""Loaders and validation: every malformed input gets a message naming file, row and field,
all problems come in one report, and a failed run writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from eldercare_coverage import cli
from eldercare_coverage.config import load_config
from eldercare_coverage.errors import InputError
from eldercare_coverage.io import load_study
from eldercare_coverage.pipeline import validate

# ---------------------------------------------------------------------------------------------
# Helpers that break one thing in the copied sample


def _edit_csv(path: Path, func) -> None:
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    func(table)
    table.to_csv(path, index=False, encoding="utf-8-sig")


def _edit_geojson(path: Path, func) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    func(data["features"])
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _edit_config(folder: Path, old: str, new: str) -> None:
    cfg = folder / "sample.toml"
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def _set_cell(column: str, row: int, value: str):
    def edit(table: pd.DataFrame) -> None:
        table.loc[row, column] = value
    return edit


def _drop_column(column: str):
    def edit(table: pd.DataFrame) -> None:
        del table[column]
    return edit


def _community_prop(index: int, key: str, value):
    def edit(features) -> None:
        features[index]["properties"][key] = value
    return edit


def _community_geometry(index: int, geometry):
    def edit(features) -> None:
        features[index]["geometry"] = geometry
    return edit


POP = "population.csv"
FAC = "facilities.csv"
COM = "communities.geojson"
CAND = "candidates.geojson"
CFG = "sample.toml"


def _break(kind: str, *args):
    """A mutation of the sample folder."""
    def apply(folder: Path) -> None:
        if kind == "csv":
            name, func = args
            _edit_csv(folder / name, func)
        elif kind == "geojson":
            name, func = args
            _edit_geojson(folder / name, func)
        elif kind == "config":
            _edit_config(folder, *args)
        elif kind == "write":
            name, content = args
            (folder / name).write_bytes(content)
    return apply


def _swap_one_row_gcj02(folder: Path) -> None:
    _edit_config(folder, 'crs = "EPSG:4326"', 'crs = "GCJ-02"')

    def swap(table: pd.DataFrame) -> None:
        table.loc[3, ["经度", "纬度"]] = table.loc[3, ["纬度", "经度"]].to_numpy()
    _edit_csv(folder / FAC, swap)


# Each case: id, mutation, expected (file name, row text or None, field, words in the message).
CASES = [
    ("population_not_a_number", _break("csv", POP, _set_cell("人口", 4, "约五千")),
     (POP, "6", "population", "is not a number")),
    ("population_negative", _break("csv", POP, _set_cell("人口", 0, "-12")),
     (POP, "2", "population", "negative")),
    ("population_empty", _break("csv", POP, _set_cell("人口", 9, "")),
     (POP, "11", "population", "empty")),
    ("households_above_population", _break("csv", POP, _set_cell("户数", 3, "999999")),
     (POP, "5 (id CD0548947339)", "households", "exceed the population")),
    ("elderly_above_population", _break("csv", POP, _set_cell("60岁以上人口", 7, "999999")),
     (POP, "9", "elderly_population", "exceed the population")),
    ("population_column_missing", _break("csv", POP, _drop_column("人口")),
     (POP, None, "人口", "is not in the file")),
    ("duplicate_names_joined_by_name", _break("config", 'join_on = "community_id"', 'join_on = "name"'),
     (COM, "feature 17", "name", "communities are named '方营小区'")),
    ("duplicate_community_id", _break("geojson", COM, _community_prop(5, "community_id", "CD0450175966")),
     (COM, "feature 1", "community_id", "is used by 2 rows")),
    ("community_id_missing_column", _break("config", 'path = "communities.geojson"',
                                           'path = "communities.geojson"\ncolumns = { community_id = "编码" }'),
     (COM, None, "编码", "is not in the file")),
    ("community_not_in_population_table", _break("csv", POP, _set_cell("社区编码", 2, "NOPE")),
     (COM, "feature 3", "community_id", "not in the population table")),
    ("empty_geometry", _break("geojson", COM, _community_geometry(11, None)),
     (COM, "feature 12", "geometry", "geometry is empty")),
    ("point_as_community", _break("geojson", COM, _community_geometry(2, {"type": "Point", "coordinates": [104.07, 30.77]})),
     (COM, "feature 3", "geometry", "must be polygons")),
    ("unrepairable_polygon", _break("geojson", COM, _community_geometry(6, {
        "type": "Polygon", "coordinates": [[[104.07, 30.77], [104.08, 30.77], [104.09, 30.77], [104.07, 30.77]]]})),
     (COM, "feature 7", "geometry", "cannot be repaired")),
    ("estate_type_unknown", _break("geojson", COM, _community_prop(1, "estate_type", "半新")),
     (COM, "feature 2", "estate_type", "estate type '半新' is not known")),
    ("facility_kind_unknown", _break("csv", FAC, _set_cell("设施类型", 2, "老年大学")),
     (FAC, "4", "kind", "facility kind '老年大学' is not known")),
    ("floor_area_not_a_number", _break("csv", FAC, _set_cell("建筑面积", 5, "两百")),
     (FAC, "7", "floor_area_m2", "is not a number")),
    ("beds_negative", _break("csv", FAC, _set_cell("床位", 0, "-3")),
     (FAC, "2", "beds", "negative")),
    ("duplicate_facility_id", _break("csv", FAC, _set_cell("设施编码", 4, "F01")),
     (FAC, "2", "facility_id", "is used by 2 rows")),
    ("coordinates_not_numbers", _break("csv", FAC, _set_cell("经度", 3, "104°04'")),
     (FAC, "5", "经度/纬度", "are not numbers")),
    ("projected_crs_with_degrees", _break("config", 'crs = "EPSG:4326"', 'crs = "EPSG:4547"'),
     (FAC, None, "crs", "look like longitude/latitude")),
    ("table_without_crs", _break("config", 'crs = "EPSG:4326"', 'crs = ""'),
     (FAC, None, "crs", "declares no coordinate system")),
    ("facility_far_outside", _break("csv", FAC, _set_cell("纬度", 8, "39.9042")),
     (FAC, "10", "geometry", "outside the communities' extent")),
    ("lon_lat_swapped", _break("config", 'x_column = "经度"\ny_column = "纬度"', 'x_column = "纬度"\ny_column = "经度"'),
     (FAC, "2", "geometry", "look swapped")),
    ("one_row_swapped_gcj02", _swap_one_row_gcj02, (FAC, "5 (id F04)", "geometry", "look swapped (30.")),
    ("empty_file", _break("write", CAND, b""),
     (CAND, None, None, "the file is empty")),
    ("unreadable_file", _break("write", CAND, b"{ this is not json"),
     (CAND, None, None, "cannot be read as a spatial file")),
    ("header_only_csv", _break("write", FAC, "设施编码,设施名称,设施类型,建筑面积,床位,经度,纬度\n".encode("utf-8")),
     (FAC, None, None, "no rows")),
    ("missing_input_file", _break("config", 'path = "candidates.geojson"', 'path = "candidates-2024.geojson"'),
     ("candidates-2024.geojson", None, "path", "file not found")),
    ("no_coordinate_columns", _break("config", 'x_column = "经度"\ny_column = "纬度"', ''),
     (FAC, None, None, "no coordinate columns")),
]


@pytest.mark.parametrize("case_id, mutate, expected", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_is_reported_and_nothing_is_written(sample_copy, case_id, mutate, expected, capsys):
    # Fixups for cases that need the coordinate columns renamed so none is auto-detected.
    if case_id == "no_coordinate_columns":
        _edit_csv(sample_copy / FAC, lambda t: t.rename(columns={"经度": "E", "纬度": "N"}, inplace=True))
    mutate(sample_copy)
    file_name, row, field, words = expected
    config = sample_copy / CFG
    study = validate(config)
    matches = [p for p in study.report.errors if Path(p.file).name == file_name and words in p.message]
    assert matches, f"no error mentioning {words!r} in {file_name}; got:\n{study.report.format()}"
    problem = matches[0]
    if row is not None:
        assert problem.row is not None and problem.row.startswith(row), problem
    if field is not None:  # a data column is named as the user's file names it
        assert problem.field == study.report.column_name(problem.file, field), problem
    assert problem.fix or words in ("and",), f"no fix suggested: {problem}"

    assert cli.main(["validate", str(config)]) == 2
    assert cli.main(["run", str(config)]) == 2
    err = capsys.readouterr().err
    assert problem.render("zh") in err and "Traceback" not in err  # the study's language
    for folder in ("out", "reports", "maps"):
        assert not (sample_copy / folder).exists(), f"{folder}/ was written by a failed run"
    assert not list(sample_copy.glob(".eldercare-staging-*"))


def test_broken_copy_lists_every_problem_in_one_report(sample_copy, capsys):
    for _, mutate, _ in [c for c in CASES if c[0] in (
            "population_not_a_number", "duplicate_facility_id", "empty_geometry", "facility_kind_unknown",
            "estate_type_unknown")]:
        mutate(sample_copy)
    assert cli.main(["validate", str(sample_copy / CFG)]) == 2
    out = capsys.readouterr().out
    for words in ("不是数字", "被 2 行使用", "几何为空", "老年大学", "半新"):
        assert words in out
    assert "5 个错误" in out


def test_inputs_are_not_modified(sample_copy):
    before = {p.name: p.read_bytes() for p in sample_copy.iterdir()}
    assert cli.main(["run", str(sample_copy / CFG)]) == 0
    after = {p.name: p.read_bytes() for p in sample_copy.iterdir() if p.is_file()}
    for name, content in before.items():
        assert after[name] == content


def test_repairable_polygon_is_fixed_with_a_warning(sample_copy):
    bowtie = {"type": "Polygon", "coordinates": [[[104.070, 30.770], [104.072, 30.772], [104.072, 30.770],
                                                  [104.070, 30.772], [104.070, 30.770]]]}
    _break("geojson", COM, _community_geometry(0, bowtie))(sample_copy)
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    assert any("repaired with make_valid" in p.message for p in study.report.warnings)
    assert study.communities.geometry.is_valid.all()
    assert study.communities.geometry.iloc[0].area > 0


def test_unknown_config_key_and_wrong_type_name_the_key(sample_copy):
    _edit_config(sample_copy, "time_limit_min = 15", 'time_limit_min = "fifteen"\nwalkspeed = 1.0')
    with pytest.raises(InputError) as info:
        load_config(sample_copy / CFG)
    fields = {p.field for p in info.value.report.errors}
    assert {"access.time_limit_min", "access.walkspeed"} <= fields
    assert cli.main(["run", str(sample_copy / CFG)]) == 2


def test_population_rows_without_boundary_are_reported(sample_copy):
    _edit_csv(sample_copy / POP, lambda t: t.loc.__setitem__(len(t), ["ORPHAN", "无边界小区", "100", "40", "20", ""]))
    study = validate(sample_copy / CFG)
    assert study.report.ok
    warning = [p for p in study.report.warnings if "ORPHAN" in p.message]
    assert warning and warning[0].field == "社区编码" and warning[0].row == "80"  # the table's own column name


# ---------------------------------------------------------------------------------------------
# Every format loads to the same data


def _config_for(folder: Path, communities_block: str, facilities_block: str) -> Path:
    text = f"""
[study]
name = "formats"
[inputs.communities]
{communities_block}
[inputs.facilities]
{facilities_block}
[output]
data_dir = "out"
"""
    path = folder / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def reference(sample_copy):
    study = load_study(load_config(sample_copy / CFG))
    return study


def test_geopackage_shapefile_excel_and_wkt_load_the_same(sample_copy, reference, tmp_path):
    com = reference.communities.to_crs(4326)
    fac = reference.facilities.to_crs(4326)
    folder = tmp_path / "formats"
    folder.mkdir()
    com.to_file(folder / "com.gpkg", layer="communities", driver="GPKG")
    com.to_crs(32648).to_file(folder / "com.shp", encoding="utf-8")
    fac.to_file(folder / "fac.gpkg", layer="facilities", driver="GPKG")
    table = pd.DataFrame(fac.drop(columns="geometry"))
    table["lon"], table["lat"] = fac.geometry.x, fac.geometry.y
    table.to_excel(folder / "fac.xlsx", index=False)
    wkt = pd.DataFrame(fac.drop(columns="geometry"))
    wkt["wkt"] = shapely.to_wkt(fac.geometry.to_numpy(), rounding_precision=-1)
    wkt.to_csv(folder / "fac_wkt.csv", index=False)
    variants = [
        ('path = "com.gpkg"', 'path = "fac.gpkg"'),
        ('path = "com.shp"', 'path = "fac.xlsx"\ncrs = "EPSG:4326"'),
        ('path = "com.gpkg"\nlayer = "communities"', 'path = "fac_wkt.csv"\ncrs = "EPSG:4326"'),
    ]
    for com_block, fac_block in variants:
        study = load_study(load_config(_config_for(folder, com_block, fac_block)))
        assert list(study.communities["community_id"]) == list(reference.communities["community_id"])
        np.testing.assert_allclose(study.communities["population"], reference.communities["population"])
        assert list(study.facilities["kind"]) == list(reference.facilities["kind"])
        d = shapely.distance(study.facilities.geometry.to_numpy(), reference.facilities.geometry.to_numpy())
        assert d.max() < 0.01, f"{fac_block}: facilities moved by {d.max()} m"
        ratio = study.communities.area.to_numpy() / reference.communities.area.to_numpy()
        np.testing.assert_allclose(ratio, 1.0, rtol=1e-6)


def test_gcj02_coordinates_are_converted(sample_copy, reference):
    from eldercare_coverage.crs import wgs84_to_gcj02

    table = pd.read_csv(sample_copy / FAC, encoding="utf-8-sig")
    lon, lat = wgs84_to_gcj02(table["经度"].to_numpy(), table["纬度"].to_numpy())
    table["经度"], table["纬度"] = lon, lat
    table.to_csv(sample_copy / FAC, index=False, encoding="utf-8-sig")
    # Loaded as if WGS-84, the Amap coordinates sit a few hundred metres off...
    wrong = load_study(load_config(sample_copy / CFG))
    off = shapely.distance(wrong.facilities.geometry.to_numpy(), reference.facilities.geometry.to_numpy())
    assert off.min() > 100
    # ...declared GCJ-02 they land back on the reference points.
    _edit_config(sample_copy, 'crs = "EPSG:4326"', 'crs = "GCJ-02"')
    right = load_study(load_config(sample_copy / CFG))
    d = shapely.distance(right.facilities.geometry.to_numpy(), reference.facilities.geometry.to_numpy())
    assert d.max() < 0.01


def test_population_joined_by_name(sample_copy, reference):
    _edit_config(sample_copy, 'join_on = "community_id"', 'join_on = "name"')
    _edit_config(sample_copy, 'community_id = "社区编码"\n', 'name = "小区名称"\n')
    # The sample has two compounds named 方营小区: a name join must refuse to guess.
    study = validate(sample_copy / CFG)
    assert any("方营小区" in p.message and p.field == "name" for p in study.report.errors)
    # Named apart on both sides, every community gets exactly its own figures.
    second = reference.communities.index[reference.communities["name"] == "方营小区"][1]
    _break("geojson", COM, _community_prop(int(second), "name", "方营小区二"))(sample_copy)
    table = pd.read_csv(sample_copy / POP, encoding="utf-8-sig", dtype=str)
    table.loc[int(second), "小区名称"] = "方营小区二"
    table.to_csv(sample_copy / POP, index=False, encoding="utf-8-sig")
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    np.testing.assert_allclose(study.communities["population"], reference.communities["population"])
    np.testing.assert_allclose(study.communities["households"], reference.communities["households"])


def test_gb18030_csv_is_read(sample_copy, reference):
    table = pd.read_csv(sample_copy / FAC, encoding="utf-8-sig", dtype=str)
    table.to_csv(sample_copy / FAC, index=False, encoding="gb18030")
    study = load_study(load_config(sample_copy / CFG))
    assert list(study.facilities["name"]) == list(reference.facilities["name"])


def test_relative_paths_resolve_against_the_config_folder(sample_copy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config(sample_copy / CFG)
    assert Path(config.inputs.communities.path) == (sample_copy / COM).resolve()
    assert Path(config.output.reports_dir) == (sample_copy / "reports").resolve()


def test_metric_crs_is_the_utm_zone(reference):
    assert reference.metric_crs.to_epsg() == 32648
    assert reference.communities.crs.to_epsg() == 32648
    assert reference.facilities.crs.to_epsg() == 32648


CONFIG_MISTAKES = [
    ('model = "mclp"', 'model = "mclp"\ntiers = ["palace"]', "siting.tiers"),
    ('p = 5', 'p = -3', "siting.p"),
    ('p = 5', 'p = 5\nmin_district_share = 1.5', "siting.min_district_share"),
    ('model = "mclp"\np = 5', 'model = "pcenter"', "siting.p"),
    ('model = "mclp"', 'model = "pmedian"\nmethod = "fastest"', "siting.method"),  # every model has a heuristic
    ('profile = "national"', 'profile = "nationl"', "norms.profile"),
    ('data_dir = "out"', 'data_dir = "out"\nbasemap = "https://api.map.baidu.com/{z}/{x}/{y}.png"', "output.basemap"),
    ('bands_min = [5, 10, 15]', 'bands_min = [5, 10, 15]\nfacility_kinds = ["hospital"]', "access.facility_kinds"),
]


@pytest.mark.parametrize("old, new, field", CONFIG_MISTAKES, ids=[m[2] + str(i) for i, m in enumerate(CONFIG_MISTAKES)])
def test_config_mistakes_are_caught_before_any_work(sample_copy, old, new, field, capsys):
    _edit_config(sample_copy, old, new)
    with pytest.raises(InputError) as info:
        load_config(sample_copy / CFG)
    assert field in {p.field for p in info.value.report.errors}, info.value.report.format()
    assert cli.main(["validate", str(sample_copy / CFG)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_building_layer_keeps_type_and_points(sample_copy):
    buildings = gpd.GeoDataFrame({
        "building": ["residential", "retail", "apartments"], "层数": ["18", "2", ""],
    }, geometry=[shapely.box(104.070, 30.770, 104.0702, 30.7702), shapely.box(104.071, 30.771, 104.0712, 30.7712),
                 shapely.Point(104.072, 30.772)], crs=4326)
    buildings.to_file(sample_copy / "buildings.geojson")
    _edit_config(sample_copy, "[inputs.network]", '[inputs.buildings]\npath = "buildings.geojson"\n\n[inputs.network]')
    study = load_study(load_config(sample_copy / CFG))
    assert list(study.buildings["building"]) == ["residential", "retail", "apartments"]
    assert list(study.buildings["levels"].fillna(-1)) == [18, 2, -1]
    assert study.buildings.geom_type.tolist() == ["Polygon", "Polygon", "Point"]
