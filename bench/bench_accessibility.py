"""Benchmark the accessibility measures (2SFCA family) on the access benchmark's city.

    .venv/bin/python bench/bench_accessibility.py            # 250k nodes, 100k homes, 1k facilities
    .venv/bin/python bench/bench_accessibility.py --small    # 20k nodes, 10k homes, 100 facilities

Builds the facilities × homes walk-time matrix (15 min at 0.9 m/s) with the access engine, as
``bench_access.py`` does, then times each measure once the matrix exists, in the same run and on
the same matrix, against:

* a dense numpy computation (the matrix densified, inf = out of reach; vectorised, no loops);
* a per-facility loop over the matrix rows (numpy per facility; how a hand-written script goes);
* PySAL ``access`` (``fca.two_stage_fca`` / ``three_stage_fca`` on the matrix as a cost table;
  the table's construction is not timed), when installed (``pip install access``).

Every baseline's result is checked against the engine's (max relative difference printed).
Engine times are the median of 5 runs; baselines run once.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from citygen import city_network, points_near_edges  # noqa: E402

from eldercare_coverage import accessibility as acc  # noqa: E402
from eldercare_coverage.access import coverage_matrix, snap_points  # noqa: E402

SPEED = 0.9
LIMIT_MIN = 15.0
KW = dict(limit_min=LIMIT_MIN, bands_min=acc.BANDS_MIN, band_weights=acc.BAND_WEIGHTS, decay=1.5)
MEASURES = list(acc.MEASURES)


def timed(fn, *args, repeat: int = 1, **kw):
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args, **kw)
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def city_matrix(n_nodes: int, n_homes: int, n_fac: int):
    net, x, y, u, v = city_network(n_nodes)
    ds = snap_points(net, points_near_edges(x, y, u, v, n_homes, 1))
    fs = snap_points(net, points_near_edges(x, y, u, v, n_fac, 2))
    return coverage_matrix(net, fs, ds, SPEED, LIMIT_MIN)


def weight_fn(measure: str):
    """The measure's weight as the plain scalar function PySAL applies per row (its own
    ``step_fn`` and ``gravity`` where it has them), so PySAL is not slowed by our array code."""
    from access import weights

    t0, beta, edge = LIMIT_MIN, KW["decay"], math.exp(-0.5)
    if measure in ("e2sfca", "3sfca"):
        return weights.step_fn(dict(zip(acc.BANDS_MIN, acc.BAND_WEIGHTS)))
    if measure == "gravity":
        return weights.gravity(scale=1.0, alpha=-beta, min_dist=1.0)
    if measure == "g2sfca":
        return lambda t: (math.exp(-0.5 * (t / t0) ** 2) - edge) / (1 - edge)
    return lambda t: max(0.0, 1 - (t / t0) ** 2) ** beta  # kd2sfca


def dense(T_dense: np.ndarray, S, D, measure: str) -> np.ndarray:
    """Dense numpy 2SFCA family: the same formulas on the full matrix (inf = out of reach)."""
    inside = np.isfinite(T_dense)
    W = np.where(inside, acc.decay_weights(np.where(inside, T_dense, 0.0), measure, **KW), 0.0)
    if measure == "3sfca":
        col = W.sum(axis=0)
        W = W * np.divide(W, col, out=np.zeros_like(W), where=col > 0)
    catch = W @ D
    R = np.divide(S, catch, out=np.zeros_like(catch), where=catch > 0)
    return W.T @ R


def looped(T, S, D, measure: str) -> np.ndarray:
    """Per-facility loop over the CSR rows (two passes), numpy within each row."""
    n_f, n_p = T.shape
    rows = []
    for j in range(n_f):
        lo, hi = T.indptr[j], T.indptr[j + 1]
        rows.append((T.indices[lo:hi], acc.decay_weights(T.data[lo:hi], measure, **KW)))
    if measure == "3sfca":
        col = np.zeros(n_p)
        for idx, w in rows:
            col[idx] += w
        rows = [(idx, w * np.divide(w, col[idx], out=np.zeros_like(w), where=col[idx] > 0)) for idx, w in rows]
    A = np.zeros(n_p)
    for j, (idx, w) in enumerate(rows):
        catch = float(w @ D[idx])
        if catch > 0:
            A[idx] += w * (S[j] / catch)
    return A


def pysal(fca, cost, demand_df, supply_df, measure: str, n_p: int) -> np.ndarray:
    fn = None if measure == "2sfca" else weight_fn(measure)
    stage = fca.three_stage_fca if measure == "3sfca" else fca.two_stage_fca
    out = stage(demand_df, supply_df, cost, max_cost=LIMIT_MIN, weight_fn=fn)
    return out.reindex(np.arange(n_p)).fillna(0.0).to_numpy()


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(a), np.abs(b))
    return float(np.max(np.divide(np.abs(a - b), scale, out=np.zeros_like(a), where=scale > 0)))


def main() -> None:
    ap = argparse.ArgumentParser(description="accessibility measures benchmark")
    ap.add_argument("--small", action="store_true", help="20k nodes, 10k homes, 100 facilities")
    ap.add_argument("--no-dense", action="store_true", help="skip the dense baseline (needs ~3 GB at full size)")
    ap.add_argument("--no-pysal", action="store_true")
    args = ap.parse_args()
    n_nodes, n_homes, n_fac = (20_000, 10_000, 100) if args.small else (250_000, 100_000, 1_000)
    print(f"{os.cpu_count()} cores, load average at start {os.getloadavg()[0]:.1f}")
    T, t = timed(city_matrix, n_nodes, n_homes, n_fac)
    print(f"matrix {n_fac:,} facilities x {n_homes:,} homes: {T.nnz:,} pairs within {LIMIT_MIN:g} min "
          f"(built in {t:.1f} s, not counted below)")
    rng = np.random.default_rng(0)
    S = rng.uniform(100, 1000, n_fac)          # floor area (m²)
    D = rng.integers(0, 60, n_homes).astype(float)  # older residents per home point
    ours = {}
    for m in MEASURES:
        acc.compute(T, S, D, m, **KW)  # warm caches
        res, t = timed(acc.compute, T, S, D, m, repeat=5, **KW)
        ours[m] = (res.point, t)
    T_dense = None
    if not args.no_dense:
        T_dense = np.full(T.shape, np.inf)
        coo = T.tocoo()
        T_dense[coo.row, coo.col] = coo.data
    fca = None
    if not args.no_pysal:
        try:
            from access import fca
        except ImportError:
            print("PySAL access not installed (pip install access): its column is n/a")
    if fca is not None:
        import pandas as pd

        coo = T.tocoo()
        cost = pd.DataFrame({"origin": coo.col, "dest": coo.row, "cost": coo.data})
        demand_df = pd.DataFrame({"geoid": np.arange(n_homes), "demand": D})
        supply_df = pd.DataFrame({"supply": S}, index=pd.Index(np.arange(n_fac), name="geoid"))
    head = f"{'measure':<9} {'engine':>10} {'dense':>10} {'ratio':>7} {'loop':>10} {'ratio':>7} {'PySAL':>10} {'ratio':>7}  max rel. diff"
    print(head)
    print("-" * len(head))
    for m in MEASURES:
        a, t_ours = ours[m]
        cells, diffs = [], []
        for name, run, rep in (("dense", None if T_dense is None else (lambda m=m: dense(T_dense, S, D, m)), 1),
                               ("loop", lambda m=m: looped(T, S, D, m), 1),
                               ("pysal", None if fca is None else (lambda m=m: pysal(fca, cost, demand_df, supply_df,
                                                                                    m, n_homes)), 1)):
            if run is None:
                cells.append(f"{'n/a':>10} {'':>7}")
                continue
            b, t_b = timed(run, repeat=rep)
            cells.append(f"{t_b:9.3f}s {t_b / t_ours:6.0f}×")
            diffs.append(f"{name} {rel_diff(a, b):.1e}")
        print(f"{m:<9} {t_ours:9.4f}s " + " ".join(cells) + "  " + ", ".join(diffs), flush=True)
    print("engine target: every measure < 1 s once the matrix exists, ≥ 20× faster than PySAL access")


if __name__ == "__main__":
    main()
