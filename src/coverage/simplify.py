"""The walk network of OSM way arrays, simplified as osmnx simplifies it, without networkx.

:func:`walk_graph` turns the walkable ways of a :class:`~eldercare_coverage.pbf.OsmWays` into the
nodes and edges that the graph reader builds from the same file (``network._graph_from_pbf``: a
networkx MultiDiGraph holding each segment both ways, ``osmnx.simplify_graph(G,
edge_attrs_differ=["is_steps", "is_level"])``, then ``network.network_from_graph``), rule for rule:

- **Segments**: consecutive located nodes of a way; a node missing from the file or outside the
  clip polygon's bounding box breaks the way there; a repeated node is no segment.
- **Clip**: nodes outside the lon/lat clip polygon go with their segments; a node left without
  segments stays, alone (``network._clip_graph`` leaves it so).
- **Endpoints** (osmnx's ``_is_endpoint``): a node is interstitial when it has exactly two
  segments, to two different neighbours, both steps or both not, both bridge/tunnel or both not;
  every other node is kept.
- **Edges**: each chain of interstitial nodes between two endpoints becomes one edge through
  them (a chain back to its endpoint: a self-loop), its tags the sorted distinct values of its
  segments joined by ";" (``network._tag_text``); a segment between two endpoints stays as it
  is. A ring of interstitial nodes only (an isolated loop) is dropped, as osmnx's
  ``remove_rings`` drops it.
- **Twins**: edges with the same two ends and the same length to the centimetre are kept once
  (``network_from_graph``), the first in networkx's order: a plain segment before a merged edge,
  the one whose first segment was met first in the file first.
- **Order and orientation**: nodes in networkx's order (where the reader first met them in the
  file; the caller then numbers them along a Z-order curve as ``network_from_graph`` does);
  edges as networkx lists them, each from its end listed first (a self-loop out through its
  segment met first), so that geometries run as ``network_from_graph`` orients them.

The result is the graph reader's network array for array (``tests/test_pbf_network.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import pandas as pd
import pyproj
import shapely

from .osmtags import NOT_LEVEL, WAY_TAGS
from .pbf import WALKABLE, OsmWays

#: Edge tag columns of a walk network, as ``network_from_graph`` writes them.
EDGE_TAGS = ("highway", "name", "osmid", "bridge", "tunnel")


@dataclass
class GraphArrays:
    """A simplified walk network: nodes (OSM ids, lon/lat in degrees, x/y in m in the metric
    CRS) and undirected edges (end node indices, LineString geometry in m, tag texts)."""

    node_id: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    geometry: np.ndarray
    attrs: pd.DataFrame


def walk_graph(ways: OsmWays, clip_wgs: Any | None, metric_crs: Any) -> GraphArrays:
    """The simplified walk network of the walkable ``ways`` (module docstring), clipped to the
    lon/lat polygon ``clip_wgs`` (None: all), with coordinates in ``metric_crs`` (m)."""
    node_id, lon, lat, seg_u, seg_v, seg_way = _raw_segments(ways, ways.kind == WALKABLE, clip_wgs)
    hw, bridge, tunnel = ways.values("highway"), ways.values("bridge"), ways.values("tunnel")
    level = ~np.isin(bridge, NOT_LEVEL) | ~np.isin(tunnel, NOT_LEVEL)  # osmtags.is_level, vectorised
    # steps and grade-separated ways stay edges of their own (network._simplify says why)
    seg_class = (2 * (hw == "steps") + level).astype(np.int8)[seg_way]
    endpoint, ptr, inc = _endpoints(len(node_id), seg_u, seg_v, seg_class)
    tf = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_user_input(metric_crs), always_xy=True)
    x, y = (np.asarray(c, dtype=np.float64) for c in tf.transform(lon, lat))
    eu, ev, geom, edge_seg, seg_ptr = _edges(endpoint, ptr, inc, seg_u, seg_v, x, y)
    owner = np.repeat(np.arange(len(eu)), np.diff(seg_ptr))
    attrs = _edge_tags(ways, owner, seg_way[edge_seg], len(eu))
    keep = np.flatnonzero(endpoint)  # interstitial and ring nodes go
    pos = np.full(len(node_id), -1, dtype=np.int64)
    pos[keep] = np.arange(len(keep))
    return GraphArrays(node_id[keep], lon[keep], lat[keep], x[keep], y[keep], pos[eu].astype(np.int32),
                       pos[ev].astype(np.int32), geom, attrs)


def _raw_segments(ways: OsmWays, walkable: np.ndarray, clip_wgs: Any | None) -> tuple[np.ndarray, ...]:
    """Nodes (OSM id, lon, lat) in the order a graph reader meets them, and the segments of the
    walkable ways (end node indices, way index) in file order, clipped."""
    count, refs = ways.count, ways.refs
    owner = np.repeat(np.arange(len(count)), count)
    stored = walkable[owner]  # the refs a graph reader stores
    if clip_wgs is not None:
        x0, y0, x1, y1 = shapely.bounds(clip_wgs)
        stored &= (ways.lon >= x0) & (ways.lon <= x1) & (ways.lat >= y0) & (ways.lat <= y1)
    pair = stored & ~ways.gap
    pair[np.cumsum(count) - count] = False  # a way's first node starts no segment
    b = np.flatnonzero(pair)
    b = b[stored[b - 1] & (refs[b - 1] != refs[b])]
    a = b - 1
    nodes, inv = np.unique(np.concatenate([refs[a], refs[b]]), return_inverse=True)
    # networkx keeps nodes in insertion order: where the reader first stored each
    seen = np.flatnonzero(stored)
    by_id = np.argsort(refs[seen], kind="stable")
    first = seen[by_id[np.searchsorted(refs[seen][by_id], nodes)]]
    order = np.argsort(first, kind="stable")
    index = np.empty(len(nodes), dtype=np.int64)
    index[order] = np.arange(len(nodes))
    first = first[order]
    node_id, lon, lat = nodes[order], ways.lon[first], ways.lat[first]
    seg_u, seg_v, seg_way = index[inv[:len(a)]], index[inv[len(a):]], owner[a]
    if clip_wgs is not None and len(node_id):
        inside = shapely.contains_xy(clip_wgs, lon, lat)
        index = np.cumsum(inside) - 1
        ok = inside[seg_u] & inside[seg_v]
        node_id, lon, lat = node_id[inside], lon[inside], lat[inside]
        seg_u, seg_v, seg_way = index[seg_u[ok]], index[seg_v[ok]], seg_way[ok]
    return node_id, lon, lat, seg_u, seg_v, seg_way


def _endpoints(n: int, seg_u: np.ndarray, seg_v: np.ndarray, seg_class: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Which of ``n`` nodes are endpoints (osmnx's rules), and the node → segment incidence
    as CSR (``ptr``, ``inc``; each node's segments in file order)."""
    m = len(seg_u)
    ends = np.concatenate([seg_u, seg_v])
    seg = np.concatenate([np.arange(m), np.arange(m)])
    order = np.lexsort((seg, ends))
    inc = seg[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ends, minlength=n), out=ptr[1:])
    two = np.flatnonzero(np.diff(ptr) == 2)
    s1, s2 = inc[ptr[two]], inc[ptr[two] + 1]
    # no segment is a self-loop: the far end is the sum of both ends less this one
    far1, far2 = seg_u[s1] + seg_v[s1] - two, seg_u[s2] + seg_v[s2] - two
    endpoint = np.ones(n, dtype=bool)
    endpoint[two[(far1 != far2) & (seg_class[s1] == seg_class[s2])]] = False
    return endpoint, ptr, inc


@numba.njit(cache=True)
def _chains(endpoint, ptr, inc, seg_u, seg_v):  # pragma: no cover (numba)
    """Walk every chain of interstitial nodes from its endpoints, in node order: the nodes of
    each chain (flat, with offsets) and its segments (flat; chain c's are at ``node_ptr[c] - c``
    onwards)."""
    m = seg_u.shape[0]
    used = np.zeros(m, dtype=np.bool_)
    nodes = np.empty(2 * m, dtype=np.int64)
    segs = np.empty(m, dtype=np.int64)
    node_ptr = np.zeros(m + 1, dtype=np.int64)
    nn, ns, c = 0, 0, 0
    for e in range(endpoint.shape[0]):
        if not endpoint[e]:
            continue
        for k in range(ptr[e], ptr[e + 1]):
            s = inc[k]
            t = seg_u[s] + seg_v[s] - e
            if used[s] or endpoint[t]:
                continue  # walked from its other end, or a plain segment
            nodes[nn] = e
            nn += 1
            while True:
                used[s] = True
                segs[ns] = s
                ns += 1
                nodes[nn] = t
                nn += 1
                if endpoint[t]:
                    break
                a = inc[ptr[t]]  # an interstitial node has exactly two segments
                s = inc[ptr[t] + 1] if a == s else a
                t = seg_u[s] + seg_v[s] - t
            c += 1
            node_ptr[c] = nn
    return nodes[:nn], node_ptr[:c + 1], segs[:ns]


def _oriented_chains(endpoint: np.ndarray, ptr: np.ndarray, inc: np.ndarray, seg_u: np.ndarray,
                     seg_v: np.ndarray) -> tuple[np.ndarray, ...]:
    """The chains (:func:`_chains`), each running from the end networkx lists first: its end
    met first in the file, or for a self-loop, out through its segment met first. Returns the
    nodes (flat), their offsets, the segments (flat, in the walked order) and each chain's
    first segment from that end."""
    cn, cptr, cs = _chains(endpoint, ptr, inc, seg_u.astype(np.int64), seg_v.astype(np.int64))
    nchain, lens = len(cptr) - 1, np.diff(cptr)
    head, tail = cn[cptr[:-1]], cn[cptr[1:] - 1]
    first_seg, last_seg = cs[cptr[:-1] - np.arange(nchain)], cs[cptr[1:] - np.arange(1, nchain + 1) - 1]
    flip = np.where(head == tail, last_seg < first_seg, tail < head)
    chain = np.repeat(np.arange(nchain), lens)
    at = np.arange(len(cn))
    cn = cn[np.where(flip[chain], cptr[:-1][chain] + cptr[1:][chain] - 1 - at, at)]
    return cn, cptr, cs, np.where(flip, last_seg, first_seg)


def _edges(endpoint: np.ndarray, ptr: np.ndarray, inc: np.ndarray, seg_u: np.ndarray, seg_v: np.ndarray,
           x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The simplified edges in networkx's order, twins dropped as ``network_from_graph`` drops
    them: ends (node indices), geometry (m), and each edge's segments (flat, with offsets)."""
    direct = np.flatnonzero(endpoint[seg_u] & endpoint[seg_v])
    du, dv = np.minimum(seg_u[direct], seg_v[direct]), np.maximum(seg_u[direct], seg_v[direct])
    cn, cptr, cs, start = _oriented_chains(endpoint, ptr, inc, seg_u, seg_v)
    nd, nchain = len(direct), len(cptr) - 1
    path = np.concatenate([np.stack([du, dv], axis=1).ravel(), cn])
    geom = shapely.linestrings(np.stack([x[path], y[path]], axis=1), indices=np.concatenate(
        [np.repeat(np.arange(nd), 2), nd + np.repeat(np.arange(nchain), np.diff(cptr))]))
    geom = np.asarray(geom, dtype=object).reshape(-1)
    eu, ev = np.concatenate([du, cn[cptr[:-1]]]), np.concatenate([dv, cn[cptr[1:] - 1]])
    lo, hi = np.minimum(eu, ev), np.maximum(eu, ev)
    seg, merged = np.concatenate([direct, start]).astype(np.int64), np.repeat(np.int64([0, 1]), [nd, nchain])
    # networkx lists an edge under its first end, its other end where that end's first segment
    # to it was added (plain segments first, merged edges after, in the order they were built);
    # the sort keys are packed into int64 (a lexsort's cost grows with its keys)
    ends = lo * np.int64(len(x)) + hi
    added = merged * np.int64(len(seg_u)) + seg
    by_pair = np.lexsort((added, ends))
    first = _group_starts(ends[by_pair])
    group = np.empty(len(seg), dtype=np.int64)
    group[by_pair] = np.cumsum(first) - 1
    slot = by_pair[first][group]  # the first edge added between the two ends
    order = np.lexsort((added, added[slot], eu))
    # reverse twins and parallels: one of each (ends, length to the cm), the first in that order
    length = np.round(shapely.length(geom), 2)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    by_key = np.lexsort((rank, length, ends))
    kept = order[np.sort(rank[by_key][_group_starts(ends[by_key], length[by_key])])]
    seg_ptr = np.concatenate([np.arange(nd + 1), nd + cptr[1:] - np.arange(1, nchain + 1)])
    edge_seg = np.concatenate([direct, cs])
    starts, sizes = seg_ptr[:-1][kept], np.diff(seg_ptr)[kept]
    flat = np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(sizes.sum())
    return eu[kept], ev[kept], geom[kept], edge_seg[flat], np.concatenate([[0], np.cumsum(sizes)])


def _group_starts(*keys: np.ndarray) -> np.ndarray:
    """Where a new group of equal ``keys`` rows starts in rows sorted by them."""
    start = np.ones(len(keys[0]), dtype=bool)
    if len(start) > 1:
        start[1:] = np.any([k[1:] != k[:-1] for k in keys], axis=0)
    return start


def _distinct(a: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an int array (sorting: numpy 2's hashing ``np.unique``
    takes seconds on millions of distinct values)."""
    a = np.sort(a)
    return a[_group_starts(a)]


def _edge_tags(ways: OsmWays, owner: np.ndarray, way: np.ndarray, n: int) -> pd.DataFrame:
    """Per edge, each of :data:`EDGE_TAGS` as ``network._tag_text`` writes it: the distinct
    values of its segments' ways, sorted and joined by ";" ("" with none)."""
    cols = {}
    for key in EDGE_TAGS:
        if key == "osmid":
            ids, rank = np.unique(ways.way_id[way], return_inverse=True)
            text = ids.astype(str).astype(object)
            by_text = np.argsort(text, kind="stable")  # osmnx's ids are sorted as text
            where = np.empty(len(ids), dtype=np.int64)
            where[by_text] = np.arange(len(ids))
            cols[key] = _joined_values(owner, where[rank.reshape(-1)], n, text[by_text])
        else:
            cols[key] = _joined_values(owner, ways.tags[way, WAY_TAGS.index(key)], n, ways.strings)
    return pd.DataFrame(cols)


def _joined_values(edge: np.ndarray, value: np.ndarray, n: int, table: np.ndarray) -> np.ndarray:
    """Per edge (of ``n``) its distinct ``table[value]`` (value ≥ 0; ``table`` sorted), in table
    order, joined by ";"; "" without one."""
    ok = value >= 0
    width = max(len(table), 1)
    key = _distinct(edge[ok].astype(np.int64) * width + value[ok])
    e, v = key // width, key % width
    count = np.bincount(e, minlength=n)
    start = np.searchsorted(e, np.arange(n))
    out = np.full(n, "", dtype=object)
    one = np.flatnonzero(count == 1)
    out[one] = table[v[start[one]]]
    for i in np.flatnonzero(count > 1).tolist():  # edges merged from ways that differ: few
        out[i] = ";".join(table[v[start[i]:start[i] + count[i]]].tolist())
    return out
