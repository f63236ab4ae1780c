"""Bad input is refused or flagged, never silently absorbed (issue 10, item 4: parsing, paths,
config, limits, files, joins, column mappings, the configured CRS).

Each test breaks one thing in a copy of the sample and asserts the outcome: exit 2 with the
file, row and field named (or exit 0 with the right figures and a warning), and no traceback.
"""

from __future__ import annotations

import json
import os
import threading
import tracemalloc
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from eldercare_coverage import cli
from eldercare_coverage.config import NUMERIC_RANGES, load_config
from eldercare_coverage.demand import demand_points
from eldercare_coverage.errors import InputError, ProblemReport
from eldercare_coverage.io import load_study
from eldercare_coverage.network import load_walk_network
from eldercare_coverage.pipeline import validate

CFG = "sample.toml"
POP = "population.csv"
FAC = "facilities.csv"
CAND = "candidates.geojson"


def _edit_config(folder: Path, old: str, new: str) -> None:
    cfg = folder / CFG
    text = cfg.read_text(encoding="utf-8")
    assert old in text, old
    cfg.write_text(text.replace(old, new, 1), encoding="utf-8")


def _set_population(folder: Path, row: int, column: str, value: str) -> None:
    table = pd.read_csv(folder / POP, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    table.loc[row, column] = value
    table.to_csv(folder / POP, index=False, encoding="utf-8-sig")


def _only(problems, file_name: str, words: str):
    """The one problem about ``file_name`` whose message holds ``words``."""
    found = [p for p in problems if Path(p.file).name == file_name and words in p.message]
    assert len(found) == 1, f"expected one problem with {words!r} in {file_name}, got {found}"
    return found[0]


def _refused(folder: Path, capsys) -> str:
    """validate exits 2 with a report and no traceback; returns what it printed."""
    assert cli.main(["validate", str(folder / CFG)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "Internal error" not in captured.err
    return captured.out + captured.err


# ---------------------------------------------------------------------------------------------
# Numbers


def test_absurd_population_is_refused_not_summed_to_infinity(sample_copy, capsys):
    _set_population(sample_copy, 0, "人口", "1e308")
    _set_population(sample_copy, 3, "人口", "1e400")  # overflows to inf
    study = validate(sample_copy / CFG)
    big = _only(study.report.errors, POP, "implausibly large")
    assert big.row == "2 (id CD0450175966)" and big.field == "人口" and big.fix  # the user's column
    inf = _only(study.report.errors, POP, "not finite")
    assert inf.row.startswith("5 (id") and inf.field == "人口" and "1e400" in inf.message
    assert "大得不合理" in _refused(sample_copy, capsys)  # the zh study's language


@pytest.mark.parametrize("raw", ["1,2,3,4", "1.234,5", "12,34", "1，234"])
def test_ambiguous_number_formats_are_refused_naming_the_raw_text(sample_copy, capsys, raw):
    _set_population(sample_copy, 4, "人口", raw)
    study = validate(sample_copy / CFG)
    problem = _only(study.report.errors, POP, "ambiguous number format")
    assert problem.row.startswith("6 (id") and problem.field == "人口" and f"'{raw}'" in problem.message
    assert not [p for p in study.report.errors if "is not a number" in p.message]  # reported once
    assert raw in _refused(sample_copy, capsys)


def test_thousands_separators_in_groups_of_three_are_read(sample_copy):
    _set_population(sample_copy, 4, "人口", "12,345")
    _set_population(sample_copy, 5, "户数", "1,234.0")
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    assert study.communities["population"].iloc[4] == 12345
    assert study.communities["households"].iloc[5] == 1234


def test_fractional_people_are_warned_and_kept(sample_copy):
    _set_population(sample_copy, 2, "60岁以上人口", "990.5")
    _set_population(sample_copy, 6, "60岁以上人口", "120.25")
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    warning = _only(study.report.warnings, POP, "fractional 60岁以上人口")
    assert warning.message.startswith("2 row(s)") and warning.row.startswith("4 (id") and warning.field == "60岁以上人口"
    assert study.communities["elderly_population"].iloc[2] == 990.5


# ---------------------------------------------------------------------------------------------
# Paths: stat before any open, so nothing blocks


def _finishes(argv: list[str], seconds: float = 120) -> int:
    """cli.main(argv) in a daemon thread; fails (instead of hanging the suite) when it blocks."""
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(cli.main(argv)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"{argv} did not finish in {seconds} s (a blocking read?)"
    return result[0]


def _fifo(folder: Path) -> str:
    os.mkfifo(folder / "fifo.geojson")
    return "fifo.geojson"


def _folder(folder: Path) -> str:
    (folder / "sites.geojson").mkdir()
    return "sites.geojson"


def _loop(folder: Path) -> str:
    (folder / "a.geojson").symlink_to(folder / "b.geojson")
    (folder / "b.geojson").symlink_to(folder / "a.geojson")
    return "a.geojson"


PATH_CASES = [
    ("fifo", _fifo, "named pipe (FIFO)"),
    ("device", lambda folder: "/dev/zero", "is a device"),
    ("folder", _folder, "is a folder, not a file"),
    ("symlink_loop", _loop, "loop of symbolic links"),
]


#: The words of PATH_CASES as the zh sample's report prints them.
ZH_WORDS = {"named pipe (FIFO)": "命名管道（FIFO）", "is a device": "该路径是设备", "is a folder, not a file": "该路径是文件夹",
            "loop of symbolic links": "循环的符号链接"}


@pytest.mark.parametrize("make, words", [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES])
def test_special_input_paths_are_refused_without_reading(sample_copy, capsys, make, words):
    name = make(sample_copy)
    _edit_config(sample_copy, f'path = "{CAND}"', f'path = "{name}"')
    assert _finishes(["validate", str(sample_copy / CFG)]) == 2
    out = capsys.readouterr()
    assert ZH_WORDS[words] in out.out and "Traceback" not in out.err and "内部错误" not in out.err
    study = validate(sample_copy / CFG)
    problem = _only(study.report.errors, Path(name).name, words)
    assert problem.field == "path" and problem.fix


@pytest.mark.parametrize("make, words", [c[1:] for c in PATH_CASES], ids=[c[0] for c in PATH_CASES])
def test_special_config_paths_are_refused(sample_copy, capsys, make, words):
    name = make(sample_copy)
    assert _finishes(["validate", str(sample_copy / name)]) == 2
    err = capsys.readouterr().err
    assert ZH_WORDS[words] in err and "Traceback" not in err  # no config to read a language from: zh


NETWORK_CASES = [
    ("fifo", lambda folder: os.mkfifo(folder / "streets.osm"), "named pipe (FIFO)"),
    ("folder", lambda folder: (folder / "streets.osm").mkdir(), "is a folder, not a file"),
    ("symlink_loop", lambda folder: ((folder / "streets.osm").symlink_to(folder / "other.osm"),
                                     (folder / "other.osm").symlink_to(folder / "streets.osm")), "loop of symbolic links"),
]


@pytest.mark.parametrize("make, words", [c[1:] for c in NETWORK_CASES], ids=[c[0] for c in NETWORK_CASES])
def test_special_network_paths_are_refused_before_any_work(sample_copy, capsys, make, words):
    make(sample_copy)
    text = (sample_copy / CFG).read_text(encoding="utf-8")
    network = text.split("[inputs.network]\npath = \"", 1)[1].split('"', 1)[0]
    _edit_config(sample_copy, network, "streets.osm")
    with pytest.raises(InputError) as info:
        load_config(sample_copy / CFG)
    problem = _only(info.value.report.errors, "streets.osm", words)
    assert problem.field == "inputs.network.path"
    assert _finishes(["run", str(sample_copy / CFG)]) == 2
    assert ZH_WORDS[words] in capsys.readouterr().err
    assert not (sample_copy / "out").exists()


# ---------------------------------------------------------------------------------------------
# Config


def test_config_saved_with_a_byte_order_mark_is_read(sample_copy):
    plain = load_config(sample_copy / CFG)
    (sample_copy / CFG).write_bytes(b"\xef\xbb\xbf" + (sample_copy / CFG).read_bytes())
    with_bom = load_config(sample_copy / CFG)
    assert with_bom.study.name == plain.study.name == "chengdu-north-sample"
    assert with_bom.inputs == plain.inputs and with_bom.access == plain.access


RANGE_MISTAKES = [
    ("walk_speed = \"older\"", "walk_speed = 5.0", "access.walk_speed", "outside the plausible range [0.3, 2.5]"),
    ("walk_speed = \"older\"", "walk_speed = \"0.05\"", "access.walk_speed", "0.05"),
    ("time_limit_min = 15", "time_limit_min = 600", "access.time_limit_min", "(0, 120] minutes"),
    ("time_limit_min = 15", "time_limit_min = 0", "access.time_limit_min", "(0, 120]"),
    ("time_limit_min = 15", "time_limit_min = nan", "access.time_limit_min", "is not a number (NaN)"),
    ("bands_min = [5, 10, 15]", "bands_min = [5, -10, 15]", "access.bands_min", "-10"),
    ("bands_min = [5, 10, 15]", "bands_min = [5, 10, 15]\ngrid_spacing_m = 0.01", "access.grid_spacing_m", "[5, 10000] m"),
    ("bands_min = [5, 10, 15]", "bands_min = [5, 10, 15]\nsnap_max_m = inf", "access.snap_max_m", "inf"),
    ("[inputs.network]\n", "[inputs.network]\nmargin_m = -100\n", "inputs.network.margin_m", "-100"),
    ("p = 5", "p = 5\nmip_gap = -0.1", "siting.mip_gap", "-0.1"),
    ("p = 5", "p = 5\ntime_limit_s = 0", "siting.time_limit_s", "(0, 86400] s"),
    ("p = 5", "p = 5\nbudget = nan", "siting.budget", "NaN"),
    ("language = \"zh\"", "language = \"zh\"\nextent_margin_m = -1", "study.extent_margin_m", "-1"),
]


@pytest.mark.parametrize("old, new, field, words", RANGE_MISTAKES, ids=[f"{m[2]}-{i}" for i, m in enumerate(RANGE_MISTAKES)])
def test_numeric_settings_are_range_checked(sample_copy, capsys, old, new, field, words):
    _edit_config(sample_copy, old, new)
    with pytest.raises(InputError) as info:
        load_config(sample_copy / CFG)
    problems = [p for p in info.value.report.errors if p.field == field]
    assert len(problems) == 1 and words in problems[0].message, info.value.report.format()
    assert "e.g." in problems[0].fix
    assert field in _refused(sample_copy, capsys)


def test_every_numeric_setting_has_a_range():
    """The rule table covers every float/int setting of the config (a new one needs its range)."""
    import dataclasses

    from eldercare_coverage.config import StudyConfig

    numeric = set()

    def walk(obj, prefix):
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if dataclasses.is_dataclass(value):
                walk(value, f"{prefix}{f.name}.")
            elif isinstance(value, (int, float)) and not isinstance(value, bool) or f.name in ("walk_speed", "bands_min"):
                numeric.add(prefix + f.name)
    walk(StudyConfig(), "")
    assert numeric == set(NUMERIC_RANGES)


# ---------------------------------------------------------------------------------------------
# Limits: the demand grid


def test_tiny_grid_spacing_is_refused_before_allocating(sample_copy):
    communities = load_study(load_config(sample_copy / CFG)).communities
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as info:
            demand_points(communities, spacing_m=0.01)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50e6, f"{peak / 1e6:.0f} MB allocated before refusing"
    problem = info.value.report.errors[0]
    assert problem.field == "access.grid_spacing_m"
    estimate = int(problem.message.split("about ")[1].split(" points")[0].replace(",", ""))
    assert estimate > 1e10  # the bounding boxes of the sample at 1 cm
    assert "max_demand_points = 2,000,000" in problem.message and "grid_spacing_m to" in problem.fix


def test_demand_grid_cap_is_configurable_and_run_exits_2(sample_copy, capsys):
    _edit_config(sample_copy, "bands_min = [5, 10, 15]", "bands_min = [5, 10, 15]\nmax_demand_points = 1000")
    assert cli.main(["run", str(sample_copy / CFG)]) == 2
    err = capsys.readouterr().err
    assert "超过 access.max_demand_points = 1,000" in err and "Traceback" not in err
    assert not (sample_copy / "out").exists()
    # The same grid is built under a cap it fits.
    communities = load_study(load_config(sample_copy / CFG)).communities
    assert len(demand_points(communities, spacing_m=50.0, max_points=2_000_000)) > 1000


# ---------------------------------------------------------------------------------------------
# Files


def test_excel_whose_first_sheet_is_not_the_table_names_the_sheets(sample_copy, capsys):
    table = pd.read_csv(sample_copy / FAC, dtype=str, encoding="utf-8-sig")
    with pd.ExcelWriter(sample_copy / "facilities.xlsx") as book:
        pd.DataFrame({"说明": ["数据来源: 民政局", "2024年"]}).to_excel(book, sheet_name="说明", index=False)
        table.to_excel(book, sheet_name="设施", index=False)
    _edit_config(sample_copy, f'path = "{FAC}"', 'path = "facilities.xlsx"')
    study = validate(sample_copy / CFG)
    problem = _only(study.report.errors, "facilities.xlsx", "The workbook has 2 sheets (说明, 设施)")
    assert "layer =" in problem.message
    assert "说明, 设施" in _refused(sample_copy, capsys)
    # Following the hint loads the table.
    _edit_config(sample_copy, 'path = "facilities.xlsx"', 'path = "facilities.xlsx"\nlayer = "设施"')
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    assert len(study.facilities) == len(table)
    _edit_config(sample_copy, 'layer = "设施"', 'layer = "设 施"')
    problem = _only(validate(sample_copy / CFG).report.errors, "facilities.xlsx", "no sheet named '设 施'")
    assert problem.field == "layer" and "说明, 设施" in problem.message


_SHAPEFILE_NOISE = [pytest.mark.filterwarnings("ignore:Column names longer than 10"),
                    pytest.mark.filterwarnings("ignore:Normalized/laundered field name")]


def _candidates_as_shapefile(folder: Path) -> None:
    gpd.read_file(folder / CAND).to_file(folder / "sites.shp", encoding="utf-8")
    _edit_config(folder, f'path = "{CAND}"', 'path = "sites.shp"')


@pytest.mark.parametrize("part, words", [(".dbf", "the attribute table"), (".shx", "the shape index")])
@_SHAPEFILE_NOISE[0]
@_SHAPEFILE_NOISE[1]
def test_shapefile_missing_a_part_names_it(sample_copy, capsys, part, words):
    _candidates_as_shapefile(sample_copy)
    assert validate(sample_copy / CFG).report.ok
    (sample_copy / f"sites{part}").unlink()
    problem = _only(validate(sample_copy / CFG).report.errors, "sites.shp", f"{part} part ({words}) is missing")
    assert problem.field == "path" and f"sites{part}" in problem.fix
    assert part in _refused(sample_copy, capsys)


@_SHAPEFILE_NOISE[0]
@_SHAPEFILE_NOISE[1]
def test_shapefile_without_prj_names_it_and_config_crs_completes_it(sample_copy, capsys):
    _candidates_as_shapefile(sample_copy)
    (sample_copy / "sites.prj").unlink()
    problem = _only(validate(sample_copy / CFG).report.errors, "sites.shp", "has no .prj part")
    assert problem.field == "crs" and "crs =" in problem.fix
    _refused(sample_copy, capsys)
    _edit_config(sample_copy, 'path = "sites.shp"', 'path = "sites.shp"\ncrs = "EPSG:4326"')
    assert validate(sample_copy / CFG).report.ok


def test_graphml_without_node_coordinates_names_them(tmp_path):
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, lon="104.060", lat="30.765")
    G.add_node(2, lon="104.065", lat="30.765")
    G.add_edge(1, 2, highway="residential", length="480")
    path = tmp_path / "streets.graphml"
    nx.write_graphml(G, path)
    report = ProblemReport()
    net = load_walk_network(path, "EPSG:32648", report=report)
    assert net.n_edges == 0
    problem = _only(report.errors, "streets.graphml", "lack the coordinate attribute(s) 'x' and 'y'")
    assert problem.field == "x" and "lat, lon" in problem.message
    # With x/y and no length the graph loads: lengths are measured on the geometry.
    for _, data in G.nodes(data=True):
        data["x"], data["y"] = float(data.pop("lon")), float(data.pop("lat"))
    del G.edges[1, 2, 0]["length"]
    nx.write_graphml(G, path)
    report = ProblemReport()
    net = load_walk_network(path, "EPSG:32648", report=report)
    assert report.ok, report.format()
    assert net.n_edges == 1 and 470 < net.edge_length[0] < 490


# ---------------------------------------------------------------------------------------------
# Joins


def test_names_only_population_table_joins_on_name(sample_copy):
    reference = validate(sample_copy / CFG)
    assert reference.report.ok
    com = json.loads((sample_copy / "communities.geojson").read_text(encoding="utf-8"))
    table = pd.read_csv(sample_copy / POP, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    # The sample has two compounds named 方营小区: name them apart on both sides.
    second = [i for i, f in enumerate(com["features"]) if f["properties"]["name"] == "方营小区"][1]
    com["features"][second]["properties"]["name"] = "方营小区二"
    (sample_copy / "communities.geojson").write_text(json.dumps(com, ensure_ascii=False), encoding="utf-8")
    table.loc[table["社区编码"] == com["features"][second]["properties"]["community_id"], "小区名称"] = "方营小区二"
    table = table.drop(columns=["社区编码"]).iloc[::-1]  # names only, in another order
    table.to_csv(sample_copy / POP, index=False, encoding="utf-8-sig")
    _edit_config(sample_copy, 'join_on = "community_id"', 'join_on = "name"')
    _edit_config(sample_copy, 'community_id = "社区编码"\n', 'name = "小区名称"\n')
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    for col in ("population", "households", "elderly_population"):
        np.testing.assert_array_equal(study.communities[col], reference.communities[col])


# ---------------------------------------------------------------------------------------------
# Column mappings


def _with_buildings(folder: Path, mapping: str) -> None:
    buildings = gpd.GeoDataFrame({"building": ["residential", "apartments"], "层数": ["18", "6"]},
                                 geometry=[shapely.box(104.070, 30.770, 104.0702, 30.7702),
                                           shapely.box(104.071, 30.771, 104.0712, 30.7712)], crs=4326)
    buildings.to_file(folder / "buildings.geojson")
    _edit_config(folder, "[inputs.network]",
                 f'[inputs.buildings]\npath = "buildings.geojson"\n[inputs.buildings.columns]\n{mapping}\n\n[inputs.network]')


def test_mapped_column_missing_from_the_file_lists_its_columns(sample_copy, capsys):
    _with_buildings(sample_copy, 'levels = "楼层"')
    problem = _only(validate(sample_copy / CFG).report.errors, "buildings.geojson", "column '楼层' (mapped to levels)")
    assert problem.field == "楼层" and "building, 层数" in problem.message
    assert "inputs.buildings.columns.levels" in problem.fix
    assert "楼层" in _refused(sample_copy, capsys)


@pytest.mark.parametrize("key", ["building_levels", "floors"])
def test_unknown_mapping_key_is_an_error_naming_it(sample_copy, capsys, key):
    _with_buildings(sample_copy, f'{key} = "层数"')
    problem = _only(validate(sample_copy / CFG).report.errors, "buildings.geojson", f"unknown column '{key}'")
    assert problem.field == f"columns.{key}" and "building, levels" in problem.fix
    assert "Did you mean 'levels'?" in problem.message
    _refused(sample_copy, capsys)


def test_building_levels_that_are_not_numbers_are_warned(sample_copy):
    _with_buildings(sample_copy, 'levels = "层数"')
    buildings = gpd.read_file(sample_copy / "buildings.geojson")
    buildings["层数"] = ["十八", "6"]
    buildings.to_file(sample_copy / "buildings.geojson")
    study = validate(sample_copy / CFG)
    warning = _only(study.report.warnings, "buildings.geojson", "not a number (first: '十八')")
    assert warning.row == "feature 1" and warning.field == "层数"
    assert study.buildings["levels"].isna().tolist() == [True, False]


def test_unknown_mapping_key_of_a_layer_suggests_the_closest(sample_copy):
    _edit_config(sample_copy, 'households = "户数"', 'household = "户数"')
    problem = _only(validate(sample_copy / CFG).report.errors, POP, "unknown column 'household'")
    assert "Did you mean 'households'?" in problem.message


# ---------------------------------------------------------------------------------------------
# The configured CRS overrides the file's


def test_configured_crs_overrides_a_wrong_declaration(sample_copy):
    reference = validate(sample_copy / CFG)
    sites = gpd.read_file(sample_copy / CAND).to_crs(32648)
    sites.set_crs(4547, allow_override=True).to_file(sample_copy / "sites.gpkg")  # a wrong label
    _edit_config(sample_copy, f'path = "{CAND}"', 'path = "sites.gpkg"\ncrs = "EPSG:32648"')
    study = validate(sample_copy / CFG)
    assert study.report.ok, study.report.format()
    warning = _only(study.report.warnings, "sites.gpkg", "overrides it")
    assert "CGCS2000 / 3-degree Gauss-Kruger CM 114E" in warning.message and "EPSG:32648" in warning.message
    moved = shapely.distance(study.candidates.geometry.to_numpy(), reference.candidates.geometry.to_numpy())
    assert moved.max() < 0.01
