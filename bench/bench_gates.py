"""Cost of the internal ways of gated compounds: building the gated network and searching it,
with straight walks inside the compounds against walks along internal (residents-only) ways,
timed in the same process on a synthetic grid city.

    .venv/bin/python bench/bench_gates.py [--blocks 40] [--homes 9]

A street grid of 100 m blocks; each block holds one 80 m compound with two gates (north,
public; south, residents only), an internal residents-only footway crossing it east-west and a
north-south one from gate to gate, and ``homes`` × ``homes`` homes on a grid; one facility per
25 blocks on the streets. Prints the times and their ratios (ways / straight).
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely

from eldercare_coverage.access import coverage_matrix, nearest_facility, snap_points, snap_through_gates
from eldercare_coverage.network import network_from_arrays

CRS = "EPSG:32648"


def city(blocks: int, homes: int):
    n = blocks + 1
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    x, y = (ii * 100.0).ravel(), (jj * 100.0).ravel()
    idx = (ii * n + jj)
    u = np.r_[idx[:-1, :].ravel(), idx[:, :-1].ravel()]
    v = np.r_[idx[1:, :].ravel(), idx[:, 1:].ravel()]
    net = network_from_arrays(x, y, u, v, CRS)
    bx, by = np.meshgrid(np.arange(blocks) * 100.0 + 10, np.arange(blocks) * 100.0 + 10, indexing="ij")
    bx, by = bx.ravel(), by.ravel()
    comps = gpd.GeoDataFrame({"community_id": [f"C{i}" for i in range(len(bx))]},
                             geometry=shapely.box(bx, by, bx + 80, by + 80), crs=CRS)
    gates = gpd.GeoDataFrame({"gate_id": [f"G{i}" for i in range(2 * len(bx))],
                              "access": ["", "private"] * len(bx), "opening_hours": [""] * (2 * len(bx))},
                             geometry=shapely.points(np.repeat(bx + 40, 2), np.ravel(np.c_[by + 80, by])), crs=CRS)
    ew = shapely.linestrings(np.stack([np.c_[bx + 3, by + 40], np.c_[bx + 77, by + 40]], axis=1))
    ns = shapely.linestrings(np.stack([np.c_[bx + 40, by + 3], np.c_[bx + 40, by + 77]], axis=1))
    ways = gpd.GeoDataFrame({"highway": ["footway"] * (2 * len(bx))}, geometry=np.r_[ew, ns], crs=CRS)
    off = (np.arange(homes) + 0.5) * 80.0 / homes
    hx = (bx[:, None, None] + off[None, :, None] + 0 * off[None, None, :]).ravel()
    hy = (by[:, None, None] + 0 * off[None, :, None] + off[None, None, :]).ravel()
    home_pts = shapely.points(hx, hy)
    fb = np.arange(0, len(bx), 25)
    fac_pts = shapely.points(bx[fb] - 10, by[fb] + 40)
    return net, comps, gates, ways, home_pts, fac_pts


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=40)
    ap.add_argument("--homes", type=int, default=9)
    a = ap.parse_args()
    net, comps, gates, ways, homes, facs = city(a.blocks, a.homes)
    hs, fs = snap_points(net, homes), snap_points(net, facs)
    nearest_facility(net, hs, fs, 1.0)  # compile the kernels before timing
    rows = {}
    for name, rw in (("straight", None), ("ways", ways)):
        (gnet, (h2, f2), _), t_build = timed(snap_through_gates, net, comps, gates, [hs, fs], [homes, facs],
                                             [False, True], residents_ways=rw)
        (_, tmin), t_near = timed(nearest_facility, gnet, h2, f2, 1.0)
        _, t_cov = timed(coverage_matrix, gnet, f2, h2, 1.0, 15.0)
        rows[name] = (t_build, t_near, t_cov, gnet.n_nodes, gnet.n_edges, float(np.nanmean(tmin)))
    print(f"{len(comps):,} compounds, {len(homes):,} homes, {len(facs)} facilities, {net.n_edges:,} street edges")
    print(f"{'':10}{'build s':>10}{'nearest s':>11}{'matrix s':>10}{'nodes':>10}{'edges':>10}{'mean min':>10}")
    for name, r in rows.items():
        print(f"{name:10}{r[0]:>10.2f}{r[1]:>11.3f}{r[2]:>10.3f}{r[3]:>10,}{r[4]:>10,}{r[5]:>10.2f}")
    s, w = rows["straight"], rows["ways"]
    print(f"ratio ways/straight: build {w[0] / s[0]:.2f}, nearest {w[1] / s[1]:.2f}, matrix {w[2] / s[2]:.2f}")


if __name__ == "__main__":
    main()
