"""Street-following isochrones: exact partial edges, holes, rings, and the invariant against the
coverage matrix on a real extract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from eldercare_coverage.access import coverage_matrix, snap_points
from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.isochrones import edge_substrings, isochrones, union_by_kind
from eldercare_coverage.network import load_walk_network, network_from_arrays


#: Real OSM extracts copied into the repository (attribution in tests/data/osm/README.md).
OSM = Path(__file__).resolve().parent / "data" / "osm"


def test_partial_edge_ends_exactly_at_the_limit():
    net = network_from_arrays(np.array([0.0, 2000.0]), np.zeros(2), [0], [1], "EPSG:32648")
    site = snap_points(net, shapely.points([100.0], [0.0]))
    # 1 m/s, 10 min = 600 m each way from x=100: reach [0, 700]
    iso = isochrones(net, site, ["s"], ["service_station"], 1.0, limits_min=[10], buffer_m=1.0)
    poly = iso.geometry.iloc[0]
    assert poly.contains(shapely.Point(690, 0)) and not poly.contains(shapely.Point(705, 0))
    assert poly.bounds[2] == pytest.approx(701.0, abs=1e-6)


def test_partial_edges_from_both_ends_and_curved_geometry():
    # a curved edge, reached from both of its ends through a second, straight path
    xs, ys = np.array([0.0, 400.0]), np.array([0.0, 0.0])
    curved = shapely.LineString([(0, 0), (200, 300), (400, 0)])
    straight = shapely.LineString([(0, 0), (400, 0)])
    net = network_from_arrays(xs, ys, [0, 0], [1, 1], "EPSG:32648", np.array([curved, straight], dtype=object))
    site = snap_points(net, shapely.points([0.0], [-5.0]), max_m=10)
    L = net.edge_length[0]
    limit_m = 500.0
    iso = isochrones(net, site, ["s"], None, 1.0, limits_min=[limit_m / 60], buffer_m=0.5).geometry.iloc[0]
    # on the curved edge: reached up to (limit - 5) from node 0 and (limit - 5 - 400) back from node 1
    reach0 = limit_m - 5
    reach1 = limit_m - 5 - 400
    inside = [shapely.line_interpolate_point(curved, reach0 - 2), shapely.line_interpolate_point(curved, L - reach1 + 2)]
    outside = shapely.line_interpolate_point(curved, (reach0 + L - reach1) / 2)
    assert all(iso.contains(p) for p in inside)
    assert not iso.contains(outside)


def test_edge_substrings_match_shapely_substring():
    from shapely.ops import substring
    rng = np.random.default_rng(0)
    lines = np.array([shapely.LineString(rng.uniform(0, 100, (k, 2))) for k in rng.integers(2, 8, 40)], dtype=object)
    net = network_from_arrays(np.zeros(2), np.zeros(2), np.zeros(40, int), np.ones(40, int), "EPSG:32648", lines)
    s = rng.uniform(0, 1, 40) * net.edge_length * 0.5
    t = s + rng.uniform(0, 1, 40) * (net.edge_length - s)
    got = edge_substrings(net, np.arange(40), s, t)
    for g, line, a, b in zip(got, lines, s, t):
        assert g.equals_exact(substring(line, a, b), 1e-6) or shapely.hausdorff_distance(g, substring(line, a, b)) < 1e-6


def test_block_not_reached_stays_a_hole_and_rings():
    # a 600 m square ring of streets around a block, site at one corner
    sq = np.array([[0, 0], [600, 0], [600, 600], [0, 600]], dtype=float)
    net = network_from_arrays(sq[:, 0], sq[:, 1], [0, 1, 2, 3], [1, 2, 3, 0], "EPSG:32648")
    site = snap_points(net, shapely.points([0.0], [0.0]))
    iso = isochrones(net, site, ["s"], ["k"], 1.0, limits_min=[10, 30], buffer_m=40.0)
    big = iso[iso.limit_min == 30].geometry.iloc[0]
    assert len(big.interiors) == 1 and not big.contains(shapely.Point(300, 300))
    rings = isochrones(net, site, ["s"], ["k"], 1.0, limits_min=[10, 30], buffer_m=40.0, rings=True)
    outer = rings[rings.limit_min == 30].geometry.iloc[0]
    assert not outer.contains(shapely.Point(100, 0)) and outer.contains(shapely.Point(600, 600))
    assert rings["min_from"].tolist() == [0.0, 10.0]
    u = union_by_kind(iso)
    assert len(u) == 2 and set(u["sites"]) == {1}


@pytest.fixture(scope="module")
def chengdu():
    path = OSM / "chengdu-jinniu-xindu.osm.bz2"
    return load_walk_network(path, "EPSG:32648", report=ProblemReport())


def test_isochrone_invariant_against_travel_times(chengdu):
    net = chengdu
    rng = np.random.default_rng(11)
    main = np.flatnonzero(net.main_edge_mask)
    e = rng.choice(main, 600)
    base = shapely.line_interpolate_point(net.edge_geometry[e], rng.random(600), normalized=True)
    pts = shapely.points(shapely.get_x(base) + rng.normal(0, 25, 600), shapely.get_y(base) + rng.normal(0, 25, 600))
    dem = snap_points(net, pts)
    sites = snap_points(net, base[:5])
    speed, limit, buf = 0.9, 10.0, 40.0
    iso = isochrones(net, sites, [f"s{i}" for i in range(5)], None, speed, limits_min=[limit], buffer_m=buf)
    mat = coverage_matrix(net, sites, dem, speed, limit).toarray()
    snapped_loc = shapely.points(dem.x, dem.y)
    checked_in = checked_out = 0
    for i, poly in enumerate(iso.geometry):
        within = mat[i] > 0
        # every reached point's street location is inside; the point too when its access <= buffer
        assert shapely.contains(poly.buffer(1e-6), snapped_loc[within]).all()
        # buffers are polygons inscribed in the true round buffer (quad_segs=2: 8 segments per
        # circle), whose inner radius is buf * cos(pi / 8)
        near = within & (dem.access_m <= buf * np.cos(np.pi / 8))
        assert shapely.contains(poly.buffer(1e-6), pts[near]).all()
        checked_in += within.sum()
        # a point farther from the polygon than its own access walk is not reachable
        far = (shapely.distance(poly, pts) > dem.access_m + 1e-6) & dem.snapped
        assert not within[far].any()
        checked_out += far.sum()
    assert checked_in > 50 and checked_out > 200
