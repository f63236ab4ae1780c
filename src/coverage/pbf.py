"""A province or country ``.osm.pbf`` read once into walk-network arrays, without networkx.

:func:`read_walk_arrays` decodes the PBF blocks straight into numpy arrays
(:mod:`._pbf_blocks`: zlib and a numba kernel on threads) — every node's location, and for each
``highway``-keyed way (``osmium.filter.KeyFilter("highway")``'s rule) its refs and the tags
the walk rule reads — then looks the refs up in bulk and applies the same walkability rule as
every other reader (:func:`eldercare_coverage.network.is_walkable`), once per tag combination.
Files the decoder does not read go through pyosmium (:func:`read_walk_arrays_osmium`, the
first version: identical arrays, far slower; README "Scale-out" has the figures). Each pair of
consecutive nodes becomes an edge (the network is not simplified: for the access engine a
chain of straight segments walks exactly like the simplified edge with that geometry).

:func:`tile_networks` cuts the arrays into per-tile CSR arrays (``indptr``/``indices``/lengths
plus coordinates, int32/float64) and :func:`write_tile_networks` writes them as ``.npz``.
"""

from __future__ import annotations

import logging
import time
from array import array
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyproj

from .network import WAY_TAGS, is_walkable

log = logging.getLogger(__name__)


@dataclass
class WalkArrays:
    """Walkable street segments of an OSM file: node ids and metric coordinates (m), and one
    undirected edge per segment (node positions), with its way id and ``highway`` value."""

    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray
    ways_read: int
    seconds: float

    @property
    def edge_length(self) -> np.ndarray:
        """Straight length (m) of each segment."""
        return np.hypot(self.x[self.edge_u] - self.x[self.edge_v], self.y[self.edge_u] - self.y[self.edge_v])


def read_walk_arrays(path: str | Path, metric_crs, *, bbox: tuple[float, float, float, float] | None = None
                     ) -> WalkArrays:
    """The walkable segments of ``path`` (``.osm.pbf``, or any format osmium reads) in
    ``metric_crs``; ``bbox`` (lon/lat min x, min y, max x, max y) drops nodes outside it.

    A PBF is decoded block by block into arrays (:mod:`._pbf_blocks`, numba, on threads);
    anything else, or a PBF using a feature that decoder does not read, goes through pyosmium
    (:func:`read_walk_arrays_osmium`). Both give identical arrays."""
    from ._pbf_blocks import UnsupportedPbf

    t0 = time.perf_counter()
    try:
        parts = _decode_pbf(path)
    except (UnsupportedPbf, ValueError) as exc:
        log.info("%s: %s; reading it through pyosmium", Path(path).name, exc)
        return read_walk_arrays_osmium(path, metric_crs, bbox=bbox)
    ways, (refs, lons, lats, counts, way_ids, highways) = parts
    arrays = _segments(refs, lons, lats, counts, way_ids, highways, metric_crs, bbox)
    arrays.ways_read = ways
    arrays.seconds = time.perf_counter() - t0
    log.info("decoded %s highway ways (%s walkable segments) from %s in %.1f s (%.0f ways/s)", f"{ways:,}",
             f"{len(arrays.edge_u):,}", Path(path).name, arrays.seconds, ways / max(arrays.seconds, 1e-9))
    return arrays


def _decode_pbf(path: str | Path) -> tuple[int, tuple[np.ndarray, ...]]:
    """Highway ways read (what ``KeyFilter("highway")`` passes) and, for the walkable ones in
    file order, the flat node refs and lon/lat with a valid location, nodes per way, way ids
    and ``highway`` values: what the pyosmium loop collects, from decoded blocks."""
    from ._pbf_blocks import UnsupportedPbf, decoded_blocks

    strings: list[str] = []
    string_id: dict[str, int] = {}
    # ways share few tag combinations: the rule runs once per combination
    walkable: dict[tuple, bool] = {}
    ways = 0
    nodes, kept = [], []
    for data, s_off, s_len, nid, nx, ny, wid, nref, refs, wval, late in decoded_blocks(path, WAY_TAGS):
        if late or (kept and len(nid)):
            # osmium locates a way's nodes from those read before it: exact only when sorted
            raise UnsupportedPbf("nodes after highway ways (an unsorted file)")
        nodes.append((nid, nx.astype(np.int32), ny.astype(np.int32)))  # osmium's int32 fixed point
        if not len(wid):
            continue
        ways += len(wid)
        # block string indices -> file-wide ids (-1: key absent), through a table (no sort)
        table = np.full(len(s_off) + 1, -1, dtype=np.int64)
        used = np.zeros(len(s_off) + 1, dtype=bool)
        used[wval.ravel() + 1] = True
        for s in (np.flatnonzero(used[1:])).tolist():
            text = data[s_off[s]:s_off[s] + s_len[s]].tobytes().decode("utf-8")
            table[s + 1] = string_id.setdefault(text, len(strings))
            if table[s + 1] == len(strings):
                strings.append(text)
        gval = table[wval + 1]
        combos, which = _unique_rows(gval)
        ok = np.empty(len(combos), dtype=bool)
        for i, row in enumerate(combos.tolist()):
            key = tuple(row)
            if key not in walkable:
                walkable[key] = is_walkable({k: strings[g] for k, g in zip(WAY_TAGS, row) if g >= 0})
            ok[i] = walkable[key]
        keep = ok[which]
        kept.append((wid[keep], nref[keep], refs[np.repeat(keep, nref)], gval[keep, 0]))
    return ways, _locate(nodes, kept, np.asarray(strings, dtype=object))


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D int array and each row's index among them (``np.unique(axis=0)``
    sorts rows as opaque bytes, 40x slower than this lexsort)."""
    order = np.lexsort(a.T)
    s = a[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = np.any(s[1:] != s[:-1], axis=1)
    which = np.empty(len(a), dtype=np.int64)
    which[order] = np.cumsum(first) - 1
    return s[first], which


def _locate(nodes: list, kept: list, strings: np.ndarray) -> tuple[np.ndarray, ...]:
    """Look every way's refs up in the file's nodes (as osmium's location index does) and keep
    the refs with a valid location and the ways with at least two of them. Empties the lists
    as it concatenates them (a province's parts are hundreds of MB)."""
    def joined(parts: list, i: int, dtype) -> np.ndarray:
        return np.concatenate([p[i] for p in parts]) if parts else np.zeros(0, dtype)

    node_id, x, y = joined(nodes, 0, np.int64), joined(nodes, 1, np.int32), joined(nodes, 2, np.int32)
    del nodes[:]
    if len(node_id) > 1 and not np.all(node_id[1:] > node_id[:-1]):  # nodes not in id order
        order = np.argsort(node_id, kind="stable")
        node_id, x, y = node_id[order], x[order], y[order]
        if np.any(node_id[1:] == node_id[:-1]):  # which copy osmium's index returns is its own affair
            raise UnsupportedPbf("duplicate node ids")
    way_id, nref, refs, hw = (joined(kept, i, np.int64) for i in range(4))
    del kept[:]
    pos = np.minimum(np.searchsorted(node_id, refs), max(len(node_id) - 1, 0))
    # osmium's default index holds no negative ids: such nodes have no location
    valid = (node_id[pos] == refs) & (refs >= 0) if len(node_id) else np.zeros(len(refs), bool)
    rx, ry = x[pos], y[pos]
    del pos, node_id, x, y
    # osmium's Location.valid(): within ±180° / ±90° in 1e-7 degrees
    valid &= (rx >= -1_800_000_000) & (rx <= 1_800_000_000) & (ry >= -900_000_000) & (ry <= 900_000_000)
    owner = np.repeat(np.arange(len(way_id), dtype=np.int32), nref)
    counts = np.bincount(owner[valid], minlength=len(way_id))
    ok = counts >= 2
    valid &= ok[owner]
    del owner
    # osmium's lon/lat: the fixed-point int32 divided by 1e7 in double
    return (refs[valid], rx[valid] / 1e7, ry[valid] / 1e7, counts[ok].astype(np.int64), way_id[ok],
            strings[hw[ok]])


def read_walk_arrays_osmium(path: str | Path, metric_crs, *,
                            bbox: tuple[float, float, float, float] | None = None) -> WalkArrays:
    """:func:`read_walk_arrays` through pyosmium's object iterator, for any format osmium reads
    (XML, bz2, history files, other compressions); the reference the decoder is tested
    against. About 7,000-11,000 ways/s: every way is a Python object, and iterating its tags
    costs ~40 µs a way (pyosmium ends the tag iterator with a C++ exception)."""
    import osmium

    t0 = time.perf_counter()
    # typed arrays, not lists: 8 bytes per value instead of a Python object each
    refs, lons, lats = array("q"), array("d"), array("d")
    counts: list[int] = []
    way_ids: list[int] = []
    highways: list[str] = []
    ways = 0
    wanted = frozenset(WAY_TAGS)
    # ways share few tag combinations: the rule runs once per combination
    walkable: dict[tuple, bool] = {}
    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.KeyFilter("highway"))
    for obj in fp:
        if not obj.is_way():
            continue
        ways += 1
        key = tuple(sorted((t.k, t.v) for t in obj.tags if t.k in wanted))
        ok = walkable.get(key)
        if ok is None:
            ok = walkable[key] = is_walkable(dict(key))
        if not ok:
            continue
        tags = dict(key)
        nodes = [(n.ref, n.location.lon, n.location.lat) for n in obj.nodes if n.location.valid()]
        if len(nodes) < 2:
            continue
        r, lo, la = zip(*nodes)
        refs.extend(r)
        lons.extend(lo)
        lats.extend(la)
        counts.append(len(nodes))
        way_ids.append(obj.id)
        highways.append(tags["highway"])
    arrays = _segments(np.frombuffer(refs, dtype=np.int64), np.frombuffer(lons), np.frombuffer(lats),
                       np.asarray(counts, dtype=np.int64), np.asarray(way_ids, dtype=np.int64),
                       np.asarray(highways, dtype=object), metric_crs, bbox)
    arrays.ways_read = ways
    arrays.seconds = time.perf_counter() - t0
    log.info("read %s highway ways (%s walkable segments) from %s in %.1f s (%.0f ways/s)", f"{ways:,}",
             f"{len(arrays.edge_u):,}", Path(path).name, arrays.seconds, ways / max(arrays.seconds, 1e-9))
    return arrays


def _segments(refs, lons, lats, counts, way_ids, highways, metric_crs, bbox) -> WalkArrays:
    """Consecutive node pairs of every way as edges between unique nodes (vectorised)."""
    start = np.cumsum(counts) - counts
    pair = np.ones(len(refs), dtype=bool)
    pair[start] = False  # a way's first node starts no segment
    owner = np.repeat(np.arange(len(counts)), counts)
    a, b = np.flatnonzero(pair) - 1, np.flatnonzero(pair)
    if bbox is not None:
        inside = (lons >= bbox[0]) & (lons <= bbox[2]) & (lats >= bbox[1]) & (lats <= bbox[3])
        keep = inside[a] & inside[b]
        a, b = a[keep], b[keep]
    keep = refs[a] != refs[b]  # a repeated node is no segment
    a, b = a[keep], b[keep]
    used, inv = np.unique(np.concatenate([refs[a], refs[b]]), return_inverse=True)
    first = np.zeros(len(used), dtype=np.int64)
    first[inv] = np.concatenate([a, b])  # any occurrence: a node's location is the same in every way
    tf = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_user_input(metric_crs), always_xy=True)
    x, y = tf.transform(lons[first], lats[first])
    n = len(a)
    return WalkArrays(used, np.asarray(x), np.asarray(y), inv[:n].astype(np.int32), inv[n:].astype(np.int32),
                      way_ids[owner[a]], highways[owner[a]], 0, 0.0)


def tile_networks(arrays: WalkArrays, zones: dict[str, object]) -> dict[str, dict[str, np.ndarray]]:
    """Per tile: the CSR arrays of the segments with an end inside its zone (a shapely geometry
    in the arrays' CRS): ``x``, ``y``, ``node_id`` (int64), ``indptr`` (int64), ``indices``
    (int32), ``length`` (float64, m) and ``edge`` (int32, the segment behind each entry)."""
    import shapely

    out = {}
    for name, zone in zones.items():
        inside = shapely.contains_xy(zone, arrays.x, arrays.y)
        e = np.flatnonzero(inside[arrays.edge_u] | inside[arrays.edge_v])
        u, v = arrays.edge_u[e].astype(np.int64), arrays.edge_v[e].astype(np.int64)
        nodes, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
        lu, lv = inv[:len(e)], inv[len(e):]
        rows, cols = np.concatenate([lu, lv]), np.concatenate([lv, lu])
        eid = np.concatenate([e, e])
        order = np.lexsort((cols, rows))
        indptr = np.zeros(len(nodes) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(nodes)), out=indptr[1:])
        length = np.hypot(arrays.x[u] - arrays.x[v], arrays.y[u] - arrays.y[v])
        out[name] = {"x": arrays.x[nodes], "y": arrays.y[nodes], "node_id": arrays.node_id[nodes],
                     "indptr": indptr, "indices": cols[order].astype(np.int32),
                     "length": np.concatenate([length, length])[order], "edge": eid[order].astype(np.int32)}
    return out


def write_tile_networks(tiles: dict[str, dict[str, np.ndarray]], folder: str | Path) -> list[Path]:
    """One ``<tile>.npz`` per tile in ``folder``; returns the files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, arrays in tiles.items():
        path = folder / f"{name}.npz"
        np.savez(path, **arrays)
        files.append(path)
    return files


def network_from_walk_arrays(arrays: WalkArrays, metric_crs, source: str = ""):
    """The arrays as a :class:`~eldercare_coverage.network.WalkNetwork` (straight segments)."""
    import pandas as pd

    from .network import network_from_arrays

    attrs = pd.DataFrame({"highway": arrays.highway, "osmid": arrays.way_id})
    return network_from_arrays(arrays.x, arrays.y, arrays.edge_u, arrays.edge_v, metric_crs,
                               node_id=arrays.node_id, edge_attrs=attrs, source=source)
