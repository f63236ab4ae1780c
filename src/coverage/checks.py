"""Plausibility checks that look across features or layers, where a single row looks fine:

- community polygons that duplicate, contain or heavily overlap each other (their residents
  would be counted twice);
- features far from the rest of the study (a typo in a coordinate, a feature from another city);
- a layer whose coordinates fit the street network far better when read in another Chinese
  web-map system (Amap/Tencent GCJ-02 or Baidu BD-09 declared as WGS-84, or the reverse).

Each check takes plain arrays (geometries, labels naming each feature as the user sees it),
records what it finds in a :class:`~eldercare_coverage.errors.ProblemReport` (file, feature,
field, fix) and returns the figures it measured.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyproj
import shapely

from . import crs as crsmod
from .errors import ProblemReport
from .messages import Text, layer_name

log = logging.getLogger(__name__)

#: Pairs of communities listed one by one before the rest are counted.
MAX_LISTED = 10
#: Both polygons at least this share inside the other: the same boundary twice (error).
DUPLICATE_SHARE = 0.99
#: The smaller polygon at least this share inside the larger: one lies inside the other.
NESTED_SHARE = 0.95
#: Overlap above this share of the smaller polygon is flagged; below it, digitising slivers
#: along a shared boundary are normal and not worth a line in the report.
OVERLAP_SHARE = 0.20
#: A feature is "far from the study" beyond the larger of this distance (km) from the median
#: centre of its layer ...
FAR_MIN_KM = 50.0
#: ... and this many times the median distance of the layer's features from that centre.
FAR_FACTOR = 10.0


# ----------------------------------------------------------------------------------------------
# Overlapping communities


def community_overlaps(geoms, *, min_share: float = OVERLAP_SHARE) -> pd.DataFrame:
    """Pairs of polygons (metric CRS) whose overlap exceeds ``min_share`` of the smaller one.

    Candidate pairs come from one STRtree query (``predicate="intersects"``); intersection
    areas are computed for those pairs only. Columns: ``i``, ``j`` (positions, i < j),
    ``overlap_m2``, ``share_i``, ``share_j`` (overlap / own area), ``share_smaller`` and
    ``kind``: ``duplicate``, ``nested`` (the smaller lies inside the larger) or ``overlap``.
    """
    geoms = np.asarray(geoms, dtype=object)
    usable = np.flatnonzero(~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
                            & np.isin(shapely.get_type_id(geoms), (3, 6)))
    usable = usable[shapely.is_valid(geoms[usable]) & (shapely.area(geoms[usable]) > 0)]
    empty = pd.DataFrame({"i": pd.Series(dtype=int), "j": pd.Series(dtype=int), "overlap_m2": pd.Series(dtype=float),
                          "share_i": pd.Series(dtype=float), "share_j": pd.Series(dtype=float),
                          "share_smaller": pd.Series(dtype=float), "kind": pd.Series(dtype=object)})
    if len(usable) < 2:
        return empty
    g = geoms[usable]
    left, right = shapely.STRtree(g).query(g, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    if not len(left):
        return empty
    area = shapely.area(g)
    overlap = shapely.area(shapely.intersection(g[left], g[right]))
    share_i, share_j = overlap / area[left], overlap / area[right]
    smaller = np.maximum(share_i, share_j)  # the overlap's share of the smaller polygon
    sel = smaller > min_share
    kind = np.where(np.minimum(share_i, share_j) >= DUPLICATE_SHARE, "duplicate",
                    np.where(smaller >= NESTED_SHARE, "nested", "overlap"))
    return pd.DataFrame({"i": usable[left[sel]], "j": usable[right[sel]], "overlap_m2": overlap[sel],
                         "share_i": share_i[sel], "share_j": share_j[sel], "share_smaller": smaller[sel],
                         "kind": kind[sel]}).sort_values(["i", "j"], ignore_index=True)


def check_community_overlaps(geoms, labels, ids, path: str, report: ProblemReport) -> pd.DataFrame:
    """Report duplicated (error), nested and heavily overlapping (warning) community polygons.

    ``labels[k]`` names feature ``k`` as the user sees it ("feature 12 (id CD01)", a table row);
    ``ids[k]`` is its community_id. Returns :func:`community_overlaps`' table.
    """
    pairs = community_overlaps(geoms)
    labels = np.asarray(labels, dtype=object)
    ids = np.asarray(ids, dtype=object)
    for kind, rows in pairs.groupby("kind", sort=False):
        for r in rows.head(MAX_LISTED).itertuples(index=False):
            _report_pair(report, path, kind, r, labels, ids)
        if len(rows) > MAX_LISTED:
            report.add("error" if kind == "duplicate" else "warning", path, "checks.more_pairs", field="geometry",
                       n=len(rows) - MAX_LISTED, kind=Text(_OVERLAP_KINDS[kind]))
    if len(pairs):
        log.info("community overlaps: %s", pairs["kind"].value_counts().to_dict())
    return pairs


#: Kinds of overlap -> their name.
_OVERLAP_KINDS = {"duplicate": "checks.kind_duplicate", "nested": "checks.kind_nested", "overlap": "checks.kind_overlap"}


def _report_pair(report: ProblemReport, path: str, kind: str, r, labels: np.ndarray, ids: np.ndarray) -> None:
    i, j = int(r.i), int(r.j)
    if kind == "duplicate":
        report.error(path, "checks.same_boundary", row=labels[j], field="geometry", id=ids[i], where=labels[i],
                     share=f"{min(r.share_i, r.share_j):.0%}")
        return
    inner, outer = (i, j) if r.share_i >= r.share_j else (j, i)
    if kind == "nested":
        report.warning(path, "checks.nested", row=labels[inner], field="geometry", id=ids[outer], where=labels[outer],
                       share=f"{r.share_smaller:.0%}")
        return
    report.warning(path, "checks.overlap", row=labels[inner], field="geometry", id=ids[outer], where=labels[outer],
                   ha=f"{r.overlap_m2 / 1e4:.2f}", share=f"{r.share_smaller:.0%}")


# ----------------------------------------------------------------------------------------------
# Features far from the rest of the study


def far_features(lon, lat, *, min_km: float = FAR_MIN_KM, factor: float = FAR_FACTOR) -> tuple[np.ndarray, float,
                                                                                              tuple[float, float]]:
    """Geodesic distance (km) of each point (degrees) from the median centre, the distance
    beyond which a point counts as far (km), and the centre (lon, lat). NaN coordinates give
    NaN distances."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    dist = np.full(len(lon), np.nan)
    if not ok.any():
        return dist, np.inf, (np.nan, np.nan)
    centre = float(np.median(lon[ok])), float(np.median(lat[ok]))
    # Geodesic, so a feature across the antimeridian or in another zone is measured correctly.
    _, _, metres = pyproj.Geod(ellps="WGS84").inv(np.full(ok.sum(), centre[0]), np.full(ok.sum(), centre[1]),
                                                  lon[ok], lat[ok])
    dist[ok] = np.asarray(metres) / 1000.0
    limit = max(min_km, factor * float(np.median(dist[ok])))
    return dist, limit, centre


def check_far_features(lon, lat, labels, path: str, layer: str, report: ProblemReport) -> np.ndarray:
    """Warn about each feature (centre in degrees) far from the rest of its layer; returns the
    mask of those features."""
    dist, limit, centre = far_features(lon, lat)
    far = np.nan_to_num(dist, nan=0.0) > limit
    idx = np.flatnonzero(far)
    labels = np.asarray(labels, dtype=object)
    for k in idx[:MAX_LISTED]:
        report.warning(path, "checks.far_feature", row=labels[k], field="geometry", km=f"{dist[k]:,.0f}",
                       layer=layer_name(layer), centre=f"{centre[0]:.4f}, {centre[1]:.4f}", limit=f"{limit:,.0f}")
    if len(idx) > MAX_LISTED:
        report.warning(path, "checks.more_far", field="geometry", n=len(idx) - MAX_LISTED, layer=layer_name(layer))
    return far


# ----------------------------------------------------------------------------------------------
# Coordinates in the wrong system (against the street network)

#: A reading in another system must cut the misfit by more than this share ...
ALIGN_MIN_DROP_SHARE = 0.5
#: ... and by more than this many metres (points: median distance to the nearest street;
#: polygons: street length crossing a community's interior, per community).
ALIGN_MIN_DROP_M = 100.0
#: Streets within this distance inside a polygon's edge run along it, not across it (m).
INTERIOR_INSET_M = 15.0
#: Features measured per layer (a fixed random sample beyond that; the misfit is a median/mean).
ALIGN_MAX_FEATURES = 2000
_NAMES = {"WGS-84": "checks.system_wgs84", "GCJ-02": "checks.system_gcj02", "BD-09": "checks.system_bd09"}


def street_misfit(geoms, streets: shapely.STRtree, street_geoms) -> float:
    """How badly features (metric CRS) sit on a street network, in metres.

    Points: the median distance to the nearest street. Polygons (compounds, whose edges follow
    the streets): the mean street length crossing a polygon's interior (inset by
    :data:`INTERIOR_INSET_M`), per polygon. Either grows when the layer is shifted off the streets.
    """
    geoms = np.asarray(geoms, dtype=object)
    if (shapely.get_type_id(geoms) == 0).all():
        _, dist = streets.query_nearest(geoms, return_distance=True, all_matches=False)
        return float(np.median(dist))
    inner = shapely.buffer(geoms, -INTERIOR_INSET_M)
    poly, edge = streets.query(inner, predicate="intersects")
    crossing = shapely.length(shapely.intersection(street_geoms[edge], inner[poly])).sum() if len(poly) else 0.0
    return float(crossing / len(geoms))


def _read_as(geoms, metric_crs, declared: str, actual: str):
    """The geometries (metric CRS) as they would be had their raw coordinates been read in
    ``actual`` instead of ``declared``."""
    to_ll = pyproj.Transformer.from_crs(metric_crs, 4326, always_xy=True)
    to_m = pyproj.Transformer.from_crs(4326, metric_crs, always_xy=True)

    def move(c: np.ndarray) -> np.ndarray:
        lon, lat = to_ll.transform(c[:, 0], c[:, 1])
        # Back to the raw coordinates as the file gave them, then read them as `actual`.
        lon, lat = crsmod.convert_lonlat(*crsmod.convert_lonlat(lon, lat, "WGS-84", declared), actual, "WGS-84")
        return np.column_stack(to_m.transform(lon, lat))

    return shapely.transform(geoms, move)


def check_street_alignment(geoms, metric_crs, street_geoms, *, declared: str, layer: str, path: str,
                           report: ProblemReport, min_features: int = 5) -> dict[str, float]:
    """Warn when a layer fits the streets markedly better read in another longitude/latitude system.

    ``geoms``: the layer in the metric CRS, as read with its ``declared`` system ("WGS-84",
    "GCJ-02" or "BD-09"). Amap/Tencent coordinates declared as WGS-84 sit 300–700 m off the
    streets in one direction across a Chinese city; reading them as GCJ-02 puts them back.
    Returns the misfit (m, see :func:`street_misfit`) for each reading tried.
    """
    geoms = np.asarray(geoms, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    street_geoms = np.asarray(street_geoms, dtype=object)
    if len(geoms) < min_features or not len(street_geoms):
        return {}
    if len(geoms) > ALIGN_MAX_FEATURES:
        geoms = np.random.default_rng(0).choice(geoms, ALIGN_MAX_FEATURES, replace=False)
    declared = crsmod.normalise_crs_name(declared)
    tree = shapely.STRtree(street_geoms)
    moved = {system: _read_as(geoms, metric_crs, declared, system)
             for system in crsmod.LONLAT_SYSTEMS if system != declared}
    misfit = {declared: street_misfit(geoms, tree, street_geoms)}
    misfit.update({system: street_misfit(g, tree, street_geoms) for system, g in moved.items()})
    best = min(moved, key=misfit.get)
    now, then = misfit[declared], misfit[best]
    log.info("street misfit of %s read as %s", layer,
             ", ".join(f"{k}: {v:.0f} m" for k, v in misfit.items()))
    if not (now - then > ALIGN_MIN_DROP_M and then < (1.0 - ALIGN_MIN_DROP_SHARE) * now):
        return misfit
    shift = _median_shift(geoms, moved[best])
    measure = Text("checks.measure_points" if (shapely.get_type_id(geoms) == 0).all() else "checks.measure_polygons")
    report.warning(path, "checks.off_streets" if best != "WGS-84" else "checks.off_streets_wgs84", field="crs",
                   layer=layer_name(layer), key=layer, looks=Text(_NAMES[best]), declared_name=Text(_NAMES[declared]),
                   best=best, declared=declared, shift=shift, measure=measure, now=f"{now:.0f}", then=f"{then:.0f}")
    return misfit


def _median_shift(before, after) -> Text:
    """'about 520 m south-west' (a :class:`Text`): the median displacement between two versions of the features."""
    a = shapely.get_coordinates(shapely.point_on_surface(before))
    b = shapely.get_coordinates(shapely.point_on_surface(after))
    dx, dy = np.median(b[:, 0] - a[:, 0]), np.median(b[:, 1] - a[:, 1])
    names = ("checks.dir_e", "checks.dir_ne", "checks.dir_n", "checks.dir_nw", "checks.dir_w", "checks.dir_sw",
             "checks.dir_s", "checks.dir_se")
    direction = names[int(np.round(np.degrees(np.arctan2(dy, dx)) / 45.0)) % 8]
    return Text("checks.shift", m=f"{np.hypot(dx, dy):.0f}", direction=Text(direction))
