"""Scenario sweeps: many variants of one study over the same tiles, in one comparison table.

Each scenario overrides any of ``walk_speed`` (preset or m/s), ``time_limit_min``, ``profile``
(norm profile name), ``p`` and ``budget`` (siting). The tiles are cut once, with the halo the
widest scenario needs, and each tile's input (its network, layers) is built and sent to the
cluster once; every (scenario, tile) pair is one task on it. Walk access per scenario is then
stitched as in :func:`eldercare_coverage.compute.compute_tiled_access`, and norms and siting run
on it with the scenario's settings.

What the table compares is exact: coverage within the limit needs walks no longer than the
limit, which every tile holds. Nearest-facility times beyond the halo (the median time of a
community most of whose homes reach nothing) are not re-run with wider halos here, unlike a
single tiled run, so they may be longer than a single run's; the table does not show them.
"""

from __future__ import annotations

import dataclasses
import json
import logging

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: The overrides a scenario may give.
SCENARIO_KEYS = ("name", "walk_speed", "time_limit_min", "profile", "p", "budget")


def scenario_study(study, scenario: dict):
    """``study`` with the scenario's settings (the study itself is not modified). Without an
    explicit ``time_limit_min``, the scenario's profile may set the walk limit, as in ``run``."""
    from .pipeline import apply_profile_walk_limit

    unknown = set(scenario) - set(SCENARIO_KEYS)
    if unknown:
        raise ValueError(f"unknown scenario keys {sorted(unknown)}; use {', '.join(SCENARIO_KEYS)}")
    cfg = study.config
    access = dataclasses.replace(cfg.access, **{k: scenario[k] for k in ("walk_speed", "time_limit_min")
                                                if k in scenario})
    norms = dataclasses.replace(cfg.norms, profile=scenario.get("profile", cfg.norms.profile))
    siting = dataclasses.replace(cfg.siting, **{k: scenario[k] for k in ("p", "budget") if k in scenario})
    out = dataclasses.replace(study, config=dataclasses.replace(cfg, access=access, norms=norms, siting=siting))
    return out if "time_limit_min" in scenario else apply_profile_walk_limit(out)


def sweep(study, net, scenarios: list[dict], *, tiling: str = "district", tile_size_m: float = 5000.0,
          halo_margin_m: float = 250.0, scheduler: str = "local", workers: int = 2, client=None,
          dem=None) -> pd.DataFrame:
    """One row per scenario: its settings, walk coverage, norm results and new sites (tidy).
    ``dem``: the study's elevation model (:func:`eldercare_coverage.pipeline.study_dem`), if any."""
    from .compute import _access_params, _client, _needs_pyarrow, run_tile, stitch, tile_network, tile_payload
    from .pipeline import study_tile_inputs
    from .tiling import halo_distance_m, make_tiles, tile_extent
    from .walkcost import least_cost_factor

    _needs_pyarrow(tiling)
    variants = [scenario_study(study, s) for s in scenarios]
    inputs, kinds = study_tile_inputs(study)
    net, inputs = tile_network(net, inputs, study.config.access.avoid_steps)
    snap, factor = study.config.access.snap_max_m, least_cost_factor(dem)
    halo = max(halo_distance_m(v.config.access.time_limit_min, v.config.walk_speed_mps, snap, halo_margin_m, factor)
               for v in variants)
    tiles = make_tiles(inputs.communities, inputs.facilities, inputs.candidates, by=tiling, tile_size_m=tile_size_m)
    trees: dict = {}
    payloads = [tile_payload(t, tile_extent(t, inputs.communities, inputs.facilities, inputs.candidates, net, halo,
                                            snap, gates=inputs.gates, buildings=inputs.buildings,
                                            gate_tolerance_m=study.config.access.gate_tolerance_m, trees=trees),
                             inputs, net, _access_params(study.config.access), kinds, dem, factor) for t in tiles]
    overrides = [json.dumps({k: getattr(v.config.access, k) for k in ("walk_speed", "time_limit_min")})
                 for v in variants]
    with _client(scheduler, workers, client) as cl:
        if cl is None:
            parts = [[run_tile(p, o) for p in payloads] for o in overrides]
        else:
            sent = cl.scatter(payloads)  # each tile's network travels to the cluster once
            futures = [[cl.submit(run_tile, p, o, pure=False) for p in sent] for o in overrides]
            parts = [cl.gather(f) for f in futures]
    rows = []
    for scenario, variant, results in zip(scenarios, variants, parts):
        access = stitch(variant, net, inputs, [(0, r) for r in results], kinds, dem=dem)
        rows.append(_row(scenario, variant, access, len(tiles)))
    return pd.DataFrame(rows)


def _row(scenario: dict, study, access, n_tiles: int) -> dict:
    """The comparison figures of one scenario."""
    from .pipeline import check_norms, site_facilities

    cfg = study.config
    d = access.demand
    within = d["within_limit"].to_numpy(bool)
    row = {"scenario": scenario.get("name", ""), "walk_speed_mps": cfg.walk_speed_mps,
           "time_limit_min": float(cfg.access.time_limit_min), "profile": cfg.norms.profile,
           "p": cfg.siting.p, "budget_cny": cfg.siting.budget, "tiles": n_tiles, "demand_points": len(d)}
    for col, name in (("population", "residents"), ("elderly_population", "elderly")):
        w = d[col].to_numpy(float)
        row[f"share_{name}_within"] = float(np.nansum(w[within]) / np.nansum(w)) if np.nansum(w) else np.nan
    norms = check_norms(study, access, cfg.norms.profile)
    table = norms.communities
    row["communities"] = len(table)
    row["communities_tier_met"] = int(table["tier_met"].fillna(False).astype(bool).sum()) if "tier_met" in table else None
    row["area_gap_m2"] = float(table["area_gap_m2"].clip(lower=0).sum()) if "area_gap_m2" in table else None
    if cfg.siting.model:
        res = site_facilities(study, access, norms.profile)
        row.update(siting_model=res.model, new_sites=len(res.selected_ids),
                   covered_share_after=float(res.covered_share) if res.covered_share is not None else np.nan)
    return row
