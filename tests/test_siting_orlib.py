"""Published benchmark instances: OR-Library p-median / p-center / capacitated p-median, Swain 55-node.

Optimal values quoted here come from the literature (sources next to each table), never from
this code.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import shortest_path

from eldercare_coverage.siting import SitingProblem, solve

HERE = Path(__file__).resolve().parent
ORLIB = HERE / "data" / "orlib"


#: OR-Library ``pmedopt.txt`` (J.E. Beasley, OR-Library; Beasley 1985, EJOR 21:270-273).
PMED_OPT = {1: 5819, 2: 4093, 3: 4250, 4: 3034, 5: 1355, 6: 7824, 7: 5631, 8: 4445, 9: 2734, 10: 1255}
#: Vertex p-center optima on the same graphs: W. Pullan, "A memetic genetic algorithm for the
#: vertex p-center problem", Evolutionary Computation 16(3) (2008), as tabulated in
#: GitHub timothy-ch-cheung/k-center, src/server/dataset/ORLIB/kcenteropt.txt.
PCENTER_OPT = {1: 127, 2: 98, 3: 93, 4: 74, 5: 48, 6: 84, 7: 64, 8: 55, 9: 37, 10: 20}
#: OR-Library ``pmedcap1.txt`` header values (Osman & Christofides 1994, capacitated clustering).
PMEDCAP_OPT = {1: 713, 2: 740, 3: 751, 4: 651, 5: 664}


def read_pmed(path: Path) -> tuple[np.ndarray, int]:
    """All-pairs shortest-path distances and p of an OR-Library pmed file (last duplicate wins)."""
    raw = np.loadtxt(path, dtype=np.int64)
    n, m, p = raw[0]
    e = raw[1:1 + m]
    i, j = np.minimum(e[:, 0], e[:, 1]) - 1, np.maximum(e[:, 0], e[:, 1]) - 1
    key = i * n + j
    # Keep the last occurrence of each vertex pair: unique over the reversed list.
    _, first_rev = np.unique(key[::-1], return_index=True)
    keep = len(key) - 1 - first_rev
    g = sp.csr_matrix((e[keep, 2].astype(float), (i[keep], j[keep])), shape=(n, n))
    return shortest_path(g, directed=False), int(p)


@pytest.mark.parametrize("k", range(1, 6))
def test_orlib_pmedian_published_optimum(k):
    d, p = read_pmed(ORLIB / f"pmed{k}.txt")
    res = solve(SitingProblem.from_matrices(d, np.ones(len(d))), "pmedian", p=p)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(PMED_OPT[k])
    assert res.bound == pytest.approx(PMED_OPT[k]) and res.gap == 0
    assert len(res.selected_ids) == p
    # The reported assignment realises the objective.
    assert np.nansum(res.assigned_time) == pytest.approx(PMED_OPT[k])


@pytest.mark.parametrize("k", range(1, 6))
def test_orlib_pcenter_published_optimum(k):
    d, p = read_pmed(ORLIB / f"pmed{k}.txt")
    res = solve(SitingProblem.from_matrices(d, np.ones(len(d))), "pcenter", p=p)
    assert res.status == "optimal"
    assert res.objective == PCENTER_OPT[k] == res.bound
    assert np.nanmax(res.assigned_time) == PCENTER_OPT[k]


def read_pmedcap(path: Path):
    lines = path.read_text().split("\n")
    n, p, q = map(int, lines[1].split())
    data = np.array([list(map(int, ln.split())) for ln in lines[2:2 + n]])
    xy, demand = data[:, 1:3].astype(float), data[:, 3].astype(float)
    # Euclidean distance truncated to an integer (the rule that reproduces the published values).
    d = np.floor(np.linalg.norm(xy[:, None] - xy[None], axis=2))
    return d, demand, p, float(q)


@pytest.mark.parametrize("k", (1, 5))
def test_orlib_capacitated_pmedian_published_optimum(k):
    d, demand, p, q = read_pmedcap(HERE / "data" / "pmedcap" / f"pmedcap1-{k}.txt")
    n = len(d)
    # Objective counts plain distances (weight 1); capacity use is the customer's demand.
    prob = SitingProblem.from_matrices(d, np.ones(n), candidate_capacity=np.full(n, q), demand_size=demand)
    res = solve(prob, "pmedian", p=p, capacitated=True, single_source=True, time_limit_s=60)
    assert res.status == "optimal"
    assert res.objective == pytest.approx(PMEDCAP_OPT[k])
    load = np.bincount(res.assignment, weights=demand, minlength=n)
    assert load.max() <= q and (res.assignment >= 0).all()


# ----------------------------------------------------------------------------- Swain 55-node
def read_swain():
    raw = np.loadtxt(HERE / "data" / "swain" / "swain.txt", skiprows=1)
    xy, w = raw[:, 1:3], raw[:, 3]
    return np.linalg.norm(xy[:, None] - xy[None], axis=2), w


def _bitsets(cover: np.ndarray) -> np.ndarray:
    """One uint64 per site: bit j set when the site covers demand j (n ≤ 64)."""
    bits = (np.uint64(1) << np.arange(cover.shape[1], dtype=np.uint64))
    return np.bitwise_or.reduce(np.where(cover, bits, np.uint64(0)), axis=1)


def _weight_of(masks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sum of w over set bits, via 8 byte-wise lookup tables."""
    total = np.zeros(len(masks))
    wpad = np.zeros(64)
    wpad[:len(w)] = w
    byte_vals = ((np.arange(256)[:, None] >> np.arange(8)) & 1).astype(float)
    for b in range(8):
        table = byte_vals @ wpad[8 * b:8 * b + 8]
        total += table[((masks >> np.uint64(8 * b)) & np.uint64(255)).astype(np.int64)]
    return total


def brute_best_cover(bits: np.ndarray, w: np.ndarray, k: int) -> float:
    """Largest covered weight over all k-subsets of sites (exhaustive, chunked)."""
    best = 0.0
    combos = itertools.combinations(range(len(bits)), k)
    while True:
        chunk = np.array(list(itertools.islice(combos, 400_000)), dtype=np.int64)
        if chunk.size == 0:
            return best
        masks = np.bitwise_or.reduce(bits[chunk], axis=1)
        best = max(best, float(_weight_of(masks, w).max()))


@pytest.mark.parametrize("radius,p", [(10, 1), (10, 3), (15, 2), (15, 4), (20, 3), (25, 2)])
def test_swain_mclp_matches_brute_force(radius, p):
    d, w = read_swain()
    best = brute_best_cover(_bitsets(d <= radius), w, p)
    res = solve(SitingProblem.from_matrices(d, w, limit_min=radius), "mclp", p=p, method="exact")
    assert res.status == "optimal" and res.objective == pytest.approx(best)


@pytest.mark.parametrize("radius", [15, 20, 25, 30])
def test_swain_lscp_matches_brute_force(radius):
    d, w = read_swain()
    bits = _bitsets(d <= radius)
    total = w.sum()
    k = next(k for k in range(1, 6) if brute_best_cover(bits, w, k) >= total)
    res = solve(SitingProblem.from_matrices(d, w, limit_min=radius), "lscp", method="exact")
    assert res.status == "optimal" and res.objective == k
    assert res.covered.all()
