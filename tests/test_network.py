"""Walk network loading: formats, pedestrian filter, one-way ways, clipping, fragments, errors."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely

from eldercare_coverage.access import nearest_facility, snap_points
from eldercare_coverage.errors import InputError, ProblemReport
from eldercare_coverage.network import (download_walk_network, is_walkable, load_walk_network, network_from_arrays,
                              network_from_graph)

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "data" / "access" / "oneway.osm"


#: Real OSM extracts copied into the repository (attribution in tests/data/osm/README.md).
OSM = Path(__file__).resolve().parent / "data" / "osm"


def test_pedestrian_filter_and_oneway_both_ways():
    net = load_walk_network(FIXTURE, "EPSG:32648")
    ids = {frozenset(p) for p in zip(net.node_id[net.edge_u].tolist(), net.node_id[net.edge_v].tolist())}
    # foot=no, motorway and private service ways are gone, so node 3 is no longer a junction
    # and simplification merges 2-3-7 (one-way residential + cycleway with foot=yes) into one edge
    assert ids == {frozenset({1, 2}), frozenset({2, 4}), frozenset({2, 7})}
    # a walk against the one-way arrow (3 -> 1) is as long as with it
    tf = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
    x1, y1 = tf.transform(104.0600, 30.7650)
    x3, y3 = tf.transform(104.0700, 30.7650)
    a = snap_points(net, shapely.points([x1], [y1]))
    b = snap_points(net, shapely.points([x3], [y3]))
    _, t_ab = nearest_facility(net, a, b, 1.0)
    _, t_ba = nearest_facility(net, b, a, 1.0)
    assert t_ab[0] * 60 == pytest.approx(np.hypot(x3 - x1, y3 - y1), rel=1e-3)
    assert t_ba[0] == pytest.approx(t_ab[0])


@pytest.mark.parametrize("tags,ok", [
    ({"highway": "footway"}, True), ({"highway": "steps"}, True), ({"highway": "track"}, True),
    ({"highway": "service"}, True), ({"highway": "service", "service": "private"}, False),
    ({"highway": "motorway"}, False), ({"highway": "primary", "foot": "no"}, False),
    ({"highway": "cycleway"}, False), ({"highway": "cycleway", "foot": "designated"}, True),
    ({"highway": "trunk"}, True), ({"highway": "trunk", "bridge": "yes"}, False),
    ({"highway": "trunk", "bridge": "yes", "sidewalk": "both"}, True),
    ({"highway": "residential", "access": "private"}, False),
    ({"highway": "residential", "access": "private", "foot": "yes"}, True),
    ({"highway": "pedestrian", "area": "yes"}, False), ({"highway": "construction"}, False),
    ({"building": "yes"}, False),
])
def test_is_walkable(tags, ok):
    assert is_walkable(tags) is ok


def test_csr_is_symmetric_with_lengths_in_metres():
    net = load_walk_network(FIXTURE, "EPSG:32648")
    a = net.adj
    assert (a != a.T).nnz == 0
    assert np.allclose(np.sort(a.data), np.sort(np.r_[net.edge_length, net.edge_length]))
    assert np.allclose(net.edge_length, shapely.length(net.edge_geometry))
    # geometry runs from edge_u to edge_v
    start = shapely.get_point(net.edge_geometry, 0)
    assert np.allclose(shapely.get_x(start), net.x[net.edge_u]) and np.allclose(shapely.get_y(start), net.y[net.edge_u])


def test_unreadable_and_missing_files_name_the_file(tmp_path):
    bad = tmp_path / "broken.osm"
    bad.write_text("<osm><node id='1' lat='x'", encoding="utf-8")
    report = ProblemReport()
    net = load_walk_network(bad, "EPSG:32648", report=report)
    assert net.n_edges == 0 and len(report.errors) >= 1
    assert all(str(bad) in p.file for p in report.errors)
    with pytest.raises(InputError) as exc:
        load_walk_network(tmp_path / "nope.osm.pbf", "EPSG:32648")
    assert "nope.osm.pbf" in str(exc.value)
    report = ProblemReport()
    (tmp_path / "x.shp").write_bytes(b"\0")
    load_walk_network(tmp_path / "x.shp", "EPSG:32648", report=report)
    assert "unknown walk network format" in report.errors[0].message


def test_fragments_reported_with_sizes():
    report = ProblemReport()
    net = load_walk_network(OSM / "chengdu-jinniu-xindu.osm.bz2", "EPSG:32648", report=report)
    assert len(net.fragments) > 0
    assert net.main_node_mask.sum() > net.fragments["nodes"].max()
    # fragment sizes add up with the main part
    assert net.main_node_mask.sum() + net.fragments["nodes"].sum() <= net.n_nodes
    w = [p for p in report.warnings if "fragment" in p.message]
    assert len(w) == 1 and str(len(net.fragments)) in w[0].message


def test_pbf_clipped_while_reading():
    crs = "EPSG:32635"
    full = load_walk_network(OSM / "helsinki-center.osm.pbf", crs, report=ProblemReport())
    cx, cy = np.median(full.x), np.median(full.y)
    area = shapely.Point(cx, cy).buffer(200)
    clipped = load_walk_network(OSM / "helsinki-center.osm.pbf", crs, area=area, margin_m=100,
                                report=ProblemReport())
    assert 0 < clipped.n_nodes < full.n_nodes / 3
    d = shapely.distance(shapely.points(clipped.x, clipped.y), area)
    assert d.max() <= 100 + 5  # clip polygon is the area + margin (segmentised in lon/lat)


def test_xml_clipped_long_roads():
    crs = "EPSG:32649"
    tf = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x0, y0 = tf.transform(113.9240, 22.5405)
    x1, y1 = tf.transform(113.9681, 22.5595)
    area = shapely.box(x0, y0, x1, y1)
    net = load_walk_network(OSM / "shenzhen-nanshan.osm.bz2", crs, area=area, margin_m=500, report=ProblemReport())
    assert net.n_edges > 1000
    assert shapely.distance(shapely.points(net.x, net.y), area).max() <= 510


def test_shanghai_drive_graph_keeps_oneway_roads():
    """The Shanghai file is an osmnx drive graph full of one-way roads: they must all stay
    walkable (in both directions) unless the pedestrian filter excludes them."""
    import osmnx as ox
    path = OSM / "shanghai-huangpu-peoples-square.osm.bz2"
    net = load_walk_network(path, "EPSG:32651", report=ProblemReport())
    with pytest.warns(UserWarning):
        G = ox.graph_from_xml(path, bidirectional=False, simplify=False, retain_all=True)
    oneway = {d["osmid"] for _, _, d in G.edges(data=True) if d.get("oneway") is True and is_walkable(d)}
    assert len(oneway) > 50
    ours = {int(i) for s in net.edge_attrs["osmid"] for i in s.replace("[", "").replace("]", "").replace(",", ";").split(";") if i.strip()}
    assert oneway <= ours
    # and a one-way edge is walked against its direction at its own length
    e = int(np.argmax(net.edge_length))
    a = snap_points(net, shapely.points([net.x[net.edge_u[e]]], [net.y[net.edge_u[e]]]))
    b = snap_points(net, shapely.points([net.x[net.edge_v[e]]], [net.y[net.edge_v[e]]]))
    _, t1 = nearest_facility(net, a, b, 1.0)
    _, t2 = nearest_facility(net, b, a, 1.0)
    assert t1[0] == pytest.approx(t2[0]) and t1[0] * 60 <= net.edge_length[e] + 1e-6


def test_graphml_roundtrip(tmp_path):
    import osmnx as ox
    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=104.060, y=30.765)
    G.add_node(2, x=104.065, y=30.765)
    G.add_node(3, x=104.065, y=30.769)
    G.add_edge(1, 2, highway="residential", oneway=True, length=1.0)
    G.add_edge(2, 3, highway="footway", length=1.0)
    G.add_edge(3, 2, highway="footway", length=1.0)
    path = tmp_path / "g.graphml"
    ox.save_graphml(G, path)
    net = load_walk_network(path, "EPSG:32648")
    assert net.n_edges == 2  # the 2-3 twin counted once
    assert np.all(net.edge_length > 400)  # metres, not the stored 'length' attribute


def test_network_from_graph_keeps_parallel_edges_of_different_length():
    G = nx.MultiGraph(crs="EPSG:32648")
    G.add_node("a", x=0.0, y=0.0)
    G.add_node("b", x=100.0, y=0.0)
    G.add_edge("a", "b")
    G.add_edge("a", "b", geometry=shapely.LineString([(0, 0), (50, 50), (100, 0)]))
    net = network_from_graph(G, "EPSG:32648")
    assert sorted(np.round(net.edge_length, 3)) == [100.0, round(2 * np.hypot(50, 50), 3)]
    assert (net.node_id == [0, 1]).all()


def test_download_uses_osmnx_and_caches(tmp_path, monkeypatch):
    import osmnx as ox
    calls = []

    def fake(polygon, network_type, retain_all):
        calls.append(network_type)
        G = nx.MultiDiGraph(crs="EPSG:4326")
        G.add_node(1, x=104.06, y=30.76)
        G.add_node(2, x=104.07, y=30.76)
        G.add_edge(1, 2, highway="footway", length=900.0, osmid=5)
        return G

    monkeypatch.setattr(ox, "graph_from_polygon", fake)
    poly = shapely.box(104.05, 30.75, 104.08, 30.77)
    p1 = download_walk_network(poly, tmp_path)
    p2 = download_walk_network(poly, tmp_path)
    assert p1 == p2 and p1.exists() and calls == ["walk"]
    net = load_walk_network(p1, "EPSG:32648")
    assert net.n_edges == 1


def test_download_failure_is_reported(tmp_path, monkeypatch):
    import osmnx as ox

    def offline(*a, **k):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(ox, "graph_from_polygon", offline)
    report = ProblemReport()
    download_walk_network(shapely.box(0, 0, 1, 1), tmp_path, report=report)
    assert "no route to host" in report.errors[0].message


def test_empty_network_arrays():
    net = network_from_arrays(np.empty(0), np.empty(0), np.empty(0, int), np.empty(0, int), "EPSG:32648")
    assert net.n_nodes == 0 and len(net.fragments) == 0 and len(net.edges_gdf()) == 0


def test_merged_tags_are_written_in_one_order():
    """Simplified edges carry their ways' tags as lists built from sets, whose order changes
    between runs: the text form is sorted and without repeats, so outputs do not change."""
    from eldercare_coverage.network import _tag_text

    assert _tag_text(["tertiary", "secondary", "tertiary"]) == "secondary;tertiary"
    assert _tag_text({"b", "a"}) == _tag_text(["a", "b"]) == "a;b"
    assert _tag_text([22, 3]) == "22;3"  # as text, like the ids' column
    assert _tag_text(None) == "" and _tag_text("footway") == "footway"
