"""Walk costs: steps and slopes make a walk slower (or, gently downhill, faster) than on the flat,
and on a slope the way up differs from the way down.

Costs are *flat-equivalent metres*: walk time × the flat walk speed of the chosen preset. A walk
limit in metres (minutes × speed), snap distances and the isochrones' walk-left logic therefore
keep working unchanged; on a network without steps or slopes every cost is the edge length.

* **Steps** (``highway=steps``) are walked at ``steps_speed_factor`` × the flat speed, both ways
  (:data:`STEPS_SPEED_FACTORS` per preset). With a DEM a flight of steps costs the slower of that
  and the slope.
* **Slopes** from an optional DEM (GeoTIFF, any CRS): elevations are sampled along each edge at
  its vertices and every :data:`SAMPLE_STEP_M` metres (bilinear), and each piece of horizontal
  length ``dx`` and rise ``dh`` costs ``dx * tobler_factor(dh / dx)``: Tobler's hiking function
  ``v = 6 exp(-3.5 |dh/dx + 0.05|)`` km/h scaled so that on the flat it equals the preset speed
  (so ``v(g) = v_flat * exp(-3.5 (|g + 0.05| - 0.05))``). Bridges and tunnels follow a straight
  grade between their end nodes (the ground under a bridge is not its deck).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyproj
import shapely

from .errors import ProblemReport
from .network import WalkNetwork, with_costs

log = logging.getLogger(__name__)

#: Steps speed as a share of the flat walk speed, per walk-speed preset. Walking up or down a
#: flight of stairs covers its horizontal length at roughly half to two thirds of the flat pace,
#: and the gap widens with frailty (a handrail, one step at a time): 0.7 for the ``general``
#: population, 0.6 for ``older`` people (the default), 0.5 for ``frail`` older people. A numeric
#: walk speed uses the ``older`` factor. Configurable as ``[access] steps_speed_factor``.
STEPS_SPEED_FACTORS: dict[str, float] = {"general": 0.7, "older": 0.6, "frail": 0.5}
#: Elevations are sampled along edges at least this often (m), besides every vertex.
SAMPLE_STEP_M = 10.0
#: Elevations outside this range (m) mean the raster is not an elevation model in metres.
ELEVATION_RANGE_M = (-500.0, 9000.0)


def tobler_factor(grade: np.ndarray | float) -> np.ndarray:
    """Walk cost per horizontal metre relative to the flat, for a grade dh/dx in the walking
    direction: ``exp(3.5 (|grade + 0.05| - 0.05))`` (Tobler 1993 scaled to 1 at grade 0; 0.84 at
    its fastest, -5 %; 1.42 at +10 %). Exactly 1 at grade 0."""
    g = np.asarray(grade, dtype=np.float64)
    return np.exp(3.5 * (np.abs(g + 0.05) - 0.05))


def tobler_speed(grade: np.ndarray | float, flat_speed_mps: float) -> np.ndarray:
    """Walking speed (m/s, horizontal) at a grade, scaled so the flat speed is ``flat_speed_mps``."""
    return flat_speed_mps / tobler_factor(grade)


def steps_speed_factor(walk_speed: str | float, value: str | float = "auto") -> float:
    """The steps factor to use: ``value`` when a number, else the walk-speed preset's default."""
    if not isinstance(value, str):
        return float(value)
    return STEPS_SPEED_FACTORS.get(walk_speed, STEPS_SPEED_FACTORS["older"]) if isinstance(walk_speed, str) \
        else STEPS_SPEED_FACTORS["older"]


def steps_mask(net: WalkNetwork) -> np.ndarray:
    """Edges that are (or include) ``highway=steps``."""
    if "highway" not in net.edge_attrs or not net.n_edges:
        return np.zeros(net.n_edges, dtype=bool)
    # a network has a handful of distinct highway texts: the pattern runs once per text
    codes, texts = pd.factorize(net.edge_attrs["highway"].fillna("").astype(str))
    hit = pd.Series(texts).str.contains(r"(?:^|[;,\s'\"\[])steps(?:$|[;,\s'\"\]])", regex=True).to_numpy(bool)
    return np.append(hit, False)[codes]


def _level_mask(net: WalkNetwork) -> np.ndarray:
    """Edges on bridges or in tunnels (their elevation is not the ground's)."""
    out = np.zeros(net.n_edges, dtype=bool)
    for col in ("bridge", "tunnel"):
        if col in net.edge_attrs:
            codes, texts = pd.factorize(net.edge_attrs[col].fillna("").astype(str))
            level = ~pd.Series(texts).str.strip().str.lower().isin(["", "no", "nan", "none"]).to_numpy(bool)
            out |= np.append(level, False)[codes]
    return out


# --------------------------------------------------------------------------------------------
# The DEM


@dataclass
class Dem:
    """Elevations (m) of a raster window: ``z`` (rows × cols, NaN where nodata), the affine
    ``transform`` of the window (pixel → DEM CRS), the DEM ``crs`` and the source path."""

    z: np.ndarray
    transform: Any
    crs: pyproj.CRS
    path: str
    #: A part of a larger window (:func:`dem_part`): the (row, col) of ``z[0, 0]`` in it and its
    #: shape. Sampling keeps the whole window's pixel arithmetic, so a part samples bit-identically.
    origin: tuple[int, int] = (0, 0)
    window_shape: tuple[int, int] | None = None

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear elevations at DEM-CRS coordinates; NaN outside the window or next to nodata."""
        col, row = _apply(~self.transform, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        c = col - 0.5  # pixel centres sit at half-integer pixel coordinates
        r = row - 0.5
        h, w = self.window_shape or self.z.shape
        out = np.full(c.shape, np.nan)
        # within half a pixel of the border the nearest centre row/column is used
        c = np.where((c > -0.5) & (c < 0), 0.0, np.where((c > w - 1) & (c < w - 0.5), w - 1.0, c))
        r = np.where((r > -0.5) & (r < 0), 0.0, np.where((r > h - 1) & (r < h - 0.5), h - 1.0, r))
        ok = (c >= 0) & (c <= w - 1) & (r >= 0) & (r <= h - 1)
        c, r = c[ok], r[ok]
        j0 = np.minimum(np.floor(c).astype(np.int64), max(w - 2, 0))
        i0 = np.minimum(np.floor(r).astype(np.int64), max(h - 2, 0))
        j1 = np.minimum(j0 + 1, w - 1)
        i1 = np.minimum(i0 + 1, h - 1)
        fc, fr = c - j0, r - i0
        (r0, c0), (zh, zw) = self.origin, self.z.shape
        i0, i1, j0, j1 = i0 - r0, i1 - r0, j0 - c0, j1 - c0
        if len(i0) and (min(i0.min(), j0.min()) < 0 or i1.max() >= zh or j1.max() >= zw):
            raise ValueError("a point lies outside this part of the DEM; cut a wider part (dem_part)")
        z = self.z
        out[ok] = ((z[i0, j0] * (1 - fc) + z[i0, j1] * fc) * (1 - fr)
                   + (z[i1, j0] * (1 - fc) + z[i1, j1] * fc) * fr)
        return out


def read_dem(path: str | Path, area: Any, metric_crs: Any, crs: str = "", margin_m: float = 0.0,
             report: ProblemReport | None = None) -> Dem | None:
    """Read the part of a DEM (GeoTIFF or any raster GDAL reads, any CRS) around ``area``.

    ``area`` is the study area (shapely, ``metric_crs``); the window read covers it plus
    ``margin_m`` (m). ``crs`` overrides the file's own CRS. Problems go to ``report`` as errors
    (no CRS, not covering the study area, not elevations in metres); returns None then.
    """
    report = report if report is not None else ProblemReport()
    name = str(path)
    try:
        import rasterio
        import rasterio.errors
        import rasterio.windows
    except ImportError:
        report.error(name, "dem.no_rasterio", field="inputs.dem.path")
        return None
    try:
        with rasterio.open(path) as src:
            dem_crs = _dem_crs(src, crs, name, report)
            if dem_crs is None:
                return None
            bounds = shapely.box(*src.bounds)
            to_dem = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(metric_crs), dem_crs, always_xy=True)
            area_dem = _transform(shapely.segmentize(area, 100.0), to_dem)
            if not _covers(bounds, area_dem, name, dem_crs, report):
                return None
            want = _transform(shapely.segmentize(shapely.buffer(shapely.envelope(area), margin_m), 100.0), to_dem)
            # whole pixels, one more on each side for the bilinear neighbours, within the raster
            x0, y0, x1, y1 = shapely.bounds(shapely.intersection(want, bounds))
            cols, rows = _apply(~src.transform, np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
            c0, c1 = max(int(np.floor(cols.min())) - 1, 0), min(int(np.ceil(cols.max())) + 1, src.width)
            r0, r1 = max(int(np.floor(rows.min())) - 1, 0), min(int(np.ceil(rows.max())) + 1, src.height)
            win = rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)
            band = src.read(1, window=win, masked=True).astype(np.float64)
            z = band.filled(np.nan)
            t = src.transform  # the window's own transform: its origin moved to pixel (c0, r0)
            transform = type(t)(t.a, t.b, t.c + t.a * c0 + t.b * r0, t.d, t.e, t.f + t.d * c0 + t.e * r0)
    except rasterio.errors.RasterioError as exc:
        report.error(name, "dem.unreadable", field="inputs.dem.path", detail=str(exc))
        return None
    fin = z[np.isfinite(z)]
    lo, hi = ELEVATION_RANGE_M
    if not len(fin):
        report.error(name, "dem.all_nodata", field="inputs.dem.path")
        return None
    if fin.min() < lo or fin.max() > hi:
        # SRTM-style voids (-32768, -9999) in a file that declares no nodata value get their own fix
        code = "dem.values_void" if fin.min() < lo else "dem.values_range"
        report.error(name, code, field="inputs.dem.path", low=f"{fin.min():g}", high=f"{fin.max():g}",
                     lo=f"{lo:g}", hi=f"{hi:g}")
        return None
    log.info("DEM %s: %d x %d cells around the study area, %.0f..%.0f m, %.1f %% nodata", Path(name).name,
             z.shape[1], z.shape[0], fin.min(), fin.max(), 100.0 * (1 - len(fin) / z.size))
    return Dem(z, transform, dem_crs, name)


def _apply(t: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An affine transform applied to coordinate arrays."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f


def _dem_crs(src: Any, crs: str, name: str, report: ProblemReport) -> pyproj.CRS | None:
    if crs:
        try:
            return pyproj.CRS.from_user_input(crs)
        except pyproj.exceptions.CRSError:
            report.error(name, "dem.crs_unknown", field="inputs.dem.crs", value=crs)
            return None
    if src.crs is None:
        report.error(name, "dem.no_crs", field="inputs.dem.crs")
        return None
    return pyproj.CRS.from_user_input(src.crs.to_wkt())


def _covers(bounds: Any, area_dem: Any, name: str, dem_crs: pyproj.CRS, report: ProblemReport) -> bool:
    """Whether the raster's extent covers the study area (else an error saying how much it covers)."""
    inside = shapely.area(shapely.intersection(area_dem, bounds)) / max(shapely.area(area_dem), 1e-30)
    if inside >= 0.999:
        return True
    fmt = "{:.5f}" if dem_crs.is_geographic else "{:.0f}"  # degrees or metres, as a planner reads them
    b = ", ".join(fmt.format(v) for v in shapely.bounds(bounds))
    a = ", ".join(fmt.format(v) for v in shapely.bounds(area_dem))
    crs_name = dem_crs.to_string()
    if inside == 0:
        report.error(name, "dem.no_overlap", field="inputs.dem.path", extent=b, area=a, crs=crs_name)
    else:
        report.error(name, "dem.partial", field="inputs.dem.path", share=f"{inside:.0%}", extent=b, area=a,
                     crs=crs_name)
    return False


def _transform(geom: Any, tf: pyproj.Transformer) -> Any:
    return shapely.transform(geom, lambda c: np.stack(tf.transform(c[:, 0], c[:, 1]), axis=1))


def dem_part(dem: Dem, bounds: tuple[float, float, float, float], crs: Any, margin_px: int = 2) -> Dem:
    """The part of ``dem`` around ``bounds`` (x0, y0, x1, y1 in ``crs``), ``margin_px`` pixels
    wider, as a tile of a scale-out run takes it: within the bounds it samples exactly as ``dem``
    does (the same pixels and the same pixel arithmetic), from a fraction of the memory."""
    to_dem = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs), dem.crs, always_xy=True)
    size = max(bounds[2] - bounds[0], bounds[3] - bounds[1], 1.0)
    # the box's sides bend in the DEM's CRS: 16 pieces a side keep the bend far inside the margin
    x0, y0, x1, y1 = shapely.bounds(_transform(shapely.segmentize(shapely.box(*bounds), size / 16), to_dem))
    cols, rows = _apply(~dem.transform, np.array([x0, x1, x0, x1]), np.array([y0, y0, y1, y1]))
    (r00, c00), (zh, zw) = dem.origin, dem.z.shape
    c0 = min(max(int(np.floor(cols.min())) - margin_px, c00), c00 + zw)
    r0 = min(max(int(np.floor(rows.min())) - margin_px, r00), r00 + zh)
    c1 = max(min(int(np.ceil(cols.max())) + margin_px + 1, c00 + zw), c0)
    r1 = max(min(int(np.ceil(rows.max())) + margin_px + 1, r00 + zh), r0)
    z = dem.z[r0 - r00:r1 - r00, c0 - c00:c1 - c00].copy()
    return Dem(z, dem.transform, dem.crs, dem.path, (r0, c0), dem.window_shape or dem.z.shape)


def dem_arrays(dem: Dem) -> dict[str, np.ndarray]:
    """A DEM (part) as plain arrays (``allow_pickle=False`` npz); elevations as float32 when
    that loses nothing (a float32 or integer raster), halving what a tile carries."""
    z32 = dem.z.astype(np.float32)
    lossless = np.array_equal(z32.astype(np.float64), dem.z, equal_nan=True)
    t = dem.transform
    return {"z": z32 if lossless else dem.z, "transform": np.array([t.a, t.b, t.c, t.d, t.e, t.f]),
            "origin": np.asarray(dem.origin, dtype=np.int64),
            "window_shape": np.asarray(dem.window_shape or dem.z.shape, dtype=np.int64),
            "crs": np.array(dem.crs.to_wkt()), "path": np.array(dem.path)}


def dem_from_arrays(arrays: dict[str, np.ndarray]) -> Dem:
    """The :class:`Dem` of :func:`dem_arrays`."""
    from affine import Affine  # rasterio's own transform type (the [dem] extra)

    return Dem(arrays["z"].astype(np.float64), Affine(*(float(v) for v in arrays["transform"])),
               pyproj.CRS.from_wkt(str(arrays["crs"])), str(arrays["path"]),
               tuple(int(v) for v in arrays["origin"]), tuple(int(v) for v in arrays["window_shape"]))


def dem_fingerprint(dem: Dem | None) -> str:
    """A digest of everything in ``dem`` that walk costs depend on ("" without one): a resumed
    tiled run with another elevation model must not reuse the tiles of this one."""
    if dem is None:
        return ""
    import hashlib

    h = hashlib.sha256(np.ascontiguousarray(dem.z).tobytes())
    t = dem.transform
    h.update(repr((t.a, t.b, t.c, t.d, t.e, t.f, dem.origin, dem.window_shape, dem.z.shape,
                   dem.crs.to_wkt(), dem.path)).encode("utf-8"))
    return h.hexdigest()[:16]


def least_cost_factor(dem: Dem | None) -> float:
    """The least a walk can cost per metre of street, relative to the flat: Tobler's fastest
    grade (-5 %, 0.84) with a DEM, else 1 (steps only slow a walk). A walk of a given cost
    reaches at most cost / factor metres, so the halo of a tile is widened by its inverse."""
    return float(tobler_factor(-0.05)) if dem is not None else 1.0


# --------------------------------------------------------------------------------------------
# Edge costs


def slope_costs(net: WalkNetwork, dem: Dem, step_m: float = SAMPLE_STEP_M
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tobler walk costs of every edge u→v and v→u (flat-equivalent m) from DEM elevations, and
    per edge the length (m) walked without elevation (nodata, or outside the DEM).

    Each piece between samples costs ``dx * tobler_factor(dh / dx)`` one way and
    ``dx * tobler_factor(-dh / dx)`` the other; a piece with an end lacking elevation is walked
    as on the flat. An edge's cost is its length times the mean factor of its pieces, so an
    edge whose pieces are all level costs exactly its length.
    """
    m = net.n_edges
    if m == 0:
        return net.edge_length.copy(), net.edge_length.copy(), np.zeros(0)
    geoms = net.edge_geometry.copy()
    real = net.edge_length > 0  # GEOS cannot segmentize a zero-length line (a gated home's anchor link)
    geoms[real] = shapely.segmentize(geoms[real], step_m)
    xy, gi = shapely.get_coordinates(geoms, return_index=True)
    to_dem = pyproj.Transformer.from_crs(net.crs, dem.crs, always_xy=True)
    dx_, dy_ = to_dem.transform(xy[:, 0], xy[:, 1])
    z = dem.sample(np.asarray(dx_), np.asarray(dy_))
    same = gi[1:] == gi[:-1]  # consecutive coordinates of one edge form a piece
    seg = np.hypot(np.diff(xy[:, 0]), np.diff(xy[:, 1]))[same]
    sg = gi[1:][same]
    level = _level_mask(net)
    if level.any():  # bridges and tunnels: a straight grade between the end samples
        z = _straight_profile(z, xy, gi, level)
    dz = (z[1:] - z[:-1])[same]
    ok = np.isfinite(dz) & (seg > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(ok, dz / np.where(seg > 0, seg, 1.0), 0.0)
    sf = seg * tobler_factor(g)
    sb = seg * tobler_factor(-g)
    total = np.bincount(sg, weights=seg, minlength=m)
    fwd = np.bincount(sg, weights=sf, minlength=m)
    bwd = np.bincount(sg, weights=sb, minlength=m)
    missing = np.bincount(sg, weights=np.where(ok | (seg == 0), 0.0, seg), minlength=m)
    pos = total > 0
    L = net.edge_length
    with np.errstate(divide="ignore", invalid="ignore"):
        cf = np.where(pos, L * (fwd / np.where(pos, total, 1.0)), L)
        cb = np.where(pos, L * (bwd / np.where(pos, total, 1.0)), L)
    return cf, cb, missing


def _straight_profile(z: np.ndarray, xy: np.ndarray, gi: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Elevations of the marked edges replaced by a straight line between their end samples."""
    z = z.copy()
    sel = np.flatnonzero(level[gi])  # the marked edges' samples, each edge's together and in order
    if not len(sel):
        return z
    first = np.r_[True, gi[sel][1:] != gi[sel][:-1]]
    step = np.r_[0.0, np.hypot(np.diff(xy[sel, 0]), np.diff(xy[sel, 1]))]
    step[first] = 0.0
    k = np.cumsum(first) - 1  # the marked edge of each sample
    # each edge's distance summed over its own samples only: a running sum over all edges would
    # make an edge's profile depend on the edges before it, and a tile holds other edges than
    # the whole network (its costs must be the single run's, bit for bit)
    cum = pd.Series(step).groupby(k).cumsum().to_numpy()
    start = np.flatnonzero(first)
    end = np.r_[start[1:] - 1, len(sel) - 1]
    z0, z1, tot = z[sel[start]][k], z[sel[end]][k], cum[end][k]
    with np.errstate(divide="ignore", invalid="ignore"):
        z[sel] = np.where(tot > 0, z0 + (z1 - z0) * cum / tot, z0)
    return z


def walk_costs(net: WalkNetwork, steps_factor: float = 1.0, dem: Dem | None = None,
               report: ProblemReport | None = None) -> WalkNetwork:
    """The network with its walk costs: steps at ``steps_factor`` × the flat speed, slopes from
    ``dem`` (Tobler). Unchanged (the same object) when neither applies, so a flat network
    without steps is searched exactly as before. Street walked without elevation (DEM nodata
    holes, or beyond the DEM) is reported as a warning and walked as on the flat."""
    L = net.edge_length
    cf, cb = L, L
    if dem is not None and net.n_edges:
        cf, cb, missing = slope_costs(net, dem)
        gap = missing.sum()
        if gap > 0 and report is not None:
            report.warning(dem.path, "dem.holes", field="inputs.dem.path", km=f"{gap / 1000:.1f}",
                           total_km=f"{L.sum() / 1000:.1f}", edges=int((missing > 0).sum()))
        up = np.maximum(cf, cb) / np.where(L > 0, L, 1.0)
        log.info("slopes from %s: steepest edge costs %.2fx its flat time; %.1f km walked with a cost "
                 "differing from the flat", Path(dem.path).name, float(up.max(initial=1.0)),
                 float(L[(cf != L) | (cb != L)].sum()) / 1000)
    steps = steps_mask(net)
    if steps.any() and steps_factor != 1.0:
        if not math.isfinite(steps_factor) or steps_factor <= 0:
            raise ValueError(f"steps_factor must be a positive number, got {steps_factor}")
        slow = L / steps_factor
        cf = np.where(steps, np.maximum(cf, slow), cf)
        cb = np.where(steps, np.maximum(cb, slow), cb)
    if cf is L and cb is L:
        return net
    return with_costs(net, cf, cb)
