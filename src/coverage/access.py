"""Walking access on the network: snapping, nearest facility, the sparse coverage matrix and the
per-community / per-district access tables.

Travel time (min) = (access walk from the point to the street + network walk cost + access walk
at the other end) / walk speed / 60, from home to facility. The network walk cost is the
distance on the flat; steps and slopes make it larger or smaller, and direction-dependent
(flat-equivalent metres, :mod:`.walkcost`), so limits and snap distances stay in metres. Points snap to the nearest point on the nearest street edge
of the main connected part (not the nearest node); searches start from both ends of that edge
with the right offsets, and two points on the same edge may also walk directly along it.

Coverage matrices keep pairs whose time is exactly zero (a site on top of a home) by storing
every time as at least :data:`TIME_FLOOR_MIN` minutes, so ``matrix.nnz``, ``matrix > 0`` and
``eliminate_zeros()`` never lose a covered pair.
"""

from __future__ import annotations

import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from . import _kernels as K
from ._safe_cells import write_csv
from .config import AccessSection, WALK_SPEEDS, resolve_walk_speed
from .errors import ProblemReport
from .messages import Text
from .network import WalkNetwork, csr_arrays, without_edges
from .walkcost import steps_mask, steps_speed_factor, walk_costs
from .progress import progress
from .threads import thread_count

log = logging.getLogger(__name__)

#: Smallest travel time stored in a coverage matrix (minutes): a pair at 0 min is stored as this,
#: so it is never an implicit (missing) zero of the sparse matrix.
TIME_FLOOR_MIN = 1e-6


# --------------------------------------------------------------------------------------------
# Snapping


@dataclass
class Snapped:
    """Points snapped to the main part of a walk network.

    Attributes (one entry per input point)
    ----------
    edge : int64, the edge snapped to, -1 when not snapped (off-network or fragment-only).
    pos : float64, distance (m) along the edge from its ``edge_u`` end to the snapped location.
    edge_len : float64, length (m) of that edge (0 when not snapped).
    access_m : float64, straight walk (m) from the point to the street (distance to the nearest
        edge of any part; inf for empty geometries).
    x, y : float64, snapped location (m); the original point when not snapped.
    off_network : bool, no street edge within ``max_m``.
    fragment_only : bool, only edges of disconnected fragments within ``max_m`` (or the main
        part lies more than the allowed extra distance beyond the nearest fragment).
    fragment_extra_m : float64, for points whose nearest street is a disconnected fragment: how
        much farther (m) the main-part street they were snapped to is; 0 otherwise.
    """

    edge: np.ndarray
    pos: np.ndarray
    edge_len: np.ndarray
    access_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    off_network: np.ndarray
    fragment_only: np.ndarray
    max_m: float = 250.0
    fragment_extra_m: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.fragment_extra_m is None:
            self.fragment_extra_m = np.zeros(len(self.edge))

    def __len__(self) -> int:
        return len(self.edge)

    @property
    def snapped(self) -> np.ndarray:
        return self.edge >= 0

    @property
    def off_u(self) -> np.ndarray:
        """Distance (m) along the edge to its ``edge_u`` end."""
        return self.pos

    @property
    def off_v(self) -> np.ndarray:
        """Distance (m) along the edge to its ``edge_v`` end."""
        return self.edge_len - self.pos

    def subset(self, idx: np.ndarray) -> "Snapped":
        return Snapped(self.edge[idx], self.pos[idx], self.edge_len[idx], self.access_m[idx],
                       self.x[idx], self.y[idx], self.off_network[idx], self.fragment_only[idx], self.max_m,
                       self.fragment_extra_m[idx])


def _edge_tree(net: WalkNetwork, main: bool) -> tuple[shapely.STRtree, np.ndarray]:
    key = "tree_main" if main else "tree_fragments"
    if key not in net.meta:
        idx = np.flatnonzero(net.main_edge_mask if main else ~net.main_edge_mask)
        net.meta[key] = (shapely.STRtree(net.edge_geometry[idx]), idx)
    return net.meta[key]


def _nearest(net: WalkNetwork, main: bool, pts: np.ndarray, max_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions in ``pts``, edge, distance m) of each point's nearest main (or fragment) edge
    within ``max_m``. Of edges at exactly the same distance (a home midway between two streets
    of a lattice) the one first in the whole network's order wins, also in a tile's part of it
    (``meta["edge_index"]``), so a tile snaps every point to the very edge the single run does."""
    tree, idx = _edge_tree(net, main)
    pairs, d = tree.query_nearest(pts, max_distance=max(max_m, 1e-9), return_distance=True, all_matches=True)
    edge = idx[pairs[1]]
    glob = net.meta.get("edge_index")
    key = edge if glob is None else np.where(edge < len(glob), glob[np.minimum(edge, len(glob) - 1)],
                                             len(glob) + edge)
    order = np.lexsort((key, pairs[0]))
    first = order[np.r_[True, pairs[0][order][1:] != pairs[0][order][:-1]]] if len(order) else order
    return pairs[0][first], edge[first], d[first]


def snap_points(net: WalkNetwork, geoms: Any, max_m: float = 250.0,
                fragment_max_extra_m: float | None = None) -> Snapped:
    """Snap points (or polygons, by their representative point) to the nearest location on the
    nearest main-part street edge within ``max_m`` metres.

    Points with no main-part edge within ``max_m`` are not snapped: ``off_network`` when no edge
    at all is that close, ``fragment_only`` when only a disconnected fragment is. A point whose
    nearest street is a fragment is snapped past it to the main part, and the extra distance is
    recorded (``fragment_extra_m``); beyond ``fragment_max_extra_m`` (m; None: up to ``max_m``)
    the point counts as fragment-only instead.
    """
    t0 = time.perf_counter()
    g = np.asarray(gpd.GeoSeries(geoms).values if not isinstance(geoms, np.ndarray) else geoms, dtype=object)
    n = len(g)
    empty = shapely.is_missing(g) | shapely.is_empty(g)
    pts = g.copy()
    notpt = ~empty & (shapely.get_type_id(np.where(empty, None, g)) != 0)
    pts[notpt] = shapely.point_on_surface(g[notpt])
    edge = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.inf)
    ok = np.flatnonzero(~empty)
    if net.n_edges and len(ok) and net.main_edge_mask.any():
        at, e, d = _nearest(net, True, pts[ok], max_m)
        edge[ok[at]] = e
        dist[ok[at]] = d
    extra = np.zeros(n)
    s = np.flatnonzero(edge >= 0)
    if len(s) and (~net.main_edge_mask).any():
        # homes whose nearest street is a fragment: snapped farther away, which must be listed
        at, _, d = _nearest(net, False, pts[s], max_m)
        closer = d < dist[s[at]] - 1e-9
        extra[s[at[closer]]] = dist[s[at[closer]]] - d[closer]
        if fragment_max_extra_m is not None:
            edge[extra > fragment_max_extra_m] = -1
    snapped = edge >= 0
    fragment_only = np.zeros(n, dtype=bool)
    rest = np.flatnonzero(~snapped & ~empty)
    if len(rest) and (~net.main_edge_mask).any():
        at, _, d = _nearest(net, False, pts[rest], max_m)
        fragment_only[rest[at]] = True
        dist[rest[at]] = d
    off_network = ~snapped & ~fragment_only
    pos = np.zeros(n)
    elen = np.zeros(n)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    xs[~empty] = shapely.get_x(pts[~empty])
    ys[~empty] = shapely.get_y(pts[~empty])
    s = np.flatnonzero(snapped)
    if len(s):
        eg = net.edge_geometry[edge[s]]
        elen[s] = net.edge_length[edge[s]]
        pos[s] = np.clip(shapely.line_locate_point(eg, pts[s]), 0.0, elen[s])
        loc = shapely.line_interpolate_point(eg, pos[s])
        xs[s] = shapely.get_x(loc)
        ys[s] = shapely.get_y(loc)
    log.info("snapped %s points in %.2f s: %s off-network, %s fragment-only", f"{n:,}",
             time.perf_counter() - t0, f"{int(off_network.sum()):,}", f"{int(fragment_only.sum()):,}")
    return Snapped(edge, pos, elen, dist, xs, ys, off_network, fragment_only, max_m, np.where(snapped, extra, 0.0))


# --------------------------------------------------------------------------------------------
# Searches


def _reverse_weights(net: WalkNetwork, weights: np.ndarray, adj_edge: np.ndarray,
                     slot_fwd: np.ndarray) -> np.ndarray:
    """Per adjacency slot a→b, the walk cost a→b (the CSR weight holds b→a); without costs the
    weights themselves."""
    if not net.has_costs:
        return weights
    return np.where(slot_fwd, net.cost_fwd[adj_edge], net.cost_bwd[adj_edge])


def _group_by_edge(net: WalkNetwork, snapped: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """CSR over edges of the snapped points: (ptr of length n_edges+1, point indices)."""
    valid = np.flatnonzero(snapped.edge >= 0)
    order = valid[np.argsort(snapped.edge[valid], kind="stable")]
    ptr = np.zeros(net.n_edges + 1, dtype=np.int64)
    np.cumsum(np.bincount(snapped.edge[valid], minlength=net.n_edges), out=ptr[1:])
    return ptr, order.astype(np.int64)


def cost_coords(net: WalkNetwork, snapped: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where snapped points sit in walk-cost terms (flat-equivalent m): (pb, pf, cf, cb) per point,
    the cost from the point back to its edge's u end, from the u end to the point, and the
    edge's costs u→v and v→u. The cost is spread evenly along an edge in each direction.
    Without costs these are the positions and edge lengths themselves (the same arrays)."""
    if not net.has_costs:
        return snapped.pos, snapped.pos, snapped.edge_len, snapped.edge_len
    e = np.maximum(snapped.edge, 0)
    ok = (snapped.edge >= 0) & (snapped.edge_len > 0)
    cf = np.where(snapped.edge >= 0, net.cost_fwd[e], 0.0)
    cb = np.where(snapped.edge >= 0, net.cost_bwd[e], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pf = np.where(ok, snapped.pos * (cf / snapped.edge_len), 0.0)
        pb = np.where(ok, snapped.pos * (cb / snapped.edge_len), 0.0)
    return pb, pf, cf, cb


def _seeds(net: WalkNetwork, snapped: Snapped, which: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seed nodes/costs (flat-equivalent m)/labels: both ends of each source's edge, at the cost
    of walking from that end to the source."""
    e = snapped.edge[which]
    pb, pf, _, cb = cost_coords(net, snapped)
    nodes = np.concatenate([net.edge_u[e], net.edge_v[e]]).astype(np.int64)
    dist = np.concatenate([snapped.access_m[which] + pf[which],
                           snapped.access_m[which] + cb[which] - pb[which]])
    label = np.concatenate([which, which]).astype(np.int64)
    return nodes, dist, label


def limit_metres(limit_min: float | None, speed_mps: float) -> float:
    """Walk limit in metres for a time limit (min) at a speed (m/s); inf for no limit."""
    return math.inf if limit_min is None else float(limit_min) * 60.0 * float(speed_mps)


def nearest_facility(net: WalkNetwork, demand_snapped: Snapped, facility_snapped: Snapped,
                     speed_mps: float, limit_min: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nearest facility and walk time (min) for every demand point, from one multi-source search.

    Returns (facility index into ``facility_snapped``, time in minutes); -1 and inf where no
    facility is reachable (within ``limit_min`` when given) or the point is not snapped.
    """
    t0 = time.perf_counter()
    m = len(demand_snapped)
    which = np.flatnonzero(facility_snapped.edge >= 0)
    if net.n_nodes == 0 or len(which) == 0 or m == 0:
        return np.full(m, -1, dtype=np.int64), np.full(m, np.inf)
    limit = limit_metres(limit_min, speed_mps)
    indptr, indices, weights, _ = csr_arrays(net)
    sn, sd, sl = _seeds(net, facility_snapped, which)
    dist, label = K.multi_source(indptr, indices, weights, sn, sd, sl, limit)
    fptr, fidx = _group_by_edge(net, facility_snapped)
    dpb, dpf, dcf, _ = cost_coords(net, demand_snapped)
    fpb, fpf, _, _ = cost_coords(net, facility_snapped)
    best, lab = K.points_from_nodes(
        dist, label, net.edge_u.astype(np.int64), net.edge_v.astype(np.int64),
        demand_snapped.edge, dpb, dpf, dcf, demand_snapped.access_m,
        fptr, fidx, fpb, fpf, facility_snapped.access_m, np.arange(len(facility_snapped), dtype=np.int64))
    over = best > limit
    best[over] = np.inf
    lab[over] = -1
    log.info("nearest facility for %s points from %s facilities in %.2f s", f"{m:,}", f"{len(which):,}",
             time.perf_counter() - t0)
    return lab, best / speed_mps / 60.0


def coverage_matrix(net: WalkNetwork, site_snapped: Snapped, demand_snapped: Snapped, speed_mps: float,
                    limit_min: float, batch_size: int = 256, n_threads: int | None = None) -> sp.csr_matrix:
    """Sparse sites × demand-points matrix of walk times (min) for pairs within ``limit_min``.

    Each site runs a Dijkstra search bounded by the limit (it settles only the nodes within
    reach); sites are processed in batches of ``batch_size`` on ``n_threads`` threads (default:
    all cores), so memory holds the result plus one node/point scratch array per thread — never a
    dense matrix. Times of 0 are stored as :data:`TIME_FLOOR_MIN`. Unsnapped sites have empty
    rows; unsnapped demand points empty columns.
    """
    t0 = time.perf_counter()
    n_sites, n_pts = len(site_snapped), len(demand_snapped)
    shape = (n_sites, n_pts)
    sources = np.flatnonzero(site_snapped.edge >= 0).astype(np.int64)
    if net.n_nodes == 0 or len(sources) == 0 or n_pts == 0:
        return sp.csr_matrix(shape, dtype=np.float64)
    # Nodes are numbered along a Z-order curve: searching sites in node order keeps neighbouring
    # searches on the same memory (about 15 % faster at city scale).
    sources = sources[np.argsort(net.edge_u[site_snapped.edge[sources]], kind="stable")]
    limit = limit_metres(limit_min, speed_mps)
    indptr, indices, weights, adj_edge = csr_arrays(net)
    eu, ev = net.edge_u.astype(np.int64), net.edge_v.astype(np.int64)
    tptr, tidx = _group_by_edge(net, demand_snapped)
    tacc = demand_snapped.access_m[tidx]
    dpb, dpf, _, _ = cost_coords(net, demand_snapped)
    tpb = dpb[tidx]
    tpf = tpb if dpf is dpb else dpf[tidx]  # without costs: one array, as before costs existed
    spb, spf, _, _ = cost_coords(net, site_snapped)
    # per adjacency slot: its targets and its direction along the edge geometry
    slot_t0 = tptr[adj_edge].astype(np.int32)  # int32: less memory traffic in the scan
    slot_t1 = tptr[adj_edge + 1].astype(np.int32)
    rows = np.repeat(np.arange(net.n_nodes, dtype=np.int64), np.diff(indptr))
    slot_fwd = eu[adj_edge] == rows
    wrev = _reverse_weights(net, weights, adj_edge, slot_fwd)
    batches = [sources[i:i + batch_size] for i in range(0, len(sources), batch_size)]
    n_threads = n_threads or thread_count(len(batches))

    def run(batch: np.ndarray):
        # scratch array per call: inf-filled, the kernel resets what it touches
        dist = np.full(net.n_nodes, np.inf)
        return K.bounded_pairs(indptr, indices, weights, wrev, adj_edge, slot_fwd, slot_t0, slot_t1,
                               eu, ev, net.cost_fwd, net.cost_bwd, tptr, tidx, tpb, tpf, tacc,
                               site_snapped.edge, spb, spf, site_snapped.access_m,
                               batch, limit, dist)

    if n_threads > 1:
        with ThreadPoolExecutor(n_threads) as pool:
            parts = list(progress(pool.map(run, batches), total=len(batches), desc="walk times", unit="batch"))
    else:
        parts = [run(b) for b in progress(batches, desc="walk times", unit="batch")]
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    vals = np.maximum(np.concatenate([p[2] for p in parts]) / speed_mps / 60.0, TIME_FLOOR_MIN)
    mat = sp.csr_matrix((vals, (rows, cols)), shape=shape)
    log.info("coverage matrix %s sites x %s points: %s pairs within %.1f min in %.2f s",
             f"{n_sites:,}", f"{n_pts:,}", f"{mat.nnz:,}", limit_min, time.perf_counter() - t0)
    return mat


# --------------------------------------------------------------------------------------------
# The whole access analysis


@dataclass
class AccessResult:
    """Everything the access stage produces; every number traceable to ``params``.

    demand : GeoDataFrame of demand points with ``nearest_facility_id``, ``time_min``,
        ``within_limit``, ``snapped``, ``off_network``, ``fragment_only``, ``access_m``,
        and ``nearest_<kind>_id`` / ``time_min_<kind>`` per facility kind.
    facility_matrix / candidate_matrix : csr (sites × demand points), minutes within the limit.
    facility_ids / candidate_ids : row order of the matrices; ``demand_ids`` the column order.
    isochrones : GeoDataFrame (site_id, kind, limit_min, geometry) of the facilities.
    communities / districts : access tables (see :func:`community_table`).
    unreachable : GeoDataFrame of points not on the main network (layer, id, reason, distance).
    sites : snap status of facilities and candidates.
    params : walk speed (m/s), limit (min, m), bands, snap distance, counts.
    """

    demand: gpd.GeoDataFrame
    facility_matrix: sp.csr_matrix
    candidate_matrix: sp.csr_matrix
    facility_ids: np.ndarray
    candidate_ids: np.ndarray
    demand_ids: np.ndarray
    isochrones: gpd.GeoDataFrame
    communities: pd.DataFrame
    districts: pd.DataFrame
    unreachable: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    params: dict[str, Any]
    network: WalkNetwork | None = field(default=None, repr=False)
    #: Compound gates used (gate_id, community_id, residents, public, x, y, street_name), when
    #: gated compounds were modelled; ``ungated`` lists compounds with homes but no usable gate.
    gates: pd.DataFrame | None = None
    ungated: pd.DataFrame | None = None
    #: The elevation model the walk costs used (:class:`~eldercare_coverage.walkcost.Dem`), if any.
    dem: Any | None = field(default=None, repr=False)


def compute_access(communities: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame | None,
                   candidates: gpd.GeoDataFrame | None, net: WalkNetwork, access_cfg: AccessSection,
                   buildings: gpd.GeoDataFrame | None = None, report: ProblemReport | None = None,
                   residential_landuse: gpd.GeoDataFrame | None = None,
                   gates: gpd.GeoDataFrame | None = None, dem: Any | None = None, *,
                   isochrone_sites: np.ndarray | None = None,
                   residents_ways: gpd.GeoDataFrame | None = None, tables: bool = True) -> AccessResult:
    """Run the access analysis: demand points, snapping, nearest facility (overall and per
    kind), coverage matrices of facilities and candidates, isochrones and the tables.

    All layers in the network's metric CRS with the canonical columns of :mod:`eldercare_coverage.schema`.
    Points not on the main network are listed in ``unreachable`` and, when ``report`` is given,
    as warnings. With ``gates`` (points) and ``access_cfg.gated_compounds = "auto"``, points inside
    a community polygon that has gates reach the streets through them (:mod:`.gates`), along the
    compound's internal ways where it has some (``residents_ways``: its residents-only ways,
    lines in the metric CRS with a ``highway`` column, beside the network's own edges). Steps
    are walked at ``access_cfg.steps_speed_factor`` (or left out with ``avoid_steps``) and, with
    ``dem`` (a :class:`~eldercare_coverage.walkcost.Dem`), slopes follow Tobler's function
    (:mod:`.walkcost`); times run from home to facility.
    ``isochrone_sites`` (bool per facility) draws isochrones for those facilities only (a tile
    of a scale-out run draws the ones it owns, :mod:`.compute`). ``tables=False`` leaves the
    community, district, unreachable and sites tables empty (a tile's are built again from the
    stitched demand).
    """
    from .demand import demand_points
    from .isochrones import isochrones as make_isochrones

    t0 = time.perf_counter()
    speed = resolve_walk_speed(access_cfg.walk_speed)
    limit = float(access_cfg.time_limit_min)
    facilities = _empty_sites(facilities, "facility_id", net)
    candidates = _empty_sites(candidates, "candidate_id", net)

    demand = demand_points(communities, spacing_m=access_cfg.grid_spacing_m, buildings=buildings,
                           residential_landuse=residential_landuse, max_points=access_cfg.max_demand_points)
    net, (ds, fs, cs), gated = _snap_all(net, access_cfg, communities, demand, facilities, candidates, gates,
                                         residents_ways)
    steps_factor = steps_speed_factor(access_cfg.walk_speed, access_cfg.steps_speed_factor)
    net = walk_costs(net, steps_factor, dem, report)  # after the gates: their links get costs too

    fac_ids = facilities["facility_id"].astype(str).to_numpy()
    fac_kind = facilities["kind"].astype(str).to_numpy() if "kind" in facilities else np.full(len(facilities), "")
    _add_nearest(demand, net, ds, fs, fac_ids, fac_kind, speed, limit, gated)
    fmat = coverage_matrix(net, fs, ds, speed, limit)
    cmat = coverage_matrix(net, cs, ds, speed, limit)
    bands = sorted({float(b) for b in access_cfg.bands_min} | {limit})
    # the polygons follow the demand's access model: snapped within snap_max_m of a street
    drawn = np.arange(len(fac_ids)) if isochrone_sites is None else np.flatnonzero(isochrone_sites)
    iso = make_isochrones(net, fs.subset(drawn), fac_ids[drawn], fac_kind[drawn], speed, limits_min=bands,
                          access_max_m=access_cfg.snap_max_m)

    if tables:
        comm, dist = community_table(demand, communities), district_table(demand)
        unreachable = _unreachable(demand, ds, facilities, fs, "facilities", "facility_id",
                                   candidates, cs, "candidates", "candidate_id", net.crs)
        sites = _sites_table(facilities, fs, "facility_id", candidates, cs, "candidate_id", net.crs)
    else:
        comm = dist = pd.DataFrame()
        unreachable = sites = gpd.GeoDataFrame(geometry=[], crs=net.crs)
    if report is not None and tables:
        _report_unreachable(unreachable, access_cfg.snap_max_m, report)
        _report_fragment_snaps(demand, report)
        if gated is not None:
            _report_ungated(gated, communities, report)
    params = _access_params(access_cfg, net, demand, ds, gated, speed=speed, limit=limit, bands=bands,
                            steps_factor=steps_factor, dem=dem)
    log.info("access analysis done in %.1f s (%s demand points, %s facilities, %s candidates)",
             time.perf_counter() - t0, f"{len(demand):,}", f"{len(facilities):,}", f"{len(candidates):,}")
    return AccessResult(demand, fmat, cmat, fac_ids, candidates["candidate_id"].astype(str).to_numpy(),
                        demand["point_id"].to_numpy(), iso, comm, dist, unreachable, sites, params, net,
                        gates=None if gated is None else gated.gates,
                        ungated=None if gated is None else gated.ungated, dem=dem)


def _snap_all(net: WalkNetwork, access_cfg: AccessSection, communities: gpd.GeoDataFrame,
              demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
              gates: gpd.GeoDataFrame | None, residents_ways: gpd.GeoDataFrame | None) -> tuple:
    """Demand points, facilities and candidates snapped to the walk network (without its steps
    when ``avoid_steps``), through the compounds' gates when those are modelled: (network,
    (demand, facilities, candidates) :class:`Snapped`, the gated snap or None)."""
    net = without_steps(net, access_cfg.avoid_steps)  # before snapping: nobody starts or ends on steps
    extra = access_cfg.fragment_max_extra_m
    ds = snap_points(net, demand.geometry.values, access_cfg.snap_max_m, extra)
    fs = snap_points(net, facilities.geometry.values, access_cfg.snap_max_m, extra)
    cs = snap_points(net, candidates.geometry.values, access_cfg.snap_max_m, extra)
    if gates is None or not len(gates) or access_cfg.gated_compounds != "auto":
        return net, (ds, fs, cs), None
    return snap_through_gates(
        net, communities, gates, [ds, fs, cs],
        [demand.geometry.values, facilities.geometry.values, candidates.geometry.values], [False, True, True],
        snap_max_m=access_cfg.snap_max_m, tolerance_m=access_cfg.gate_tolerance_m, hour=access_cfg.gate_hour,
        residents_ways=walked_residents_ways(residents_ways, access_cfg.avoid_steps))


def _add_nearest(demand: gpd.GeoDataFrame, net: WalkNetwork, ds: Snapped, fs: Snapped, fac_ids: np.ndarray,
                 fac_kind: np.ndarray, speed_mps: float, limit_min: float, gated: Any) -> None:
    """Add to ``demand`` its nearest facility and walk time (min), overall and per facility kind,
    whether that is within ``limit_min``, and how each point was snapped."""
    idx, tmin = nearest_facility(net, ds, fs, speed_mps)
    demand["nearest_facility_id"] = np.where(idx >= 0, fac_ids[np.maximum(idx, 0)] if len(fac_ids) else "", "")
    demand["time_min"] = tmin
    demand["within_limit"] = tmin <= limit_min
    demand["snapped"] = ds.snapped
    demand["off_network"] = ds.off_network
    demand["fragment_only"] = ds.fragment_only
    demand["access_m"] = ds.access_m
    demand["fragment_extra_m"] = ds.fragment_extra_m
    demand["via_gate"] = gated.joins[0] >= 0 if gated is not None else False
    for kind in sorted(set(fac_kind) - {""}):
        sel = fac_kind == kind
        sub = fs.subset(np.flatnonzero(sel))
        kidx, kt = nearest_facility(net, ds, sub, speed_mps)
        kids = fac_ids[sel]
        demand[f"nearest_{kind}_id"] = np.where(kidx >= 0, kids[np.maximum(kidx, 0)], "")
        demand[f"time_min_{kind}"] = kt


def _access_params(access_cfg: AccessSection, net: WalkNetwork, demand: gpd.GeoDataFrame, ds: Snapped, gated: Any,
                   *, speed: float, limit: float, bands: list[float], steps_factor: float,
                   dem: Any | None) -> dict[str, Any]:
    """The parameters and counts an access result is traceable to: walk speed (m/s), limit (min,
    m), bands (min), snap and grid distances (m), network and demand counts, gates, steps, slope."""
    preset = access_cfg.walk_speed if isinstance(access_cfg.walk_speed, str) and \
        access_cfg.walk_speed in WALK_SPEEDS else "custom"
    return {
        "walk_speed_mps": speed,
        "walk_speed_preset": preset,
        "time_limit_min": limit,
        "limit_m": limit_metres(limit, speed),
        "bands_min": bands,
        "snap_max_m": float(access_cfg.snap_max_m),
        "grid_spacing_m": float(access_cfg.grid_spacing_m),
        "network_source": net.source,
        "network_nodes": net.n_nodes,
        "network_edges": net.n_edges,
        "network_main_nodes": int(net.main_node_mask.sum()),
        "network_fragments": len(net.fragments),
        "demand_points": len(demand),
        "demand_methods": demand["method"].value_counts().to_dict(),
        "time_floor_min": TIME_FLOOR_MIN,
        "gated_compounds": access_cfg.gated_compounds if gated is not None else "off",
        "gates_used": 0 if gated is None else len(gated.gates),
        "demand_points_via_gates": int(demand["via_gate"].sum()),
        "compound_internal_ways": 0 if gated is None else gated.n_internal_ways,
        "fragment_max_extra_m": float(access_cfg.fragment_max_extra_m),
        "demand_points_past_fragment": int((ds.fragment_extra_m > 0).sum()),
        "steps_speed_factor": None if access_cfg.avoid_steps else steps_factor,
        "avoid_steps": bool(access_cfg.avoid_steps),
        "dem": "" if dem is None else str(dem.path),
        "slope_model": "tobler (scaled to the walk speed on the flat)" if dem is not None else "none (flat)",
    }


def without_steps(net: WalkNetwork, avoid_steps: bool) -> WalkNetwork:
    """The network without its steps when ``avoid_steps`` (wheelchair users)."""
    return without_edges(net, steps_mask(net)) if avoid_steps else net


def walked_residents_ways(ways: gpd.GeoDataFrame | None, avoid_steps: bool) -> gpd.GeoDataFrame | None:
    """The residents-only ways walked: without their steps for wheelchair users (``avoid_steps``)."""
    if ways is None or not avoid_steps or "highway" not in ways:
        return ways
    return ways[ways["highway"].astype(str) != "steps"]


def street_network(net: WalkNetwork, *, steps_factor: float, avoid_steps: bool, dem: Any | None = None,
                   report: ProblemReport | None = None) -> WalkNetwork:
    """The walk network as an analysis without compound gates searches it: without steps for
    wheelchair users (``avoid_steps``), steps at ``steps_factor`` × the flat speed and, given
    ``dem``, slopes (Tobler)."""
    return walk_costs(without_steps(net, avoid_steps), steps_factor, dem, report)


def snap_through_gates(net: WalkNetwork, compounds: gpd.GeoDataFrame, gates: gpd.GeoDataFrame,
                       snaps: list[Snapped], geoms: list[np.ndarray], visitor: list[bool],
                       snap_max_m: float = 250.0, tolerance_m: float = 10.0, hour: float = 10.0,
                       residents_ways: gpd.GeoDataFrame | None = None):
    """Link compound gates into ``net`` and re-snap the points inside gated compounds.

    ``snaps[k]`` are the nearest-street snaps of the points ``geoms[k]``; ``visitor[k]`` says
    whether set k is reached by visitors (public gates only) or is homes. Returns (the gated
    network, the snaps on it, the :class:`~eldercare_coverage.gates.GatedAccess`). Points in a
    compound without a usable gate keep their nearest-street snap. ``residents_ways`` (lines)
    are the compounds' residents-only ways, walked inside their own compound only.
    """
    from .gates import assign_gates, gated_network

    rows = assign_gates(gates, compounds, tolerance_m, hour)
    gate_snap = snap_points(net, shapely.points(rows["x"].to_numpy(float), rows["y"].to_numpy(float)), snap_max_m)
    gated = gated_network(net, compounds, rows, list(geoms), visitor, gate_snap, residents_ways, tolerance_m)
    out = [_joined(gated.network, s, j, g) for s, j, g in zip(snaps, gated.joins, geoms)]
    return gated.network, out, gated


def _joined(net: WalkNetwork, snapped: Snapped, join: np.ndarray, geoms: np.ndarray) -> Snapped:
    """Snaps on the gated network: points with a compound node sit at that end of its first link."""
    inside = np.flatnonzero(join >= 0)
    if not len(inside):
        return snapped
    first = np.full(net.n_nodes, -1, dtype=np.int64)
    order = np.arange(net.n_edges)[::-1]
    first[net.edge_v[order]] = order  # the last write wins: each node's lowest edge index
    first[net.edge_u[order]] = order  # a site is the u end of its links, a home the v end
    out = snapped.subset(np.arange(len(snapped)))
    e = first[join[inside]]
    at_v = net.edge_v[e] == join[inside]
    out.edge[inside] = e
    out.pos[inside] = np.where(at_v, net.edge_length[e], 0.0)
    out.edge_len[inside] = net.edge_length[e]
    out.access_m[inside] = 0.0
    out.x[inside] = shapely.get_x(geoms[inside])
    out.y[inside] = shapely.get_y(geoms[inside])
    out.off_network[inside] = False
    out.fragment_only[inside] = False
    out.fragment_extra_m[inside] = 0.0
    return out


def _empty_sites(gdf: gpd.GeoDataFrame | None, id_col: str, net: WalkNetwork) -> gpd.GeoDataFrame:
    if gdf is None:
        return gpd.GeoDataFrame({id_col: pd.Series(dtype=str), "kind": pd.Series(dtype=str)},
                                geometry=gpd.GeoSeries([], crs=net.crs), crs=net.crs)
    return gdf.reset_index(drop=True)


_SUMS = (("population", "residents"), ("elderly_population", "elderly"), ("households", "households"))


def _weighted_median(key: pd.Series, t: np.ndarray, w: np.ndarray) -> pd.Series:
    """Weighted median of ``t`` per ``key`` (equal weights in groups whose weights are unusable)."""
    df = pd.DataFrame({"k": key.to_numpy(), "t": t, "w": w, "f": np.isfinite(w)})
    g = df.groupby("k")
    bad = ~(g["f"].transform("all") & (g["w"].transform("sum") > 0))
    df.loc[bad.to_numpy(), "w"] = 1.0
    df = df.sort_values(["k", "t"], kind="stable")
    cum = df.groupby("k")["w"].cumsum()
    half = df.groupby("k")["w"].transform("sum") / 2.0
    return df[cum >= half - 1e-12].groupby("k")["t"].first()


def _access_table(demand: gpd.GeoDataFrame, key: str) -> pd.DataFrame:
    """Sums within the limit per ``key``; the limit is already applied in ``within_limit``."""
    within = demand["within_limit"].to_numpy()
    g = demand.groupby(key, sort=False)
    out = pd.DataFrame(index=pd.Index(g.size().index, name=key))
    for col, short in _SUMS:
        w = demand[col].astype(float)
        total = g[col].sum(min_count=1)
        inside = w.where(within, 0.0).groupby(demand[key], sort=False).sum(min_count=1)
        inside[total.isna()] = np.nan
        out[f"{short}_within"] = inside
        out[f"_{short}_total"] = total
        out[f"share_{short}_within"] = np.where(total > 0, inside / total.where(total > 0), np.nan)
    out["median_time_min"] = _weighted_median(demand[key], demand["time_min"].to_numpy(),
                                              demand["population"].astype(float).to_numpy())
    out["demand_points"] = g.size()
    off = (demand["off_network"] | demand["fragment_only"]).astype(int)
    out["off_network_points"] = off.groupby(demand[key], sort=False).sum()
    return out


def community_table(demand: gpd.GeoDataFrame, communities: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per community: residents / elderly / households within the limit, their shares, the
    population-weighted median time (min; inf when more than half reach no facility), number of
    demand points and of those off the network. One row per community, in input order."""
    t = _access_table(demand, "community_id")
    ids = communities["community_id"].astype(str)
    t = t.reindex(ids.to_numpy())
    t["demand_points"] = t["demand_points"].fillna(0).astype(int)
    t["off_network_points"] = t["off_network_points"].fillna(0).astype(int)
    t = t.reset_index().rename(columns={"index": "community_id"})
    return t[COMMUNITY_COLUMNS]


def district_table(demand: gpd.GeoDataFrame) -> pd.DataFrame:
    """The same figures as :func:`community_table`, per district."""
    d = demand.copy()
    d["district"] = d["district"].fillna("").astype(str)
    t = _access_table(d, "district").reset_index()
    return t[["district"] + COMMUNITY_COLUMNS[1:]].sort_values("district", ignore_index=True)


COMMUNITY_COLUMNS = ["community_id", "residents_within", "elderly_within", "households_within",
                     "share_residents_within", "share_elderly_within", "share_households_within",
                     "median_time_min", "demand_points", "off_network_points"]


def _unreachable(demand, ds, facilities, fs, fname, fid, candidates, cs, cname, cid, crs) -> gpd.GeoDataFrame:
    parts = []
    for layer, ids, snap, geoms in (
            ("demand_points", demand["point_id"].astype(str).to_numpy(), ds, demand.geometry.values),
            (fname, facilities[fid].astype(str).to_numpy(), fs, facilities.geometry.values),
            (cname, candidates[cid].astype(str).to_numpy(), cs, candidates.geometry.values)):
        bad = np.flatnonzero(~snap.snapped)
        if not len(bad):
            continue
        parts.append(gpd.GeoDataFrame({
            "layer": layer, "id": ids[bad],
            "community_id": demand["community_id"].to_numpy()[bad] if layer == "demand_points" else "",
            "reason": np.where(snap.fragment_only[bad], "fragment_only", "off_network"),
            "distance_to_street_m": snap.access_m[bad],
        }, geometry=np.asarray(geoms)[bad], crs=crs))
    if not parts:
        return gpd.GeoDataFrame({"layer": [], "id": [], "community_id": [], "reason": [],
                                 "distance_to_street_m": []}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    return pd.concat(parts, ignore_index=True)


def _sites_table(facilities, fs, fid, candidates, cs, cid, crs) -> gpd.GeoDataFrame:
    parts = []
    for layer, gdf, snap, col in (("facilities", facilities, fs, fid), ("candidates", candidates, cs, cid)):
        parts.append(gpd.GeoDataFrame({
            "layer": layer, "site_id": gdf[col].astype(str).to_numpy(),
            "kind": gdf["kind"].astype(str).to_numpy() if "kind" in gdf else "",
            "snapped": snap.snapped, "off_network": snap.off_network, "fragment_only": snap.fragment_only,
            "access_m": snap.access_m, "edge_index": snap.edge,
        }, geometry=gdf.geometry.values, crs=crs))
    return pd.concat(parts, ignore_index=True)


def _report_fragment_snaps(demand: gpd.GeoDataFrame, report: ProblemReport) -> None:
    """Homes whose nearest street is a disconnected fragment, snapped farther to the main network."""
    past = demand[demand["fragment_extra_m"] > 0]
    if not len(past):
        return
    per = past.groupby("community_id")["fragment_extra_m"].agg(["size", "max"]).sort_values("max", ascending=False)
    listing = [Text("reach.fragment_snap_item", id=cid, n=int(r["size"]), m=f"{r['max']:.0f}")
               for cid, r in per.head(10).iterrows()]
    more = Text("reach.more_communities", n=len(per) - 10) if len(per) > 10 else ""
    report.warning("demand_points", "reach.fragment_snaps", field="geometry", n=len(past), listing=listing, more=more)


def _report_ungated(gated, communities: gpd.GeoDataFrame, report: ProblemReport) -> None:
    ung = gated.ungated
    homes = ung[~ung["visitor"].astype(bool)]
    if not len(homes):
        return
    if not len(gated.gates):
        report.warning("gates", "reach.no_gates", field="geometry")
        return
    ids = communities["community_id"].astype(str).to_numpy()[np.unique(homes["compound"].to_numpy(int))]
    report.warning("gates", "reach.ungated", field="geometry", n=len(ids),
                   ids=", ".join(ids[:10]) + (" …" if len(ids) > 10 else ""))


def _report_unreachable(unreachable: gpd.GeoDataFrame, max_m: float, report: ProblemReport) -> None:
    for layer, grp in unreachable.groupby("layer", sort=False):
        off = grp[grp["reason"] == "off_network"]
        frag = grp[grp["reason"] == "fragment_only"]
        if len(off):
            ex = ", ".join(off["id"].head(5))
            report.warning(layer, "reach.off_network", field="geometry", n=len(off), m=f"{max_m:.0f}", examples=ex)
        if len(frag):
            ex = ", ".join(frag["id"].head(5))
            report.warning(layer, "reach.fragment_only", field="geometry", n=len(frag), examples=ex)


# --------------------------------------------------------------------------------------------
# Output


def write_access_outputs(result: AccessResult, gpkg_path: str | Path, community_csv_path: str | Path) -> None:
    """Write the GeoPackage (layers demand_points, isochrones, network_edges) and the
    per-community access table as CSV (UTF-8 with BOM, for Excel). Infinite times are written
    as empty (NULL) values."""
    gpkg_path, community_csv_path = Path(gpkg_path), Path(community_csv_path)
    gpkg_path.parent.mkdir(parents=True, exist_ok=True)
    community_csv_path.parent.mkdir(parents=True, exist_ok=True)
    demand = result.demand.copy()
    num = demand.select_dtypes("number").columns
    demand[num] = demand[num].replace([np.inf, -np.inf], np.nan)
    demand["walk_speed_mps"] = result.params["walk_speed_mps"]
    demand["time_limit_min"] = result.params["time_limit_min"]
    demand.to_file(gpkg_path, layer="demand_points", driver="GPKG")
    iso = result.isochrones
    if len(iso):
        iso = iso.copy()
        iso["walk_speed_mps"] = result.params["walk_speed_mps"]
        iso.to_file(gpkg_path, layer="isochrones", driver="GPKG")
    net = result.network
    if net is not None and net.n_edges:
        net.edges_gdf(net.main_edge_mask).to_file(gpkg_path, layer="network_edges", driver="GPKG")
    table = result.communities.copy()
    table = table.replace([np.inf, -np.inf], np.nan)
    table["walk_speed_mps"] = result.params["walk_speed_mps"]
    table["time_limit_min"] = result.params["time_limit_min"]
    write_csv(table, community_csv_path)  # spreadsheet-safe text cells
    log.info("wrote %s and %s", gpkg_path, community_csv_path)
