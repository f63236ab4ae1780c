"""The walk network: read OpenStreetMap (XML, PBF, GraphML) or download it, keep what people
can walk on, and turn it once into CSR arrays for fast shortest-path search.

Walking ignores one-way rules (as osmnx's walk network does): every kept way is usable in both
directions, so the network is stored as *undirected* edges; the CSR adjacency holds each edge
twice (u→v and v→u). Edge lengths are measured on the edge geometry in the metric CRS (m).
Walk *costs* (steps, slopes) may differ by direction; :func:`with_costs` sets them (the CSR then
holds, for each direction of search, the cost of the walk the other way: searches start at the
facilities and the walk runs from home to facility).

Disconnected pieces are kept in the arrays but the analysis uses the largest connected part
(:attr:`WalkNetwork.main_component`); the others are listed in :attr:`WalkNetwork.fragments`
and reported as warnings.
"""

from __future__ import annotations

import hashlib
import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

from .errors import ProblemReport
from .messages import ByLanguage, Text
from .osmtags import (  # noqa: F401 (the walk rules, re-exported where they always were)
    EXCLUDED_HIGHWAY, EXCLUDED_UNLESS_FOOT, GRADE_SEPARATED_FAST, WAY_TAGS, _first, is_level, is_walkable, residents_only)

if TYPE_CHECKING:
    from .pbf import WalkArrays

log = logging.getLogger(__name__)


@dataclass
class WalkNetwork:
    """An undirected walk network in a metric CRS, ready for search.

    Attributes
    ----------
    crs : pyproj.CRS
        Metric CRS of all coordinates (m).
    node_id : int64 array (n_nodes,)
        OSM node ids (or graph node labels when they are integers; else 0..n-1).
    x, y : float64 arrays (n_nodes,)
        Node coordinates (m).
    edge_u, edge_v : int32 arrays (n_edges,)
        End node indices; each edge's geometry runs from ``edge_u`` to ``edge_v``.
    edge_length : float64 array (n_edges,)
        Edge length along its geometry (m). Zero-length edges are kept.
    edge_geometry : object array of shapely LineStrings (n_edges,)
    edge_attrs : DataFrame (n_edges rows)
        highway, name, osmid of each edge (for output only).
    adj : scipy.sparse.csr_matrix (n_nodes × n_nodes)
        Directed adjacency of the *searches*, which run from facilities back towards homes: the
        entry (a, b) holds the walk cost from b to a (m; the edge length on a network without
        costs). Each undirected edge appears twice (a self-loop once), parallel edges are kept
        as separate entries (built from arrays, never summed).
    adj_edge : int32 array (adj.nnz,)
        The undirected edge behind each adjacency entry.
    component : int32 array (n_nodes,)
        Connected-component label of each node.
    main_component : int
        Label of the largest component (by node count); analysis runs on it.
    fragments : DataFrame
        One row per other component: component, nodes, edges, length_m, x, y (a node in it).
    source : str
        Where the network came from (file name or "download").
    """

    crs: pyproj.CRS
    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_geometry: np.ndarray
    edge_attrs: pd.DataFrame
    adj: sp.csr_matrix
    adj_edge: np.ndarray
    component: np.ndarray
    main_component: int
    fragments: pd.DataFrame
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    #: Walk cost of each edge along its geometry (u→v) and against it (v→u), in flat-equivalent
    #: metres (walk time × flat speed; see :mod:`.walkcost`). None: the edge length both ways.
    edge_cost_fwd: np.ndarray | None = None
    edge_cost_bwd: np.ndarray | None = None

    @property
    def cost_fwd(self) -> np.ndarray:
        """Walk cost (flat-equivalent m) of each edge from ``edge_u`` to ``edge_v``."""
        return self.edge_length if self.edge_cost_fwd is None else self.edge_cost_fwd

    @property
    def cost_bwd(self) -> np.ndarray:
        """Walk cost (flat-equivalent m) of each edge from ``edge_v`` to ``edge_u``."""
        return self.edge_length if self.edge_cost_bwd is None else self.edge_cost_bwd

    @property
    def has_costs(self) -> bool:
        """Whether walk costs differ from the edge lengths (steps, slopes)."""
        return self.edge_cost_fwd is not None or self.edge_cost_bwd is not None

    @property
    def n_nodes(self) -> int:
        return len(self.x)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def main_node_mask(self) -> np.ndarray:
        """Nodes in the main (largest) connected component."""
        return self.component == self.main_component

    @property
    def main_edge_mask(self) -> np.ndarray:
        """Edges in the main connected component."""
        return self.component[self.edge_u] == self.main_component

    def edges_gdf(self, mask: np.ndarray | None = None) -> gpd.GeoDataFrame:
        """Edges as a GeoDataFrame (edge_index, u, v, osm ids, length_m, highway, name,
        main_component flag); ``mask`` selects a subset (e.g. the edges used)."""
        idx = np.arange(self.n_edges) if mask is None else np.flatnonzero(mask)
        df = pd.DataFrame({
            "edge_index": idx,
            "u_osmid": self.node_id[self.edge_u[idx]],
            "v_osmid": self.node_id[self.edge_v[idx]],
            "length_m": self.edge_length[idx],
            "main_component": self.main_edge_mask[idx],
        })
        for col in self.edge_attrs.columns:
            df[col] = self.edge_attrs[col].to_numpy()[idx]
        return gpd.GeoDataFrame(df, geometry=self.edge_geometry[idx], crs=self.crs)

    def to_networkx(self) -> nx.MultiGraph:
        """The network as an undirected networkx MultiGraph keyed by node index (for checks)."""
        G = nx.MultiGraph()
        G.add_nodes_from(range(self.n_nodes))
        G.add_weighted_edges_from(
            zip(self.edge_u.tolist(), self.edge_v.tolist(), self.edge_length.tolist()), weight="length")
        return G


# --------------------------------------------------------------------------------------------
# Building from a graph / arrays


def network_from_arrays(x: np.ndarray, y: np.ndarray, edge_u: np.ndarray, edge_v: np.ndarray,
                        crs: Any, edge_geometry: np.ndarray | None = None,
                        node_id: np.ndarray | None = None, edge_attrs: pd.DataFrame | None = None,
                        source: str = "", report: ProblemReport | None = None,
                        oneway: np.ndarray | None = None, cost_fwd: np.ndarray | None = None,
                        cost_bwd: np.ndarray | None = None) -> WalkNetwork:
    """Build a :class:`WalkNetwork` from node coordinates (m) and undirected edge end indices.

    Edge geometries default to straight lines; lengths are measured on the geometries (m).
    ``oneway`` (bool per edge) makes an edge searchable from ``edge_u`` to ``edge_v`` only; the
    toolkit uses it for the links of gated compounds (:mod:`.gates`), never for streets.
    ``cost_fwd`` / ``cost_bwd`` are the walk costs u→v / v→u (flat-equivalent m; default the
    lengths), as :func:`with_costs` sets them.
    """
    t0 = time.perf_counter()
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = len(x)
    eu = np.asarray(edge_u, dtype=np.int32)
    ev = np.asarray(edge_v, dtype=np.int32)
    if edge_geometry is None:
        coords = np.stack([np.stack([x[eu], y[eu]], axis=1), np.stack([x[ev], y[ev]], axis=1)], axis=1)
        edge_geometry = shapely.linestrings(coords)
    edge_geometry = np.asarray(edge_geometry, dtype=object)
    length = shapely.length(edge_geometry).astype(np.float64)
    m = len(eu)
    # CSR of the symmetric adjacency built directly from arrays: parallel edges and zero
    # lengths stay separate explicit entries (a COO→CSR conversion would sum/drop them).
    # self-loops get a single entry (u→u twice would only duplicate work and outputs)
    twin = np.flatnonzero((eu != ev) & (True if oneway is None else ~np.asarray(oneway, dtype=bool)))
    rows = np.concatenate([eu, ev[twin]])
    cols = np.concatenate([ev, eu[twin]])
    eid = np.concatenate([np.arange(m, dtype=np.int32), twin.astype(np.int32)])
    order = np.lexsort((cols, rows))
    rows, cols, eid = rows[order], cols[order], eid[order]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    adj = sp.csr_matrix((_search_weights(length, eid, rows, eu, cost_fwd, cost_bwd),
                         cols.astype(np.int32), indptr), shape=(n, n))
    # Components from a deduplicated copy (scipy is fine with summed duplicates for that).
    ncomp, comp = connected_components(
        sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n)), directed=False)
    comp = comp.astype(np.int32)
    sizes = np.bincount(comp, minlength=ncomp)
    main = int(np.argmax(sizes)) if n else 0
    # A node with no edge is not a "fragment" worth reporting; components with edges are.
    edge_comp = comp[eu]
    e_count = np.bincount(edge_comp, minlength=ncomp)
    e_len = np.bincount(edge_comp, weights=length, minlength=ncomp)
    first_node = np.full(ncomp, -1, dtype=np.int64)
    first_node[comp[::-1]] = np.arange(n)[::-1]
    frag_ids = np.flatnonzero((np.arange(ncomp) != main) & (e_count > 0))
    fragments = pd.DataFrame({
        "component": frag_ids,
        "nodes": sizes[frag_ids],
        "edges": e_count[frag_ids],
        "length_m": e_len[frag_ids],
        "x": x[first_node[frag_ids]],
        "y": y[first_node[frag_ids]],
    }).sort_values("length_m", ascending=False, ignore_index=True)
    if edge_attrs is None:
        edge_attrs = pd.DataFrame(index=range(m))
    net = WalkNetwork(
        crs=pyproj.CRS.from_user_input(crs), node_id=(np.arange(n, dtype=np.int64) if node_id is None
                                                      else np.asarray(node_id, dtype=np.int64)),
        x=x, y=y, edge_u=eu, edge_v=ev, edge_length=length, edge_geometry=edge_geometry,
        edge_attrs=edge_attrs.reset_index(drop=True), adj=adj, adj_edge=eid, component=comp,
        main_component=main, fragments=fragments, source=source,
        edge_cost_fwd=None if cost_fwd is None else np.asarray(cost_fwd, dtype=np.float64),
        edge_cost_bwd=None if cost_bwd is None else np.asarray(cost_bwd, dtype=np.float64))
    log.info("built network: %s nodes, %s edges, %.1f km, main part %s nodes, %s fragments in %.2f s",
             f"{n:,}", f"{m:,}", length.sum() / 1000, f"{int(sizes[main]) if n else 0:,}",
             len(fragments), time.perf_counter() - t0)
    if report is not None and len(fragments):
        _report_fragments(net, report)
    return net


def _search_weights(length: np.ndarray, eid: np.ndarray, rows: np.ndarray, edge_u: np.ndarray,
                    cost_fwd: np.ndarray | None, cost_bwd: np.ndarray | None) -> np.ndarray:
    """CSR weights of the adjacency slots (``rows``: the node each leaves) on edges ``eid``. The
    searches run from facilities back to homes, so a slot leaving an edge's u end carries the
    walk v→u, and the reverse."""
    if cost_fwd is None and cost_bwd is None:
        return length[eid]
    cf = length if cost_fwd is None else np.asarray(cost_fwd, dtype=np.float64)
    cb = length if cost_bwd is None else np.asarray(cost_bwd, dtype=np.float64)
    return np.where(edge_u[eid] == rows, cb[eid], cf[eid])


def with_costs(net: WalkNetwork, cost_fwd: np.ndarray, cost_bwd: np.ndarray) -> WalkNetwork:
    """The network with walk costs u→v and v→u per edge (flat-equivalent m): same nodes, edges,
    geometry and components; only the search weights change. Costs equal to the lengths in
    both directions give back ``net`` itself, so a network without steps or slopes is searched
    exactly as before."""
    cf = np.asarray(cost_fwd, dtype=np.float64)
    cb = np.asarray(cost_bwd, dtype=np.float64)
    if np.array_equal(cf, net.edge_length) and np.array_equal(cb, net.edge_length):
        return net
    a = net.adj
    rows = np.repeat(np.arange(net.n_nodes), np.diff(a.indptr))
    data = _search_weights(net.edge_length, net.adj_edge, rows, net.edge_u, cf, cb)
    adj = sp.csr_matrix((data, a.indices, a.indptr), shape=a.shape)
    # spatial indexes depend on geometry only; search arrays (meta["csr"]) are rebuilt
    meta = {k: v for k, v in net.meta.items() if k.startswith("tree_")}
    return replace(net, adj=adj, edge_cost_fwd=cf, edge_cost_bwd=cb, meta=meta)


def without_edges(net: WalkNetwork, drop: np.ndarray) -> WalkNetwork:
    """The network less the edges in the boolean mask ``drop`` (e.g. steps for wheelchair users).
    Nodes keep their indices; edges are renumbered and components recomputed. For a network
    before gate links are added (one-way links are not carried over)."""
    keep = ~np.asarray(drop, dtype=bool)
    if keep.all():
        return net
    return network_from_arrays(
        net.x, net.y, net.edge_u[keep], net.edge_v[keep], net.crs, net.edge_geometry[keep], net.node_id,
        net.edge_attrs[keep], source=net.source,
        cost_fwd=None if net.edge_cost_fwd is None else net.edge_cost_fwd[keep],
        cost_bwd=None if net.edge_cost_bwd is None else net.edge_cost_bwd[keep])


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 lon/lat of metric coordinates (unchanged when the CRS is unknown)."""
    from pyproj import Transformer

    if crs is None:
        return x, y
    return Transformer.from_crs(crs, 4326, always_xy=True).transform(x, y)


def _report_fragments(net: WalkNetwork, report: ProblemReport) -> None:
    fr = net.fragments
    main_nodes = int(net.main_node_mask.sum())
    biggest = fr.head(5)
    # lon/lat, which a planner can paste into a web map (metric coordinates mean nothing to them)
    lon, lat = _to_lonlat(biggest["x"].to_numpy(), biggest["y"].to_numpy(), net.crs)
    listing = [Text("network.fragment_item", nodes=int(r.nodes), m=f"{r.length_m:.0f}", lon=f"{lo:.5f}",
                    lat=f"{la:.5f}") for r, lo, la in zip(biggest.itertuples(), lon, lat)]
    report.warning(net.source or "walk network", "network.fragments", n=len(fr), main=f"{main_nodes:,}",
                   listing=listing)


def network_from_graph(G: nx.MultiDiGraph | nx.Graph, metric_crs: Any, source: str = "",
                       report: ProblemReport | None = None) -> WalkNetwork:
    """Convert an osmnx-style graph (nodes with ``x``/``y``, edges with optional ``geometry``)
    into a :class:`WalkNetwork` in ``metric_crs``.

    The graph may be unprojected (``G.graph['crs']`` geographic, the osmnx default) or already
    projected. Edge directions are ignored; an edge and its reverse twin (same end nodes and
    length) are kept once.
    """
    src_crs = pyproj.CRS.from_user_input(G.graph.get("crs", "EPSG:4326"))
    dst_crs = pyproj.CRS.from_user_input(metric_crs)
    nodes = list(G.nodes)
    n = len(nodes)
    nx_ = np.fromiter((G.nodes[v]["x"] for v in nodes), dtype=np.float64, count=n)
    ny_ = np.fromiter((G.nodes[v]["y"] for v in nodes), dtype=np.float64, count=n)
    # Number nodes along a Z-order curve: neighbours in space get neighbouring indices, so the
    # searches touch nearby memory (OSM/osmnx order is arbitrary; this is worth ~1.5x).
    order = _z_order(nx_, ny_)
    nodes = [nodes[i] for i in order]
    nx_, ny_ = nx_[order], ny_[order]
    pos = {node: i for i, node in enumerate(nodes)}
    try:
        node_id = np.asarray(nodes, dtype=np.int64)
    except (TypeError, ValueError):
        node_id = np.arange(n, dtype=np.int64)
    tf = pyproj.Transformer.from_crs(src_crs, dst_crs, always_xy=True)
    x, y = tf.transform(nx_, ny_)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)

    if G.is_multigraph():
        edges = list(G.edges(keys=False, data=True))
    else:
        edges = list(G.edges(data=True))
    eu = np.fromiter((pos[u] for u, _, _ in edges), dtype=np.int64, count=len(edges))
    ev = np.fromiter((pos[v] for _, v, _ in edges), dtype=np.int64, count=len(edges))
    geoms = np.array([d.get("geometry") for _, _, d in edges], dtype=object)
    has = np.array([g is not None for g in geoms], dtype=bool)
    straight = shapely.linestrings(np.stack([
        np.stack([x[eu], y[eu]], axis=1), np.stack([x[ev], y[ev]], axis=1)], axis=1)) if len(edges) else \
        np.empty(0, dtype=object)
    if has.any():
        g = shapely.from_wkb(shapely.to_wkb(geoms[has])) if src_crs == dst_crs else \
            shapely.transform(geoms[has], lambda c: np.stack(tf.transform(c[:, 0], c[:, 1]), axis=1))
        # Orient each geometry from u to v (osmnx stores reversed geometries on some twins).
        start = shapely.get_point(g, 0)
        du = shapely.distance(start, shapely.points(x[eu[has]], y[eu[has]]))
        dv = shapely.distance(start, shapely.points(x[ev[has]], y[ev[has]]))
        flip = dv < du
        g[flip] = shapely.reverse(g[flip])
        straight[has] = g
    geom = straight
    length = shapely.length(geom)
    # Drop reverse twins: same unordered end pair and same length (to the centimetre).
    a, b = np.minimum(eu, ev), np.maximum(eu, ev)
    key = pd.DataFrame({"a": a, "b": b, "L": np.round(length, 2)})
    keep = ~key.duplicated().to_numpy()
    attrs = pd.DataFrame({
        "highway": [_tag_text(d.get("highway")) for _, _, d in edges],
        "name": [_tag_text(d.get("name")) for _, _, d in edges],
        "osmid": [_tag_text(d.get("osmid")) for _, _, d in edges],
        # bridges and tunnels: a slope is not read from the ground under them
        "bridge": [_tag_text(d.get("bridge")) for _, _, d in edges],
        "tunnel": [_tag_text(d.get("tunnel")) for _, _, d in edges],
    })[keep]
    return network_from_arrays(x, y, eu[keep], ev[keep], dst_crs, geom[keep], node_id, attrs,
                               source=source, report=report)


def _z_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Permutation sorting points along a Morton (Z-order) curve on a 2^16 grid."""
    if len(x) == 0:
        return np.arange(0)

    def spread(v: np.ndarray) -> np.ndarray:
        v = v.astype(np.uint64)
        for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
            v = (v | (v << np.uint64(shift))) & np.uint64(mask)
        return v

    def scale(v: np.ndarray) -> np.ndarray:
        lo, hi = np.nanmin(v), np.nanmax(v)
        return np.nan_to_num((v - lo) / (hi - lo if hi > lo else 1.0) * 65535.0)

    code = spread(scale(x)) | (spread(scale(y)) << np.uint64(1))
    return np.argsort(code, kind="stable")


def _tag_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (list, tuple, set)):
        # osmnx merges the tags of simplified edges through sets: their order changes from run to
        # run (string hashing), and so would the outputs and the basemap's street classes and names
        return ";".join(sorted({str(v) for v in value}))
    return str(value)


# --------------------------------------------------------------------------------------------
# Which ways people walk on (the rules: :mod:`.osmtags`)


def _filter_walkable(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True) if not is_walkable(d)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([v for v in list(G.nodes) if G.degree(v) == 0])
    return G


def _clip_graph(G: nx.MultiDiGraph, clip_wgs84: Any | None) -> nx.MultiDiGraph:
    """Keep nodes inside the clip polygon (lon/lat) and the edges between them."""
    if clip_wgs84 is None or G.number_of_nodes() == 0:
        return G
    nodes = list(G.nodes)
    xs = np.fromiter((G.nodes[v]["x"] for v in nodes), dtype=np.float64, count=len(nodes))
    ys = np.fromiter((G.nodes[v]["y"] for v in nodes), dtype=np.float64, count=len(nodes))
    inside = shapely.contains_xy(clip_wgs84, xs, ys)
    G.remove_nodes_from([v for v, ok in zip(nodes, inside) if not ok])
    return G


def _clip_polygon(area: Any | None, metric_crs: Any, margin_m: float) -> tuple[Any, Any]:
    """Study area plus margin, in the metric CRS and in lon/lat."""
    if area is None:
        return None, None
    clip = shapely.buffer(area, margin_m)
    tf = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(metric_crs), "EPSG:4326", always_xy=True)
    clip_wgs = shapely.transform(shapely.segmentize(clip, 200.0),
                                 lambda c: np.stack(tf.transform(c[:, 0], c[:, 1]), axis=1))
    return clip, clip_wgs


# --------------------------------------------------------------------------------------------
# Loading


def load_walk_network(path: str | Path, metric_crs: Any, area: Any | None = None,
                      margin_m: float = 1500.0, report: ProblemReport | None = None) -> WalkNetwork:
    """Read a walk network from ``.osm`` / ``.osm.bz2`` (OSM XML), ``.osm.pbf`` or ``.graphml``.

    XML goes through osmnx (simplified by ``osmnx.simplify_graph``); a PBF is read by the block
    decoder and simplified in arrays to the same network, without networkx
    (:func:`_network_from_pbf`), so that a province extract takes seconds and fits in memory.

    Parameters
    ----------
    path : file to read.
    metric_crs : the study's metric CRS (distances in m).
    area : shapely geometry of the study area in ``metric_crs``; when given the network is
        clipped to it plus ``margin_m`` (m).
    report : problems are added here (unreadable file: error; fragments: warning). Without a
        report an unreadable file raises :class:`eldercare_coverage.errors.InputError`.

    Returns
    -------
    WalkNetwork (empty, with an error in ``report``, when the file cannot be used).
    """
    path = Path(path)
    own = report is None
    report = report if report is not None else ProblemReport()
    t0 = time.perf_counter()
    name = path.name.lower()
    _, clip_wgs = _clip_polygon(area, metric_crs, margin_m)
    net: WalkNetwork | None = None
    try:
        if not path.exists():
            report.error(path, "network.not_found")
        elif name.endswith(".graphml"):
            G = _load_graphml(path, report)
            if G is None:
                pass
            elif "highway" in next(iter(G.edges(data=True)), (0, 0, {}))[2]:
                G = _filter_walkable(G)
            if G is not None:
                if clip_wgs is not None and pyproj.CRS.from_user_input(G.graph.get("crs", "EPSG:4326")).is_geographic:
                    G = _clip_graph(G, clip_wgs)
                net = network_from_graph(G, metric_crs, source=str(path), report=report)
        elif name.endswith(".pbf"):
            net = _network_from_pbf(path, clip_wgs, metric_crs, report)
        elif name.endswith((".osm", ".osm.bz2", ".xml", ".osm.xml", ".xml.bz2")):
            G = _graph_from_xml(path, clip_wgs)
            net = network_from_graph(G, metric_crs, source=str(path), report=report)
        else:
            report.error(path, "network.unknown_format")
    except (OSError, ValueError, KeyError, EOFError, RuntimeError) as exc:
        report.error(path, "network.unreadable", detail=str(exc))
        net = None
    except Exception as exc:  # osmnx/osmium raise their own types for malformed files
        report.error(path, "network.unreadable", detail=f"{type(exc).__name__}: {exc}")
        net = None
    if net is not None and net.n_edges == 0:
        report.error(path, "network.no_streets")
    if net is None:
        net = network_from_arrays(np.empty(0), np.empty(0), np.empty(0, np.int32), np.empty(0, np.int32),
                                  metric_crs, source=str(path))
    else:
        log.info("loaded walk network %s: %s nodes, %s edges in %.1f s", path.name,
                 f"{net.n_nodes:,}", f"{net.n_edges:,}", time.perf_counter() - t0)
    if own:
        report.raise_if_errors()
    return net


def _load_graphml(path: Path, report: ProblemReport) -> nx.MultiDiGraph | None:
    """A GraphML graph whose nodes carry coordinates ``x``/``y``; None after reporting the missing ones.

    Edge ``length`` is not needed: lengths are measured on the edge geometry (straight between
    the end nodes when an edge has none).
    """
    import osmnx as ox

    try:
        G = ox.load_graphml(path)
    except AttributeError:  # typed attributes (networkx, QGIS) where osmnx expects its own text
        G = nx.read_graphml(path, force_multigraph=True)
        G = G if G.is_directed() else G.to_directed()
    lacking = {a: [v for v, d in G.nodes(data=True) if a not in d] for a in ("x", "y")}
    missing = [a for a, nodes in lacking.items() if nodes]
    if not missing:
        return G
    found = sorted({k for _, d in G.nodes(data=True) for k in d})
    first = lacking[missing[0]][0]
    report.error(path, "network.graphml_no_xy", field=missing[0], n=len(lacking[missing[0]]),
                 total=G.number_of_nodes(), first=first,
                 missing=ByLanguage(lambda lang: ("和" if lang == "zh" else " and ").join(repr(a) for a in missing)),
                 found=", ".join(found) or "–")
    return None


def _graph_from_xml(path: Path, clip_wgs: Any | None) -> nx.MultiDiGraph:
    """OSM XML (optionally bzip2-compressed) → simplified walkable lon/lat MultiDiGraph."""
    import osmnx as ox

    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(WAY_TAGS))
    try:
        with warnings.catch_warnings():
            # osmnx warns on XML that osmnx itself wrote (e.g. a saved drive graph); reading it
            # with bidirectional=True is exactly what we want, so the warning is noise here.
            warnings.filterwarnings("ignore", message=".*generated by OSMnx.*")
            # osmnx decompresses by the .bz2 suffix itself
            G = ox.graph_from_xml(path, bidirectional=True, simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = saved
    G = _filter_walkable(G)
    G = _clip_graph(G, clip_wgs)
    return _simplify(G)


def _simplify(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    import osmnx as ox

    if G.number_of_edges() == 0:
        return G
    G.graph.pop("simplified", None)
    # Steps stay edges of their own (their walk cost differs, and wheelchair users avoid them),
    # so a flight of steps is never merged into the footway it continues; so do bridges and
    # tunnels, whose grade is not the ground's under them (see walkcost).
    for _, _, d in G.edges(data=True):
        d["is_steps"] = _first(d.get("highway")) == "steps"
        d["is_level"] = is_level(d)
    return ox.simplify_graph(G, edge_attrs_differ=["is_steps", "is_level"])


def highway_ways(path: str | Path):
    """Every way of an OSM PBF tagged highway=*, as (way, its :data:`WAY_TAGS` as a dict), with
    node locations. Nodes are read only for the location cache; osmium's C++ key filter hands
    over just the highway-tagged ways (and the rare such nodes, dropped here)."""
    import osmium

    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.KeyFilter("highway"))
    for way in fp:
        if way.is_way():
            yield way, {k: way.tags.get(k) for k in WAY_TAGS if k in way.tags}


def _network_from_pbf(path: Path, clip_wgs: Any | None, metric_crs: Any, report: ProblemReport) -> WalkNetwork:
    """OSM PBF → the walk network, clipped, simplified as osmnx does (:mod:`.simplify`): the
    network :func:`_graph_from_pbf` and :func:`network_from_graph` give, read by the block
    decoder (:func:`.pbf.read_osm_ways`; pyosmium for a file it does not read) and built in
    arrays, without networkx: a province in seconds where the graph took many minutes."""
    from . import pbf, simplify

    g = simplify.walk_graph(pbf.read_osm_ways(path), clip_wgs, metric_crs)
    # nodes along a Z-order curve of their lon/lat, in networkx's order within a cell, as
    # network_from_graph numbers them
    order = _z_order(g.lon, g.lat)
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    return network_from_arrays(g.x[order], g.y[order], pos[g.edge_u], pos[g.edge_v], metric_crs, g.geometry,
                               g.node_id[order], g.attrs, source=str(path), report=report)


def network_from_walk_arrays(arrays: WalkArrays, metric_crs: Any, source: str = "") -> WalkNetwork:
    """:class:`~eldercare_coverage.pbf.WalkArrays` as a :class:`WalkNetwork` (straight
    segments, not simplified)."""
    attrs = pd.DataFrame({"highway": arrays.highway, "osmid": arrays.way_id})
    return network_from_arrays(arrays.x, arrays.y, arrays.edge_u, arrays.edge_v, metric_crs,
                               node_id=arrays.node_id, edge_attrs=attrs, source=source)


def _graph_from_pbf(path: Path, clip_wgs: Any | None) -> nx.MultiDiGraph:
    """OSM PBF → walkable lon/lat MultiDiGraph, clipped while reading (pyosmium): the first
    reader, kept as the reference :func:`_network_from_pbf` is tested and measured against."""
    bbox = None if clip_wgs is None else shapely.bounds(clip_wgs)
    us: list[int] = []
    vs: list[int] = []
    tags_of: list[dict] = []
    way_ids: list[int] = []
    coords: dict[int, tuple[float, float]] = {}
    for way, tags in highway_ways(path):
        if not is_walkable(tags):
            continue
        prev = None
        for nd in way.nodes:
            loc = nd.location
            if not loc.valid():
                prev = None
                continue
            lon, lat = loc.lon, loc.lat
            if bbox is not None and not (bbox[0] <= lon <= bbox[2] and bbox[1] <= lat <= bbox[3]):
                prev = None  # clipped while reading: nodes outside the box never get stored
                continue
            coords[nd.ref] = (lon, lat)
            if prev is not None and prev != nd.ref:
                us.append(prev)
                vs.append(nd.ref)
                tags_of.append(tags)
                way_ids.append(way.id)
            prev = nd.ref
    G = nx.MultiDiGraph(crs="EPSG:4326")
    for ref, (lon, lat) in coords.items():
        G.add_node(ref, x=lon, y=lat)
    for u, v, tags, wid in zip(us, vs, tags_of, way_ids):
        d = dict(tags, osmid=wid, oneway=False, reversed=False)
        G.add_edge(u, v, **d)
        G.add_edge(v, u, **dict(d, reversed=True))
    G.remove_nodes_from([v for v in list(G.nodes) if G.degree(v) == 0])
    G = _clip_graph(G, clip_wgs)
    return _simplify(G)


def download_walk_network(area_wgs84_polygon: Any, cache_dir: str | Path,
                          report: ProblemReport | None = None) -> Path:
    """Download the walk network inside a lon/lat polygon through osmnx and cache it as GraphML.

    The cache file name is a hash of the polygon, so a second call with the same area reads the
    file instead of the network. Returns the GraphML path; load it with :func:`load_walk_network`.
    """
    import osmnx as ox

    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(shapely.to_wkb(shapely.normalize(area_wgs84_polygon))).hexdigest()[:16]
    target = cache_dir / f"walk-{digest}.graphml"
    if target.exists():
        log.info("using cached walk network %s", target)
        return target
    saved = list(ox.settings.useful_tags_way)
    ox.settings.useful_tags_way = sorted(set(saved) | set(WAY_TAGS))
    try:
        G = ox.graph_from_polygon(area_wgs84_polygon, network_type="walk", retain_all=True)
    except Exception as exc:
        if report is None:
            raise
        report.error("OpenStreetMap download", "network.download_failed", detail=str(exc))
        return target
    finally:
        ox.settings.useful_tags_way = saved
    ox.save_graphml(G, target)
    log.info("downloaded walk network: %s nodes, cached at %s", f"{G.number_of_nodes():,}", target)
    return target


# --------------------------------------------------------------------------------------------
# Compound gates in the OSM file

#: Node tags read as compound gates: ``barrier=gate|entrance|…`` or any ``entrance=*``.
GATE_BARRIERS = frozenset({"gate", "entrance", "lift_gate", "swing_gate", "sliding_gate"})
GATE_NODE_TAGS = ("barrier", "entrance", "access", "opening_hours", "name")


def _is_gate(tags: dict[str, str]) -> bool:
    return tags.get("barrier", "") in GATE_BARRIERS or bool(tags.get("entrance"))


def read_osm_gates(path: str | Path, clip_wgs: Any | None = None) -> gpd.GeoDataFrame:
    """Gate and entrance nodes of an OSM file (XML, XML.bz2 or PBF), as lon/lat points.

    Columns: gate_id ("osm-node/<id>"), barrier, entrance, access, opening_hours, name.
    Nodes outside ``clip_wgs`` (a lon/lat polygon) are skipped. GraphML holds no such nodes:
    an empty frame is returned for it.
    """
    path = Path(path)
    name = path.name.lower()
    rows: list[dict] = []
    if name.endswith(".pbf"):
        import osmium

        fp = osmium.FileProcessor(str(path), osmium.osm.NODE).with_filter(
            osmium.filter.KeyFilter("barrier", "entrance"))
        for node in fp:
            tags = {k: node.tags.get(k, "") for k in GATE_NODE_TAGS}
            if node.location.valid() and _is_gate(tags):
                rows.append(dict(tags, id=node.id, lon=node.location.lon, lat=node.location.lat))
    elif not name.endswith(".graphml"):
        rows = _xml_gates(path)
    gdf = gpd.GeoDataFrame(
        {"gate_id": [f"osm-node/{r['id']}" for r in rows],
         **{k: [r.get(k, "") for r in rows] for k in GATE_NODE_TAGS}},
        geometry=gpd.points_from_xy([r["lon"] for r in rows], [r["lat"] for r in rows]), crs="EPSG:4326")
    if clip_wgs is not None and len(gdf):
        gdf = gdf[shapely.contains_xy(clip_wgs, gdf.geometry.x.to_numpy(), gdf.geometry.y.to_numpy())]
    return gdf.reset_index(drop=True)


def _xml_gates(path: Path) -> list[dict]:
    """Gate nodes of OSM XML, streamed (a city extract never sits in memory as a tree)."""
    import bz2
    import xml.etree.ElementTree as ET

    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    rows: list[dict] = []
    with opener(path, "rb") as fh:
        for _, elem in ET.iterparse(fh, events=("end",)):
            if elem.tag == "node":
                tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                if _is_gate(tags):
                    rows.append({**{k: tags.get(k, "") for k in GATE_NODE_TAGS}, "id": int(elem.get("id")),
                                 "lon": float(elem.get("lon")), "lat": float(elem.get("lat"))})
                elem.clear()
            elif elem.tag in ("way", "relation"):
                elem.clear()
    return rows



# --------------------------------------------------------------------------------------------
# Residents-only ways (compound-internal footways)


def read_residents_ways(path: str | Path, clip_wgs: Any | None = None) -> gpd.GeoDataFrame:
    """The residents-only ways (:func:`residents_only`) of an OSM file (XML, XML.bz2 or PBF) as
    lon/lat lines with columns osmid, highway, bridge, tunnel. Ways wholly outside ``clip_wgs``
    are skipped. GraphML (already filtered) holds none: an empty frame is returned for it."""
    path = Path(path)
    name = path.name.lower()
    rows: list[tuple[int, dict, np.ndarray]] = []
    if name.endswith(".pbf"):
        return _residents_frame(path, clip_wgs)
    if not name.endswith(".graphml"):
        rows = _xml_residents_ways(path)
    rows = [r for r in rows if len(r[2]) >= 2]
    lines = np.array([shapely.linestrings(r[2]) for r in rows], dtype=object)
    gdf = gpd.GeoDataFrame({"osmid": [r[0] for r in rows],
                            **{k: [_first(r[1].get(k)) for r in rows] for k in ("highway", "bridge", "tunnel")}},
                           geometry=gpd.GeoSeries(lines, crs="EPSG:4326"), crs="EPSG:4326")
    if clip_wgs is not None and len(gdf):
        gdf = gdf[shapely.intersects(clip_wgs, gdf.geometry.to_numpy())]
    return gdf.reset_index(drop=True)


def _residents_frame(path: Path, clip_wgs: Any | None) -> gpd.GeoDataFrame:
    """:func:`read_residents_ways` of a PBF, from the block decoder's arrays (those kept from
    the network's read of the file when it was read already)."""
    from . import pbf

    ways = pbf.residents_ways(path)
    ways = ways.select(ways.count >= 2)  # a line needs two nodes
    lines = shapely.linestrings(np.stack([ways.lon, ways.lat], axis=1),
                                indices=np.repeat(np.arange(len(ways.count)), ways.count)) if len(ways.count) else []
    gdf = gpd.GeoDataFrame({"osmid": ways.way_id, **{k: ways.values(k) for k in ("highway", "bridge", "tunnel")}},
                           geometry=gpd.GeoSeries(np.asarray(lines, dtype=object), crs="EPSG:4326"), crs="EPSG:4326")
    if clip_wgs is not None and len(gdf):
        gdf = gdf[shapely.intersects(clip_wgs, gdf.geometry.to_numpy())]
    return gdf.reset_index(drop=True)


def _xml_residents_ways(path: Path) -> list[tuple[int, dict, np.ndarray]]:
    """Residents-only ways of OSM XML, streamed; node coordinates kept in compact arrays."""
    import array
    import bz2
    import xml.etree.ElementTree as ET

    opener = bz2.open if path.name.lower().endswith(".bz2") else open
    ids, lon, lat = array.array("q"), array.array("d"), array.array("d")
    ways: list[tuple[int, dict, list[int]]] = []
    with opener(path, "rb") as fh:
        for _, elem in ET.iterparse(fh, events=("end",)):
            if elem.tag == "node":
                ids.append(int(elem.get("id")))
                lon.append(float(elem.get("lon")))
                lat.append(float(elem.get("lat")))
                elem.clear()
            elif elem.tag == "way":
                tags = {t.get("k"): t.get("v") for t in elem.iter("tag")}
                if "highway" in tags and residents_only(tags):
                    ways.append((int(elem.get("id")), tags, [int(n.get("ref")) for n in elem.iter("nd")]))
                elem.clear()
            elif elem.tag == "relation":
                elem.clear()
    nid = np.frombuffer(ids, dtype=np.int64)
    order = np.argsort(nid)
    nid, xs, ys = nid[order], np.frombuffer(lon)[order], np.frombuffer(lat)[order]
    out = []
    for wid, tags, refs in ways:
        r = np.asarray(refs, dtype=np.int64)
        k = np.minimum(np.searchsorted(nid, r), max(len(nid) - 1, 0))
        ok = (nid[k] == r) if len(nid) else np.zeros(len(r), bool)
        out.append((wid, tags, np.stack([xs[k[ok]], ys[k[ok]]], axis=1)))
    return out


def csr_arrays(net: WalkNetwork) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, lengths float64, adjacency edge int32), cached on the net.

    int32 node/edge indices halve the memory traffic of int64 in the search loops."""
    if "csr" not in net.meta:
        a = net.adj
        net.meta["csr"] = (a.indptr.astype(np.int64), a.indices.astype(np.int32),
                           a.data.astype(np.float64), net.adj_edge.astype(np.int32))
    return net.meta["csr"]
