"""Siting on a province-sized stitched matrix: the whole study at once with the heuristic when
its problem fits in memory, otherwise one problem per district, with the boundary effect of
that split measured on the whole matrix. The result says which was used.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: Bytes of working memory per stored (site, demand point) pair the heuristic needs: the CSR and
#: its transpose (8-byte time + 4-byte index each) and the greedy's gain bookkeeping, doubled
#: for headroom (measured peak on bench_siting instances: 40-60 bytes per pair).
BYTES_PER_PAIR = 96
#: Bytes per demand point (weights, groups, coverage flags, assignment).
BYTES_PER_POINT = 64


@dataclass
class ScaleSiting:
    """New sites for the whole study and how they were found.

    ``strategy`` is "whole study (heuristic)" or "per district"; ``covered_share`` is the share of
    demand weight within reach of an open site, evaluated on the whole matrix either way;
    ``district_sum_share`` is what the district problems together claimed and
    ``boundary_effect_share`` the difference (whole minus claimed: positive when new sites also
    cover homes across a district border, which the district problems could not count);
    ``by_district`` gives each district's p, new sites and covered shares.
    """

    strategy: str
    selected_ids: np.ndarray
    covered_share_before: float
    covered_share: float
    estimated_bytes: int
    memory_bytes: int
    district_sum_share: float | None = None
    boundary_effect_share: float | None = None
    by_district: pd.DataFrame = field(default_factory=pd.DataFrame)
    results: list = field(default_factory=list, repr=False)


def estimated_bytes(candidate_matrix: sp.spmatrix, existing_matrix: sp.spmatrix | None) -> int:
    """Working memory (bytes) of a coverage heuristic on these matrices."""
    pairs = candidate_matrix.nnz + (existing_matrix.nnz if existing_matrix is not None else 0)
    return int(pairs * BYTES_PER_PAIR + candidate_matrix.shape[1] * BYTES_PER_POINT)


def available_bytes() -> int:
    """Memory available to this process now (bytes), from the OS."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 4 * 1024 ** 3


def site_at_scale(candidate_matrix: sp.csr_matrix, weights: np.ndarray, groups: np.ndarray, *, p: int,
                  limit_min: float, existing_matrix: sp.csr_matrix | None = None,
                  candidate_ids: np.ndarray | None = None, memory_bytes: int | None = None,
                  time_limit_s: float | None = 120.0) -> ScaleSiting:
    """Choose ``p`` new sites maximising the demand weight covered within ``limit_min`` (MCLP).

    The whole study when its heuristic fits in ``memory_bytes`` (default: memory available now),
    else each district (``groups``, one per demand point) on its own with p shared by the
    districts' uncovered weight (largest remainders), and the union evaluated on the whole matrix.
    """
    from .siting import SitingProblem, solve

    cand = sp.csr_matrix(candidate_matrix)
    ids = np.asarray(candidate_ids if candidate_ids is not None else np.arange(cand.shape[0]).astype(str))
    weights = np.nan_to_num(np.asarray(weights, dtype=float))
    need = estimated_bytes(cand, existing_matrix)
    have = int(memory_bytes if memory_bytes is not None else available_bytes())
    before = _covered(existing_matrix, cand.shape[1], limit_min)
    total = float(weights.sum()) or 1.0
    if need <= have:
        problem = SitingProblem.from_matrices(cand, weights, existing_times=existing_matrix, candidate_ids=ids,
                                              limit_min=limit_min, groups=np.asarray(groups))
        res = solve(problem, "mclp", p=p, method="heuristic", time_limit_s=time_limit_s)
        log.info("siting at scale: whole study with the heuristic (%.1f GB of %.1f GB)", need / 1e9, have / 1e9)
        return ScaleSiting("whole study (heuristic)", np.asarray(res.selected_ids), float(weights[before].sum() / total),
                           float(res.covered_weight / total), need, have, results=[res])
    return _per_district(cand, weights, np.asarray(groups).astype(str), p, limit_min, existing_matrix, ids, before,
                         need, have, time_limit_s)


def _covered(matrix: sp.csr_matrix | None, n: int, limit_min: float) -> np.ndarray:
    """Demand points within ``limit_min`` of any row of ``matrix``."""
    if matrix is None or matrix.shape[0] == 0:
        return np.zeros(n, dtype=bool)
    return np.asarray(_within(matrix, limit_min).sum(axis=0)).ravel() > 0


def _within(matrix: sp.spmatrix, limit_min: float) -> sp.csr_matrix:
    """1 where a stored time is within the limit (stored times are > 0: see access.TIME_FLOOR_MIN)."""
    m = sp.csr_matrix(matrix, copy=True)
    m.data = (m.data <= limit_min).astype(np.float64)
    m.eliminate_zeros()
    return m


def _share_p(p: int, gain: np.ndarray) -> np.ndarray:
    """``p`` split over districts in proportion to ``gain`` (largest remainders)."""
    if gain.sum() <= 0:
        gain = np.ones_like(gain)
    raw = p * gain / gain.sum()
    out = np.floor(raw).astype(int)
    out[np.argsort(-(raw - out), kind="stable")[: p - out.sum()]] += 1
    return out


def _per_district(cand, weights, groups, p, limit_min, existing, ids, before, need, have, time_limit_s) -> ScaleSiting:
    from .siting import SitingProblem, solve

    names = np.unique(groups)
    reach = _within(cand, limit_min)
    uncovered = np.where(before, 0.0, weights)
    p_of = _share_p(p, np.array([uncovered[groups == g].sum() for g in names]))
    chosen, rows, claimed, results = [], [], 0.0, []
    for g, pg in zip(names, p_of):
        cols = np.flatnonzero(groups == g)
        sub = cand[:, cols]
        local = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)  # candidates reaching this district
        row = {"district": g, "p": int(pg), "new_sites": 0, "covered_share": float(
            weights[cols][before[cols]].sum() / (weights[cols].sum() or 1.0))}
        if pg > 0 and len(local):
            problem = SitingProblem.from_matrices(
                sub[local], weights[cols], existing_times=existing[:, cols] if existing is not None else None,
                candidate_ids=ids[local], limit_min=limit_min)
            res = solve(problem, "mclp", p=int(pg), method="heuristic", time_limit_s=time_limit_s)
            results.append(res)
            chosen.extend(np.asarray(res.selected_ids).tolist())
            claimed += float(res.covered_weight)
            row.update(new_sites=len(res.selected_ids), covered_share=float(res.covered_weight / (weights[cols].sum() or 1.0)))
        else:
            claimed += float(weights[cols][before[cols]].sum())
        rows.append(row)
    sel = np.flatnonzero(np.isin(ids, chosen))
    covered = before | (np.asarray(reach[sel].sum(axis=0)).ravel() > 0 if len(sel) else False)
    total = float(weights.sum()) or 1.0
    whole = float(weights[covered].sum() / total)
    log.warning("siting at scale: the whole problem (%.1f GB) does not fit in %.1f GB: solved per district; "
                "boundary effect %+.4f of the demand", need / 1e9, have / 1e9, whole - claimed / total)
    return ScaleSiting("per district", ids[sel], float(weights[before].sum() / total), whole, need, have,
                       claimed / total, whole - claimed / total, pd.DataFrame(rows), results)
