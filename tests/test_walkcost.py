"""Walk costs: steps, wheelchair users and slopes from a DEM (Tobler), directed from home to facility.

The DEM fixtures in tests/data/dem/ are written by tests/data/dem/make_dems.py (synthetic, no
download); a test checks the committed files still match the script.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely

from eldercare_coverage.access import coverage_matrix, nearest_facility, snap_points
from eldercare_coverage.config import config_from_dict, validate_config
from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.isochrones import isochrones
from eldercare_coverage.network import network_from_arrays, without_edges
from eldercare_coverage.walkcost import (STEPS_SPEED_FACTORS, read_dem, slope_costs, steps_mask,
                                         steps_speed_factor, tobler_factor, tobler_speed, walk_costs)

# No skip: the [dem] extra (rasterio) is part of the test extra that scripts/setup.sh --test installs,
# so a missing rasterio must fail here rather than hide every DEM test.
import rasterio  # noqa: E402

DATA = Path(__file__).parent / "data" / "dem"
CRS = "EPSG:32648"
X0, Y0 = 400_000.0, 3_400_000.0  # the fixtures' south-west corner (make_dems.py)
SPEED = 0.9


def _area(pad: float = 50.0):
    return shapely.box(X0 + pad, Y0 + pad, X0 + 600 - pad, Y0 + 600 - pad)


def _dem(name: str, report: ProblemReport | None = None, crs: str = ""):
    return read_dem(DATA / name, _area(), CRS, crs=crs, margin_m=50.0, report=report or ProblemReport())


def _line(xs, y=Y0 + 300.0, highway=None):
    """A straight street along y through the given x positions (one edge between neighbours)."""
    import pandas as pd

    n = len(xs)
    attrs = None if highway is None else pd.DataFrame({"highway": highway})
    return network_from_arrays(np.asarray(xs, float), np.full(n, y), np.arange(n - 1), np.arange(1, n), CRS,
                               edge_attrs=attrs)


def test_tobler_is_scaled_to_the_preset_speed_and_matches_the_formula():
    g = np.array([-0.3, -0.1, -0.05, 0.0, 0.05, 0.08, 0.2])
    for v0 in (0.9, 1.0, 0.76):
        v = tobler_speed(g, v0)
        tobler_kmh = 6.0 * np.exp(-3.5 * np.abs(g + 0.05))
        assert np.allclose(v, v0 * tobler_kmh / (6.0 * math.exp(-3.5 * 0.05)), rtol=1e-12)
        assert tobler_speed(0.0, v0) == v0
    assert tobler_factor(0.0) == 1.0  # exactly: a level piece costs exactly its length
    assert tobler_factor(-0.05) == pytest.approx(math.exp(-0.175))  # the fastest grade


def test_inclined_plane_times_match_tobler_in_both_directions():
    """8 % grade rising eastwards: home→facility uphill one way, downhill the other."""
    dem = _dem("plane_utm.tif")
    net = walk_costs(_line([X0 + 100, X0 + 200, X0 + 300, X0 + 400, X0 + 500]), 1.0, dem)
    up, down = tobler_factor(0.08), tobler_factor(-0.08)
    assert up == pytest.approx(math.exp(3.5 * 0.08)) and down == pytest.approx(math.exp(-3.5 * 0.02))
    assert np.allclose(net.cost_fwd, 100 * up, rtol=1e-9) and np.allclose(net.cost_bwd, 100 * down, rtol=1e-9)
    west = np.array([shapely.Point(X0 + 130, Y0 + 300)])  # on the street: no access walk
    east = np.array([shapely.Point(X0 + 470, Y0 + 300)])
    ws, es = snap_points(net, west), snap_points(net, east)
    _, t_up = nearest_facility(net, ws, es, SPEED)  # home west, facility east: uphill
    _, t_down = nearest_facility(net, es, ws, SPEED)
    assert t_up[0] * 60 == pytest.approx(340 * up / SPEED, rel=1e-9)
    assert t_down[0] * 60 == pytest.approx(340 * down / SPEED, rel=1e-9)
    assert t_up[0] > 340 / SPEED / 60 > t_down[0]
    # the bounded searches (coverage matrix: sites × homes) give the same directed times
    assert coverage_matrix(net, es, ws, SPEED, 60.0)[0, 0] == pytest.approx(t_up[0], rel=1e-12)
    assert coverage_matrix(net, ws, es, SPEED, 60.0)[0, 0] == pytest.approx(t_down[0], rel=1e-12)
    # two points on one edge walk straight along it: 50 m uphill
    a = np.array([shapely.Point(X0 + 220, Y0 + 300)])
    b = np.array([shapely.Point(X0 + 270, Y0 + 300)])
    _, t = nearest_facility(net, snap_points(net, a), snap_points(net, b), SPEED)
    assert t[0] * 60 == pytest.approx(50 * up / SPEED, rel=1e-9)
    # a street along the contour is level: exactly its length both ways
    ns = walk_costs(network_from_arrays(np.array([X0 + 300.0] * 2), np.array([Y0 + 100.0, Y0 + 500.0]),
                                        np.array([0]), np.array([1]), CRS), 1.0, dem)
    assert ns.cost_fwd[0] == ns.edge_length[0] and ns.cost_bwd[0] == ns.edge_length[0]


def test_flat_dem_gives_exactly_todays_network():
    net = _grid()
    cf, cb, missing = slope_costs(net, _dem("flat_utm.tif"))
    assert np.array_equal(cf, net.edge_length) and np.array_equal(cb, net.edge_length) and not missing.any()
    assert walk_costs(net, 1.0, _dem("flat_utm.tif")) is net  # the same object: searched as before


def test_costed_search_with_level_costs_is_bit_identical_to_the_flat_search():
    """The directed code path with costs equal to the lengths reproduces the flat results exactly."""
    net = _grid()
    costed = dataclasses.replace(net, edge_cost_fwd=net.edge_length.copy(), edge_cost_bwd=net.edge_length.copy(),
                                 meta={})
    assert costed.has_costs and not net.has_costs
    homes, facs = _points(80, 1), _points(8, 2)
    out = []
    for n in (net, costed):
        hs, fs = snap_points(n, homes, 60.0), snap_points(n, facs, 60.0)
        idx, t = nearest_facility(n, hs, fs, SPEED)
        mat = coverage_matrix(n, fs, hs, SPEED, 6.0, n_threads=1)
        iso = isochrones(n, fs, np.arange(len(facs)).astype(str), None, SPEED, [3, 6], access_max_m=60.0)
        out.append((idx, t, mat, iso))
    (i0, t0, m0, g0), (i1, t1, m1, g1) = out
    assert np.array_equal(i0, i1) and np.array_equal(t0, t1)
    assert (m0 != m1).nnz == 0 and m0.nnz > 0
    assert all(shapely.equals_exact(a, b, 0.0) for a, b in zip(g0.geometry.values, g1.geometry.values))


# --------------------------------------------------------------------------------------------
# A networkx reference on the hill (DEM in lon/lat, with a nodata hole)


def _grid(n: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    step = 540.0 / (n - 1)
    x = X0 + 30 + ii.ravel() * step + rng.normal(0, 6, ii.size)
    y = Y0 + 30 + jj.ravel() * step + rng.normal(0, 6, jj.size)
    idx = np.arange(n * n).reshape(n, n)
    e = np.vstack([np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1), np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1)])
    e = e[rng.random(len(e)) > 0.12]
    # bent geometries: the DEM is sampled at interior vertices too
    mid = np.stack([(x[e[:, 0]] + x[e[:, 1]]) / 2 + rng.normal(0, 8, len(e)),
                    (y[e[:, 0]] + y[e[:, 1]]) / 2 + rng.normal(0, 8, len(e))], 1)
    geom = shapely.linestrings(np.stack([np.stack([x[e[:, 0]], y[e[:, 0]]], 1), mid,
                                         np.stack([x[e[:, 1]], y[e[:, 1]]], 1)], 1))
    import pandas as pd

    hw = np.where(rng.random(len(e)) < 0.1, "steps", "footway")
    return network_from_arrays(x, y, e[:, 0], e[:, 1], CRS, edge_geometry=geom,
                               edge_attrs=pd.DataFrame({"highway": hw}))


def _points(n: int, seed: int):
    rng = np.random.default_rng(seed)
    return shapely.points(rng.uniform(X0 + 40, X0 + 560, n), rng.uniform(Y0 + 40, Y0 + 560, n))


def _reference(net, hs, fs):
    """Directed graph of real walks (home → facility) with the model's costs: edges both ways,
    each point joined to its edge's ends with the cost spread evenly along the edge."""
    G = nx.MultiDiGraph()
    L, cf, cb = net.edge_length, net.cost_fwd, net.cost_bwd
    for e, (a, b) in enumerate(zip(net.edge_u.tolist(), net.edge_v.tolist())):
        G.add_edge(a, b, w=float(cf[e]))
        G.add_edge(b, a, w=float(cb[e]))

    def rate(e):
        return (cf[e] / L[e], cb[e] / L[e]) if L[e] > 0 else (1.0, 1.0)

    for i in np.flatnonzero(hs.edge >= 0):
        e, q = hs.edge[i], hs.pos[i]
        f, b = rate(e)
        G.add_edge(("h", i), int(net.edge_u[e]), w=hs.access_m[i] + b * q)
        G.add_edge(("h", i), int(net.edge_v[e]), w=hs.access_m[i] + f * (L[e] - q))
        for j in np.flatnonzero(fs.edge == e):  # same edge: straight along it
            p = fs.pos[j]
            G.add_edge(("h", i), ("f", j), w=hs.access_m[i] + fs.access_m[j] + (f * (p - q) if p >= q else b * (q - p)))
    for j in np.flatnonzero(fs.edge >= 0):
        e, p = fs.edge[j], fs.pos[j]
        f, b = rate(e)
        G.add_edge(int(net.edge_u[e]), ("f", j), w=f * p + fs.access_m[j])
        G.add_edge(int(net.edge_v[e]), ("f", j), w=b * (L[e] - p) + fs.access_m[j])
    return G


@pytest.fixture(scope="module")
def hill_case():
    report = ProblemReport()
    net = walk_costs(_grid(), 0.5, _dem("hill_lonlat.tif"), report)
    homes, facs = _points(120, 3), _points(10, 4)
    hs, fs = snap_points(net, homes, 60.0), snap_points(net, facs, 60.0)
    return net, homes, facs, hs, fs, report


def test_hill_costs_are_directed_and_the_nodata_hole_is_reported(hill_case):
    net, *_, report = hill_case
    rel = (net.cost_fwd - net.cost_bwd) / net.edge_length
    assert net.has_costs and np.abs(rel).max() > 0.05  # up and down the hill differ
    assert (net.cost_fwd / net.edge_length).min() < 1.0  # gentle downhill: faster than the flat
    hole = [w for w in report.warnings if "nodata" in w.message]
    assert len(hole) == 1 and "flat speed" in hole[0].message and "hill_lonlat.tif" in str(hole[0].file)


def test_directed_times_match_a_networkx_reference(hill_case):
    net, homes, facs, hs, fs, _ = hill_case
    G = _reference(net, hs, fs)
    idx, t = nearest_facility(net, hs, fs, SPEED)
    limit_min = 6.0
    mat = coverage_matrix(net, fs, hs, SPEED, limit_min, n_threads=1).toarray()
    checked = 0
    for i in range(len(homes)):
        if hs.edge[i] < 0:
            assert idx[i] == -1
            continue
        d = nx.single_source_dijkstra_path_length(G, ("h", i), weight="w")
        fac = {j: c for (k, j), c in ((n, c) for n, c in d.items() if isinstance(n, tuple)) if k == "f"}
        best = min(fac.values())
        assert t[i] * 60 * SPEED == pytest.approx(best, rel=1e-9, abs=1e-6)
        assert fac[idx[i]] == pytest.approx(best, rel=1e-9, abs=1e-6)
        for j in range(len(facs)):
            ref = fac.get(j, math.inf) / SPEED / 60
            if ref <= limit_min - 1e-9:
                assert mat[j, i] == pytest.approx(max(ref, 1e-6), rel=1e-9, abs=1e-9)
                checked += 1
            elif ref > limit_min + 1e-9:
                assert mat[j, i] == 0
    assert checked > 50 and 0 < (mat > 0).sum() < mat.size


def test_every_home_counted_lies_inside_its_facilitys_directed_isochrone(hill_case):
    net, homes, facs, hs, fs, _ = hill_case
    limits = [3.0, 6.0]
    iso = isochrones(net, fs, np.arange(len(facs)).astype(str), None, SPEED, limits, access_max_m=60.0)
    for lim in limits:
        mat = coverage_matrix(net, fs, hs, SPEED, lim, n_threads=1).tocoo()
        poly = iso[iso["limit_min"] == lim].set_index("site_id").geometry
        inside = shapely.contains(poly.loc[mat.row.astype(str)].values, homes[mat.col])
        assert inside.all(), f"{(~inside).sum()} homes counted within {lim} min lie outside the isochrone"
        assert 0 < mat.nnz < len(homes) * len(facs)


# --------------------------------------------------------------------------------------------
# Steps and wheelchair users


def test_steps_factor_and_avoiding_steps():
    """A—B is a street (100 m), B—C steps (20 m); a ramp B—D—C (2 × 40 m) goes round them."""
    import pandas as pd

    x = np.array([0.0, 100.0, 120.0, 110.0]) + X0
    y = np.array([0.0, 0.0, 0.0, 30.0]) + Y0
    u, v = np.array([0, 1, 1, 3]), np.array([1, 2, 3, 2])
    ramp = float(np.hypot(10, 30) * 2)
    attrs = pd.DataFrame({"highway": ["residential", "steps", "footway", "elevator"]})
    net = network_from_arrays(x, y, u, v, CRS, edge_attrs=attrs)
    home = np.array([shapely.Point(X0, Y0)])
    fac = np.array([shapely.Point(X0 + 120, Y0)])
    assert steps_mask(net).tolist() == [False, True, False, False]

    def time_s(n):
        _, t = nearest_facility(n, snap_points(n, home), snap_points(n, fac), 1.0)
        return t[0] * 60

    assert time_s(net) == pytest.approx(120.0)
    assert time_s(walk_costs(net, 0.5)) == pytest.approx(100 + 20 / 0.5)  # steps at half speed, both ways
    assert time_s(walk_costs(net, 0.2)) == pytest.approx(100 + ramp)  # slower than the ramp: the ramp wins
    wheel = without_edges(net, steps_mask(net))
    assert wheel.n_edges == 3 and "elevator" in set(wheel.edge_attrs["highway"])  # elevators stay
    assert time_s(wheel) == pytest.approx(100 + ramp)
    assert walk_costs(net, 1.0) is net  # factor 1: nothing changes


def test_steps_factor_defaults_per_preset_and_config_validation():
    assert steps_speed_factor("frail") == 0.5 == STEPS_SPEED_FACTORS["frail"]
    assert steps_speed_factor("older") == 0.6 and steps_speed_factor("general") == 0.7
    assert steps_speed_factor(0.85) == 0.6 and steps_speed_factor("frail", 0.4) == 0.4
    for bad in (0.0, 1.5, "fast"):
        cfg = config_from_dict({"inputs": {"communities": {"path": "c.geojson"}}, "access": {"steps_speed_factor": bad}})
        report = ProblemReport()
        validate_config(cfg, report)
        assert any(p.field == "access.steps_speed_factor" for p in report.errors), bad
    cfg = config_from_dict({"access": {"avoid_steps": True, "steps_speed_factor": 0.5},
                            "inputs": {"dem": {"path": "missing.tif", "crs": "EPSG:4326"}}})
    report = ProblemReport()
    validate_config(cfg, report)
    assert cfg.access.avoid_steps and any(p.field == "inputs.dem.path" for p in report.errors)


# --------------------------------------------------------------------------------------------
# Bad DEMs


def test_dem_errors_name_the_file_and_the_fix(tmp_path):
    # not covering the study area
    report = ProblemReport()
    far = shapely.box(X0 + 5000, Y0, X0 + 5600, Y0 + 600)
    assert read_dem(DATA / "plane_utm.tif", far, CRS, report=report) is None
    assert "does not overlap the study area" in report.errors[0].message and report.errors[0].field == "inputs.dem.path"
    # partly covering
    report = ProblemReport()
    assert read_dem(DATA / "plane_utm.tif", shapely.box(X0 + 300, Y0, X0 + 900, Y0 + 600), CRS, report=report) is None
    assert "covers only 50%" in report.errors[0].message
    # a wrong CRS override: the UTM metres read as degrees land nowhere near the study
    report = ProblemReport()
    assert _dem("plane_utm.tif", report, crs="EPSG:4326") is None
    assert "[inputs.dem] crs" in report.errors[0].fix
    # no CRS at all
    from affine import Affine

    def from_origin(west, north, xsize, ysize):  # rasterio's, without its deprecated '*'
        return Affine(xsize, 0.0, west, 0.0, -ysize, north)

    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       transform=from_origin(X0, Y0 + 600, 150, 150)) as dst:
        dst.write(np.full((1, 4, 4), 10, np.float32))
    report = ProblemReport()
    assert read_dem(bare, _area(), CRS, report=report) is None
    assert "declares no coordinate system" in report.errors[0].message
    assert read_dem(bare, _area(), CRS, crs="EPSG:32648", report=ProblemReport()) is not None  # the override fixes it
    # not elevations in metres
    odd = tmp_path / "odd.tif"
    with rasterio.open(odd, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs=CRS,
                       transform=from_origin(X0, Y0 + 600, 150, 150)) as dst:
        dst.write(np.full((1, 4, 4), 25_000, np.float32))
    report = ProblemReport()
    assert read_dem(odd, _area(), CRS, report=report) is None
    assert "not elevations in metres" in report.errors[0].message
    # SRTM-style voids in a file that declares no nodata value: the fix says how to declare it
    voids = tmp_path / "voids.tif"
    z = np.full((1, 4, 4), 320, np.float32)
    z[0, 1, 2] = -32768
    with rasterio.open(voids, "w", driver="GTiff", width=4, height=4, count=1, dtype="float32", crs=CRS,
                       transform=from_origin(X0, Y0 + 600, 150, 150)) as dst:
        dst.write(z)
    report = ProblemReport()
    assert read_dem(voids, _area(), CRS, report=report) is None
    assert "gdal_translate -a_nodata -32768" in report.errors[0].fix
    # not a raster
    junk = tmp_path / "junk.tif"
    junk.write_text("not a tiff")
    report = ProblemReport()
    assert read_dem(junk, _area(), CRS, report=report) is None and "cannot read the DEM" in report.errors[0].message


def test_committed_fixtures_match_their_script(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_dems", DATA / "make_dems.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for fresh in mod.make(tmp_path):
        with rasterio.open(fresh) as a, rasterio.open(DATA / fresh.name) as b:
            assert a.crs == b.crs and a.transform == b.transform
            assert np.array_equal(a.read(1), b.read(1))


def test_isochrone_reaches_as_far_as_a_downhill_walk_does():
    """Homes up an 8 % slope walk down to a facility at the foot at 1/0.932 of the flat pace, so
    they are reached farther out than on the flat; the polygon must reach them (the widened core)."""
    net = walk_costs(_line([X0 + 10, X0 + 150, X0 + 300, X0 + 450, X0 + 590]), 1.0, _dem("plane_utm.tif"))
    fs = snap_points(net, np.array([shapely.Point(X0 + 10, Y0 + 300)]))
    homes = shapely.points(X0 + 10 + np.arange(300.0, 580.0, 5.0), np.full(56, Y0 + 300))
    hs = snap_points(net, homes)
    mat = coverage_matrix(net, fs, hs, SPEED, 10.0, n_threads=1)
    reach = 10 * 60 * SPEED / tobler_factor(-0.08)  # 579.5 m along the street
    assert mat.nnz == int((np.arange(300.0, 580.0, 5.0) <= reach).sum()) > 50
    iso = isochrones(net, fs, ["f"], None, SPEED, [10.0], access_max_m=250.0, quad_segs=8)
    assert shapely.contains(iso.geometry.values[0], homes[mat.tocoo().col]).all()


# --------------------------------------------------------------------------------------------
# Through compute_access and the pipeline


def _study_on_the_plane(highway=("residential",) * 4):
    import geopandas as gpd

    net = _line([X0 + 50, X0 + 200, X0 + 350, X0 + 500, X0 + 550], highway=list(highway))
    comm = gpd.GeoDataFrame({"community_id": ["a"], "district": ["D"], "population": [100.0]},
                            geometry=[shapely.box(X0 + 490, Y0 + 301, X0 + 510, Y0 + 321)], crs=CRS)
    fac = gpd.GeoDataFrame({"facility_id": ["f"], "kind": ["service_station"]},
                           geometry=shapely.points([X0 + 50.0], [Y0 + 300.0]), crs=CRS)
    return net, comm, fac


def test_compute_access_walks_downhill_home_to_facility_and_records_the_model():
    from eldercare_coverage.access import compute_access
    from eldercare_coverage.config import AccessSection

    net, comm, fac = _study_on_the_plane()
    dem = _dem("plane_utm.tif")
    flat = compute_access(comm, fac, None, net, AccessSection())
    res = compute_access(comm, fac, None, net, AccessSection(), dem=dem)
    d = res.demand
    # one representative point at x = X0 + 500, 11 m off the street, 450 m downhill (west) of the facility
    assert d["access_m"].iloc[0] == pytest.approx(11.0)
    want = (11.0 + 450.0 * tobler_factor(-0.08)) / 0.9 / 60.0
    assert d["time_min"].iloc[0] == pytest.approx(want, rel=1e-9)
    assert want < flat.demand["time_min"].iloc[0] == pytest.approx((11.0 + 450.0) / 0.9 / 60.0)
    assert res.facility_matrix[0, 0] == pytest.approx(want, rel=1e-9)
    assert res.params["dem"].endswith("plane_utm.tif") and res.params["slope_model"].startswith("tobler")
    assert flat.params["dem"] == "" and flat.params["steps_speed_factor"] == 0.6


def test_compute_access_steps_factor_and_avoid_steps():
    from eldercare_coverage.access import compute_access
    from eldercare_coverage.config import AccessSection

    net, comm, fac = _study_on_the_plane(("residential", "steps", "residential", "residential"))
    base = (11.0 + 450.0) / 0.9 / 60.0
    res = compute_access(comm, fac, None, net, AccessSection(walk_speed="frail"))
    assert res.params["steps_speed_factor"] == 0.5
    assert res.demand["time_min"].iloc[0] == pytest.approx((11.0 + 300.0 + 150.0 / 0.5) / 0.76 / 60.0)
    res = compute_access(comm, fac, None, net, AccessSection(steps_speed_factor=1.0))
    assert res.demand["time_min"].iloc[0] == pytest.approx(base)
    # wheelchair: the steps are the only way, so the facility is unreachable (and not silently so)
    report = ProblemReport()
    res = compute_access(comm, fac, None, net, AccessSection(avoid_steps=True), report=report)
    assert res.params["avoid_steps"] and res.params["steps_speed_factor"] is None
    assert not res.demand["within_limit"].iloc[0] and np.isinf(res.demand["time_min"].iloc[0])


def test_validate_reports_a_dem_in_the_wrong_crs(tmp_path):
    import shutil

    from eldercare_coverage import pipeline

    src = pipeline.sample_config_path().parent
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, tmp_path / f.name)
    shutil.copy(DATA / "plane_utm.tif", tmp_path / "dem.tif")
    cfg = (tmp_path / "sample.toml").read_text(encoding="utf-8")
    (tmp_path / "sample.toml").write_text(cfg + '\n[inputs.dem]\npath = "dem.tif"\ncrs = "EPSG:3857"\n',
                                          encoding="utf-8")
    study = pipeline.validate(tmp_path / "sample.toml")
    errs = [p for p in study.report.errors if p.field == "inputs.dem.path"]
    assert len(errs) == 1 and "does not overlap the study area" in errs[0].message
    assert str(errs[0].file).endswith("dem.tif")


def test_street_network_is_what_a_run_without_gates_searches():
    """pipeline.gate_effect's 'without gates' figure runs on street_network: the same steps,
    wheelchair and slope costs as a gated_compounds = "off" run."""
    from eldercare_coverage.access import compute_access, street_network
    from eldercare_coverage.config import AccessSection

    net, comm, fac = _study_on_the_plane(("residential", "steps", "residential", "residential"))
    dem = _dem("plane_utm.tif")
    for cfg in (AccessSection(gated_compounds="off", walk_speed="frail"),
                AccessSection(gated_compounds="off", avoid_steps=True, steps_speed_factor=0.3)):
        res = compute_access(comm, fac, None, net, cfg, dem=dem)
        plain = street_network(net, steps_factor=steps_speed_factor(cfg.walk_speed, cfg.steps_speed_factor),
                               avoid_steps=cfg.avoid_steps, dem=res.dem)
        _, t = nearest_facility(plain, snap_points(plain, res.demand.geometry.values),
                                snap_points(plain, fac.geometry.values), res.params["walk_speed_mps"])
        assert np.array_equal(t, res.demand["time_min"].to_numpy())
    assert np.isfinite(t).sum() == 0 and res.dem is dem  # the steps were the only way


def test_gated_compounds_on_a_slope():
    """Gate links and compound walks get slope costs too; the zero-length anchor links of gated
    homes stay free (GEOS cannot segmentize them). Found by running the sample with a DEM."""
    import geopandas as gpd

    from eldercare_coverage.access import snap_through_gates

    xs = np.array([100.0, 300.0, 300.0, 300.0, 100.0]) + X0  # a ring road with a node where the gate opens
    ys = np.array([100.0, 100.0, 300.0, 500.0, 500.0]) + Y0
    net = network_from_arrays(xs, ys, np.array([0, 1, 2, 3, 4]), np.array([1, 2, 3, 4, 0]), CRS)
    comp = gpd.GeoDataFrame({"community_id": ["A"]}, geometry=[shapely.box(X0 + 150, Y0 + 150, X0 + 250, Y0 + 450)],
                            crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": ["east"]}, geometry=[shapely.Point(X0 + 250, Y0 + 300)], crs=CRS)
    home, fac = np.array([shapely.Point(X0 + 160, Y0 + 300)]), np.array([shapely.Point(X0 + 300, Y0 + 250)])
    gnet, (hs, fs), _ = snap_through_gates(net, comp, gates, [snap_points(net, home), snap_points(net, fac)],
                                           [home, fac], [False, True])
    dnet = walk_costs(gnet, 1.0, _dem("plane_utm.tif"))
    zero = dnet.edge_length == 0
    assert zero.any() and (dnet.cost_fwd[zero] == 0).all() and (dnet.cost_bwd[zero] == 0).all()
    # the home walks east, uphill, 90 m to the gate and 50 m to the road, then 50 m south along
    # the contour (level) to the facility
    _, t = nearest_facility(dnet, hs, fs, SPEED)
    assert t[0] * 60 * SPEED == pytest.approx(140.0 * tobler_factor(0.08) + 50.0, rel=1e-6)  # float32 elevations
    assert coverage_matrix(dnet, fs, hs, SPEED, 30.0)[0, 0] == pytest.approx(t[0], rel=1e-12)
