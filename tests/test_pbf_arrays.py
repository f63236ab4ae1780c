"""The province reader (pbf.py): one pass through osmium's C++ key filter, the walkability rule
of network.py, compact per-tile CSR arrays, and the same walk network as the osmnx reader."""

from __future__ import annotations

import numpy as np
import osmium
import pytest
import shapely

from eldercare_coverage import pbf
from eldercare_coverage.network import load_walk_network

CRS = "EPSG:32648"


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
    net = pbf.network_from_walk_arrays(arrays, CRS)
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
