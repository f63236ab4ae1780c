"""Benchmark the access engine against the tools users would otherwise use, on one synthetic city.

    .venv/bin/python bench/bench_access.py            # 250k nodes, 100k homes, 1k facilities, 10k sites
    .venv/bin/python bench/bench_access.py --small    # a quick run (~20k nodes)

Measures, in the same run and on the same data:

* this engine: network build (CSR), snapping, nearest facility (one multi-source search),
  the candidates × homes coverage matrix (bounded searches), facility isochrones;
* networkx multi-source Dijkstra (nearest facility; nodes only, no edge snapping);
* networkx per-site cutoff search (``single_source_dijkstra_path_length(cutoff=...)``), timed
  on a sample of sites and scaled to all candidates (search only: no join to homes);
* pandana (if installed): contraction-hierarchy preprocessing, ``nodes_in_range`` for all
  candidates and ``nearest_pois`` for the facilities, with its node mapping.

Prints a table of times, peak memory (process max RSS after each stage) and speed ratios.
Numba compilation is excluded by a warm-up on a tiny network (reported separately).
"""

from __future__ import annotations

import argparse
import logging
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from citygen import make_city, points_near_edges  # noqa: E402

from eldercare_coverage.access import coverage_matrix, nearest_facility, snap_points  # noqa: E402
from eldercare_coverage.isochrones import isochrones  # noqa: E402
from eldercare_coverage.network import _z_order, network_from_arrays  # noqa: E402

SPEED = 0.9
LIMIT_MIN = 15.0


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float | None, float, str]] = []

    def add(self, name: str, seconds: float | None, note: str = "") -> None:
        self.rows.append((name, seconds, peak_mb(), note))
        s = "n/a" if seconds is None else f"{seconds:9.2f} s"
        print(f"  {name:<58} {s:>12}  peak {peak_mb():8.0f} MB  {note}", flush=True)

    def get(self, name: str) -> float | None:
        for n, s, _, _ in self.rows:
            if n == name:
                return s
        return None


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def timed_median(fn, *args, repeat: int = 3, **kw):
    """Median wall time of ``repeat`` runs (the first pays one-off page faults and thread start)."""
    times = []
    for _ in range(repeat):
        out, t = timed(fn, *args, **kw)
        times.append(t)
    return out, float(np.median(times)), times


def warm_up() -> float:
    """Compile (or load cached) numba kernels on a tiny network."""
    t = time.perf_counter()
    x, y, u, v = make_city(400, seed=1)
    net = network_from_arrays(x, y, u, v, "EPSG:32648")
    p = points_near_edges(x, y, u, v, 50, 1)
    s = snap_points(net, p)
    nearest_facility(net, s, s.subset(np.arange(5)), SPEED)
    coverage_matrix(net, s.subset(np.arange(5)), s, SPEED, LIMIT_MIN, n_threads=1)
    isochrones(net, s.subset(np.arange(2)), ["a", "b"], None, SPEED, [LIMIT_MIN])
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description="access engine benchmark")
    ap.add_argument("--small", action="store_true", help="20k nodes, 10k homes, 100 facilities, 1k candidates")
    ap.add_argument("--nodes", type=int)
    ap.add_argument("--homes", type=int)
    ap.add_argument("--facilities", type=int)
    ap.add_argument("--candidates", type=int)
    ap.add_argument("--sample", type=int, default=200, help="sites timed for the per-site networkx search")
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--isochrones-only", action="store_true",
                    help="only the isochrones against the previous fixed-buffer shape")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    n_nodes = args.nodes or (20_000 if args.small else 250_000)
    n_homes = args.homes or (10_000 if args.small else 100_000)
    n_fac = args.facilities or (100 if args.small else 1_000)
    n_cand = args.candidates or (1_000 if args.small else 10_000)
    limit_m = LIMIT_MIN * 60 * SPEED
    tab = Table()
    import os
    print(f"walk speed {SPEED} m/s, limit {LIMIT_MIN:g} min = {limit_m:.0f} m; {os.cpu_count()} cores, "
          f"load average at start {os.getloadavg()[0]:.1f} (other jobs slow every figure alike)")

    tab.add("numba warm-up (compile or load cache, tiny network)", warm_up())
    (x, y, u, v), t = timed(make_city, n_nodes, 0)
    tab.add("generate city", t, f"{len(x):,} nodes, {len(u):,} edges")
    # number nodes along a Z-order curve, as load_walk_network does for OSM data
    order = _z_order(x, y)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    x, y, u, v = x[order], y[order], inv[u], inv[v]
    net, t = timed(network_from_arrays, x, y, u, v, "EPSG:32648")
    tab.add("engine: build network (geometries, CSR, components)", t,
            f"main part {int(net.main_node_mask.sum()):,} nodes, mean edge {net.edge_length.mean():.1f} m")
    homes = points_near_edges(x, y, u, v, n_homes, 1)
    fac_pts = points_near_edges(x, y, u, v, n_fac, 2)
    cand_pts = points_near_edges(x, y, u, v, n_cand, 3)

    ds, t_snap_d = timed(snap_points, net, homes)
    fs, t_snap_f = timed(snap_points, net, fac_pts)
    cs, t_snap_c = timed(snap_points, net, cand_pts)
    tab.add(f"engine: snap {n_homes:,} homes to edges", t_snap_d, "target < 5 s")
    tab.add(f"engine: snap {n_fac:,} facilities + {n_cand:,} candidates", t_snap_f + t_snap_c)
    (idx, tmin), t = timed(nearest_facility, net, ds, fs, SPEED)
    tab.add("engine: nearest facility for all homes (multi-source)", t,
            f"target < 1 s; {np.mean(tmin <= LIMIT_MIN):.1%} within {LIMIT_MIN:g} min")
    if args.isochrones_only:
        iso_vs_baseline(tab, net, fs, n_fac, ds.max_m, limit_m)
        return
    mat, t_cov, runs = timed_median(coverage_matrix, net, cs, ds, SPEED, LIMIT_MIN)
    tab.add(f"engine: coverage matrix {n_cand:,} candidates x {n_homes:,} homes (median of 3)", t_cov,
            f"{mat.nnz:,} pairs ({mat.nnz / max(1, n_cand):.0f}/site), {mat.data.nbytes / 1e6:.0f} MB values; "
            f"runs {', '.join(f'{r:.2f}' for r in runs)} s")
    directed_rows(tab, net, x, y, cs, ds, fs, t_cov, n_cand, n_homes)
    t_iso = iso_vs_baseline(tab, net, fs, n_fac, ds.max_m, limit_m)
    iso3, t_iso3 = timed(isochrones, net, fs, np.arange(n_fac).astype(str), None, SPEED, [5, 10, 15],
                         access_max_m=ds.max_m)
    tab.add(f"engine: {n_fac:,} x 3 isochrones (5/10/15 min)", t_iso3)
    engine_peak = peak_mb()
    # settled nodes per 15-min search (sample)
    from eldercare_coverage import _kernels as K
    buf = np.full(net.n_nodes, np.inf)
    from eldercare_coverage.access import _csr
    indptr, indices, weights, _ = _csr(net)
    settled = []
    for s in np.flatnonzero(cs.edge >= 0)[:200]:
        e = cs.edge[s]
        nodes, _ = K.settle(indptr, indices, weights,
                            np.array([net.edge_u[e], net.edge_v[e]], np.int64),
                            np.array([cs.access_m[s] + cs.pos[s], cs.access_m[s] + cs.edge_len[s] - cs.pos[s]]),
                            limit_m, buf)
        settled.append(len(nodes))
    print(f"  (one 15-min search settles {np.mean(settled):.0f} nodes on average)")

    if not args.no_baselines:
        import networkx as nx
        G, t = timed(lambda: (lambda g: (g.add_weighted_edges_from(
            zip(net.edge_u.tolist(), net.edge_v.tolist(), net.edge_length.tolist()), weight="length"), g)[1])(nx.Graph()))
        tab.add("networkx: build Graph", t)
        src = sorted(set(net.edge_u[fs.edge[fs.edge >= 0]].tolist()))
        _, t = timed(nx.multi_source_dijkstra_path_length, G, src, weight="length")
        tab.add("networkx: multi-source Dijkstra (nearest facility, nodes)", t)
        sample = net.edge_u[cs.edge[cs.edge >= 0]][:args.sample]
        t0 = time.perf_counter()
        for s in sample.tolist():
            nx.single_source_dijkstra_path_length(G, s, cutoff=limit_m, weight="length")
        per = (time.perf_counter() - t0) / len(sample)
        tab.add(f"networkx: per-site cutoff search x {n_cand:,} (scaled from {len(sample)})", per * n_cand,
                f"{per * 1000:.1f} ms/site")
        del G
        try:
            import pandana
            import pandas as pd
        except ImportError:
            tab.add("pandana: not installed (pip install pandana)", None)
        else:
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                pnet, t_pre = timed(pandana.Network, pd.Series(net.x), pd.Series(net.y), pd.Series(net.edge_u),
                                    pd.Series(net.edge_v), pd.DataFrame({"length": net.edge_length}), twoway=True)
            tab.add("pandana: Network() contraction-hierarchy preprocessing", t_pre)
            t0 = time.perf_counter()
            cnodes = pnet.get_node_ids(pd.Series(shapely_x(cand_pts)), pd.Series(shapely_y(cand_pts)))
            rng_df = pnet.nodes_in_range(cnodes.to_numpy(), limit_m)
            t_rng = time.perf_counter() - t0
            tab.add(f"pandana: nodes_in_range for {n_cand:,} candidates (+node mapping)", t_rng,
                    f"{len(rng_df):,} node pairs (not joined to homes)")
            t0 = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                pnet.precompute(limit_m)
                pnet.set_pois("fac", limit_m, 1, pd.Series(shapely_x(fac_pts)), pd.Series(shapely_y(fac_pts)))
                hn = pnet.get_node_ids(pd.Series(shapely_x(homes)), pd.Series(shapely_y(homes)))
                near = pnet.nearest_pois(limit_m, "fac", num_pois=1)
                near.loc[hn.to_numpy()]
            tab.add("pandana: precompute + set_pois + nearest_pois (+node mapping)", time.perf_counter() - t0)

    print()
    print("ratios (baseline time / engine time):")
    cov = t_cov
    near_t = tab.get("engine: nearest facility for all homes (multi-source)")
    for name, ours, label in (
            ("networkx: multi-source Dijkstra (nearest facility, nodes)", near_t, "nearest facility vs networkx multi-source"),
            (f"networkx: per-site cutoff search x {n_cand:,} (scaled from {min(args.sample, n_cand)})", cov,
             "coverage matrix vs networkx per-site cutoff (target >= 20x, aim 50x)")):
        base = tab.get(name)
        if base is not None and ours:
            print(f"  {label:<72} {base / ours:8.1f}x")
    flat2 = tab.get(f"engine: coverage matrix {n_cand:,} x {n_homes:,}, flat again (median of 3)")
    for name, label in (("directed code path, level costs", "coverage matrix: directed path, level costs / flat"),
                        ("directed slope costs", "coverage matrix: directed slope costs / flat")):
        t_d = tab.get(f"engine: coverage matrix {n_cand:,} x {n_homes:,}, {name} (median of 3)")
        if t_d and flat2:
            print(f"  {label + ' (time ratio, < 1 is faster)':<72} {t_d / flat2:8.2f}x")
    pre = tab.get("pandana: Network() contraction-hierarchy preprocessing")
    rng_t = tab.get(f"pandana: nodes_in_range for {n_cand:,} candidates (+node mapping)")
    if pre is not None and rng_t is not None:
        print(f"  {'coverage matrix vs pandana preprocessing + nodes_in_range (target > 1x)':<72} {(pre + rng_t) / cov:8.1f}x")
        print(f"  {'coverage matrix vs pandana nodes_in_range alone':<72} {rng_t / cov:8.1f}x")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    print(f"peak memory of the engine stages: {engine_peak:,.0f} MB (target < 4,096 MB); "
          f"whole run: {peak_mb():,.0f} MB")


def synthetic_dem(x, y):
    """Rolling hills over the city (up to ~60 m of relief, grades mostly under 10 %) as an
    in-memory DEM at 30 m cells (SRTM-like), in the network's CRS."""
    from affine import Affine

    from eldercare_coverage.walkcost import Dem

    import pyproj

    cell = 30.0
    x0, y0 = x.min() - 2 * cell, y.max() + 2 * cell
    w = int((x.max() - x0) / cell) + 4
    h = int((y0 - y.min()) / cell) + 4
    cx = x0 + (np.arange(w) + 0.5) * cell
    cy = y0 - (np.arange(h) + 0.5) * cell
    X, Y = np.meshgrid(cx, cy)
    z = 300 + 30 * np.sin(X / 700.0) * np.cos(Y / 900.0) + 12 * np.sin((X + Y) / 260.0)
    return Dem(z, Affine(cell, 0, x0, 0, -cell, y0), pyproj.CRS("EPSG:32648"), "synthetic hills")


def directed_rows(tab: Table, net, x, y, cs, ds, fs, t_cov: float, n_cand: int, n_homes: int) -> None:
    """Slope costs from a synthetic DEM, then the nearest facility and the coverage matrix on the
    directed network, against the flat runs of this process."""
    from eldercare_coverage.walkcost import walk_costs

    try:
        dem = synthetic_dem(x, y)
    except ImportError:
        tab.add("engine: directed costs skipped (needs the [dem] extra: affine/rasterio)", None)
        return
    dnet, t = timed(walk_costs, net, 1.0, dem)
    up = np.maximum(dnet.cost_fwd, dnet.cost_bwd) / np.maximum(net.edge_length, 1e-9)
    tab.add("engine: slope costs of every edge from a DEM (Tobler, samples every 10 m)", t,
            f"costs {np.median(up):.3f}x the flat length at the median, up to {up.max():.2f}x")
    (_, tn), t_near_d = timed(nearest_facility, dnet, ds, fs, SPEED)
    _, t_near_f = timed(nearest_facility, net, ds, fs, SPEED)
    tab.add("engine: nearest facility, directed slope costs", t_near_d,
            f"flat again in this run {t_near_f:.2f} s; {np.mean(tn <= LIMIT_MIN):.1%} within {LIMIT_MIN:g} min")
    # the directed code path with every cost equal to the length: the same search as the flat
    # one, so the difference is the cost of carrying two directions (the flat run passes one array twice)
    import dataclasses

    level = dataclasses.replace(net, edge_cost_fwd=net.edge_length.copy(), edge_cost_bwd=net.edge_length.copy(),
                                meta={})
    lmat, t_lvl, runs = timed_median(coverage_matrix, level, cs, ds, SPEED, LIMIT_MIN)
    _, t_flat, runs_f = timed_median(coverage_matrix, net, cs, ds, SPEED, LIMIT_MIN)
    tab.add(f"engine: coverage matrix {n_cand:,} x {n_homes:,}, flat again (median of 3)", t_flat,
            f"runs {', '.join(f'{r:.2f}' for r in runs_f)} s")
    tab.add(f"engine: coverage matrix {n_cand:,} x {n_homes:,}, directed code path, level costs (median of 3)",
            t_lvl, f"{lmat.nnz:,} pairs; runs {', '.join(f'{r:.2f}' for r in runs)} s; {t_lvl / t_flat:.2f}x flat")
    dmat, t_dir, runs = timed_median(coverage_matrix, dnet, cs, ds, SPEED, LIMIT_MIN)
    tab.add(f"engine: coverage matrix {n_cand:,} x {n_homes:,}, directed slope costs (median of 3)", t_dir,
            f"{dmat.nnz:,} pairs; runs {', '.join(f'{r:.2f}' for r in runs)} s; "
            f"{t_dir / t_flat:.2f}x flat")


def iso_vs_baseline(tab: Table, net, fs, n_fac: int, access_max_m: float, limit_m: float) -> float:
    """The isochrones (access model: a street reached with r m left covers min(r, snap limit)),
    then the previous fixed-buffer shape on the same sites, one after the other."""
    _, t_iso = timed(isochrones, net, fs, np.arange(n_fac).astype(str), None, SPEED, [LIMIT_MIN],
                     access_max_m=access_max_m)
    tab.add(f"engine: {n_fac:,} isochrones (15 min, access model, {access_max_m:.0f} m snap limit)", t_iso,
            "target < 30 s")
    _, t_old = timed(fixed_buffer_isochrones, net, fs, limit_m, 40.0)
    tab.add(f"baseline: {n_fac:,} isochrones, previous shape (every reached street + 40 m)", t_old,
            f"access-model shape {t_old / t_iso:.2f}x as fast")
    return t_iso


def fixed_buffer_isochrones(net, fs, limit_m: float, buffer_m: float) -> list:
    """The previous isochrone shape, for the same-process comparison: every reached street piece
    buffered by a fixed width and unioned per site (as the engine did before it followed the
    access model), on all cores."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import shapely

    from eldercare_coverage.isochrones import _merge_intervals, edge_substrings, reachable_pieces

    sites = np.flatnonzero(fs.edge >= 0)
    buf = np.full(net.n_nodes, np.inf)
    pieces = []
    for s in sites:
        li, _, e, a, b, _, _ = reachable_pieces(net, fs, int(s), [limit_m], buf)
        pieces.append(edge_substrings(net, *_merge_intervals(net, li, e, a, b)[1:]))
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(lambda lines: shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=2)), pieces))


def shapely_x(p):
    import shapely
    return shapely.get_x(p)


def shapely_y(p):
    import shapely
    return shapely.get_y(p)


if __name__ == "__main__":
    main()
