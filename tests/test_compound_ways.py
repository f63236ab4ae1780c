"""Walks inside gated compounds along their internal ways (footways, driveways, residents-only
paths), checked against networkx references in which the gates and the internal ways are the
only links between homes and streets; and why a gate is not used."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from eldercare_coverage.access import coverage_matrix, nearest_facility, snap_points, snap_through_gates
from eldercare_coverage.gates import assign_gates, compound_ways
from eldercare_coverage.network import network_from_arrays, residents_only
from eldercare_coverage.walkcost import walk_costs

CRS = "EPSG:32648"
SPEED = 1.0
#: The ring road of tests/test_walk_realism.py: south y=-10, north y=110, x from -200 to 300.
RING_X = [-200, 0, 50, 100, 300, 300, 100, 50, 0, -200]
RING_Y = [-10, -10, -10, -10, -10, 110, 110, 110, 110, 110]


def ring_road():
    u = np.arange(10)
    return network_from_arrays(np.array(RING_X, float), np.array(RING_Y, float), u, (u + 1) % 10, CRS)


def ring_graph() -> nx.Graph:
    G = nx.Graph()
    for i in range(10):
        j = (i + 1) % 10
        G.add_edge(i, j, w=float(np.hypot(RING_X[i] - RING_X[j], RING_Y[i] - RING_Y[j])))
    return G


def add_path(G: nx.Graph, coords: list[tuple[float, float]]) -> None:
    for a, b in zip(coords[:-1], coords[1:]):
        G.add_edge(a, b, w=float(np.hypot(a[0] - b[0], a[1] - b[1])))


def way(coords, highway="footway"):
    return gpd.GeoDataFrame({"highway": [highway]}, geometry=[shapely.LineString(coords)], crs=CRS)


def run(net, comp, gates, sets, visitor, ways):
    snaps = [snap_points(net, s) for s in sets]
    return snap_through_gates(net, comp, gates, snaps, sets, visitor, residents_ways=ways)


# An L-shaped residents-only footway from just inside the north gate, east along the wall, down
# the east side and back west to (60, 10): the home at (50, 10) is 10 m from its end.
FOOTWAY = [(50.0, 97.0), (90.0, 97.0), (90.0, 10.0), (60.0, 10.0)]


def test_internal_footway_makes_the_walk_to_the_gate_longer_than_the_straight_line():
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["north"], "access": [""], "opening_hours": [""]},
                             geometry=[shapely.Point(50, 100)], crs=CRS)
    home, fac = (50.0, 10.0), (50.0, -20.0)
    homes, facs = np.array([shapely.Point(*home)]), np.array([shapely.Point(*fac)])
    gnet, (hs, fs), gated = run(net, comp, gates, [homes, facs], [False, True], way(FOOTWAY))
    _, t = nearest_facility(gnet, hs, fs, SPEED)
    # reference: home -> nearest point of the footway (its end) -> along it -> gate -> north
    # road -> round to the south road -> facility; no straight home -> gate link
    G = ring_graph()
    add_path(G, FOOTWAY)
    G.add_edge("home", FOOTWAY[-1], w=10.0)
    G.add_edge("gate", FOOTWAY[0], w=3.0)
    G.add_edge("gate", 7, w=10.0)
    G.add_edge("fac", 2, w=10.0)
    expected = nx.shortest_path_length(G, "home", "fac", weight="w")
    inside = 10 + 30 + 87 + 40 + 3
    assert expected == pytest.approx(inside + 10 + 250 + 120 + 250 + 10)
    assert inside > 90  # longer than the straight walk to the gate
    assert t[0] * 60 == pytest.approx(expected, abs=1e-6)
    assert coverage_matrix(gnet, fs, hs, SPEED, 60.0).toarray()[0, 0] * 60 == pytest.approx(expected, abs=1e-6)
    assert gated.n_internal_ways == 1 and bool(gated.gates["internal_ways"].iloc[0])
    # the way is in the network as its own kind (the basemap leaves it out), and so are the
    # pieces of it from the feet of the gate and of the home to its two ends
    assert (gnet.edge_attrs["highway"] == "compound_way;footway").sum() == 1 + 2 + 2


def test_no_way_near_the_gate_or_home_nearer_the_gate_walks_straight():
    """Fallbacks: a way that no gate joins (not within the 10 m tolerance) leaves the straight
    walk; a home nearer the gate than the two walks onto the ways walks straight too."""
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["north"], "access": [""], "opening_hours": [""]},
                             geometry=[shapely.Point(50, 100)], crs=CRS)
    homes = np.array([shapely.Point(50, 10), shapely.Point(50, 92)])
    facs = np.array([shapely.Point(50, 120)])
    far = way([(20.0, 50.0), (80.0, 50.0)])  # 50 m from the gate
    gnet, (hs, fs), _ = run(net, comp, gates, [homes, facs], [False, True], far)
    _, t = nearest_facility(gnet, hs, fs, SPEED)
    assert t * 60 == pytest.approx([90 + 10 + 10, 8 + 10 + 10], abs=1e-6)
    # with the L footway: the second home is 5 m from it but 8 m from the gate (< 5 + 3): straight
    gnet, (hs, fs), _ = run(net, comp, gates, [homes, facs], [False, True], way(FOOTWAY))
    _, t = nearest_facility(gnet, hs, fs, SPEED)
    assert t * 60 == pytest.approx([170 + 20, 8 + 20], abs=1e-6)


def test_residents_only_path_is_no_short_cut_for_outsiders():
    """A compound between two streets, a gate on each, a residents-only path between the gates.
    A resident uses it; a passer-by from the west street to a facility on the east street must
    go round, as in a reference with the compound left out."""
    # west street x=-10 and east street x=110 (y from -50 to 150), joined by a loop far south
    xs = np.array([-10, -10, -10, 110, 110, 110, -10, 110], float)
    ys = np.array([-50, 50, 150, -50, 50, 150, -400, -400], float)
    u = np.array([0, 1, 3, 4, 0, 6, 7])
    v = np.array([1, 2, 4, 5, 6, 7, 3])
    net = network_from_arrays(xs, ys, u, v, CRS)
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["west", "east"], "access": ["private", "private"],
                              "opening_hours": ["", ""]},
                             geometry=[shapely.Point(0, 50), shapely.Point(100, 50)], crs=CRS)
    path = way([(3.0, 50.0), (97.0, 50.0)])
    tags = {"highway": "footway", "access": "private"}
    assert residents_only(tags) and not residents_only({"highway": "footway"})
    resident, outsider = np.array([shapely.Point(30, 60)]), np.array([shapely.Point(-20, 40)])
    fac = np.array([shapely.Point(120, 60)])
    gnet, (rs, os_, fs), _ = run(net, comp, gates, [resident, outsider, fac], [False, False, True], path)
    _, t_res = nearest_facility(gnet, rs, fs, SPEED)
    _, t_out = nearest_facility(gnet, os_, fs, SPEED)
    G = nx.Graph()
    for a, b in zip(u, v):
        G.add_edge(int(a), int(b), w=float(np.hypot(xs[a] - xs[b], ys[a] - ys[b])))
    # the outsider's reference has no compound at all: west street, the loop, east street; the
    # outsider and the facility join their streets at (-10, 40) and (110, 60)
    G.remove_edges_from([(0, 1), (4, 5)])
    add_path(G, [(-10.0, -50.0), (-10.0, 40.0), (-10.0, 50.0)])
    add_path(G, [(110.0, 50.0), (110.0, 60.0), (110.0, 150.0)])
    for node, xy in ((0, (-10.0, -50.0)), (1, (-10.0, 50.0)), (4, (110.0, 50.0)), (5, (110.0, 150.0))):
        G.add_edge(node, xy, w=0.0)
    G.add_edge("out", (-10.0, 40.0), w=10.0)
    G.add_edge("fac", (110.0, 60.0), w=10.0)
    out_ref = nx.shortest_path_length(G, "out", "fac", weight="w")
    assert out_ref > 1000
    assert t_out[0] * 60 == pytest.approx(out_ref, abs=1e-6)
    # the resident: 10 m onto the path, 67 m east, 3 m to the gate, 10 m to the street, 10 + 10 m
    R = G.copy()
    add_path(R, [(3.0, 50.0), (30.0, 50.0), (97.0, 50.0)])
    R.add_edge("res", (30.0, 50.0), w=10.0)
    R.add_edge("east", (97.0, 50.0), w=3.0)
    R.add_edge("west", (3.0, 50.0), w=3.0)
    R.add_edge("east", 4, w=10.0)
    R.add_edge("west", 1, w=10.0)
    res_ref = nx.shortest_path_length(R, "res", "fac", weight="w")
    assert res_ref == pytest.approx(10 + 67 + 3 + 10 + 10 + 10)
    assert t_res[0] * 60 == pytest.approx(res_ref, abs=1e-6)
    cm = coverage_matrix(gnet, fs, os_, SPEED, 60.0).toarray()
    assert cm[0, 0] * 60 == pytest.approx(out_ref, abs=1e-6)


def test_visitors_use_only_public_internal_ways_and_steps_cost_inside():
    """A facility inside the compound: its visitors walk the public internal ways (a network
    edge inside the compound), not a residents-only one; steps on an internal way are walked
    at the steps factor."""
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["north"], "access": [""], "opening_hours": [""]},
                             geometry=[shapely.Point(50, 100)], crs=CRS)
    fac_in = np.array([shapely.Point(50, 10)])
    visitor_home = np.array([shapely.Point(50, 130)])  # outside, north of the north road
    gnet, (fs, vs), _ = run(net, comp, gates, [fac_in, visitor_home], [True, False], way(FOOTWAY))
    _, t = nearest_facility(gnet, vs, fs, SPEED)
    assert t[0] * 60 == pytest.approx(20 + 10 + 90, abs=1e-6)  # straight: the footway is residents-only
    # the same footway as a public network edge: visitors follow it
    xs = np.r_[RING_X, [50.0, 90.0, 90.0, 60.0]]
    ys = np.r_[RING_Y, [97.0, 97.0, 10.0, 10.0]]
    u = np.r_[np.arange(10), [10, 11, 12]]
    v = np.r_[(np.arange(10) + 1) % 10, [11, 12, 13]]
    pub = network_from_arrays(xs, ys, u, v, CRS)
    assert len(compound_ways(pub, comp)) == 3
    gnet, (fs, vs), _ = run(pub, comp, gates, [fac_in, visitor_home], [True, False], None)
    _, t = nearest_facility(gnet, vs, fs, SPEED)
    assert t[0] * 60 == pytest.approx(20 + 10 + 3 + 40 + 87 + 30 + 10, abs=1e-6)
    # steps on the residents' way: walked at half speed inside the compound (directed costs)
    homes, facs = np.array([shapely.Point(50, 10)]), np.array([shapely.Point(50, 120)])
    gnet, (hs, fs), _ = run(ring_road(), comp, gates, [homes, facs], [False, True], way(FOOTWAY, "steps"))
    slow = walk_costs(gnet, steps_factor=0.5)
    _, t = nearest_facility(slow, hs, fs, SPEED)
    assert t[0] * 60 == pytest.approx(10 + 2 * (30 + 87 + 40) + 3 + 20, abs=1e-6)


def test_why_a_gate_is_not_used():
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["a", "b", "c", "far"], "access": ["", "no", "private", ""],
                              "opening_hours": ["", "", "06:00-08:00", ""]},
                             geometry=[shapely.Point(50, 100), shapely.Point(0, 50), shapely.Point(100, 50),
                                       shapely.Point(50, 160)], crs=CRS)
    rows = assign_gates(gates, comp, tolerance_m=10.0, hour=10.0)
    assert list(rows["reason"]) == ["", "access_no", "closed_at_hour"]
    rows = assign_gates(gates, comp, tolerance_m=10.0, hour=10.0, include_unused=True)
    assert list(rows["gate_id"]) == ["a", "b", "c", "far"]
    assert list(rows["reason"]) == ["", "access_no", "closed_at_hour", "off_boundary"]
    assert rows["compound"].iloc[3] == -1 and not rows["residents"].iloc[3]


def test_residents_only_ways_of_the_real_extracts():
    """The Chengdu sample extract (XML) maps 69 residents-only ways, all access=private footways
    and driveways; the Helsinki PBF 15 (with a flight of steps). Public ways are never read."""
    from pathlib import Path

    from eldercare_coverage.network import is_walkable, read_residents_ways

    osm = Path(__file__).resolve().parent / "data" / "osm"
    xml = read_residents_ways(osm / "chengdu-jinniu-xindu.osm.bz2")
    assert len(xml) == 69 and xml["highway"].value_counts().to_dict() == {"footway": 37, "service": 32}
    assert xml.crs.to_epsg() == 4326 and (shapely.length(xml.geometry.to_numpy()) > 0).all()
    pbf = read_residents_ways(osm / "helsinki-center.osm.pbf")
    assert len(pbf) == 15 and (pbf["highway"] == "steps").sum() == 1
    assert not is_walkable({"highway": "service", "service": "driveway", "access": "private"})
    assert residents_only({"highway": "service", "service": "driveway", "access": "private"})
    assert residents_only({"highway": "footway", "foot": "private"})
    assert not residents_only({"highway": "motorway", "access": "private"})  # never walkable
    assert not residents_only({"highway": "footway", "access": "no"})  # closed to everyone
