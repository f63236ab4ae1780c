"""Capacity-aware accessibility on walk times: the floating-catchment family (2SFCA, E2SFCA,
Gaussian and kernel-density 2SFCA, 3SFCA, gravity), service pressure per facility and equity
summaries (Gini, Lorenz curve, share below a threshold).

Everything works on the sparse facility × demand-point walk-time matrix ``T`` of
:func:`eldercare_coverage.access.coverage_matrix` (CSR, minutes). A pair is "in reach" when it is
*stored* in ``T`` (its sparsity structure), never when its time is non-zero: a facility on a demand
point's own doorstep has time 0 and is the best-served pair of all. With weights ``W = f(T)``
(``f`` applied to ``T.data``, the structure kept), supply ``S`` per facility and demand ``D`` per
point, every measure is two sparse products (Luo & Wang 2003; PySAL ``access`` semantics)::

    R = S / (W @ D)        # supply per unit of weighted demand in each facility's catchment
    A = W.T @ R            # accessibility of each demand point: supply per unit of demand

so ``A`` is in supply units per demand unit (e.g. m² of floor area per older resident), and for
2SFCA ``Σ D·A = Σ S`` over the supply that reaches any demand. A constant factor in ``W`` cancels,
so weights are shape only. 3SFCA (Wan, Zou & Sternberg 2012) multiplies ``W`` by the selection
weights ``G_ij = W_ij / Σ_j W_ij`` (each point's demand split among the facilities it can reach).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

log = logging.getLogger(__name__)

#: The measures, and what their weight ``f(t)`` is within the limit ``t0`` (0 beyond it).
MEASURES: dict[str, str] = {
    "2sfca": "classic 2SFCA (Luo & Wang 2003): f = 1",
    "e2sfca": "enhanced 2SFCA (Luo & Qi 2009): a step weight per walk-time band",
    "g2sfca": "Gaussian 2SFCA (Dai 2010): f = (exp(-(t/t0)²/2) - exp(-1/2)) / (1 - exp(-1/2))",
    "kd2sfca": "kernel-density 2SFCA: f = (1 - (t/t0)²)^decay (decay 1: Epanechnikov, 2: quartic)",
    "3sfca": "3SFCA (Wan, Zou & Sternberg 2012): band weights × selection weights G (competition)",
    "gravity": "gravity model (Joseph & Bantock 1982; Shen 1998): f = max(t, t_min)^-decay",
}
#: Default band weights for the 5/10/15-minute bands: Luo & Qi's (2009) Gaussian-derived
#: weights for three equal sub-zones of the catchment (1, 0.68, 0.22).
BAND_WEIGHTS = (1.0, 0.68, 0.22)
BANDS_MIN = (5.0, 10.0, 15.0)

#: Supply and demand options: option name -> canonical column (see :mod:`eldercare_coverage.schema`).
SUPPLY_COLUMNS: dict[str, str] = {"floor_area": "floor_area_m2", "beds": "beds", "capacity": "capacity"}
DEMAND_COLUMNS: dict[str, str] = {"elderly": "elderly_population", "residents": "population",
                                  "households": "households"}


# ----------------------------------------------------------------------------------------------
# Weights


def decay_weights(times_min: np.ndarray, measure: str, *, limit_min: float, bands_min=BANDS_MIN,
                  band_weights=BAND_WEIGHTS, decay: float = 1.0, min_time_min: float = 1.0) -> np.ndarray:
    """The distance-decay weight ``f(t)`` of ``measure`` for walk times ``times_min`` (min).

    Times above ``limit_min`` weigh 0. Bands (E2SFCA, 3SFCA) follow PySAL's ``step_fn``: a time
    ``t`` takes the weight of the first band with ``t <= band``, 0 past the last band.
    ``decay`` is the kernel exponent (kd2sfca) or the power β (gravity); ``min_time_min`` keeps the
    gravity weight finite at time 0 (as PySAL's ``min_dist``).
    """
    t = np.asarray(times_min, dtype=float)
    t0 = float(limit_min)
    inside = t <= t0
    if measure == "2sfca":
        return inside.astype(float)
    if measure in ("e2sfca", "3sfca"):
        bands = np.asarray(bands_min, dtype=float)
        table = np.append(np.asarray(band_weights, dtype=float), 0.0)
        w = table[np.searchsorted(bands, t, side="left")]
    elif measure == "g2sfca":
        edge = np.exp(-0.5)
        w = (np.exp(-0.5 * (t / t0) ** 2) - edge) / (1.0 - edge)
    elif measure == "kd2sfca":
        w = np.clip(1.0 - (t / t0) ** 2, 0.0, None) ** float(decay)
    elif measure == "gravity":
        w = np.maximum(t, float(min_time_min)) ** -float(decay)
    else:
        raise ValueError(f"unknown accessibility measure {measure!r}; use one of {', '.join(MEASURES)}")
    return np.where(inside, w, 0.0)


def _check_params(measure: str, limit_min: float, bands_min, band_weights, decay: float, min_time_min: float) -> None:
    if measure not in MEASURES:
        raise ValueError(f"unknown accessibility measure {measure!r}; use one of {', '.join(MEASURES)}")
    if not (np.isfinite(limit_min) and limit_min > 0):
        raise ValueError(f"limit_min must be a positive number of minutes, got {limit_min!r}")
    if measure in ("e2sfca", "3sfca"):
        bands = np.asarray(bands_min, dtype=float)
        if len(bands) == 0 or len(bands) != len(band_weights):
            raise ValueError(f"bands_min {list(bands_min)} and band_weights {list(band_weights)} must be "
                             "non-empty and of the same length")
        if np.any(np.diff(bands) <= 0) or bands[0] <= 0:
            raise ValueError(f"bands_min must be increasing positive minutes, got {list(bands_min)}")
        if np.any(np.asarray(band_weights, dtype=float) < 0):
            raise ValueError(f"band_weights must be non-negative, got {list(band_weights)}")
    if measure in ("kd2sfca", "gravity") and not (np.isfinite(decay) and decay > 0):
        raise ValueError(f"decay must be a positive number, got {decay!r}")
    if measure == "gravity" and not min_time_min > 0:
        raise ValueError(f"min_time_min must be positive for the gravity measure, got {min_time_min!r}")


def _as_csr(times) -> sp.csr_matrix:
    """``times`` as canonical CSR, keeping explicit zeros (a facility at the point: time 0)."""
    if not sp.issparse(times):
        raise TypeError("times must be a scipy.sparse matrix (facilities × demand points, minutes); a dense "
                        "array cannot tell 'time 0' from 'not in reach'")
    mat = sp.csr_matrix(times, dtype=float, copy=False)
    if not mat.has_canonical_format:
        mat = mat.copy()
        mat.sum_duplicates()  # keeps explicit zeros
    return mat


def weight_matrix(times, measure: str = "2sfca", *, limit_min: float, bands_min=BANDS_MIN,
                  band_weights=BAND_WEIGHTS, decay: float = 1.0, min_time_min: float = 1.0) -> sp.csr_matrix:
    """``W = f(T)`` on the stored pairs of ``times`` (CSR facilities × points, minutes); for
    3SFCA, ``W ∘ G`` with the selection weights ``G``. Same structure as ``times``."""
    _check_params(measure, limit_min, bands_min, band_weights, decay, min_time_min)
    T = _as_csr(times)
    if not (T.data >= 0).all():  # one pass: NaN fails the comparison too
        raise ValueError("times must be non-negative minutes (no NaN) on every stored pair")
    w = decay_weights(T.data, measure, limit_min=limit_min, bands_min=bands_min, band_weights=band_weights,
                      decay=decay, min_time_min=min_time_min)
    if measure == "3sfca":
        # G: each point's weights over the facilities it reaches, normalised to sum to 1.
        col_sum = np.bincount(T.indices, weights=w, minlength=T.shape[1])
        denom = col_sum[T.indices]
        w = np.divide(w * w, denom, out=np.zeros_like(w), where=denom > 0)
    # W shares T's index arrays (never modified): no copy of the structure
    return sp.csr_matrix((w, T.indices, T.indptr), shape=T.shape, copy=False)


# ----------------------------------------------------------------------------------------------
# The measures


@dataclass
class Accessibility:
    """Accessibility of each demand point and the supply-to-demand ratio of each facility.

    point : A per demand point (supply units per demand unit; 0 where no supply is in reach).
    ratio : R per facility (supply per unit of weighted catchment demand; 0 when it serves none).
    catchment_demand : weighted demand ``W @ D`` in each facility's catchment.
    weights : the weight matrix ``W`` (facilities × points) the measure used.
    times : the walk-time matrix it was computed from (CSR, minutes).
    supply, demand : the inputs (NaN taken as 0).
    params : measure and parameters, so every figure is traceable.
    """

    point: np.ndarray
    ratio: np.ndarray
    catchment_demand: np.ndarray
    weights: sp.csr_matrix
    times: sp.csr_matrix
    supply: np.ndarray
    demand: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def _vector(values, n: int, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    if v.shape != (n,):
        raise ValueError(f"{name} has {v.size} values, expected {n} (one per matrix {'row' if name == 'supply' else 'column'})")
    if (v < 0).any():  # NaN compares False: it is "unknown", not negative
        raise ValueError(f"{name} has {int((v < 0).sum())} negative values; {name} must be >= 0")
    if np.isposinf(v).any():
        raise ValueError(f"{name} has infinite values")
    nan = np.isnan(v)
    return np.where(nan, 0.0, v) if nan.any() else v


def ratios(weights: sp.csr_matrix, supply, demand) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: ``R = S / (W @ D)`` per facility (0 where the weighted demand is 0) and ``W @ D``."""
    catch = weights @ demand
    return np.divide(supply, catch, out=np.zeros_like(catch), where=catch > 0), catch


def compute(times, supply, demand, measure: str = "2sfca", *, limit_min: float, bands_min=BANDS_MIN,
            band_weights=BAND_WEIGHTS, decay: float = 1.0, min_time_min: float = 1.0) -> Accessibility:
    """Accessibility of every demand point under ``measure`` (see :data:`MEASURES`).

    times : sparse facilities × demand points, walk minutes on the pairs in reach.
    supply : per facility (m² floor area, beds or capacity); NaN counts as no supply.
    demand : per demand point (older residents, residents or households); NaN counts as none.
    limit_min : catchment (min); pairs above it are dropped; the Gaussian and kernel ``t0``.
    bands_min, band_weights : E2SFCA / 3SFCA step weights (``t <= band``).
    decay : kernel exponent (kd2sfca) or distance-decay power β (gravity).
    min_time_min : gravity only: times below it count as it (keeps ``t^-β`` finite).
    """
    T = _as_csr(times)
    W = weight_matrix(T, measure, limit_min=limit_min, bands_min=bands_min, band_weights=band_weights,
                      decay=decay, min_time_min=min_time_min)
    S = _vector(supply, W.shape[0], "supply")
    D = _vector(demand, W.shape[1], "demand")
    R, catch = ratios(W, S, D)
    A = W.T @ R
    params = {"measure": measure, "limit_min": float(limit_min), "decay": float(decay)}
    if measure in ("e2sfca", "3sfca"):
        params.update(bands_min=[float(b) for b in bands_min], band_weights=[float(b) for b in band_weights])
    if measure == "gravity":
        params["min_time_min"] = float(min_time_min)
    return Accessibility(np.asarray(A), R, catch, W, T, S, D, params)


# ----------------------------------------------------------------------------------------------
# Tables


def _weighted_mean_by(keys: np.ndarray, values: np.ndarray, weights: np.ndarray) -> pd.DataFrame:
    """Per key: demand-weighted mean of ``values`` (NaN where the key has no demand), the demand,
    the demand with no supply in reach and the point count."""
    df = pd.DataFrame({"k": keys, "wa": weights * values, "w": weights, "zero": weights * (values <= 0)})
    g = df.groupby("k", sort=False)
    out = g[["wa", "w", "zero"]].sum()
    out["n"] = g.size()
    mean = np.divide(out["wa"], out["w"], out=np.full(len(out), np.nan), where=out["w"].to_numpy() > 0)
    return pd.DataFrame({"accessibility": mean, "demand": out["w"], "demand_no_access": out["zero"],
                         "points": out["n"]}, index=out.index)


def group_table(result: Accessibility, keys, ids=None, *, name: str = "community_id") -> pd.DataFrame:
    """Per group (community, district): the demand-weighted mean accessibility (for 2SFCA
    ``Σ A·D / Σ D``, the group's supply per demand unit), its demand, the share of its demand with
    no supply in reach, and its accessibility relative to the study-wide mean (1 = average).
    ``ids`` fixes the rows and their order (groups without points get NaN)."""
    t = _weighted_mean_by(np.asarray(keys), result.point, result.demand)
    if ids is not None:
        t = t.reindex(pd.Index(np.asarray(ids)))
    mean = overall_mean(result)
    t["share_no_access"] = np.where(t["demand"] > 0, t["demand_no_access"] / t["demand"].where(t["demand"] > 0), np.nan)
    t["relative"] = t["accessibility"] / mean if mean > 0 else np.nan
    t.index.name = name
    return t.reset_index()[[name, "accessibility", "relative", "demand", "share_no_access", "points"]]


def overall_mean(result: Accessibility) -> float:
    """Study-wide demand-weighted mean accessibility (NaN without demand)."""
    total = result.demand.sum()
    return float(result.demand @ result.point / total) if total > 0 else float("nan")


def service_pressure(result: Accessibility, facility_ids, *, floor_area_m2=None, beds=None,
                     groups=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per facility: demand in reach (unweighted, within the limit), weighted catchment demand
    (the measure's ``W @ D``), that demand per m² and per bed, and the supply-to-demand ratio.

    ``groups`` (one key per demand point, e.g. community ids) adds a second table: per
    facility × group, the weighted demand the group contributes and its share of the facility's
    catchment demand, largest first. Returns ``(facilities, contributions)``.
    """
    W, T = result.weights, result.times
    inside = (T.data <= result.params["limit_min"]).astype(float)
    reach = sp.csr_matrix((inside, T.indices, T.indptr), shape=T.shape) @ result.demand
    n = W.shape[0]
    area = np.full(n, np.nan) if floor_area_m2 is None else np.asarray(floor_area_m2, dtype=float)
    bed = np.full(n, np.nan) if beds is None else np.asarray(beds, dtype=float)
    fac = pd.DataFrame({
        "facility_id": np.asarray(facility_ids).astype(str), "supply": result.supply,
        "demand_in_reach": reach, "catchment_demand": result.catchment_demand,
        "demand_per_m2": np.divide(reach, area, out=np.full(n, np.nan), where=area > 0),
        "demand_per_bed": np.divide(reach, bed, out=np.full(n, np.nan), where=bed > 0),
        "pressure": np.divide(result.catchment_demand, result.supply, out=np.full(n, np.nan),
                              where=result.supply > 0),
        "ratio": result.ratio,
    })
    contrib = pd.DataFrame(columns=["facility_id", "group", "demand", "share"])
    if groups is not None:
        codes, uniques = pd.factorize(np.asarray(groups))
        member = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)),
                               shape=(len(codes), len(uniques)))
        by_group = (W @ sp.diags(result.demand) @ member).tocoo()
        keep = by_group.data > 0
        rows, cols, vals = by_group.row[keep], by_group.col[keep], by_group.data[keep]
        contrib = pd.DataFrame({"facility_id": fac["facility_id"].to_numpy()[rows], "group": uniques[cols],
                                "demand": vals, "share": vals / result.catchment_demand[rows]})
        contrib = contrib.sort_values(["facility_id", "demand"], ascending=[True, False], ignore_index=True)
    return fac, contrib


# ----------------------------------------------------------------------------------------------
# Equity


def lorenz(values, weights=None) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of ``values`` weighted by ``weights`` (e.g. communities' accessibility by their
    older residents): cumulative share of the weight (x) against cumulative share of
    ``value × weight`` (y), both from (0, 0) to (1, 1), poorest first. NaN values and zero weights
    are left out."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(v) & np.isfinite(w) & (w > 0)
    v, w = v[keep], w[keep]
    if (v < 0).any():
        raise ValueError("a Lorenz curve needs non-negative values")
    if len(v) == 0 or (v * w).sum() <= 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    x = np.concatenate([[0.0], np.cumsum(w) / w.sum()])
    y = np.concatenate([[0.0], np.cumsum(v * w) / (v * w).sum()])
    return x, y


def gini(values, weights=None) -> float:
    """Weighted Gini coefficient (0 = equal, → 1 = all supply with one group): one minus twice the
    area under the :func:`lorenz` curve. NaN when there is nothing to compare."""
    v = np.asarray(values, dtype=float)
    w = np.ones_like(v) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(v) & np.isfinite(w) & (w > 0)
    if keep.sum() == 0 or (v[keep] * w[keep]).sum() <= 0:
        return float("nan")
    x, y = lorenz(v, w)
    return float(1.0 - np.sum(np.diff(x) * (y[1:] + y[:-1])))


def share_below(values, weights, threshold: float) -> float:
    """Share of the weight (e.g. older residents) whose accessibility is below ``threshold``."""
    v = np.asarray(values, dtype=float)
    w = np.nan_to_num(np.asarray(weights, dtype=float))
    total = w.sum()
    return float(w[np.nan_to_num(v, nan=0.0) < threshold].sum() / total) if total > 0 else float("nan")


def equity_summary(result: Accessibility, communities: pd.DataFrame, districts: pd.DataFrame, *,
                   threshold: float | None = None, worst: int = 10) -> dict[str, Any]:
    """Gini of community and district accessibility (weighted by their demand), the share of
    demand below ``threshold`` (supply per demand unit; default half the study-wide mean, a
    relative-deprivation line) at demand-point level, and the ``worst`` served communities."""
    mean = overall_mean(result)
    thr = 0.5 * mean if threshold is None else float(threshold)
    worst_rows = communities[communities["demand"] > 0].sort_values(["accessibility", "demand"],
                                                                       ascending=[True, False]).head(worst)
    return {
        "measure": result.params.get("measure"), "mean": mean,
        "gini_communities": gini(communities["accessibility"], communities["demand"]),
        "gini_districts": gini(districts["accessibility"], districts["demand"]),
        "threshold": thr, "threshold_rule": "given" if threshold is not None else "half the study-wide mean",
        "share_below_threshold": share_below(result.point, result.demand, thr),
        "share_no_access": share_below(result.point, result.demand, np.finfo(float).tiny),
        "worst_communities": worst_rows.iloc[:, 0].astype(str).tolist(),
    }


# ----------------------------------------------------------------------------------------------
# A study's tables


@dataclass
class AccessibilityTables:
    """What :func:`analyse` produces for a study.

    result : the :class:`Accessibility` (per point and per facility arrays).
    points : per demand point: ``point_id``, ``community_id``, ``district``, ``accessibility``.
    communities / districts : :func:`group_table` rows (``community_id`` / ``district`` first).
    facilities : :func:`service_pressure` per facility (with ``kind``, ``floor_area_m2``, ``beds``).
    contributions : per facility × community: weighted demand and its share of the catchment.
    summary : :func:`equity_summary` plus supply, demand and units.
    lorenz : Lorenz curves ``{"communities": (x, y), "districts": (x, y)}``.
    """

    result: Accessibility
    points: pd.DataFrame
    communities: pd.DataFrame
    districts: pd.DataFrame
    facilities: pd.DataFrame
    contributions: pd.DataFrame
    summary: dict[str, Any]
    lorenz: dict[str, tuple[np.ndarray, np.ndarray]]
    #: New sites and the accessibility after them: name -> :class:`AccessibilitySiting`.
    siting: dict[str, Any] = field(default_factory=dict)


def after_sites(tables: AccessibilityTables, after_point) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Community and district tables and the equity summary for accessibility ``after_point``
    (per demand point, e.g. with new sites), against the same threshold as ``tables``."""
    from dataclasses import replace

    res = replace(tables.result, point=np.asarray(after_point, dtype=float))
    comm = group_table(res, tables.points["community_id"].to_numpy(), tables.communities["community_id"])
    dist = group_table(res, tables.points["district"].to_numpy(), name="district").sort_values(
        "district", ignore_index=True)
    summary = equity_summary(res, comm, dist, threshold=tables.summary["threshold"])
    summary["threshold_rule"] = tables.summary.get("threshold_rule", "given")
    return comm, dist, summary


#: Units of accessibility for each supply × demand option (supply per demand unit).
UNITS = {"floor_area": "m²", "beds": "beds", "capacity": "places"}
PER = {"elderly": "older resident", "residents": "resident", "households": "household"}


def analyse(times, facilities: pd.DataFrame, demand_points: pd.DataFrame, community_ids=None, *,
            measure: str = "2sfca", supply: str = "floor_area", demand: str = "elderly", limit_min: float,
            bands_min=BANDS_MIN, band_weights=BAND_WEIGHTS, decay: float = 1.0, threshold: float | None = None,
            worst: int = 10) -> AccessibilityTables:
    """Accessibility of a study's demand points to its facilities, with the per-community,
    per-district and per-facility tables and the equity summary.

    times : sparse facilities × demand points (minutes), rows in ``facilities`` order, columns in
        ``demand_points`` order (``AccessResult.facility_matrix``).
    facilities : ``facility_id``, ``kind`` and the supply column (:data:`SUPPLY_COLUMNS`).
    demand_points : ``point_id``, ``community_id``, ``district`` and the demand column
        (:data:`DEMAND_COLUMNS`).
    community_ids : rows (and order) of the community table; default the communities with points.
    threshold : accessibility below which demand counts as under-served (None: half the mean).
    Other parameters as in :func:`compute`. NaN supply or demand counts as 0 (callers say so).
    """
    if supply not in SUPPLY_COLUMNS or demand not in DEMAND_COLUMNS:
        raise ValueError(f"supply must be one of {list(SUPPLY_COLUMNS)} and demand one of {list(DEMAND_COLUMNS)}")
    s = facilities[SUPPLY_COLUMNS[supply]].to_numpy(dtype=float)
    d = demand_points[DEMAND_COLUMNS[demand]].to_numpy(dtype=float)
    res = compute(times, s, d, measure, limit_min=limit_min, bands_min=bands_min, band_weights=band_weights,
                  decay=decay)
    res.params.update(supply=supply, supply_column=SUPPLY_COLUMNS[supply], demand=demand,
                      demand_column=DEMAND_COLUMNS[demand], unit=f"{UNITS[supply]} per {PER[demand]}")
    comm_keys = demand_points["community_id"].astype(str).to_numpy()
    dist_keys = demand_points["district"].fillna("").astype(str).to_numpy()
    points = pd.DataFrame({"point_id": demand_points["point_id"].to_numpy(), "community_id": comm_keys,
                           "district": dist_keys, "accessibility": res.point})
    comm = group_table(res, comm_keys, None if community_ids is None else np.asarray(community_ids).astype(str))
    dist = group_table(res, dist_keys, name="district").sort_values("district", ignore_index=True)

    def col(name: str):
        return facilities[name].to_numpy(dtype=float) if name in facilities else None

    fac, contrib = service_pressure(res, facilities["facility_id"].astype(str).to_numpy(),
                                    floor_area_m2=col("floor_area_m2"), beds=col("beds"), groups=comm_keys)
    for c in ("kind", "floor_area_m2", "beds"):
        if c in facilities:
            fac.insert(1 if c == "kind" else len(fac.columns), c, facilities[c].to_numpy())
    contrib = contrib.rename(columns={"group": "community_id"})
    summary = equity_summary(res, comm, dist, threshold=threshold, worst=worst)
    summary.update({k: res.params[k] for k in ("supply", "demand", "unit", "limit_min")},
                   total_supply=float(res.supply.sum()), total_demand=float(res.demand.sum()))
    curves = {"communities": lorenz(comm["accessibility"], comm["demand"]),
              "districts": lorenz(dist["accessibility"], dist["demand"])}
    return AccessibilityTables(res, points, comm, dist, fac, contrib, summary, curves)


# ----------------------------------------------------------------------------------------------
# Siting for accessibility: a greedy heuristic


#: Objectives of :func:`greedy_sites`, on the community (group) accessibility weighted by demand.
OBJECTIVES: dict[str, str] = {
    "mean": "raise the demand-weighted mean accessibility",
    "min": "raise the lowest community accessibility (ties: less demand with no supply in reach)",
    "variance": "lower the demand-weighted variance of community accessibility",
    "gini": "lower the demand-weighted Gini coefficient of community accessibility",
    "below": "lower the share of demand whose community accessibility is below the threshold",
}


def _group_values(point_values: np.ndarray, demand: np.ndarray, member: sp.csr_matrix,
                  group_demand: np.ndarray) -> np.ndarray:
    """Demand-weighted mean per group of per-point values (rows: scenarios; columns: groups)."""
    return np.asarray(point_values @ sp.diags(demand) @ member) / group_demand


def _objective(A: np.ndarray, w: np.ndarray, objective: str, threshold: float) -> np.ndarray:
    """Objective per row of ``A`` (scenarios × groups, weights ``w``), as a value to MINIMISE."""
    wn = w / w.sum()
    if objective == "mean":
        return -(A @ wn)
    if objective == "min":
        # lexicographic: the minimum first, then (scaled below one step of it) the demand at zero
        zero = (A <= 0) @ wn
        return -A.min(axis=1) + 1e-9 * zero
    if objective == "variance":
        mean = A @ wn
        return ((A - mean[:, None]) ** 2) @ wn
    if objective == "below":
        return (A < threshold) @ wn
    if objective == "gini":
        order = np.argsort(A, axis=1, kind="stable")
        a, ww = np.take_along_axis(A, order, axis=1), w[order]
        x = np.cumsum(ww, axis=1) / w.sum()
        mass = np.cumsum(a * ww, axis=1)
        total = mass[:, -1:]
        y = np.divide(mass, total, out=np.zeros_like(mass), where=total > 0)
        xp = np.concatenate([np.zeros((len(A), 1)), x], axis=1)
        yp = np.concatenate([np.zeros((len(A), 1)), y], axis=1)
        return 1.0 - np.sum(np.diff(xp, axis=1) * (yp[:, 1:] + yp[:, :-1]), axis=1)
    raise ValueError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")


@dataclass
class AccessibilitySiting:
    """Sites chosen by :func:`greedy_sites`, in the order picked.

    selected : candidate row indices; steps : per step the candidate, the objective and the
    study-wide figures after it; before / after : accessibility per demand point; params.
    ``exact`` is always False: greedy picks are not proven optimal (no bound is computed).
    """

    selected: np.ndarray
    steps: pd.DataFrame
    before: np.ndarray
    after: np.ndarray
    params: dict[str, Any]
    exact: bool = False


def _with_sites(base: Accessibility, times, candidates: sp.csr_matrix, candidate_supply: np.ndarray,
                rows: list[int], kw: dict) -> np.ndarray:
    """Accessibility per point with the candidate ``rows`` added to the existing facilities."""
    return compute(sp.vstack([times, candidates[rows]]), np.concatenate([base.supply, candidate_supply[rows]]),
                   base.demand, base.params["measure"], **kw).point


def greedy_sites(times, candidate_times, supply, candidate_supply, demand, groups, *, p: int,
                 objective: str = "gini", measure: str = "2sfca", limit_min: float, bands_min=BANDS_MIN,
                 band_weights=BAND_WEIGHTS, decay: float = 1.0, threshold: float | None = None) -> AccessibilitySiting:
    """Pick ``p`` candidates one at a time, each the best for ``objective`` (see
    :data:`OBJECTIVES`) given the sites already picked: a greedy heuristic, not an exact optimum.

    times / candidate_times : sparse existing facilities × points and candidates × points (min).
    supply / candidate_supply : per existing facility and per candidate (same unit, e.g. m²).
    demand : per point; groups : one key per point (communities), the unit the objective reads.
    threshold : for ``"below"`` (None: half the study-wide mean before siting).

    For the 2SFCA-type measures a new site leaves the other facilities' ratios unchanged
    (``R_j`` only sees demand), so each candidate's gain ``W_c.T R_c`` is computed once and every
    step scores all candidates in one array operation. Under 3SFCA a new site changes the
    selection weights of every point it reaches, so each step recomputes the measure per
    candidate (slower; fine for hundreds of candidates). Memory: one dense candidates × groups
    array (10,000 candidates × 2,000 communities: 160 MB).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; use one of {', '.join(OBJECTIVES)}")
    kw = dict(limit_min=limit_min, bands_min=bands_min, band_weights=band_weights, decay=decay)
    base = compute(times, supply, demand, measure, **kw)
    C = _as_csr(candidate_times)
    cs = _vector(candidate_supply, C.shape[0], "candidate_supply")
    p = int(min(p, C.shape[0]))
    codes, _ = pd.factorize(np.asarray(groups))
    member = sp.csr_matrix((np.ones(len(codes)), (np.arange(len(codes)), codes)), shape=(len(codes), codes.max() + 1))
    gdem = np.asarray(member.T @ base.demand).ravel()
    keep = gdem > 0
    member, gdem = member[:, keep], gdem[keep]
    thr = 0.5 * overall_mean(base) if threshold is None else float(threshold)
    A = base.point.copy()
    selected: list[int] = []
    rows = []
    if measure != "3sfca":
        Wc = weight_matrix(C, measure, **kw)
        Rc, _ = ratios(Wc, cs, base.demand)
        gain = sp.diags(Rc) @ Wc  # candidates × points: the accessibility each would add
        gain_groups = np.asarray((gain @ sp.diags(base.demand) @ member).todense()) / gdem
    for step in range(p):
        now = _group_values(A[None, :], base.demand, member, gdem)
        if measure != "3sfca":
            scen = now + gain_groups
        else:  # competition: every candidate changes the selection weights, recompute per candidate
            scen = np.vstack([_group_values(_with_sites(base, times, C, cs, selected + [c], kw)[None, :],
                                            base.demand, member, gdem)
                              if c not in selected else np.full((1, len(gdem)), np.nan)
                              for c in range(C.shape[0])])
        score = _objective(np.nan_to_num(scen, nan=0.0), gdem, objective, thr)
        score[selected] = np.inf
        score[cs <= 0] = np.inf  # a candidate without supply adds nothing
        best = int(np.argmin(score))
        if not np.isfinite(score[best]):
            break
        selected.append(best)
        if measure != "3sfca":
            A = A + np.asarray(gain[best].todense()).ravel()
        else:
            A = _with_sites(base, times, C, cs, selected, kw)
        g = _group_values(A[None, :], base.demand, member, gdem)[0]
        rows.append({"step": step + 1, "candidate": best, "objective": float(score[best]),
                     "mean": float(g @ gdem / gdem.sum()), "min": float(g.min()),
                     "gini": gini(g, gdem), "share_below_threshold": float(gdem[g < thr].sum() / gdem.sum())})
    params = {"objective": objective, "p": p, "threshold": thr, "method": "greedy (heuristic, not exact)", **base.params}
    return AccessibilitySiting(np.array(selected, dtype=int), pd.DataFrame(rows), base.point, A, params)
