"""Facility siting as coverage optimisation over a sparse site × demand travel-time matrix.

Models: LSCP, partial cover, MCLP (p or budget), p-median, p-center, capacitated coverage,
multi-tier sites and per-group (district) minimum coverage. Every model has a heuristic with
a proven bound (:mod:`.heuristic`, :mod:`.median`, :mod:`.center`); the exact methods
(HiGHS through :mod:`.milp`: :mod:`.cover_exact`, :mod:`.benders`, :mod:`.pmedian`,
:mod:`.assignment`, :mod:`.center`) start from it and never return worse; :mod:`.dispatch`
chooses between them. Every model returns the same :class:`SitingResult`, whose status, bound
and gap say what was proven.

Each module imports only modules listed before it here: problem, result, milp, cover,
heuristic, cover_exact, benders, _median_kernels, median, pmedian, assignment,
capacity_lagrange, center, dispatch, phased. This package module only re-exports their
public API; the ``method="auto"`` thresholds are set on :mod:`.dispatch`.

Quick use from Python::

    from eldercare_coverage.siting import SitingProblem, solve
    prob = SitingProblem.from_matrices(cand_times, weights, existing_times=exist_times, limit_min=15)
    res = solve(prob, "mclp", p=10)
    res.to_frame(); coverage_by_group(res, districts)
"""

from __future__ import annotations

from .assignment import capacitated_start, solve_assignment_exact, solve_capacitated_heuristic
from .center import solve_pcenter_exact
from .cover_exact import solve_cover_exact
from .dispatch import DEFAULT_TIERS, MODELS, run_siting, solve
from .heuristic import solve_cover_heuristic, solve_equity_heuristic, solve_mclp_heuristic
from .phased import phased, phased_chart
from .pmedian import solve_pmedian_exact, solve_pmedian_heuristic
from .problem import SitingProblem, Tier
from .result import SitingResult, coverage_by_group

__all__ = ["SitingProblem", "SitingResult", "Tier", "solve", "run_siting", "coverage_by_group", "phased",
           "phased_chart", "DEFAULT_TIERS", "MODELS"]
