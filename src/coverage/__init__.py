"""eldercare-coverage: plan the 15-minute home and community eldercare circle (一刻钟居家养老服务圈).

The import name is ``eldercare_coverage`` (the distribution and command are
``eldercare-coverage``; the source folder is ``src/coverage/``).

The public API, in the order data flows::

    import eldercare_coverage as ec
    study = ec.load_study(ec.load_config("study.toml"))        # or ec.validate(...) / ec.run(...)
    net = ec.build_network(study)                                # walk network (CSR arrays)
    access = ec.compute_study_access(study, net)                 # demand, times, matrices, isochrones
    norms = ec.check_norms(study, access)                        # per community / district / street
    siting = ec.solve(ec.SitingProblem.from_matrices(...), "mclp", p=10)
    m = ec.make_map(study.communities, study.facilities, ...)    # shows inline in Jupyter

Names are imported lazily, so ``import eldercare_coverage`` and the command line start fast.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # configuration and inputs
    "StudyConfig": "config", "load_config": "config", "config_from_dict": "config",
    "resolve_walk_speed": "config", "WALK_SPEEDS": "config",
    "InputError": "errors", "Problem": "errors", "ProblemReport": "errors",
    "Study": "io", "load_study": "io",
    "gcj02_to_wgs84": "crs", "bd09_to_wgs84": "crs", "wgs84_to_gcj02": "crs", "wgs84_to_bd09": "crs",
    "pick_metric_crs": "crs", "choose_metric_crs": "crs",
    # pipeline and its stages
    "run": "pipeline", "validate": "pipeline", "sample_config_path": "pipeline",
    "build_network": "pipeline", "compute_study_access": "pipeline", "check_norms": "pipeline",
    "site_facilities": "pipeline", "parameters_of": "pipeline", "siting_problem": "pipeline",
    "proposed_sites": "pipeline", "study_gates": "pipeline", "study_residents_ways": "pipeline",
    "NormResult": "pipeline", "RunResult": "pipeline",
    "check_street_alignment": "pipeline", "check_siting_inputs": "pipeline",
    "compute_study_accessibility": "pipeline", "accessibility_siting": "pipeline",
    # network and access
    "WalkNetwork": "network", "load_walk_network": "network", "network_from_graph": "network",
    "demand_points": "demand",
    "snap_points": "access", "nearest_facility": "access", "coverage_matrix": "access",
    "compute_access": "access", "AccessResult": "access",
    "isochrones": "isochrones", "union_by_kind": "isochrones",
    # norms and reports
    "list_profiles": "norms", "load_profile": "norms", "check_communities": "norms", "rollup": "norms",
    "write_reports": "report",
    # siting
    "SitingProblem": "siting", "SitingResult": "siting", "Tier": "siting", "solve": "siting",
    "run_siting": "siting", "coverage_by_group": "siting", "phased": "siting", "phased_chart": "siting",
    # maps
    "make_map": "maps", "write_map": "maps", "write_png": "maps", "site_reach": "maps",
    # the run summary and notebook display helpers
    "run_summary": "summary",
    "use_cjk_font": "display", "label": "display", "side_by_side": "display", "problems_table": "display",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'eldercare_coverage' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
