"""Scale-out walk access: the study cut into tiles (:mod:`.tiling`), each tile a task run in this
process or on Dask, and the tiles' results stitched into the single-run :class:`AccessResult`.

Schedulers (``[compute] scheduler``): ``"local"`` runs the tiles one after another here (no Dask
needed); ``"processes"`` starts a ``dask.distributed.LocalCluster`` of ``workers`` processes;
``"tcp://host:port"`` uses a running Dask cluster. A tile task receives and returns ``.npz``
bytes (:mod:`.tilestore`), computes with the unchanged access stage
(:func:`~eldercare_coverage.access.compute_access`), and its result is written to the tile cache
as soon as it arrives, so an interrupted run resumes with the missing tiles only. Dask retries a
failed tile (``retries``) and reruns the tiles of a worker that died.

What the driver does itself, once for the whole study: read the network, snap every point (a
vectorised nearest-street query, which also rebuilds the gated network the maps draw) and build
the tables from the stitched demand. The searches, the part that grows with the area, run in
the tiles.

Walk costs: with ``avoid_steps`` the driver removes the steps from the whole network before
cutting tiles (:func:`tile_network`); with a DEM each tile carries its part of it
(:func:`~eldercare_coverage.walkcost.dem_part`) and costs its own edges, gate links included,
exactly as the single run does (a scenario sweep's walk speed may change the steps factor, which
the tile then applies itself).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
import uuid
import warnings
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from . import tilestore as store
from .progress import progress
from .tiling import Tile, TileExtent, first_halos_m, halo_distance_m, make_tiles, subnetwork, tile_extent

log = logging.getLogger(__name__)

#: How many times a tile's halo may double when some of its nearest-facility times exceed it.
MAX_HALO_LEVELS = 12


@dataclass
class TileRun:
    """How a tiled computation went: tiles, halo levels (level k: the tile's first halo times
    2^k), which jobs came from the cache, the streets in each job's network, the seconds each
    job's task took, the walk limit's halo and each tile's first halo (m)."""

    tiles: int
    computed: list[str]
    cached: list[str]
    levels: dict[str, int]
    halo_m: float
    scheduler: str
    seconds: dict[str, float]
    edges: dict[str, int] = dataclasses.field(default_factory=dict)
    task_s: dict[str, float] = dataclasses.field(default_factory=dict)
    first_halo_m: dict[str, float] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# The tile task (runs on a worker; plain bytes in and out)


def run_tile(payload: bytes, overrides: str = "") -> bytes:
    """Walk access of one tile: ``payload`` from :func:`tile_payload`, result as npz bytes.
    ``overrides``: JSON of ``[access]`` settings replacing the payload's (scenario sweeps)."""
    from .access import compute_access
    from .config import AccessSection, resolve_walk_speed
    from .errors import ProblemReport
    from .tiling import network_from_tile
    from .walkcost import dem_from_arrays

    import pyarrow  # noqa: F401 - results are Parquet: a worker without it is named as such

    t0 = time.perf_counter()
    a = store.unpack(payload)
    meta = json.loads(str(a["meta"]))
    net_arrays = {k[4:]: v for k, v in a.items() if k.startswith("net/") and "/" not in k[4:]}
    net_arrays["edge_geometry"] = store.geometry_from("net/geom", a)
    net_arrays["edge_attrs"] = store.frame_from("net/attrs", a)
    net = network_from_tile(net_arrays, meta["crs"], source=meta["source"])
    layers = {name: store.frame_from(name, a) if f"{name}/meta" in a else None
              for name in ("communities", "facilities", "candidates", "gates", "buildings", "residents_ways")}
    access_cfg = dataclasses.replace(AccessSection(), **dict(meta["access"], **json.loads(overrides or "{}")))
    owned = set(meta["owned_facilities"])
    dem = dem_from_arrays({k[4:]: v for k, v in a.items() if k.startswith("dem/")}) if "dem/z" in a else None
    res = compute_access(communities=layers["communities"], facilities=layers["facilities"],
                         candidates=layers["candidates"], net=net, access_cfg=access_cfg,
                         buildings=layers["buildings"], report=ProblemReport(), gates=layers["gates"],
                         dem=dem, residents_ways=layers["residents_ways"],
                         isochrone_sites=layers["facilities"]["facility_id"].astype(str).isin(owned).to_numpy(),
                         tables=False)
    core_ids = layers["communities"]["community_id"].astype(str).to_numpy()[a["core"]]
    keep = np.flatnonzero(res.demand["community_id"].astype(str).isin(core_ids).to_numpy())
    demand = res.demand.iloc[keep].reset_index(drop=True)
    pos = pd.Index(layers["communities"]["community_id"].astype(str)).get_indexer(demand["community_id"].astype(str))
    demand["_community"] = a["communities_index"][pos]
    demand["_order"] = demand.pop("point_id").to_numpy()
    speed = resolve_walk_speed(access_cfg.walk_speed)
    unresolved = (_unresolved(demand, meta["kinds"], speed, meta["halo_m"] * meta["cost_factor"]) if not meta["whole"]
                  else np.zeros(len(demand), dtype=bool))
    iso = res.isochrones
    out = {store.part("demand"): store.parquet_bytes(demand), store.part("isochrones"): store.parquet_bytes(iso)}
    for name, mat, index in (("fmat", res.facility_matrix, a["facilities_index"]),
                             ("cmat", res.candidate_matrix, a["candidates_index"])):
        out[store.part(name)] = store.parquet_bytes(store.sparse_frame(_rows_to_global(mat[:, keep], index)))
    far = np.unique(demand["_community"].to_numpy()[unresolved]).tolist()
    out["meta"] = store.text(json.dumps({"tile": meta["tile"], "unresolved": far,
                                         "seconds": time.perf_counter() - t0, "edges": int(net.n_edges),
                                         "params": res.params}, default=_json_value))
    return store.pack(out)


def _json_value(value):
    """numpy scalars in the tile's parameters as plain JSON numbers."""
    return value.item() if isinstance(value, np.generic) else str(value)


def _rows_to_global(mat: sp.csr_matrix, index: np.ndarray) -> sp.coo_matrix:
    """The tile's sites × core-demand matrix with rows renumbered to the study's site rows."""
    coo = mat.tocoo()
    return sp.coo_matrix((coo.data, (index[coo.row], coo.col)), shape=(int(index.max()) + 1 if len(index) else 0,
                                                                        mat.shape[1]))


def _unresolved(demand: pd.DataFrame, kinds: list[str], speed_mps: float, halo_m: float) -> np.ndarray:
    """Which snapped demand points have a nearest-facility walk (overall or of a kind) costing
    more than ``halo_m`` (flat-equivalent m; the halo times the least cost factor with slopes):
    the tile cannot vouch for those times."""
    snapped = demand["snapped"].to_numpy(bool)
    bad = np.zeros(len(demand), dtype=bool)
    for col in ["time_min"] + [f"time_min_{k}" for k in kinds]:
        t = demand[col].to_numpy(float) if col in demand else np.full(len(demand), np.inf)
        bad |= snapped & ~(t * speed_mps * 60.0 <= halo_m)
    return bad


def warm_kernels() -> None:
    """Compile (or load from numba's disk cache) the search kernels on a tiny network, so a
    worker's first tile does not pay for it."""
    import shapely

    from .access import coverage_matrix, nearest_facility, snap_points
    from .isochrones import isochrones
    from .network import network_from_arrays

    net = network_from_arrays(np.array([0.0, 100.0, 200.0]), np.zeros(3), np.array([0, 1]), np.array([1, 2]),
                              "EPSG:3857")
    s = snap_points(net, shapely.points([50.0, 150.0], [10.0, 10.0]), 250.0)
    nearest_facility(net, s, s, 1.0)
    coverage_matrix(net, s, s, 1.0, 15.0, n_threads=1)
    isochrones(net, s, np.array(["a", "b"]), np.array(["", ""]), 1.0, limits_min=[15.0], access_max_m=250.0)


def _warm_plugin():
    import os

    from distributed import WorkerPlugin

    driver = os.getpid()

    class WarmKernels(WorkerPlugin):
        """Warms the numba kernels on every worker, including one restarted after a crash."""

        name = "eldercare-warm-kernels"

        def setup(self, worker) -> None:
            # one core per tile (threads.thread_count), as Dask's nanny sets for the workers it
            # starts; a worker started without one (``--no-nanny``) would spread over every core.
            # Not in the driver's own process (a threads-only cluster): its single runs keep all.
            if os.getpid() != driver:
                os.environ.setdefault("OMP_NUM_THREADS", "1")
            warm_kernels()

    return WarmKernels()


# --------------------------------------------------------------------------------------------
# The driver


@dataclass
class TileInputs:
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    gates: gpd.GeoDataFrame | None
    buildings: gpd.GeoDataFrame | None
    #: Residents-only ways walked inside gated compounds (:func:`~eldercare_coverage.network.residents_only`).
    residents_ways: gpd.GeoDataFrame | None = None


def tile_payload(tile: Tile, ext: TileExtent, inputs: TileInputs, net, access: dict, kinds: list[str],
                 dem=None, cost_factor: float = 1.0) -> bytes:
    """Everything tile ``tile`` needs at extent ``ext``, as npz bytes: with ``dem`` (the
    study's :class:`~eldercare_coverage.walkcost.Dem`) the part of it under the tile, so the
    tile costs its streets, gate links and compound walks from the very pixels the single run
    uses. ``cost_factor``: the least walk cost per metre (:func:`~eldercare_coverage.walkcost.least_cost_factor`)."""
    arrays = subnetwork(net, ext.edges)
    out = {f"net/{k}": v for k, v in arrays.items() if k not in ("edge_geometry", "edge_attrs")}
    out.update(store.geometry_arrays("net/geom", arrays["edge_geometry"]))
    out.update(store.frame_arrays("net/attrs", arrays["edge_attrs"]))
    layers = {"communities": inputs.communities.iloc[ext.communities], "facilities": inputs.facilities.iloc[ext.facilities],
              "candidates": inputs.candidates.iloc[ext.candidates]}
    if inputs.gates is not None:
        layers["gates"] = inputs.gates.iloc[ext.gates]
    if inputs.buildings is not None:
        layers["buildings"] = inputs.buildings.iloc[ext.buildings]
    if inputs.residents_ways is not None:  # the ways inside the tile's compounds
        rw = inputs.residents_ways
        _, hit = shapely.STRtree(rw.geometry.to_numpy()).query(
            inputs.communities.geometry.to_numpy()[ext.communities], predicate="intersects")
        layers["residents_ways"] = rw.iloc[np.unique(hit)]
    for name, layer in layers.items():
        out.update(store.frame_arrays(name, layer.reset_index(drop=True)))
    if dem is not None:
        from .walkcost import dem_arrays, dem_part

        geoms = np.concatenate([arrays["edge_geometry"], *(layer.geometry.to_numpy() for layer in layers.values())])
        part = dem_part(dem, _bounds(geoms), net.crs)
        out.update({f"dem/{k}": v for k, v in dem_arrays(part).items()})
    out["core"] = ext.core
    out["communities_index"] = ext.communities
    out["facilities_index"] = ext.facilities
    out["candidates_index"] = ext.candidates
    owned = inputs.facilities["facility_id"].astype(str).to_numpy()[tile.facilities]
    out["meta"] = store.text(json.dumps({
        "tile": tile.tile_id, "halo_m": ext.halo_m, "whole": ext.whole, "crs": net.crs.to_wkt(),
        "source": net.source, "access": access, "kinds": kinds, "cost_factor": cost_factor,
        "owned_facilities": owned.tolist()}, ensure_ascii=False))
    return store.pack(out)


def _bounds(geoms: np.ndarray) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of every present geometry: everything a tile's network can be built of
    (its streets, compounds, sites, gates, buildings, residents' ways) lies inside."""
    b = shapely.bounds(geoms)
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return (0.0, 0.0, 0.0, 0.0)
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def compute_tiled_access(study, net, inputs: TileInputs, kinds: list[str], *, tiling: str = "district", tile_size_m: float = 5000.0,
                         halo_margin_m: float = 250.0, scheduler: str = "local", workers: int = 2,
                         retries: int = 2, cache: store.TileCache | None = None, client=None, dem=None):
    """Walk access of ``study`` on ``net`` computed tile by tile; the same
    :class:`~eldercare_coverage.access.AccessResult` as ``pipeline.compute_study_access``.
    ``inputs`` and ``kinds`` are the study's layers and facility kinds
    (:func:`eldercare_coverage.pipeline.study_tile_inputs`); ``dem`` the elevation model
    (:func:`eldercare_coverage.pipeline.study_dem`), if any: each tile takes the part of it
    under the tile, and the halo widens for walks that go faster downhill.

    ``tiling`` "district" or "grid" (cells of ``tile_size_m`` metres); the halo is the walk limit
    (divided by the least cost per metre with a DEM) plus ``access.snap_max_m`` plus
    ``halo_margin_m`` (m). ``cache`` keeps finished tiles for a
    resumed run. ``client``: a ``dask.distributed.Client`` to use instead of ``scheduler``.
    The returned result's ``params["tiles"]`` says how the run went (:class:`TileRun`).
    """
    from .walkcost import dem_fingerprint, least_cost_factor

    _needs_pyarrow(tiling)
    t0 = time.perf_counter()
    cfg = study.config.access
    speed = study.config.walk_speed_mps
    access = _access_params(cfg)
    net, inputs = tile_network(net, inputs, cfg.avoid_steps)
    factor = least_cost_factor(dem)
    halo0 = halo_distance_m(cfg.time_limit_min, speed, cfg.snap_max_m, halo_margin_m, factor)
    tiles = make_tiles(inputs.communities, inputs.facilities, inputs.candidates, by=tiling, tile_size_m=tile_size_m)
    # the walk limit needs halo0; the unlimited nearest-facility walks usually need more, and a
    # tile that starts wide enough is not run again (each job rebuilds the tile's whole network)
    first = first_halos_m(tiles, inputs.communities, inputs.facilities, kinds, halo0, cfg.snap_max_m, factor)
    log.info("%d tiles (%s), halo %.0f m (first halos up to %.0f m)", len(tiles), tiling, halo0,
             max(first.values(), default=halo0))
    key = {"tiling": tiling, "tile_size_m": tile_size_m, "halo_m": halo0, "access": access,
           "dem": dem_fingerprint(dem), "format": store.FORMAT}
    if cache is not None:
        cache.open()
        cache.write_key(key)  # tiles of other settings or another DEM in its folder are dropped
    run = TileRun(len(tiles), [], [], {}, halo0, scheduler if client is None else "client", {}, first_halo_m=first)
    parts: dict[str, tuple[int, bytes]] = {}
    trees: dict = {}
    all_streets: set[str] = set()
    # the largest tiles first, so that no worker is left with a big one at the end
    queue = deque(Job(t.tile_id, t, 0) for t in sorted(tiles, key=lambda t: -_work(t)))

    def extent(job: Job) -> TileExtent:
        # past MAX_HALO_LEVELS doublings, one halo that takes the whole study (1,000,000 km);
        # a tile that already had every street takes every site next (doubling adds nothing else)
        halo = first[job.tile_id] * 2.0 ** job.level if job.level < MAX_HALO_LEVELS else 1e9
        return tile_extent(job.tile, inputs.communities, inputs.facilities, inputs.candidates, net,
                           1e9 if job.tile_id in all_streets else halo, cfg.snap_max_m, gates=inputs.gates,
                           buildings=inputs.buildings, gate_tolerance_m=cfg.gate_tolerance_m, trees=trees)

    with _client(scheduler, workers, client) as cl:
        # a run's own token in the task keys: a shared cluster holds results by key, and
        # another study with the same settings and tile names must never receive them
        token = _digest(key, uuid.uuid4().hex)
        for job, ext, data in _run_jobs(queue, extent, (inputs, net, access, kinds, dem, factor), token,
                                        cl, cache, retries, run):
            parts[job.name] = (job.level, data)
            run.levels[job.tile_id] = job.level
            meta = store.read_meta(data)
            far = meta["unresolved"]
            run.edges[job.name], run.task_s[job.name] = meta["edges"], meta["seconds"]
            if len(ext.edges) == net.n_edges:
                all_streets.add(job.tile_id)
            if far and not ext.whole:
                # only the communities with walks beyond the halo go again, with a wider halo,
                # as soon as the tile is back (no tile waits for the others of its level)
                log.info("tile %s: %d communities have nearest-facility walks beyond a %.0f m halo; again with "
                         "%.0f m", job.tile_id, len(far), ext.halo_m, 2 * ext.halo_m)
                queue.append(Job(job.tile_id, Tile(job.tile_id, np.asarray(far, dtype=np.int64),
                                                   np.empty(0, np.int64), np.empty(0, np.int64)), job.level + 1))
    run.seconds["tiles"] = time.perf_counter() - t0
    # stitched in one order whatever order the tiles came back in (isochrone unions follow it)
    result = stitch(study, net, inputs, [parts[name] for name in sorted(parts)], kinds, dem=dem)
    run.seconds["total"] = time.perf_counter() - t0
    result.params["tiles"] = dataclasses.asdict(run)
    return result


def _needs_pyarrow(tiling: str) -> None:
    """Tiles write their results as (Geo)Parquet: without pyarrow, say so before any work."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        from .errors import InputError

        raise InputError("config.tiles_need_pyarrow", "config", field="compute.tiling", value=tiling) from exc


@dataclass
class Job:
    """One tile task: the tile (at a wider halo only the communities still unresolved) and its
    halo level (the halo doubles with each level)."""

    tile_id: str
    tile: Tile
    level: int

    @property
    def name(self) -> str:
        return f"{self.tile_id}-h{self.level}"


def _work(tile: Tile) -> int:
    """A tile's relative cost for ordering: its communities and the sites it owns."""
    return len(tile.communities) + len(tile.facilities) + len(tile.candidates)


def _run_jobs(queue: deque, extent, study_data: tuple, digest: str, client, cache, retries: int, run: TileRun):
    """Yield ``(job, extent, result bytes)`` as each job of ``queue`` finishes (or is read from
    the cache); jobs the caller appends meanwhile run too. ``extent(job)`` gives the job's
    :class:`TileExtent`, ``study_data`` the :func:`tile_payload` arguments after it; ``digest``
    (the run's own token) is in the Dask keys. On Dask, each worker thread has one task running
    and one waiting: the driver builds a payload only when a slot frees, so it never holds every
    tile's payload at once."""
    done = progress(_finished(queue, extent, study_data, digest, client, cache, retries, run),
                    total=len(queue), desc="tiles", unit="tile")
    for job, ext, data, cached in done:
        if cache is not None and not cached:
            cache.write(job.name, data)
        (run.cached if cached else run.computed).append(job.name)
        before = len(queue)
        yield job, ext, data
        if hasattr(done, "total") and len(queue) > before:
            done.total += len(queue) - before  # a wider halo added a job


def _finished(queue: deque, extent, study_data: tuple, digest: str, client, cache, retries: int, run: TileRun):
    """``(job, extent, result, from the cache)`` as jobs finish, keeping two tasks per worker
    thread running (counted again each time: workers may join or leave the cluster)."""
    running: dict = {}
    waiting = None
    if client is not None:
        from distributed import as_completed

        waiting = as_completed()
    while queue or running:
        while queue and len(running) < _slots(client):
            job = queue.popleft()
            t0 = time.perf_counter()
            ext = extent(job)
            if cache is not None and cache.done(job.name):
                yield job, ext, cache.read(job.name), True
                continue
            payload = tile_payload(job.tile, ext, *study_data)
            # the driver's own share of the tile stage (the part that does not spread over workers)
            run.seconds["inputs"] = run.seconds.get("inputs", 0.0) + time.perf_counter() - t0
            if client is None:
                yield job, ext, _with_retries(payload, retries), False
                continue
            # the payload travels inside the task (not scattered to one worker), so the
            # scheduler can rerun the tile elsewhere when that worker dies; Dask's advice
            # against large tasks is about graphs that repeat data, which this one never does
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sending large graph", category=UserWarning)
                fut = client.submit(run_tile, payload, key=f"eldercare-tile-{job.name}-{digest}",
                                    retries=retries, pure=False)
            running[fut.key] = (job, ext)
            waiting.add(fut)
        if running:
            fut = next(waiting)
            job, ext = running.pop(fut.key)
            try:
                data = fut.result()
            except ImportError as exc:  # a worker set up without a package the tile needs
                from .errors import InputError

                raise InputError("pipeline.worker_missing_package", "config", field="compute.scheduler",
                                 package=exc.name or str(exc)) from None
            fut.release()  # the driver has it (and the cache): the worker may forget it
            yield job, ext, data, False


def _slots(client) -> int:
    """Tasks to keep in flight: one at a time here, else two per worker thread of the cluster."""
    return 1 if client is None else 2 * max(1, sum(client.nthreads().values()))


def _with_retries(payload: bytes, retries: int) -> bytes:
    for attempt in range(retries + 1):
        try:
            return run_tile(payload)
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - a tile failing for a transient reason is tried again
            if attempt == retries:
                raise
            log.warning("tile failed (attempt %d of %d), retrying", attempt + 1, retries + 1, exc_info=True)
    raise AssertionError("unreachable")


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


@contextmanager
def _client(scheduler: str, workers: int, client):
    """None for "local", else a distributed Client (closing what it started)."""
    if client is not None:
        client.register_plugin(_warm_plugin())
        yield client
        return
    if scheduler == "local":
        yield None
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        from .errors import InputError

        raise InputError("config.compute_needs_dask", "config", value=scheduler, field="compute.scheduler") from exc
    if scheduler == "processes":
        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               dashboard_address=None)
        cl = Client(cluster)
    else:
        cluster, cl = None, Client(scheduler, timeout="30s")
    try:
        cl.register_plugin(_warm_plugin())
        yield cl
    finally:
        cl.close()
        if cluster is not None:
            cluster.close()


def tile_network(net, inputs: TileInputs, avoid_steps: bool):
    """(network, inputs) the tiles are cut from: for wheelchair users (``avoid_steps``) the
    steps are removed here, once, from the whole network (and from the residents-only ways), so
    that what is the main part, and so every snap, is the whole study's; a tile removing them
    from its own part would find a main part of its own."""
    from .access import walked_residents_ways, without_steps

    if not avoid_steps:
        return net, inputs
    return without_steps(net, True), dataclasses.replace(
        inputs, residents_ways=walked_residents_ways(inputs.residents_ways, True))


def _access_params(cfg) -> dict:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}


def _with_gate_ids(gates: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """Gates with the ids a whole-study run gives blank ones (``gate-<row>``), fixed before any
    tile takes a subset (a tile's own row numbers would name them differently)."""
    if gates is None:
        return None
    from .gates import _text

    gates = gates.reset_index(drop=True)
    ids = _text(gates, "gate_id")
    return gates.assign(gate_id=np.where(ids == "", [f"gate-{i}" for i in range(len(gates))], ids))


# --------------------------------------------------------------------------------------------
# Stitching


def stitch(study, net, inputs: TileInputs, parts: list[tuple[int, bytes]], kinds: list[str], dem=None):
    """The study's :class:`AccessResult` from its tiles' results ``(halo level, npz bytes)``, in
    any order: each community's demand comes from the widest halo that computed it. ``net`` and
    ``inputs`` as the tiles were cut from (:func:`tile_network`), ``dem`` as they took it."""
    from .access import AccessResult, community_table, district_table

    unpacked = [(lvl, store.unpack(data)) for lvl, data in parts]
    best = np.full(len(inputs.communities), -1)
    demands = []
    for lvl, a in unpacked:
        d = store.parquet_frame(a[store.part("demand")])
        demands.append(d)
        np.maximum.at(best, d["_community"].to_numpy(np.int64), lvl)
    frames, fm, cm, iso, offset = [], [], [], [], 0
    for (lvl, a), d in zip(unpacked, demands):
        params = json.loads(str(a["meta"]))["params"]
        keep = best[d["_community"].to_numpy(np.int64)] == lvl
        col = np.full(len(d), -1, dtype=np.int64)
        col[keep] = offset + np.arange(int(keep.sum()))
        frames.append(d[keep])
        for key, acc in (("fmat", fm), ("cmat", cm)):
            m = store.parquet_frame(a[store.part(key)])
            c = col[m["col"].to_numpy(np.int64)]
            acc.append((m["row"].to_numpy(np.int64)[c >= 0], c[c >= 0], m["val"].to_numpy(np.float64)[c >= 0]))
        iso.append(store.parquet_frame(a[store.part("isochrones")]))
        offset += int(keep.sum())
    demand = pd.concat(frames, ignore_index=True)
    order = np.lexsort((demand["_order"].to_numpy(), demand["_community"].to_numpy()))
    where = np.empty(len(order), dtype=np.int64)
    where[order] = np.arange(len(order))  # stitched position -> single-run position
    demand = demand.iloc[order].drop(columns=["_community", "_order"]).reset_index(drop=True)
    demand.insert(0, "point_id", np.arange(len(demand), dtype=np.int64))
    demand = _kind_columns(demand, kinds)
    demand = gpd.GeoDataFrame(demand, geometry="geometry", crs=study.metric_crs)
    fmat = _matrix(fm, where, len(inputs.facilities))
    cmat = _matrix(cm, where, len(inputs.candidates))
    gnet, sites, unreachable, gated, params = _whole_study_snaps(study, net, inputs, demand, params, dem)
    isochrones = _isochrones(iso, inputs.facilities, study.metric_crs)
    return AccessResult(demand, fmat, cmat, inputs.facilities["facility_id"].astype(str).to_numpy(),
                        inputs.candidates["candidate_id"].astype(str).to_numpy(), demand["point_id"].to_numpy(),
                        isochrones, community_table(demand, inputs.communities), district_table(demand), unreachable,
                        sites, params, gnet, gates=None if gated is None else gated.gates,
                        ungated=None if gated is None else gated.ungated, dem=dem)


def _matrix(parts, where: np.ndarray, n_rows: int) -> sp.csr_matrix:
    rows = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    cols = np.concatenate([p[1] for p in parts]) if parts else np.empty(0, np.int64)
    vals = np.concatenate([p[2] for p in parts]) if parts else np.empty(0)
    mat = sp.csr_matrix((vals, (rows, where[cols])), shape=(n_rows, len(where)))
    mat.sort_indices()
    return mat


def _kind_columns(demand: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    """Per-kind nearest columns for every kind of the study, after the others (as one run
    orders them); a kind a tile lacked has no facility within reach there."""
    per_kind = []
    for k in kinds:
        ids, times = f"nearest_{k}_id", f"time_min_{k}"
        if ids not in demand:
            demand[ids] = ""
            demand[times] = np.inf
        demand[ids] = demand[ids].fillna("")
        per_kind += [ids, times]
    rest = [c for c in demand.columns if c not in per_kind]
    return demand[rest + per_kind]


def _isochrones(parts: list[pd.DataFrame], facilities: pd.DataFrame, crs) -> gpd.GeoDataFrame:
    """Each facility's isochrones come whole from the tile that owns it; a facility in more
    than one tile's output (it cannot be, by ownership) would be unioned per band."""
    iso = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    iso = gpd.GeoDataFrame(iso, geometry="geometry", crs=crs)
    keys = [c for c in iso.columns if c != "geometry"]
    if len(iso) and iso.duplicated(subset=["site_id", "limit_min"]).any():
        iso = iso.dissolve(by=["site_id", "limit_min"], as_index=False, aggfunc="first")[list(iso.columns)]
    rank = pd.Index(facilities["facility_id"].astype(str)).get_indexer(iso["site_id"].astype(str))
    order = np.lexsort((iso["limit_min"].to_numpy(float), rank)) if len(iso) else np.empty(0, int)
    return iso.iloc[order].reset_index(drop=True)[keys + ["geometry"]]


def _whole_study_snaps(study, net, inputs: TileInputs, demand: gpd.GeoDataFrame, params: dict, dem=None):
    """Snaps of every point on the whole network (vectorised), the gated network with its walk
    costs, the sites and unreachable tables and the parameters, exactly as a single run makes
    them (with its warnings: the costs' DEM holes too)."""
    from . import access as A
    from .walkcost import steps_speed_factor, walk_costs

    cfg = study.config.access
    extra = cfg.fragment_max_extra_m
    geoms = [demand.geometry.values, inputs.facilities.geometry.values, inputs.candidates.geometry.values]
    ds, fs, cs = (A.snap_points(net, g, cfg.snap_max_m, extra) for g in geoms)
    gnet, gated = net, None
    if inputs.gates is not None and len(inputs.gates):
        gnet, (ds, fs, cs), gated = A.snap_through_gates(
            net, inputs.communities, inputs.gates, [ds, fs, cs], geoms, [False, True, True],
            snap_max_m=cfg.snap_max_m, tolerance_m=cfg.gate_tolerance_m, hour=cfg.gate_hour,
            residents_ways=inputs.residents_ways)
    gnet = walk_costs(gnet, steps_speed_factor(cfg.walk_speed, cfg.steps_speed_factor), dem, study.report)
    fac, cand = inputs.facilities, inputs.candidates
    unreachable = A._unreachable(demand, ds, fac, fs, "facilities", "facility_id", cand, cs, "candidates",
                                 "candidate_id", net.crs)
    sites = A._sites_table(fac, fs, "facility_id", cand, cs, "candidate_id", net.crs)
    if study.report is not None:
        A._report_unreachable(unreachable, cfg.snap_max_m, study.report)
        A._report_fragment_snaps(demand, study.report)
        if gated is not None:
            A._report_ungated(gated, inputs.communities, study.report)
    # the tiles' parameters, with the figures of the whole network and demand
    params = dict(params, network_source=gnet.source, network_nodes=gnet.n_nodes, network_edges=gnet.n_edges,
                  network_main_nodes=int(gnet.main_node_mask.sum()), network_fragments=len(gnet.fragments),
                  demand_points=len(demand), demand_methods=demand["method"].value_counts().to_dict(),
                  gated_compounds=cfg.gated_compounds if gated is not None else "off",
                  gates_used=0 if gated is None else len(gated.gates),
                  demand_points_via_gates=int(demand["via_gate"].sum()),
                  compound_internal_ways=0 if gated is None else gated.n_internal_ways,
                  demand_points_past_fragment=int((ds.fragment_extra_m > 0).sum()))
    return gnet, sites, unreachable, gated, params
