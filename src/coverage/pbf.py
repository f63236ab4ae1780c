"""A province or country ``.osm.pbf`` read once into arrays, without networkx.

:func:`read_osm_ways` decodes the PBF blocks straight into numpy arrays (:mod:`._pbf_blocks`:
zlib and a numba kernel on threads) — every node's location, and for each ``highway``-keyed way
(``osmium.filter.KeyFilter("highway")``'s rule) its refs and every tag of
:data:`~eldercare_coverage.osmtags.WAY_TAGS` — then looks the refs up in bulk and keeps the
walkable ways and the residents-only ones (the rules of :mod:`.osmtags`, run once per tag
combination). Files the decoder does not read go through pyosmium (:func:`read_osm_ways_osmium`,
the first version: identical arrays, far slower; README "Scale-out" has the figures).

:func:`read_walk_arrays` makes each pair of consecutive nodes of a walkable way an edge (not
simplified: for the access engine a chain of straight segments walks exactly like the simplified
edge with that geometry); :func:`eldercare_coverage.network.load_walk_network` simplifies the
same ways as osmnx does (:mod:`.simplify`). The residents-only ways of the last file read are
kept (:func:`residents_ways`), so that a study's compounds need no second read of its file.

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

from .osmtags import WAY_TAGS, is_walkable, residents_only

log = logging.getLogger(__name__)

#: The kinds of way kept: the public walk network, and the residents-only ways
#: (:func:`~eldercare_coverage.osmtags.residents_only`) walked inside gated compounds.
WALKABLE, RESIDENTS = 1, 2


@dataclass
class OsmWays:
    """The walkable and residents-only highway ways of an OSM file, in file order, each with its
    node refs that have a location (at least one: a graph reader stores a way's lone located node,
    and the order it met nodes in numbers them) and the :data:`WAY_TAGS` it carries.

    ``lon``/``lat`` are osmium's (degrees: the 1e-7 fixed point in double). ``gap`` marks a ref
    that follows refs without a location in its way (nodes missing from the file): graph readers
    break the way there. ``tags[i, k]`` indexes way i's value of ``WAY_TAGS[k]`` in ``strings``
    (sorted, so that two readers give identical arrays), -1 when the way has no such tag."""

    way_id: np.ndarray
    count: np.ndarray
    refs: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    gap: np.ndarray
    tags: np.ndarray
    strings: np.ndarray
    kind: np.ndarray
    ways_read: int = 0
    seconds: float = 0.0

    def select(self, keep: np.ndarray) -> OsmWays:
        """The ways of the boolean mask ``keep`` (one per way)."""
        # the kept ways' ref positions only (a mask over every ref costs more than the few ways kept)
        k = np.flatnonzero(keep)
        c = self.count[k]
        starts = np.cumsum(self.count) - self.count
        at = np.repeat(starts[k] - np.cumsum(c) + c, c) + np.arange(int(c.sum()))
        return OsmWays(self.way_id[keep], self.count[keep], self.refs[at], self.lon[at], self.lat[at], self.gap[at],
                       self.tags[keep], self.strings, self.kind[keep], self.ways_read, self.seconds)

    def values(self, key: str) -> np.ndarray:
        """Each way's value of ``key`` (one of :data:`WAY_TAGS`) as text, "" without one."""
        table = np.concatenate([self.strings, np.array([""], dtype=object)])
        return table[self.tags[:, WAY_TAGS.index(key)]]


@dataclass
class WalkArrays:
    """Walkable street segments of an OSM file: node ids and metric coordinates (m), and one
    undirected edge per segment (node positions), with its way id and ``highway`` value;
    ``edge_way`` indexes each edge's way in ``tags`` (its :data:`WAY_TAGS` values as indices in
    ``strings``, -1: absent, as in :class:`OsmWays`)."""

    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    way_id: np.ndarray
    highway: np.ndarray
    ways_read: int
    seconds: float
    edge_way: np.ndarray | None = None
    tags: np.ndarray | None = None
    strings: np.ndarray | None = None

    @property
    def edge_length(self) -> np.ndarray:
        """Straight length (m) of each segment."""
        return np.hypot(self.x[self.edge_u] - self.x[self.edge_v], self.y[self.edge_u] - self.y[self.edge_v])


def read_walk_arrays(path: str | Path, metric_crs, *, bbox: tuple[float, float, float, float] | None = None
                     ) -> WalkArrays:
    """The walkable segments of ``path`` (``.osm.pbf``, or any format osmium reads) in
    ``metric_crs``; ``bbox`` (lon/lat min x, min y, max x, max y) drops nodes outside it. A way
    is broken where a node is missing from the file (no straight edge across the gap). Read by
    :func:`read_osm_ways` (the block decoder, else pyosmium: identical arrays)."""
    t0 = time.perf_counter()
    arrays = _segments(read_osm_ways(path), metric_crs, bbox)
    arrays.seconds = time.perf_counter() - t0
    ways = arrays.ways_read
    log.info("read %s highway ways (%s walkable segments) from %s in %.1f s (%.0f ways/s)", f"{ways:,}",
             f"{len(arrays.edge_u):,}", Path(path).name, arrays.seconds, ways / max(arrays.seconds, 1e-9))
    return arrays


def read_walk_arrays_osmium(path: str | Path, metric_crs, *,
                            bbox: tuple[float, float, float, float] | None = None) -> WalkArrays:
    """:func:`read_walk_arrays` through pyosmium (:func:`read_osm_ways_osmium`): the reference."""
    t0 = time.perf_counter()
    arrays = _segments(read_osm_ways_osmium(path), metric_crs, bbox)
    arrays.seconds = time.perf_counter() - t0
    return arrays


#: The residents-only ways of the last OSM file read (a few thousand ways at most), keyed on the
#: file (path, size, mtime): a study reads its compounds' ways after its network, from one read.
_LAST_RESIDENTS: dict = {}


def file_key(path: str | Path) -> tuple | None:
    """(resolved path, size, mtime in ns) of a file, None when it cannot be read."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None
    return str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns


def read_osm_ways(path: str | Path) -> OsmWays:
    """The walkable and residents-only ways of ``path``: a PBF through the block decoder; any
    other file, or a PBF using a feature the decoder does not read, through pyosmium
    (:func:`read_osm_ways_osmium`). Both give identical arrays. Remembers the residents-only ways
    for :func:`residents_ways`."""
    from ._pbf_blocks import UnsupportedPbf

    t0 = time.perf_counter()
    try:
        ways = _decode_pbf(path)
    except (UnsupportedPbf, ValueError) as exc:
        log.info("%s: %s; reading it through pyosmium", Path(path).name, exc)
        ways = read_osm_ways_osmium(path)
    ways.seconds = time.perf_counter() - t0
    _LAST_RESIDENTS.clear()
    _LAST_RESIDENTS.update(key=file_key(path), ways=ways.select(ways.kind == RESIDENTS))
    log.info("decoded %s highway ways (%s kept) from %s in %.1f s (%.0f ways/s)", f"{ways.ways_read:,}",
             f"{len(ways.way_id):,}", Path(path).name, ways.seconds, ways.ways_read / max(ways.seconds, 1e-9))
    return ways


def residents_ways(path: str | Path) -> OsmWays:
    """The residents-only ways of ``path``: those remembered from the last read of this file
    (unchanged since), else read now."""
    key = file_key(path)
    if key is None or _LAST_RESIDENTS.get("key") != key:
        read_osm_ways(path)
    return _LAST_RESIDENTS["ways"]


def _kind(tags: dict[str, str]) -> int:
    """:data:`WALKABLE`, :data:`RESIDENTS` or 0 (not kept) for a way's tags."""
    return WALKABLE if is_walkable(tags) else RESIDENTS if residents_only(tags) else 0


def _decode_pbf(path: str | Path) -> OsmWays:
    """The kept ways of a PBF from its decoded blocks: what the pyosmium loop collects."""
    from ._pbf_blocks import UnsupportedPbf, decoded_blocks

    strings: list[str] = []
    string_id: dict[str, int] = {}
    # ways share few tag combinations: the rules run once per combination
    kinds: dict[tuple, int] = {}
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
        kind = np.empty(len(combos), dtype=np.int8)
        for i, row in enumerate(combos.tolist()):
            key = tuple(row)
            if key not in kinds:
                kinds[key] = _kind({k: strings[g] for k, g in zip(WAY_TAGS, row) if g >= 0})
            kind[i] = kinds[key]
        wkind = kind[which]
        keep = wkind > 0
        kept.append((wid[keep], nref[keep], refs[np.repeat(keep, nref)], gval[keep].astype(np.int32), wkind[keep]))
    out = _locate(nodes, kept)
    out.ways_read = ways
    out.tags, out.strings = _sorted_strings(out.tags, strings)
    return out


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


def _sorted_strings(tags: np.ndarray, strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``tags`` (indices in ``strings``, -1 absent) over the sorted table of the strings they
    use, and that table: the same arrays whatever order a reader met the strings in."""
    used = np.flatnonzero(np.bincount(tags[tags >= 0], minlength=len(strings)))
    table = np.array([strings[i] for i in used.tolist()] + [""], dtype=object)[:-1]  # never a 2-D char array
    order = np.argsort(table, kind="stable")
    remap = np.full(len(strings) + 1, -1, dtype=np.int32)
    remap[used[order] + 1] = np.arange(len(used), dtype=np.int32)
    return remap[tags + 1], table[order]


def _joined(parts: list, i: int, empty: np.ndarray) -> np.ndarray:
    """Column ``i`` of every part, concatenated (``empty`` without parts)."""
    return np.concatenate([p[i] for p in parts]) if parts else empty


def _locate(nodes: list, kept: list) -> OsmWays:
    """Look every way's refs up in the file's nodes (as osmium's location index does) and keep
    the refs with a valid location and the ways with at least one. Empties the lists
    as it concatenates them (a province's parts are hundreds of MB)."""
    empty = np.zeros(0, np.int64)
    node_id, x, y = _joined(nodes, 0, empty), _joined(nodes, 1, empty.astype(np.int32)), \
        _joined(nodes, 2, empty.astype(np.int32))
    del nodes[:]
    if len(node_id) > 1 and not np.all(node_id[1:] > node_id[:-1]):  # nodes not in id order
        order = np.argsort(node_id, kind="stable")
        node_id, x, y = node_id[order], x[order], y[order]
        if np.any(node_id[1:] == node_id[:-1]):  # which copy osmium's index returns is its own affair
            from ._pbf_blocks import UnsupportedPbf

            raise UnsupportedPbf("duplicate node ids")
    way_id, nref, refs = (_joined(kept, i, empty) for i in range(3))
    tags = _joined(kept, 3, np.zeros((0, len(WAY_TAGS)), np.int32))
    kind = _joined(kept, 4, np.zeros(0, np.int8))
    del kept[:]
    pos = np.minimum(np.searchsorted(node_id, refs), max(len(node_id) - 1, 0))
    # osmium's default index holds no negative ids: such nodes have no location
    valid = (node_id[pos] == refs) & (refs >= 0) if len(node_id) else np.zeros(len(refs), bool)
    rx, ry = x[pos], y[pos]
    del pos, node_id, x, y
    # osmium's Location.valid(): within ±180° / ±90° in 1e-7 degrees
    valid &= (rx >= -1_800_000_000) & (rx <= 1_800_000_000) & (ry >= -900_000_000) & (ry <= 900_000_000)
    return _kept_refs(way_id, nref, refs, rx, ry, valid, tags, kind)


def _kept_refs(way_id: np.ndarray, nref: np.ndarray, refs: np.ndarray, rx: np.ndarray, ry: np.ndarray,
               valid: np.ndarray, tags: np.ndarray, kind: np.ndarray) -> OsmWays:
    """The ways with a located ref, their located refs, and where a way lost refs."""
    owner = np.repeat(np.arange(len(way_id), dtype=np.int32), nref)
    counts = np.bincount(owner[valid], minlength=len(way_id))
    # a located ref right after an unlocated one of its way: the way is broken there
    gap = np.zeros(len(refs), dtype=bool)
    gap[1:] = ~valid[:-1]
    gap[(np.cumsum(nref) - nref)[nref > 0]] = False
    ok = counts >= 1
    valid &= ok[owner]
    del owner
    # osmium's lon/lat: the fixed-point int32 divided by 1e7 in double
    return OsmWays(way_id[ok], counts[ok].astype(np.int64), refs[valid], rx[valid] / 1e7, ry[valid] / 1e7,
                   gap[valid], tags[ok], np.zeros(0, dtype=object), kind[ok])


def read_osm_ways_osmium(path: str | Path) -> OsmWays:
    """:func:`read_osm_ways` through pyosmium's object iterator, for any format osmium reads
    (XML, bz2, history files, other compressions); the reference the decoder is tested
    against. About 7,000-11,000 ways/s: every way is a Python object, and iterating its tags
    costs ~40 µs a way (pyosmium ends the tag iterator with a C++ exception)."""
    import osmium

    # typed arrays, not lists: 8 bytes per value instead of a Python object each
    refs, lons, lats, gaps, rows = array("q"), array("d"), array("d"), array("b"), array("i")
    counts: list[int] = []
    way_ids: list[int] = []
    kinds: list[int] = []
    strings: dict[str, int] = {}
    wanted = frozenset(WAY_TAGS)
    # ways share few tag combinations: the rules run once per combination
    seen: dict[tuple, tuple[int, list[int]]] = {}
    ways = 0
    fp = osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations().with_filter(
        osmium.filter.KeyFilter("highway"))
    for obj in fp:
        if not obj.is_way():
            continue
        ways += 1
        key = tuple(sorted((t.k, t.v) for t in obj.tags if t.k in wanted))
        if key not in seen:
            tags = dict(key)
            seen[key] = _kind(tags), [strings.setdefault(tags[k], len(strings)) if k in tags else -1
                                      for k in WAY_TAGS]
        kind, row = seen[key]
        if not kind:
            continue
        nodes, gap = [], False
        for n in obj.nodes:
            if n.location.valid():
                nodes.append((n.ref, n.location.lon, n.location.lat, gap))
                gap = False
            else:
                gap = True
        if not nodes:
            continue
        r, lo, la, g = zip(*nodes)
        refs.extend(r)
        lons.extend(lo)
        lats.extend(la)
        gaps.extend(g)
        rows.extend(row)
        counts.append(len(nodes))
        way_ids.append(obj.id)
        kinds.append(kind)
    tags, table = _sorted_strings(np.frombuffer(rows, dtype=np.int32).reshape(-1, len(WAY_TAGS)), list(strings))
    return OsmWays(np.asarray(way_ids, dtype=np.int64), np.asarray(counts, dtype=np.int64),
                   np.frombuffer(refs, dtype=np.int64), np.frombuffer(lons), np.frombuffer(lats),
                   np.frombuffer(gaps, dtype=np.int8).astype(bool), tags, table, np.asarray(kinds, dtype=np.int8),
                   ways)


def _segments(ways: OsmWays, metric_crs: object, bbox: tuple[float, float, float, float] | None) -> WalkArrays:
    """Consecutive located node pairs of every walkable way as edges between unique nodes
    (vectorised); a way is broken where it lost a node or leaves ``bbox``."""
    count = ways.count
    walk = np.flatnonzero(ways.kind == WALKABLE)
    row = np.full(len(count), -1, dtype=np.int32)
    row[walk] = np.arange(len(walk), dtype=np.int32)
    owner = np.repeat(np.arange(len(count)), count)
    pair = ~ways.gap & (row >= 0)[owner]
    pair[np.cumsum(count) - count] = False  # a way's first node starts no segment
    a, b = np.flatnonzero(pair) - 1, np.flatnonzero(pair)
    refs, lons, lats = ways.refs, ways.lon, ways.lat
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
    n, way = len(a), owner[a]
    return WalkArrays(used, np.asarray(x), np.asarray(y), inv[:n].astype(np.int32), inv[n:].astype(np.int32),
                      ways.way_id[way], ways.values("highway")[way], ways.ways_read, 0.0,
                      edge_way=row[way], tags=ways.tags[walk], strings=ways.strings)

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
