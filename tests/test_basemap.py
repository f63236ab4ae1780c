"""The offline basemap (water, buildings, labels) from real OSM extracts, the gates layer, and
user strings that stay inert on the way into the page. The browser side is in
``tests/test_map_basemap_browser.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely

from eldercare_coverage import basemap, maps
from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.network import load_walk_network

OSM = Path(__file__).resolve().parent / "data" / "osm"
SZ_CRS = "EPSG:32649"
PAYLOAD = "</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def shenzhen():
    """The Shenzhen Nanshan extract: its walk network, a study area and the basemap features."""
    tf = pyproj.Transformer.from_crs(4326, SZ_CRS, always_xy=True)
    x0, y0 = tf.transform(113.9240, 22.5405)
    x1, y1 = tf.transform(113.9681, 22.5595)
    area = shapely.box(x0, y0, x1, y1)
    net = load_walk_network(OSM / "shenzhen-nanshan.osm.bz2", SZ_CRS, area=area, margin_m=300,
                            report=ProblemReport())
    features = basemap.basemap_features(OSM / "shenzhen-nanshan.osm.bz2", SZ_CRS, area, 300)
    return net, area, features


def test_real_extract_gives_water_waterways_buildings_and_named_compounds(shenzhen):
    _, area, f = shenzhen
    assert set(f) == {"water", "waterways", "buildings", "places"}
    # counted in the file with osmium: 17 natural=water areas (5 multipolygons), rivers and
    # streams, 433 building areas, 38 named residential areas; clipped to the area + 300 m
    assert 5 <= len(f["water"]) <= 17
    assert set(shapely.get_type_id(f["water"].geometry.to_numpy())) <= {3, 6}
    assert {"river", "stream"} & set(f["waterways"]["waterway"])
    assert 200 <= len(f["buildings"]) <= 433
    assert (f["places"]["name"] != "").all() and len(f["places"]) >= 10
    clip = shapely.buffer(area, 300 + 5)
    for gdf in f.values():
        assert gdf.crs == SZ_CRS
        assert shapely.intersects(gdf.geometry.to_numpy(), clip).all()


def test_labels_one_per_street_run_thinned_and_by_zoom(shenzhen):
    net, _, f = shenzhen
    lab = basemap.labels(net, None, f)
    kinds = set(lab["kind"])
    assert {"main", "compound"} <= kinds
    # every street name the network has on a run of >= 60 m is labelled (at least once)
    frame = basemap._street_frame(net)
    named = frame[frame["name"] != ""]
    long_names = {n for n, g in named.groupby("name") if shapely.length(g.geometry.to_numpy()).sum() >= 200}
    assert long_names and long_names <= set(lab["text"])
    # no two labels of one name closer than the spacing (dual carriageways give one label)
    xy = shapely.get_coordinates(lab.geometry.to_numpy())
    for _, idx in lab.reset_index(drop=True).groupby("text").indices.items():
        if len(idx) > 1:
            d = np.hypot(*(xy[idx][:, None, :] - xy[idx][None, :, :]).transpose(2, 0, 1))
            assert d[np.triu_indices(len(idx), 1)].min() >= basemap.SAME_NAME_SPACING_M
    assert lab["angle"].between(-90, 90).all()
    assert (lab["min_zoom"] == lab["kind"].map(basemap.LABEL_MIN_ZOOM)).all()
    assert lab["priority"].is_monotonic_increasing
    # a label sits on its street: within a metre of a same-named edge
    row = lab[lab["kind"] == "main"].iloc[0]
    same = named[named["name"] == row["text"]].geometry.to_numpy()
    assert shapely.distance(same, row.geometry).min() < 1.0


def test_gated_network_links_are_not_drawn_as_streets():
    """A gated network appends gate links and compound walks; the basemap leaves them out."""
    from eldercare_coverage.network import network_from_arrays

    x = np.array([0.0, 100.0, 50.0, 50.0])
    y = np.array([0.0, 0.0, 40.0, 80.0])
    u, v = np.array([0, 2, 3]), np.array([1, 0, 2])
    geom = shapely.linestrings(np.stack([np.stack([x[u], y[u]], 1), np.stack([x[v], y[v]], 1)], 1))
    import pandas as pd
    attrs = pd.DataFrame({"highway": ["residential", "gate_link", "compound_walk"], "name": ["东街", "", ""]})
    net = network_from_arrays(x, y, u, v, "EPSG:32648", geom, np.arange(4), attrs)
    layers = basemap.street_layers(net)
    assert list(layers) == ["local"] and list(layers["local"]["name"]) == ["东街"]
    assert list(basemap.labels(net)["text"]) == ["东街"]


def _page(m) -> str:
    return m.get_root().render()


def _blocks(page: str) -> dict[str, str]:
    return dict(re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', page, re.S))


def test_basemap_and_gate_names_stay_inert_json(shenzhen):
    """A street, compound, river or gate name that closes the script tag reaches the page only
    as escaped JSON data: no ``</script>`` or ``<img`` in the page, the same text after parsing."""
    net, area, f = shenzhen
    f = {k: v.copy() for k, v in f.items()}
    f["waterways"].loc[f["waterways"].index[0], "name"] = PAYLOAD + " 河"
    coms = gpd.GeoDataFrame({"community_id": ["C1"], "name": [PAYLOAD + "{{7*7}}"]},
                            geometry=[shapely.box(*shapely.bounds(area)).buffer(-500)], crs=SZ_CRS)
    f["labels"] = basemap.labels(net, coms, f)
    gates = gpd.GeoDataFrame({"gate_id": ["G1"], "name": [PAYLOAD], "access": [""], "opening_hours": [PAYLOAD]},
                             geometry=[shapely.get_exterior_ring(coms.geometry.iloc[0]).interpolate(5)], crs=SZ_CRS)
    page = _page(maps.make_map(coms, None, basemap_streets=basemap.street_layers(net), basemap_features=f,
                               gates=maps.gate_status(gates, coms), parameters={"time_limit_min": 15}))
    assert "</script><img" not in page and "<img src=x" not in page
    blocks = _blocks(page)
    labels = json.loads(blocks["coverage_data_basemap_labels"])
    assert PAYLOAD + "{{7*7}}" in labels["props"]["t"] and PAYLOAD + " 河" in labels["props"]["t"]
    g = json.loads(blocks["coverage_data_gates"])
    assert g["props"]["_title"] == [PAYLOAD] and g["props"]["_hours"] == [PAYLOAD]
    # the basemap parts are all there, buildings zoom-gated
    spec = next(json.loads(t) for t in blocks.values() if t.startswith('{"key":"basemap"'))
    assert [p[0] for p in spec["parts"]] == ["basemap_water", "basemap_waterways", "basemap_buildings",
                                             "basemap_streets"]
    assert spec["parts"][2][2]["minZoom"] == basemap.BUILDINGS_MIN_ZOOM


def test_gate_status_at_the_study_hour():
    """One compound, four gates: public, residents-only, closed at 10:00, and one off the wall."""
    import pandas as pd

    box = shapely.box(0, 0, 200, 200)
    coms = gpd.GeoDataFrame({"community_id": ["C1"], "name": ["东苑"]}, geometry=[box], crs="EPSG:32648")
    gates = gpd.GeoDataFrame({
        "gate_id": ["a", "b", "c", "d", "e"], "name": ["正门", "侧门", "夜门", "远处", "封闭"],
        "access": ["", "private", "", "", "no"],
        "opening_hours": ["", "06:00-22:00", "18:00-08:00", "", ""],
    }, geometry=shapely.points([[100, 0], [200, 100], [0, 100], [500, 500], [100, 203]]), crs="EPSG:32648")
    st = maps.gate_status(gates, coms, tolerance_m=10, hour=10)
    assert list(st["status"]) == ["public", "residents", "closed", "unused", "closed"]
    assert list(st["compound"]) == ["东苑", "东苑", "东苑", "", "东苑"]
    assert list(maps.gate_status(gates, coms, tolerance_m=10, hour=20)["status"]) == \
        ["public", "residents", "public", "unused", "closed"]
    page = _page(maps.make_map(coms, None, gates=st, gate_hour=10, parameters={}, language="en"))
    assert "Closed or no entry at 10:00" in page and "Compound gates (shown from zoom 15)" in page
    data = json.loads(_blocks(page)["coverage_data_gates"])
    assert data["props"]["_s"] == [0, 1, 2, 3, 2]
    assert data["props"]["_hours"][0] == maps.LABELS["en"]["hours_untagged"]
    assert pd.Series(data["props"]["gate_id"]).tolist() == ["a", "b", "c", "d", "e"]
    # why a gate is not used: in the popup and, counted, in the legend, in either language
    assert list(st["reason"]) == ["", "", "closed_at_hour", "off_boundary", "access_no"]
    assert data["props"]["_why"] == ["—", "—", "Closed at 10:00 (opening hours 18:00-08:00)",
                                     "More than 10 m from any compound boundary", "No entry (access=no)"]
    assert "Why not used" in page and "No entry (access=no): 1" in page
    assert "More than 10 m from any compound boundary: 1" in page
    zh = _page(maps.make_map(coms, None, gates=st, gate_hour=10, parameters={}, language="zh"))
    why = json.loads(_blocks(zh)["coverage_data_gates"])["props"]["_why"]
    assert why[2:] == ["10:00 时不在开放时间内（18:00-08:00）", "距任何小区边界超过 10 米", "禁止通行（access=no）"]
    assert "未使用原因" in zh and "禁止通行（access=no）：1 个" in zh and "10:00 时不在开放时间内：1 个" in zh


def test_buildings_are_capped_to_the_largest(shenzhen):
    _, area, f = shenzhen
    capped = basemap.basemap_features(OSM / "shenzhen-nanshan.osm.bz2", SZ_CRS, area, 300, max_buildings=50)
    assert len(capped["buildings"]) == 50
    full = np.sort(shapely.area(f["buildings"].geometry.to_numpy()))[::-1]
    assert shapely.area(capped["buildings"].geometry.to_numpy()).min() >= full[49] * 0.95  # simplified areas
