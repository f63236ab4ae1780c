"""Synthetic city-scale walk networks for benchmarks.

A jittered street lattice with ~40 m edges (like a simplified OSM walk network of a dense
Chinese district), so one 15-minute walk (810 m at 0.9 m/s) settles on the order of a thousand
nodes. Realism added on top of the lattice:

* streets randomly missing (irregular blocks and dead ends);
* gated compounds: rectangles of 200–480 m whose inner streets are mostly removed;
* a few diagonal footways;
* a meandering river 80 m wide crossed by a bridge only every ~1.2 km;
* a railway with a crossing only every ~1.6 km.

Everything is vectorised numpy; 250,000 nodes take about a second.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import shapely

SPACING_M = 40.0


def make_city(n_nodes: int = 250_000, seed: int = 0, spacing_m: float = SPACING_M):
    """Return (x, y, edge_u, edge_v) of a synthetic walk network with at least ``n_nodes`` nodes
    in its main connected part in a local metric CRS (m). Edges are undirected."""
    rng = np.random.default_rng(seed)
    side = int(math.ceil(math.sqrt(n_nodes * 1.17)))  # barriers and fragments take ~8%
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    x = ii * spacing_m + rng.normal(0, spacing_m * 0.15, ii.size)
    y = jj * spacing_m + rng.normal(0, spacing_m * 0.15, jj.size)
    nid = lambda i, j: i * side + j  # noqa: E731
    h = np.stack([nid(ii[ii < side - 1], jj[ii < side - 1]), nid(ii[ii < side - 1] + 1, jj[ii < side - 1])], 1)
    v = np.stack([nid(ii[jj < side - 1], jj[jj < side - 1]), nid(ii[jj < side - 1], jj[jj < side - 1] + 1)], 1)
    d_ok = (ii < side - 1) & (jj < side - 1)
    diag = np.stack([nid(ii[d_ok], jj[d_ok]), nid(ii[d_ok] + 1, jj[d_ok] + 1)], 1)
    diag = diag[rng.random(len(diag)) < 0.02]
    edges = np.vstack([h, v, diag])
    extent = side * spacing_m
    a, b = edges[:, 0], edges[:, 1]
    # river: a meandering band 80 m wide; streets into or across it are cut except the bridges
    # (whole north-south street chains every 30 columns, ~1.2 km apart)
    ry = extent * 0.55 + extent * 0.06 * np.sin(x / (extent / 3.0))
    south = y < ry
    in_river = np.abs(y - ry) < 40.0
    river_edge = in_river[a] | in_river[b] | (south[a] != south[b])
    bridge = river_edge & (ii[a] == ii[b]) & (ii[a] % 30 == 0)
    # railway: a north-south line crossed by an east-west street every 40 rows (~1.6 km)
    west = x < extent * 0.37
    rail_edge = west[a] != west[b]
    crossing = rail_edge & (jj[a] == jj[b]) & (jj[a] % 40 == 0)
    protected = bridge | crossing
    keep = (~river_edge | bridge) & (~rail_edge | crossing)
    keep &= (rng.random(len(edges)) > 0.10) | protected  # missing streets: dead ends, odd blocks
    # gated compounds (~3 per km², 200-480 m): inner streets mostly gone
    n_comp = int(extent * extent / 1e6 * 3)
    cx0 = rng.uniform(0, extent, n_comp)
    cy0 = rng.uniform(0, extent, n_comp)
    cw = rng.uniform(200, 480, n_comp)
    chh = rng.uniform(200, 480, n_comp)
    mx = (x[a] + x[b]) / 2
    my = (y[a] + y[b]) / 2
    tree = shapely.STRtree(shapely.box(cx0 + 20, cy0 + 20, cx0 + cw - 20, cy0 + chh - 20))
    ei, _ = tree.query(shapely.points(mx, my), predicate="within")
    inner = np.zeros(len(edges), bool)
    inner[ei] = True
    keep &= ~(inner & (rng.random(len(edges)) < 0.7)) | protected
    edges = edges[keep]
    used = np.unique(edges)
    remap = np.full(side * side, -1, np.int64)
    remap[used] = np.arange(len(used))
    return x[used], y[used], remap[edges[:, 0]], remap[edges[:, 1]]


def points_near_edges(x, y, u, v, n: int, seed: int, spread_m: float = 20.0):
    """``n`` random points near random street edges (homes, facilities, sites), as shapely Points."""
    rng = np.random.default_rng(seed)
    e = rng.integers(0, len(u), n)
    t = rng.random(n)
    px = x[u[e]] + t * (x[v[e]] - x[u[e]]) + rng.normal(0, spread_m, n)
    py = y[u[e]] + t * (y[v[e]] - y[u[e]]) + rng.normal(0, spread_m, n)
    return shapely.points(px, py)


def city_network(n_nodes: int, seed: int = 0):
    """The synthetic city as a :class:`WalkNetwork`, nodes in Z-order as the loaders number them;
    returns (net, x, y, u, v) with the reordered arrays for placing points."""
    from eldercare_coverage.network import _z_order, network_from_arrays

    x, y, u, v = make_city(n_nodes, seed)
    order = _z_order(x, y)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    x, y, u, v = x[order], y[order], inv[u], inv[v]
    return network_from_arrays(x, y, u, v, "EPSG:32648"), x, y, u, v


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=250_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", help="write the edges as a GeoPackage (EPSG:32648 coordinates offset to Chengdu)")
    args = ap.parse_args()
    x, y, u, v = make_city(args.nodes, args.seed)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    print(f"{len(x):,} nodes, {len(u):,} edges, mean edge {length.mean():.1f} m, "
          f"extent {x.max() / 1000:.1f} x {y.max() / 1000:.1f} km")
    if args.out:
        import geopandas as gpd
        x0, y0 = 400_000.0, 3_390_000.0
        lines = shapely.linestrings(np.stack([np.stack([x[u] + x0, y[u] + y0], 1), np.stack([x[v] + x0, y[v] + y0], 1)], 1))
        gpd.GeoDataFrame({"u": u, "v": v, "length_m": length}, geometry=lines, crs="EPSG:32648").to_file(args.out)


if __name__ == "__main__":
    main()
