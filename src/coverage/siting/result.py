"""One result shape for every siting model, and before/after coverage tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..messages import Text, language_of
from .problem import SitingProblem


@dataclass
class SitingResult:
    """The outcome of any siting model, exact or heuristic.

    ``objective`` and ``bound`` are in the model's own unit: covered demand weight (mclp,
    capacitated coverage), number or cost of new sites (lscp, partial), weighted minutes
    (pmedian), minutes (pcenter). ``gap`` = |objective − bound| / |objective| (0 = proven optimal).
    """

    model: str
    method: str  # "exact" or "heuristic"
    status: str  # "optimal", "time_limit", "feasible", "infeasible", "error"
    objective: float
    bound: float
    gap: float
    solve_time_s: float
    selected_ids: np.ndarray  # ids of the NEW sites opened
    selected_tiers: np.ndarray  # tier name per selected site ("" without tiers)
    selected_sites: np.ndarray  # site index (into problem.site_ids) per selected site
    covered: np.ndarray  # bool per demand point: within reach of an open site (existing or new)
    covered_before: np.ndarray  # bool per demand point: within reach of an existing facility
    assignment: np.ndarray  # site index serving each demand point, -1 = none
    assigned_time: np.ndarray  # minutes to the assigned site, nan = none
    served_share: np.ndarray  # share of each point's demand served (< 1 only with capacities)
    weights: np.ndarray
    total_weight: float
    covered_weight: float  # demand weight within reach of an open site
    served_weight: float  # demand weight actually assigned (= covered_weight without capacities)
    uncoverable_weight: float  # weight no existing or candidate site can reach
    params: dict = field(default_factory=dict)
    message: str = ""  # the solver notes in English (``message_in`` renders them in zh or en)
    #: The solver notes as catalogue texts (:class:`~eldercare_coverage.messages.Text`).
    notes: tuple = ()
    site_ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object), repr=False)
    site_cost: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)
    site_capacity: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)
    #: Demand weight served per site (index = site), split assignments included.
    site_load: np.ndarray = field(default_factory=lambda: np.array([]), repr=False)

    def message_in(self, language: str) -> str:
        """The solver notes in ``language`` (zh or en); ``message`` when there are none."""
        if not self.notes:
            return self.message
        return ("" if language_of(language) == "zh" else " ").join(n.render(language) for n in self.notes)

    @property
    def covered_share(self) -> float:
        return self.covered_weight / self.total_weight if self.total_weight > 0 else 1.0

    @property
    def assigned_ids(self) -> np.ndarray:
        """Site id serving each demand point ("" = none)."""
        ids = np.append(self.site_ids, "").astype(object)
        return ids[self.assignment]  # -1 picks the trailing ""

    def to_frame(self) -> pd.DataFrame:
        """One row per proposed new site: id, tier, cost, capacity, demand it serves (weight)."""
        served = self.site_load
        newly = self.covered & ~self.covered_before
        new_w = np.bincount(self.assignment[newly & (self.assignment >= 0)],
                            weights=self.weights[newly & (self.assignment >= 0)], minlength=len(self.site_ids))
        s = self.selected_sites
        return pd.DataFrame({
            "site_id": self.selected_ids.astype(str),
            "tier": self.selected_tiers.astype(str),
            "cost": self.site_cost[s] if len(self.site_cost) else np.nan,
            "capacity": self.site_capacity[s] if len(self.site_capacity) else np.nan,
            "served_weight": served[s],
            "newly_covered_weight": new_w[s],
        })

    def summary(self) -> str:
        return (f"{self.model} ({self.method}): {self.status}, objective {self.objective:.6g}, "
                f"bound {self.bound:.6g}, gap {self.gap:.3%}, {len(self.selected_ids)} new sites, "
                f"covered {self.covered_share:.1%} of demand weight, {self.solve_time_s:.2f} s")


def coverage_by_group(result: SitingResult, groups, weights=None) -> pd.DataFrame:
    """Covered demand weight per group (district, street, community) before and after siting.

    Columns: ``group``, ``total_weight``, ``covered_before``, ``covered_after``,
    ``share_before``, ``share_after`` (shares 0..1; NaN for groups of zero weight).
    """
    w = result.weights if weights is None else np.asarray(weights, float)
    g = pd.Series(np.asarray(groups), name="group")
    df = pd.DataFrame({
        "group": g,
        "total_weight": w,
        "covered_before": w * result.covered_before,
        "covered_after": w * result.covered,
    }).groupby("group", sort=True, dropna=False).sum().reset_index()
    tot = df["total_weight"].where(df["total_weight"] > 0)
    df["share_before"] = df["covered_before"] / tot
    df["share_after"] = df["covered_after"] / tot
    return df


def nearest_open(times: sp.csr_matrix, open_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each demand column: the open row with the least time (index into ``open_rows``'s
    source rows) and that time; -1 / nan where none is within reach. Vectorised via lexsort."""
    n = times.shape[1]
    sub = times[open_rows].tocoo()
    best = np.full(n, -1)
    best_t = np.full(n, np.nan)
    if sub.nnz:
        order = np.lexsort((sub.data, sub.col))
        col = sub.col[order]
        first = np.ones(len(col), bool)
        first[1:] = col[1:] != col[:-1]
        best[col[first]] = np.asarray(open_rows)[sub.row[order][first]]
        best_t[col[first]] = sub.data[order][first]
    return best, best_t


def build_result(problem: SitingProblem, model: str, method: str, status: str, open_options: np.ndarray,
                 objective: float, bound: float, solve_time_s: float, params: dict, message: "str | Sequence[Text]" = "",
                 assignment_options: np.ndarray | None = None, served_share: np.ndarray | None = None,
                 site_load: np.ndarray | None = None) -> SitingResult:
    """Assemble a :class:`SitingResult` from the open options (existing included or not).

    Without ``assignment_options`` each point goes to its nearest open option within reach.
    ``message`` is the solver's notes as catalogue :class:`Text` objects (or plain English text).
    """
    notes = () if isinstance(message, str) else tuple(message)
    if not isinstance(message, str):
        message = " ".join(n.render("en") for n in notes)
    o = problem.options
    open_options = np.union1d(np.asarray(open_options, dtype=int), np.nonzero(o.fixed)[0])
    new = open_options[~o.fixed[open_options]]
    if assignment_options is None:
        a_opt, a_t = nearest_open(o.times, open_options)
    else:
        a_opt = np.asarray(assignment_options, int)
        a_t = np.full(len(a_opt), np.nan)
        has = a_opt >= 0
        if has.any():
            a_t[has] = np.asarray(o.times[a_opt[has], np.nonzero(has)[0]]).ravel()
    assignment = np.where(a_opt >= 0, o.site[np.maximum(a_opt, 0)], -1)
    covered = np.asarray(o.cover[open_options].sum(axis=0)).ravel() > 0
    share = covered.astype(float) if served_share is None else np.asarray(served_share, float)
    w = problem.weights
    tier_names = np.array([t.name for t in problem.tiers] + [""], dtype=object)
    if np.isfinite(objective) and np.isfinite(bound):
        gap = abs(objective - bound) / max(abs(objective), 1e-9)
        if gap < 1e-9:
            gap = 0.0
    else:
        gap = float("inf")
    if site_load is None:
        has = assignment >= 0
        site_load = np.bincount(assignment[has], weights=(w * share)[has], minlength=problem.n_sites)
    return SitingResult(
        model=model, method=method, status=status, objective=float(objective), bound=float(bound),
        gap=float(gap), solve_time_s=float(solve_time_s),
        selected_ids=problem.site_ids[o.site[new]], selected_tiers=tier_names[o.tier[new]],
        selected_sites=o.site[new], covered=covered, covered_before=problem.covered_by_existing.copy(),
        assignment=assignment, assigned_time=a_t, served_share=share, weights=w,
        total_weight=float(w.sum()), covered_weight=float(w[covered].sum()),
        served_weight=float((w * share).sum()), uncoverable_weight=float(w[~problem.coverable].sum()),
        params=params, message=message, notes=notes, site_ids=problem.site_ids,
        site_cost=_site_cost(problem, new), site_capacity=_site_cap(problem, new), site_load=site_load,
    )


def _site_cost(problem: SitingProblem, new: np.ndarray) -> np.ndarray:
    """Cost per site of the options opened there (other sites: their base cost)."""
    o = problem.options
    c = problem.site_cost.astype(float).copy()
    c[o.site[new]] = o.cost[new]
    return c


def _site_cap(problem: SitingProblem, new: np.ndarray) -> np.ndarray:
    o = problem.options
    c = problem.site_capacity.astype(float).copy()
    c[o.site[new]] = o.capacity[new]
    return c


def selected_options(problem: SitingProblem, result: SitingResult) -> np.ndarray:
    """Option indices (into ``problem.options``) of a result's selected (site, tier) pairs."""
    o = problem.options
    names = np.array([t.name for t in problem.tiers] + [""], dtype=object)
    new = np.nonzero(~o.fixed)[0]
    sel = np.array([f"{a}\x00{b}" for a, b in zip(result.selected_sites, result.selected_tiers)], dtype=object)
    keys = np.array([f"{a}\x00{b}" for a, b in zip(o.site[new], names[o.tier[new]])], dtype=object)
    return new[np.isin(keys, sel)]
