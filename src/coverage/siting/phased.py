"""Phased (nested) siting plans: for p = P_1 < P_2 < … < P_K new sites, each plan contains the
previous one, as a city builds in annual or five-year phases.

For each phase the table gives the nested plan's sites and objective, the best plan for that p
alone (solved with :func:`~eldercare_coverage.siting.solve`: its objective, bound and status),
and the *loss* of nesting: how much the phase's nested plan is worse than the best p-plan known,
with the most it can be (against the proven bound).

The nested sequence is chosen to maximise (MCLP) or minimise (p-median) Σ_k ω_k f(S_k) over
chains S_1 ⊂ S_2 ⊂ … ⊂ S_K with |S_k| ≤ P_k (= P_k for the p-median), ω_k the phase weights
(default: every phase counts the same):

* **exact** — one MILP holding a copy of the model per phase linked by y_i^k ≤ y_i^{k+1}
  (the "incremental"/nested formulation of Roodman & Schwarz 1975, "Optimal and heuristic
  facility phase-out strategies", and of the nested p-median of Mirchandani & Francis 1990,
  *Discrete Location Theory*, ch. 2), with the MCLP cover rows of Church & ReVelle (1974) or
  the p-median radius rows of Elloumi (2010) per copy, warm-started from the best heuristic
  chain. Its status and bound are HiGHS' (never claimed beyond what it proved).
* **heuristic** — the best of K + 1 greedy chains: chain a (a = 0 … K) orders the sites of the
  a-th phase's best p-plan greedily (phases before a are its greedy prefixes; phase a is that
  plan) and continues by greedy addition after it. a = 0 is the plain greedy-forward chain,
  whose first phase is the exact 1-site optimum (greedy's first step is exhaustive). Its bound
  is Σ_k ω_k × (bound of phase k alone): no chain beats the per-phase optima.

``method="auto"`` takes the exact MILP when K copies stay small (:data:`EXACT_MAX_ENTRIES`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..charts import lines_chart
from .cover import cover_data
from .dispatch import solve
from .median import greedy_add, median_cost, median_data
from .milp import pad_columns, run_milp
from .pmedian import radius_model
from .problem import SitingProblem, one_per_site_rows
from .result import SitingResult, selected_options

#: "auto" solves the nested MILP exactly below this many constraint entries (all phases).
EXACT_MAX_ENTRIES = 400_000

PHASED_MODELS = ("mclp", "pmedian")


@dataclass
class _Chain:
    """A nested plan: option indices in the order they open, and per phase the count open."""

    order: np.ndarray
    counts: np.ndarray
    anchor: int = -1  # greedy chains: the phase whose best plan it is built on (0 = plain greedy)

    def phase_sets(self) -> list[np.ndarray]:
        return [self.order[:c] for c in self.counts]


class _Evaluator:
    """Model objective of an option set, greedy extension and the phase-MILP blocks."""

    def __init__(self, problem: SitingProblem, model: str):
        self.problem, self.model = problem, model
        self.maximise = model == "mclp"
        if self.maximise:
            self.cd = cover_data(problem, with_groups=False)
            self.row_of = np.full(problem.options.n, -1)
            self.row_of[self.cd.options] = np.arange(len(self.cd.options))
        else:
            self.md = median_data(problem)

    def value(self, opts: np.ndarray) -> float:
        """Objective with the options ``opts`` (new options; existing always open)."""
        opts = np.asarray(opts, int)
        if self.maximise:
            x = np.zeros(len(self.cd.options))
            r = self.row_of[opts]
            x[r[r >= 0]] = 1.0
            return self.cd.w_before + float(self.cd.w[(self.cd.A.T @ x) > 0].sum())
        is_open = self.md.fixed.copy()
        is_open[opts] = True
        return median_cost(self.md, is_open)

    def extend(self, opts: np.ndarray, p: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """``opts`` followed by greedily added options (best objective gain first) up to p new."""
        opts = list(np.asarray(opts, int))
        if self.maximise:
            return self._extend_cover(opts, p, allowed)
        for k in range(len(opts), p):
            before = self.md.fixed.copy()
            before[opts] = True
            after = greedy_add(self.md, before, k + 1, None, allowed)
            added = np.nonzero(after & ~before & ~self.md.fixed)[0]
            if not len(added):
                break
            opts.append(int(added[0]))
        return np.array(opts, int)

    def _extend_cover(self, opts: list[int], p: int, allowed: np.ndarray | None) -> np.ndarray:
        cd = self.cd
        A = cd.A.tocsr()
        rows = self.row_of[np.asarray(opts, int)] if opts else np.empty(0, int)
        rows = rows[rows >= 0]  # an option that covers nothing has no row (-1 would read the last one)
        covered = np.asarray(A[rows].sum(axis=0)).ravel() > 0 if len(rows) else np.zeros(len(cd.w), bool)
        gain = A @ (cd.w * ~covered)
        blocked = np.zeros(len(cd.options), bool)
        taken_sites = set(self.problem.options.site[np.asarray(opts, int)].tolist()) if opts else set()
        blocked |= np.isin(cd.site, list(taken_sites))
        if allowed is not None:
            blocked |= ~allowed[cd.options]
        Ac = cd.A.tocsc()
        while len(opts) < p:
            g = np.where(blocked, -1.0, gain)
            i = int(np.argmax(g)) if len(g) else -1
            if i < 0 or g[i] <= 0:
                break
            opts.append(int(cd.options[i]))
            blocked |= cd.site == cd.site[i]
            cols = A.indices[A.indptr[i]:A.indptr[i + 1]]
            newc = cols[~covered[cols]]
            covered[newc] = True
            gain -= Ac[:, newc] @ cd.w[newc]
        return np.array(opts, int)

    def better(self, a: float, b: float) -> bool:
        return a > b if self.maximise else a < b


def _greedy_chains(ev: _Evaluator, phases: list[int], per_p: list[SitingResult], omega: np.ndarray) -> _Chain:
    """Best of the greedy chains anchored on each phase's best p-plan (a = 0: plain greedy)."""
    K = len(phases)
    best, best_v = None, None
    for a in range(K + 1):
        if a == 0:
            order = ev.extend(np.zeros(0, int), phases[-1])
        else:
            anchor = selected_options(ev.problem, per_p[a - 1])
            allowed = np.zeros(ev.problem.options.n, bool)
            allowed[anchor] = True
            head = ev.extend(np.zeros(0, int), len(anchor), allowed)
            head = np.concatenate([head, np.setdiff1d(anchor, head)])  # zero-gain sites of the plan last
            order = ev.extend(head, phases[-1])
        counts = np.minimum(phases, len(order))
        v = float(omega @ [ev.value(order[:c]) for c in counts])
        if best is None or ev.better(v, best_v):
            best, best_v = _Chain(order, counts, a), v
    return best


def _phase_blocks(ev: _Evaluator):
    """One phase's MILP block: (c, const, A, lo, hi, y option per y column, ny, n columns, start fn)."""
    if ev.maximise:
        cd = ev.cd
        nx, m = len(cd.options), len(cd.w)
        A = sp.hstack([-cd.A.T.tocsr(), sp.identity(m, format="csr")], format="csr")

        def start(opts):
            x = np.zeros(nx)
            r = ev.row_of[np.asarray(opts, int)]
            x[r[r >= 0]] = 1.0
            return np.concatenate([x, np.minimum(cd.A.T @ x, 1.0)])

        return (np.concatenate([np.zeros(nx), -cd.w]), -cd.w_before, A, np.full(m, -np.inf), np.zeros(m),
                cd.options, nx, nx + m, start)
    md = ev.md
    rm = radius_model(md, ~md.fixed, md.fixed)

    def start(opts):
        is_open = md.fixed.copy()
        is_open[np.asarray(opts, int)] = True
        return rm.start(md, is_open)

    return rm.c, rm.const, rm.A, rm.lo, np.full(rm.A.shape[0], np.inf), rm.y_opts, rm.ny, rm.ny + rm.nz, start


def _nested_milp(ev: _Evaluator, phases: list[int], omega: np.ndarray, chain: _Chain, time_limit_s: float | None):
    """The K-copy MILP with y^k ≤ y^{k+1}; returns (outcome, chain or None, total entries)."""
    c, const, A, lo, hi, y_opt, ny, ncol, start = _phase_blocks(ev)
    K = len(phases)
    N = K * ncol
    rows = [(sp.block_diag([A] * K, format="csr"), np.tile(lo, K), np.tile(hi, K))]
    n_sites = len(np.unique(ev.problem.options.site[y_opt]))
    card = sp.csr_matrix((np.ones(K * ny), (np.repeat(np.arange(K), ny),
                                             (np.arange(K)[:, None] * ncol + np.arange(ny)[None, :]).ravel())),
                         shape=(K, N))
    exact_p = not ev.maximise
    p_arr = np.asarray(phases, float)
    rows.append((card, np.where(exact_p & (p_arr <= n_sites), p_arr, -np.inf), p_arr))
    if K > 1:  # y_i^k − y_i^{k+1} ≤ 0
        r = np.arange((K - 1) * ny)
        k, i = np.divmod(r, ny)
        link = sp.csr_matrix((np.concatenate([np.ones(len(r)), -np.ones(len(r))]),
                              (np.concatenate([r, r]), np.concatenate([k * ncol + i, (k + 1) * ncol + i]))),
                             shape=(len(r), N))
        rows.append((link, np.full(len(r), -np.inf), np.zeros(len(r))))
    opr = one_per_site_rows(ev.problem.options.site[y_opt])
    if opr.shape[0]:
        block = pad_columns(opr, ncol)
        rows.append((sp.block_diag([block] * K, format="csr"), np.full(K * opr.shape[0], -np.inf),
                     np.ones(K * opr.shape[0])))
    entries = sum(r[0].nnz for r in rows)
    cc = np.concatenate([w * c for w in omega])
    integ = np.tile(np.concatenate([np.ones(ny), np.zeros(ncol - ny)]), K)
    x0 = np.concatenate([start(s) for s in chain.phase_sets()])
    out = run_milp(cc, integ, np.zeros(N), np.ones(N), rows, time_limit_s, 0.0, x0,
                   highs_options={"mip_heuristic_run_feasibility_jump": False})
    sign = -1.0 if ev.maximise else 1.0
    bound = sign * (out.bound + omega.sum() * const)
    if out.x is None:
        return out, None, bound, entries
    y = out.x.reshape(K, ncol)[:, :ny] > 0.5
    order, counts = [], []
    for k in range(K):
        new = [int(o) for o in y_opt[y[k]] if int(o) not in order]
        order += new
        counts.append(len(order))
    return out, _Chain(np.array(order, int), np.array(counts)), bound, entries


def phased(problem: SitingProblem, model: str, p_max: int | None = None, *, phases=None, weights=None,
           method: str = "auto", time_limit_s: float | None = 60.0) -> pd.DataFrame:
    """Nested siting plans for p = 1 … ``p_max`` (or the cumulative counts ``phases``).

    Parameters
    ----------
    model : "mclp" (objective: covered demand weight) or "pmedian" (weighted minutes).
    phases : increasing cumulative numbers of new sites, e.g. ``[2, 5, 10]``; default 1 … p_max.
    weights : weight of each phase in the nested objective (e.g. years it lasts); default all 1.
    method : "exact" (nested MILP), "heuristic" (best greedy chain) or "auto".
    time_limit_s : limit of each per-phase solve and of the nested MILP (seconds): the whole
        call takes up to (phases + 1) × this.

    Returns
    -------
    One row per phase: ``phase``, ``p``, ``new_sites`` (opened in this phase), ``site_ids``
    (their ids, "; "-separated), ``objective`` (nested plan), ``optimum`` (best plan known for
    this p alone), ``optimum_bound``, ``optimum_status``, ``loss`` (≥ 0, nested against
    ``optimum``), ``loss_share`` (loss ÷ optimum), ``loss_max`` (the most the loss can be: against
    the bound), ``loss_status`` ("exact" when the p-optimum is proven, else "bounded").
    ``df.attrs`` holds the nested plan's method, status, weighted objective and bound.
    """
    if model not in PHASED_MODELS:
        raise ValueError(f"phased plans support {', '.join(PHASED_MODELS)}, not {model!r}.")
    if method not in ("auto", "exact", "heuristic"):
        raise ValueError(f"unknown method {method!r}; use auto, exact or heuristic.")
    phases = _phase_list(p_max, phases)
    omega = np.ones(len(phases)) if weights is None else np.asarray(weights, float)
    if omega.shape != (len(phases),) or np.any(omega < 0) or not np.all(np.isfinite(omega)):
        raise ValueError("phase weights must be one finite non-negative number per phase.")
    t0 = time.perf_counter()
    ev = _Evaluator(problem, model)
    per_p = [solve(problem, model, p=p, method=method, time_limit_s=time_limit_s) for p in phases]
    chain = _greedy_chains(ev, phases, per_p, omega)
    values = [ev.value(s) for s in chain.phase_sets()]
    per_bound = np.array([r.bound for r in per_p], float)
    nested = {"method": ("greedy forward" if chain.anchor == 0 else
                         f"greedy chain through phase {chain.anchor}'s best p-plan"), "status": "feasible",
              "objective": float(omega @ values), "bound": float(omega @ per_bound)}
    if method == "exact" or method == "auto":
        size = _estimated_entries(ev, len(phases))
        if method == "exact" or size <= EXACT_MAX_ENTRIES:
            out, ch, bound, _ = _nested_milp(ev, phases, omega, chain, time_limit_s)
            if ch is not None:
                v = [ev.value(s) for s in ch.phase_sets()]
                if not ev.better(float(omega @ values), float(omega @ v)):
                    chain, values = ch, v
            nested["method"] = f"nested MILP (one model copy per phase, y^k ≤ y^(k+1)), from the {nested['method']} chain"
            b = [nested["bound"], bound] if np.isfinite(bound) else [nested["bound"]]
            nested["bound"] = min(b) if ev.maximise else max(b)
            nested["objective"] = float(omega @ values)
            closed = abs(nested["objective"] - nested["bound"]) <= 1e-9 * max(1.0, abs(nested["objective"]))
            nested["status"] = "optimal" if closed or out.status == "optimal" else out.status
    df = _table(ev, phases, chain, values, per_p)
    df.attrs.update({f"nested_{k}": (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in nested.items()})
    df.attrs.update(model=model, phase_weights=omega.tolist(), solve_time_s=time.perf_counter() - t0)
    return df


def _phase_list(p_max, phases) -> list[int]:
    if phases is None:
        if not p_max or int(p_max) < 1:
            raise ValueError("phased plans need p_max ≥ 1 or a list of phases.")
        return list(range(1, int(p_max) + 1))
    ph = [int(v) for v in phases]
    if not ph or ph[0] < 1 or any(b <= a for a, b in zip(ph, ph[1:])):
        raise ValueError(f"phases must be increasing cumulative site counts ≥ 1, got {list(phases)}.")
    return ph


def _estimated_entries(ev: _Evaluator, K: int) -> int:
    """Constraint entries of the nested MILP (cover/radius rows per copy plus linking)."""
    if ev.maximise:
        per = ev.cd.A.nnz + len(ev.cd.w)
        ny = len(ev.cd.options)
    else:
        per = 2 * len(ev.md.R)
        ny = int((~ev.md.fixed).sum())
    return K * (per + ny) + 2 * (K - 1) * ny


def _table(ev: _Evaluator, phases: list[int], chain: _Chain, values: list[float],
           per_p: list[SitingResult]) -> pd.DataFrame:
    ids = ev.problem.site_ids
    site = ev.problem.options.site
    rows = []
    prev = 0
    for k, (p, c, v, r) in enumerate(zip(phases, chain.counts, values, per_p)):
        added = chain.order[prev:c]
        prev = c
        best = max(r.objective, v) if ev.maximise else min(r.objective, v)
        loss = (best - v) if ev.maximise else (v - best)
        loss_max = (r.bound - v) if ev.maximise else (v - r.bound)
        proven = abs(best - r.bound) <= 1e-9 * max(1.0, abs(best))
        rows.append({"phase": k + 1, "p": p, "new_sites": len(added),
                     "site_ids": "; ".join(str(ids[site[o]]) for o in added), "objective": v,
                     "optimum": best, "optimum_bound": r.bound,
                     "optimum_status": "optimal" if proven else r.status, "loss": max(loss, 0.0),
                     "loss_share": max(loss, 0.0) / abs(best) if best else 0.0,
                     "loss_max": max(loss_max, loss, 0.0), "loss_status": "exact" if proven else "bounded"})
    return pd.DataFrame(rows)


_CHART_TEXT = {
    "zh": {"mclp": ("分期建设：覆盖的需求", "覆盖的需求权重"), "pmedian": ("分期建设：人均步行时间", "平均步行时间（分钟）"),
           "x": "累计新建设施数 p", "nested": "分期方案（逐期嵌套）", "optimum": "该 p 单独最优（已知最佳）",
           "bound": "该 p 的证明界"},
    "en": {"mclp": ("Phased plan: demand covered", "covered demand weight"),
           "pmedian": ("Phased plan: mean walk time", "mean walk time (min)"),
           "x": "new sites so far, p", "nested": "phased plan (nested)", "optimum": "best plan for this p alone",
           "bound": "proven bound for this p"},
}


def phased_chart(df: pd.DataFrame, language: str = "zh", total_weight: float | None = None) -> str:
    """SVG line chart of a :func:`phased` table: nested plan, best p-plan and its bound per p.

    p-median values are shown as mean minutes when ``total_weight`` (Σ demand weight) is given.
    """
    t = _CHART_TEXT["zh" if language == "zh" else "en"]

    model = df.attrs.get("model", "mclp")
    scale = 1.0 / total_weight if (model == "pmedian" and total_weight) else 1.0
    title, y_label = t[model]
    if model == "pmedian" and not total_weight:
        y_label = "Σ w·t"
    series = [(t["nested"], df["objective"] * scale, False), (t["optimum"], df["optimum"] * scale, False)]
    if (df["loss_status"] != "exact").any():
        series.append((t["bound"], df["optimum_bound"] * scale, True))
    fmt = (lambda v: f"{v:,.1f}") if scale != 1.0 else (lambda v: f"{v:,.0f}")
    return lines_chart(df["p"].tolist(), series, title=title, x_label=t["x"], y_label=y_label, y_text=fmt)
