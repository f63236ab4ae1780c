"""OSM PBF blocks decoded straight into numpy arrays (internal; numba).

The format (https://wiki.openstreetmap.org/wiki/PBF_Format) is a sequence of blobs, each a
4-byte big-endian length, a ``BlobHeader`` and a ``Blob`` (raw, zlib or lzma bytes). An
``OSMData`` blob holds a ``PrimitiveBlock``: a string table, ``PrimitiveGroup``\\ s of plain
``Node``\\ s, ``DenseNodes`` or ``Way``\\ s (relations are skipped), and the coordinate
``granularity`` (nanodegrees) and ``lat_offset``/``lon_offset``. Coordinates become osmium's
fixed point (1e-7 degree int32) exactly as libosmium converts them, so that a location here is
the location pyosmium hands out.

Only what the walk reader needs is decoded: every node's id and location, and for each way
carrying a ``highway`` key (the rule of ``osmium.filter.KeyFilter("highway")``) its id, node
refs and the string-table index of the value of each wanted key. A file using a feature this
decoder does not read (history, other compressions) raises :class:`UnsupportedPbf`, and the
caller falls back to pyosmium.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numba
import numpy as np

njit = numba.njit

# OSMHeader required features this decoder reads; anything else goes to pyosmium
SUPPORTED_FEATURES = frozenset({"OsmSchema-V0.6", "DenseNodes"})
# nanodegrees per osmium fixed-point unit (osmium stores 1e-7 degrees)
_RESOLUTION_CONVERT = 100


class UnsupportedPbf(Exception):
    """The file is not a PBF this decoder reads (another format, a feature or compression it
    does not decode); pyosmium reads it instead."""


# --------------------------------------------------------------------------------------------
# Blobs (Python: a few fields per blob, the payload is decompressed in C with the GIL released)


def _fields(buf: bytes | memoryview) -> Iterator[tuple[int, int | memoryview]]:
    """(field number, value) of a small protobuf message: ints for varints, views for bytes."""
    mv = memoryview(buf)
    p, n = 0, len(mv)
    while p < n:
        key, p = _py_varint(mv, p)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, p = _py_varint(mv, p)
            yield field, val
        elif wire == 2:
            ln, p = _py_varint(mv, p)
            yield field, mv[p:p + ln]
            p += ln
        elif wire == 1:
            p += 8
        elif wire == 5:
            p += 4
        else:
            raise UnsupportedPbf(f"protobuf wire type {wire}")


def _py_varint(mv: memoryview, p: int) -> tuple[int, int]:
    val = shift = 0
    while True:
        b = mv[p]
        p += 1
        val |= (b & 0x7F) << shift
        if b < 0x80:
            return val, p
        shift += 7


def iter_blobs(path: str | Path) -> Iterator[tuple[str, memoryview]]:
    """(type, still-compressed ``Blob`` message) of every blob in the file, in file order."""
    with open(path, "rb") as f:
        while True:
            head = f.read(4)
            if not head:
                return
            if len(head) < 4:
                raise UnsupportedPbf("truncated blob header length")
            (size,) = struct.unpack(">I", head)
            if size > 64 * 1024:  # the format caps a BlobHeader at 64 KiB: not a PBF
                raise UnsupportedPbf("not a PBF file (blob header too large)")
            kind, datasize = "", 0
            for field, val in _fields(f.read(size)):
                if field == 1:
                    kind = bytes(val).decode("utf-8", "replace")
                elif field == 3:
                    datasize = val
            blob = f.read(datasize)
            if len(blob) != datasize:
                raise UnsupportedPbf("truncated blob")
            yield kind, memoryview(blob)


def blob_data(blob: memoryview) -> np.ndarray:
    """The decompressed payload of a ``Blob`` as uint8."""
    for field, val in _fields(blob):
        if field == 1:
            return np.frombuffer(bytes(val), dtype=np.uint8)
        try:
            if field == 3:
                return np.frombuffer(zlib.decompress(val), dtype=np.uint8)
            if field == 4:
                return np.frombuffer(lzma.decompress(val), dtype=np.uint8)
        except (zlib.error, lzma.LZMAError) as exc:
            raise ValueError(f"PBF: a corrupt blob ({exc})") from exc
        if field in (5, 6, 7):
            raise UnsupportedPbf({5: "bzip2", 6: "lz4", 7: "zstd"}[field] + " blobs")
    raise UnsupportedPbf("a blob without data")


def check_header(data: np.ndarray) -> None:
    """Refuse an ``OSMHeader`` requiring a feature this decoder does not read (e.g. history)."""
    for field, val in _fields(data.tobytes()):
        if field == 4:
            feature = bytes(val).decode("utf-8", "replace")
            if feature not in SUPPORTED_FEATURES:
                raise UnsupportedPbf(f"required feature {feature!r}")


# --------------------------------------------------------------------------------------------
# PrimitiveBlock kernels (numba). Varints are uint64 throughout: numba turns a mix of uint64
# and int64 into float64.


@njit(cache=True, nogil=True, inline="always")
def _varint(buf, p):
    val = np.uint64(0)
    shift = np.uint64(0)
    while True:
        if p >= buf.shape[0]:  # a malformed block must not read past its buffer
            raise ValueError("PBF: truncated varint")
        b = buf[p]
        p += 1
        val |= np.uint64(b & 0x7F) << shift
        if b < 0x80:
            return val, p
        shift += np.uint64(7)


@njit(cache=True, nogil=True, inline="always")
def _zigzag(v):
    return np.int64(v >> np.uint64(1)) ^ -np.int64(v & np.uint64(1))


@njit(cache=True, nogil=True)
def _skip(buf, p, wire):
    if wire == 0:
        _, p = _varint(buf, p)
    elif wire == 1:
        p += 8
    elif wire == 2:
        ln, p = _varint(buf, p)
        if ln > np.uint64(buf.shape[0] - p):
            raise ValueError("PBF: a field runs past its buffer")
        p += np.int64(ln)
    elif wire == 5:
        p += 4
    else:
        raise ValueError("PBF: unknown protobuf wire type")
    return p


@njit(cache=True, nogil=True)
def _to_fixed(raw, granularity, offset):
    """libosmium's conversion: (offset + granularity * raw) nanodegrees / 100, truncated."""
    c = offset + granularity * raw
    q = c // _RESOLUTION_CONVERT
    if c < 0 and q * _RESOLUTION_CONVERT != c:
        q += 1  # C++ integer division truncates towards zero, numba's // floors
    return q


@njit(cache=True, nogil=True)
def _bytes_greater(buf, a, la, b, lb):
    """Whether string a sorts after string b (bytewise = code point order for UTF-8)."""
    for i in range(min(la, lb)):
        if buf[a + i] != buf[b + i]:
            return buf[a + i] > buf[b + i]
    return la > lb


@njit(cache=True, nogil=True)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    out = np.empty((max(need, 2 * a.shape[0]),) + a.shape[1:], dtype=a.dtype)
    out[:a.shape[0]] = a
    return out


@njit(cache=True, nogil=True)
def _string_table(buf, p, end, keys, key_off):
    """Offsets and lengths of the table's strings, and per string its wanted-key slot or -1."""
    cap = 256
    off = np.empty(cap, dtype=np.int64)
    ln = np.empty(cap, dtype=np.int64)
    n = 0
    while p < end:
        key, p = _varint(buf, p)
        if key == np.uint64(10):  # field 1, bytes
            size, p = _varint(buf, p)
            if p + np.int64(size) > end:
                raise ValueError("PBF: string outside the string table")
            if n == off.shape[0]:
                off = _grow(off, n + 1)
                ln = _grow(ln, n + 1)
            off[n] = p
            ln[n] = np.int64(size)
            n += 1
            p += np.int64(size)
        else:
            p = _skip(buf, p, np.int64(key & np.uint64(7)))
    slot = np.full(n, -1, dtype=np.int32)
    for i in range(n):
        for k in range(key_off.shape[0] - 1):
            kl = key_off[k + 1] - key_off[k]
            if kl != ln[i]:
                continue
            same = True
            for j in range(kl):
                if buf[off[i] + j] != keys[key_off[k] + j]:
                    same = False
                    break
            if same:
                slot[i] = k
                break
    return off[:n], ln[:n], slot


@njit(cache=True, nogil=True)
def _block_fields(buf):
    """A ``PrimitiveBlock``'s string table span, group spans, granularity and offsets (fields
    may come in any order)."""
    granularity, lat_off, lon_off = np.int64(100), np.int64(0), np.int64(0)
    st0, st1 = 0, 0
    g0 = np.empty(16, dtype=np.int64)
    g1 = np.empty(16, dtype=np.int64)
    ng = 0
    p, end = 0, buf.shape[0]
    while p < end:
        key, p = _varint(buf, p)
        field, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
        if field in (1, 2) and wire == 2:
            size, p = _varint(buf, p)
            if size > np.uint64(end - p):  # also catches a length that would wrap negative
                raise ValueError("PBF: a field runs past its block")
            if field == 1:
                st0, st1 = p, p + np.int64(size)
            else:
                g0 = _grow(g0, ng + 1)
                g1 = _grow(g1, ng + 1)
                g0[ng], g1[ng] = p, p + np.int64(size)
                ng += 1
            p += np.int64(size)
        elif field in (17, 19, 20) and wire == 0:
            v, p = _varint(buf, p)
            if field == 17:
                granularity = np.int64(v)
            elif field == 19:
                lat_off = np.int64(v)
            else:
                lon_off = np.int64(v)
        else:
            p = _skip(buf, p, wire)
    return st0, st1, g0[:ng], g1[:ng], granularity, lat_off, lon_off


@njit(cache=True, nogil=True)
def _message_fields(buf, p, end, fa, fb, fc):
    """Spans of the packed fields ``fa``, ``fb``, ``fc`` of the message at ``p``..``end``
    ((0, 0) when absent) and its varints 1, 8 and 9 (a Way's id; a Node's zigzag id, lat,
    lon). An unpacked repeated field is refused: it is valid protobuf no PBF writer uses."""
    a0, a1, b0, b1, c0, c1 = 0, 0, 0, 0, 0, 0
    v1, v8, v9 = np.uint64(0), np.uint64(0), np.uint64(0)
    while p < end:
        key, p = _varint(buf, p)
        field, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
        if wire == 2 and (field == fa or field == fb or field == fc):
            size, p = _varint(buf, p)
            if size > np.uint64(end - p):
                raise ValueError("PBF: a field runs past its message")
            q = p + np.int64(size)
            if field == fa:
                a0, a1 = p, q
            elif field == fb:
                b0, b1 = p, q
            else:
                c0, c1 = p, q
            p = q
        elif wire == 0 and (field == fa or field == fb or field == fc):
            raise ValueError("PBF: unpacked repeated field")
        elif wire == 0 and field in (1, 8, 9):
            v, p = _varint(buf, p)
            if field == 1:
                v1 = v
            elif field == 8:
                v8 = v
            else:
                v9 = v
        else:
            p = _skip(buf, p, wire)
    return a0, a1, b0, b1, c0, c1, v1, v8, v9


@njit(cache=True, nogil=True)
def _put_node(nodes, nn, nid, lon, lat, granularity, lat_off, lon_off):
    """Append a node (id, x, y) to the (n, 3) array ``nodes`` holding ``nn``; returns both."""
    if nn == nodes.shape[0]:
        nodes = _grow(nodes, nn + 1)
    nodes[nn, 0] = nid
    nodes[nn, 1] = _to_fixed(lon, granularity, lon_off)
    nodes[nn, 2] = _to_fixed(lat, granularity, lat_off)
    return nodes, nn + 1


@njit(cache=True, nogil=True)
def _way_tags(buf, k0, k1, v0, v1, slot, s_off, s_len, row):
    """Fill ``row`` (one per wanted key, -1 preset) with the way's value string indices;
    returns whether the way has wanted key 0 (the filter key)."""
    has_filter_key = False
    while k0 < k1:
        if v0 >= v1:
            raise ValueError("PBF: way with fewer tag values than keys")
        ks, k0 = _varint(buf, k0)
        vs, v0 = _varint(buf, v0)
        ki, vi = np.int64(ks), np.int64(vs)
        if ki >= s_off.shape[0] or vi >= s_off.shape[0]:
            raise ValueError("PBF: tag index outside the string table")
        s = slot[ki]
        if s < 0:
            continue
        has_filter_key |= s == 0
        old = row[s]
        if old < 0 or _bytes_greater(buf, s_off[vi], s_len[vi], s_off[old], s_len[old]):
            row[s] = vi
    return has_filter_key


@njit(cache=True, nogil=True)
def decode_block(buf, keys, key_off):
    """Decode one ``PrimitiveBlock``.

    ``keys``/``key_off``: the wanted tag keys as concatenated UTF-8 and offsets; key 0 is the
    filter key (``highway``). Returns the string table (offsets, lengths), the nodes (id, x, y
    in 1e-7 degrees), the ways with key 0 (id, ref count, refs, and per wanted key the
    string-table index of its value or -1; a key given twice keeps its greatest value, as a
    ``dict`` of the sorted tags does), and whether a node came after such a way.
    """
    st0, st1, g0, g1, granularity, lat_off, lon_off = _block_fields(buf)
    s_off, s_len, slot = _string_table(buf, st0, st1, keys, key_off)
    nodes = np.empty((1024, 3), dtype=np.int64)
    way_id = np.empty(256, dtype=np.int64)
    way_nref = np.empty(256, dtype=np.int64)
    way_val = np.empty((256, key_off.shape[0] - 1), dtype=np.int32)
    refs = np.empty(1024, dtype=np.int64)
    nn, nw, nr = 0, 0, 0
    late_nodes = False
    for g in range(g0.shape[0]):
        p, gend = g0[g], g1[g]
        while p < gend:
            key, p = _varint(buf, p)
            field, wire = np.int64(key >> np.uint64(3)), np.int64(key & np.uint64(7))
            if wire != 2 or field not in (1, 2, 3):  # relations, changesets
                p = _skip(buf, p, wire)
                continue
            size, p = _varint(buf, p)
            mend = p + np.int64(size)
            if field == 1:  # a plain Node
                _, _, _, _, _, _, v1, v8, v9 = _message_fields(buf, p, mend, -1, -1, -1)
                late_nodes |= nw > 0
                nodes, nn = _put_node(nodes, nn, _zigzag(v1), _zigzag(v9), _zigzag(v8), granularity, lat_off,
                                      lon_off)
            elif field == 2:  # DenseNodes: packed, delta-coded ids, lats and lons
                i0, i1, a0, a1, o0, o1, _, _, _ = _message_fields(buf, p, mend, 1, 8, 9)
                nid, lat, lon = np.int64(0), np.int64(0), np.int64(0)
                late_nodes |= nw > 0 and i0 < i1
                while i0 < i1:
                    if a0 >= a1 or o0 >= o1:
                        raise ValueError("PBF: DenseNodes with fewer coordinates than ids")
                    v, i0 = _varint(buf, i0)
                    nid += _zigzag(v)
                    v, a0 = _varint(buf, a0)
                    lat += _zigzag(v)
                    v, o0 = _varint(buf, o0)
                    lon += _zigzag(v)
                    nodes, nn = _put_node(nodes, nn, nid, lon, lat, granularity, lat_off, lon_off)
            else:  # a Way
                k0, k1, v0, v1, r0, r1, wid, _, _ = _message_fields(buf, p, mend, 2, 3, 8)
                if nw == way_id.shape[0]:
                    way_id = _grow(way_id, nw + 1)
                    way_nref = _grow(way_nref, nw + 1)
                    way_val = _grow(way_val, nw + 1)
                way_val[nw, :] = -1
                if _way_tags(buf, k0, k1, v0, v1, slot, s_off, s_len, way_val[nw]):
                    r_start, ref = nr, np.int64(0)
                    while r0 < r1:
                        v, r0 = _varint(buf, r0)
                        ref += _zigzag(v)
                        if nr == refs.shape[0]:
                            refs = _grow(refs, nr + 1)
                        refs[nr] = ref
                        nr += 1
                    way_id[nw] = np.int64(wid)
                    way_nref[nw] = nr - r_start
                    nw += 1
            p = mend
    return (s_off, s_len, nodes[:nn, 0].copy(), nodes[:nn, 1].copy(), nodes[:nn, 2].copy(), way_id[:nw].copy(),
            way_nref[:nw].copy(), refs[:nr].copy(), way_val[:nw].copy(), late_nodes)


# --------------------------------------------------------------------------------------------


def decoded_blocks(path: str | Path, keys: tuple[str, ...], *, threads: int | None = None) -> Iterator[tuple]:
    """:func:`decode_block` of every ``OSMData`` blob of ``path``, in file order, each with its
    decompressed bytes first. Blobs are decompressed and decoded on ``threads`` threads (zlib
    and the kernel release the GIL); at most two per thread are in flight, so memory stays at
    a few blocks whatever the file size."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from .threads import thread_count

    encoded = [k.encode("utf-8") for k in keys]
    key_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    key_off = np.cumsum([0] + [len(k) for k in encoded]).astype(np.int64)

    def work(blob: memoryview) -> tuple:
        data = blob_data(blob)
        return (data,) + decode_block(data, key_bytes, key_off)

    threads = threads or thread_count(4)
    pending: deque = deque()
    seen_header = False
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for kind, blob in iter_blobs(path):
            if kind == "OSMHeader":
                check_header(blob_data(blob))
                seen_header = True
            elif kind == "OSMData":
                if not seen_header:
                    raise UnsupportedPbf("no OSMHeader before the data")
                pending.append(pool.submit(work, blob))
                if len(pending) >= 2 * threads:
                    yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    if not seen_header:  # an empty file: let osmium say what it makes of it
        raise UnsupportedPbf("no OSMHeader")
