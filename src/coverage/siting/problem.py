"""The siting problem: sites × demand travel times, demand weights, existing facilities, tiers.

Everything the models need is kept as a site × demand ``scipy.sparse.csr_matrix`` of travel
times in minutes. A stored pair means "reachable"; a pair stored at exactly 0 minutes is an
explicit zero, so coverage is always taken from the sparsity *structure*, never ``data != 0``.

Sites are the existing facilities first (always open, never paid for) then the candidates.
When tiers are given each candidate becomes one *option* per tier it may host, each option
with the tier's cost, capacity and walk limit; at most one option per site may open. Without
tiers every site is one option. The solvers work on options; results report sites and tiers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Tier:
    """A facility tier a candidate may host.

    Parameters
    ----------
    name : tier name, e.g. ``"service_station"``.
    cost : cost of opening one facility of this tier (CNY, or any unit consistent with the budget).
    capacity : demand it can serve (same unit as the demand size, e.g. older residents); inf = unlimited.
    limit_min : walk limit (minutes) within which it covers demand; None = the problem's limit.
    """

    name: str
    cost: float = 1.0
    capacity: float = float("inf")
    limit_min: float | None = None


@dataclass(frozen=True)
class Options:
    """Openable units: one per existing site, one per (candidate, allowed tier)."""

    site: np.ndarray  # int, index into SitingProblem.site_ids
    tier: np.ndarray  # int, index into SitingProblem.tiers, -1 = no tier
    cost: np.ndarray  # float
    capacity: np.ndarray  # float, inf = unlimited
    fixed: np.ndarray  # bool, existing facility (always open)
    times: sp.csr_matrix  # options × demand, minutes, only pairs within the option's limit

    @property
    def n(self) -> int:
        return len(self.site)

    @functools.cached_property
    def cover(self) -> sp.csr_matrix:
        """Options × demand 0/1 coverage (structure of ``times``, explicit zeros included)."""
        c = self.times.copy()
        c.data = np.ones_like(c.data)
        return c


def _as_csr(times: sp.spmatrix | np.ndarray, limit_min: float | None) -> sp.csr_matrix:
    """Sparse site × demand times; dense inputs keep finite entries (≤ limit when given)."""
    if sp.issparse(times):
        m = sp.csr_matrix(times, dtype=float, copy=True)
        m.sum_duplicates()
        if limit_min is not None and m.nnz and m.data.max() > limit_min:
            m = _within(m, limit_min)
        m.sort_indices()
        return m
    a = np.asarray(times, dtype=float)
    keep = np.isfinite(a)
    if limit_min is not None:
        keep &= a <= limit_min
    r, c = np.nonzero(keep)
    # Built from (row, col) so that zero-minute pairs survive as explicit zeros.
    m = sp.csr_matrix((a[r, c], (r, c)), shape=a.shape)
    m.sort_indices()
    return m


def _within(m: sp.csr_matrix, limit: float) -> sp.csr_matrix:
    """Keep only stored pairs with time ≤ ``limit`` (explicit zeros kept)."""
    m = m.tocoo()
    keep = m.data <= limit
    out = sp.csr_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=m.shape)
    out.sort_indices()
    return out


@dataclass
class SitingProblem:
    """A facility siting instance over a sparse site × demand travel-time matrix.

    Build it with :meth:`from_matrices` (sparse or dense, existing and candidate blocks) rather
    than directly.
    """

    times: sp.csr_matrix  # sites × demand, minutes; existing sites first
    weights: np.ndarray  # demand weight per point (e.g. older residents)
    site_ids: np.ndarray  # object array of ids, existing first
    n_existing: int
    limit_min: float | None = None  # coverage limit (minutes); None = every stored pair covers
    site_cost: np.ndarray | None = None  # per site; existing ignored; None = 1 per new site
    site_capacity: np.ndarray | None = None  # per site; inf = unlimited
    demand_size: np.ndarray | None = None  # capacity use per demand point; None = weights
    groups: np.ndarray | None = None  # equity group label per demand point
    tiers: tuple[Tier, ...] = ()
    candidate_tiers: np.ndarray | None = None  # bool (n_candidates × n_tiers); None = any tier
    cost_given: bool = False  # costs came from the user (LSCP minimises cost, not count)
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_matrices(
        cls,
        candidate_times: sp.spmatrix | np.ndarray,
        weights: np.ndarray,
        *,
        existing_times: sp.spmatrix | np.ndarray | None = None,
        candidate_ids=None,
        existing_ids=None,
        limit_min: float | None = None,
        candidate_cost=None,
        candidate_capacity=None,
        existing_capacity=None,
        demand_size=None,
        groups=None,
        tiers=(),
        candidate_tiers=None,
    ) -> "SitingProblem":
        """Build a problem from candidate (and existing) site × demand travel times (minutes).

        Dense arrays use ``inf`` (or values over ``limit_min``) for unreachable pairs; sparse
        matrices store only reachable pairs. ``limit_min`` is the coverage walk limit; tiers
        with their own ``limit_min`` cover only pairs within that limit.
        """
        cand = _as_csr(candidate_times, None)
        n_dem = cand.shape[1]
        if existing_times is None:
            exist = sp.csr_matrix((0, n_dem))
        else:
            exist = _as_csr(existing_times, None)
            if exist.shape[1] != n_dem:
                raise ValueError(f"existing_times has {exist.shape[1]} demand columns, candidate_times {n_dem}.")
        n_c, n_e = cand.shape[0], exist.shape[0]
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (n_dem,):
            raise ValueError(f"weights has shape {weights.shape}, expected ({n_dem},) (one per demand column).")
        if np.any(~np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("weights must be finite and non-negative.")
        cids = np.asarray(candidate_ids if candidate_ids is not None else [f"c{i}" for i in range(n_c)], dtype=object)
        eids = np.asarray(existing_ids if existing_ids is not None else [f"e{i}" for i in range(n_e)], dtype=object)
        if len(cids) != n_c or len(eids) != n_e:
            raise ValueError("candidate_ids / existing_ids must have one id per matrix row.")
        times = sp.vstack([exist, cand], format="csr")
        times.sort_indices()

        cost = np.ones(n_e + n_c)
        cost_given = candidate_cost is not None
        if cost_given:
            cc = np.asarray(candidate_cost, dtype=float)
            if cc.shape != (n_c,) or np.any(~np.isfinite(cc)) or np.any(cc < 0):
                raise ValueError("candidate_cost must hold one finite non-negative cost per candidate.")
            cost[n_e:] = cc
        cost[:n_e] = 0.0
        cap = np.full(n_e + n_c, np.inf)
        # Unknown capacity (NaN) means unlimited: a missing figure must not close a site.
        if candidate_capacity is not None:
            cc = np.asarray(candidate_capacity, float)
            cap[n_e:] = np.where(np.isnan(cc), np.inf, cc)
        if existing_capacity is not None:
            ec = np.asarray(existing_capacity, float)
            cap[:n_e] = np.where(np.isnan(ec), np.inf, ec)
        tiers = tuple(tiers or ())
        if candidate_tiers is not None:
            candidate_tiers = np.asarray(candidate_tiers, dtype=bool)
            if candidate_tiers.shape != (n_c, len(tiers)):
                raise ValueError("candidate_tiers must be a bool array (n_candidates, n_tiers).")
        return cls(
            times=times, weights=weights, site_ids=np.concatenate([eids, cids]), n_existing=n_e,
            limit_min=limit_min, site_cost=cost, site_capacity=cap,
            demand_size=None if demand_size is None else np.asarray(demand_size, float),
            groups=None if groups is None else np.asarray(groups),
            tiers=tiers, candidate_tiers=candidate_tiers, cost_given=cost_given or bool(tiers),
        )

    # ------------------------------------------------------------------ derived
    @property
    def n_sites(self) -> int:
        return self.times.shape[0]

    @property
    def n_demand(self) -> int:
        return self.times.shape[1]

    @property
    def size(self) -> np.ndarray:
        """Capacity use per demand point."""
        return self.weights if self.demand_size is None else self.demand_size

    @functools.cached_property
    def options(self) -> Options:
        """Expand sites into openable options (see module docstring). Loops over tiers only."""
        n_e = self.n_existing
        lim = self.limit_min
        exist = self.times[:n_e]
        cand = self.times[n_e:]
        if lim is not None:
            exist = _within(exist, lim)
        blocks = [exist]
        site = [np.arange(n_e)]
        tier = [np.full(n_e, -1)]
        cost = [np.zeros(n_e)]
        cap = [self.site_capacity[:n_e]]
        cidx = np.arange(cand.shape[0])
        if not self.tiers:
            blocks.append(_within(cand, lim) if lim is not None else cand)
            site.append(n_e + cidx)
            tier.append(np.full(len(cidx), -1))
            cost.append(self.site_cost[n_e:])
            cap.append(self.site_capacity[n_e:])
        else:
            for t, tr in enumerate(self.tiers):
                rows = cidx if self.candidate_tiers is None else cidx[self.candidate_tiers[:, t]]
                tl = tr.limit_min if tr.limit_min is not None else lim
                block = cand[rows]
                blocks.append(_within(block, tl) if tl is not None else block)
                site.append(n_e + rows)
                tier.append(np.full(len(rows), t))
                cost.append(np.full(len(rows), float(tr.cost)))
                # A candidate's own capacity (e.g. from its floor area) caps the tier's.
                cap.append(np.minimum(float(tr.capacity), self.site_capacity[n_e + rows]))
        times = sp.vstack(blocks, format="csr")
        times.sort_indices()
        site_a = np.concatenate(site)
        return Options(site=site_a, tier=np.concatenate(tier), cost=np.concatenate(cost),
                       capacity=np.concatenate(cap), fixed=site_a < n_e, times=times)

    @functools.cached_property
    def covered_by_existing(self) -> np.ndarray:
        """Bool per demand point: within the limit of an existing facility."""
        o = self.options
        return np.asarray(o.cover[o.fixed].sum(axis=0)).ravel() > 0

    @functools.cached_property
    def coverable(self) -> np.ndarray:
        """Bool per demand point: within the limit of some existing facility or option."""
        return np.asarray(self.options.cover.sum(axis=0)).ravel() > 0


def one_per_site_rows(opt_site: np.ndarray) -> sp.csr_matrix:
    """Rows ``sum(x_o for o at site s) <= 1`` for sites with more than one option (columns = options)."""
    sites, inv, counts = np.unique(opt_site, return_inverse=True, return_counts=True)
    multi = counts[inv] > 1
    if not multi.any():
        return sp.csr_matrix((0, len(opt_site)))
    _, row = np.unique(inv[multi], return_inverse=True)
    cols = np.nonzero(multi)[0]
    return sp.csr_matrix((np.ones(len(cols)), (row, cols)), shape=(row.max() + 1, len(opt_site)))


def aggregate_columns(cover: sp.spmatrix, weights: np.ndarray, keys: np.ndarray | None = None):
    """Merge demand columns with identical coverage sets (and identical ``keys``).

    Identical columns are found by hashing each column with two random projections plus its
    count (vectorised; a collision needs two float sums to agree exactly, and is then caught
    by comparing the columns' sizes too — collisions are astronomically unlikely).

    Returns
    -------
    cover_agg : options × groups CSC matrix, one representative column per group.
    weight_agg : summed weight per group.
    inverse : group index per input column.
    """
    c = sp.csc_matrix(cover)
    c.sort_indices()
    n = c.shape[0]
    rng = np.random.default_rng(12345)
    r = rng.random((n, 2))
    h = (c.T @ r)  # dense (n_cols × 2)
    counts = np.diff(c.indptr).astype(float)
    cols = [h[:, 0], h[:, 1], counts]
    if keys is not None:
        cols.append(np.unique(keys, return_inverse=True)[1].astype(float))
    key = np.column_stack(cols)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    w = np.bincount(inverse, weights=weights, minlength=len(first))
    return c[:, first], w, inverse
