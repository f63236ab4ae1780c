"""A ``.pbf`` walk network read by the block decoder and simplified in arrays (pbf.py,
simplify.py) is the network of the networkx reader (``network._graph_from_pbf``, osmnx's
``simplify_graph``, ``network_from_graph``): same nodes in the same order, same edges, geometries,
tags, components and fragment warnings, same walk access.

Real OSM data: tests/data/osm (© OpenStreetMap contributors, ODbL); the XML extracts are written
as PBF with pyosmium's writer in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import osmium
import pandas as pd
import pytest
import shapely

from eldercare_coverage import network, pbf
from eldercare_coverage._pbf_blocks import UnsupportedPbf
from eldercare_coverage.access import compute_access
from eldercare_coverage.config import AccessSection
from eldercare_coverage.errors import ProblemReport

OSM = Path(__file__).parent / "data" / "osm"
EXTRACTS = [("helsinki-center.osm.pbf", "EPSG:32635"), ("shenzhen-nanshan.osm.bz2", "EPSG:32650"),
            ("chengdu-jinniu-xindu.osm.bz2", "EPSG:32648"), ("shanghai-huangpu-peoples-square.osm.bz2", "EPSG:32651")]


def as_pbf(name: str, tmp_path: Path) -> Path:
    """The extract as a PBF: the Helsinki file as it is, an XML one through pyosmium's writer."""
    if name.endswith(".pbf"):
        return OSM / name
    path = tmp_path / name.replace(".osm.bz2", ".osm.pbf")
    with osmium.SimpleWriter(str(path)) as w:
        for obj in osmium.FileProcessor(str(OSM / name)):
            w.add(obj)
    return path


def both(path: Path, crs: str, monkeypatch, area=None, margin_m: float = 1500.0, decoder: bool = True):
    """(new network, its report, the networkx reader's network, its report) of one file."""
    new_report, old_report = ProblemReport(), ProblemReport()
    with monkeypatch.context() as m:
        if decoder:  # the block decoder must read it: no quiet fallback to pyosmium
            m.setattr(pbf, "read_osm_ways_osmium", lambda *a, **k: pytest.fail("fell back to pyosmium"))
        m.setattr(network, "_graph_from_pbf", lambda *a, **k: pytest.fail("read through networkx"))
        new = network.load_walk_network(path, crs, area=area, margin_m=margin_m, report=new_report)
    _, clip_wgs = network._clip_polygon(area, crs, margin_m)
    old = network.network_from_graph(network._graph_from_pbf(path, clip_wgs), crs, source=str(path),
                                     report=old_report)
    return new, new_report, old, old_report


def assert_same_network(new, old) -> None:
    """Array for array: nodes, edges, lengths, geometries (1e-9 m), tags, components, fragments."""
    for f in ("node_id", "x", "y", "edge_u", "edge_v", "component"):
        assert np.array_equal(getattr(new, f), getattr(old, f)), f
    np.testing.assert_allclose(new.edge_length, old.edge_length, rtol=0, atol=1e-6)
    cn, iin = shapely.get_coordinates(new.edge_geometry, return_index=True)
    co, io = shapely.get_coordinates(old.edge_geometry, return_index=True)
    assert np.array_equal(iin, io)
    np.testing.assert_allclose(cn, co, rtol=0, atol=1e-9)
    pd.testing.assert_frame_equal(new.edge_attrs, old.edge_attrs)
    pd.testing.assert_frame_equal(new.fragments, old.fragments)
    assert new.main_component == old.main_component and new.source == old.source


@pytest.mark.parametrize("name, crs", EXTRACTS)
def test_real_extracts_give_the_networkx_network(name, crs, tmp_path, monkeypatch):
    new, new_report, old, old_report = both(as_pbf(name, tmp_path), crs, monkeypatch)
    assert new.n_edges > 700 and len(new.fragments) > 0
    assert_same_network(new, old)
    assert new_report.format() == old_report.format()  # the fragment warnings, word for word
    # merged edges: several ways' ids and sorted tag texts, and steps kept apart
    assert new.edge_attrs["osmid"].str.contains(";").any()
    merged = new.edge_attrs["highway"][new.edge_attrs["highway"].str.contains(";")]
    assert all(t.split(";") == sorted(set(t.split(";"))) for t in merged)


def test_clipped_to_the_study_area(monkeypatch):
    """Clipped to the area + margin while reading: the polygon's box breaks ways, nodes outside
    the polygon go with their segments, and a node left alone stays, as _clip_graph leaves it."""
    path, crs = OSM / "helsinki-center.osm.pbf", "EPSG:32635"
    full = network.load_walk_network(path, crs, report=ProblemReport())
    cx, cy = np.median(full.x), np.median(full.y)
    area = shapely.Polygon([(cx - 300, cy - 250), (cx + 250, cy - 300), (cx + 300, cy + 200), (cx - 200, cy + 300)])
    new, new_report, old, old_report = both(path, crs, monkeypatch, area=area, margin_m=120.0)
    assert_same_network(new, old)
    assert new_report.format() == old_report.format()
    assert 200 < new.n_nodes < full.n_nodes // 2
    alone = np.bincount(np.concatenate([new.edge_u, new.edge_v]), minlength=new.n_nodes) == 0
    assert alone.any()  # a clipped node without edges, kept as networkx keeps it


def write_shapes(path: Path) -> None:
    """Streets around Chengdu with what simplification must get right: an isolated ring of
    degree-2 nodes, a loop hanging off a junction, a chain over ways named differently, a
    footway turning into steps and into a bridge mid-chain, two ways over the same two nodes,
    a way through a node missing from the file, and a dead end."""
    lon0, lat0, d = 104.05, 30.70, 0.0005
    pts = {1: (0, 0), 2: (1, 0), 3: (2, 0), 4: (3, 0), 5: (4, 0), 6: (5, 0), 7: (6, 0), 8: (7, 0),
           # the loop off node 2, the ring apart, the chain's interstitial nodes
           11: (1, 1), 12: (1.5, 2), 13: (0.5, 2), 21: (10, 10), 22: (11, 10), 23: (11, 11), 24: (10, 11),
           31: (2.5, -0.3), 32: (3.5, 0.3), 33: (4.5, -0.2), 34: (5.5, 0.4), 35: (6.5, -0.1), 9: (7, -1),
           40: (0, -1), 41: (2, 1)}
    with osmium.SimpleWriter(str(path)) as w:
        for nid in sorted(pts):
            x, y = pts[nid]
            w.add_node(osmium.osm.mutable.Node(id=nid, location=(lon0 + x * d, lat0 + y * d)))
        ways = [(1, [1, 2, 3], {"highway": "residential", "name": "甲路"}),
                (2, [2, 11, 12, 13, 2], {"highway": "footway"}),
                (3, [21, 22, 23, 24, 21], {"highway": "footway"}),
                (4, [3, 31, 4], {"highway": "footway", "name": "乙"}),
                (5, [4, 32, 5], {"highway": "footway", "name": "甲"}),
                (6, [5, 33], {"highway": "footway"}),
                (7, [33, 6], {"highway": "steps"}),
                (8, [6, 34, 7, 35], {"highway": "footway", "bridge": "yes"}),
                (9, [35, 8], {"highway": "footway"}),
                (10, [1, 40], {"highway": "path"}),
                (11, [1, 40], {"highway": "steps"}),
                (12, [8, 999, 9], {"highway": "footway"}),
                (13, [3, 41], {"highway": "residential"})]  # a junction at node 3
        for wid, refs, tags in ways:
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))


def test_rings_loops_steps_and_twins(tmp_path, monkeypatch):
    path = tmp_path / "shapes.osm.pbf"
    write_shapes(path)
    new, _, old, _ = both(path, "EPSG:32648", monkeypatch)
    assert_same_network(new, old)
    ids = set(new.node_id.tolist())
    # the isolated ring is dropped (osmnx's remove_rings); the loop is a self-loop at node 2
    assert not ids & {21, 22, 23, 24, 11, 12, 13}
    i2 = int(np.flatnonzero(new.node_id == 2)[0])
    loop = np.flatnonzero((new.edge_u == i2) & (new.edge_v == i2))
    assert len(loop) == 1 and new.edge_attrs["osmid"][loop[0]] == "2"
    # a chain over three ways: one edge, its names and ids sorted as text
    attrs = new.edge_attrs.assign(u=new.node_id[new.edge_u], v=new.node_id[new.edge_v])
    chain = attrs[attrs["osmid"] == "4;5;6"]
    assert len(chain) == 1 and chain["name"].iloc[0] == "乙;甲" and {chain.u.iloc[0], chain.v.iloc[0]} == {3, 33}
    # steps and the bridge stay edges of their own: node 33 and node 35 are kept
    assert {33, 35} <= ids and (attrs["highway"] == "steps").sum() == 1
    assert attrs[attrs["bridge"] == "yes"]["osmid"].tolist() == ["8"]
    # two ways over nodes 1-40 (same length): the first in the file is kept, the steps way not
    assert "10" in attrs["osmid"].tolist() and "11" not in attrs["osmid"].tolist()
    # the way through the missing node 999 keeps no segment: node 9 is not in the network
    assert 9 not in ids and 8 in ids


def test_walk_access_is_the_same(monkeypatch):
    """Demand times and coverage on both networks of the Helsinki extract are equal."""
    path, crs = OSM / "helsinki-center.osm.pbf", "EPSG:32635"
    new, _, old, _ = both(path, crs, monkeypatch)
    rng = np.random.default_rng(3)
    x0, y0 = np.percentile(new.x, 20), np.percentile(new.y, 20)
    boxes = [shapely.box(x, y, x + 150, y + 150) for x, y in rng.uniform(0, 900, size=(12, 2)) + (x0, y0)]
    comm = gpd.GeoDataFrame({"community_id": [f"c{i}" for i in range(12)], "name": "", "district": "", "street": "",
                             "population": 2000.0, "households": np.nan, "elderly_population": 400.0,
                             "estate_type": ""}, geometry=boxes, crs=crs)
    at = rng.choice(np.flatnonzero(new.main_node_mask), 5, replace=False)
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i}" for i in range(5)], "kind": "day_care_centre"},
                           geometry=gpd.points_from_xy(new.x[at] + 7, new.y[at] - 4), crs=crs)
    a, b = (compute_access(comm, fac, None, net, AccessSection()) for net in (new, old))
    assert len(a.demand) > 80 and a.demand["time_min"].notna().sum() > 50
    pd.testing.assert_series_equal(a.demand["time_min"], b.demand["time_min"])
    assert (a.facility_matrix != b.facility_matrix).nnz == 0


def test_files_the_decoder_refuses_and_broken_files(tmp_path, monkeypatch):
    """An unsorted PBF goes through pyosmium (same network); a corrupt one is an input error."""
    unsorted = tmp_path / "unsorted.osm.pbf"
    w = osmium.SimpleWriter(str(unsorted))
    for i, lon in ((1, 104.0), (2, 104.001), (3, 104.002)):
        w.add_node(osmium.osm.mutable.Node(id=i, location=(lon, 30.0)))
    w.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2, 3], tags={"highway": "residential"}))
    w.add_node(osmium.osm.mutable.Node(id=4, location=(104.003, 30.001)))  # a node after a way
    w.add_way(osmium.osm.mutable.Way(id=2, nodes=[3, 4], tags={"highway": "footway"}))
    w.close()
    new, _, old, _ = both(unsorted, "EPSG:32648", monkeypatch, decoder=False)
    assert_same_network(new, old)
    assert new.n_edges == 1 and new.edge_attrs["osmid"].tolist() == ["1;2"] and len(new.edge_geometry[0].coords) == 4
    with pytest.raises(UnsupportedPbf):
        pbf._decode_pbf(unsorted)
    broken = tmp_path / "broken.osm.pbf"
    broken.write_bytes(b"\x00\x00\x00\x0dnot a pbf file at all")
    report = ProblemReport()
    net = network.load_walk_network(broken, "EPSG:32648", report=report)
    assert net.n_edges == 0 and [p.code for p in report.errors] == ["network.unreadable"]


def test_residents_ways_come_from_the_networks_read(monkeypatch):
    """read_residents_ways of a PBF: the residents-only ways of the decoder's read of the file
    for the network (no second read), equal to pyosmium's walk over every highway way."""
    path = OSM / "helsinki-center.osm.pbf"
    network.load_walk_network(path, "EPSG:32635", report=ProblemReport())
    with monkeypatch.context() as m:
        m.setattr(pbf, "_decode_pbf", lambda *a: pytest.fail("read the file again"))
        ways = network.read_residents_ways(path)
    expected = []
    for way, tags in network.highway_ways(path):
        xy = [(n.location.lon, n.location.lat) for n in way.nodes if n.location.valid()]
        if network.residents_only(tags) and len(xy) >= 2:
            expected.append((way.id, tags.get("highway"), tags.get("bridge", ""), tags.get("tunnel", ""), xy))
    assert len(ways) == len(expected) == 15
    assert list(ways.columns) == ["osmid", "highway", "bridge", "tunnel", "geometry"]
    for row, (wid, hw, bridge, tunnel, xy) in zip(ways.itertuples(), expected):
        assert (row.osmid, row.highway, row.bridge, row.tunnel) == (wid, hw, bridge, tunnel)
        assert np.array_equal(np.asarray(row.geometry.coords), np.asarray(xy))
    clip = shapely.box(*ways.total_bounds).buffer(-0.002)
    clipped = network.read_residents_ways(path, clip)
    assert 0 < len(clipped) < 15 and shapely.intersects(clip, clipped.geometry.to_numpy()).all()
