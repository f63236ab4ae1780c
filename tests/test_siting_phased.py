"""Phased (nested) plans against brute force over chains of sites on small random instances.

Brute force enumerates every ordered choice of sites (a chain S_1 ⊂ … ⊂ S_K is an ordered
prefix sequence) and every subset per p; it never calls the MILP code.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from test_siting_models import LIMIT, covered_by, random_instance

from eldercare_coverage.siting import SitingProblem, phased, phased_chart


def mclp_value(tc, te, w, s):
    return float(w[covered_by(te, range(len(te))) | covered_by(tc, s)].sum())


def median_value(tc, te, w, s):
    return float((w * np.vstack([te, tc[list(s)]]).min(axis=0)).sum())


def brute(tc, te, w, phases, value, maximise):
    """(best nested weighted sum with equal weights, best value per p)."""
    pick = max if maximise else min
    per_p = [pick(value(tc, te, w, s) for s in itertools.combinations(range(len(tc)), p)) for p in phases]
    best = pick(sum(value(tc, te, w, order[:p]) for p in phases)
                for order in itertools.permutations(range(len(tc)), phases[-1]))
    return best, per_p


def problem(seed, model):
    tc, te, w, _ = random_instance(seed, n_cand=7, n_exist=1, n_dem=30)
    if model == "mclp":
        return SitingProblem.from_matrices(np.where(tc <= LIMIT, tc, np.inf), w,
                                           existing_times=np.where(te <= LIMIT, te, np.inf), limit_min=LIMIT), tc, te, w
    return SitingProblem.from_matrices(tc, w, existing_times=te), tc, te, w


@pytest.mark.parametrize("model", ["mclp", "pmedian"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_nested_plan_and_per_p_optima_match_brute_force(model, seed):
    prob, tc, te, w = problem(seed, model)
    maximise = model == "mclp"
    value = mclp_value if maximise else median_value
    best, per_p = brute(tc, te, w, [1, 2, 3, 4], value, maximise)
    df = phased(prob, model, 4, method="exact", time_limit_s=20)
    assert list(df["p"]) == [1, 2, 3, 4]
    assert df.attrs["nested_status"] == "optimal"
    assert df.attrs["nested_objective"] == pytest.approx(best)
    assert df["objective"].sum() == pytest.approx(best)
    assert np.allclose(df["optimum"], per_p) and (df["optimum_status"] == "optimal").all()
    assert (df["loss"] >= 0).all() and (df["loss_status"] == "exact").all()
    assert np.allclose(df["loss"], np.abs(np.array(per_p) - df["objective"]))
    # Each phase's sites, as listed, give its objective, and the plans nest.
    ids = [i for i in "; ".join(df["site_ids"]).split("; ") if i]
    assert len(ids) == len(set(ids)) == df["new_sites"].sum()
    for k, row in df.iterrows():
        so_far = [int(i[1:]) for i in "; ".join(df["site_ids"][:k + 1]).split("; ") if i]  # ids "c<index>"
        assert value(tc, te, w, so_far) == pytest.approx(row["objective"])


@pytest.mark.parametrize("model", ["mclp", "pmedian"])
@pytest.mark.parametrize("seed", [3, 4])
def test_heuristic_chain_is_bounded_and_loses_nothing_at_p1(model, seed):
    prob, tc, te, w = problem(seed, model)
    maximise = model == "mclp"
    value = mclp_value if maximise else median_value
    best, per_p = brute(tc, te, w, [1, 2, 4], value, maximise)
    df = phased(prob, model, phases=[1, 2, 4], method="heuristic", time_limit_s=5)
    assert (df["loss"] >= 0).all() and (df["loss_max"] >= df["loss"] - 1e-9).all()
    assert df.attrs["nested_method"].startswith("greedy")
    if df.attrs["nested_method"] == "greedy forward":
        # Greedy's first pick is exhaustive: phase 1 is the 1-site optimum, no loss.
        assert df["loss"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    first = phased(prob, model, phases=[1, 2, 4], weights=[1, 0, 0], method="heuristic", time_limit_s=5)
    assert first["loss"].iloc[0] == pytest.approx(0.0, abs=1e-9)  # nothing beats greedy's phase 1 there
    assert first["objective"].iloc[0] == pytest.approx(per_p[0])
    got = df.attrs["nested_objective"]
    # The chain is a feasible nested plan: never better than the best one; the bound holds.
    if maximise:
        assert got <= best + 1e-9 and df.attrs["nested_bound"] >= best - 1e-9
        assert (df["optimum_bound"] >= np.array(per_p) - 1e-9).all()
    else:
        assert got >= best - 1e-9 and df.attrs["nested_bound"] <= best + 1e-9
        assert (df["optimum_bound"] <= np.array(per_p) + 1e-9).all()
    lost = (np.array(per_p) - df["objective"]) * (1 if maximise else -1)
    assert (lost <= df["loss_max"] + 1e-9).all() and (lost >= -1e-9).all()


def test_phase_weights_change_the_nested_choice_towards_the_heavy_phase():
    # Two clusters: one site covers the big cluster, two sites are needed for the rest. With all
    # weight on phase 2, the nested plan must reach phase 2's optimum; all on phase 1, phase 1's.
    prob, tc, te, w = problem(5, "mclp")
    _, per_p = brute(tc, te, w, [1, 3], mclp_value, True)
    late = phased(prob, "mclp", phases=[1, 3], weights=[0.0, 1.0], method="exact")
    early = phased(prob, "mclp", phases=[1, 3], weights=[1.0, 0.0], method="exact")
    assert late["objective"].iloc[1] == pytest.approx(per_p[1])
    assert early["objective"].iloc[0] == pytest.approx(per_p[0])


def test_bad_phases_are_clear_errors():
    prob, *_ = problem(0, "mclp")
    for bad in ([3, 2], [0, 1], []):
        with pytest.raises(ValueError, match="phases"):
            phased(prob, "mclp", phases=bad)
    with pytest.raises(ValueError, match="phased plans support"):
        phased(prob, "lscp", 3)
    with pytest.raises(ValueError, match="weights"):
        phased(prob, "mclp", phases=[1, 2], weights=[1.0])


@pytest.mark.parametrize("language", ["zh", "en"])
def test_chart_is_svg_in_the_study_language(language):  # escaping: test_report_phase_section_escapes_site_ids_and_speaks_the_language
    prob, tc, te, w = problem(1, "pmedian")
    df = phased(prob, "pmedian", 3, method="heuristic", time_limit_s=5)
    svg = phased_chart(df, language, total_weight=float(w.sum()))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert ("分期" in svg) == (language == "zh") and ("Phased" in svg) == (language == "en")
    assert svg.count("<polyline") >= 2 and "<script" not in svg


def test_sample_run_writes_the_phased_table_and_chart(sample_copy):
    import pandas as pd

    from eldercare_coverage import pipeline

    cfg = sample_copy / "sample.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("p = 5\n", "p = 5\nphases = [1, 3, 5]\n"),
                   encoding="utf-8")
    result = pipeline.run(cfg)
    table = pd.read_csv(sample_copy / "reports" / "siting_phases.csv", encoding="utf-8-sig")
    assert list(table["p"]) == [1, 3, 5] and (table["loss"] >= 0).all()
    assert table["objective"].tolist() == pytest.approx(result.stages["siting_phases"]["objective"].tolist())
    svg = (sample_copy / "reports" / "siting_phases.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and "分期" in svg
    # The last phase's plan is never better than the best 5-site plan the run itself proposed.
    assert table["objective"].iloc[-1] <= result.stages["siting"].objective + 1e-6
    # The HTML report embeds the chart and a compact table in its siting section, after its tables.
    html = (sample_copy / "reports" / "report.html").read_text(encoding="utf-8")
    section = html[html.index('<h2 id="siting_phases">'):html.index('<h2 id="parameters">')]
    assert html.index('<h2 id="siting_district">') < html.index('<h2 id="siting_phases">')
    assert "分期建设方案" in section and '<figure class="chart"><svg' in section and "<polyline" in section
    rows = section[section.index("<tbody>"):].count("<tr>")
    assert rows == 3
    first_sites = [s.strip() for s in str(table["site_ids"].iloc[0]).split(";")]
    assert all(s in section for s in first_sites)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_report_phase_section_escapes_site_ids_and_speaks_the_language(language):
    import pandas as pd

    from eldercare_coverage.report import _phases_section

    df = pd.DataFrame({"phase": [1, 2], "p": [1, 2], "new_sites": [1, 1],
                       "site_ids": ['<script>alert(1)</script>', 'a&b; "q"'], "objective": [10.0, 15.0],
                       "optimum": [10.0, 16.0], "optimum_bound": [10.0, 17.0],
                       "optimum_status": ["optimal", "time_limit"], "loss": [0.0, 1.0],
                       "loss_share": [0.0, 1 / 16], "loss_max": [0.0, 2.0], "loss_status": ["exact", "bounded"]})
    html = _phases_section(df, "<svg></svg>", language)
    assert "<script>" not in html and "&lt;script&gt;" in html and "a&amp;b" in html and "&quot;q&quot;" in html
    assert ("分期建设方案" in html) == (language == "zh") and ("Phased plan" in html) == (language == "en")
    assert ("至多 2" in html) == (language == "zh") and ("at most 2" in html) == (language == "en")
    assert "6.25%" in html and html.count("<tr>") == 3


def test_config_rejects_phases_it_cannot_honour(sample_copy):
    from eldercare_coverage.config import load_config
    from eldercare_coverage.errors import InputError

    cfg = sample_copy / "sample.toml"
    base = cfg.read_text(encoding="utf-8")
    for bad, word in (("phases = [3, 2]", "increasing"), ("phases = [1, 2]\ncapacitated = true", "capacities"),
                      ("phases = [1, 2]\nbudget = 3000000", "budget")):
        cfg.write_text(base.replace("p = 5\n", f"p = 5\n{bad}\n"), encoding="utf-8")
        with pytest.raises(InputError) as info:
            load_config(cfg)
        text = info.value.report.format("en")
        assert "siting.phases" in text and word in text
        assert "siting.phases" in info.value.report.format("zh")


def test_extending_a_plan_that_holds_a_useless_option_still_fills_every_phase():
    """An option that covers nobody has no row in the cover data: extending a plan holding it
    must neither read another option's row (-1 = the last one) nor block that option's site."""
    from eldercare_coverage.siting.phased import _Evaluator

    inf = np.inf
    times = np.array([[1.0, inf, inf, inf],   # option 0 covers point 0
                      [inf, 1.0, inf, inf],   # option 1 covers point 1
                      [inf, inf, 1.0, inf],   # option 2 covers point 2
                      [inf, inf, inf, inf]])  # option 3 covers nobody
    prob = SitingProblem.from_matrices(times, np.array([3.0, 2.0, 1.0, 5.0]), limit_min=LIMIT)
    ev = _Evaluator(prob, "mclp")
    plan = ev.extend(np.array([3]), 4)
    assert plan[0] == 3 and sorted(plan[1:].tolist()) == [0, 1, 2]
    assert ev.value(plan) == 6.0
