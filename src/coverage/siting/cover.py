"""Coverage-model data shared by the LSCP, partial, MCLP and equity heuristics and MILPs.

Coverage models first drop demand already covered by existing facilities and demand no
candidate reaches, then merge demand columns with identical coverage sets
(:func:`~eldercare_coverage.siting.problem.aggregate_columns`), which keeps every model small.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..messages import Text
from .problem import SitingProblem, aggregate_columns
from .result import SitingResult, build_result


@dataclass
class CoverData:
    """Coverage model data after dropping fixed-covered / uncoverable demand and merging columns."""

    options: np.ndarray  # option indices (new options that cover something)
    A: sp.csc_matrix  # options × aggregated demand, 0/1
    w: np.ndarray  # aggregated weight
    group: np.ndarray | None  # group code per aggregated column
    group_names: np.ndarray | None
    group_total: np.ndarray | None  # total weight per group (all demand)
    group_before: np.ndarray | None  # weight covered by existing per group
    group_coverable: np.ndarray | None  # weight coverable (existing or any option) per group
    w_total: float
    w_before: float
    w_coverable: float
    n_points: int  # demand points entering the model (before merging)
    cost: np.ndarray
    site: np.ndarray



def cover_data(problem: SitingProblem, with_groups: bool) -> CoverData:
    """Build :class:`CoverData`; ``with_groups`` keeps equity groups apart when merging."""
    o = problem.options
    new = np.nonzero(~o.fixed)[0]
    w = problem.weights
    before = problem.covered_by_existing
    A_new = o.cover[new]
    free = ~before & (np.asarray(A_new.sum(axis=0)).ravel() > 0) & (w > 0)
    A_free = A_new[:, np.nonzero(free)[0]]
    useful = np.asarray(A_free.sum(axis=1)).ravel() > 0
    opts = new[useful]
    A_free = A_free[np.nonzero(useful)[0]]
    gcode = gnames = gtot = gbef = gcov = None
    if with_groups and problem.groups is not None:
        gnames, gall = np.unique(problem.groups.astype(str), return_inverse=True)
        ng = len(gnames)
        gtot = np.bincount(gall, weights=w, minlength=ng)
        gbef = np.bincount(gall, weights=w * before, minlength=ng)
        gcov = np.bincount(gall, weights=w * problem.coverable, minlength=ng)
        keys = gall[free]
    else:
        keys = None
    A, wa, inv = aggregate_columns(A_free, w[free], keys)
    if keys is not None:
        gcode = np.zeros(len(wa), dtype=int)
        gcode[inv] = keys
    return CoverData(
        options=opts, A=A, w=wa, group=gcode, group_names=gnames, group_total=gtot,
        group_before=gbef, group_coverable=gcov, w_total=float(w.sum()), w_before=float(w[before].sum()),
        w_coverable=float(w[problem.coverable].sum()), n_points=int(free.sum()),
        cost=o.cost[opts], site=o.site[opts],
    )



def group_need(cd: CoverData, min_group_share: float, notes: list[Text]) -> np.ndarray:
    """Weight each group must gain from new sites, clipped to what new sites can reach."""
    need = min_group_share * cd.group_total - cd.group_before
    reach = cd.group_coverable - cd.group_before
    short = need > reach + 1e-9
    if short.any():
        notes.append(Text("solver.group_share_unreachable", groups=[str(g) for g in cd.group_names[short]]))
    return np.maximum(np.minimum(need, reach), 0.0)



def trivial_cover_result(problem: SitingProblem, model: str, cd: CoverData, method: str, t0: float,
                         params: dict) -> SitingResult:
    """No new site can add coverage (all reachable demand already covered, or none reachable)."""
    obj = cd.w_before if model == "mclp" else 0.0
    return build_result(problem, model, method, "optimal", np.zeros(0, int), obj, obj,
                        time.perf_counter() - t0, params,
                        [Text("solver.nothing_to_add")])



def use_cost(problem: SitingProblem, minimize: str) -> bool:
    if minimize == "cost":
        return True
    if minimize == "count":
        return False
    return bool(problem.cost_given)
