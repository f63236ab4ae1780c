"""Access engine against networkx on random graphs and the real OSM extracts.

The reference inserts every snapped point into its edge as a node of networkx graph (the edge is
split into a chain at the points' positions) with a separate access edge, and runs networkx
Dijkstra. That covers partial edges, access offsets, two points on one edge and zero lengths
independently of the engine's seeding/offset logic.
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.spatial import Delaunay

from eldercare_coverage.access import (TIME_FLOOR_MIN, Snapped, compute_access, coverage_matrix, nearest_facility,
                             snap_points, write_access_outputs)
from eldercare_coverage.config import AccessSection
from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.network import load_walk_network, network_from_arrays

SPEED = 0.9


#: Real OSM extracts copied into the repository (attribution in tests/data/osm/README.md).
OSM = Path(__file__).resolve().parent / "data" / "osm"


# ---------------------------------------------------------------------------------------------
# reference


def reference_graph(net, snaps: dict[str, Snapped]) -> nx.MultiGraph:
    """networkx graph with every snapped point inserted into its edge (node ("P", tag, i)) and
    its own access edge to ("X", tag, i)."""
    on_edge: dict[int, list[tuple[float, tuple]]] = {}
    G = nx.MultiGraph()
    for tag, s in snaps.items():
        for i in np.flatnonzero(s.edge >= 0):
            on_edge.setdefault(int(s.edge[i]), []).append((float(s.pos[i]), ("P", tag, int(i))))
            G.add_edge(("X", tag, int(i)), ("P", tag, int(i)), length=float(s.access_m[i]))
    for e in range(net.n_edges):
        u, v, L = int(net.edge_u[e]), int(net.edge_v[e]), float(net.edge_length[e])
        pts = sorted(on_edge.get(e, []), key=lambda t: t[0])
        chain = [(0.0, u)] + pts + [(L, v)]
        for (p0, a), (p1, b) in zip(chain[:-1], chain[1:]):
            G.add_edge(a, b, length=p1 - p0)
    return G


def random_network(seed: int, n: int = 300):
    """Random planar street network with dead ends, parallel and zero-length edges, a curved
    edge, and a disconnected cluster."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 3000, size=(n, 2))
    tri = Delaunay(xy)
    e = np.concatenate([tri.simplices[:, [0, 1]], tri.simplices[:, [1, 2]], tri.simplices[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    e = e[rng.random(len(e)) < 0.55]
    # zero-length edges: duplicate 10 nodes at the same place and link them
    dup = rng.choice(n, 10, replace=False)
    xy = np.vstack([xy, xy[dup]])
    extra = np.stack([dup, np.arange(n, n + 10)], axis=1)
    # a far, disconnected cluster (a fragment)
    frag = np.array([[9000, 9000], [9100, 9000], [9100, 9100]])
    f0 = len(xy)
    xy = np.vstack([xy, frag])
    fe = np.array([[f0, f0 + 1], [f0 + 1, f0 + 2]])
    # parallel edge with a curved (longer) geometry
    a, b = e[0]
    edges = np.vstack([e, extra, fe, [[a, b]]])
    geoms = shapely.linestrings(np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1))
    mid = (xy[a] + xy[b]) / 2 + np.array([120.0, -80.0])
    geoms[-1] = shapely.LineString([xy[a], mid, xy[b]])
    return network_from_arrays(xy[:, 0], xy[:, 1], edges[:, 0], edges[:, 1], "EPSG:32648", geoms)


def random_points(rng, net, n, spread=40.0):
    """Points near random locations on random edges (so most snap)."""
    e = rng.integers(0, net.n_edges, n)
    frac = rng.random(n)
    base = shapely.line_interpolate_point(net.edge_geometry[e], frac, normalized=True)
    return shapely.points(shapely.get_x(base) + rng.normal(0, spread, n),
                          shapely.get_y(base) + rng.normal(0, spread, n))


def ref_times(G, src_tag, src_snap, dst_tag, dst_snap):
    """Dense (n_src, n_dst) networkx walk distances (m); inf when unreachable/unsnapped."""
    out = np.full((len(src_snap), len(dst_snap)), np.inf)
    for i in np.flatnonzero(src_snap.edge >= 0):
        d = nx.single_source_dijkstra_path_length(G, ("X", src_tag, int(i)), weight="length")
        for j in np.flatnonzero(dst_snap.edge >= 0):
            out[i, j] = d.get(("X", dst_tag, int(j)), np.inf)
    return out


def check_against_reference(net, dem, fac, limit_min=15.0, speed=SPEED):
    G = reference_graph(net, {"d": dem, "f": fac})
    ref = ref_times(G, "f", fac, "d", dem) / speed / 60.0  # minutes
    # nearest facility: one multi-source search
    idx, t = nearest_facility(net, dem, fac, speed)
    best = ref.min(axis=0) if len(fac) else np.full(len(dem), np.inf)
    assert np.allclose(t, best, rtol=1e-9, atol=1e-9, equal_nan=False) or np.array_equal(t, best)
    fin = np.isfinite(best)
    assert np.all(idx[~fin] == -1)
    assert np.allclose(ref[idx[fin], np.flatnonzero(fin)], best[fin], rtol=1e-9, atol=1e-9)
    # bounded with a limit
    idx_l, t_l = nearest_facility(net, dem, fac, speed, limit_min=limit_min)
    inside = best <= limit_min
    assert np.allclose(t_l[inside], best[inside])
    assert np.all(np.isinf(t_l[~inside])) and np.all(idx_l[~inside] == -1)
    # coverage matrix: exactly the pairs within the limit, with their times
    mat = coverage_matrix(net, fac, dem, speed, limit_min, batch_size=3)
    dense = mat.toarray()
    want = ref <= limit_min
    borderline = np.abs(ref - limit_min) < 1e-9
    got = dense > 0
    assert np.array_equal(got | borderline, want | borderline)
    assert np.allclose(dense[want & ~borderline], np.maximum(ref[want & ~borderline], TIME_FLOOR_MIN),
                       rtol=1e-9, atol=1e-9)
    return ref, mat


# ---------------------------------------------------------------------------------------------
# random graphs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_graphs_match_networkx(seed):
    net = random_network(seed)
    rng = np.random.default_rng(100 + seed)
    dem = snap_points(net, random_points(rng, net, 150), max_m=120)
    fpts = random_points(rng, net, 12)
    fac = snap_points(net, fpts, max_m=120)
    # same-edge pairs and a point exactly on a facility's location
    assert (dem.edge >= 0).sum() > 100 and (fac.edge >= 0).sum() >= 8
    ref, mat = check_against_reference(net, dem, fac, limit_min=20.0)
    assert mat.nnz > 50  # the limit actually selects a good part of the pairs


def test_disconnected_fragment_points_are_flagged_not_dropped():
    net = random_network(3)
    far = net.fragments[(net.fragments["x"] >= 9000) & (net.fragments["y"] >= 9000)]
    assert len(far) == 1 and int(far["nodes"].iloc[0]) == 3 and far["length_m"].iloc[0] == pytest.approx(200)
    pts = shapely.points([9050, 9050, 50000], [9010, 9500, 50000])
    s = snap_points(net, pts, max_m=250)
    assert s.fragment_only.tolist() == [True, False, False]
    assert s.off_network.tolist() == [False, True, True]
    assert (s.edge == -1).all()
    fac = snap_points(net, shapely.points([1500], [1500]), max_m=2000)
    idx, t = nearest_facility(net, s, fac, SPEED)
    assert idx.tolist() == [-1, -1, -1] and np.isinf(t).all()


def line_network(length=1000.0):
    return network_from_arrays(np.array([0.0, length]), np.array([0.0, 0.0]), [0], [1], "EPSG:32648")


def test_facility_on_same_edge_walks_directly():
    net = line_network(1000.0)
    # demand at 200 m, 30 m off the street; facility at 100 m, 10 m off
    dem = snap_points(net, shapely.points([200.0], [30.0]))
    fac = snap_points(net, shapely.points([100.0], [-10.0]))
    assert dem.pos[0] == pytest.approx(200.0) and dem.access_m[0] == pytest.approx(30.0)
    idx, t = nearest_facility(net, dem, fac, 1.0)
    assert idx[0] == 0
    assert t[0] * 60 == pytest.approx(10 + 100 + 30)  # not via the ends (would be 10+100+200+30)
    mat = coverage_matrix(net, fac, dem, 1.0, limit_min=140 / 60 + 1e-9)
    assert mat[0, 0] * 60 == pytest.approx(140.0)
    assert coverage_matrix(net, fac, dem, 1.0, limit_min=139 / 60).nnz == 0


def test_zero_time_pairs_are_kept():
    net = line_network(500.0)
    pts = shapely.points([100.0, 300.0], [0.0, 0.0])
    dem = snap_points(net, pts)
    fac = snap_points(net, pts[:1])
    mat = coverage_matrix(net, fac, dem, SPEED, 15)
    assert mat.nnz == 2
    assert mat[0, 0] == TIME_FLOOR_MIN
    mat.eliminate_zeros()
    assert mat.nnz == 2


def test_zero_length_edge_connects():
    # a-b (100 m), b-c zero length (two nodes at one place), c-d (100 m)
    x = np.array([0.0, 100.0, 100.0, 200.0])
    net = network_from_arrays(x, np.zeros(4), [0, 1, 2], [1, 2, 3], "EPSG:32648")
    assert net.edge_length[1] == 0 and net.adj.nnz == 6  # explicit zero entries kept
    dem = snap_points(net, shapely.points([190.0], [0.0]))
    fac = snap_points(net, shapely.points([10.0], [0.0]))
    _, t = nearest_facility(net, dem, fac, 1.0)
    assert t[0] * 60 == pytest.approx(180.0)


def test_off_network_threshold():
    net = line_network(1000.0)
    s = snap_points(net, shapely.points([500.0, 500.0], [249.0, 251.0]), max_m=250.0)
    assert s.edge.tolist() == [0, -1] and s.off_network.tolist() == [False, True]
    assert s.access_m[0] == pytest.approx(249.0)


# ---------------------------------------------------------------------------------------------
# real extracts


def _area_from_bounds(lon0, lat0, lon1, lat1, crs):
    import pyproj
    tf = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    x0, y0 = tf.transform(lon0, lat0)
    x1, y1 = tf.transform(lon1, lat1)
    return shapely.box(x0, y0, x1, y1)


REAL = {
    "chengdu": ("chengdu-jinniu-xindu.osm.bz2", "EPSG:32648", None),
    "shenzhen": ("shenzhen-nanshan.osm.bz2", "EPSG:32649", (113.9240, 22.5405, 113.9681, 22.5595)),
    "shanghai": ("shanghai-huangpu-peoples-square.osm.bz2", "EPSG:32651", None),
    "helsinki": ("helsinki-center.osm.pbf", "EPSG:32635", None),
}


@pytest.fixture(scope="module", params=sorted(REAL))
def real_net(request):
    fname, crs, bounds = REAL[request.param]
    area = _area_from_bounds(*bounds, crs) if bounds else None
    return load_walk_network(OSM / fname, crs, area=area, margin_m=300.0, report=ProblemReport())


def test_real_extracts_match_networkx(real_net):
    net = real_net
    assert net.n_edges > 500
    rng = np.random.default_rng(7)
    dem = snap_points(net, random_points(rng, net, 120, spread=30), max_m=250)
    fac = snap_points(net, random_points(rng, net, 6, spread=30), max_m=250)
    ref, mat = check_against_reference(net, dem, fac, limit_min=10.0)
    assert mat.nnz > 0


# ---------------------------------------------------------------------------------------------
# compute_access on the embedded sample area


@pytest.fixture(scope="module")
def chengdu_study():
    import osmnx as ox
    path = OSM / "chengdu-jinniu-xindu.osm.bz2"
    lu = ox.features_from_xml(path, tags={"landuse": "residential"})
    lu = lu[lu.geometry.geom_type.isin(["Polygon", "MultiPolygon"])].to_crs(32648).reset_index(drop=True)
    n = len(lu)
    comm = gpd.GeoDataFrame({
        "community_id": [f"c{i}" for i in range(n)], "name": "", "district": np.where(np.arange(n) % 2, "A", "B"),
        "street": "", "population": np.linspace(1000, 5000, n), "households": np.nan,
        "elderly_population": np.linspace(100, 500, n), "estate_type": ""}, geometry=lu.geometry.values, crs=32648)
    net = load_walk_network(path, "EPSG:32648", report=ProblemReport())
    rng = np.random.default_rng(5)
    fp = random_points(rng, net, 10, spread=20)
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i}" for i in range(10)],
                            "kind": ["day_care_centre", "service_station"] * 5}, geometry=fp, crs=32648)
    cp = random_points(rng, net, 40, spread=20)
    cand = gpd.GeoDataFrame({"candidate_id": [f"k{i}" for i in range(40)], "kind": ""}, geometry=cp, crs=32648)
    report = ProblemReport()
    res = compute_access(comm, fac, cand, net, AccessSection(), report=report)
    return comm, fac, cand, net, res, report


def test_compute_access_tables_are_consistent(chengdu_study):
    comm, fac, cand, net, res, report = chengdu_study
    d = res.demand
    assert res.params["walk_speed_mps"] == 0.9 and res.params["limit_m"] == pytest.approx(810.0)
    assert res.facility_matrix.shape == (len(fac), len(d)) and res.candidate_matrix.shape == (len(cand), len(d))
    # nearest time equals the column minimum of the facility matrix where within the limit
    covered = np.asarray((res.facility_matrix > 0).sum(axis=0)).ravel() > 0
    assert np.array_equal(covered, d["within_limit"].to_numpy())
    m = res.facility_matrix.tocsc()
    for j in np.flatnonzero(covered)[:200]:
        col = m[:, j].data
        assert d["time_min"].iloc[j] == pytest.approx(max(col.min(), 0.0), abs=1e-6)
    # per-kind nearest never beats the overall nearest
    for kind in ("day_care_centre", "service_station"):
        assert (d[f"time_min_{kind}"] >= d["time_min"] - 1e-12).all()
    # community table recomputed by hand
    c = res.communities.set_index("community_id")
    assert list(res.communities.columns[:8]) == ["community_id", "residents_within", "elderly_within",
                                                 "households_within", "share_residents_within",
                                                 "share_elderly_within", "share_households_within",
                                                 "median_time_min"]
    for cid, grp in d.groupby("community_id"):
        w = grp.loc[grp["within_limit"], "population"].sum()
        assert c.loc[cid, "residents_within"] == pytest.approx(w)
        tot = comm.set_index("community_id").loc[cid, "population"]
        assert c.loc[cid, "share_residents_within"] == pytest.approx(w / tot)
        assert math.isnan(c.loc[cid, "households_within"])
        assert c.loc[cid, "demand_points"] == len(grp)
    # districts add up the communities
    dist = res.districts.set_index("district")
    comm_d = comm.set_index("community_id")["district"]
    by_d = c.groupby(comm_d.reindex(c.index).to_numpy())["elderly_within"].sum()
    for k, v in by_d.items():
        assert dist.loc[k, "elderly_within"] == pytest.approx(v)
    # points off the main network are listed, not dropped, and reported
    n_off = int((~d["snapped"]).sum())
    assert (res.unreachable["layer"] == "demand_points").sum() == n_off
    assert res.communities["off_network_points"].sum() == n_off
    if n_off:
        assert any("demand_points" in p.file for p in report.warnings)


def test_write_access_outputs(chengdu_study, tmp_path):
    import pyogrio
    import pandas as pd
    *_, res, _ = chengdu_study
    gpkg, csv = tmp_path / "access.gpkg", tmp_path / "communities.csv"
    write_access_outputs(res, gpkg, csv)
    layers = {name for name, _ in pyogrio.list_layers(gpkg)}
    assert layers == {"demand_points", "isochrones", "network_edges"}
    back = gpd.read_file(gpkg, layer="demand_points")
    assert len(back) == len(res.demand) and "time_min" in back and "walk_speed_mps" in back
    assert csv.read_bytes()[:3] == b"\xef\xbb\xbf"
    table = pd.read_csv(csv, encoding="utf-8-sig")
    assert len(table) == len(res.communities)


@pytest.mark.parametrize("preset,speed", [("older", 0.9), ("general", 1.0), ("frail", 0.76), (1.2, 1.2)])
def test_walk_speed_presets_and_no_sites(preset, speed):
    net = network_from_arrays(np.array([0.0, 2000.0]), np.zeros(2), [0], [1], "EPSG:32648")
    comm = gpd.GeoDataFrame({"community_id": ["a"], "district": ["D"], "population": [100.0]},
                            geometry=[shapely.box(90, 1, 110, 21)], crs="EPSG:32648")
    fac = gpd.GeoDataFrame({"facility_id": ["f"], "kind": ["service_station"]},
                           geometry=shapely.points([1000.0], [0.0]), crs="EPSG:32648")
    res = compute_access(comm, fac, None, net, AccessSection(walk_speed=preset))
    d = res.demand
    assert res.params["walk_speed_mps"] == speed and res.candidate_matrix.shape == (0, len(d))
    # the community is too small for the 50 m grid: one representative point at x=100, 11 m
    # off the street, 900 m along it from the facility
    assert d["method"].tolist() == ["centroid"] and d["access_m"].iloc[0] == pytest.approx(11.0)
    want = (900.0 + d["access_m"]) / speed / 60.0
    assert np.allclose(d["time_min"], want)
    assert d["within_limit"].tolist() == (want <= 15.0).tolist()
    assert res.communities["share_residents_within"].iloc[0] == pytest.approx((want <= 15).mean())
