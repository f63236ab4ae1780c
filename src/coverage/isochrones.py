"""Walk-time polygons that follow the streets.

For each site and limit: the street parts reachable within the limit — whole edges, plus the
*partial* edges up to the exact point where the time runs out — buffered by a street-side width
and unioned. Blocks the walk does not enter stay holes (unlike convex/concave hulls).

Invariant (tested): a location on a street reached within the limit lies inside the polygon;
so does any point whose access walk to that street is at most ``buffer_m`` (up to the polygonal
approximation of round buffers: ``buffer_m * cos(pi / (4 * quad_segs))``, 0.92 × buffer_m by
default). Conversely a point farther from the polygon than its own access walk cannot be
reached within the limit.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import geopandas as gpd
import numpy as np
import shapely

from . import _kernels as K
from .access import _csr
from .network import WalkNetwork

log = logging.getLogger(__name__)


def reachable_intervals(net: WalkNetwork, snapped: Any, site: int, limits_m: Sequence[float],
                        dist_buf: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reachable stretches of street from one snapped site for each limit (m).

    Returns (limit index, edge, start, end): distances along each edge from its ``edge_u`` end
    (m). Whole edges have start 0 and end = edge length.
    """
    e0 = int(snapped.edge[site])
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0), np.empty(0))
    if e0 < 0:
        return empty
    lim = np.asarray(limits_m, dtype=np.float64)
    acc, pos, L0 = snapped.access_m[site], snapped.pos[site], net.edge_length[e0]
    seeds = np.array([net.edge_u[e0], net.edge_v[e0]], dtype=np.int64)
    sd = np.array([acc + pos, acc + L0 - pos])
    if dist_buf is None:
        dist_buf = np.full(net.n_nodes, np.inf)
    indptr, indices, weights, adj_edge = _csr(net)
    nodes, d = K.settle(indptr, indices, weights, seeds, sd, float(lim.max()), dist_buf)
    # every adjacency slot of every settled node: (node distance, edge)
    starts, stops = indptr[nodes], indptr[nodes + 1]
    cnt = stops - starts
    slot = np.repeat(starts - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
    nd = np.repeat(d, cnt)
    node = np.repeat(nodes, cnt)
    e = adj_edge[slot].astype(np.int64)
    elen = net.edge_length[e]
    from_u = net.edge_u[e] == node
    from_v = net.edge_v[e] == node  # both for self-loops
    out_l, out_e, out_s, out_t = [], [], [], []
    for li, L in enumerate(lim):
        reach = L - nd
        ok = reach >= 0
        mu, mv = ok & from_u, ok & from_v
        out_e += [e[mu], e[mv]]
        out_s += [np.zeros(mu.sum()), np.maximum(elen[mv] - reach[mv], 0.0)]
        out_t += [np.minimum(reach[mu], elen[mu]), elen[mv]]
        out_l += [np.full(mu.sum() + mv.sum(), li)]
        r0 = L - acc
        if r0 >= 0:  # the site's own edge, walked directly from the site
            out_e.append(np.array([e0]))
            out_s.append(np.array([max(pos - r0, 0.0)]))
            out_t.append(np.array([min(pos + r0, L0)]))
            out_l.append(np.array([li]))
    return (np.concatenate(out_l).astype(np.int64), np.concatenate(out_e), np.concatenate(out_s),
            np.concatenate(out_t))


def edge_substrings(net: WalkNetwork, edge: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Pieces of edge geometries between two distances (m) from the ``edge_u`` end, vectorised.
    Whole-edge pieces reuse the edge geometry; others are cut at the exact distances."""
    out = net.edge_geometry[edge].copy()
    part = np.flatnonzero((start > 1e-9) | (end < net.edge_length[edge] - 1e-9))
    if not len(part):
        return out
    g = net.edge_geometry[edge[part]]
    s, t = start[part], end[part]
    xy, gi = shapely.get_coordinates(g, return_index=True)
    seg = np.zeros(len(xy))
    seg[1:] = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))
    first = np.r_[True, gi[1:] != gi[:-1]]
    seg[first] = 0.0
    cum = np.cumsum(seg)
    cum -= np.repeat(cum[first], np.bincount(gi, minlength=len(g)))
    inner = (cum > s[gi]) & (cum < t[gi])
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(g, s))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(g, t))
    ids = np.concatenate([np.arange(len(g)), gi[inner], np.arange(len(g))])
    key = np.concatenate([np.full(len(g), -1.0), cum[inner], np.full(len(g), np.inf)])
    pts = np.concatenate([p0, xy[inner], p1])
    order = np.lexsort((key, ids))
    out[part] = shapely.linestrings(pts[order], indices=ids[order])
    return out


def isochrones(net: WalkNetwork, sites_snapped: Any, site_ids: Sequence[Any], kinds: Sequence[Any] | None,
               speed_mps: float, limits_min: Sequence[float] = (5, 10, 15), buffer_m: float = 40.0,
               rings: bool = False, quad_segs: int = 2, chunk: int = 64,
               n_threads: int | None = None) -> gpd.GeoDataFrame:
    """Street-following isochrones for every snapped site and limit.

    Parameters
    ----------
    sites_snapped : :class:`eldercare_coverage.access.Snapped` of the sites.
    site_ids, kinds : one per site (kinds may be None).
    speed_mps : walk speed (m/s); limits_min: limits (min).
    buffer_m : street-side width (m) buffered around the reachable street parts.
    rings : when True each band is the difference to the next smaller limit (5–10, 10–15 …);
        otherwise each limit is the whole disk.

    Returns
    -------
    GeoDataFrame (site_id, kind, limit_min, min_from, geometry), one row per snapped site and
    limit; sites that are not snapped get no rows.
    """
    t0 = time.perf_counter()
    limits = np.array(sorted(float(x) for x in limits_min))
    lim_m = limits * 60.0 * speed_mps
    site_ids = np.asarray(site_ids, dtype=object)
    kinds = np.asarray(kinds if kinds is not None else [""] * len(site_ids), dtype=object)
    sites = np.flatnonzero(np.asarray(sites_snapped.edge) >= 0)
    n_threads = n_threads or (os.cpu_count() or 1)
    dist_buf = np.full(net.n_nodes, np.inf)

    def one_chunk(chunk_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(group = site-in-chunk × limit, line) of the reachable street pieces of a chunk."""
        groups, edges, ss, tt = [], [], [], []
        for k, s in enumerate(chunk_sites):
            li, e, a, b = reachable_intervals(net, sites_snapped, int(s), lim_m, dist_buf)
            groups.append(k * len(limits) + li)
            edges.append(e)
            ss.append(a)
            tt.append(b)
        grp, e, a, b = (np.concatenate(v) for v in (groups, edges, ss, tt))
        # merge per (group, edge): the stretch reached from the u end [0, A] and from the v end
        # [B, len]; A >= B means the whole edge. Fewer, non-duplicated pieces make the union fast.
        L = net.edge_length[e]
        from_u = a <= 1e-9
        from_v = b >= L - 1e-9
        ends_only = from_u | from_v
        key = grp[ends_only] * np.int64(net.n_edges) + e[ends_only]
        A = np.where(from_u, b, -np.inf)[ends_only]
        B = np.where(from_v, a, np.inf)[ends_only]
        uk, inv = np.unique(key, return_inverse=True)
        Amax = np.full(len(uk), -np.inf)
        Bmin = np.full(len(uk), np.inf)
        np.maximum.at(Amax, inv, A)
        np.minimum.at(Bmin, inv, B)
        kg, ke = uk // net.n_edges, uk % net.n_edges
        full = Amax >= Bmin
        pu = ~full & np.isfinite(Amax)
        pv = ~full & np.isfinite(Bmin)
        mid = ~ends_only  # stretches inside the site's own edge
        eg = np.concatenate([ke[full], ke[pu], ke[pv], e[mid]])
        es = np.concatenate([np.zeros(full.sum()), np.zeros(pu.sum()), Bmin[pv], a[mid]])
        et = np.concatenate([net.edge_length[ke[full]], Amax[pu], net.edge_length[ke[pv]], b[mid]])
        gg = np.concatenate([kg[full], kg[pu], kg[pv], grp[mid]])
        return gg, edge_substrings(net, eg, es, et)

    chunks = [sites[i:i + chunk] for i in range(0, len(sites), chunk)]
    polys = np.full(len(sites) * len(limits), None, dtype=object)
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    try:
        for ci, c in enumerate(chunks):
            grp, lines = one_chunk(c)
            # buffering and union release the GIL: split the groups across threads
            bufs = shapely.buffer(lines, buffer_m, quad_segs=quad_segs)
            order = np.argsort(grp, kind="stable")
            present, starts = np.unique(grp[order], return_index=True)
            ends = np.r_[starts[1:], len(order)]
            base = ci * chunk * len(limits)

            def union(k: int) -> None:
                polys[base + present[k]] = shapely.union_all(bufs[order[starts[k]:ends[k]]])

            if pool is not None:
                list(pool.map(union, range(len(present))))
            else:
                for k in range(len(present)):
                    union(k)
    finally:
        if pool is not None:
            pool.shutdown()
    site_rep = np.repeat(sites, len(limits))
    lim_rep = np.tile(limits, len(sites))
    polys[polys == None] = shapely.Polygon()  # noqa: E711 - elementwise
    if rings and len(limits) > 1:
        grid = polys.reshape(len(sites), len(limits))
        inner = np.concatenate([np.full((len(sites), 1), shapely.Polygon(), dtype=object), grid[:, :-1]], axis=1)
        polys = shapely.difference(grid, inner).ravel()
        min_from = np.tile(np.r_[0.0, limits[:-1]], len(sites))
    else:
        min_from = np.zeros(len(polys))
    gdf = gpd.GeoDataFrame({
        "site_id": site_ids[site_rep].astype(str) if len(site_rep) else np.empty(0, dtype=str),
        "kind": kinds[site_rep].astype(str) if len(site_rep) else np.empty(0, dtype=str),
        "limit_min": lim_rep, "min_from": min_from,
    }, geometry=gpd.GeoSeries(polys, crs=net.crs), crs=net.crs)
    log.info("isochrones: %s sites x %s limits in %.1f s", f"{len(sites):,}", len(limits), time.perf_counter() - t0)
    return gdf


def union_by_kind(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Union of the isochrones per facility kind and limit (kind, limit_min, sites, geometry)."""
    if not len(gdf):
        return gpd.GeoDataFrame({"kind": [], "limit_min": [], "sites": []}, geometry=[], crs=gdf.crs)
    out = []
    for (kind, lim), grp in gdf.groupby(["kind", "limit_min"], sort=True):
        out.append({"kind": kind, "limit_min": lim, "sites": len(grp),
                    "geometry": shapely.union_all(grp.geometry.values)})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)
