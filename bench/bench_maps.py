"""Map size and speed: the embedded sample and a synthetic city-scale study.

Run: ``.venv/bin/python bench/bench_maps.py [--browser] [--sample-only | --city-only]``

Reports build time (make_map), write time, HTML size and, with ``--browser`` (needs
``scripts/setup_browser.sh``), the time headless Chromium takes until every layer is built
(``COVERAGE.ready``). Results are printed and saved to ``bench/results/maps.json``.

Targets (2-core machine): the sample map under 1 MB; the city map (3,000 communities,
100,000 demand points of which 15,000 beyond the limit, 600 facilities with 3 isochrone
bands, 2,000 candidates) under 25 MB, built in under 30 s and ready in the browser in
under 10 s.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

ROOT = Path(__file__).resolve().parents[1]

from eldercare_coverage import maps  # noqa: E402  (installed: bash scripts/setup.sh)

PARAMS = {"walk_speed_mps": 0.9, "time_limit_min": 15, "norm_profile": "national"}


def sample_layers() -> dict:
    """The embedded sample through load → network → access → norms (stages of other modules)."""
    from eldercare_coverage.access import compute_access
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study
    from eldercare_coverage.network import load_walk_network
    from eldercare_coverage.norms import check_communities, load_profile

    cfg = load_config(ROOT / "data" / "sample.toml")
    study = load_study(cfg)
    area = study.communities.geometry.union_all()
    net = load_walk_network(Path(cfg.source).parent / cfg.inputs.network.path, study.metric_crs, area)
    acc = compute_access(study.communities, study.facilities, study.candidates, net, cfg.access)
    norms = check_communities(study.communities, study.facilities, load_profile(cfg.norms.profile),
                              acc.communities)
    stats = acc.communities.merge(norms.drop(columns=[c for c in norms.columns
                                                      if c in acc.communities.columns and c != "community_id"]),
                                  on="community_id", how="left")
    reach = maps.site_reach(acc.facility_matrix, acc.facility_ids, acc.demand)
    facilities = study.facilities.join(reach, on="facility_id")
    return dict(communities=study.communities, facilities=facilities, demand=acc.demand,
                isochrones=acc.isochrones, candidates=study.candidates, community_stats=stats)


def city_layers(n_side: int = 55, n_demand: int = 100_000, n_fac: int = 600, n_cand: int = 2_000,
                seed: int = 0) -> dict:
    """A synthetic city around Chengdu in EPSG:32648: irregular community polygons (~40
    vertices each), street-like isochrones (~600 vertices each) and random points."""
    rng = np.random.default_rng(seed)
    x0, y0 = Transformer.from_crs(4326, 32648, always_xy=True).transform(104.0, 30.6)
    cell = 350.0
    ix, iy = np.meshgrid(np.arange(n_side), np.arange(n_side))
    cx = (x0 + ix.ravel() * cell).astype(float)
    cy = (y0 + iy.ravel() * cell).astype(float)
    n = cx.size
    # Wobbly 40-gon per community: vertices on a jittered circle inside its cell.
    ang = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    r = cell * 0.48 * (1 + 0.05 * rng.standard_normal((n, ang.size)))
    rings = np.stack([cx[:, None] + r * np.cos(ang), cy[:, None] + r * np.sin(ang)], axis=-1)
    communities = gpd.GeoDataFrame({
        "community_id": [f"C{i:05d}" for i in range(n)],
        "name": [f"社区{i}" for i in range(n)],
        "district": np.array(["金牛区", "成华区", "武侯区", "青羊区"])[(ix.ravel() * 2 // n_side) * 2
                                                              + (iy.ravel() * 2 // n_side)],
        "street": [f"街道{(i // n_side) // 5}-{(i % n_side) // 5}" for i in range(n)],
        "population": rng.integers(1000, 15000, n).astype(float),
        "elderly_population": rng.integers(200, 3000, n).astype(float),
    }, geometry=shapely.polygons(rings), crs=32648)
    stats = pd.DataFrame({"community_id": communities["community_id"],
                          "share_elderly_within": rng.uniform(0, 1, n),
                          "gap_m2": rng.normal(100, 300, n)})
    span = n_side * cell
    xy = rng.uniform([x0, y0], [x0 + span, y0 + span], (n_demand, 2))
    tmin = rng.gamma(4, 2.5, n_demand)
    demand = gpd.GeoDataFrame({"time_min": tmin, "within_limit": tmin <= 15,
                               "population": rng.uniform(5, 60, n_demand),
                               "community_id": communities["community_id"].to_numpy()[
                                   rng.integers(0, n, n_demand)]},
                              geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=32648)
    fxy = rng.uniform([x0, y0], [x0 + span, y0 + span], (n_fac, 2))
    kinds = np.array(list(maps.KIND_SYMBOLS))[rng.integers(0, 6, n_fac)]
    facilities = gpd.GeoDataFrame({"facility_id": [f"F{i}" for i in range(n_fac)],
                                   "name": [f"设施{i}" for i in range(n_fac)], "kind": kinds,
                                   "floor_area_m2": rng.uniform(100, 1500, n_fac),
                                   "beds": rng.integers(0, 40, n_fac).astype(float)},
                                  geometry=gpd.points_from_xy(fxy[:, 0], fxy[:, 1]), crs=32648)
    # Street-following isochrones are ragged: a 600-vertex star per band.
    a = np.linspace(0, 2 * np.pi, 600, endpoint=False)
    rows = []
    for band, radius in ((5.0, 270.0), (10.0, 540.0), (15.0, 810.0)):
        rr = radius * (0.55 + 0.45 * np.abs(np.sin(a[None, :] * 8 + rng.uniform(0, 6, (n_fac, 1)))))
        ring = np.stack([fxy[:, :1] + rr * np.cos(a), fxy[:, 1:] + rr * np.sin(a)], axis=-1)
        rows.append(gpd.GeoDataFrame({"site_id": facilities["facility_id"], "kind": kinds,
                                      "limit_min": band}, geometry=shapely.polygons(ring), crs=32648))
    isochrones = pd.concat(rows, ignore_index=True)
    cxy = rng.uniform([x0, y0], [x0 + span, y0 + span], (n_cand, 2))
    candidates = gpd.GeoDataFrame({"candidate_id": [f"K{i}" for i in range(n_cand)],
                                   "name": [f"候选{i}" for i in range(n_cand)], "kind": ""},
                                  geometry=gpd.points_from_xy(cxy[:, 0], cxy[:, 1]), crs=32648)
    proposed = candidates.iloc[:25][["candidate_id", "kind", "geometry"]]
    return dict(communities=communities, facilities=facilities, demand=demand,
                isochrones=isochrones, candidates=candidates, proposed=proposed,
                community_stats=stats)


def browser_ready_s(html_path: Path) -> float:
    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=flags)
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        t0 = time.perf_counter()
        page.goto(html_path.resolve().as_uri(), wait_until="load", timeout=120_000)
        page.wait_for_function("window.COVERAGE && COVERAGE.ready === true", timeout=120_000)
        ready = time.perf_counter() - t0
        b.close()
    return ready


def measure(name: str, layers: dict, out_dir: Path, browser: bool) -> dict:
    t0 = time.perf_counter()
    m = maps.make_map(layers.pop("communities"), layers.pop("facilities"), parameters=PARAMS,
                      title=name, **layers)
    t1 = time.perf_counter()
    path = maps.write_map(m, out_dir / f"{name}.html")
    t2 = time.perf_counter()
    res = {"map": name, "make_map_s": round(t1 - t0, 2), "write_map_s": round(t2 - t1, 2),
           "html_bytes": path.stat().st_size,
           "html_mb": round(path.stat().st_size / 1e6, 2)}
    if browser:
        res["browser_ready_s"] = round(browser_ready_s(path), 2)
    print(json.dumps(res, ensure_ascii=False))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--browser", action="store_true", help="also time loading in headless Chromium")
    ap.add_argument("--sample-only", action="store_true")
    ap.add_argument("--city-only", action="store_true")
    args = ap.parse_args()
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    if not args.city_only:
        t0 = time.perf_counter()
        layers = sample_layers()
        print(f"sample stages (load, network, access, norms): {time.perf_counter() - t0:.1f} s")
        results.append(measure("sample", layers, out_dir, args.browser))
    if not args.sample_only:
        results.append(measure("city", city_layers(), out_dir, args.browser))
    (out_dir / "maps.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
