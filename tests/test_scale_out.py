"""Tiled walk access (issue 17): the sample cut into 4 tiles gives a single run's results under
every scheduler, a resumed run recomputes only the missing tiles, and a worker killed mid-run
does not stop the run."""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from eldercare_coverage import compute, tiling
from eldercare_coverage.errors import ProblemReport
from eldercare_coverage.pipeline import study_tile_inputs



def needs_dask():
    """Fail with the fix when the cluster extra is missing: scripts/setup.sh --test installs it,
    so a skip here would only hide a broken set-up."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        pytest.fail("the cluster extra (dask[distributed]) is not installed: run `bash scripts/setup.sh --test` "
                    "or pip install -e '.[cluster]'")


@pytest.fixture(scope="module")
def single(sample_run):
    """(study with a fresh problem report, whole network, single-run AccessResult) of the sample."""
    _, result = sample_run
    study = dataclasses.replace(result.study, report=ProblemReport())
    return study, result.stages["network"], result.stages["access"]


def four_tiles(study) -> float:
    """A grid cell size that cuts the sample's communities into 2 × 2 tiles."""
    b = study.communities.total_bounds
    return max(b[2] - b[0], b[3] - b[1]) / 2 + 1.0


def assert_same_access(tiled, ref) -> None:
    """Demand times, coverage matrices and tables exactly equal; isochrone areas within 0.01 %."""
    pd.testing.assert_frame_equal(pd.DataFrame(tiled.demand.drop(columns="geometry")),
                                  pd.DataFrame(ref.demand.drop(columns="geometry")), check_exact=True)
    assert shapely.equals_exact(tiled.demand.geometry.values, ref.demand.geometry.values, 0).all()
    for name in ("facility_matrix", "candidate_matrix"):
        a, b = getattr(tiled, name), getattr(ref, name)
        assert a.shape == b.shape and a.nnz == b.nnz > 0
        assert (a != b).nnz == 0, name
    pd.testing.assert_frame_equal(tiled.communities, ref.communities, check_exact=True)
    pd.testing.assert_frame_equal(tiled.districts, ref.districts, check_exact=True)
    np.testing.assert_array_equal(tiled.facility_ids, ref.facility_ids)
    pd.testing.assert_frame_equal(pd.DataFrame(tiled.isochrones.drop(columns="geometry")),
                                  pd.DataFrame(ref.isochrones.drop(columns="geometry")))
    area_t, area_r = tiled.isochrones.area.to_numpy(), ref.isochrones.area.to_numpy()
    bad = np.flatnonzero(np.abs(area_t - area_r) > 1e-4 * area_r)
    assert not len(bad), (tiled.isochrones.iloc[bad, :3], area_t[bad], area_r[bad])
    pd.testing.assert_frame_equal(pd.DataFrame(tiled.unreachable.drop(columns="geometry")),
                                  pd.DataFrame(ref.unreachable.drop(columns="geometry")))
    assert {k: v for k, v in tiled.params.items() if k != "tiles"} == ref.params


def test_tiles_partition_the_demand_and_cover_the_halo(single):
    study, net, ref = single
    fac, cand = ref.sites[ref.sites["layer"] == "facilities"], study.candidates
    tiles = tiling.make_tiles(study.communities, fac, cand, by="grid", tile_size_m=four_tiles(study))
    assert len(tiles) == 4
    # every community (so every demand point) in exactly one tile; every site owned once
    for rows, n in ((np.concatenate([t.communities for t in tiles]), len(study.communities)),
                    (np.concatenate([t.facilities for t in tiles]), len(fac)),
                    (np.concatenate([t.candidates for t in tiles]), len(cand))):
        assert sorted(rows.tolist()) == list(range(n))
    halo = tiling.halo_distance_m(15, 0.9, 250, 250)
    assert halo == 15 * 60 * 0.9 + 500
    # the sample is small: a 1.3 km halo takes all its streets; a 300 m one shows the cut
    t, small = tiles[0], 300.0
    ext = tiling.tile_extent(t, study.communities, fac, cand, net, small, 50.0)
    assert not ext.whole and 0 < len(ext.edges) < net.n_edges
    core = shapely.union_all(study.communities.geometry.to_numpy()[t.communities])
    kept = shapely.union_all(net.edge_geometry[ext.edges])
    # every street within the halo (+ snap) of the core is in the tile's network
    near = np.flatnonzero(shapely.dwithin(net.edge_geometry, core, small + 50.0))
    assert np.isin(near, ext.edges).all() and kept.intersects(core)
    # the tile network keeps the whole network's main part
    sub = tiling.network_from_tile(tiling.subnetwork(net, ext.edges), net.crs)
    np.testing.assert_array_equal(sub.main_edge_mask, net.main_edge_mask[ext.edges])


def test_local_tiles_give_the_single_run(single, tmp_path):
    study, net, ref = single
    tiled = compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid", tile_size_m=four_tiles(study), scheduler="local")
    assert tiled.params["tiles"]["tiles"] == 4
    assert_same_access(tiled, ref)


def test_local_cluster_gives_the_single_run(single):
    needs_dask()
    study, net, ref = single
    tiled = compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid", tile_size_m=four_tiles(study),
                                         scheduler="processes", workers=2)
    assert tiled.params["tiles"]["scheduler"] == "processes"
    assert_same_access(tiled, ref)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tcp_cluster(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes on the loopback (stopped after)."""
    needs_dask()
    dask = shutil.which("dask", path=str(Path(sys.executable).parent)) or shutil.which("dask")
    if dask is None:
        pytest.fail("the dask command is not installed beside this Python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, DASK_DISTRIBUTED__WORKER__DAEMON="False")
    env.pop("OMP_NUM_THREADS", None)  # what a worker's thread budget is must come from the plugin
    log = (tmp_path / "cluster.log").open("w")
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)]
    from distributed import Client

    try:
        for _ in range(2):
            procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--no-nanny",
                                           "--no-dashboard", "--local-directory", str(tmp_path)],
                                          cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address, procs
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


def test_tcp_cluster_survives_a_killed_worker(single, tcp_cluster, tmp_path):
    """The tiles on an existing cluster; one of its two workers is killed once the first tile is
    written: the run still completes, with the single run's results."""
    study, net, ref = single
    address, procs = tcp_cluster
    from eldercare_coverage.tilestore import TileCache

    cache = TileCache(tmp_path / "out", "sample", "k1")
    killed = threading.Event()

    def kill_one_worker():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if cache.folder.exists() and any(cache.folder.glob("*.done")):
                procs[2].kill()
                killed.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_one_worker, daemon=True)
    watcher.start()
    tiled = compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid", tile_size_m=four_tiles(study),
                                         scheduler=address, cache=cache)
    watcher.join(timeout=5)
    assert killed.is_set() and procs[2].poll() is not None
    assert tiled.params["tiles"]["scheduler"] == address
    assert_same_access(tiled, ref)
    from distributed import Client

    from eldercare_coverage.threads import thread_count

    with Client(address, timeout="60s") as client:  # a worker started without a nanny: one core a tile
        assert set(client.run(thread_count).values()) == {1}


def test_resume_recomputes_only_missing_tiles(single, tmp_path, monkeypatch):
    study, net, ref = single
    from eldercare_coverage.tilestore import TileCache

    cache = TileCache(tmp_path / "out", "sample", "k1")
    real = compute.run_tile
    calls: list[str] = []

    def failing(payload: bytes) -> bytes:
        import json

        tile = json.loads(str(compute.store.unpack(payload)["meta"]))["tile"]
        calls.append(tile)
        if len(calls) == 3:
            raise RuntimeError("worker lost power")
        return real(payload)

    monkeypatch.setattr(compute, "run_tile", failing)
    with pytest.raises(RuntimeError, match="lost power"):
        compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid", tile_size_m=four_tiles(study), cache=cache,
                                     retries=0)
    written = sorted(p.stem for p in cache.folder.glob("*.done"))
    assert len(written) == 2
    # a tile whose data is there but whose marker is not counts as missing
    (cache.folder / f"{written[1]}.done").unlink()
    monkeypatch.setattr(compute, "run_tile", real)
    tiled = compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid", tile_size_m=four_tiles(study), cache=cache)
    run = tiled.params["tiles"]
    assert run["cached"] == written[:1]
    assert written[0] not in run["computed"] and written[1] in run["computed"]
    assert_same_access(tiled, ref)
    # each tile's results are GeoParquet / Parquet files any tool reads
    import geopandas as gpd

    tile = cache.folder / written[0]
    demand = gpd.read_parquet(tile / "demand.parquet")
    assert demand.crs == ref.demand.crs and len(demand) > 0 and "time_min" in demand
    assert demand["time_min"].isin(ref.demand["time_min"]).all()
    # each facility's isochrones are in its owner tile's file, once
    iso = pd.concat([gpd.read_parquet(f / "isochrones.parquet") for f in cache.folder.iterdir() if f.is_dir()])
    assert len(iso) == len(ref.isochrones) and iso.crs == ref.isochrones.crs
    assert sorted(iso["site_id"].astype(str)) == sorted(ref.isochrones["site_id"].astype(str))
    fmat = pd.read_parquet(tile / "fmat.parquet")
    assert list(fmat.columns) == ["row", "col", "val"] and (fmat["val"] <= study.config.access.time_limit_min).all()
    # a damaged file makes the tile count as missing
    (tile / "fmat.parquet").write_bytes(b"PAR1 broken")
    assert not cache.done(written[0])


def test_a_failed_tile_is_retried(single, monkeypatch):
    study, net, ref = single
    real = compute.run_tile
    failures = []

    def flaky(payload: bytes) -> bytes:
        if not failures:
            failures.append(1)
            raise OSError("transient")
        return real(payload)

    monkeypatch.setattr(compute, "run_tile", flaky)
    tiled = compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="district", scheduler="local", retries=1)
    assert failures and tiled.params["tiles"]["tiles"] == 2
    assert_same_access(tiled, ref)


def test_tiled_run_publishes_the_single_run_outputs(sample_run, sample_copy, tmp_path):
    """`run` with [compute] tiles writes the same tables and layers as the plain run (isochrone
    areas within 0.01 %), and removes its tile cache once published."""
    from eldercare_coverage import pipeline

    ref_out, ref = sample_run
    config = sample_copy / "sample.toml"
    size = four_tiles(ref.study)
    config.write_text(config.read_text(encoding="utf-8") + f'\n[compute]\ntiling = "grid"\ntile_size_m = {size}\n',
                      encoding="utf-8")
    out = tmp_path / "tiled"
    result = pipeline.run(config, out_dir=out)
    assert result.stages["access"].params["tiles"]["tiles"] == 4
    assert_same_outputs(out, ref_out)
    assert not list((out / "out").glob(".eldercare-tiles-*"))


def assert_same_outputs(out: Path, ref_out: Path) -> None:
    """The published tables are byte for byte the same; the GeoPackage's demand points and
    isochrones have the same rows, the isochrones' areas agree within 0.01 % (issue 17)."""
    import filecmp

    import geopandas as gpd

    compared = 0
    for folder in ("out", "reports"):
        for ref_file in sorted((ref_out / folder).glob("*.csv")):
            assert filecmp.cmp(ref_file, out / folder / ref_file.name, shallow=False), ref_file.name
            compared += 1
    assert compared >= 8
    for layer in ("demand_points", "isochrones"):
        a = gpd.read_file(out / "out" / "access.gpkg", layer=layer)
        b = gpd.read_file(ref_out / "out" / "access.gpkg", layer=layer)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")))
    a = gpd.read_file(out / "out" / "access.gpkg", layer="isochrones").area.to_numpy()
    b = gpd.read_file(ref_out / "out" / "access.gpkg", layer="isochrones").area.to_numpy()
    assert len(b) and (b > 0).all() and np.all(np.abs(a - b) <= 1e-4 * b)


def limit_halos_only(monkeypatch) -> None:
    """Tiles start at the walk limit's halo (no wider first guess), so homes whose nearest
    facility lies beyond it go round again: the path a first guess makes rare."""
    monkeypatch.setattr(compute, "first_halos_m", lambda tiles, c, f, kinds, base_m, *a, **k: {t.tile_id: base_m for t in tiles})


def test_first_halos_reach_the_nearest_facility_of_every_kind():
    import geopandas as gpd

    comm = gpd.GeoDataFrame({"community_id": ["a", "b"]}, geometry=shapely.points([0.0, 10_000.0], [0.0, 0.0]),
                            crs="EPSG:32648")
    fac = gpd.GeoDataFrame({"kind": ["near", "far", "near", "far"]},
                           geometry=shapely.points([100.0, 0.0, 10_000.0, 10_000.0], [0.0, 1_000.0, 50.0, 9_000.0]),
                           crs="EPSG:32648")
    tiles = [tiling.Tile("t0", np.array([0]), np.empty(0, int), np.empty(0, int)),
             tiling.Tile("t1", np.array([1]), np.empty(0, int), np.empty(0, int))]
    halos = tiling.first_halos_m(tiles, comm, fac, ["near", "far"], base_m=1_000.0, snap_max_m=250.0)
    # t0: the far kind 1 km away -> 1 km x 1.5 detour + 250 m snap; t1: 9 km away -> capped at 4 x base
    assert halos == {"t0": pytest.approx(1_750.0), "t1": pytest.approx(4_000.0)}
    # a kind with no facility is never found: it does not widen the halo
    halos = tiling.first_halos_m(tiles, comm, fac.iloc[[0, 2]], ["near", "far"], base_m=1_000.0, snap_max_m=250.0)
    assert halos == {"t0": 1_000.0, "t1": 1_000.0}
    # downhill walks cost less per metre: the halo widens by 1 / cost factor
    assert tiling.first_halos_m(tiles[:1], comm, fac, ["near", "far"], 1_000.0, 250.0, 0.5)["t0"] == pytest.approx(3_250.0)


def test_short_walks_cut_the_network_and_still_match(single, monkeypatch):
    """With a 5-minute walk the halo (270 + 250 + 50 m) is a fraction of the sample, so each
    tile computes on part of the network and the far homes go round again with wider halos."""
    from eldercare_coverage import pipeline

    limit_halos_only(monkeypatch)
    study, net, _ = single
    cfg = study.config
    short = dataclasses.replace(study, config=dataclasses.replace(
        cfg, access=dataclasses.replace(cfg.access, time_limit_min=5.0, bands_min=[5.0])), report=ProblemReport())
    ref = pipeline.compute_study_access(short, net)
    tiled = compute.compute_tiled_access(short, net, *study_tile_inputs(short), tiling="grid", tile_size_m=four_tiles(study), halo_margin_m=50.0)
    run = tiled.params["tiles"]
    assert run["tiles"] == 4 and max(run["levels"].values()) >= 1  # some homes needed a wider halo
    first = [n for name, n in run["edges"].items() if name.endswith("-h0")]
    assert len(first) == 4 and max(first) < net.n_edges  # the first round cuts the network
    assert_same_access(tiled, ref)
    # first halos wide enough for the nearest facility of every kind: fewer jobs, same answer
    monkeypatch.undo()
    wide = compute.compute_tiled_access(short, net, *study_tile_inputs(short), tiling="grid", tile_size_m=four_tiles(study), halo_margin_m=50.0)
    assert len(wide.params["tiles"]["computed"]) < len(run["computed"])
    assert min(wide.params["tiles"]["first_halo_m"].values()) > run["halo_m"]
    assert_same_access(wide, ref)


# --------------------------------------------------------------------------------------------
# Walk costs in tiles: slopes from a DEM, wheelchair users without steps (issue 17 follow-up)


def write_hill(path: Path, study, height_m: float = 60.0) -> Path:
    """A synthetic lon/lat DEM (float32, ~30 m cells like SRTM) over the sample and its network
    margin: a Gaussian hill ``height_m`` high (sigma 700 m) on a 500 m base, centred on the
    sample's communities, with a nodata hole 90 m across on its flank."""
    import pyproj
    import rasterio
    from affine import Affine

    b = study.communities.total_bounds
    cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    to_ll = pyproj.Transformer.from_crs(study.metric_crs, 4326, always_xy=True)
    (lon0, lon1), (lat0, lat1) = to_ll.transform([b[0] - 2500, b[2] + 2500], [b[1] - 2500, b[3] + 2500])
    cell = 0.0003
    lon = np.arange(lon0, lon1, cell) + cell / 2
    lat = np.arange(lat1, lat0, -cell) - cell / 2
    hx, hy = pyproj.Transformer.from_crs(4326, study.metric_crs, always_xy=True).transform(*np.meshgrid(lon, lat))
    z = 500.0 + height_m * np.exp(-((hx - cx) ** 2 + (hy - cy) ** 2) / (2 * 700.0 ** 2))
    z[np.hypot(hx - cx - 600, hy - cy) < 45] = -9999.0
    with rasterio.open(path, "w", driver="GTiff", width=len(lon), height=len(lat), count=1, dtype="float32",
                       crs="EPSG:4326", transform=Affine(cell, 0.0, lon0, 0.0, -cell, lat1), nodata=-9999.0) as dst:
        dst.write(z.astype(np.float32), 1)
    return path


def with_access(study, **settings):
    """The study with other [access] settings and a fresh problem report."""
    cfg = study.config
    return dataclasses.replace(study, config=dataclasses.replace(cfg, access=dataclasses.replace(cfg.access, **settings)),
                               report=ProblemReport())


def read_hill(study, path: Path):
    from eldercare_coverage import pipeline

    cfg = study.config
    inputs = dataclasses.replace(cfg.inputs, dem=dataclasses.replace(cfg.inputs.dem, path=str(path)))
    dem = pipeline.study_dem(dataclasses.replace(study, config=dataclasses.replace(cfg, inputs=inputs)))
    assert dem is not None, study.report.errors
    return dem


def test_tiles_take_slopes_from_a_dem(single, tmp_path, monkeypatch):
    """A hill under the sample: 4 tiles with 5-minute walks (the halo cuts the network, so each
    tile costs its streets, bridges, gate links and compound walks from its own part of the
    DEM) give the single run's slope-aware times, matrices, tables and isochrones exactly."""
    from eldercare_coverage import pipeline
    from eldercare_coverage.walkcost import least_cost_factor

    limit_halos_only(monkeypatch)  # the first round cuts the network, each tile its own part of the DEM
    study, net, flat = single
    dem = read_hill(study, write_hill(tmp_path / "hill.tif", study))
    short = with_access(study, time_limit_min=5.0, bands_min=[5.0])
    ref = pipeline.compute_study_access(short, net, dem=dem)
    assert ref.params["dem"] == str(tmp_path / "hill.tif") and ref.network.has_costs
    holes = [p for p in short.report.warnings if p.code == "dem.holes"]
    assert len(holes) == 1  # the hole is under some streets: one warning, from the whole network
    tiled_study = with_access(study, time_limit_min=5.0, bands_min=[5.0])
    tiled = compute.compute_tiled_access(tiled_study, net, *study_tile_inputs(tiled_study), tiling="grid",
                                         tile_size_m=four_tiles(study), halo_margin_m=50.0, dem=dem)
    run = tiled.params["tiles"]
    assert least_cost_factor(dem) == pytest.approx(math.exp(-3.5 * 0.05))  # Tobler at its fastest, -5 %
    assert run["halo_m"] == pytest.approx(5 * 60 * 0.9 / math.exp(-0.175) + 250.0 + 50.0)
    assert max(n for name, n in run["edges"].items() if name.endswith("-h0")) < net.n_edges
    assert_same_access(tiled, ref)
    assert tiled.dem is dem and tiled.network.has_costs
    np.testing.assert_array_equal(tiled.network.cost_fwd, ref.network.cost_fwd)
    assert [(p.code, p.message) for p in tiled_study.report.warnings if p.code == "dem.holes"] == \
        [(p.code, p.message) for p in holes]
    # the slopes changed the walks: up and down the hill, times differ from the flat run's
    plain = pipeline.compute_study_access(with_access(study, time_limit_min=5.0, bands_min=[5.0]), net)
    t, t0 = ref.demand["time_min"].to_numpy(), plain.demand["time_min"].to_numpy()
    ok = np.isfinite(t) & np.isfinite(t0)
    assert (t[ok] > t0[ok]).any() and (t[ok] < t0[ok]).any()


def with_steps_on_cut_edges(net, n: int = 3):
    """The network with ``highway=steps`` on ``n`` of its main part's cut edges (each the only
    way to the streets beyond it): without steps, a wheelchair user's main part is smaller."""
    import networkx as nx

    main = np.flatnonzero(net.main_edge_mask & (net.edge_length > 0))
    g = nx.Graph()
    g.add_edges_from((int(net.edge_u[e]), int(net.edge_v[e]), {"e": int(e)}) for e in main)
    cut = []
    for a, b in nx.bridges(g):
        h = g.copy()
        h.remove_edge(a, b)
        cut.append((min(len(nx.node_connected_component(h, a)), len(nx.node_connected_component(h, b))), g[a][b]["e"]))
    attrs = net.edge_attrs.copy()
    chosen = [e for _, e in sorted(cut, reverse=True)[:n]]
    attrs.loc[chosen, "highway"] = "steps"
    return dataclasses.replace(net, edge_attrs=attrs, meta={}), chosen


def test_tiles_avoid_steps_like_the_single_run(single, monkeypatch):
    """Wheelchair users on a sample whose main part hangs on flights of steps: without them the
    main part shrinks (homes beyond them are cut off), which a tile must see as the whole
    study does. 4 tiles with 5-minute walks equal the single run."""
    from eldercare_coverage import pipeline
    from eldercare_coverage.access import without_steps

    limit_halos_only(monkeypatch)  # the tiles cut the network: each must see the steps as the study does
    study, net0, _ = single
    net, chosen = with_steps_on_cut_edges(net0)
    assert without_steps(net, True).main_node_mask.sum() < net.main_node_mask.sum()
    wheel = with_access(study, avoid_steps=True, time_limit_min=5.0, bands_min=[5.0])
    ref = pipeline.compute_study_access(wheel, net)
    walking = pipeline.compute_study_access(with_access(study, time_limit_min=5.0, bands_min=[5.0]), net)
    assert ref.params["network_edges"] < walking.params["network_edges"]
    assert ref.demand["fragment_only"].sum() > walking.demand["fragment_only"].sum()  # cut off beyond the steps
    tiled_study = with_access(study, avoid_steps=True, time_limit_min=5.0, bands_min=[5.0])
    tiled = compute.compute_tiled_access(tiled_study, net, *study_tile_inputs(tiled_study), tiling="grid",
                                         tile_size_m=four_tiles(study), halo_margin_m=50.0)
    assert_same_access(tiled, ref)
    assert tiled.network.n_edges == ref.network.n_edges


def test_a_tiles_part_of_the_dem_costs_its_edges_as_the_whole_dem_does(single, tmp_path):
    """Edge by edge, bit for bit: a tile's streets (bridges with their straight grade among them)
    costed on the tile's part of the DEM equal the whole network's costs on the whole DEM, and
    the part is a fraction of the DEM; a point beyond the part is refused, never guessed."""
    from eldercare_coverage.walkcost import Dem, dem_arrays, dem_from_arrays, dem_part, slope_costs, _level_mask

    study, net, _ = single
    dem = read_hill(study, write_hill(tmp_path / "hill.tif", study))
    whole = slope_costs(net, dem)
    b = study.communities.total_bounds
    box = shapely.box(b[0], b[1], (b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
    edges = np.sort(np.flatnonzero(shapely.intersects(net.edge_geometry, box)))
    sub = tiling.network_from_tile(tiling.subnetwork(net, edges), net.crs)
    assert _level_mask(sub).sum() >= 5 and sub.n_edges < net.n_edges  # bridges and tunnels in the tile
    part = dem_from_arrays(dem_arrays(dem_part(dem, tuple(shapely.bounds(sub.edge_geometry).min(0)[:2])
                                               + tuple(shapely.bounds(sub.edge_geometry).max(0)[2:]), net.crs)))
    assert isinstance(part, Dem) and part.z.size < dem.z.size / 2
    for a, w in zip(slope_costs(sub, part), whole):
        np.testing.assert_array_equal(a, w[edges])
    with pytest.raises(ValueError, match="outside this part"):
        far = shapely.get_coordinates(net.edge_geometry[np.setdiff1d(np.arange(net.n_edges), edges)])
        import pyproj

        x, y = pyproj.Transformer.from_crs(net.crs, dem.crs, always_xy=True).transform(far[:, 0], far[:, 1])
        part.sample(np.asarray(x), np.asarray(y))


def test_a_resumed_run_with_another_dem_or_without_steps_reuses_no_tile(single, tmp_path):
    """The tile cache is keyed on the DEM's content and the walk-cost settings: the same DEM
    resumes from its tiles, another DEM (or avoid_steps) under the same cache folder recomputes
    every tile and gives its own single run's results."""
    from eldercare_coverage import pipeline
    from eldercare_coverage.tilestore import TileCache

    study, net, _ = single
    hill = read_hill(study, write_hill(tmp_path / "hill.tif", study, height_m=60.0))
    low = read_hill(study, write_hill(tmp_path / "low.tif", study, height_m=20.0))
    cache = TileCache(tmp_path / "out", "sample", "k1")

    def tiled(s, dem):
        return compute.compute_tiled_access(s, net, *study_tile_inputs(s), tiling="grid", tile_size_m=four_tiles(study),
                                            cache=cache, dem=dem)

    first = tiled(with_access(study), hill)
    assert first.params["tiles"]["cached"] == [] and len(first.params["tiles"]["computed"]) >= 4
    assert sorted(tiled(with_access(study), hill).params["tiles"]["cached"]) == sorted(first.params["tiles"]["computed"])
    other = tiled(with_access(study), low)
    assert other.params["tiles"]["cached"] == [] and len(other.params["tiles"]["computed"]) >= 4
    assert_same_access(other, pipeline.compute_study_access(with_access(study), net, dem=low))
    assert not np.array_equal(other.demand["time_min"], first.demand["time_min"])
    wheel = tiled(with_access(study, avoid_steps=True), low)
    assert wheel.params["tiles"]["cached"] == [] and wheel.params["avoid_steps"]


def test_the_study_tile_cache_key_follows_the_dem_and_avoid_steps(sample_copy):
    """pipeline.study_tile_cache: another DEM file (content or CRS) or avoid_steps is another
    cache folder, the same settings the same one."""
    from eldercare_coverage import pipeline
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study

    config = sample_copy / "sample.toml"
    text = config.read_text(encoding="utf-8")

    def key(dem: str = "", crs: str = "", avoid: bool = False) -> str:
        extra = f'\n[inputs.dem]\npath = "{dem}"\ncrs = "{crs}"\n' if dem else ""
        body = text.replace("[access]\n", f"[access]\navoid_steps = {str(avoid).lower()}\n")
        config.write_text(body + extra, encoding="utf-8")
        return pipeline.study_tile_cache(load_study(load_config(config))).folder.name

    study = load_study(load_config(config))
    hill = write_hill(sample_copy / "hill.tif", study, height_m=60.0)
    a = key(hill.name)
    assert key(hill.name) == a and key() != a
    assert key(hill.name, avoid=True) not in (a, key(avoid=False))
    assert key(hill.name, crs="EPSG:4326") != a
    write_hill(hill, study, height_m=20.0)  # the same file name, other elevations
    assert key(hill.name) != a


def test_cluster_run_with_a_dem_and_avoid_steps_publishes_the_single_run(sample_copy, tmp_path):
    """End to end on a LocalCluster of 2 workers: a study with a DEM hill and avoid_steps, run
    in 4 tiles, publishes what its single run publishes (the workers read no DEM file: each
    tile carries its part), and the gate comparison takes the slopes as the single run does."""
    needs_dask()
    from eldercare_coverage import pipeline
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study

    config = sample_copy / "sample.toml"
    study = load_study(load_config(config))
    write_hill(sample_copy / "hill.tif", study)
    text = config.read_text(encoding="utf-8").replace("[access]\n", "[access]\navoid_steps = true\n")
    config.write_text(text + '\n[inputs.dem]\npath = "hill.tif"\n', encoding="utf-8")
    ref = pipeline.run(config, out_dir=tmp_path / "single")
    assert ref.stages["access"].params["dem"] and "tiles" not in ref.stages["access"].params
    config.write_text(config.read_text(encoding="utf-8") + '\n[compute]\nscheduler = "processes"\nworkers = 2\n'
                      f'tiling = "grid"\ntile_size_m = {four_tiles(study)}\n', encoding="utf-8")
    tiled = pipeline.run(config, out_dir=tmp_path / "tiled")
    run = tiled.stages["access"].params["tiles"]
    assert run["scheduler"] == "processes" and run["tiles"] == 4 and run["cached"] == []
    assert_same_outputs(tmp_path / "tiled", tmp_path / "single")
    pd.testing.assert_frame_equal(tiled.stages["gate_effect"]["table"], ref.stages["gate_effect"]["table"])


def test_a_sweep_takes_the_dem(single, tmp_path):
    """Scenario sweeps cut and cost their tiles as a tiled run does: 10-minute walks on the hill
    cover exactly the single run's share of older residents, which differs from the flat one."""
    from eldercare_coverage import pipeline
    from eldercare_coverage.sweeps import sweep

    study, net, _ = single
    dem = read_hill(study, write_hill(tmp_path / "hill.tif", study))

    def share(access) -> float:
        d = access.demand
        w = d["elderly_population"].to_numpy(float)
        return np.nansum(w[d["within_limit"].to_numpy(bool)]) / np.nansum(w)

    table = sweep(study, net, [{"name": "hill, 10 min", "time_limit_min": 10.0}], tiling="grid",
                  tile_size_m=four_tiles(study), halo_margin_m=50.0, dem=dem)
    ref = pipeline.compute_study_access(with_access(study, time_limit_min=10.0), net, dem=dem)
    assert table.iloc[0]["share_elderly_within"] == share(ref)
    assert share(ref) != share(pipeline.compute_study_access(with_access(study, time_limit_min=10.0), net))


def test_tile_arrays_give_back_every_frame_exactly():
    """What crosses to a worker and back (tilestore): points and line strings as coordinates,
    anything else (polygons, missing geometries, 3-D) as WKB; text once per distinct value with
    missing values kept; numbers untouched; never a pickle."""
    import geopandas as gpd
    import shapely

    from eldercare_coverage import tilestore as store

    lines = np.array([shapely.LineString([(0.1, 0.2), (1.5, 2.25), (3.0, 4.0)]),
                      shapely.LineString([(10.0, 11.0), (12.0, 13.000000000001)])], dtype=object)
    points = shapely.points([(1.0, 2.0), (3.5, -4.25)])
    mixed = np.array([shapely.box(0, 0, 1, 1), None, shapely.Point(1, 2, 3)], dtype=object)
    for geoms, form in ((lines, "lines"), (points, "points"), (mixed, "wkb")):
        arrays = store.geometry_arrays("g", geoms)
        assert f"g/{form}" in arrays
        back = store.geometry_from("g", store.unpack(store.pack(arrays)))
        assert len(back) == len(geoms)
        for a, b in zip(geoms, back):
            assert (a is None and b is None) or shapely.equals_exact(a, b, tolerance=0.0)
            assert a is None or shapely.has_z(a) == shapely.has_z(b)
    df = gpd.GeoDataFrame({"name": ["东城", None, "东城", "=1+1"], "n": [1, 2, 3, 4],
                           "tags": [["a", "b"], None, ["a"], ["a", "b"]], "ok": [True, False, True, True]},
                          geometry=shapely.points([(0, 0), (1, 1), (2, 2), (3, 3)]), crs="EPSG:32650")
    arrays = store.frame_arrays("f", df)
    assert arrays["f/0/text"].tolist() == ["东城", "=1+1"]  # each distinct text once
    back = store.frame_from("f", store.unpack(store.pack(arrays)))
    assert back["name"].isna().tolist() == [False, True, False, False]
    assert back["name"].dropna().tolist() == ["东城", "东城", "=1+1"]
    assert back["tags"].dropna().tolist() == ["['a', 'b']", "['a']", "['a', 'b']"] and pd.isna(back["tags"][1])
    assert back["n"].tolist() == [1, 2, 3, 4] and back["ok"].tolist() == [True, False, True, True]
    assert back.crs == df.crs and back.geometry.geom_equals_exact(df.geometry, tolerance=0).all()


def test_the_largest_tiles_go_first_and_a_wider_halo_goes_again(single, monkeypatch):
    """Tiles start largest first (no worker is left with a big one at the end); a tile whose
    walks reach past its halo goes again with a wider one, and a second run gives the same."""
    limit_halos_only(monkeypatch)
    study, net, ref = single
    inputs, kinds = study_tile_inputs(study)
    size = four_tiles(study)
    tiles = tiling.make_tiles(inputs.communities, inputs.facilities, inputs.candidates, by="grid", tile_size_m=size)
    work = {t.tile_id: len(t.communities) + len(t.facilities) + len(t.candidates) for t in tiles}
    started: list[str] = []
    real = compute.tile_payload
    monkeypatch.setattr(compute, "tile_payload", lambda tile, *a: started.append(tile.tile_id) or real(tile, *a))
    # a walk limit with a halo short enough that some homes need the wider one
    short = dataclasses.replace(study, config=dataclasses.replace(
        study.config, access=dataclasses.replace(study.config.access, time_limit_min=3.0)))
    tiled = compute.compute_tiled_access(short, net, inputs, kinds, tiling="grid", tile_size_m=size)
    run = tiled.params["tiles"]
    first = started[:len(tiles)]
    assert sorted(first) == sorted(work) and [work[t] for t in first] == sorted(work.values(), reverse=True)
    assert max(run["levels"].values()) >= 1 and len(started) > len(tiles)
    again = compute.compute_tiled_access(short, net, inputs, kinds, tiling="grid", tile_size_m=size)
    pd.testing.assert_frame_equal(pd.DataFrame(again.demand.drop(columns="geometry")),
                                  pd.DataFrame(tiled.demand.drop(columns="geometry")), check_exact=True)


def test_tiles_without_pyarrow_say_what_to_install(single, monkeypatch):
    from eldercare_coverage.errors import InputError

    study, net, _ = single
    inputs, size = study_tile_inputs(study), four_tiles(study)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    with pytest.raises(InputError) as exc:
        compute.compute_tiled_access(study, net, *inputs, tiling="grid", tile_size_m=size)
    assert "pyarrow" in str(exc.value) and "eldercare-coverage[cluster]" in str(exc.value)


def test_a_worker_without_a_package_gets_the_fix_not_a_traceback(single, monkeypatch):
    """A tile failing on a worker for a missing package (e.g. a DEM run on workers without the
    [dem] extra) ends the run with the study's message and its fix."""
    needs_dask()
    from distributed import Client, LocalCluster

    from eldercare_coverage.errors import InputError

    study, net, _ = single

    def lacking(payload: bytes, overrides: str = "") -> bytes:
        raise ModuleNotFoundError("No module named 'affine'", name="affine")

    monkeypatch.setattr(compute, "run_tile", lacking)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        with pytest.raises(InputError) as exc:
            compute.compute_tiled_access(study, net, *study_tile_inputs(study), tiling="grid",
                                         tile_size_m=four_tiles(study), client=client, retries=0)
    text = str(exc.value)
    assert "affine" in text and "eldercare-coverage[cluster,dem]" in text and "Traceback" not in text
    # the warm-up plugin ran in this very process (a threads-only cluster): it left its budget alone
    assert "OMP_NUM_THREADS" not in os.environ


def test_a_home_midway_between_two_streets_snaps_as_in_the_whole_network():
    """Of two streets at exactly the same distance the first in the whole network's order wins,
    in a tile's part too (its edges keep their global numbers), so tiled and single runs snap
    every home to the same street (on a lattice such ties are everywhere)."""
    from eldercare_coverage.access import snap_points
    from eldercare_coverage.network import network_from_arrays

    # edge 0 along y = 10, edge 1 along y = 0; the home at y = 5 is 5 m from both
    # (edge 2 joins them at x = 100, so both are the main part)
    x, y = np.array([0.0, 100.0, 0.0, 100.0]), np.array([10.0, 10.0, 0.0, 0.0])
    net = network_from_arrays(x, y, np.array([0, 2, 1]), np.array([1, 3, 3]), "EPSG:3857")
    home = shapely.points([50.0], [5.0])
    assert snap_points(net, home, 50.0).edge.tolist() == [0]
    # the same streets as a tile whose edge 0 is the whole network's edge 7 and edge 1 its edge 3
    net.meta["edge_index"] = np.array([7, 3, 9])
    net.meta.pop("tree_main", None)
    assert snap_points(net, home, 50.0).edge.tolist() == [1]
