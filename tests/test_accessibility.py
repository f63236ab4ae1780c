"""Capacity-aware accessibility: every measure against hand-worked values, an independent dense
computation and (when installed) PySAL ``access``; supply/demand options; equity summaries; the
pipeline columns on the sample."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from eldercare_coverage import accessibility as acc

MEASURES = list(acc.MEASURES)
E2 = dict(bands_min=(5.0, 10.0, 15.0), band_weights=(1.0, 0.68, 0.22))


# ----------------------------------------------------------------------------------------------
# An independent dense computation: scalar weight functions written from the papers, loops over
# every facility and point, NaN = not in reach.


def _f(measure: str, t: float, limit: float, decay: float = 1.0, min_time: float = 1.0) -> float:
    if t > limit:
        return 0.0
    if measure == "2sfca":
        return 1.0
    if measure in ("e2sfca", "3sfca"):
        for band, w in zip(E2["bands_min"], E2["band_weights"]):
            if t <= band:
                return w
        return 0.0
    if measure == "g2sfca":
        return (math.exp(-0.5 * (t / limit) ** 2) - math.exp(-0.5)) / (1 - math.exp(-0.5))
    if measure == "kd2sfca":
        return (1 - (t / limit) ** 2) ** decay
    if measure == "gravity":
        return max(t, min_time) ** -decay
    raise AssertionError(measure)


def dense_access(T: np.ndarray, S, D, measure: str, limit: float, decay: float = 1.0) -> np.ndarray:
    n_f, n_p = T.shape
    W = np.zeros((n_f, n_p))
    for j in range(n_f):
        for i in range(n_p):
            if not np.isnan(T[j, i]):
                W[j, i] = _f(measure, T[j, i], limit, decay)
    if measure == "3sfca":
        G = np.zeros_like(W)
        for i in range(n_p):
            total = W[:, i].sum()
            if total > 0:
                G[:, i] = W[:, i] / total
        W = W * G
    A = np.zeros(n_p)
    for j in range(n_f):
        catch = sum(W[j, i] * D[i] for i in range(n_p))
        if catch > 0:
            for i in range(n_p):
                A[i] += W[j, i] * S[j] / catch
    return A


def random_instance(seed: int, n_f: int = 12, n_p: int = 40, limit: float = 15.0):
    rng = np.random.default_rng(seed)
    T = rng.uniform(0, 20, size=(n_f, n_p))
    T[rng.random(T.shape) < 0.55] = np.nan  # not in reach
    T[T > limit] = np.nan
    T[0, 0] = 0.0  # a facility at a demand point
    T[3, 5] = 0.0
    rows, cols = np.nonzero(~np.isnan(T))
    mat = sp.csr_matrix((T[rows, cols], (rows, cols)), shape=T.shape)
    S = rng.uniform(50, 800, n_f)
    D = rng.integers(0, 300, n_p).astype(float)
    return T, mat, S, D


def test_explicit_zero_times_are_kept_in_the_structure():
    _, mat, _, _ = random_instance(0)
    assert mat[0, 0] == 0 and 0 in mat.indices[mat.indptr[0]:mat.indptr[1]], "fixture lost its explicit zero"
    W = acc.weight_matrix(mat, "2sfca", limit_min=15)
    assert W.nnz == mat.nnz
    assert W[0, 0] == 1.0  # time 0 is the best-served pair, not "out of reach"


@pytest.mark.parametrize("measure", MEASURES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_measure_matches_a_dense_computation(measure, seed):
    T, mat, S, D = random_instance(seed)
    decay = 1.7 if measure in ("kd2sfca", "gravity") else 1.0
    got = acc.compute(mat, S, D, measure, limit_min=15.0, decay=decay, **E2)
    want = dense_access(T, S, D, measure, 15.0, decay)
    np.testing.assert_allclose(got.point, want, rtol=1e-12, atol=1e-15)
    assert (got.point[0] > 0) and np.isfinite(got.point).all()


def test_limit_below_the_matrix_limit_drops_pairs():
    T, mat, S, D = random_instance(3)
    got = acc.compute(mat, S, D, "2sfca", limit_min=9.0).point
    T9 = np.where(T <= 9.0, T, np.nan)
    np.testing.assert_allclose(got, dense_access(T9, S, D, "2sfca", 9.0), rtol=1e-12)


# ----------------------------------------------------------------------------------------------
# Hand-worked examples


def _two_facility():
    # F1 is at P1 (time 0) and 8 min from P2; F2 is 12 min from P2 and 4 min from P3.
    T = sp.csr_matrix((np.array([0.0, 8.0, 12.0, 4.0]), np.array([0, 1, 1, 2]), np.array([0, 2, 4])), shape=(2, 3))
    return T, np.array([100.0, 60.0]), np.array([10.0, 20.0, 30.0])


def test_two_facility_example_by_hand():
    T, S, D = _two_facility()
    a = acc.compute(T, S, D, "2sfca", limit_min=15)
    # R1 = 100 / (10 + 20), R2 = 60 / (20 + 30)
    np.testing.assert_allclose(a.ratio, [100 / 30, 60 / 50], rtol=1e-14)
    np.testing.assert_allclose(a.point, [100 / 30, 100 / 30 + 1.2, 1.2], rtol=1e-14)
    e = acc.compute(T, S, D, "e2sfca", limit_min=15, **E2)
    # weights: F1-P1 1 (0 min), F1-P2 0.68 (8 min), F2-P2 0.22 (12 min), F2-P3 1 (4 min)
    r1, r2 = 100 / (10 + 20 * 0.68), 60 / (20 * 0.22 + 30)
    np.testing.assert_allclose(e.point, [r1, 0.68 * r1 + 0.22 * r2, r2], rtol=1e-14)
    t = acc.compute(T, S, D, "3sfca", limit_min=15, **E2)
    # P2 splits itself 0.68/0.90 to F1 and 0.22/0.90 to F2
    g1, g2 = 0.68 / 0.9, 0.22 / 0.9
    r1, r2 = 100 / (10 + 20 * 0.68 * g1), 60 / (20 * 0.22 * g2 + 30)
    np.testing.assert_allclose(t.point, [r1, 0.68 * g1 * r1 + 0.22 * g2 * r2, r2], rtol=1e-14)


def _three_by_five():
    # rows F1..F3, columns P1..P5 (minutes); blank = out of reach
    dense = np.array([[2.0, 6.0, 11.0, np.nan, np.nan],
                      [np.nan, 9.0, 4.0, 14.0, np.nan],
                      [np.nan, np.nan, 13.0, 5.0, 0.0]])
    r, c = np.nonzero(~np.isnan(dense))
    return sp.csr_matrix((dense[r, c], (r, c)), shape=dense.shape), np.array([300.0, 200.0, 150.0]), \
        np.array([40.0, 60.0, 50.0, 30.0, 20.0])


def test_three_by_five_e2sfca_by_hand():
    T, S, D = _three_by_five()
    a = acc.compute(T, S, D, "e2sfca", limit_min=15, **E2)
    # band weights: F1: 1 (2), .68 (6), .22 (11); F2: .68 (9), 1 (4), .22 (14); F3: .22 (13), 1 (5), 1 (0)
    r1 = 300 / (40 * 1 + 60 * 0.68 + 50 * 0.22)      # = 300 / 91.8
    r2 = 200 / (60 * 0.68 + 50 * 1 + 30 * 0.22)      # = 200 / 97.4
    r3 = 150 / (50 * 0.22 + 30 * 1 + 20 * 1)         # = 150 / 61
    np.testing.assert_allclose(a.ratio, [300 / 91.8, 200 / 97.4, 150 / 61], rtol=1e-14)
    want = [r1, 0.68 * r1 + 0.68 * r2, 0.22 * r1 + 1 * r2 + 0.22 * r3, 0.22 * r2 + r3, r3]
    np.testing.assert_allclose(a.point, want, rtol=1e-14)


def test_three_by_five_3sfca_by_hand():
    T, S, D = _three_by_five()
    a = acc.compute(T, S, D, "3sfca", limit_min=15, **E2)
    # selection weights G per point: P2 splits .68/.68 -> 1/2 each; P3 splits .22, 1, .22 of 1.44;
    # P4 splits .22 and 1 of 1.22; P1 and P5 reach one facility each.
    w = {(1, 1): 1.0, (1, 2): 0.68, (1, 3): 0.22, (2, 2): 0.68, (2, 3): 1.0, (2, 4): 0.22,
         (3, 3): 0.22, (3, 4): 1.0, (3, 5): 1.0}
    total = {1: 1.0, 2: 1.36, 3: 1.44, 4: 1.22, 5: 1.0}
    ww = {k: v * v / total[k[1]] for k, v in w.items()}
    dem = dict(zip(range(1, 6), D))
    r = {f: S[f - 1] / sum(v * dem[p] for (g, p), v in ww.items() if g == f) for f in (1, 2, 3)}
    want = [sum(v * r[f] for (f, q), v in ww.items() if q == p) for p in range(1, 6)]
    np.testing.assert_allclose(a.point, want, rtol=1e-14)
    assert ww[(2, 3)] == pytest.approx(1 / 1.44)


# ----------------------------------------------------------------------------------------------
# Invariants and options


@pytest.mark.parametrize("measure", ["2sfca", "e2sfca", "g2sfca", "kd2sfca", "gravity", "3sfca"])
def test_supply_is_conserved_and_scales(measure):
    T, mat, S, D = random_instance(4)
    D = D + 1.0  # every point has demand, so every facility that reaches a point serves someone
    a = acc.compute(mat, S, D, measure, limit_min=15.0, **E2)
    served = a.catchment_demand > 0
    assert D @ a.point == pytest.approx(S[served].sum(), rel=1e-12)
    b = acc.compute(mat, 2.5 * S, D, measure, limit_min=15.0, **E2)
    np.testing.assert_allclose(b.point, 2.5 * a.point, rtol=1e-12)


def test_facility_that_serves_no_demand_gets_ratio_zero_not_infinity():
    T, S, D = _two_facility()
    a = acc.compute(T, S, np.array([10.0, 0.0, 0.0]), "2sfca", limit_min=15)
    assert a.ratio[1] == 0 and np.isfinite(a.point).all()


def test_bad_inputs_raise_clear_errors():
    T, S, D = _two_facility()
    with pytest.raises(TypeError, match="sparse"):
        acc.compute(T.toarray(), S, D, limit_min=15)
    with pytest.raises(ValueError, match="unknown accessibility measure"):
        acc.compute(T, S, D, "4sfca", limit_min=15)
    with pytest.raises(ValueError, match="supply has 3 values"):
        acc.compute(T, [1, 2, 3], D, limit_min=15)
    with pytest.raises(ValueError, match="negative"):
        acc.compute(T, S, -D, limit_min=15)
    with pytest.raises(ValueError, match="same length"):
        acc.compute(T, S, D, "e2sfca", limit_min=15, bands_min=(5, 10), band_weights=(1, 0.5, 0.2))
    # NaN supply (an unknown floor area) adds no supply rather than poisoning every point
    a = acc.compute(T, [np.nan, 60.0], D, limit_min=15)
    np.testing.assert_allclose(a.point, [0.0, 1.2, 1.2])


def test_gravity_uses_the_minimum_time_at_zero():
    T, S, D = _two_facility()
    a = acc.compute(T, S, D, "gravity", limit_min=15, decay=2.0, min_time_min=1.0)
    assert a.weights[0, 0] == 1.0 and a.weights[0, 1] == pytest.approx(8.0 ** -2)


def test_service_pressure_and_contributions():
    T, S, D = _two_facility()
    a = acc.compute(T, S, D, "2sfca", limit_min=15)
    fac, contrib = acc.service_pressure(a, ["F1", "F2"], floor_area_m2=S, beds=[4.0, np.nan],
                                        groups=np.array(["c1", "c1", "c2"]))
    assert fac["demand_in_reach"].tolist() == [30.0, 50.0]
    assert fac["demand_per_m2"].tolist() == [0.3, 50 / 60]
    assert fac["demand_per_bed"].iloc[0] == 7.5 and np.isnan(fac["demand_per_bed"].iloc[1])
    f2 = contrib[contrib["facility_id"] == "F2"].set_index("group")
    assert f2.loc["c2", "demand"] == 30.0 and f2.loc["c1", "demand"] == 20.0
    assert f2["share"].sum() == pytest.approx(1.0)
    assert contrib[contrib["facility_id"] == "F1"]["group"].tolist() == ["c1"]


def test_group_table_is_demand_weighted():
    T, S, D = _two_facility()
    a = acc.compute(T, S, D, "2sfca", limit_min=15)
    t = acc.group_table(a, np.array(["c1", "c1", "c2"]), ids=["c2", "c1", "c3"])
    assert t["community_id"].tolist() == ["c2", "c1", "c3"]
    # c1: (10 * 100/30 + 20 * (100/30 + 1.2)) / 30
    assert t["accessibility"].iloc[1] == pytest.approx((10 * 100 / 30 + 20 * (100 / 30 + 1.2)) / 30)
    assert t["accessibility"].iloc[0] == pytest.approx(1.2)
    assert np.isnan(t["accessibility"].iloc[2]) and t["relative"].iloc[0] == pytest.approx(1.2 / (160 / 60))


# ----------------------------------------------------------------------------------------------
# Equity


def test_gini_and_lorenz_known_values():
    assert acc.gini([3, 3, 3]) == pytest.approx(0.0)
    # one of n holds everything: G = 1 - 1/n
    assert acc.gini([0, 0, 0, 10]) == pytest.approx(0.75)
    # 1, 2, 3, 4 unweighted: G = 0.25
    assert acc.gini([1, 2, 3, 4]) == pytest.approx(0.25)
    # weights act as repetitions
    assert acc.gini([1, 2], [3, 1]) == pytest.approx(acc.gini([1, 1, 1, 2]))
    x, y = acc.lorenz([4, 1], [1, 1])
    np.testing.assert_allclose(x, [0, 0.5, 1])
    np.testing.assert_allclose(y, [0, 0.2, 1])
    assert np.isnan(acc.gini([0, 0])) and np.isnan(acc.gini([np.nan]))


def test_share_below_threshold_and_summary():
    assert acc.share_below([0, 1, 2, 5], [10, 20, 30, 40], 2) == pytest.approx(0.3)
    T, S, D = _three_by_five()
    a = acc.compute(T, S, D, "2sfca", limit_min=15)
    comm = acc.group_table(a, np.array(["a", "a", "b", "c", "c"]))
    dist = acc.group_table(a, np.array(["d1", "d1", "d1", "d2", "d2"]), name="district")
    s = acc.equity_summary(a, comm, dist, threshold=3.0, worst=2)
    assert s["share_below_threshold"] == pytest.approx(D[a.point < 3.0].sum() / D.sum())
    assert s["worst_communities"] == comm.sort_values("accessibility")["community_id"].head(2).tolist()
    assert 0 <= s["gini_communities"] < 1 and s["mean"] == pytest.approx(S.sum() / D.sum())


# ----------------------------------------------------------------------------------------------
# PySAL access (test-only dependency)


@pytest.mark.parametrize("measure", ["2sfca", "e2sfca", "g2sfca", "kd2sfca", "3sfca", "gravity"])
def test_matches_pysal_access(measure):
    fca = pytest.importorskip("access.fca", reason="PySAL access is not installed (pip install access): "
                                                   "cross-check skipped; the dense check above still runs")
    T, mat, S, D = random_instance(7, n_f=15, n_p=60)
    D = D + 1.0
    coo = mat.tocoo()
    cost = pd.DataFrame({"origin": coo.col, "dest": coo.row, "cost": coo.data})
    demand = pd.DataFrame({"geoid": np.arange(len(D)), "demand": D})
    supply = pd.DataFrame({"supply": S}, index=pd.Index(np.arange(len(S)), name="geoid"))
    kw = dict(limit=15.0, decay=1.5)
    fn = None if measure == "2sfca" else (lambda t: _f(measure, t, **kw))  # noqa: E731
    stage = fca.three_stage_fca if measure == "3sfca" else fca.two_stage_fca
    theirs = stage(demand, supply, cost, max_cost=15.0, weight_fn=fn)
    theirs = theirs.reindex(np.arange(len(D))).fillna(0.0).to_numpy()
    ours = acc.compute(mat, S, D, measure, limit_min=15.0, decay=1.5, **E2).point
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# ----------------------------------------------------------------------------------------------
# The pipeline on the sample


def _configure(folder, section: str) -> None:
    config = folder / "sample.toml"
    text = config.read_text(encoding="utf-8").replace("[output]", section + "\n\n[output]\npng = false", 1)
    config.write_text(text, encoding="utf-8")


def test_sample_run_writes_accessibility_columns_map_and_report(sample_copy):
    from eldercare_coverage import pipeline

    _configure(sample_copy, '[accessibility]\nmeasure = "e2sfca"\nsupply = "floor_area"\ndemand = "elderly"\n'
                            'objective = "gini"')
    result = pipeline.run(sample_copy / "sample.toml")
    tables = result.stages["accessibility"]
    comm = pd.read_csv(sample_copy / "reports" / "community_gaps.csv", dtype={"community_id": str})
    dist = pd.read_csv(sample_copy / "reports" / "district_gaps.csv")
    for df in (comm, dist):
        assert {"accessibility", "accessibility_relative", "share_demand_no_supply"} <= set(df.columns)
    # community figures are demand-weighted means: Σ elderly × A = supply of facilities that serve someone
    facilities = pd.read_csv(sample_copy / "reports" / "service_pressure.csv", dtype={"facility_id": str})
    served = facilities.loc[facilities["catchment_demand"] > 0, "supply"].sum()
    demand = tables.communities.set_index("community_id")["demand"]
    total = (comm.set_index("community_id")["accessibility"].fillna(0) * demand).sum()
    assert total == pytest.approx(served, rel=1e-9) and served > 0
    assert (comm["accessibility"] >= 0).all() and (comm["accessibility"] == 0).any()
    study_row = dist[dist["district"] == "(all)"]
    assert study_row["accessibility"].iloc[0] == pytest.approx(tables.summary["mean"])
    # service pressure: elderly within reach per m² and per bed, from the facilities' own areas
    f = facilities.set_index("facility_id")
    np.testing.assert_allclose(f["demand_per_m2"], f["demand_in_reach"] / f["floor_area_m2"])
    contrib = pd.read_csv(sample_copy / "reports" / "service_pressure_communities.csv")
    shares = contrib.groupby("facility_id")["share"].sum()
    np.testing.assert_allclose(shares, 1.0, rtol=1e-9)
    summary = json.loads((sample_copy / "out" / "accessibility.json").read_text(encoding="utf-8"))
    assert summary["measure"] == "e2sfca" and summary["params"]["band_weights"] == [1.0, 0.68, 0.22]
    assert 0 < summary["gini_communities"] < 1
    page = (sample_copy / "maps" / "chengdu-north-sample.html").read_text(encoding="utf-8")
    assert '"accessibility"' in page and '"radiusField"' in page and '"pressure"' in page
    report = (sample_copy / "reports" / "report.html").read_text(encoding="utf-8")
    # communities, districts, communities after the new sites
    assert report.count('class="lorenz"') == 3 and report.count('class="bar"') == len(f.dropna(subset=["pressure"]))
    # before/after: the siting model's sites and the greedy ones, with the same threshold
    for name in ("proposed", "greedy"):
        after = summary[f"after_{name}"]
        assert after["threshold"] == summary["threshold"] and len(after["candidate_ids"]) == 5
        assert after["gini_communities"] < summary["gini_communities"]
        assert f"accessibility_after_{name}" in comm.columns
    assert summary["after_greedy"]["method"].startswith("greedy (heuristic")
    assert set(summary["after_proposed"]["candidate_ids"]) == set(
        pd.read_csv(sample_copy / "out" / "proposed_sites.csv", encoding="utf-8-sig")["candidate_id"].astype(str))
    steps = pd.read_csv(sample_copy / "reports" / "accessibility_sites.csv")
    assert steps["candidate_id"].tolist() == summary["after_greedy"]["candidate_ids"]
    assert steps["gini"].iloc[-1] == pytest.approx(summary["after_greedy"]["gini_communities"])
    assert "启发式" in report


def test_accessibility_off_and_config_errors(sample_copy):
    from eldercare_coverage import pipeline
    from eldercare_coverage.config import load_config
    from eldercare_coverage.errors import InputError

    _configure(sample_copy, '[accessibility]\nmeasure = "4sfca"\nsupply = "rooms"\nbands_min = [10, 5]')
    with pytest.raises(InputError) as err:
        load_config(sample_copy / "sample.toml")
    text = err.value.report.format("en")  # str(): the zh sample's language
    assert "accessibility.measure '4sfca'" in text and "accessibility.supply 'rooms'" in text
    assert "accessibility.bands_min" in text
    path = sample_copy / "sample.toml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        'measure = "4sfca"\nsupply = "rooms"\nbands_min = [10, 5]', 'measure = ""'), encoding="utf-8")
    cfg = load_config(sample_copy / "sample.toml")
    cfg.siting.model = ""
    result = pipeline.run(cfg)
    assert "accessibility" not in result.stages
    assert "accessibility" not in pd.read_csv(sample_copy / "reports" / "community_gaps.csv").columns
    assert not (sample_copy / "reports" / "service_pressure.csv").exists()


# ----------------------------------------------------------------------------------------------
# Siting for accessibility


def _siting_instance(seed: int):
    T, mat, S, D = random_instance(seed, n_f=6, n_p=50)
    _, cand, CS, _ = random_instance(seed + 100, n_f=8, n_p=50)
    groups = np.repeat(np.arange(10), 5)
    return mat, cand, S, CS, D + 1.0, groups


@pytest.mark.parametrize("measure", ["2sfca", "e2sfca", "3sfca"])
@pytest.mark.parametrize("objective", list(acc.OBJECTIVES))
def test_greedy_sites_each_step_is_the_best_single_addition(measure, objective):
    mat, cand, S, CS, D, groups = _siting_instance(5)
    res = acc.greedy_sites(mat, cand, S, CS, D, groups, p=3, objective=objective, measure=measure,
                           limit_min=15.0, **E2)
    assert len(res.selected) == 3 and len(set(res.selected)) == 3 and res.exact is False
    # after = the measure recomputed with the picked sites added
    full = acc.compute(sp.vstack([mat, cand[res.selected]]), np.concatenate([S, CS[res.selected]]), D, measure,
                       limit_min=15.0, **E2)
    np.testing.assert_allclose(res.after, full.point, rtol=1e-10)
    # brute force each step: no other single candidate scores better given the earlier picks
    thr = res.params["threshold"]
    member_ids = np.unique(groups)

    def score(chosen):
        a = acc.compute(sp.vstack([mat, cand[chosen]]), np.concatenate([S, CS[chosen]]), D, measure,
                        limit_min=15.0, **E2)
        t = acc.group_table(a, groups)
        t = t.set_index("community_id").loc[member_ids]
        return acc._objective(t["accessibility"].to_numpy()[None, :], t["demand"].to_numpy(), objective, thr)[0]

    for k in range(3):
        before = list(res.selected[:k])
        best = min(score(before + [c]) for c in range(cand.shape[0]) if c not in before)
        assert score(list(res.selected[:k + 1])) == pytest.approx(best, rel=1e-9, abs=1e-12)
        assert res.steps["objective"].iloc[k] == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_greedy_sites_gini_improves_equity():
    mat, cand, S, CS, D, groups = _siting_instance(6)
    res = acc.greedy_sites(mat, cand, S, CS, D, groups, p=2, objective="gini", limit_min=15.0)
    g_before = acc.gini(acc.group_table(acc.compute(mat, S, D, limit_min=15.0), groups)["accessibility"],
                        acc.group_table(acc.compute(mat, S, D, limit_min=15.0), groups)["demand"])
    assert res.steps["gini"].iloc[-1] < g_before
    with pytest.raises(ValueError, match="unknown objective"):
        acc.greedy_sites(mat, cand, S, CS, D, groups, p=1, objective="max", limit_min=15.0)


def test_accessibility_csvs_neutralise_spreadsheet_formulas():
    from eldercare_coverage._safe_cells import safe_text_frame as spreadsheet_safe

    df = pd.DataFrame({"facility_id": ["=HYPERLINK(\"x\")", "+1", "-2", "@a", "\tb", "F01", "养老站"],
                       "demand": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    out = spreadsheet_safe(df)
    assert out["facility_id"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@a", "'\tb", "F01", "养老站"]
    assert out["demand"].tolist() == df["demand"].tolist() and df["facility_id"].iloc[0].startswith("=")
