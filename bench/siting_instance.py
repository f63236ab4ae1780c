"""A synthetic city-scale siting instance shaped like a real walk-time coverage matrix.

Demand points and candidate sites lie in a ~15 × 15 km plane; demand clusters around
neighbourhood centres (denser cores, sparser edges) like residential blocks do. Network walk
time ≈ Euclidean distance × detour factor 1.3 / walking speed 0.9 m/s; only pairs within the
limit (15 min ≈ 623 m straight line) are kept, as the access module's bounded search would.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

DETOUR = 1.3
SPEED_MPS = 0.9


def _clustered_points(rng: np.random.Generator, n: int, extent_m: float, n_centres: int) -> np.ndarray:
    """70 % of points around Gaussian neighbourhood centres, 30 % uniform."""
    n_c = int(0.7 * n)
    centres = rng.uniform(0, extent_m, (n_centres, 2))
    spread = rng.uniform(200, 900, n_centres)
    pick = rng.integers(0, n_centres, n_c)
    pts = centres[pick] + rng.normal(size=(n_c, 2)) * spread[pick, None]
    pts = np.vstack([pts, rng.uniform(0, extent_m, (n - n_c, 2))])
    return np.clip(pts, 0, extent_m)


def city_instance(n_demand: int = 100_000, n_candidates: int = 10_000, n_existing: int = 0,
                  extent_m: float = 15_000.0, limit_min: float = 15.0, seed: int = 0):
    """Return ``(candidate_times, existing_times, weights, demand_xy, candidate_xy)``.

    Times are CSR (sites × demand) in minutes, only pairs ≤ ``limit_min``; weights are older
    residents per demand point (lognormal, mean ≈ 6).
    """
    rng = np.random.default_rng(seed)
    demand = _clustered_points(rng, n_demand, extent_m, 60)
    cand = _clustered_points(rng, n_candidates + n_existing, extent_m, 60)
    weights = np.round(rng.lognormal(1.5, 0.6, n_demand)).clip(1, None)
    radius = limit_min * 60.0 * SPEED_MPS / DETOUR
    tree_d = cKDTree(demand)
    tree_c = cKDTree(cand)
    m = tree_c.sparse_distance_matrix(tree_d, radius, output_type="coo_matrix")
    t = m.data * DETOUR / SPEED_MPS / 60.0
    times = sp.csr_matrix((t, (m.row, m.col)), shape=(len(cand), n_demand))
    times.sort_indices()
    return times[n_existing:], times[:n_existing], weights, demand, cand[n_existing:]
