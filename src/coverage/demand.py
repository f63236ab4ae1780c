"""Where people live inside each community: weighted demand points.

Per community, the first method that yields points is used:

1. ``building`` — residential buildings (a building layer given): one point per building at its
   representative point, weight = footprint area (m²) × levels (1 when unknown);
2. ``grid`` — a regular grid (default 50 m) inside the polygon, optionally limited to
   residential land use; equal weights;
3. ``centroid`` — the community's representative point (small or odd polygons).

Each point carries its share of residents, older residents and households; per community the
shares add up to the community totals (to float rounding: the last point takes the remainder).
NaN totals stay NaN.
"""

from __future__ import annotations

import logging
import time

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .config import NUMERIC_RANGES
from .errors import InputError

log = logging.getLogger(__name__)

#: Default cap on the lattice points a demand grid may allocate.
MAX_POINTS = 2_000_000
#: Peak memory per lattice point while the grid is built (tracemalloc on the sample at 5 m and
#: 2 m: 124 and 127 bytes): coordinates, owners, the inside test and the points kept.
_BYTES_PER_POINT = 128

DEMAND_COLUMNS = ["point_id", "community_id", "district", "street", "population",
                  "elderly_population", "households", "method"]
_TOTALS = ("population", "elderly_population", "households")
#: ``building=*`` values that are not homes (other values, incl. ``yes``, count as residential).
NON_RESIDENTIAL_BUILDINGS = frozenset({
    "commercial", "industrial", "retail", "warehouse", "office", "school", "university", "college",
    "kindergarten", "hospital", "church", "temple", "mosque", "public", "civic", "government",
    "train_station", "transportation", "garage", "garages", "parking", "sports_hall", "stadium",
    "supermarket", "hotel", "construction", "roof", "shed", "service", "kiosk", "toilets",
    "greenhouse", "farm_auxiliary", "hangar", "carport", "bunker", "ruins",
})
_LEVEL_COLUMNS = ("levels", "building:levels", "building_levels", "floors", "层数", "楼层数")


def _levels(buildings: gpd.GeoDataFrame) -> np.ndarray:
    for col in _LEVEL_COLUMNS:
        if col in buildings.columns:
            lv = pd.to_numeric(buildings[col], errors="coerce").to_numpy(dtype=float)
            return np.where(np.isfinite(lv) & (lv >= 1), lv, 1.0)
    return np.ones(len(buildings))


def _building_points(communities: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame) -> pd.DataFrame:
    """(community row, geometry, weight) of residential buildings inside communities."""
    b = buildings[~(buildings.geometry.isna() | buildings.geometry.is_empty)]
    if "building" in b.columns:
        b = b[~b["building"].astype(str).str.lower().isin(NON_RESIDENTIAL_BUILDINGS)]
    geom = b.geometry.values
    poly = shapely.get_type_id(geom) >= 3  # polygons (points have no footprint)
    area = np.where(poly, shapely.area(geom), 0.0)
    rep = shapely.point_on_surface(geom)
    w = area * _levels(b)
    w = np.where(w > 0, w, 1.0)  # a building mapped as a point still houses people
    tree = shapely.STRtree(communities.geometry.values)
    bi, ci = tree.query(rep, predicate="within")
    return pd.DataFrame({"row": ci, "geometry": rep[bi], "w": w[bi], "method": "building"})


def _grid_points(polys: np.ndarray, spacing_m: float, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """Lattice points (on a common lattice of ``spacing_m``) inside each polygon.

    Raises :class:`InputError` before allocating when the lattice over the polygons' bounding
    boxes would exceed ``max_points``.
    """
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise ValueError(f"spacing_m must be a positive number of metres, got {spacing_m!r}")
    ok = np.flatnonzero(~(shapely.is_missing(polys) | shapely.is_empty(polys)))
    if not len(ok):
        return pd.DataFrame({"row": [], "geometry": [], "w": [], "method": []})
    b = shapely.bounds(polys[ok])
    _check_grid_size(b, spacing_m, max_points)
    half = spacing_m / 2.0
    i0 = np.floor((b[:, 0] - half) / spacing_m).astype(np.int64)
    i1 = np.ceil((b[:, 2] - half) / spacing_m).astype(np.int64)
    j0 = np.floor((b[:, 1] - half) / spacing_m).astype(np.int64)
    j1 = np.ceil((b[:, 3] - half) / spacing_m).astype(np.int64)
    nx_, ny_ = i1 - i0 + 1, j1 - j0 + 1
    cnt = nx_ * ny_
    owner = np.repeat(np.arange(len(ok)), cnt)
    k = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    x = (i0[owner] + k % nx_[owner]) * spacing_m + half
    y = (j0[owner] + k // nx_[owner]) * spacing_m + half
    inside = shapely.contains_xy(polys[ok][owner], x, y)
    return pd.DataFrame({"row": ok[owner[inside]], "geometry": shapely.points(x[inside], y[inside]),
                         "w": 1.0, "method": "grid"})


def _check_grid_size(bounds: np.ndarray, spacing_m: float, max_points: int) -> None:
    """Refuse a lattice estimated above ``max_points`` (counted in floats: a tiny spacing overflows int64)."""
    width, height = bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1]
    cells = (np.floor(width / spacing_m) + 2) * (np.floor(height / spacing_m) + 2)
    estimate = float(cells.sum())
    if estimate <= max_points:
        return
    area_km2 = float((width * height).sum()) / 1e6
    # spacing that brings the estimate under the cap (the count falls with the square of the spacing)
    suggest = max(float(np.ceil(spacing_m * np.sqrt(estimate / max_points) * 1.1)),
                  NUMERIC_RANGES["access.grid_spacing_m"].low)
    raise InputError("demand.grid_too_large", "config", field="access.grid_spacing_m",
                     spacing=f"{spacing_m:g}", estimate=f"{estimate:,.0f}", area=f"{area_km2:,.1f}",
                     gib=f"{estimate * _BYTES_PER_POINT / 2**30:,.0f}", max_points=f"{max_points:,}",
                     suggest=f"{suggest:g}")


def demand_points(communities: gpd.GeoDataFrame, spacing_m: float = 50.0,
                  buildings: gpd.GeoDataFrame | None = None,
                  residential_landuse: gpd.GeoDataFrame | None = None,
                  max_points: int = MAX_POINTS) -> gpd.GeoDataFrame:
    """Weighted demand points of every community (see the module docstring for the methods).

    Parameters
    ----------
    communities : canonical communities layer (metric CRS).
    spacing_m : grid spacing (m).
    buildings : optional building footprints (same CRS); ``building`` and a levels column
        (``building:levels``/``levels``/``层数``) are used when present.
    residential_landuse : optional polygons (e.g. ``landuse=residential``); grid points are then
        placed only where a community overlaps them (the whole polygon when it does not).
    max_points : refuse (``InputError``, before allocating) a grid estimated above this many points.

    Returns
    -------
    GeoDataFrame with columns point_id (0..n-1), community_id, district, street, population,
    elderly_population, households, method and Point geometry, in the communities' CRS.
    """
    t0 = time.perf_counter()
    comm = communities.reset_index(drop=True)
    n = len(comm)
    geoms = comm.geometry.values
    parts = []
    done = np.zeros(n, dtype=bool)
    if buildings is not None and len(buildings):
        bp = _building_points(comm, buildings.to_crs(comm.crs) if buildings.crs and comm.crs and
                              buildings.crs != comm.crs else buildings)
        parts.append(bp)
        done[bp["row"].to_numpy(dtype=np.int64)] = True
    todo = np.flatnonzero(~done)
    if len(todo):
        polys = np.asarray(geoms[todo], dtype=object)
        if residential_landuse is not None and len(residential_landuse):
            lu = shapely.union_all(residential_landuse.geometry.values)
            cut = shapely.intersection(polys, lu)
            use = ~(shapely.is_empty(cut) | (shapely.area(cut) <= 0))
            polys = np.where(use, cut, polys)
        gp = _grid_points(polys, spacing_m, max_points)
        gp["row"] = todo[gp["row"].to_numpy(dtype=np.int64)]
        parts.append(gp)
        done[gp["row"].to_numpy(dtype=np.int64)] = True
    rest = np.flatnonzero(~done)
    if len(rest):
        g = geoms[rest]
        missing = shapely.is_missing(g) | shapely.is_empty(g)
        rep = np.where(missing, shapely.Point(), shapely.point_on_surface(np.where(missing, shapely.Point(0, 0), g)))
        parts.append(pd.DataFrame({"row": rest, "geometry": rep, "w": 1.0,
                                   "method": np.where(missing, "missing_geometry", "centroid")}))
    pts = pd.concat(parts, ignore_index=True).sort_values("row", kind="stable", ignore_index=True)
    row = pts["row"].to_numpy(dtype=np.int64)
    w = pts["w"].to_numpy(dtype=float)
    wsum = np.bincount(row, weights=w, minlength=n)
    share = w / wsum[row]
    last = np.r_[row[1:] != row[:-1], True] if len(row) else np.zeros(0, bool)
    out = pd.DataFrame({"point_id": np.arange(len(pts), dtype=np.int64)})
    out["community_id"] = comm["community_id"].astype(str).to_numpy()[row]
    for col in ("district", "street"):
        vals = comm[col].fillna("").astype(str).to_numpy() if col in comm else np.full(n, "")
        out[col] = vals[row]
    for col in _TOTALS:
        total = pd.to_numeric(comm[col], errors="coerce").to_numpy(dtype=float) if col in comm else np.full(n, np.nan)
        v = total[row] * share
        # the last point of each community takes the remainder, so the sum is the total exactly
        # up to the rounding of the summation itself
        others = np.bincount(row, weights=np.where(last, 0.0, np.nan_to_num(v)), minlength=n)
        v[last] = total[row[last]] - others[row[last]]
        out[col] = v
    out["method"] = pts["method"].to_numpy()
    gdf = gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(pts["geometry"].to_numpy(), crs=comm.crs), crs=comm.crs)
    log.info("demand points: %s for %s communities (%s) in %.2f s", f"{len(gdf):,}", f"{n:,}",
             ", ".join(f"{k} {v:,}" for k, v in gdf["method"].value_counts().items()), time.perf_counter() - t0)
    return gdf
