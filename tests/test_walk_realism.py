"""Compound gates, elevators, fragments and the download branch (walks as older residents walk)."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from eldercare_coverage.access import coverage_matrix, nearest_facility, snap_points, snap_through_gates
from eldercare_coverage.gates import assign_gates, open_at
from eldercare_coverage.network import is_walkable, network_from_arrays

CRS = "EPSG:32648"
SPEED = 1.0


def ring_road():
    """A rectangular ring road around a 100 m compound: south y=-10, north y=110, x from -200 to 300."""
    corners = [(-200, -10), (300, -10), (300, 110), (-200, 110)]
    # extra nodes under the compound so snapping lands on short edges
    xs = [-200, 0, 50, 100, 300, 300, 100, 50, 0, -200]
    ys = [-10, -10, -10, -10, -10, 110, 110, 110, 110, 110]
    u = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 0]
    assert corners
    return network_from_arrays(np.array(xs, float), np.array(ys, float), np.array(u), np.array(v), CRS)


def compound_and_gate(gate_xy=(50.0, 100.0), access=""):
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["g1"], "access": [access], "opening_hours": [""]},
                             geometry=[shapely.Point(*gate_xy)], crs=CRS)
    return comp, gates


def reference_length(home, gate, fac) -> float:
    """networkx shortest path in which the home's only link is its straight walk to the gate."""
    G = nx.Graph()
    xs = [-200, 0, 50, 100, 300, 300, 100, 50, 0, -200]
    ys = [-10, -10, -10, -10, -10, 110, 110, 110, 110, 110]
    for i in range(10):
        j = (i + 1) % 10
        G.add_edge(i, j, w=float(np.hypot(xs[i] - xs[j], ys[i] - ys[j])))
    # the gate opens onto the north road at (gate x, 110): that is node 7 for x = 50
    G.add_edge("gate", 7, w=float(np.hypot(gate[0] - 50, gate[1] - 110)))
    G.add_edge("home", "gate", w=float(np.hypot(home[0] - gate[0], home[1] - gate[1])))
    # the facility (outside) joins the south road at (50, -10): node 2
    G.add_edge("fac", 2, w=float(np.hypot(fac[0] - 50, fac[1] + 10)))
    return nx.shortest_path_length(G, "home", "fac", weight="w")


def test_facility_across_the_wall_is_at_the_detour_time():
    net = ring_road()
    comp, gates = compound_and_gate()
    home, fac = (50.0, 10.0), (50.0, -20.0)
    homes = np.array([shapely.Point(*home)])
    facs = np.array([shapely.Point(*fac)])
    hs, fs = snap_points(net, homes), snap_points(net, facs)
    _, t_plain = nearest_facility(net, hs, fs, SPEED)
    assert t_plain[0] * 60 == pytest.approx(20 + 10, abs=1e-6)  # straight to the south road
    gnet, (hs2, fs2), gated = snap_through_gates(net, comp, gates, [hs, fs], [homes, facs], [False, True])
    _, t = nearest_facility(gnet, hs2, fs2, SPEED)
    expected = reference_length(home, (50.0, 100.0), fac)
    assert expected == pytest.approx(90 + 10 + 250 + 120 + 250 + 10)
    assert t[0] * 60 == pytest.approx(expected, abs=1e-6)
    # the bounded site x home search (the coverage matrix) agrees with the nearest-facility search
    assert coverage_matrix(gnet, fs2, hs2, SPEED, 60.0).toarray()[0, 0] * 60 == pytest.approx(expected, abs=1e-6)
    assert coverage_matrix(gnet, fs2, hs2, SPEED, 10.0).nnz == 0  # beyond 600 m
    assert len(gated.gates) == 1 and gated.ungated.empty


def test_best_of_several_gates_and_private_gates_for_residents_only():
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["north", "south"], "access": ["", "private"], "opening_hours": ["", ""]},
                             geometry=[shapely.Point(50, 100), shapely.Point(50, 0)], crs=CRS)
    home, outsider = np.array([shapely.Point(50, 10)]), np.array([shapely.Point(50, -20)])
    # a facility inside the compound, visited from outside: only the public north gate
    fac_in = np.array([shapely.Point(50, 20)])
    hs, os_, fs = snap_points(net, home), snap_points(net, outsider), snap_points(net, fac_in)
    gnet, (hs2, os2, fs2), _ = snap_through_gates(net, comp, gates, [hs, os_, fs], [home, outsider, fac_in],
                                                  [False, False, True])
    _, t_home = nearest_facility(gnet, hs2, fs2, SPEED)
    assert t_home[0] * 60 == pytest.approx(10, abs=1e-6)  # same compound: walks straight across
    _, t_out = nearest_facility(gnet, os2, fs2, SPEED)
    # outsider (at the south road) must go round to the north gate: 10 + 250+120+250 + 10 + 80
    assert t_out[0] * 60 == pytest.approx(10 + 620 + 10 + 80, abs=1e-6)
    # the resident's own private south gate is usable: home -> south gate -> south road
    ext = np.array([shapely.Point(150, -20)])
    es = snap_points(net, ext)
    gnet2, (hs3, es3), _ = snap_through_gates(net, comp, gates, [hs, es], [home, ext], [False, True])
    _, t_res = nearest_facility(gnet2, hs3, es3, SPEED)
    assert t_res[0] * 60 == pytest.approx(10 + 10 + 100 + 10, abs=1e-6)
    for net_, sites, homes_, t_ in ((gnet, fs2, hs2, t_home), (gnet, fs2, os2, t_out), (gnet2, es3, hs3, t_res)):
        assert coverage_matrix(net_, sites, homes_, SPEED, 60.0).toarray()[0, 0] == pytest.approx(t_[0], abs=1e-9)


def test_gate_hours_and_access():
    assert open_at("", 10) and open_at("24/7", 3) and not open_at("off", 10)
    assert open_at("06:00-22:00", 10) and not open_at("06:00-22:00", 23)
    assert open_at("Mo-Su 22:00-06:00", 2) and not open_at("Mo-Su 22:00-06:00", 12)
    comp, _ = compound_and_gate()
    gates = gpd.GeoDataFrame({"gate_id": ["a", "b", "c", "far"], "access": ["", "no", "private", ""],
                              "opening_hours": ["", "", "06:00-08:00", ""]},
                             geometry=[shapely.Point(50, 100), shapely.Point(0, 50), shapely.Point(100, 50),
                                       shapely.Point(50, 160)], crs=CRS)
    rows = assign_gates(gates, comp, tolerance_m=10.0, hour=10.0)
    assert list(rows["gate_id"]) == ["a", "b", "c"]  # "far" is 60 m off the wall
    assert list(rows["residents"]) == [True, False, False]  # access=no; c is closed at 10:00
    assert list(rows["public"]) == [True, False, False]


def test_compound_without_gate_falls_back_and_is_listed():
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A", "B"]},
                            geometry=[shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)], crs=CRS)
    _, gates = compound_and_gate()
    homes = np.array([shapely.Point(50, 10), shapely.Point(200, 10)])
    hs = snap_points(net, homes)
    _, (hs2,), gated = snap_through_gates(net, comp, gates, [hs], [homes], [False])
    assert list(gated.ungated["compound"]) == [1]
    assert hs2.edge[1] == hs.edge[1] and hs2.access_m[1] == pytest.approx(20)


def test_elevators_are_walkable_and_escalators_not():
    assert is_walkable({"highway": "elevator"})
    assert not is_walkable({"highway": "escalator"})
    assert is_walkable({"highway": "steps"})


def test_home_nearest_to_a_fragment_is_listed_with_the_extra_distance():
    # main road along y=0 (long), a fragment stub along y=30 (short, disconnected)
    x = np.array([0.0, 1000.0, 400.0, 420.0])
    y = np.array([0.0, 0.0, 30.0, 30.0])
    net = network_from_arrays(x, y, np.array([0, 2]), np.array([1, 3]), CRS)
    pts = np.array([shapely.Point(410, 40), shapely.Point(800, 5)])
    s = snap_points(net, pts, max_m=250)
    assert s.snapped.all()
    assert s.fragment_extra_m[0] == pytest.approx(40 - 10) and s.fragment_extra_m[1] == 0
    tight = snap_points(net, pts, max_m=250, fragment_max_extra_m=20)
    assert tight.fragment_only[0] and not tight.snapped[0] and tight.snapped[1]


# ----------------------------------------------------------------------------- which ways are walkable
WALKABILITY = [  # (tags, walkable) — the README's table, row by row
    ({"highway": "footway"}, True),
    ({"highway": "steps"}, True),
    ({"highway": "elevator"}, True),
    ({"highway": "escalator"}, False),
    ({"highway": "motorway"}, False),
    ({"highway": "trunk"}, True),
    ({"highway": "trunk", "bridge": "yes"}, False),
    ({"highway": "trunk", "tunnel": "yes"}, False),
    ({"highway": "trunk", "bridge": "yes", "sidewalk": "both"}, True),
    ({"highway": "trunk", "motorroad": "yes"}, False),
    ({"highway": "primary", "motorroad": "yes", "foot": "yes"}, True),
    ({"highway": "cycleway"}, False),
    ({"highway": "cycleway", "foot": "designated"}, True),
    ({"highway": "service", "access": "private"}, False),
    ({"highway": "service", "access": "no"}, False),
    ({"highway": "service", "access": "no", "foot": "yes"}, True),
    ({"highway": "footway", "foot": "private"}, False),
    ({"highway": "service", "service": "private"}, False),
    ({"highway": "pedestrian", "area": "yes"}, False),
    ({"highway": "track"}, True),
    ({"highway": "residential", "oneway": "yes"}, True),
]


@pytest.mark.parametrize("tags,walkable", WALKABILITY)
def test_walkability_choices(tags, walkable):
    assert is_walkable(tags) is walkable


def test_motorroad_expressway_is_not_walkable_on_the_real_extract():
    """北环大道 in Shenzhen is tagged motorroad=yes (机动车专用道): no pedestrian may use it."""
    from pathlib import Path

    from eldercare_coverage.errors import ProblemReport
    from eldercare_coverage.network import load_walk_network

    path = Path(__file__).resolve().parent / "data" / "osm" / "shenzhen-nanshan.osm.bz2"
    net = load_walk_network(path, "EPSG:32649", report=ProblemReport())
    attrs = net.edge_attrs
    assert not ((attrs["name"] == "北环大道") & attrs["highway"].isin(["trunk", "trunk_link"])).any()
    assert (attrs["highway"] == "steps").sum() > 10 and (attrs["highway"] == "footway").any()


# ----------------------------------------------------------------------------- download = true
def test_download_branch_loads_the_downloaded_network(sample_copy, monkeypatch):
    """``[inputs.network] download = true`` with osmnx's download replaced by the local extract."""
    from pathlib import Path

    import osmnx as ox

    import eldercare_coverage as ec

    calls = []

    def fake_download(polygon, network_type, retain_all):
        calls.append(network_type)
        osm = Path(__file__).resolve().parents[1] / "data" / "chengdu-jinniu-xindu.osm.bz2"
        return ox.graph_from_xml(osm, bidirectional=True, retain_all=True)

    monkeypatch.setattr(ox, "graph_from_polygon", fake_download)
    text = (sample_copy / "sample.toml").read_text(encoding="utf-8")
    start = text.index("[inputs.network]")
    end = text.index("[access]")
    text = text[:start] + "[inputs.network]\ndownload = true\n\n" + text[end:]
    (sample_copy / "sample.toml").write_text(text, encoding="utf-8")
    study = ec.load_study(ec.load_config(sample_copy / "sample.toml"))
    net = ec.build_network(study)
    assert calls == ["walk"] and net.n_edges > 500 and net.source.endswith(".graphml")
    # the second build reads the cache instead of downloading again
    ec.build_network(study)
    assert calls == ["walk"]


def test_home_reached_through_its_second_gate_is_in_the_coverage_matrix():
    """The far gate is listed first and lies beyond the limit; the home is reached through the
    near one. The bounded search must still find it (a regression: it once looked only at the
    home's first gate link)."""
    net = ring_road()
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)], crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["far", "near"], "access": ["", ""], "opening_hours": ["", ""]},
                             geometry=[shapely.Point(50, 100), shapely.Point(50, 0)], crs=CRS)
    home, fac = np.array([shapely.Point(50, 10)]), np.array([shapely.Point(150, -20)])
    hs, fs = snap_points(net, home), snap_points(net, fac)
    gnet, (hs2, fs2), _ = snap_through_gates(net, comp, gates, [hs, fs], [home, fac], [False, True])
    _, t = nearest_facility(gnet, hs2, fs2, SPEED)
    assert t[0] * 60 == pytest.approx(10 + 10 + 100 + 10, abs=1e-6)  # via the near gate
    m = coverage_matrix(gnet, fs2, hs2, SPEED, 3.0)  # 180 m: the far gate (> 500 m) is out of reach
    assert m.nnz == 1 and m.toarray()[0, 0] == pytest.approx(t[0], abs=1e-9)
