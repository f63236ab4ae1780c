"""Unit tests of coverage.maps that need no browser: offline page, escaping, basemaps, size.

The browser tests in test_maps_browser.py open the same synthetic study in headless Chromium.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from eldercare_coverage import maps
from eldercare_coverage.errors import InputError

XSS_NAME = "<img src=x onerror=alert(1)>"
PARAMS = {"walk_speed_mps": 0.9, "time_limit_min": 15, "norm_profile": "national"}


def build_study() -> dict:
    """A tiny synthetic study in EPSG:32648 around lon 104.07, lat 30.77 (Chengdu, Jinniu).

    Four 400 m square communities in a 2 × 2 grid, three facilities of different kinds, three
    isochrone bands, 30 demand points, two candidates and one proposed site.
    """
    x0, y0 = Transformer.from_crs(4326, 32648, always_xy=True).transform(104.07, 30.77)

    def square(ix: int, iy: int, s: float = 400.0) -> shapely.Polygon:
        return shapely.box(x0 + ix * s, y0 + iy * s, x0 + (ix + 1) * s, y0 + (iy + 1) * s)

    communities = gpd.GeoDataFrame({
        "community_id": ["C1", "C2", "C3", "C4"],
        "name": [XSS_NAME, "东风社区", "Riverside & Co", "北街社区"],
        "district": ["金牛区", "金牛区", "成华区", "成华区"],
        "street": ["荷花池街道", "荷花池街道", "府青路街道", ""],
        "population": [5000.0, 8000.0, 12000.0, 3000.0],
        "households": [2000.0, 3000.0, 4000.0, 1000.0],
        "elderly_population": [900.0, 1500.0, 2600.0, 700.0],
        "estate_type": ["new", "existing", "existing", ""],
    }, geometry=[square(0, 0), square(1, 0), square(0, 1), square(1, 1)], crs=32648)
    facilities = gpd.GeoDataFrame({
        "facility_id": ["F1", "F2", "F3"],
        "name": ["金牛日间照料中心", "荷花池养老服务站", "<b>bold</b> 助餐点"],
        "kind": ["day_care_centre", "service_station", "meal_point"],
        "floor_area_m2": [800.0, 150.0, np.nan], "beds": [20.0, 6.0, np.nan],
        "capacity": [np.nan] * 3, "community_id": ["C1", "C2", ""],
        "residents_within": [4200.0, 3100.0, np.nan],
    }, geometry=[shapely.Point(x0 + 200, y0 + 200), shapely.Point(x0 + 600, y0 + 300),
                 shapely.Point(x0 + 300, y0 + 700)], crs=32648)
    stats = pd.DataFrame({
        "community_id": ["C1", "C2", "C3", "C4"],
        "share_elderly_within": [0.95, 0.6, 0.1, np.nan],
        "share_residents_within": [0.9, 0.5, 0.2, np.nan],
        "gap_m2": [-10.0, 50.0, 800.0, 250.0],
        "required_tier": ["service_station", "service_centre", "day_care_centre", "service_station"],
    })
    isochrones = gpd.GeoDataFrame(
        {"site_id": ["F1"] * 3, "kind": ["day_care_centre"] * 3, "limit_min": [5.0, 10.0, 15.0]},
        geometry=[shapely.Point(x0 + 200, y0 + 200).buffer(r) for r in (250, 500, 750)], crs=32648)
    rng = np.random.default_rng(0)
    xy = rng.uniform([x0, y0], [x0 + 800, y0 + 800], (30, 2))
    time_min = rng.uniform(1, 25, 30)
    demand = gpd.GeoDataFrame({"time_min": time_min, "weight": rng.uniform(10, 50, 30),
                               "within_limit": time_min <= 15},
                              geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=32648)
    candidates = gpd.GeoDataFrame({
        "candidate_id": ["K1", "K2"], "name": ["候选一", "候选二"], "kind": ["", "service_station"],
        "max_floor_area_m2": [300.0, np.nan], "cost": [2e5, np.nan],
    }, geometry=[shapely.Point(x0 + 100, y0 + 700), shapely.Point(x0 + 700, y0 + 700)], crs=32648)
    proposed = candidates.iloc[[1]][["candidate_id", "kind", "geometry"]].reset_index(drop=True)
    return dict(communities=communities, facilities=facilities, community_stats=stats,
                isochrones=isochrones, demand=demand, candidates=candidates, proposed=proposed)


def make(study: dict | None = None, **kw) -> "maps.folium.Map":
    s = build_study() if study is None else study
    args = dict(demand=s["demand"], isochrones=s["isochrones"], candidates=s["candidates"],
                proposed=s["proposed"], community_stats=s["community_stats"], parameters=PARAMS)
    args.update(kw)
    communities = args.pop("communities", s["communities"])
    facilities = args.pop("facilities", s["facilities"])
    return maps.make_map(communities, facilities, **args)


def page(m) -> str:
    return m.get_root().render()


def data_blocks(html_text: str) -> dict[str, object]:
    """The page's ``<script type="application/json">`` blocks by id, parsed."""
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html_text, re.S)
    return {block_id: json.loads(text) for block_id, text in found}


def layer_spec(html_text: str, key: str) -> dict | None:
    """The layer payload (key, data block id, spec) the page hands to COVERAGE.build for ``key``."""
    blocks = data_blocks(html_text)
    return next((b for b in blocks.values() if isinstance(b, dict) and b.get("key") == key), None)


def layer_data(html_text: str, key: str) -> dict:
    """The JSON data the page hands to COVERAGE.layer for ``key``."""
    spec = layer_spec(html_text, key)
    assert spec, f"layer {key} not in page"
    return data_blocks(html_text)[spec["data"]]


def test_page_is_self_contained_and_inlines_leaflet():
    text = page(make())
    assert maps.external_resources(text) == []
    # Nothing of folium's CDN defaults (jQuery, Bootstrap, Font Awesome) and no relative files.
    assert "cdn." not in text and "jquery" not in text.lower() and "bootstrap" not in text.lower()
    assert not re.search(r"<(script|link)[^>]+(src|href)=", text)
    assert 'version="1.9.4"' in text  # Leaflet itself
    assert "url(images/" not in text  # layer-control icon inlined as data: URI


def test_user_strings_never_reach_the_page_as_markup():
    text = page(make(title="<script>alert('t')</script> 规划"))
    assert XSS_NAME not in text and "<b>bold</b>" not in text
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in text  # carried as data, escaped JSON
    assert "<script>alert(" not in text
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt; 规划" in text  # title box and <title>


def test_layers_and_feature_counts_in_page_data():
    s = build_study()
    text = page(make(s))
    com = layer_data(text, "communities_coverage")
    assert len(com["geoms"]) == 4
    assert com["props"]["name"][0] == XSS_NAME
    # coverage bins: 0.95 -> top bin, 0.6 -> 50-75 %, 0.1 -> lowest, missing -> null
    assert com["props"]["_cbin"] == [4, 2, 0, None]
    assert com["props"]["_gbin"] == [0, 1, 4, 2]  # -10 met, 50, 800, 250 m²
    beyond = layer_data(text, "demand_beyond")
    assert len(beyond["lon"]) == int((~s["demand"]["within_limit"]).sum())
    assert all(t > 15 for t in beyond["props"]["time_min"])
    assert len(layer_data(text, "districts")["geoms"]) == 2  # dissolved from the column
    assert len(layer_data(text, "streets")["geoms"]) == 2  # "" street is not a boundary
    assert len(layer_data(text, "isochrones")["geoms"]) == 3
    for kind in ("day_care_centre", "service_station", "meal_point"):
        assert len(layer_data(text, f"facilities_{kind}")["lon"]) == 1
    assert layer_spec(text, "facilities_service_centre") is None
    assert len(layer_data(text, "candidates")["lon"]) == 2
    assert len(layer_data(text, "proposed")["lon"]) == 1


def test_wgs84_coordinates_round_to_micro_degrees():
    text = page(make())
    fac = layer_data(text, "facilities_day_care_centre")
    lon, lat = fac["lon"][0], fac["lat"][0]
    assert 104.06 < lon < 104.08 and 30.76 < lat < 30.78
    assert round(lon, 6) == lon and round(lat, 6) == lat


def test_absent_stats_and_layers_still_make_a_map():
    s = build_study()
    m = maps.make_map(s["communities"], None, parameters={}, language="en")
    text = page(m)
    assert "No coverage data" in text
    assert 'COVERAGE.layer("communities_gap"' not in text  # nothing to switch to
    assert "Walk speed: —" in text
    assert maps.external_resources(text) == []


def test_partial_stats_columns_are_handled():
    s = build_study()
    stats = s["community_stats"][["community_id", "share_residents_within"]]
    text = page(make(s, community_stats=stats, language="en"))
    assert "Share of residents within 15 min walk" in text
    assert 'COVERAGE.layer("communities_gap"' not in text


def test_english_labels():
    text = page(make(language="en"))
    for label in ("Walk isochrones", "Demand beyond walk limit", "Existing: Day-care centre",
                  "Proposed sites", "Walk speed: 0.9 m/s", "Time limit: 15 min",
                  "Norm profile: national"):
        assert label in text, label


def test_polygon_facilities_are_drawn_at_a_point_inside():
    s = build_study()
    fac = s["facilities"].copy()
    fac["geometry"] = fac.geometry.buffer(30)
    text = page(make(s, facilities=fac))
    data = layer_data(text, "facilities_day_care_centre")
    pt = gpd.GeoSeries(gpd.points_from_xy(data["lon"], data["lat"]), crs=4326).to_crs(32648)
    assert fac.geometry.iloc[0].contains(pt.iloc[0])


def test_display_simplification_shrinks_detailed_polygons():
    s = build_study()
    com = s["communities"].copy()
    # 4 × 4096 vertices per circle; at 5 m tolerance a 180 m circle needs far fewer.
    com["geometry"] = com.geometry.centroid.buffer(180, quad_segs=1024)
    raw = page(make(s, communities=com, simplify_m=0))
    simple = page(make(s, communities=com, simplify_m=5))
    n_raw = sum(len(g["coordinates"][0]) for g in layer_data(raw, "communities_coverage")["geoms"])
    n_simple = sum(len(g["coordinates"][0]) for g in layer_data(simple, "communities_coverage")["geoms"])
    assert n_raw > 16_000 and n_simple < 200
    assert len(simple) < len(raw) - 300_000


@pytest.mark.parametrize("basemap", ["baidu", "https://maponline0.bdimg.com/tile/?x={x}&y={y}&z={z}",
                                     "https://rt0.map.gtimg.com/tile?z={z}&x={x}&y={y}"])
def test_bd09_and_tencent_tiles_are_refused_with_an_explanation(basemap):
    with pytest.raises(InputError) as err:
        make(basemap=basemap)
    assert "BD-09" in str(err.value) and "修改方法：" in str(err.value)  # zh: the default map language


@pytest.mark.parametrize("basemap", ["amap", "Gaode",
                                     "https://webrd01.is.autonavi.com/appmaptile?x={x}&y={y}&z={z}"])
def test_amap_tiles_shift_every_overlay_to_gcj02(basemap):
    from eldercare_coverage.crs import wgs84_to_gcj02

    plain = page(make(language="en"))
    text = page(make(basemap=basemap, language="en"))
    assert "autonavi.com" in text and "Overlays shifted to GCJ-02" in text
    for key in ("facilities_day_care_centre", "demand_beyond", "proposed"):
        wgs, gcj = layer_data(plain, key), layer_data(text, key)
        lon, lat = wgs84_to_gcj02(np.array(wgs["lon"]), np.array(wgs["lat"]))
        assert np.allclose(gcj["lon"], lon, atol=2e-6) and np.allclose(gcj["lat"], lat, atol=2e-6)
        # In Chengdu GCJ-02 moves points a few hundred metres (100-700 m anywhere in China).
        shift_m = np.hypot((lon - wgs["lon"]) * 96_000, (lat - wgs["lat"]) * 111_000)
        assert np.all((shift_m > 100) & (shift_m < 700))
    ring_wgs = np.array(layer_data(plain, "communities_coverage")["geoms"][0]["coordinates"][0])
    ring_gcj = np.array(layer_data(text, "communities_coverage")["geoms"][0]["coordinates"][0])
    lon, lat = wgs84_to_gcj02(ring_wgs[:, 0], ring_wgs[:, 1])
    assert np.allclose(ring_gcj, np.column_stack([lon, lat]), atol=2e-6)


def test_unknown_language_is_an_input_error():
    with pytest.raises(InputError, match="language"):
        make(language="fr")


def test_tianditu_needs_a_key_and_uses_it():
    with pytest.raises(InputError, match="key"):
        make(basemap="tianditu")
    text = page(make(basemap="tianditu", tianditu_key="abc123"))
    assert "tianditu.gov.cn/vec_w/wmts" in text and "tk=abc123" in text
    assert "cva_w" in text  # Chinese annotation layer for zh


def test_osm_and_custom_url_basemaps():
    assert "tile.openstreetmap.org" in page(make(basemap="osm"))
    text = page(make(basemap="https://tiles.example.org/{z}/{x}/{y}.png"))
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in text
    with pytest.raises(InputError, match="未知的底图"):
        make(basemap="satellite")


def test_layer_without_crs_is_an_input_error():
    s = build_study()
    com = s["communities"].set_crs(None, allow_override=True)
    with pytest.raises(InputError, match="communities"):
        make(s, communities=com)


def test_write_map_writes_utf8_and_creates_folders(tmp_path):
    out = maps.write_map(make(title="成都市金牛区"), tmp_path / "maps" / "study.html")
    raw = out.read_bytes()
    assert raw.decode("utf-8").count("成都市金牛区") >= 2  # <title> and title box
    assert b'charset=UTF-8' in raw


def test_jupyter_repr_is_offline_too():
    out = make()._repr_html_()
    assert "iframe" in out and "cdn.jsdelivr" not in out and "code.jquery" not in out


def test_site_reach_sums_weights_within_the_limit():
    import scipy.sparse as sp

    # sites × points, minutes within the limit; site B reaches nothing
    mat = sp.csr_matrix(np.array([[3.0, 0.0, 14.5], [0.0, 0.0, 0.0], [0.01, 7.0, 0.0]]))
    demand = pd.DataFrame({"population": [10.0, 20.0, np.nan], "elderly_population": [2.0, 5.0, 1.0]})
    out = maps.site_reach(mat, ["A", "B", "C"], demand)
    assert out.loc["A"].tolist() == [10.0, 3.0]
    assert out.loc["B"].tolist() == [0.0, 0.0]
    assert out.loc["C"].tolist() == [30.0, 7.0]
    assert list(out.columns) == ["residents_within", "elderly_within"]


def test_derived_district_outline_bridges_small_gaps_between_compounds():
    s = build_study()
    com = s["communities"].copy()
    com["geometry"] = com.geometry.buffer(-40)  # 80 m gaps between the four compounds
    com["district"] = "金牛区"
    text = page(make(s, communities=com))
    geoms = layer_data(text, "districts")["geoms"]
    assert len(geoms) == 1 and geoms[0]["type"] == "Polygon"  # one outline, not four squares
    outline = gpd.GeoSeries([shapely.geometry.shape(geoms[0])], crs=4326).to_crs(32648).iloc[0]
    assert outline.contains(com.geometry.union_all().buffer(-10))  # corners cut by a few m
    assert outline.area < com.geometry.union_all().envelope.area * 1.01


def test_write_map_warns_when_a_plugin_links_a_cdn(tmp_path, caplog):
    from folium.plugins import Fullscreen

    m = make()
    Fullscreen().add_to(m)
    with caplog.at_level("WARNING", logger="eldercare_coverage.maps"):
        maps.write_map(m, tmp_path / "plugin.html")
    assert "will not render offline" in caplog.text
    assert maps.external_resources((tmp_path / "plugin.html").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- no template sees user data

SSTI = "{{7*7}} {% for x in range(3) %}X{% endfor %} {# c #}"


def test_no_template_ever_sees_a_user_string(monkeypatch, tmp_path):
    """Every Jinja2 template source compiled and every string it renders is free of user text,
    including the title, the basemap URL and a Tianditu key (config strings)."""
    import jinja2

    sources: list[str] = []
    outputs: list[str] = []
    compile_ = jinja2.Environment.compile
    render = jinja2.Template.render

    def spy_compile(self, source, *args, **kwargs):
        sources.append(source if isinstance(source, str) else "")
        return compile_(self, source, *args, **kwargs)

    def spy_render(self, *args, **kwargs):
        out = render(self, *args, **kwargs)
        outputs.append(out)
        return out

    monkeypatch.setattr(jinja2.Environment, "compile", spy_compile)
    monkeypatch.setattr(jinja2.Template, "render", spy_render)
    marker = tmp_path / "ran"
    os_payload = "{{ self.__init__.__globals__.__builtins__.__import__('os').system('touch %s') }}" % marker
    s = build_study()
    s["communities"].loc[0, "name"] = SSTI
    s["communities"].loc[1, "district"] = os_payload
    s["facilities"].loc[0, "name"] = "uSeRfAcIlItY {{7*7}}"
    pages = []
    for basemap, key in (("https://t.example.org/{z}/{x}/{y}.png?uSeRuRl={{7+7}}", ""),
                         ("tianditu", "uSeRkEy{{7+7}}")):
        m = make(s, title="uSeRtItLe {{7+7}}", basemap=basemap, tianditu_key=key)
        pages.append(page(m))
        pages.append(m._repr_html_())
    assert sources and outputs  # the spies saw folium at work
    for needle in ("uSeR", "7*7", "7+7", "onerror", "__globals__"):
        assert not [x for x in sources + outputs if needle in x], needle
    assert not marker.exists()
    blocks = data_blocks(pages[0])
    assert SSTI in layer_data(pages[0], "communities_coverage")["props"]["name"]
    assert os_payload in layer_data(pages[0], "communities_coverage")["props"]["district"]
    assert "https://t.example.org/{z}/{x}/{y}.png?uSeRuRl={{7+7}}" in [b.get("url") for b in blocks.values()
                                                                        if isinstance(b, dict)]
    assert "<title>uSeRtItLe {{7+7}}</title>" in pages[0]
    assert "tk=uSeRkEy{{7+7}}" in pages[2]
    for text in pages[::2]:
        assert "49" not in "".join(layer_data(text, "communities_coverage")["props"]["name"])
        assert "uSeRtItLe 14" not in text and "uSeRuRl=14" not in text and "uSeRkEy14" not in text


def test_jupyter_repr_carries_the_same_page():
    m = make(title="笔记本 {{7*7}}")
    import html as html_mod

    inner = html_mod.unescape(re.search(r'srcdoc="([^"]*)"', m._repr_html_()).group(1))
    assert data_blocks(inner) == data_blocks(page(m))
    assert "笔记本 {{7*7}}" in inner


def test_script_json_cannot_close_its_block():
    s = build_study()
    s["communities"].loc[0, "name"] = "</script><!-- <script>alert(1)</script> \u2028"
    text = page(make(s))
    blocks = re.findall(r'<script type="application/json" id="[^"]+">(.*?)</script>', text, re.S)
    assert blocks and not [b for b in blocks if "<" in b or "\u2028" in b]
    assert "</script><!-- <script>alert(1)</script> \u2028" in layer_data(text, "communities_coverage")["props"]["name"]


def test_a_coverage_map_refuses_to_render_in_a_foreign_figure():
    import folium

    m = make()
    folium.Figure().add_child(m)
    with pytest.raises(TypeError, match="own page"):
        m.get_root().render()


def test_label_layer_is_given_the_marker_positions_as_obstacles():
    from eldercare_coverage import basemap

    s = build_study()
    text = page(make(s, basemap_features={"labels": basemap.labels(None, s["communities"])}))
    obstacles = layer_spec(text, "basemap")["obstacles"]
    # every marker layer of sites, with its symbol size (px); not the demand dots or polygons
    assert [o[0] for o in obstacles] == ["candidates", "facilities_day_care_centre", "facilities_service_station",
                                         "facilities_meal_point", "proposed"]
    assert {o[0]: o[2] for o in obstacles}["proposed"] == 22 and obstacles[1][2] == 18
    # the positions the labels avoid are the markers' own: the same data block the layer draws
    blocks = data_blocks(text)
    for key, data_id, _ in obstacles:
        assert data_id == layer_spec(text, key)["data"]
    xy = s["facilities"].to_crs(4326).get_coordinates().round(6)
    placed = {(lon, lat) for _, data_id, _ in obstacles for lon, lat in zip(blocks[data_id]["lon"], blocks[data_id]["lat"])}
    assert set(zip(xy["x"], xy["y"])) <= placed
    assert len(placed) == 3 + 2  # three facilities, two candidates (the proposed site is candidate K2)
    # no labels, no obstacles list; a map without a basemap of its own has no label layer at all
    assert "obstacles" not in layer_spec(page(make(s, basemap_features={"water": None, "labels": None},
                                                   basemap_streets={"main": s["communities"].boundary.to_frame("geometry")})),
                                         "basemap")
    assert layer_spec(page(make(s)), "basemap") is None
