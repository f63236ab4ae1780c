"""Benchmark: a ``.pbf`` study's walk network, the networkx reader against the block decoder.

    python bench/bench_pbf_network.py                      # Helsinki + the small synthetic province
    python bench/bench_pbf_network.py --cities 16 --nodes 50000 --skip-old   # the decoder alone, larger

In one process, for each file: ``network.load_walk_network`` as ``run`` calls it (the block
decoder and the array simplification, :mod:`eldercare_coverage.simplify`), then the networkx
reader it replaces (``network._graph_from_pbf``: pyosmium's per-way loop into a networkx
MultiDiGraph, ``osmnx.simplify_graph``, ``network_from_graph``). Prints seconds, highway ways
per second, the peak resident memory of each (the kernel's high-water mark, reset before each
read through ``/proc/self/clear_refs``), the ratio, and whether the two networks are equal
array for array. Then the other layers a study reads from its file: the residents-only ways
(from the network's read) and the gate nodes (osmium's C++ tag filter on nodes).

The synthetic province is ``bench/bench_scale.py``'s generator (4 cities x 30,000 nodes by
default: one two-node way per street segment, so simplification merges most nodes), written
once into ``--workdir``. The decoder's numba kernels are compiled (or loaded from numba's cache)
on a warm-up read first, as in any second run of the toolkit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def peak_reset() -> None:
    """Reset this process's resident-memory high-water mark (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def rss_mb(field: str = "VmHWM") -> float:
    """This process's resident memory (``VmRSS``) or its high-water mark (``VmHWM``), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def measured(fn):
    """(result, seconds, peak MB above the memory in use before) of ``fn()``."""
    import gc

    gc.collect()
    base = rss_mb("VmRSS")
    peak_reset()
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, rss_mb("VmHWM") - base


def same_network(a, b) -> bool:
    """Whether two walk networks are equal array for array (geometries within 1e-9 m)."""
    import shapely

    arrays = all(np.array_equal(getattr(a, f), getattr(b, f))
                 for f in ("node_id", "x", "y", "edge_u", "edge_v", "component"))
    ca, ia = shapely.get_coordinates(a.edge_geometry, return_index=True)
    cb, ib = shapely.get_coordinates(b.edge_geometry, return_index=True)
    geoms = np.array_equal(ia, ib) and np.allclose(ca, cb, rtol=0, atol=1e-9)
    return bool(arrays and geoms and np.allclose(a.edge_length, b.edge_length, rtol=0, atol=1e-6)
                and a.edge_attrs.equals(b.edge_attrs) and a.fragments.equals(b.fragments))


def compare(path: Path, crs: str, skip_old: bool) -> dict:
    """The decoder's and the networkx reader's network of ``path``, measured."""
    from eldercare_coverage import network, pbf
    from eldercare_coverage.errors import ProblemReport

    new, new_s, new_mb = measured(lambda: network.load_walk_network(path, crs, report=ProblemReport()))
    ways = pbf.residents_ways(path).ways_read  # remembered from that read: the file is not read again
    out = {"file": path.name, "ways": ways, "nodes": new.n_nodes, "edges": new.n_edges, "new_s": new_s,
           "new_mb": new_mb}
    res, out["residents_s"], _ = measured(lambda: network.read_residents_ways(path))
    gates, out["gates_s"], _ = measured(lambda: network.read_osm_gates(path))
    out["residents"], out["gates"] = len(res), len(gates)
    if not skip_old:
        old, out["old_s"], out["old_mb"] = measured(lambda: network.network_from_graph(
            network._graph_from_pbf(path, None), crs, source=str(path), report=ProblemReport()))
        out["equal"] = same_network(new, old)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/eldercare-pbf-network"))
    ap.add_argument("--cities", type=int, default=4)
    ap.add_argument("--nodes", type=int, default=30_000, help="nodes per city")
    ap.add_argument("--skip-old", action="store_true", help="the decoder only (the networkx reader takes long)")
    args = ap.parse_args()
    from bench_scale import CRS, generate

    from eldercare_coverage import network

    print(f"load average at start: {'/'.join(f'{v:.1f}' for v in os.getloadavg())} on {os.cpu_count()} cores")
    province = args.workdir / "province.osm.pbf"
    marker = args.workdir / f"generated-{args.cities}x{args.nodes}"
    if not marker.exists():
        generate(args.workdir, args.cities, args.nodes, 12_000, 120, 60)
        marker.touch()
    helsinki = ROOT / "tests" / "data" / "osm" / "helsinki-center.osm.pbf"
    network.load_walk_network(helsinki, "EPSG:32635")  # warm-up: numba's kernels compiled or loaded
    for path, crs in ((helsinki, "EPSG:32635"), (province, CRS)):
        r = compare(path, crs, args.skip_old)
        print(f"{r['file']}: {r['ways']:,} highway ways -> {r['nodes']:,} nodes, {r['edges']:,} edges")
        print(f"  decoder + arrays: {r['new_s']:.2f} s ({r['ways'] / r['new_s']:,.0f} ways/s), "
              f"peak +{r['new_mb']:,.0f} MB; then residents-only ways {r['residents_s']:.3f} s ({r['residents']}, "
              f"no second read), gate nodes {r['gates_s']:.2f} s ({r['gates']})")
        if "old_s" in r:
            print(f"  networkx reader:  {r['old_s']:.2f} s ({r['ways'] / r['old_s']:,.0f} ways/s), "
                  f"peak +{r['old_mb']:,.0f} MB")
            print(f"  ratio {r['old_s'] / r['new_s']:.1f}x faster, {r['old_mb'] / max(r['new_mb'], 1):.1f}x less "
                  f"peak memory; networks equal array for array: {'yes' if r['equal'] else 'NO'}", flush=True)
    print(f"load average at end: {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
