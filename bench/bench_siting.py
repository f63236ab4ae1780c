"""Siting speed benchmark: city-scale MCLP, exact (HiGHS) and heuristic, against spopt.

    .venv/bin/python bench/bench_siting.py            # 100,000 demand × 10,000 candidates, p = 100
    .venv/bin/python bench/bench_siting.py --small    # 10,000 × 1,000, p = 10 (about a minute)

Targets (issue 6): exact MCLP optimal or gap ≤ 0.1 % within 120 s on 2 cores; heuristic
within 1 % of its bound in ≤ 10 s. spopt (``pip install spopt``; NOT a project dependency)
builds a dense PuLP model, so it runs on growing square windows of the same instance until one
takes longer than ``--spopt-budget`` seconds; objective values are compared on each window
(the cross-check) and the speed ratio printed.

With ``--streets`` the instance is the access benchmark's street city (bench/citygen.py) with walk
times from the access engine and 1,000 existing facilities fixed open (``--existing``); otherwise
the instance comes from ``bench/siting_instance.py`` (points in a 15 × 15 km plane, walk time =
Euclidean × 1.3 / 0.9 m/s, pairs ≤ 15 min kept).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from siting_instance import city_instance  # noqa: E402


def load_spopt():
    """Import spopt and pulp, or None when the bench extra is not installed."""
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError:
        return None
    return MCLP, pulp


def street_instance(n_nodes: int, n_demand: int, n_cand: int, n_existing: int, limit_min: float):
    """The access benchmark's city (bench/citygen.py: street network, homes, facilities, sites)
    with walk times from the access engine: candidate and existing-facility × home matrices."""
    from citygen import make_city, points_near_edges

    from eldercare_coverage.access import coverage_matrix, snap_points
    from eldercare_coverage.network import _z_order, network_from_arrays

    x, y, u, v = make_city(n_nodes, 0)
    order = _z_order(x, y)
    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    x, y, u, v = x[order], y[order], inv[u], inv[v]
    net = network_from_arrays(x, y, u, v, "EPSG:32648")
    ds = snap_points(net, points_near_edges(x, y, u, v, n_demand, 1))
    fs = snap_points(net, points_near_edges(x, y, u, v, n_existing, 2))
    cs = snap_points(net, points_near_edges(x, y, u, v, n_cand, 3))
    cand = coverage_matrix(net, cs, ds, 0.9, limit_min)
    exist = coverage_matrix(net, fs, ds, 0.9, limit_min) if n_existing else None
    # Residents per home point: a few to a few dozen, as grid points of compounds carry.
    w = np.random.default_rng(4).gamma(2.0, 8.0, n_demand)
    return cand, exist, w


def run_ours(times, weights, p, limit, method, time_limit_s, mip_gap, existing=None):
    from eldercare_coverage.siting import SitingProblem, solve

    t0 = time.perf_counter()
    prob = SitingProblem.from_matrices(times, weights, existing_times=existing, limit_min=limit)
    res = solve(prob, "mclp", p=p, method=method, time_limit_s=time_limit_s, mip_gap=mip_gap)
    return res, time.perf_counter() - t0


def run_spopt(spopt, times, weights, p, limit, time_limit_s):
    MCLP, pulp = spopt
    t0 = time.perf_counter()
    dense = np.full(times.shape, np.inf)
    coo = times.tocoo()
    dense[coo.row, coo.col] = coo.data
    model = MCLP.from_cost_matrix(dense.T, weights, service_radius=limit, p_facilities=p)
    model.solve(pulp.HiGHS(msg=False, timeLimit=time_limit_s))
    elapsed = time.perf_counter() - t0
    # Score spopt's chosen sites with the same matrix (its fac2cli lists clients of unselected
    # facilities too, so it over-counts; the x variables are the decision).
    # PuLP renames "x[12]" to "x_12_".
    chosen = [int(re.sub(r"\D", "", v.name)) for v in model.problem.variables()
              if v.name.startswith("x") and (v.value() or 0) > 0.5]
    covered = np.asarray(times[chosen].sum(axis=0)).ravel() > 0 if chosen else np.zeros(times.shape[1], bool)
    return float(weights[covered].sum()), elapsed


def window(cand_xy, dem_xy, side_m):
    return np.nonzero((cand_xy < side_m).all(axis=1))[0], np.nonzero((dem_xy < side_m).all(axis=1))[0]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="10,000 × 1,000, p = 10")
    ap.add_argument("--demand", type=int, default=100_000)
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--p", type=int, default=100)
    ap.add_argument("--limit", type=float, default=15.0, help="walk limit (minutes)")
    ap.add_argument("--time-limit", type=float, default=120.0, help="exact solver limit (s)")
    ap.add_argument("--mip-gap", type=float, default=0.001)
    ap.add_argument("--heuristic-time", type=float, default=10.0)
    ap.add_argument("--spopt-budget", type=float, default=600.0, help="stop spopt windows past this (s)")
    ap.add_argument("--no-spopt", action="store_true")
    ap.add_argument("--no-exact", action="store_true")
    ap.add_argument("--streets", action="store_true",
                    help="use the access benchmark's street city (bench/citygen.py) and the access engine's "
                         "matrices, with --existing facilities fixed open, instead of the planar instance")
    ap.add_argument("--nodes", type=int, default=250_000, help="street nodes for --streets")
    ap.add_argument("--existing", type=int, default=1_000, help="existing facilities for --streets")
    args = ap.parse_args(argv)
    if args.small:
        args.demand, args.candidates, args.p = 10_000, 1_000, 10
        extent = 15_000.0 / np.sqrt(10.0)  # same densities as the full instance
    else:
        extent = 15_000.0
    spopt = None if args.no_spopt else load_spopt()
    t0 = time.perf_counter()
    if args.streets:
        nodes = args.nodes // 10 if args.small else args.nodes
        cand, exist, w = street_instance(nodes, args.demand, args.candidates, args.existing // (10 if args.small else 1),
                                         args.limit)
        covered = np.asarray(exist.sum(axis=0)).ravel() > 0 if exist is not None else np.zeros(len(w), bool)
        print(f"street instance: {nodes:,} nodes, {args.demand:,} homes × {args.candidates:,} candidates, "
              f"{cand.nnz:,} pairs ≤ {args.limit:g} min; {exist.shape[0] if exist is not None else 0:,} existing "
              f"facilities already cover {covered.mean():.1%} of homes; built in {time.perf_counter() - t0:.1f} s")
        heur, th = run_ours(cand, w, args.p, args.limit, "heuristic", args.heuristic_time, 0.0, exist)
        print(f"heuristic: covered {heur.objective:,.0f}, bound {heur.bound:,.0f}, gap {heur.gap:.3%}, "
              f"{th:.1f} s wall   [target: gap ≤ 1 % in ≤ 10 s]")
        if not args.no_exact:
            ex, te = run_ours(cand, w, args.p, args.limit, "exact", args.time_limit, args.mip_gap, exist)
            print(f"exact:     covered {ex.objective:,.0f}, bound {ex.bound:,.0f}, gap {ex.gap:.3%}, "
                  f"status {ex.status}, {te:.1f} s wall   [target: gap ≤ 0.1 % in ≤ 120 s]")
        return 0
    cand, _, w, dem_xy, cand_xy = city_instance(args.demand, args.candidates, extent_m=extent, limit_min=args.limit)
    print(f"instance: {args.demand:,} demand × {args.candidates:,} candidates, extent {extent / 1000:.1f} km, "
          f"{cand.nnz:,} pairs ≤ {args.limit:g} min ({cand.nnz / args.candidates:.0f} demand per candidate, "
          f"{cand.nnz / args.demand:.1f} candidates per demand point), built in {time.perf_counter() - t0:.1f} s")

    heur, th = run_ours(cand, w, args.p, args.limit, "heuristic", args.heuristic_time, 0.0)
    print(f"heuristic: covered {heur.objective:,.0f} of {heur.total_weight:,.0f}, bound {heur.bound:,.0f}, "
          f"gap {heur.gap:.3%}, {th:.1f} s wall   [target: gap ≤ 1 % in ≤ 10 s]")
    if not args.no_exact:
        ex, te = run_ours(cand, w, args.p, args.limit, "exact", args.time_limit, args.mip_gap)
        print(f"exact:     covered {ex.objective:,.0f}, bound {ex.bound:,.0f}, gap {ex.gap:.3%}, "
              f"status {ex.status}, {te:.1f} s wall   [target: gap ≤ 0.1 % in ≤ 120 s]")
    if spopt is None:
        print("spopt: not installed (pip install spopt) or skipped")
        return 0
    # spopt on growing windows of the same instance (dense model: the full one does not fit).
    full = extent
    for frac in (0.2, 0.3, 0.45, 0.65, 1.0):
        ci, di = window(cand_xy, dem_xy, frac * full)
        sub = cand[ci][:, di]
        p = max(1, int(round(args.p * len(ci) / args.candidates)))
        ours, to = run_ours(sub, w[di], p, args.limit, "exact", args.spopt_budget, 0.0)
        try:
            theirs, ts = run_spopt(spopt, sub, w[di], p, args.limit, args.spopt_budget)
        except MemoryError:
            print(f"spopt window {len(di):,} × {len(ci):,}: out of memory")
            break
        same = "same objective" if abs(theirs - ours.objective) <= 1e-6 * max(1.0, theirs) else "DIFFERENT objective"
        print(f"window {len(di):,} demand × {len(ci):,} candidates, p={p}: ours {ours.objective:,.0f} "
              f"({ours.status}) in {to:.1f} s, spopt {theirs:,.0f} in {ts:.1f} s -> {same}, "
              f"spopt/ours time ratio {ts / max(to, 1e-9):.1f}")
        if ts > args.spopt_budget:
            print("spopt exceeded its budget on this window; larger windows skipped")
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
