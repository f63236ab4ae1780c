"""Walk-time polygons that follow the streets and agree with the coverage figures.

They follow the access model of :func:`eldercare_coverage.access.coverage_matrix`: a point is
reached when its straight access walk to its street (at most the snap distance) plus the walk
along the streets fits the limit. So a street location reached with ``r`` metres of walk left
covers every point within ``min(r, access_max_m)`` of it, and the polygon is the union of those
disks over the reached streets:

* where ``r >= access_max_m`` (the *core*), the street pieces are buffered by ``access_max_m``;
* beyond, ``r`` falls by a metre per metre walked while a straight line is never longer than the
  street, so the disk of any later point of a walk lies inside the disk where ``r`` dropped to
  ``access_max_m``: the core's round end. Only a walk that starts with less than
  ``access_max_m`` left has no core; its polygon is the disk of radius ``r`` at the site.

So the polygon is a fixed-width buffer of the core streets, and it is cheaper than buffering every
reached street by a narrower width: fewer pieces, and the wide buffer fills small blocks.

Buffers are polygons whose vertices GEOS puts on the circle. A round cap or disk is cut into
segments of ``Q = 90° / quad_segs``; a round join at a bend of angle ``a`` into ``round(a / Q)``
segments, so one segment may span up to ``1.5 Q`` (a bend just under 1.5 Q gets one). The
radius is therefore enlarged by ``1 / cos(0.75 Q)`` = ``1 / cos(3 pi / (8 * quad_segs))``,
which keeps every chord at least the true radius away from the street at any bend (edges with
curved geometry, and pieces joined at a node by :mod:`._chains`) and at every cap. Blocks the walk does not enter farther than the access limit
from the streets stay holes (unlike convex/concave hulls).

Invariant (tested on the sample and on real OSM extracts): every demand point the coverage
matrix counts within a limit lies inside that site's polygon for the limit; a point farther
from the polygon than its own access walk is not reached.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, Sequence

import geopandas as gpd
import numpy as np
import shapely

from . import _kernels as K
from ._chains import chain_pieces
from .network import csr_arrays
from .network import WalkNetwork
from .progress import progress
from .threads import thread_count

log = logging.getLogger(__name__)

#: Kinds of reached street piece: walked in from the edge's u end, from its v end, or along the
#: site's own edge directly from the site.
FROM_U, FROM_V, SITE_EDGE = 0, 1, 2
#: Slack (m) added to every radius so points exactly on a boundary stay inside after rounding.
_EPS_M = 1e-3
#: Edge vertices closer than this to a cut (m) are not kept in the cut piece.
_VERTEX_TOL_M = 1e-6


def reachable_pieces(net: WalkNetwork, snapped: Any, site: int, limits_m: Sequence[float],
                     dist_buf: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Reached stretches of street from one snapped site for each limit (m), with the walk left.

    Returns (limit index, kind, edge, start, end, left at start, left at end): positions along
    each edge from its ``edge_u`` end (m) and the remaining walk (m) at both ends of the stretch,
    which varies linearly between them. ``kind`` is :data:`FROM_U`, :data:`FROM_V` or
    :data:`SITE_EDGE`.
    """
    e0 = int(snapped.edge[site])
    if e0 < 0:
        return tuple(np.empty(0, np.int64) for _ in range(3)) + tuple(np.empty(0) for _ in range(4))
    lim = np.asarray(limits_m, dtype=np.float64)
    acc, pos, L0 = snapped.access_m[site], snapped.pos[site], net.edge_length[e0]
    # walk cost per metre along each edge, each way (1 without costs: the same numbers as before)
    rf, rb = _rates(net)
    seeds = np.array([net.edge_u[e0], net.edge_v[e0]], dtype=np.int64)
    sd = np.array([acc + pos * rf[e0], acc + net.cost_bwd[e0] - pos * rb[e0]])
    if dist_buf is None:
        dist_buf = np.full(net.n_nodes, np.inf)
    indptr, indices, weights, adj_edge = csr_arrays(net)
    nodes, d = K.settle(indptr, indices, weights, seeds, sd, float(lim.max()), dist_buf)
    # every adjacency slot of every settled node: (node cost, edge)
    starts, stops = indptr[nodes], indptr[nodes + 1]
    cnt = stops - starts
    slot = np.repeat(starts - np.cumsum(cnt) + cnt, cnt) + np.arange(cnt.sum())
    nd = np.repeat(d, cnt)
    node = np.repeat(nodes, cnt)
    e = adj_edge[slot].astype(np.int64)
    elen = net.edge_length[e]
    from_u = net.edge_u[e] == node
    from_v = net.edge_v[e] == node  # both for self-loops
    out = [[] for _ in range(7)]

    def add(li, kind, edge, s, t, rs, rt):
        for lst, v in zip(out, (np.full(len(edge), li), np.full(len(edge), kind), edge, s, t, rs, rt)):
            lst.append(v)

    for li, L in enumerate(lim):
        left = L - nd
        mu, mv = (left >= 0) & from_u, (left >= 0) & from_v
        # a home at s walks back to u (cost rb per m) or on to v (rf per m), then to the site
        ru, rv = rb[e[mu]], rf[e[mv]]
        t = np.minimum(left[mu] / ru, elen[mu])
        add(li, FROM_U, e[mu], np.zeros(len(t)), t, left[mu], left[mu] - ru * t)
        s = np.maximum(elen[mv] - left[mv] / rv, 0.0)
        add(li, FROM_V, e[mv], s, elen[mv], left[mv] - rv * (elen[mv] - s), left[mv])
        r0 = L - acc
        if r0 >= 0:  # the site's own edge, walked directly to the site from both sides
            f, b = rf[e0], rb[e0]
            s, t = max(pos - r0 / f, 0.0), min(pos + r0 / b, L0)
            add(li, SITE_EDGE, np.array([e0, e0]), np.array([s, pos]), np.array([pos, t]),
                np.array([r0 - f * (pos - s), r0]), np.array([r0, r0 - b * (t - pos)]))
    li, kind, edge = (np.concatenate(v).astype(np.int64) for v in out[:3])
    return (li, kind, edge) + tuple(np.concatenate(v).astype(np.float64) for v in out[3:])


def _rates(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Walk cost per metre along each edge u→v and v→u (all ones without costs; 1 on
    zero-length edges), cached on the network."""
    if "rates" not in net.meta:
        if not net.has_costs:
            one = np.ones(net.n_edges)
            net.meta["rates"] = (one, one)
        else:
            L = net.edge_length
            ok = L > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                net.meta["rates"] = tuple(np.where(ok, c / L, 1.0) for c in (net.cost_fwd, net.cost_bwd))
    return net.meta["rates"]


def min_rate(net: WalkNetwork) -> float:
    """The smallest walk cost per metre of any edge, capped at 1: below 1 where a gentle
    downhill is walked faster than the flat (Tobler), 1 on a network without costs."""
    rf, rb = _rates(net)
    return float(min(1.0, rf.min(initial=1.0), rb.min(initial=1.0)))


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
    # a vertex within a micrometre of a cut is the cut point itself: kept, it would make an end
    # segment of rounding-noise length (and direction, which the joining of pieces reads), and
    # whether it is kept would hang on the last bits of a running sum over the whole batch
    inner = (cum > s[gi] + _VERTEX_TOL_M) & (cum < t[gi] - _VERTEX_TOL_M)
    p0 = shapely.get_coordinates(shapely.line_interpolate_point(g, s))
    p1 = shapely.get_coordinates(shapely.line_interpolate_point(g, t))
    ids = np.concatenate([np.arange(len(g)), gi[inner], np.arange(len(g))])
    key = np.concatenate([np.full(len(g), -1.0), cum[inner], np.full(len(g), np.inf)])
    pts = np.concatenate([p0, xy[inner], p1])
    order = np.lexsort((key, ids))
    out[part] = shapely.linestrings(pts[order], indices=ids[order])
    return out


def _merge_intervals(net: WalkNetwork, grp: np.ndarray, e: np.ndarray, a: np.ndarray,
                     b: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per (group, edge), merge the stretches touching the u end ([0, A]) and the v end
    ([B, len]); A >= B means the whole edge. Fewer, non-duplicated pieces make the union fast.
    Stretches touching neither end are kept as they are. Returns (group, edge, start, end)."""
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
    mid = ~ends_only
    eg = np.concatenate([ke[full], ke[pu], ke[pv], e[mid]])
    es = np.concatenate([np.zeros(full.sum()), np.zeros(pu.sum()), Bmin[pv], a[mid]])
    et = np.concatenate([net.edge_length[ke[full]], Amax[pu], net.edge_length[ke[pv]], b[mid]])
    gg = np.concatenate([kg[full], kg[pu], kg[pv], grp[mid]])
    return gg, eg, es, et


def _best_per_edge(net: WalkNetwork, grp, kind, e, s, t, rs, rt) -> tuple[np.ndarray, ...]:
    """Drop stretches walked in from an edge end that another stretch of the same group reaches
    from the same end with more walk left (they add nothing). Site-edge stretches are kept."""
    left_at_end = np.where(kind == FROM_U, rs, rt)
    key = (grp * np.int64(net.n_edges) + e) * 3 + kind
    order = np.lexsort((-left_at_end, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    keep = np.sort(order[first | (kind[order] == SITE_EDGE)])
    return tuple(v[keep] for v in (grp, e, s, t, rs, rt))


def _core(s, t, rs, rt, cap_m):
    """The part of each linear stretch with at least ``cap_m`` of walk left: (mask, start, end)."""
    span = t - s
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(rt != rs, s + (cap_m - rs) * span / (rt - rs), s)  # where the walk left = cap
    x = np.clip(x, s, t)
    hi_s, hi_t = rs >= cap_m, rt >= cap_m
    return hi_s | hi_t, np.where(hi_s, s, x), np.where(hi_t, t, x)


def isochrones(net: WalkNetwork, sites_snapped: Any, site_ids: Sequence[Any], kinds: Sequence[Any] | None,
               speed_mps: float, limits_min: Sequence[float] = (5, 10, 15), access_max_m: float | None = None,
               rings: bool = False, quad_segs: int = 3, chunk: int = 64,
               n_threads: int | None = None) -> gpd.GeoDataFrame:
    """Street-following isochrones for every snapped site and limit, following the access model.

    Parameters
    ----------
    sites_snapped : :class:`eldercare_coverage.access.Snapped` of the sites.
    site_ids, kinds : one per site (kinds may be None).
    speed_mps : walk speed (m/s); limits_min: limits (min).
    access_max_m : the longest straight walk from a street to a point that still counts (m): the
        snap distance of the demand points (``[access] snap_max_m``); default the sites' own
        snap distance.
    rings : when True each band is the difference to the next smaller limit (5–10, 10–15 …);
        otherwise each limit is the whole disk.
    quad_segs : segments per quarter circle of the round parts.

    Returns
    -------
    GeoDataFrame (site_id, kind, limit_min, min_from, geometry), one row per snapped site and
    limit; sites that are not snapped get no rows.
    """
    t0 = time.perf_counter()
    cap_m = float(sites_snapped.max_m if access_max_m is None else access_max_m)
    # With walk costs, the walk left falls by at least rate_min per metre walked (1 on the flat;
    # about 0.84 on a gentle downhill, Tobler). A street point reached with r < core_m left then
    # lies within (core_m - r) / rate_min of the point where the walk left was core_m, so its
    # disk lies inside that point's disk of radius core_m / rate_min = cap_m: the core is where
    # at least core_m = cap_m * rate_min is left (exactly the old core on the flat).
    rate_min = min_rate(net)
    limits = np.array(sorted(float(x) for x in limits_min))
    # circumscribe (module docstring): a chord of a cap, disk or join stays R away from the street
    reach = _Reach(limits * 60.0 * speed_mps, cap_m, cap_m * rate_min, rate_min,
                   1.0 / np.cos(3.0 * np.pi / (8 * quad_segs)), quad_segs)
    sites = np.flatnonzero(np.asarray(sites_snapped.edge) >= 0)
    n_threads = n_threads or thread_count()
    dist_buf = np.full(net.n_nodes, np.inf)
    chunks = [sites[i:i + chunk] for i in range(0, len(sites), chunk)]
    polys = np.full(len(sites) * len(limits), None, dtype=object)
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    try:
        for ci, c in enumerate(progress(chunks, desc="isochrones", unit="chunk")):
            grp, bufs = _chunk_pieces(net, sites_snapped, c, reach, dist_buf)
            _union_groups(polys, ci * chunk * len(limits), grp, bufs, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    gdf = _isochrone_frame(net, polys, sites, limits, site_ids, kinds, rings)
    log.info("isochrones: %s sites x %s limits in %.1f s", f"{len(sites):,}", len(limits), time.perf_counter() - t0)
    return gdf


class _Reach(NamedTuple):
    """How far the walks of :func:`isochrones` reach and how their disks are drawn."""

    lim_m: np.ndarray  # the limits as walk lengths (m)
    cap_m: float  # the longest straight access walk that counts (m)
    core_m: float  # walk left (m) from which a street point is in the core
    rate_min: float  # least walk left lost per metre walked (1 on the flat)
    scale: float  # radius factor that circumscribes the round disk
    quad_segs: int  # segments per quarter circle


def _chunk_pieces(net: WalkNetwork, sites_snapped: Any, chunk_sites: np.ndarray, reach: _Reach,
                  dist_buf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group = site-in-chunk × limit, polygon) of the reached pieces of a chunk of sites: the
    core streets buffered by the access cap, and a disk at each site whose walk has no core."""
    n_lim = len(reach.lim_m)
    parts = []
    for k, site in enumerate(chunk_sites):
        li, *rest = reachable_pieces(net, sites_snapped, int(site), reach.lim_m, dist_buf)
        parts.append((k * n_lim + li, *rest))
    grp, kind, e, s, t, rs, rt = (np.concatenate(v) for v in zip(*parts))
    grp, e, s, t, rs, rt = _best_per_edge(net, grp, kind, e, s, t, rs, rt)
    core, cs, ce = _core(s, t, rs, rt, reach.core_m)
    cg, ceg, cs, ce = _merge_intervals(net, grp[core], e[core], cs[core], ce[core])
    lines, cg = chain_pieces(edge_substrings(net, ceg, cs, ce), cg, ceg, cs, ce, net.edge_u, net.edge_v,
                             net.edge_length, net.n_nodes)
    polys = shapely.buffer(lines, reach.cap_m * reach.scale + _EPS_M, quad_segs=reach.quad_segs)
    # a walk that starts with less than the core's walk left never reaches a core: one disk
    # at the site (widened by 1 / rate_min where a downhill is walked faster than the flat)
    left0 = reach.lim_m[None, :] - sites_snapped.access_m[chunk_sites][:, None]
    k, li = np.nonzero((left0 >= 0) & (left0 < reach.core_m))
    disks = shapely.buffer(shapely.points(sites_snapped.x[chunk_sites[k]], sites_snapped.y[chunk_sites[k]]),
                           left0[k, li] / reach.rate_min * reach.scale + _EPS_M, quad_segs=reach.quad_segs)
    return np.concatenate([cg, k * n_lim + li]), np.concatenate([polys, disks])


def _union_groups(polys: np.ndarray, base: int, grp: np.ndarray, bufs: np.ndarray,
                  pool: ThreadPoolExecutor | None) -> None:
    """Put the union of each group's pieces into ``polys[base + group]``; union releases the GIL,
    so the groups are split across the pool's threads."""
    order = np.argsort(grp, kind="stable")
    present, starts = np.unique(grp[order], return_index=True)
    ends = np.r_[starts[1:], len(order)]

    def union(k: int) -> None:
        polys[base + present[k]] = shapely.union_all(bufs[order[starts[k]:ends[k]]])

    if pool is not None:
        list(pool.map(union, range(len(present))))
    else:
        for k in range(len(present)):
            union(k)


def _isochrone_frame(net: WalkNetwork, polys: np.ndarray, sites: np.ndarray, limits: np.ndarray,
                     site_ids: Sequence[Any], kinds: Sequence[Any] | None, rings: bool) -> gpd.GeoDataFrame:
    """One row per site and limit (site_id, kind, limit_min, min_from, geometry); an unreached
    group is an empty polygon; with ``rings`` each band less the next smaller limit's."""
    site_ids = np.asarray(site_ids, dtype=object)
    kinds = np.asarray(kinds if kinds is not None else [""] * len(site_ids), dtype=object)
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
    return gpd.GeoDataFrame({
        "site_id": site_ids[site_rep].astype(str) if len(site_rep) else np.empty(0, dtype=str),
        "kind": kinds[site_rep].astype(str) if len(site_rep) else np.empty(0, dtype=str),
        "limit_min": lim_rep, "min_from": min_from,
    }, geometry=gpd.GeoSeries(polys, crs=net.crs), crs=net.crs)


def union_by_kind(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Union of the isochrones per facility kind and limit (kind, limit_min, sites, geometry)."""
    if not len(gdf):
        return gpd.GeoDataFrame({"kind": [], "limit_min": [], "sites": []}, geometry=[], crs=gdf.crs)
    out = []
    for (kind, lim), grp in gdf.groupby(["kind", "limit_min"], sort=True):
        out.append({"kind": kind, "limit_min": lim, "sites": len(grp),
                    "geometry": shapely.union_all(grp.geometry.values)})
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)
