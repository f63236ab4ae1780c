"""The province reader (pbf.py): one pass through osmium's C++ key filter, the walkability rule
of network.py, compact per-tile CSR arrays, and the same walk network as the osmnx reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import osmium
import pyproj
import pytest
import shapely

from eldercare_coverage import pbf
from eldercare_coverage._pbf_blocks import UnsupportedPbf
from eldercare_coverage.network import load_walk_network, network_from_walk_arrays
from eldercare_coverage.osmtags import WAY_TAGS

CRS = "EPSG:32648"
OSM = Path(__file__).parent / "data" / "osm"


def write_pbf(path, n: int = 12) -> None:
    """An n × n street lattice of ~100 m near Chengdu, one way per row and column, plus a
    motorway, a foot=no path and a building outline (none of them walkable streets)."""
    lon0, lat0, step = 104.05, 30.70, 0.001
    w = osmium.SimpleWriter(str(path))
    nid = lambda i, j: 1 + i * n + j  # noqa: E731
    for i in range(n):
        for j in range(n):
            w.add_node(osmium.osm.mutable.Node(id=nid(i, j), location=(lon0 + i * step, lat0 + j * step)))
    w.add_node(osmium.osm.mutable.Node(id=10_000, location=(lon0 - step, lat0)))
    w.add_node(osmium.osm.mutable.Node(id=10_001, location=(lon0 - step, lat0 + n * step)))
    way = 1
    for i in range(n):
        w.add_way(osmium.osm.mutable.Way(id=way, nodes=[nid(i, j) for j in range(n)],
                                         tags={"highway": "residential", "name": f"路{i}"}))
        w.add_way(osmium.osm.mutable.Way(id=way + 1, nodes=[nid(j, i) for j in range(n)],
                                         tags={"highway": "footway"}))
        way += 2
    w.add_way(osmium.osm.mutable.Way(id=900, nodes=[10_000, 10_001], tags={"highway": "motorway"}))
    w.add_way(osmium.osm.mutable.Way(id=901, nodes=[nid(0, 0), 10_000], tags={"highway": "path", "foot": "no"}))
    w.add_way(osmium.osm.mutable.Way(id=902, nodes=[nid(0, 0), nid(1, 1), nid(0, 1), nid(0, 0)],
                                     tags={"building": "yes"}))
    w.close()


def test_reads_the_walkable_streets_as_the_osmnx_reader_does(tmp_path):
    path = tmp_path / "lattice.osm.pbf"
    write_pbf(path)
    arrays = pbf.read_walk_arrays(path, CRS)
    assert arrays.ways_read == 2 * 12 + 2  # highway ways only: the building never reaches Python
    assert len(arrays.edge_u) == 2 * 12 * 11 and len(arrays.x) == 144
    assert 10_000 not in arrays.node_id and set(arrays.highway) == {"residential", "footway"}
    ref = load_walk_network(path, CRS)
    assert np.isclose(arrays.edge_length.sum(), ref.edge_length.sum(), rtol=1e-9)
    net = network_from_walk_arrays(arrays, CRS)
    assert net.n_edges == len(arrays.edge_u) and net.main_edge_mask.all()
    # the box clip drops segments with an end outside
    box = pbf.read_walk_arrays(path, CRS, bbox=(104.0495, 30.6995, 104.0555, 30.7055))
    assert len(box.x) == 36 and len(box.edge_u) == 2 * 6 * 5


def test_tile_csr_arrays(tmp_path):
    path = tmp_path / "lattice.osm.pbf"
    write_pbf(path)
    arrays = pbf.read_walk_arrays(path, CRS)
    xmid = float(np.median(arrays.x))
    zones = {"west": shapely.box(-1e9, -1e9, xmid, 1e9), "east": shapely.box(xmid, -1e9, 1e9, 1e9)}
    tiles = pbf.tile_networks(arrays, zones)
    for t in tiles.values():
        assert t["indices"].dtype == np.int32 and t["indptr"][-1] == len(t["indices"]) == 2 * len(np.unique(t["edge"]))
        rows = np.repeat(np.arange(len(t["x"])), np.diff(t["indptr"]))
        far = np.hypot(t["x"][rows] - t["x"][t["indices"]], t["y"][rows] - t["y"][t["indices"]])
        np.testing.assert_allclose(t["length"], far)  # each entry: its two ends, its length
        assert np.diff(t["indptr"]).min() >= 1 and np.all((far > 90) & (far < 115))
    # every segment lies in some tile; the ones crossing the cut in both
    both = np.intersect1d(tiles["west"]["edge"], tiles["east"]["edge"])
    assert set(np.concatenate([tiles["west"]["edge"], tiles["east"]["edge"]])) == set(range(len(arrays.edge_u)))
    assert 0 < len(both) <= 12
    files = pbf.write_tile_networks(tiles, tmp_path / "tiles")
    with np.load(files[0], allow_pickle=False) as z:
        assert set(z.files) == {"x", "y", "node_id", "indptr", "indices", "length", "edge"}


# --------------------------------------------------------------------------------------------
# The block decoder against pyosmium (today's reader, kept as the reference)

FIELDS = ("node_id", "x", "y", "edge_u", "edge_v", "way_id", "highway", "edge_way", "tags", "strings")
WAY_FIELDS = ("way_id", "count", "refs", "lon", "lat", "gap", "tags", "strings", "kind")


def no_fallback(*a, **k):
    """Stands in for the pyosmium reader where the decoder must not fall back to it."""
    raise AssertionError("the decoder fell back to pyosmium")


def decoded_and_reference(path, crs, monkeypatch, **kw):
    """read_walk_arrays with the pyosmium fallback forbidden, and the pyosmium reference."""
    reference = pbf.read_walk_arrays_osmium

    with monkeypatch.context() as m:
        m.setattr(pbf, "read_osm_ways_osmium", no_fallback)
        new = pbf.read_walk_arrays(path, crs, **kw)
    return new, reference(path, crs, **kw)


def assert_identical(new, old, fields=FIELDS):
    assert new.ways_read == old.ways_read
    for f in fields:
        a, b = getattr(new, f), getattr(old, f)
        assert a.dtype == b.dtype and np.array_equal(a, b), f


def assert_same_ways(path, monkeypatch):
    """read_osm_ways (the decoder, fallback forbidden) and pyosmium give identical way arrays,
    every WAY_TAGS value included; returns them."""
    with monkeypatch.context() as m:
        m.setattr(pbf, "read_osm_ways_osmium", no_fallback)
        new = pbf.read_osm_ways(path)
    assert_identical(new, pbf.read_osm_ways_osmium(path), WAY_FIELDS)
    return new


def test_decoder_is_pyosmium_on_the_lattice(tmp_path, monkeypatch):
    path = tmp_path / "lattice.osm.pbf"
    write_pbf(path)
    assert_identical(*decoded_and_reference(path, CRS, monkeypatch))
    assert_identical(*decoded_and_reference(path, CRS, monkeypatch, bbox=(104.0495, 30.6995, 104.0555, 30.7055)))


@pytest.mark.parametrize("name, crs", [("helsinki-center.osm.pbf", "EPSG:32635"),
                                       ("shenzhen-nanshan.osm.bz2", "EPSG:32650"),
                                       ("chengdu-jinniu-xindu.osm.bz2", CRS),
                                       ("shanghai-huangpu-peoples-square.osm.bz2", "EPSG:32651")])
def test_decoder_is_pyosmium_on_real_extracts(name, crs, tmp_path, monkeypatch):
    """Real OSM data (tests/data/osm, © OpenStreetMap contributors, ODbL): the Helsinki PBF as
    osmosis wrote it, the XML extracts as pyosmium's writer writes them."""
    src = OSM / name
    if name.endswith(".pbf"):
        path = src
    else:
        path = tmp_path / name.replace(".osm.bz2", ".osm.pbf")
        with osmium.SimpleWriter(str(path)) as w:
            for obj in osmium.FileProcessor(str(src)):
                w.add(obj)
    new, old = decoded_and_reference(path, crs, monkeypatch)
    assert new.ways_read > 500 and len(new.edge_u) > 2000
    assert_identical(new, old)
    ways = assert_same_ways(path, monkeypatch)
    # every WAY_TAGS column is kept, not only highway: names and at least two other keys here
    assert (ways.values("name") != "").any() and (ways.tags[:, 2:] >= 0).any(axis=0).sum() >= 2
    hw = new.strings[new.tags[new.edge_way, WAY_TAGS.index("highway")]]
    assert np.array_equal(hw, new.highway)


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1  # negative int64: ten bytes, two's complement
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _field(num: int, val) -> bytes:
    if isinstance(val, int):
        return _varint(num << 3) + _varint(val)
    return _varint(num << 3 | 2) + _varint(len(val)) + bytes(val)


def _packed(vals, zigzag=False, delta=False) -> bytes:
    out, prev = b"", 0
    for v in vals:
        out += _varint(_zz(v - prev) if zigzag else v)
        prev = v if delta else 0
    return out


def _blob(kind: str, payload: bytes, compress: bool) -> bytes:
    import struct
    import zlib

    blob = _field(2, len(payload)) + _field(3, zlib.compress(payload)) if compress else _field(1, payload)
    header = _field(1, kind.encode()) + _field(3, len(blob))
    return struct.pack(">I", len(header)) + header + blob


def write_handmade_pbf(path, features=("OsmSchema-V0.6", "DenseNodes")) -> None:
    """A PBF written byte by byte with what osmium's writer never writes: a coarse odd
    granularity with offsets (coordinates that do not divide evenly, on both sides of 0°),
    plain Nodes beside DenseNodes, a raw and a zlib block, nodes out of id order, a negative
    node id, a way with its highway key twice, a way without highway, a missing node, a node
    outside ±90°."""
    gran, lat_off, lon_off = 7, -123_457, 987_653
    strings = [b"", b"highway", b"residential", b"footway", b"foot", b"no", b"name", "街".encode(), b"building",
               b"yes", b"service", b"private"]
    sid = {s: i for i, s in enumerate(strings)}
    # (id, lon, lat): a lattice around Chengdu and one around Santiago (negative coordinates)
    grid = [(i, j) for i in range(3) for j in range(3)]
    pts = [(10 + i * 3 + j, 104.0 + i * 0.0013 + j * 1e-9, 30.0 + j * 0.0011 - i * 3e-9) for i, j in grid]
    pts += [(40 + i * 3 + j, -70.6 - i * 0.0013 - j * 7e-9, -33.4 - j * 0.0011 + i * 1e-9) for i, j in grid]
    raw = lambda d, off: round((d * 1e9 - off) / gran)  # noqa: E731
    dense = pts[::-1][:12]  # descending ids
    plain = pts[::-1][12:] + [(-3, 104.0005, 30.0005), (99, 104.0, 95.0)]
    nodes = _field(1, _packed([p[0] for p in dense], zigzag=True, delta=True))
    nodes += _field(8, _packed([raw(p[2], lat_off) for p in dense], zigzag=True, delta=True))
    nodes += _field(9, _packed([raw(p[1], lon_off) for p in dense], zigzag=True, delta=True))
    group = _field(2, nodes)
    for nid, lon, lat in plain:
        group += _field(1, _field(1, _zz(nid)) + _field(8, _zz(raw(lat, lat_off)))
                        + _field(9, _zz(raw(lon, lon_off))))

    def way(wid, refs, tags):
        return _field(3, _field(1, wid) + _field(2, _packed([sid[k] for k, _ in tags]))
                      + _field(3, _packed([sid[v] for _, v in tags]))
                      + _field(8, _packed(refs, zigzag=True, delta=True)))

    ways = (way(1, [10, 11, 12], [(b"highway", b"residential"), (b"name", "街".encode())])
            + way(2, [10, 13, 16], [(b"highway", b"footway"), (b"highway", b"residential")])  # twice: keeps residential
            + way(3, [11, 14, 17, 777], [(b"highway", b"service"), (b"service", b"private")])  # not walkable
            + way(4, [12, 15, 555, 18], [(b"highway", b"footway")])  # a missing node
            + way(5, [40, 41, 42, 45, 48], [(b"highway", b"footway"), (b"foot", b"yes")])
            + way(6, [43, 44], [(b"building", b"yes")])  # no highway: never read
            + way(7, [-3, 14, 99, 15], [(b"highway", b"residential")])  # negative id, a node at 95°N
            + way(8, [46, 47], [(b"highway", b"residential"), (b"foot", b"no")]))
    block = lambda groups: (_field(1, b"".join(_field(1, s) for s in strings)) + groups  # noqa: E731
                            + _field(17, gran) + _field(19, lat_off) + _field(20, lon_off))
    header = b"".join(_field(4, f.encode()) for f in features)
    with open(path, "wb") as f:
        f.write(_blob("OSMHeader", header, compress=False))
        f.write(_blob("OSMData", block(_field(2, group)), compress=True))
        f.write(_blob("OSMData", block(_field(2, ways)), compress=False))


def test_decoder_is_pyosmium_on_a_handmade_pbf(tmp_path, monkeypatch):
    path = tmp_path / "handmade.osm.pbf"
    write_handmade_pbf(path)
    new, old = decoded_and_reference(path, "EPSG:3857", monkeypatch)
    assert_identical(new, old)
    # a node without a location breaks its way: way 7 (-3, 14, [99 at 95°N], 15) keeps no
    # segment, way 4 (12, 15, [missing 555], 18) only 12-15, as the graph reader breaks them
    assert new.ways_read == 7 and set(new.way_id) == {1, 2, 4, 5}
    assert new.highway[new.way_id == 2][0] == "residential" and 18 not in new.node_id
    assert np.sum(new.way_id == 4) == 1
    assert -3 not in new.node_id and 99 not in new.node_id and 555 not in new.node_id
    ways = assert_same_ways(path, monkeypatch)
    # way 3 (service=private) is kept as residents-only, way 8 (foot=no) not at all
    assert dict(zip(ways.way_id.tolist(), ways.kind.tolist())) == {
        1: pbf.WALKABLE, 2: pbf.WALKABLE, 3: pbf.RESIDENTS, 4: pbf.WALKABLE, 5: pbf.WALKABLE, 7: pbf.WALKABLE}
    assert ways.values("name")[ways.way_id == 1][0] == "街"
    assert ways.values("service")[ways.way_id == 3][0] == "private"
    assert ways.gap[ways.refs == 18].all() and ways.gap[ways.refs == 15].tolist() == [False, True]
    # coordinates that do not divide evenly, both hemispheres: libosmium truncates towards 0
    lon, lat = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(new.x, new.y)
    assert (lon < 0).any() and (lat < 0).any() and (lon > 100).any()


def test_other_files_go_through_pyosmium(tmp_path):
    """XML, history files and unsorted files are read by pyosmium, with the same result."""
    xml = OSM / "shanghai-huangpu-peoples-square.osm.bz2"
    assert_identical(pbf.read_walk_arrays(xml, CRS), pbf.read_walk_arrays_osmium(xml, CRS))
    hist = tmp_path / "history.osm.pbf"
    write_handmade_pbf(hist, features=("OsmSchema-V0.6", "DenseNodes", "HistoricalInformation"))
    with pytest.raises(UnsupportedPbf):
        pbf._decode_pbf(hist)
    unsorted = tmp_path / "unsorted.osm.pbf"
    w = osmium.SimpleWriter(str(unsorted))
    w.add_node(osmium.osm.mutable.Node(id=1, location=(104.0, 30.0)))
    w.add_way(osmium.osm.mutable.Way(id=1, nodes=[1, 2, 3], tags={"highway": "residential"}))
    w.add_node(osmium.osm.mutable.Node(id=2, location=(104.001, 30.0)))
    w.add_node(osmium.osm.mutable.Node(id=3, location=(104.002, 30.0)))
    w.close()
    with pytest.raises(UnsupportedPbf):
        pbf._decode_pbf(unsorted)
    arrays = pbf.read_walk_arrays(unsorted, CRS)
    assert_identical(arrays, pbf.read_walk_arrays_osmium(unsorted, CRS))


def test_broken_files_fail_as_with_pyosmium(tmp_path):
    """An empty or corrupt file is osmium's to report: the decoder hands it over."""
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    with pytest.raises(RuntimeError, match="PBF error"):
        pbf.read_walk_arrays(empty, CRS)
    path = tmp_path / "lattice.osm.pbf"
    write_pbf(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)  # inside the zlib data of the only block
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="uncompress"):
        pbf.read_walk_arrays(path, CRS)


def test_decoder_refuses_a_field_longer_than_its_block():
    """A length past the buffer (or one that would wrap negative) is an error, never a read
    beyond the block: the reader then hands the file to osmium."""
    from eldercare_coverage import _pbf_blocks as blocks

    short = np.frombuffer(bytes([0x0A, 0x07, 0x61, 0x62]), dtype=np.uint8)  # string table: 7 bytes claimed, 2 there
    with pytest.raises(ValueError):
        blocks._block_fields(short)
    huge = np.frombuffer(bytes([0x0A] + [0xFF] * 9 + [0x01]), dtype=np.uint8)  # a 2^64 - 1 length
    with pytest.raises(ValueError):
        blocks._block_fields(huge)
    with pytest.raises(ValueError):
        blocks._message_fields(short, 0, 4, 1, 2, 3)
