"""Street pieces joined into long lines before buffering (``_chains``): the joined lines'
buffer is the pieces' buffer up to the drawing of round corners."""

from __future__ import annotations

import numpy as np
import shapely

from eldercare_coverage._chains import chain_pieces
from eldercare_coverage.isochrones import edge_substrings
from eldercare_coverage.network import network_from_arrays


def _grid(n: int, step: float = 40.0):
    """An n x n lattice of streets ``step`` metres apart (edges u -> v run east or north)."""
    xs, ys = np.meshgrid(np.arange(n) * step, np.arange(n) * step)
    node = np.arange(n * n).reshape(n, n)
    u = np.r_[node[:, :-1].ravel(), node[:-1, :].ravel()]
    v = np.r_[node[:, 1:].ravel(), node[1:, :].ravel()]
    return network_from_arrays(xs.ravel().astype(float), ys.ravel().astype(float), u, v, "EPSG:3857")


def _join(net, group, edge, start, end):
    lines = edge_substrings(net, edge, start, end)
    return lines, *chain_pieces(lines, group, edge, start, end, net.edge_u, net.edge_v, net.edge_length, net.n_nodes)


def test_a_crossing_becomes_two_straight_streets():
    net = _grid(3)
    # the four edges at the centre node (index 4)
    edge = np.flatnonzero((net.edge_u == 4) | (net.edge_v == 4))
    zeros = np.zeros(len(edge))
    lines, joined, grp = _join(net, zeros.astype(np.int64), edge, zeros, net.edge_length[edge])
    assert len(edge) == 4 and len(joined) == 2
    assert sorted(shapely.length(joined).round(6)) == [80.0, 80.0]
    # each joined line is straight: two coordinates' worth of direction
    for line in joined:
        xy = shapely.get_coordinates(line)
        assert len(np.unique(xy[:, 0])) == 1 or len(np.unique(xy[:, 1])) == 1
    assert shapely.equals(shapely.union_all(joined), shapely.union_all(lines))


def test_groups_are_never_joined_and_partial_ends_stay_free():
    net = _grid(3)
    edge = np.flatnonzero((net.edge_u == 4) | (net.edge_v == 4))
    group = np.array([0, 1, 0, 1])
    start = np.zeros(4)
    end = net.edge_length[edge].copy()
    lines, joined, grp = _join(net, group, edge, start, end)
    for g in (0, 1):
        mine = shapely.union_all(lines[group == g])
        assert shapely.equals(shapely.union_all(joined[grp == g]), mine)
    # a piece that stops short of the node is not joined there: the west street (v end at the
    # node) stops 5 m short, so only north-south joins and west and east stay lines of their own
    west = np.flatnonzero(net.edge_v[edge] == 4)
    west = west[np.abs(net.x[net.edge_u[edge[west]]] - net.x[4]) > 0][0]
    end2 = end.copy()
    end2[west] -= 5.0
    lines, joined, _ = _join(net, np.zeros(4, np.int64), edge, start, end2)
    assert len(joined) == 3 and abs(shapely.length(joined).sum() - shapely.length(lines).sum()) < 1e-9
    assert sorted(shapely.length(joined).round(6)) == [35.0, 40.0, 80.0]


def test_a_block_round_is_cut_open():
    """Four streets round a block join into a ring, which is cut at its first piece (older GEOS
    could lose a closed line's buffer inside): two open lines, the whole length."""
    net = _grid(2)
    edge = np.arange(net.n_edges)
    z = np.zeros(len(edge))
    lines, joined, _ = _join(net, z.astype(np.int64), edge, z, net.edge_length)
    assert len(joined) == 2 and not shapely.is_closed(joined).any()
    assert sorted(shapely.length(joined).round(6)) == [40.0, 120.0]
    r = 30.0
    both = shapely.symmetric_difference(shapely.union_all(shapely.buffer(joined, r)),
                                        shapely.union_all(shapely.buffer(lines, r)))
    assert both.area < 1e-6 * 160 * 2 * r


def test_buffer_of_joined_lines_matches_buffer_of_pieces_on_a_lattice():
    net = _grid(12, 37.0)
    rng = np.random.default_rng(3)
    edge = np.sort(rng.choice(net.n_edges, 150, replace=False))
    start = np.where(rng.random(150) < 0.2, rng.random(150) * 10.0, 0.0)
    end = np.where(rng.random(150) < 0.2, net.edge_length[edge] - rng.random(150) * 10.0, net.edge_length[edge])
    group = rng.integers(0, 3, 150)
    lines, joined, grp = _join(net, group, edge, start, end)
    assert len(joined) < len(lines)
    r, q = 50.0, 3
    wide = r / np.cos(3 * np.pi / (8 * q))  # as isochrones() widens it
    for g in range(3):
        poly = shapely.union_all(shapely.buffer(joined[grp == g], wide, quad_segs=q))
        exact = shapely.buffer(shapely.union_all(lines[group == g]), r, quad_segs=64)
        outer = shapely.buffer(shapely.union_all(lines[group == g]), wide + 1e-6, quad_segs=64)
        # every point within r of the pieces is inside; nothing beyond the widened radius is
        assert shapely.difference(exact, poly).area < 1e-6 * exact.area
        assert shapely.difference(poly, outer).area < 1e-6 * exact.area
