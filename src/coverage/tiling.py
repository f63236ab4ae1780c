"""Tiles of a study for scale-out runs: a partition of the communities with a network halo.

Every community (and so every demand point) belongs to exactly one tile's *core*. A tile's
*halo* adds everything a walk from its core can touch within the halo distance

    halo_m = walk limit (m) + snap distance (m) + margin (m),

so a tile's results equal a single run's on the whole study:

- a walk of at most ``halo_m`` from a core point runs only on streets that intersect the core
  buffered by ``halo_m`` (a walk is never shorter than the straight line), and a site within
  ``halo_m`` snaps to the same street as in the whole network when the tile keeps every street
  within ``halo_m + snap`` (a snap looks ``snap`` metres around the site);
- every facility and candidate is *owned* by the tile of its nearest community, and the owner's
  region includes the site itself, so its whole isochrone (limit + snap) lies on the owner's
  network;
- communities whose polygon reaches into the halo come along as compounds (gated compounds
  route the sites inside them through their gates), but only core communities give demand;
- the main connected part of the network is the whole network's, not the tile's (a street that
  reaches the main part only outside the tile is still main), see :func:`subnetwork`.

Walk costs (steps, slopes: :mod:`.walkcost`) are per edge, computed in the tile from the same
data as in the single run; downhill a walk costs less than its length (down to
:func:`~eldercare_coverage.walkcost.least_cost_factor`), so the walk limit's part of the halo is
divided by that factor.

The nearest-facility times of the access stage have no limit: a time within a tile's halo is
exact, a longer one may not be, and the tile is run again with a larger halo (:mod:`.compute`).
So that this is rare, a tile's first halo is ``halo_m`` widened to the straight-line distance
(times a detour factor) to the nearest facility of every kind (:func:`first_halos_m`); the
guarantees above hold for any halo of at least ``halo_m``.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .network import WalkNetwork

#: Ways to cut a study into tiles (``[compute] tiling``).
TILINGS = ("none", "district", "grid")


@dataclass
class Tile:
    """One tile: its core communities and the sites it owns (row positions in the study layers)."""

    tile_id: str
    communities: np.ndarray
    facilities: np.ndarray
    candidates: np.ndarray


@dataclass
class TileExtent:
    """What a tile's computation reads, for a halo of ``halo_m`` metres (row positions, sorted).

    ``communities`` are the core and halo communities, ``core`` flags the core ones among them;
    ``facilities``/``candidates`` are the sites within the halo plus the owned ones; ``edges`` the
    global edges of the tile's network; ``whole`` is True when that is the whole network and
    every site (the tile cannot grow further).
    """

    halo_m: float
    communities: np.ndarray
    core: np.ndarray
    facilities: np.ndarray
    candidates: np.ndarray
    gates: np.ndarray
    buildings: np.ndarray
    edges: np.ndarray
    whole: bool


def halo_distance_m(limit_min: float, speed_mps: float, snap_max_m: float, margin_m: float,
                    cost_factor: float = 1.0) -> float:
    """Halo width (m): the walk limit in metres plus the snap distance plus a margin. With walk
    costs that may fall below the distance walked (downhill, ``cost_factor`` the least cost per
    metre, :func:`~eldercare_coverage.walkcost.least_cost_factor`), the limit reaches
    limit / ``cost_factor`` metres of street."""
    return float(limit_min) * 60.0 * float(speed_mps) / float(cost_factor) + float(snap_max_m) + float(margin_m)


def first_halos_m(tiles: list[Tile], communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                  kinds: list[str], base_m: float, snap_max_m: float, cost_factor: float = 1.0, *,
                  detour: float = 1.5, share: float = 0.95, most: float = 4.0) -> dict[str, float]:
    """Each tile's first halo (m): ``base_m`` (the walk limit's halo), widened so that ``share``
    of its communities find their nearest facility of every kind inside it, judged by the
    straight-line distance times ``detour`` (streets are longer), divided by ``cost_factor``
    (downhill walks cost less per metre), plus the snap distance; at most ``most`` times
    ``base_m``. Only a first guess that saves re-running most tiles with a wider halo: a walk
    that still ends beyond it is run again wider (:mod:`.compute`), so results never depend on it."""
    pts = _points(communities.geometry.to_numpy())
    ok = ~shapely.is_empty(pts)
    need = np.zeros(len(pts))
    fk = facilities["kind"].astype(str).to_numpy() if "kind" in facilities else np.full(len(facilities), "")
    fgeom = facilities.geometry.to_numpy()
    fok = ~(shapely.is_missing(fgeom) | shapely.is_empty(fgeom))
    for sel in [fk == k for k in kinds] or [np.ones(len(fk), dtype=bool)]:
        g = fgeom[sel & fok]
        if not len(g) or not ok.any():
            continue  # a kind with no facility is never found, however wide the halo
        (i, _), dist = shapely.STRtree(g).query_nearest(pts[ok], return_distance=True, all_matches=False)
        d = np.zeros(len(pts))
        d[np.flatnonzero(ok)[i]] = dist
        need = np.maximum(need, d)
    out = {}
    for t in tiles:
        far = float(np.quantile(need[t.communities], share)) if len(t.communities) else 0.0
        out[t.tile_id] = float(np.clip(far * detour / cost_factor + snap_max_m, base_m, most * base_m))
    return out


def tile_labels(communities: gpd.GeoDataFrame, by: str, tile_size_m: float) -> np.ndarray:
    """Tile label of each community: its district (blank districts form one tile), or the
    ``tile_size_m`` grid cell (m) of its representative point, the grid starting at the
    communities' lower-left corner."""
    if by == "district":
        col = communities["district"] if "district" in communities else pd.Series("", index=communities.index)
        return np.asarray(["d:" + s for s in col.fillna("").astype(str)], dtype=object)
    if by != "grid":
        raise ValueError(f"unknown tiling {by!r}; use one of {', '.join(TILINGS[1:])}")
    if not (np.isfinite(tile_size_m) and tile_size_m > 0):
        raise ValueError(f"tile_size_m must be a positive number of metres, got {tile_size_m!r}")
    pts = _points(communities.geometry.to_numpy())
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return np.full(len(pts), "g:empty", dtype=object)
    x0, y0 = np.min(x[ok]), np.min(y[ok])
    gx = np.where(ok, np.floor((np.where(ok, x, x0) - x0) / tile_size_m), 0).astype(np.int64)
    gy = np.where(ok, np.floor((np.where(ok, y, y0) - y0) / tile_size_m), 0).astype(np.int64)
    return np.asarray([f"g:{a}:{b}" if k else "g:empty" for a, b, k in zip(gx, gy, ok)], dtype=object)


def _points(geoms: np.ndarray) -> np.ndarray:
    """A representative point of each geometry (empty/missing stay empty)."""
    bad = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    out = np.full(len(geoms), shapely.Point(), dtype=object)
    out[~bad] = shapely.point_on_surface(geoms[~bad])
    return out


def make_tiles(communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
               *, by: str = "district", tile_size_m: float = 5000.0) -> list[Tile]:
    """Partition the communities by district or grid cell; each site goes to the tile of its
    nearest community (so a site outside every community still has one owner)."""
    labels = tile_labels(communities, by, tile_size_m)
    names, code = np.unique(labels, return_inverse=True)
    geoms = communities.geometry.to_numpy()
    good = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms)))
    tree = shapely.STRtree(geoms[good]) if len(good) else None

    def owners(layer: gpd.GeoDataFrame) -> np.ndarray:
        out = np.zeros(len(layer), dtype=np.int64)  # sites without a location: the first tile
        g = layer.geometry.to_numpy() if len(layer) else np.empty(0, dtype=object)
        ok = np.flatnonzero(~(shapely.is_missing(g) | shapely.is_empty(g))) if len(g) else np.empty(0, int)
        if tree is not None and len(ok):
            pi, ci = tree.query_nearest(g[ok], all_matches=False)
            out[ok[pi]] = code[good[ci]]
        return out

    fo, co = owners(facilities), owners(candidates)
    return [Tile(tile_id=_tile_name(name), communities=np.flatnonzero(code == k),
                 facilities=np.flatnonzero(fo == k), candidates=np.flatnonzero(co == k))
            for k, name in enumerate(names)]


def _tile_name(label: str) -> str:
    """A file-safe tile id: the grid cell, or the district's position-independent hash."""
    import hashlib

    if label.startswith("g:"):
        return "g" + label[2:].replace(":", "_").replace("-", "m")
    return "d" + hashlib.sha256(label.encode("utf-8")).hexdigest()[:12]


def tile_extent(tile: Tile, communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame,
                candidates: gpd.GeoDataFrame, net: WalkNetwork, halo_m: float, snap_max_m: float, *,
                gates: gpd.GeoDataFrame | None = None, buildings: gpd.GeoDataFrame | None = None,
                gate_tolerance_m: float = 0.0, trees: dict | None = None) -> TileExtent:
    """The communities, sites, gates, buildings and network edges a tile needs for ``halo_m``.

    ``trees``: a dict kept by the caller across tiles, where the spatial indexes of the layers
    are built once (a national network's index takes seconds to build)."""
    trees = {} if trees is None else trees

    def near(geoms: np.ndarray, name: str, around: np.ndarray, distance: float) -> np.ndarray:
        if not len(geoms) or not len(around):
            return np.empty(0, dtype=np.int64)
        if name not in trees:
            trees[name] = (shapely.STRtree(geoms), shapely.bounds(geoms))
        return _near(*trees[name], around, distance)

    def present(g: np.ndarray) -> np.ndarray:
        return g[~(shapely.is_missing(g) | shapely.is_empty(g))]

    cgeom = communities.geometry.to_numpy()
    fgeom, kgeom = facilities.geometry.to_numpy(), candidates.geometry.to_numpy()
    region = present(np.concatenate([cgeom[tile.communities], fgeom[tile.facilities], kgeom[tile.candidates]]))
    comm = _union(near(cgeom, "communities", region, halo_m + snap_max_m), tile.communities, len(cgeom))
    # gated compounds in the tile keep every gate and the streets those gates open onto
    compounds = present(cgeom[comm])
    edges = _union(near(net.edge_geometry, "edges", region, halo_m + snap_max_m),
                   near(net.edge_geometry, "edges", compounds, gate_tolerance_m + 2 * snap_max_m), net.n_edges)
    fac = _union(near(fgeom, "facilities", region, halo_m), tile.facilities, len(fgeom))
    cand = _union(near(kgeom, "candidates", region, halo_m), tile.candidates, len(kgeom))
    gate_rows = (near(gates.geometry.to_numpy(), "gates", compounds, gate_tolerance_m + 1.0)
                 if gates is not None and len(gates) else np.empty(0, np.int64))
    bld = (near(buildings.geometry.to_numpy(), "buildings", compounds, 0.0)
           if buildings is not None and len(buildings) else np.empty(0, np.int64))
    whole = len(edges) == net.n_edges and len(fac) == len(facilities) and len(cand) == len(candidates)
    return TileExtent(float(halo_m), comm, np.isin(comm, tile.communities), fac, cand, gate_rows, bld,
                      edges, bool(whole))


def _union(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Sorted union of two sets of positions below ``n`` (a mask: several times faster than
    ``np.union1d``'s hashing and sorting for the ~10^5 streets of a tile)."""
    mask = np.zeros(n, dtype=bool)
    mask[a] = True
    mask[b] = True
    return np.flatnonzero(mask)


def _near(tree: shapely.STRtree, bounds: np.ndarray, around: np.ndarray, distance: float) -> np.ndarray:
    """Sorted positions of the geometries indexed by ``tree`` (with their ``bounds``) that may
    lie within ``distance`` (m) of ``around``: every
    one that does, and a few more. More streets, sites or compounds than needed never change a
    result (they are real, and whatever is within reach is there), so a coarse raster does: the
    cells of ``around``'s bounding boxes widened by ``distance``, and the geometries whose
    bounding box meets a marked cell (a summed-area table). A GEOS distance test or a buffer of
    a city-sized union took seconds per tile; this takes milliseconds."""
    b = shapely.bounds(around)
    x0, y0 = b[:, 0].min() - distance, b[:, 1].min() - distance
    x1, y1 = b[:, 2].max() + distance, b[:, 3].max() + distance
    cand = tree.query(shapely.box(x0, y0, x1, y1))
    if not len(cand):
        return np.empty(0, dtype=np.int64)
    cell = max(distance / 4.0, (x1 - x0) / 2048.0, (y1 - y0) / 2048.0, 1.0)
    nx, ny = int((x1 - x0) // cell) + 2, int((y1 - y0) // cell) + 2

    def cells(v: np.ndarray, v0: float, n: int) -> np.ndarray:
        return np.clip(np.floor((v - v0) / cell).astype(np.int64), 0, n - 1)

    # each widened box as +1/-1 corners of a difference array, summed up into cover counts
    k = int(np.ceil(distance / cell))
    i0, i1 = np.clip(cells(b[:, 0], x0, nx) - k, 0, nx), np.clip(cells(b[:, 2], x0, nx) + k + 1, 0, nx)
    j0, j1 = np.clip(cells(b[:, 1], y0, ny) - k, 0, ny), np.clip(cells(b[:, 3], y0, ny) + k + 1, 0, ny)
    diff = np.zeros((nx + 1, ny + 1), dtype=np.int64)
    for di, dj, sign in ((i0, j0, 1), (i1, j0, -1), (i0, j1, -1), (i1, j1, 1)):
        np.add.at(diff, (di, dj), sign)
    marked = (diff.cumsum(0).cumsum(1)[:nx, :ny] > 0).astype(np.int64)
    sat = np.zeros((nx + 1, ny + 1), dtype=np.int64)
    sat[1:, 1:] = marked.cumsum(0).cumsum(1)
    g = bounds[cand]
    a0, a1 = cells(g[:, 0], x0, nx), cells(g[:, 2], x0, nx) + 1
    c0, c1 = cells(g[:, 1], y0, ny), cells(g[:, 3], y0, ny) + 1
    hits = sat[a1, c1] - sat[a0, c1] - sat[a1, c0] + sat[a0, c0]
    return np.sort(cand[hits > 0]).astype(np.int64)


def subnetwork(net: WalkNetwork, edges: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of the network made of global ``edges`` (sorted), in the whole network's order.

    Nodes keep their global order; ``component`` keeps the *global* component of each node, so
    the tile's main part (and so every snap) is the whole network's main part.
    """
    edges = np.asarray(edges, dtype=np.int64)
    eu, ev = net.edge_u[edges].astype(np.int64), net.edge_v[edges].astype(np.int64)
    nodes = _union(eu, ev, net.n_nodes)
    attrs = net.edge_attrs.iloc[edges].reset_index(drop=True)
    return {"x": net.x[nodes], "y": net.y[nodes], "node_id": net.node_id[nodes],
            "edge_u": np.searchsorted(nodes, eu).astype(np.int32),
            "edge_v": np.searchsorted(nodes, ev).astype(np.int32),
            "edge_geometry": net.edge_geometry[edges], "edge_attrs": attrs, "edge_index": edges,
            "component": net.component[nodes].astype(np.int32),
            "main_component": np.int64(net.main_component)}


def network_from_tile(arrays: dict, crs, source: str = "") -> WalkNetwork:
    """A :class:`WalkNetwork` from :func:`subnetwork` arrays, keeping the global components."""
    from .network import network_from_arrays

    net = network_from_arrays(arrays["x"], arrays["y"], arrays["edge_u"], arrays["edge_v"], crs,
                              arrays["edge_geometry"], arrays["node_id"], arrays["edge_attrs"], source=source)
    # network_from_arrays labels the tile's own components; the whole network's decide what is
    # main (the fragments table is only reported by the whole network, never by a tile)
    net.component = np.asarray(arrays["component"], dtype=np.int32)
    net.main_component = int(arrays["main_component"])
    net.fragments = net.fragments.iloc[0:0]
    net.meta["edge_index"] = np.asarray(arrays["edge_index"], dtype=np.int64)
    return net
