"""Coordinate systems: Chinese web-map coordinates (GCJ-02, BD-09) to WGS-84, and the local
metric CRS every analysis runs in.

GCJ-02 ("Mars coordinates", used by Amap/Gaode, Tencent and Google China) and BD-09
(Baidu) are obfuscations of WGS-84 that pyproj does not know. The forward transforms are the
published formulas; the inverse transforms here iterate the forward one until it reproduces
the input to below 1e-9 degrees (about 0.1 mm), instead of the one-step approximation many
libraries use, which is off by centimetres (about 2 cm in Beijing). The small libraries on PyPI for this
(prcoords, coord-convert, eviltransform) have not been maintained since 2018–2019, so this
module is our own, vectorised over numpy arrays and tested against published reference
points and round trips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
from pyproj import CRS

from .messages import Text, layer_name

_A = 6378245.0  # Krasovsky 1940 semi-major axis used by the GCJ-02 formula (m)
_EE = 0.00669342162296594323  # its first eccentricity squared
_BD_PI = np.pi * 3000.0 / 180.0


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Rough bounding box outside which GCJ-02 applies no offset (as the published formula)."""
    return (lon > 72.004) & (lon < 137.8347) & (lat > 0.8293) & (lat < 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
            + (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    inside = _in_china(lon, lat)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 longitude/latitude (degrees) to GCJ-02."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def _invert(forward, lon, lat, tol_deg: float, max_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x) = (lon, lat) by fixed-point iteration; both offsets are small and smooth."""
    tlon = np.asarray(lon, dtype=float)
    tlat = np.asarray(lat, dtype=float)
    xlon, xlat = tlon.copy(), tlat.copy()
    for _ in range(max_iter):
        flon, flat = forward(xlon, xlat)
        elon, elat = flon - tlon, flat - tlat
        xlon = xlon - elon
        xlat = xlat - elat
        if np.nanmax(np.abs(np.concatenate([np.ravel(elon), np.ravel(elat)])), initial=0.0) < tol_deg:
            break
    return xlon, xlat


def gcj02_to_wgs84(lon, lat, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 longitude/latitude (degrees) to WGS-84, exact to ``tol_deg`` by fixed-point iteration."""
    return _invert(wgs84_to_gcj02, lon, lat, tol_deg, max_iter)


def gcj02_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to BD-09 (Baidu) longitude/latitude (degrees)."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat, tol_deg: float = 1e-10, max_iter: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to GCJ-02 longitude/latitude (degrees), exact to ``tol_deg`` by iteration."""
    return _invert(gcj02_to_bd09, lon, lat, tol_deg, max_iter)


def bd09_to_wgs84(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS-84 longitude/latitude (degrees)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to BD-09 longitude/latitude (degrees)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84 = {"GCJ-02": gcj02_to_wgs84, "BD-09": bd09_to_wgs84}
_FROM_WGS84 = {"GCJ-02": wgs84_to_gcj02, "BD-09": wgs84_to_bd09}
#: The longitude/latitude systems a Chinese study's coordinates come in.
LONLAT_SYSTEMS = ("WGS-84", "GCJ-02", "BD-09")


def convert_lonlat(lon, lat, source: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees) from one of :data:`LONLAT_SYSTEMS` to another."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    source, target = normalise_crs_name(source), normalise_crs_name(target)
    if source != "WGS-84":
        lon, lat = _TO_WGS84[source](lon, lat)
    if target != "WGS-84":
        lon, lat = _FROM_WGS84[target](lon, lat)
    return lon, lat


def normalise_crs_name(text: str) -> str:
    """Canonical spelling of the Chinese web CRS names ("gcj02", "GCJ_02" -> "GCJ-02")."""
    key = text.strip().upper().replace("_", "").replace("-", "")
    return {"GCJ02": "GCJ-02", "BD09": "BD-09", "BD09LL": "BD-09", "WGS84": "WGS-84"}.get(key, text.strip())


def is_chinese_web_crs(text: str) -> bool:
    return normalise_crs_name(text) in _TO_WGS84


def geometry_to_wgs84(geoms, crs_name: str):
    """Convert a shapely geometry array declared in GCJ-02 or BD-09 to WGS-84 (vectorised)."""
    import shapely

    func = _TO_WGS84[normalise_crs_name(crs_name)]

    def transform(coords: np.ndarray) -> np.ndarray:
        lon, lat = func(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms), transform)


_FROM_WGS84 = {"GCJ-02": wgs84_to_gcj02, "BD-09": wgs84_to_bd09}


def lonlat_columns(points, crs, web_crs: str = "") -> dict[str, np.ndarray]:
    """WGS-84 ``lon``/``lat`` of points (any CRS pyproj knows) and, when the user's inputs were in
    a Chinese web CRS (``"GCJ-02"`` for Amap/Tencent, ``"BD-09"`` for Baidu), the same points in
    that system as ``lon_gcj02``/``lat_gcj02`` or ``lon_bd09``/``lat_bd09``, to paste back into
    that map (degrees, 7 decimals: about 1 cm)."""
    import geopandas as gpd

    wgs = gpd.GeoSeries(points, crs=crs).to_crs(4326)
    lon, lat = wgs.x.to_numpy(), wgs.y.to_numpy()
    out = {"lon": lon.round(7), "lat": lat.round(7)}
    web = normalise_crs_name(web_crs) if web_crs else ""
    if web in _FROM_WGS84:
        wlon, wlat = _FROM_WGS84[web](lon, lat)
        tag = web.lower().replace("-", "")
        out[f"lon_{tag}"], out[f"lat_{tag}"] = np.round(wlon, 7), np.round(wlat, 7)
    return out


def utm_crs_for(lon: float, lat: float) -> CRS:
    """The WGS-84 UTM zone CRS containing a point given in degrees."""
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def _configured_metric_crs(configured: str) -> CRS:
    crs = CRS.from_user_input(configured)
    if crs.is_geographic:
        raise ValueError(f"{configured} is a geographic CRS (degrees); a metric CRS is needed")
    return crs


def pick_metric_crs(bounds_wgs84: tuple[float, float, float, float], configured: str = "auto") -> CRS:
    """Metric CRS for an area: the configured one, or the UTM zone of the bounding box's centre.

    A study's features should go through :func:`choose_metric_crs`, which a far outlier cannot
    move; this one is for an area known to be compact (a box drawn by hand, a tile).
    """
    if configured and configured != "auto":
        return _configured_metric_crs(configured)
    minx, miny, maxx, maxy = bounds_wgs84
    return utm_crs_for((minx + maxx) / 2.0, (miny + maxy) / 2.0)


@dataclass(frozen=True)
class MetricCRSChoice:
    """The metric CRS of a study and why it was chosen (a sentence for the problem report)."""

    crs: CRS
    #: Why, as a message (id and values) for the problem report in the study's language.
    message: Text

    @property
    def reason(self) -> str:
        """Why, in English."""
        return self.message.render("en")


def choose_metric_crs(lon, lat, configured: str = "auto", what: str = "features") -> MetricCRSChoice:
    """Metric CRS for features centred at ``lon``/``lat`` (degrees): the configured one, or the
    UTM zone of their median centre.

    The median, not the bounding box: one feature on the other side of the globe (a typo, a
    community near the antimeridian) moves a bounding box's centre by thousands of kilometres
    and with it the zone, which distorts every distance of the study; it cannot move the median
    of many. Non-finite coordinates are ignored.
    """
    if configured and configured != "auto":
        crs = _configured_metric_crs(configured)
        return MetricCRSChoice(crs, Text("crs.metric_configured", name=crs.name, value=configured))
    lon = np.ravel(np.asarray(lon, dtype=float))
    lat = np.ravel(np.asarray(lat, dtype=float))
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise ValueError("no feature has finite coordinates to choose a metric CRS from")
    lon, lat = lon[ok], lat[ok]
    mlon, mlat = float(np.median(lon)), float(np.median(lat))
    crs = utm_crs_for(mlon, mlat)
    zones = (np.floor((lon + 180.0) / 6.0).astype(int) % 60 + 1) * np.where(lat >= 0, 1, -1)
    chosen = (crs.to_epsg() % 100) * (1 if mlat >= 0 else -1)
    inside = int((zones == chosen).sum())
    outside = Text("crs.metric_outside", n=len(lon) - inside) if inside < len(lon) else ""
    return MetricCRSChoice(crs, Text("crs.metric_auto", name=crs.name, epsg=crs.to_epsg(), what=layer_name(what),
                                     lon=_degrees(mlon, "E", "W"), lat=_degrees(mlat, "N", "S"), inside=inside,
                                     total=len(lon), outside=outside))


def _degrees(value: float, positive: str, negative: str) -> str:
    return f"{abs(value):.4f}°{positive if value >= 0 else negative}"


def parse_crs(text: str) -> CRS:
    """A pyproj CRS from user text ("EPSG:4547", "4326", a PROJ or WKT string)."""
    text = text.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    return pyproj.CRS.from_user_input(text)
