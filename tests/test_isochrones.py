"""Street-following isochrones: exact partial edges, holes, rings, and the invariant against the
coverage matrix (every point counted within a limit lies inside its site's polygon) on the sample
and on real extracts."""

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
    iso = isochrones(net, site, ["s"], ["service_station"], 1.0, limits_min=[10], access_max_m=20.0)
    poly = iso.geometry.iloc[0]
    # polygons circumscribe the round disks: at most 1 / cos(pi / 8) = 8 % wider (quad_segs = 2)
    scale = 1 / np.cos(np.pi / 8)
    assert poly.contains(shapely.Point(699.9, 0)) and not poly.contains(shapely.Point(702, 0))
    # where more walk is left, the width is the access limit (20 m); the last 20 m of the walk add
    # the disk around the point where 20 m are left (x = 680)
    assert poly.contains(shapely.Point(300, 19.99)) and not poly.contains(shapely.Point(300, 21.7))
    assert poly.bounds[3] == pytest.approx(20 * scale, abs=0.01)
    assert poly.bounds[2] == pytest.approx(680 + 20 * scale, abs=0.01)
    # a walk shorter than the access limit: a disk of the walk's length around the site
    disk = isochrones(net, site, ["s"], None, 1.0, limits_min=[10 / 60], access_max_m=20.0).geometry.iloc[0]
    assert disk.contains(shapely.Point(100, 9.9)) and disk.contains(shapely.Point(109.9, 0))
    assert not disk.contains(shapely.Point(100, 11)) and not disk.contains(shapely.Point(111, 0))


def test_partial_edges_from_both_ends_and_curved_geometry():
    # a curved edge, reached from both of its ends through a second, straight path
    xs, ys = np.array([0.0, 400.0]), np.array([0.0, 0.0])
    curved = shapely.LineString([(0, 0), (200, 300), (400, 0)])
    straight = shapely.LineString([(0, 0), (400, 0)])
    net = network_from_arrays(xs, ys, [0, 0], [1, 1], "EPSG:32648", np.array([curved, straight], dtype=object))
    site = snap_points(net, shapely.points([0.0], [-5.0]), max_m=10)
    L = net.edge_length[0]
    limit_m = 500.0
    iso = isochrones(net, site, ["s"], None, 1.0, limits_min=[limit_m / 60], access_max_m=0.5).geometry.iloc[0]
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
    iso = isochrones(net, site, ["s"], ["k"], 1.0, limits_min=[10, 30], access_max_m=40.0)
    big = iso[iso.limit_min == 30].geometry.iloc[0]
    assert len(big.interiors) == 1 and not big.contains(shapely.Point(300, 300))
    rings = isochrones(net, site, ["s"], ["k"], 1.0, limits_min=[10, 30], access_max_m=40.0, rings=True)
    outer = rings[rings.limit_min == 30].geometry.iloc[0]
    assert not outer.contains(shapely.Point(100, 0)) and outer.contains(shapely.Point(600, 600))
    assert rings["min_from"].tolist() == [0.0, 10.0]
    u = union_by_kind(iso)
    assert len(u) == 2 and set(u["sites"]) == {1}


def _check_invariant(net, pts, site_pts, speed, limits, access_max_m=250.0):
    """Every point the coverage matrix counts within a limit lies inside its site's polygon for
    that limit; a point farther from the polygon than its own access walk is not counted.
    Returns (pairs checked inside, points checked outside)."""
    dem = snap_points(net, pts, access_max_m)
    sites = snap_points(net, site_pts, access_max_m)
    iso = isochrones(net, sites, [f"s{i}" for i in range(len(site_pts))], None, speed, limits_min=limits,
                     access_max_m=access_max_m)
    checked_in = checked_out = 0
    for limit in limits:
        mat = coverage_matrix(net, sites, dem, speed, limit).toarray()
        polys = iso[iso.limit_min == limit].geometry.to_numpy()
        rows = np.flatnonzero(sites.snapped)
        assert len(polys) == len(rows)
        for i, poly in zip(rows, polys):
            within = mat[i] > 0
            inside = shapely.contains(poly, pts)
            assert inside[within].all(), f"{(within & ~inside).sum()} counted points outside site {i}, {limit} min"
            far = (shapely.distance(poly, pts) > dem.access_m + 1e-6) & dem.snapped
            assert not within[far].any()
            checked_in += within.sum()
            checked_out += far.sum()
    return checked_in, checked_out


def _scatter(net, n, spread_m, seed):
    """Points scattered around random locations on the main network, and those locations."""
    rng = np.random.default_rng(seed)
    e = rng.choice(np.flatnonzero(net.main_edge_mask), n)
    base = shapely.line_interpolate_point(net.edge_geometry[e], rng.random(n), normalized=True)
    pts = shapely.points(shapely.get_x(base) + rng.normal(0, spread_m, n),
                         shapely.get_y(base) + rng.normal(0, spread_m, n))
    return pts, base


@pytest.mark.parametrize("name, crs", [("chengdu-jinniu-xindu.osm.bz2", "EPSG:32648"),
                                       ("shenzhen-nanshan.osm.bz2", "EPSG:32649"),
                                       ("shanghai-huangpu-peoples-square.osm.bz2", "EPSG:32651"),
                                       ("helsinki-center.osm.pbf", "EPSG:32635")])
def test_counted_points_lie_inside_on_real_extracts(name, crs):
    net = load_walk_network(OSM / name, crs, report=ProblemReport())
    pts, base = _scatter(net, 1500, 60.0, 3)
    # a short snap limit too: the tail narrows to it well before the limit
    checked_in, checked_out = _check_invariant(net, pts, base[:8], 0.9, [5.0, 15.0], access_max_m=250.0)
    assert checked_in > 300 and checked_out > 300
    checked_in, _ = _check_invariant(net, pts, base[:4], 1.0, [10.0], access_max_m=60.0)
    assert checked_in > 50


def test_counted_homes_lie_inside_on_the_sample(tmp_path):
    """The sample run: every home counted within 15 minutes of a facility is inside that
    facility's 15-minute polygon (before: 477 of 704 lay outside every polygon)."""
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study
    from eldercare_coverage.pipeline import build_network, compute_study_access, sample_config_path

    study = load_study(load_config(sample_config_path()))
    acc = compute_study_access(study, build_network(study))
    limit = study.config.access.time_limit_min
    iso = acc.isochrones[acc.isochrones.limit_min == limit].set_index("site_id")
    pts = acc.demand.geometry.to_numpy()
    mat = acc.facility_matrix.tocsr()
    pairs = 0
    for row, fid in enumerate(acc.facility_ids):
        cols = mat.indices[mat.indptr[row]:mat.indptr[row + 1]]
        if len(cols):
            assert shapely.contains(iso.geometry[fid], pts[cols]).all(), fid
            pairs += len(cols)
    covered = acc.demand["within_limit"].to_numpy()
    assert shapely.contains(shapely.union_all(iso.geometry.to_numpy()), pts[covered]).all()
    assert pairs > 500 and covered.sum() > 500


@pytest.fixture(scope="module")
def chengdu():
    path = OSM / "chengdu-jinniu-xindu.osm.bz2"
    return load_walk_network(path, "EPSG:32648", report=ProblemReport())


def test_isochrone_invariant_against_travel_times(chengdu):
    pts, base = _scatter(chengdu, 600, 25.0, 11)
    checked_in, checked_out = _check_invariant(chengdu, pts, base[:5], 0.9, [10.0])
    assert checked_in > 50 and checked_out > 200


@pytest.mark.parametrize("turn_deg", [30, 50, 60, 100, 120, 150, 170])
def test_points_within_the_radius_of_a_bend_lie_inside(turn_deg):
    """A street bending at a node (the two pieces are joined into one line and buffered with a
    round join, whose segments may span 1.5x those of a cap): every point within the access
    radius of the bend is inside the polygon, and none beyond the widened radius."""
    t = np.radians(turn_deg)
    x = np.array([0.0, 500.0, 500.0 + 500.0 * np.cos(t)])
    y = np.array([0.0, 0.0, 500.0 * np.sin(t)])
    net = network_from_arrays(x, y, np.array([0, 1]), np.array([1, 2]), "EPSG:32648")
    site = snap_points(net, shapely.points([5.0], [1.0]), 50.0)
    r = 100.0
    iso = isochrones(net, site, ["s"], None, 1.0, limits_min=[60.0], access_max_m=r)
    poly = iso.geometry.iloc[0]
    ang = np.linspace(0, 2 * np.pi, 721)
    near = shapely.points(500.0 + 0.999 * r * np.cos(ang), 0.999 * r * np.sin(ang))
    assert shapely.contains(poly, near).all()
    far = shapely.points(500.0 + 1.09 * r * np.cos(ang), 1.09 * r * np.sin(ang))
    street = shapely.LineString(np.c_[x, y])
    assert not shapely.contains(poly, far[shapely.distance(far, street) > 1.085 * r]).any()
