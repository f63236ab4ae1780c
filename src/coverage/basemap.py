"""An offline street basemap drawn from the study's own OpenStreetMap walk network: streets by
class (main roads, local streets, footways), so a planner can find their street with no tile
server and no network connection.

The data is © OpenStreetMap contributors (ODbL); maps that draw it say so.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

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


def street_class(highway: pd.Series) -> np.ndarray:
    """Basemap class of each edge from its OSM ``highway`` value (lists: the first value)."""
    first = highway.astype(str).str.strip("[]'\" ").str.split(r"['\",]", regex=True).str[0]
    out = np.full(len(first), "local", dtype=object)
    for name, values in CLASSES.items():
        out[first.isin(values).to_numpy()] = name
    return out


def street_layers(net, *, simplify_m: float = 1.0) -> dict[str, gpd.GeoDataFrame]:
    """The network's streets per class in WGS-84, pieces of the same named street merged and
    simplified (``simplify_m``) to keep the page small. Columns ``name``, ``geometry``."""
    attrs = net.edge_attrs.reset_index(drop=True)
    highway = attrs["highway"] if "highway" in attrs else pd.Series([""] * net.n_edges)
    names = (attrs["name"] if "name" in attrs else pd.Series([""] * net.n_edges)).fillna("").astype(str)
    df = gpd.GeoDataFrame({"cls": street_class(highway), "name": names.str.strip("[]'\" ")},
                          geometry=shapely.simplify(net.edge_geometry, simplify_m), crs=net.crs)
    out = {}
    for cls in CLASSES:
        part = df[df["cls"] == cls]
        if not len(part):
            continue
        merged = part.dissolve(by="name", as_index=False)[["name", "geometry"]]
        merged["geometry"] = shapely.line_merge(merged.geometry.to_numpy())
        out[cls] = merged.to_crs(4326)
    return out
