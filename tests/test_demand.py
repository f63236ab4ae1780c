"""Demand points: methods, exact per-community sums, NaN totals."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from eldercare_coverage.demand import DEMAND_COLUMNS, demand_points


def communities(populations=(12345.678, 7.0, 999.0), households=(4000.0, np.nan, 300.0),
                elderly=(2222.2, 1.0, np.nan)):
    geoms = [shapely.box(0, 0, 1000, 600),                     # big: grid
             shapely.box(2000, 0, 2020, 20),                    # 20 m square: no grid point at 50 m
             shapely.Polygon([(3000, 0), (3600, 0), (3000, 900)])]  # triangle
    return gpd.GeoDataFrame({
        "community_id": ["a", "b", "c"], "name": ["A", "B", "C"], "district": ["D1", "D1", "D2"],
        "street": ["S1", "S2", "S3"], "population": list(populations), "households": list(households),
        "elderly_population": list(elderly), "estate_type": ""}, geometry=geoms, crs="EPSG:32648")


def test_columns_methods_and_exact_sums():
    comm = communities()
    d = demand_points(comm, spacing_m=50.0)
    assert list(d.columns) == DEMAND_COLUMNS + ["geometry"]
    assert d["point_id"].tolist() == list(range(len(d)))
    meth = d.groupby("community_id")["method"].unique()
    assert list(meth["a"]) == ["grid"] and list(meth["b"]) == ["centroid"] and list(meth["c"]) == ["grid"]
    assert (d["community_id"] == "a").sum() == 20 * 12  # 1000 x 600 m at 50 m spacing
    for col in ("population", "households", "elderly_population"):
        sums = d.groupby("community_id")[col].sum(min_count=1)
        want = comm.set_index("community_id")[col]
        for cid in "abc":
            if np.isnan(want[cid]):
                assert d.loc[d.community_id == cid, col].isna().all()
            else:
                assert sums[cid] == pytest.approx(want[cid], rel=1e-12, abs=0)
    # equal grid weights, and every point inside its community
    a = d[d.community_id == "a"]["population"]
    assert np.allclose(a, 12345.678 / len(a))
    inside = shapely.contains(comm.set_index("community_id").geometry.loc[d.community_id].values, d.geometry.values)
    assert inside.all()
    assert (d.loc[d.community_id == "c", "district"] == "D2").all()
    assert (d.loc[d.community_id == "b", "street"] == "S2").all()


def test_exact_sum_with_awkward_numbers():
    rng = np.random.default_rng(3)
    pops = rng.uniform(1, 1e6, 3)
    d = demand_points(communities(populations=pops), spacing_m=7.0)
    sums = d.groupby("community_id", sort=True)["population"].sum().to_numpy()
    # summation itself rounds: ~n * 1e-16 relative for n points
    assert np.allclose(sums, pops, rtol=len(d) * 2e-16, atol=0)


def test_buildings_weight_by_footprint_times_levels():
    comm = communities()
    b = gpd.GeoDataFrame({
        "building": ["residential", "yes", "commercial", "apartments"],
        "building:levels": ["6", None, "3", "x"]},
        geometry=[shapely.box(10, 10, 30, 30), shapely.box(100, 100, 140, 110),
                  shapely.box(200, 200, 250, 250), shapely.box(3010, 10, 3030, 20)], crs="EPSG:32648")
    d = demand_points(comm, buildings=b)
    a = d[d.community_id == "a"]
    assert list(a["method"]) == ["building", "building"]  # commercial building left out
    # weights 20*20*6 = 2400 and 40*10*1 = 400
    assert a["population"].to_numpy() == pytest.approx(np.array([2400, 400]) / 2800 * 12345.678)
    assert list(d.loc[d.community_id == "c", "method"]) == ["building"]
    assert list(d.loc[d.community_id == "b", "method"]) == ["centroid"]


def test_grid_limited_to_residential_landuse():
    comm = communities()
    lu = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 200, 600)], crs="EPSG:32648")
    d = demand_points(comm, residential_landuse=lu)
    a = d[d.community_id == "a"]
    assert len(a) == 4 * 12 and (a.geometry.x < 200).all()
    # communities without residential land use keep their whole polygon
    assert (d.community_id == "c").sum() > 20


def test_missing_geometry_keeps_its_population_visible():
    comm = communities()
    comm.loc[1, "geometry"] = None
    d = demand_points(comm)
    b = d[d.community_id == "b"]
    assert list(b["method"]) == ["missing_geometry"] and b["population"].sum() == 7.0
