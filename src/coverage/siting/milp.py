"""The HiGHS wrapper every exact siting model solves through: one MILP (or LP) given as row
blocks ``(A, lower, upper)``, solved by ``highspy`` when installed (warm starts) or by
``scipy.optimize.milp`` (same HiGHS solver, no start), with the dual bound reported.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

logger = logging.getLogger(__name__)

#: Above this many constraint-matrix entries HiGHS runs without presolve (see _run_highspy).
PRESOLVE_MAX_NNZ = 1_500_000

_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded", 4: "error"}


@dataclass
class MilpOutcome:
    status: str
    x: np.ndarray | None
    fun: float  # objective of the incumbent (minimisation form), nan if none
    bound: float  # dual bound (minimisation form)


def run_milp(c, integrality, lb, ub, rows: list[tuple[sp.spmatrix, np.ndarray, np.ndarray]],
             time_limit_s: float | None, mip_gap: float, start: np.ndarray | None = None,
             presolve: bool = True, highs_options: dict | None = None) -> MilpOutcome:
    """Minimise ``c @ x`` over row blocks ``(A, lower, upper)`` with HiGHS; reports a dual bound.

    Uses ``highspy`` when installed (it accepts ``start``, a feasible solution such as the
    heuristic's, which gives branch-and-bound an incumbent from the first node), otherwise
    ``scipy.optimize.milp`` (same HiGHS solver, no start).
    """
    A = sp.vstack([r[0] for r in rows], format="csr") if rows else sp.csr_matrix((0, len(c)))
    lo = np.concatenate([r[1] for r in rows]) if rows else np.zeros(0)
    hi = np.concatenate([r[2] for r in rows]) if rows else np.zeros(0)
    c = np.asarray(c, float)
    lb = np.asarray(lb, float)
    ub = np.asarray(ub, float)
    integrality = np.asarray(integrality)
    try:
        import highspy
    except ImportError:  # pragma: no cover - highspy is optional
        highspy = None
    if highspy is not None:
        return _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start, presolve,
                            highs_options)
    options = {"disp": False, "mip_rel_gap": float(mip_gap)}
    if time_limit_s is not None and np.isfinite(time_limit_s):
        options["time_limit"] = max(float(time_limit_s), 0.01)
    cons = [LinearConstraint(A, lo, hi)] if A.shape[0] else []
    res = milp(c, integrality=integrality, bounds=Bounds(lb, ub), constraints=cons, options=options)
    status = _STATUS.get(res.status, "error")
    x = None if res.x is None else np.asarray(res.x)
    fun = float(res.fun) if x is not None else float("nan")
    bound = getattr(res, "mip_dual_bound", None)
    if bound is None or not np.isfinite(bound):
        bound = fun if status == "optimal" else float("nan")
    return MilpOutcome(status, x, fun, float(bound))


def new_highs(highspy):
    """A silent ``highspy.Highs``: HiGHS 1.16 prints its banner on construction, before any option
    can be set, so the process's stdout is pointed at /dev/null for that moment."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    return h


def _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, time_limit_s, mip_gap, start,
                 presolve: bool = True, highs_options: dict | None = None) -> MilpOutcome:
    A = A.tocsc()
    h = new_highs(highspy)
    for k, v in (highs_options or {}).items():
        h.setOptionValue(k, v)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    if A.nnz > PRESOLVE_MAX_NNZ or not presolve:
        # HiGHS presolve does not check the time limit; on multi-million-entry coverage models
        # it ran for minutes past it. Without it the limit holds.
        h.setOptionValue("presolve", "off")
    if time_limit_s is not None and np.isfinite(time_limit_s):
        h.setOptionValue("time_limit", max(float(time_limit_s), 0.01))
    lp = highspy.HighsLp()
    lp.num_col_ = len(c)
    lp.num_row_ = A.shape[0]
    lp.col_cost_ = c
    lp.col_lower_ = lb
    lp.col_upper_ = ub
    lp.row_lower_ = lo
    lp.row_upper_ = hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = len(c)
    lp.a_matrix_.num_row_ = A.shape[0]
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data.astype(float)
    is_int = integrality > 0
    if is_int.any():
        lp.integrality_ = [highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous
                           for v in is_int]
    h.passModel(lp)
    if start is not None and is_int.any():
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, float)
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    ms = h.getModelStatus()
    MS = highspy.HighsModelStatus
    status = {MS.kOptimal: "optimal", MS.kInfeasible: "infeasible", MS.kTimeLimit: "time_limit",
              MS.kUnbounded: "unbounded", MS.kUnboundedOrInfeasible: "infeasible",
              MS.kSolutionLimit: "time_limit", MS.kIterationLimit: "time_limit",
              MS.kInterrupt: "time_limit"}.get(ms, "error")
    info = h.getInfo()
    has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
    x = np.asarray(h.getSolution().col_value) if has_x else None
    fun = float(info.objective_function_value) if has_x else float("nan")
    if is_int.any():
        bound = float(info.mip_dual_bound)
    else:
        bound = fun
    if not np.isfinite(bound):
        bound = fun if status == "optimal" else float("nan")
    if status == "optimal" and x is not None and not is_int.any():
        bound = fun
    if start is not None and x is not None and not _consistent(c, A, lo, hi, lb, ub, x, fun):
        # HiGHS 1.16 with a start and presolve on has returned "optimal" with an objective and
        # bound that the returned solution does not have (and that no solution has: Swain,
        # LSCP at 15, claimed 4 where brute force needs 5). Distrust the run; solve again cold.
        logger.info("HiGHS returned an inconsistent solution after a warm start; solving again without it")
        left = None if time_limit_s is None else max(float(time_limit_s) - h.getRunTime(), 0.01)
        return _run_highspy(highspy, c, integrality, lb, ub, A, lo, hi, left, mip_gap, None, presolve, highs_options)
    return MilpOutcome(status, x, fun, bound)


def _consistent(c, A, lo, hi, lb, ub, x, fun, tol: float = 1e-6) -> bool:
    """The solution has the reported objective and satisfies bounds and rows (within tol)."""
    if abs(float(c @ x) - fun) > tol * max(1.0, abs(fun)):
        return False
    if np.any(x < lb - tol) or np.any(x > ub + tol):
        return False
    v = A @ x
    return not (np.any(v < lo - tol * np.maximum(1.0, np.abs(lo))) or np.any(v > hi + tol * np.maximum(1.0, np.abs(hi))))


def pad_columns(A: sp.spmatrix, ncols: int) -> sp.csr_matrix:
    """Widen ``A`` with zero columns on the right to ``ncols`` columns."""
    A = sp.csr_matrix(A)
    return sp.csr_matrix((A.data, A.indices, A.indptr), shape=(A.shape[0], ncols))

