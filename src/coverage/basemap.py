"""An offline basemap drawn from the study's own OpenStreetMap data, so a planner can find their
street with no tile server and no network connection: streets by class (main roads, local
streets, footways), water (lakes, ponds, riverbank areas; rivers and canals as lines), building
footprints drawn faint, and labels (street names, compound names, water names) placed once per
named street run and thinned so that they do not pile up.

The data is © OpenStreetMap contributors (ODbL); maps that draw it say so. Names stay data: the
map shows them as text, never as HTML (:mod:`eldercare_coverage.maps`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

log = logging.getLogger(__name__)

#: Street classes of the basemap, drawn bottom to top: OSM highway values -> class.
CLASSES: dict[str, tuple[str, ...]] = {
    "footway": ("footway", "path", "steps", "pedestrian", "cycleway", "track", "corridor", "bridleway"),
    "local": ("residential", "service", "living_street", "unclassified", "road"),
    "main": ("primary", "primary_link", "secondary", "secondary_link", "tertiary", "tertiary_link", "trunk",
             "trunk_link"),
}
#: Line style per class (colour, weight in px): faint greys under the coloured layers.
STYLES: dict[str, dict] = {
    "footway": {"color": "#bdbdbd", "weight": 1, "dashArray": "2,3", "opacity": 0.9},
    "local": {"color": "#9e9e9e", "weight": 1.5, "opacity": 0.9},
    "main": {"color": "#757575", "weight": 3, "opacity": 0.9},
}
ATTRIBUTION = "© OpenStreetMap contributors"
#: Edges of a gated network that are not streets (gate links, straight walks inside compounds,
#: the copies of compounds' internal ways, whose ``highway`` is ``compound_way;<highway>``).
NOT_STREETS = ("gate_link", "compound_walk", "compound_way")

#: Lowest zoom at which each kind of label shows (Leaflet zoom; 15 ≈ 4.8 m/px, 16 ≈ 2.4 m/px
#: at 30°N). Compounds first, then main roads, then every street: fewer, larger names first.
LABEL_MIN_ZOOM = {"water": 14, "compound": 15, "main": 15, "local": 16, "footway": 17}
#: Drawing order of the labels when they collide (lower wins).
LABEL_PRIORITY = {"compound": 0, "main": 1, "water": 2, "local": 3, "footway": 4}
#: A street run shorter than this gets no label (m): its name would not fit along it.
MIN_LABEL_RUN_M = 60.0
#: Two labels of the same name closer than this are one too many (m): dual carriageways and
#: streets split at a fork are one street to the reader.
SAME_NAME_SPACING_M = 300.0
#: Buildings show from this zoom (faint footprints are noise at city scale).
BUILDINGS_MIN_ZOOM = 15
#: At most this many building footprints go into a map (the largest); about 210 bytes each, so
#: a city's buildings add at most about 4 MB to the page.
MAX_BUILDINGS = 20_000
#: OSM tags read as water areas and as waterway lines.
WATER_AREA = {"natural": ("water",), "waterway": ("riverbank", "dock"), "landuse": ("reservoir", "basin")}
WATERWAY_LINES = ("river", "canal", "stream", "drain", "ditch")


def street_class(highway: pd.Series) -> np.ndarray:
    """Basemap class of each edge from its OSM ``highway`` value (lists: the first value)."""
    first = highway.astype(str).str.strip("[]'\" ").str.split(r"['\",;]", regex=True).str[0]
    out = np.full(len(first), "local", dtype=object)
    for name, values in CLASSES.items():
        out[first.isin(values).to_numpy()] = name
    return out


def _street_frame(net) -> gpd.GeoDataFrame:
    """The network's streets in its metric CRS with ``cls`` and ``name`` (first name of merged
    edges), without the links a gated network adds (they are not streets)."""
    attrs = net.edge_attrs.reset_index(drop=True)
    highway = attrs["highway"] if "highway" in attrs else pd.Series([""] * net.n_edges)
    names = (attrs["name"] if "name" in attrs else pd.Series([""] * net.n_edges)).fillna("").astype(str)
    names = names.str.strip("[]'\" ").str.split(r"['\";]", regex=True).str[0].str.strip()
    df = gpd.GeoDataFrame({"cls": street_class(highway), "name": names},
                          geometry=np.asarray(net.edge_geometry), crs=net.crs)
    return df[~highway.astype(str).str.split(";").str[0].isin(NOT_STREETS).to_numpy()]


def street_layers(net, *, simplify_m: float = 1.0) -> dict[str, gpd.GeoDataFrame]:
    """The network's streets per class in WGS-84, pieces of the same named street merged and
    simplified (``simplify_m``) to keep the page small. Columns ``name``, ``geometry``."""
    df = _street_frame(net)
    df = df.set_geometry(shapely.simplify(df.geometry.to_numpy(), simplify_m), crs=net.crs)
    out = {}
    for cls in CLASSES:
        part = df[df["cls"] == cls]
        if not len(part):
            continue
        merged = part.dissolve(by="name", as_index=False)[["name", "geometry"]]
        merged["geometry"] = shapely.line_merge(merged.geometry.to_numpy())
        out[cls] = merged.to_crs(4326)
    return out


# ----------------------------------------------------------------------------- OSM areas

def read_osm_features(path: str | Path, clip_wgs: Any | None = None) -> dict[str, gpd.GeoDataFrame]:
    """Water, waterways, buildings and named residential areas of an OSM file, in WGS-84.

    Reads XML, XML.bz2 and PBF with pyosmium (multipolygon relations assembled); ``clip_wgs`` (a
    lon/lat polygon) keeps only what intersects it. Returns ``{"water", "waterways",
    "buildings", "places"}``, each with ``name`` (``waterways`` also ``waterway``); GraphML holds
    none of them, so its frames are empty.
    """
    import osmium

    path = Path(path)
    rows: dict[str, list] = {k: [] for k in ("water", "waterways", "buildings", "places")}
    if not path.name.lower().endswith(".graphml"):
        wkb = osmium.geom.WKBFactory()
        fp = (osmium.FileProcessor(str(path)).with_locations().with_areas()
              .with_filter(osmium.filter.KeyFilter("building", "natural", "waterway", "landuse", "place")))
        for obj in fp:
            kind = _feature_kind(obj)
            if kind is None:
                continue
            try:
                geom = wkb.create_linestring(obj) if kind == "waterways" else wkb.create_multipolygon(obj)
            except Exception:  # noqa: BLE001 - osmium raises on broken rings / missing nodes: skip that feature
                continue
            rows[kind].append((geom, obj.tags.get("name", ""), obj.tags.get("waterway", "")))
    out = {}
    for kind, items in rows.items():
        geoms = shapely.from_wkb([g for g, _, _ in items]) if items else np.empty(0, dtype=object)
        data = {"name": [n for _, n, _ in items]}
        if kind == "waterways":
            data["waterway"] = [w for _, _, w in items]
        gdf = gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")
        if clip_wgs is not None and len(gdf):
            gdf = gdf[shapely.intersects(gdf.geometry.to_numpy(), clip_wgs)]
        out[kind] = gdf.reset_index(drop=True)
    return out


def _feature_kind(obj) -> str | None:
    """Which basemap layer an osmium object belongs to (None: none)."""
    tags = obj.tags
    if obj.is_area():
        if any(tags.get(k, "") in v for k, v in WATER_AREA.items()):
            return "water"
        if tags.get("building", "no") != "no":
            return "buildings"
        if tags.get("landuse") == "residential" and tags.get("name"):
            return "places"
        return None
    if obj.is_way() and tags.get("waterway", "") in WATERWAY_LINES:
        return "waterways"
    return None


def basemap_features(path: str | Path, metric_crs: Any, area: Any, margin_m: float = 200.0, *,
                     simplify_m: float = 1.5, max_buildings: int = MAX_BUILDINGS) -> dict[str, gpd.GeoDataFrame]:
    """:func:`read_osm_features` of the study area (``area``, a polygon in ``metric_crs``, plus
    ``margin_m``), in the metric CRS, simplified to ``simplify_m`` (m, about a pixel at zoom 17);
    only the ``max_buildings`` largest buildings are kept (logged when more are cut)."""
    clip = gpd.GeoSeries([shapely.buffer(area, margin_m)], crs=metric_crs).to_crs(4326).iloc[0]
    out = {}
    for kind, gdf in read_osm_features(path, clip).items():
        gdf = gdf.to_crs(metric_crs)
        if kind == "buildings" and len(gdf) > max_buildings:
            log.info("basemap: the %d largest of %d buildings are drawn", max_buildings, len(gdf))
            gdf = gdf.iloc[np.sort(np.argsort(-shapely.area(gdf.geometry.to_numpy()), kind="stable")[:max_buildings])]
        geoms = shapely.simplify(gdf.geometry.to_numpy(), simplify_m, preserve_topology=True)
        out[kind] = gdf.set_geometry(geoms, crs=metric_crs)
    log.info("basemap: %s", ", ".join(f"{len(v)} {k}" for k, v in out.items()))
    return out


# ----------------------------------------------------------------------------- labels

def labels(net=None, communities: gpd.GeoDataFrame | None = None,
           features: dict[str, gpd.GeoDataFrame] | None = None) -> gpd.GeoDataFrame:
    """Map labels in the metric CRS: one per named street run (at its middle, along it), one per
    named compound (the communities' names, then OSM's named residential areas outside them) and
    one per named water body or river.

    Columns ``text``, ``kind`` (compound / main / local / footway / water), ``angle`` (degrees,
    counter-clockwise from east, within ±90 so the text reads left to right), ``min_zoom`` and
    ``priority`` (lower wins a collision); rows in drawing priority order. Labels of the same
    name closer than :data:`SAME_NAME_SPACING_M` are thinned to one (the longest run's).
    """
    parts = []
    crs = None
    if net is not None and net.n_edges:
        crs = net.crs
        parts.append(_street_labels(_street_frame(net)))
    if communities is not None and len(communities) and "name" in communities:
        crs = crs or communities.crs
        parts.append(_area_labels(communities[["name", communities.geometry.name]], "compound"))
    features = features or {}
    places = features.get("places")
    if places is not None and len(places):
        crs = crs or places.crs
        if communities is not None and len(communities):  # the study's own compounds first
            inside = shapely.STRtree(communities.geometry.to_numpy()).query(
                shapely.point_on_surface(places.geometry.to_numpy()), predicate="within")[0]
            places = places.drop(places.index[np.unique(inside)])
        parts.append(_area_labels(places, "compound"))
    for kind in ("water", "waterways"):
        gdf = features.get(kind)
        if gdf is not None and len(gdf):
            crs = crs or gdf.crs
            parts.append(_area_labels(gdf, "water") if kind == "water" else _street_labels(gdf.assign(cls="water")))
    cols = ["text", "kind", "angle", "length", "x", "y"]
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=cols)
    df["priority"] = df["kind"].map(LABEL_PRIORITY).astype(int)
    df["min_zoom"] = df["kind"].map(LABEL_MIN_ZOOM).astype(int)
    df = df.sort_values(["priority", "length"], ascending=[True, False], kind="stable")
    df = _thin_same_name(df.reset_index(drop=True))
    return gpd.GeoDataFrame(df.drop(columns=["x", "y", "length"]),
                            geometry=shapely.points(df["x"].to_numpy(float), df["y"].to_numpy(float)), crs=crs)


def _clean_names(names: pd.Series) -> pd.Series:
    return names.fillna("").astype(str).str.strip()


def _street_labels(df: gpd.GeoDataFrame) -> pd.DataFrame:
    """One label per named run: the same-named lines of a class merged, each connected piece a run."""
    df = df.assign(name=_clean_names(df["name"]))
    df = df[df["name"] != ""]
    if not len(df):
        return pd.DataFrame()
    merged = df.dissolve(by=["cls", "name"], as_index=False)
    runs = merged.assign(geometry=shapely.line_merge(merged.geometry.to_numpy())).explode(index_parts=False)
    lines = runs.geometry.to_numpy()
    length = shapely.length(lines)
    keep = length >= MIN_LABEL_RUN_M
    runs, lines, length = runs[keep], lines[keep], length[keep]
    mid = shapely.line_interpolate_point(lines, 0.5, normalized=True)
    # direction of the run around its middle (±20 m): the label is drawn along it
    a = shapely.line_interpolate_point(lines, np.maximum(length / 2 - 20.0, 0.0))
    b = shapely.line_interpolate_point(lines, np.minimum(length / 2 + 20.0, length))
    angle = np.degrees(np.arctan2(shapely.get_y(b) - shapely.get_y(a), shapely.get_x(b) - shapely.get_x(a)))
    angle = (angle + 90.0) % 180.0 - 90.0  # read left to right
    return pd.DataFrame({"text": runs["name"].to_numpy(), "kind": runs["cls"].to_numpy(), "angle": np.round(angle, 1),
                         "length": length, "x": shapely.get_x(mid), "y": shapely.get_y(mid)})


def _area_labels(gdf: gpd.GeoDataFrame, kind: str) -> pd.DataFrame:
    """One horizontal label per named area, at a point inside it; larger areas first."""
    names = _clean_names(gdf["name"])
    gdf = gdf[(names != "").to_numpy()]
    if not len(gdf):
        return pd.DataFrame()
    geoms = gdf.geometry.to_numpy()
    pt = shapely.point_on_surface(geoms)
    return pd.DataFrame({"text": _clean_names(gdf["name"]).to_numpy(), "kind": kind, "angle": 0.0,
                         "length": np.sqrt(shapely.area(geoms)), "x": shapely.get_x(pt), "y": shapely.get_y(pt)})


def _thin_same_name(df: pd.DataFrame) -> pd.DataFrame:
    """Drop a label when one of the same text is already kept within :data:`SAME_NAME_SPACING_M`
    (rows are in priority order, so the main road's or the longest run's label stays)."""
    keep = np.ones(len(df), dtype=bool)
    for _, idx in df.groupby("text", sort=False).indices.items():
        if len(idx) < 2:
            continue
        kept: list[int] = []
        xy = df[["x", "y"]].to_numpy(float)[idx]
        for j in range(len(idx)):  # a handful of runs per name: a short loop
            if any(np.hypot(*(xy[j] - xy[k])) < SAME_NAME_SPACING_M for k in kept):
                keep[idx[j]] = False
            else:
                kept.append(j)
    return df[keep]
