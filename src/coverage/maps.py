"""Coverage maps: one self-contained folium/Leaflet page per study that renders offline.

The page embeds Leaflet 1.9.4 (vendored in ``coverage/assets`` with its licence) and a small
runtime of our own, so opening it from ``file://`` with no network shows every layer. No
script or stylesheet is fetched from a CDN; only an optional tile basemap uses the network.

Layers (each optional except communities): communities coloured by walk-coverage share,
switchable to floor-area gap; district and street boundaries; walk isochrones; demand points
beyond the walk limit; existing facilities, one layer per kind with its own symbol; candidate
and proposed sites. A legend, layer control, metric scale bar and a title box stating walk
speed, time limit and norm profile are always drawn.

User strings (names, districts, ids, the title, the basemap URL) never pass through a
template: folium renders only fixed templates naming elements by id, and every value is put
into the page afterwards as JSON in ``<script type="application/json">`` blocks, with ``<``,
``>`` and ``&`` escaped; the runtime shows them with ``textContent``, never as HTML. Geometries are simplified in
the metric CRS (``simplify_m``) and coordinates rounded to 1e-6° (≈0.1 m) to keep pages small.

Public functions: :func:`make_map`, :func:`write_map`, :func:`write_png`,
:func:`site_reach`, :func:`external_resources`, :func:`find_chromium`.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, NamedTuple

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from folium.map import Layer
from folium.template import Template

from .config import REFUSED_TILE_HINTS
from .crs import wgs84_to_gcj02
from .errors import InputError
from .schema import FACILITY_KINDS

log = logging.getLogger(__name__)

#: Degrees of latitude per metre, used when a layer arrives in a geographic CRS.
_DEG_PER_M = 1.0 / 111_320.0
#: Coordinate rounding of the embedded geometries (degrees; 1e-6° ≈ 0.11 m).
_DECIMALS = 6

#: Bins of the walk-coverage choropleth (share of residents within the limit, 0..1), red→blue
#: (ColorBrewer RdBu: told apart with every common colour-vision deficiency, unlike red→green).
COVERAGE_BINS = (0.25, 0.5, 0.75, 0.9)
COVERAGE_COLORS = ("#b2182b", "#ef8a62", "#fddbc7", "#67a9cf", "#2166ac")
#: Bins of the floor-area gap (m² short of the norm). 100/300/700 m² are the floor areas of a
#: service station, a service centre and a day-care centre, so a bin reads as "one more X".
GAP_BINS = (0.0, 100.0, 300.0, 700.0)
GAP_COLORS = ("#2166ac", "#fee6ce", "#fdae6b", "#f16913", "#a63603")  # met: blue; gaps: oranges
MISSING_COLOR = "#bdbdbd"
#: More candidate sites than this start hidden (still in the layer control).
MAX_SHOWN_CANDIDATES = 500
ISOCHRONE_COLORS = ("#3f007d", "#6a51a3", "#9e9ac8", "#cbc9e2", "#efedf5")  # purples, apart from the blue/red fills
#: Demand points beyond the limit: black dots with a white rim, visible on the red fill too.
DEMAND_BEYOND_STYLE = {"color": "#ffffff", "fillColor": "#000000", "weight": 0.8, "fillOpacity": 0.9}

#: One symbol and colour per facility kind (inline SVG, no icon font needed offline).
_SHAPES = {
    "square": '<rect x="3" y="3" width="14" height="14"/>',
    "diamond": '<polygon points="10,1 19,10 10,19 1,10"/>',
    "circle": '<circle cx="10" cy="10" r="7"/>',
    "triangle": '<polygon points="10,2 19,18 1,18"/>',
    "down": '<polygon points="1,2 19,2 10,18"/>',
    "cross": '<polygon points="7,2 13,2 13,7 18,7 18,13 13,13 13,18 7,18 7,13 2,13 2,7 7,7"/>',
    "star": '<polygon points="10,1 12.6,7.2 19,7.6 14,11.8 15.6,18.4 10,14.8 4.4,18.4 6,11.8 1,7.6 7.4,7.2"/>',
    "ring": '<circle cx="10" cy="10" r="6" fill="none" stroke-width="2.5" stroke-dasharray="3,2"/>',
}
KIND_SYMBOLS: dict[str, tuple[str, str]] = {
    "day_care_centre": ("square", "#CC79A7"),   # Okabe-Ito: reddish purple
    "service_centre": ("diamond", "#009E73"),   # bluish green
    "service_station": ("circle", "#E69F00"),   # orange
    "nursing_home": ("triangle", "#56B4E9"),    # sky blue
    "meal_point": ("down", "#F0E442"),          # yellow
    "other": ("cross", "#525252"),
}
_PROPOSED_SYMBOL = ("star", "#D55E00")  # vermillion
_CANDIDATE_SYMBOL = ("ring", "#252525")
#: Gate symbols by status (a bar, as a gate in a wall): blue filled = open to everyone, blue
#: outline = residents only, grey crossed = closed at the study hour, grey dashed = not on any
#: compound boundary. Told apart by shape and fill, not by colour alone.
GATE_STATUSES = ("public", "residents", "closed", "unused")
_GATE_SVG = {
    "public": '<rect x="1.5" y="6" width="17" height="8" rx="1.5" fill="#0072B2" stroke="#ffffff" stroke-width="1.5"/>',
    "residents": '<rect x="2" y="6.5" width="16" height="7" rx="1.5" fill="#ffffff" stroke="#0072B2" stroke-width="2.2"/>',
    "closed": '<rect x="2" y="6.5" width="16" height="7" rx="1.5" fill="#bdbdbd" stroke="#525252" stroke-width="1.2"/>'
              '<path d="M6 4 L14 16 M14 4 L6 16" stroke="#252525" stroke-width="2"/>',
    "unused": '<rect x="2" y="6.5" width="16" height="7" rx="1.5" fill="none" stroke="#737373" stroke-width="1.5" '
              'stroke-dasharray="2.5,1.5"/>',
}
#: Gates show from this zoom on (99 bars at city scale are clutter; a planner zooms to a compound).
GATES_MIN_ZOOM = 15

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "communities_coverage": "社区：老年人步行覆盖率",
        "communities_gap": "社区：设施建筑面积缺口",
        "districts": "区界", "streets": "街道界",
        "isochrones": "步行等时圈", "demand_beyond": "超出步行时限的需求点",
        "facilities": "现有设施", "candidates": "候选点", "proposed": "建议新建设施",
        "share_elderly": "老年人步行覆盖率（{t} 分钟）", "share_residents": "居民步行覆盖率（{t} 分钟）",
        "no_coverage": "无覆盖率数据", "no_data": "无数据",
        "gap_title": "设施建筑面积缺口（m²）", "gap_met": "达标（无缺口）",
        "band": "{m} 分钟", "beyond": "步行超过 {t} 分钟的需求点",
        "walk_speed": "步行速度", "time_limit": "步行时限", "norm_profile": "规范配置",
        "minutes": "分钟", "legend": "图例", "gcj02_note": "图层已偏移至 GCJ-02 坐标以对齐高德底图",
        "f_name": "名称", "f_id": "编号", "f_district": "区", "f_street": "街道",
        "f_population": "常住人口", "f_elderly": "60岁以上人口", "f_share_elderly": "老年人步行覆盖率",
        "f_share_residents": "居民步行覆盖率", "f_gap": "面积缺口", "f_required_tier": "应配设施等级",
        "f_kind": "类型", "f_floor_area": "建筑面积", "f_beds": "床位", "f_residents_within": "步行可达居民",
        "f_elderly_within": "步行可达老年人", "f_time": "步行时间", "f_limit": "时限", "f_site": "设施编号",
        "f_max_floor_area": "可用面积", "f_cost": "成本（元）", "f_weight": "人口权重", "f_community": "社区编号", "f_nearest": "最近设施",
        "u_min": "分钟",
        "basemap": "街道底图（OpenStreetMap）", "f_capacity": "服务能力（人）", "f_served": "服务人数",
        "f_newly_covered": "新增覆盖人数", "f_lon": "经度", "f_lat": "纬度", "f_lon_web": "经度（{s}）",
        "f_lat_web": "纬度（{s}）", "layers": "图层",
        "gates": "小区出入口", "gates_zoom": "小区出入口（放大至 {z} 级及以上显示）",
        "gate_public": "对所有人开放", "gate_residents": "仅限本小区居民",
        "gate_closed": "{h} 时关闭或禁止通行", "gate_unused": "不在小区边界上（未使用）",
        "f_gate_type": "通行", "f_hours": "开放时间", "f_access": "通行限制（access）",
        "f_compound": "所属小区", "hours_untagged": "未标注（按全天开放计）",
        "f_why_unused": "未使用原因", "why_off_boundary": "距任何小区边界超过 {m} 米",
        "why_access_no": "禁止通行（access=no）", "why_closed_at_hour": "{h} 时不在开放时间内（{hours}）", "why_closed_short": "{h} 时不在开放时间内",
        "why_count": "{why}：{n} 个",
    },
    "en": {
        "communities_coverage": "Communities: walk coverage",
        "communities_gap": "Communities: floor-area gap",
        "districts": "District boundaries", "streets": "Street boundaries",
        "isochrones": "Walk isochrones", "demand_beyond": "Demand beyond walk limit",
        "facilities": "Existing", "candidates": "Candidate sites", "proposed": "Proposed sites",
        "share_elderly": "Share of residents 60+ within {t} min walk",
        "share_residents": "Share of residents within {t} min walk",
        "no_coverage": "No coverage data", "no_data": "No data",
        "gap_title": "Floor-area gap (m²)", "gap_met": "Norm met (no gap)",
        "band": "{m} min", "beyond": "Demand points more than {t} min walk away",
        "walk_speed": "Walk speed", "time_limit": "Time limit", "norm_profile": "Norm profile",
        "minutes": "min", "legend": "Legend",
        "gcj02_note": "Overlays shifted to GCJ-02 to line up with the Amap tiles",
        "f_name": "Name", "f_id": "ID", "f_district": "District", "f_street": "Street",
        "f_population": "Residents", "f_elderly": "Residents 60+", "f_share_elderly": "Older residents' walk coverage",
        "f_share_residents": "Residents' walk coverage", "f_gap": "Floor-area gap",
        "f_required_tier": "Required tier", "f_kind": "Kind", "f_floor_area": "Floor area",
        "f_beds": "Beds", "f_residents_within": "Residents within reach",
        "f_elderly_within": "Residents 60+ within reach", "f_time": "Walk time", "f_limit": "Limit",
        "f_site": "Site", "f_max_floor_area": "Max floor area", "f_cost": "Cost (CNY)",
        "f_weight": "Weight (residents)", "f_community": "Community",
        "f_nearest": "Nearest facility", "u_min": "min",
        "basemap": "Street basemap (OpenStreetMap)", "f_capacity": "Capacity (persons)", "f_served": "Demand served",
        "f_newly_covered": "Newly covered", "f_lon": "Longitude", "f_lat": "Latitude", "f_lon_web": "Longitude ({s})",
        "f_lat_web": "Latitude ({s})", "layers": "Layers",
        "gates": "Compound gates", "gates_zoom": "Compound gates (shown from zoom {z})",
        "gate_public": "Open to everyone", "gate_residents": "Residents only",
        "gate_closed": "Closed or no entry at {h}", "gate_unused": "Not on a compound boundary (not used)",
        "f_gate_type": "Use", "f_hours": "Opening hours", "f_access": "Access tag",
        "f_compound": "Compound", "hours_untagged": "not tagged (counted as always open)",
        "f_why_unused": "Why not used", "why_off_boundary": "More than {m} m from any compound boundary",
        "why_access_no": "No entry (access=no)", "why_closed_at_hour": "Closed at {h} (opening hours {hours})", "why_closed_short": "Closed at {h} (opening hours)",
        "why_count": "{why}: {n}",
    },
}

#: Basemaps that need the network. Tianditu serves CGCS2000 ≈ WGS-84 (sub-metre), so
#: overlays need no shift; OpenStreetMap is WGS-84 / Web Mercator.
_OSM_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_OSM_ATTR = "&copy; OpenStreetMap contributors"
_TIANDITU_URL = ("https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TILECOL={x}&TILEROW={y}&TILEMATRIX={z}&tk={key}")
_TIANDITU_ATTR = "&copy; 天地图 Tianditu"
#: Amap/Gaode tiles are Web Mercator XYZ tiles drawn in GCJ-02: the overlays are shifted from
#: WGS-84 to GCJ-02 (eldercare_coverage.crs) so they line up with the streets on the tiles.
_AMAP_URL = ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8"
             "&x={x}&y={y}&z={z}")
_AMAP_ATTR = "&copy; 高德地图 AutoNavi"
_GCJ02_TILE_HINTS = ("amap", "gaode", "autonavi")


#: Other names of the community_stats columns the map reads.
_STATS_ALIASES = {"area_gap_m2": "gap_m2", "tier_required": "required_tier"}


# ----------------------------------------------------------------------------- assets

def _asset_text(name: str) -> str:
    return resources.files("eldercare_coverage").joinpath("assets", name).read_text(encoding="utf-8")


def _asset_b64(name: str) -> str:
    data = resources.files("eldercare_coverage").joinpath("assets", name).read_bytes()
    return base64.b64encode(data).decode("ascii")


def _leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined, so no relative file is requested."""
    css = _asset_text("leaflet.css")
    for img in ("layers-2x.png", "layers.png"):
        css = css.replace(f"url(images/{img})", f"url(data:image/png;base64,{_asset_b64(img)})")
    # We never use L.Icon.Default; dropping its path keeps the browser from asking for it.
    return css.replace("url(images/marker-icon.png)", "none")


_RUNTIME_CSS = """
.leaflet-container { background: #f2f2ef; font-family: "Noto Sans CJK SC", "WenQuanYi Micro Hei",
  "Microsoft YaHei", "PingFang SC", "Helvetica Neue", Arial, sans-serif; }
.cov-box { background: rgba(255,255,255,0.93); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font-size: 12px; line-height: 1.45; max-width: 330px; }
.cov-title b { font-size: 14px; }
.cov-legend-section { margin-bottom: 5px; }
.cov-legend-section .cov-h { font-weight: bold; }
.cov-sw { display: inline-block; width: 14px; height: 11px; margin-right: 5px; vertical-align: -1px;
  border: 1px solid #777; }
.cov-line { display: inline-block; width: 18px; height: 0; margin-right: 5px; vertical-align: 3px; }
.cov-icon { background: none; border: none; }
.cov-sym { display: inline-block; width: 14px; height: 14px; margin-right: 5px; vertical-align: -2px; }
.cov-popup th { text-align: left; padding-right: 8px; font-weight: normal; color: #555; }
.cov-popup .cov-ph { font-weight: bold; font-size: 13px; margin-bottom: 3px; }
.cov-legend { max-height: 42vh; overflow-y: auto; }
.cov-legend summary { font-weight: bold; cursor: pointer; }
.leaflet-control-layers-list { max-height: 40vh; overflow-y: auto; }
.cov-attr { color: #555; font-size: 11px; margin-top: 3px; }
.cov-labels span { position: absolute; white-space: nowrap; pointer-events: none; line-height: 1;
  color: #4a4a4a; font-size: 11px; text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
.cov-labels .cov-lbl-compound { color: #3d3d3d; font-size: 12px; font-weight: bold; }
.cov-labels .cov-lbl-main { color: #333; font-size: 12px; }
.cov-labels .cov-lbl-footway { color: #777; font-size: 10px; }
.cov-labels .cov-lbl-water { color: #2b6f95; font-style: italic; }
@media (max-width: 900px), (max-height: 700px) { .cov-box { max-width: 240px; font-size: 11px; } }
"""

# The runtime builds layers from column-oriented data (compact for 10^5 points) and renders
# every data value with textContent, so no user string is ever parsed as HTML.
_RUNTIME_JS = r"""
window.COVERAGE = {layers: {}, units: {}, canvas: null, parsed: {}};
// Every value (layer data, labels, tile URLs, titles) arrives as JSON in a
// <script type="application/json"> block: data is parsed, never rendered by a template.
COVERAGE.data = function (id) {
  if (!(id in COVERAGE.parsed)) COVERAGE.parsed[id] = JSON.parse(document.getElementById(id).textContent);
  return COVERAGE.parsed[id];
};
COVERAGE.build = function (id) {
  var a = COVERAGE.data(id);
  return COVERAGE.layer(a.key, COVERAGE.data(a.data), a.spec);
};
COVERAGE.tiles = function (id) {
  var a = COVERAGE.data(id);
  return L.tileLayer(a.url, a.options);
};
COVERAGE.fmt = function (v, kind) {
  if (v === null || v === undefined || v === "") return "—";
  var u = COVERAGE.units;
  if (kind === "pct") return (100 * v).toFixed(1) + "%";
  if (kind === "int") return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  if (kind === "m2") return Math.round(v).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") + " m²";
  if (kind === "min") return Number(v).toFixed(1) + " " + u.min;
  if (kind === "num") return String(Math.round(100 * v) / 100);
  return String(v);
};
COVERAGE.features = function (data) {
  var n = data.geoms ? data.geoms.length : data.lon.length;
  var keys = Object.keys(data.props), feats = new Array(n);
  for (var i = 0; i < n; i++) {
    var p = {};
    for (var j = 0; j < keys.length; j++) p[keys[j]] = data.props[keys[j]][i];
    feats[i] = {type: "Feature", properties: p, geometry: data.geoms ? data.geoms[i] :
                {type: "Point", coordinates: [data.lon[i], data.lat[i]]}};
  }
  return {type: "FeatureCollection", features: feats};
};
COVERAGE.table = function (props, popup) {
  var box = document.createElement("div");
  box.className = "cov-popup";
  if (popup.title) {
    var h = document.createElement("div");
    h.className = "cov-ph";
    h.textContent = COVERAGE.fmt(props[popup.title], "text");
    box.appendChild(h);
  }
  var t = document.createElement("table");
  popup.fields.forEach(function (f) {
    var tr = document.createElement("tr"), th = document.createElement("th"),
        td = document.createElement("td");
    th.textContent = f[0];
    td.textContent = COVERAGE.fmt(props[f[1]], f[2]);
    tr.appendChild(th); tr.appendChild(td); t.appendChild(tr);
  });
  box.appendChild(t);
  return box;
};
COVERAGE.renderers = {};
// Panes of the offline basemap, between the tiles (200) and the overlays (400), so a part shown
// only from some zoom on (buildings) is still drawn under the coverage fills; labels above them.
L.Map.addInitHook(function () {
  this.createPane("covBuildings").style.zIndex = 340;
  this.createPane("covBase").style.zIndex = 350;
  var labels = this.createPane("covLabels");
  labels.style.zIndex = 450;
  labels.style.pointerEvents = "none";
});
COVERAGE.layer = function (key, data, spec) {
  var opts = {interactive: spec.interactive !== false};
  if (spec.pane) {  // the basemap draws in panes of its own, under every overlay whenever it is shown
    if (!COVERAGE.renderers[spec.pane]) COVERAGE.renderers[spec.pane] = L.canvas({pane: spec.pane, padding: 0.3});
    opts.pane = spec.pane;
    opts.renderer = COVERAGE.renderers[spec.pane];
  }
  if (spec.palette) {
    var pal = spec.palette;
    opts.style = function (f) {
      var b = f.properties[pal.field], s = Object.assign({}, spec.style);
      s.fillColor = (b === null || b === undefined) ? pal.missing : pal.colors[b];
      if (pal.stroke) s.color = s.fillColor;
      return s;
    };
  } else {
    opts.style = function () { return spec.style; };
  }
  if (spec.icon || spec.icons) {
    var mk = function (svg) {
      return L.divIcon({html: svg, className: "cov-icon", iconSize: [spec.size, spec.size],
                        iconAnchor: [spec.size / 2, spec.size / 2]});
    };
    var icon = spec.icon ? mk(spec.icon) : null;
    var icons = spec.icons ? spec.icons.svg.map(mk) : null;
    opts.pointToLayer = function (f, ll) {
      var ic = icons ? icons[f.properties[spec.icons.field]] || icons[0] : icon;
      return L.marker(ll, {icon: ic, keyboard: false, interactive: opts.interactive});
    };
  } else if (spec.radius) {
    if (!COVERAGE.canvas) COVERAGE.canvas = L.canvas({padding: 0.3});
    opts.pointToLayer = function (f, ll) {
      var r = spec.radiusField ? (f.properties[spec.radiusField] || spec.radius) : spec.radius;
      return L.circleMarker(ll, Object.assign({radius: r, renderer: COVERAGE.canvas,
                                               interactive: opts.interactive}, spec.style));
    };
  }
  if (opts.interactive) {
    opts.onEachFeature = function (f, layer) {
      if (spec.popup) layer.bindPopup(function () { return COVERAGE.table(f.properties, spec.popup); });
      if (spec.tooltip) layer.bindTooltip(function () {
        var el = document.createElement("span");
        el.textContent = COVERAGE.fmt(f.properties[spec.tooltip], "text");
        return el;
      }, {sticky: true});
    };
  }
  var lyr = L.geoJSON(COVERAGE.features(data), opts);
  if (spec.minZoom) lyr = new COVERAGE.ZoomGroup(lyr, spec.minZoom);
  COVERAGE.layers[key] = lyr;
  return lyr;
};
// A layer drawn only from minZoom up (buildings, gates): ticked in the layer control, but
// thousands of small shapes stay off the city-wide view.
COVERAGE.ZoomGroup = L.LayerGroup.extend({
  initialize: function (inner, minZoom) {
    L.LayerGroup.prototype.initialize.call(this, []);
    this.inner = inner;
    this.minZoom = minZoom;
  },
  onAdd: function (map) {
    L.LayerGroup.prototype.onAdd.call(this, map);
    map.on("zoomend", this._sync, this);
    this._sync();
  },
  onRemove: function (map) {
    map.off("zoomend", this._sync, this);
    L.LayerGroup.prototype.onRemove.call(this, map);
  },
  _sync: function () {
    var show = this._map.getZoom() >= this.minZoom;
    if (show && !this.hasLayer(this.inner)) this.addLayer(this.inner);
    if (!show && this.hasLayer(this.inner)) this.removeLayer(this.inner);
  }
});
// The offline basemap: water, waterways, buildings and streets, then the labels, as one layer.
COVERAGE.basemap = function (id) {
  var a = COVERAGE.data(id), group = L.featureGroup();
  a.parts.forEach(function (p) { group.addLayer(COVERAGE.layer(p[0], COVERAGE.data(p[1]), p[2])); });
  if (a.labels) group.addLayer(new COVERAGE.Labels(COVERAGE.data(a.labels), a.kinds, a.obstacles || []));
  COVERAGE.layers[a.key] = group;
  return group;
};
// Map labels (street, compound and water names) in their own pane above the fills. Redrawn
// after every move: a label shows from its zoom on, in priority order, unless it would overlap
// one already placed (boxes estimated from the text: CJK characters are square, Latin ~0.6).
// The symbols of the marker layers shown (facilities, candidate and proposed sites) are
// obstacles in the same pass, placed first: a label on one moves beside it (along its street;
// a compound name also below or above it) or, with no free place, is left out. Text is set
// with textContent, never parsed as HTML.
COVERAGE.Labels = L.Layer.extend({
  initialize: function (data, kinds, obstacles) { this.d = data; this.kinds = kinds; this.obstacles = obstacles; },
  onAdd: function (map) {
    this._el = L.DomUtil.create("div", "cov-labels", map.getPane("covLabels"));
    map.on("moveend resize overlayadd overlayremove", this._draw, this);
    map.on("zoomstart", this._hide, this);
    this._draw();
    // the marker layers are added to the map after the basemap: place again once they are there
    L.Util.requestAnimFrame(this._draw, this);
  },
  onRemove: function (map) {
    map.off("moveend resize overlayadd overlayremove", this._draw, this);
    map.off("zoomstart", this._hide, this);
    L.DomUtil.remove(this._el);
  },
  _hide: function () { this._el.style.display = "none"; },
  // Screen boxes [x0, y0, x1, y1] of the marker symbols now on the map and near the view; each
  // obstacle is [layer key, data block id, symbol size in px] (the symbol is centred on its point).
  _markerBoxes: function (size) {
    var map = this._map, out = [];
    this.obstacles.forEach(function (o) {
      var lyr = COVERAGE.layers[o[0]], r = o[2] / 2;
      if (!lyr || !map.hasLayer(lyr)) return;
      var pts = COVERAGE.data(o[1]);
      for (var i = 0; i < pts.lon.length; i++) {
        var c = map.latLngToContainerPoint([pts.lat[i], pts.lon[i]]);
        if (c.x < -200 || c.y < -100 || c.x > size.x + 200 || c.y > size.y + 100) continue;
        out.push([c.x - r, c.y - r, c.x + r, c.y + r]);
      }
    });
    return out;
  },
  _draw: function () {
    if (!this._map) return;
    var map = this._map, d = this.d, p = d.props, z = map.getZoom(), size = map.getSize();
    var el = this._el, marks = this._markerBoxes(size), boxes = [], frag = document.createDocumentFragment();
    var hits = function (box, list) {
      for (var k = 0; k < list.length; k++) {
        var o = list[k];
        if (box[0] < o[2] && o[0] < box[2] && box[1] < o[3] && o[1] < box[3]) return true;
      }
      return false;
    };
    el.textContent = "";
    el.style.display = "";
    for (var i = 0; i < d.lon.length; i++) {
      if (p.z[i] > z) continue;
      var ll = L.latLng(d.lat[i], d.lon[i]), c = map.latLngToContainerPoint(ll);
      if (c.x < -100 || c.y < -50 || c.x > size.x + 100 || c.y > size.y + 50) continue;
      var text = String(p.t[i]), kind = this.kinds[p.k[i]], fs = kind === "compound" || kind === "main" ? 12 : 11;
      var w = 0;
      for (var j = 0; j < text.length; j++) w += text.charCodeAt(j) > 0x2e80 ? fs : 0.6 * fs;
      var h = fs * 1.25, rad = (p.a[i] || 0) * Math.PI / 180, cs = Math.abs(Math.cos(rad)), sn = Math.abs(Math.sin(rad));
      var bw = (w * cs + h * sn) / 2 + 3, bh = (w * sn + h * cs) / 2 + 3;
      var box = [c.x - bw, c.y - bh, c.x + bw, c.y + bh], shift = [0, 0];
      if (hits(box, boxes)) continue;  // another label is there: left out, as always
      if (hits(box, marks)) {
        // beside the symbol: along the text (its street) either way, a compound name also
        // below or above; 15 px clears the largest symbol (22 px) with the 3 px margin
        var al = w / 2 + 15, ux = Math.cos(rad) * al, uy = -Math.sin(rad) * al, ac = h / 2 + 15;
        var tries = kind === "compound" ? [[0, ac], [0, -ac], [ux, uy], [-ux, -uy]] : [[ux, uy], [-ux, -uy]];
        shift = null;
        for (var t = 0; t < tries.length && !shift; t++) {
          var b = [box[0] + tries[t][0], box[1] + tries[t][1], box[2] + tries[t][0], box[3] + tries[t][1]];
          if (!hits(b, boxes) && !hits(b, marks)) { shift = tries[t]; box = b; }
        }
        if (!shift) continue;
      }
      boxes.push(box);
      var lp = map.latLngToLayerPoint(ll), span = document.createElement("span");
      span.className = "cov-lbl-" + kind;
      span.textContent = text;
      span.style.left = (lp.x + shift[0]) + "px";
      span.style.top = (lp.y + shift[1]) + "px";
      span.style.transform = "translate(-50%,-50%) rotate(" + (-(p.a[i] || 0)) + "deg)";
      frag.appendChild(span);
    }
    el.appendChild(frag);
  }
});
COVERAGE.box = function (map, position, className, htmlText) {
  var ctl = L.control({position: position});
  ctl.onAdd = function () {
    var d = L.DomUtil.create("div", "cov-box " + className);
    d.innerHTML = htmlText;  // built in Python with every user string escaped
    L.DomEvent.disableClickPropagation(d);
    L.DomEvent.disableScrollPropagation(d);
    return d;
  };
  return ctl.addTo(map);
};
COVERAGE.syncLegend = function (map) {
  if (!COVERAGE.legend) return;
  var secs = COVERAGE.legend.getContainer().querySelectorAll(".cov-legend-section");
  secs.forEach(function (s) {
    var lyr = COVERAGE.layers[s.getAttribute("data-layer")];
    s.style.display = (lyr && map.hasLayer(lyr)) ? "" : "none";
  });
};
COVERAGE.controls = function (map, cfg) {
  COVERAGE.units = cfg.units;
  L.control.scale({imperial: false, position: "bottomleft"}).addTo(map);
  COVERAGE.title = COVERAGE.box(map, "topleft", "cov-title", cfg.title_html);
  COVERAGE.legend = COVERAGE.box(map, "bottomright", "cov-legend", cfg.legend_html);
  // The two community choropleths share the polygons: showing one hides the other. Deferred
  // because the layer control re-adds every ticked layer after firing "overlayadd"; removing
  // outside its click handler also unticks the other box.
  var pair = ["communities_coverage", "communities_gap"];
  map.on("overlayadd", function (e) {
    pair.forEach(function (k, i) {
      var other = COVERAGE.layers[pair[1 - i]];
      if (e.layer === COVERAGE.layers[k] && other) setTimeout(function () {
        if (map.hasLayer(other) && map.hasLayer(e.layer)) map.removeLayer(other);
        COVERAGE.syncLegend(map);
      }, 0);
    });
    COVERAGE.syncLegend(map);
  });
  map.on("overlayremove", function () { COVERAGE.syncLegend(map); });
  COVERAGE.syncLegend(map);
  COVERAGE.map = map;
  COVERAGE.ready = true;
};
"""


def _json(obj: Any) -> str:
    """Compact strict JSON (no NaN); made script-safe only where it enters the page."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _script_escape(text: str) -> str:
    """JSON text safe inside ``<script>``: no ``</script>`` or ``<!--``, no HTML entities, no JS
    line breaks. JSON has ``<``, ``>`` and ``&`` only inside strings, where ``\\u003c`` etc. mean
    the same characters."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


#: Where the page's data, title and inlined assets go once folium has rendered the page.
_SLOT = "<!--coverage-page-slot-->"


class _CoveragePage(Figure):
    """The page of a coverage map: folium renders only our fixed templates and element ids;
    the title, the inlined Leaflet and every JSON payload are put in afterwards, by plain string
    insertion. So no string from an input file or the config ever reaches Jinja2 (folium renders
    a macro's output a second time as a template: ``{{7*7}}`` in a name would become 49).
    """

    def render(self, **kwargs) -> str:
        self.header.add_child(Element(_SLOT), name="coverage_slot")
        page = super().render(**kwargs)
        head, slot, tail = page.partition(_SLOT)
        if not slot:  # cannot happen: the slot is a child of this figure's header
            raise RuntimeError("coverage map page lost its data slot")
        return head + self._inserted() + tail

    def _inserted(self) -> str:
        maps = [c for c in self._children.values() if isinstance(c, _OfflineMap)]
        title = next((m.page_title for m in maps if m.page_title), "")
        parts = [f"<title>{html.escape(title)}</title>" if title else "",
                 "<style>" + _leaflet_css() + _RUNTIME_CSS + "</style>",
                 # "</script" cannot occur in Leaflet's minified source, but guard it anyway.
                 "<script>" + _asset_text("leaflet.js").replace("</script", "<\\/script") + "</script>",
                 "<script>" + _RUNTIME_JS + "</script>"]
        for m in maps:
            for block_id, text in m.data_blocks.items():
                parts.append(f'<script type="application/json" id="{html.escape(block_id)}">'
                             f"{_script_escape(text)}</script>")
        return "\n".join(parts)


class _OfflineMap(folium.Map):
    """A folium.Map that inlines Leaflet instead of linking CDN scripts and stylesheets and
    keeps every value as JSON data outside the templates (see :class:`_CoveragePage`).

    folium's defaults pull jQuery, Bootstrap, Font Awesome and awesome-markers from CDNs; this
    map needs none of them (symbols are inline SVG, controls are plain Leaflet).
    """

    default_js: list = []
    default_css: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _CoveragePage().add_child(self)  # instead of the plain Figure folium made
        self.page_title = ""
        #: JSON payloads by element id, inserted into the page after folium renders it.
        self.data_blocks: dict[str, str] = {}

    def add_data(self, block_id: str, json_text: str) -> str:
        """Register a JSON payload for the page under ``block_id``; returns the id."""
        self.data_blocks[block_id] = json_text
        return block_id

    def render(self, **kwargs):
        if not isinstance(self.get_root(), _CoveragePage):
            raise TypeError("a coverage map renders only in its own page: use maps.write_map(m, path), "
                            "m._repr_html_() or m.get_root().render(), not another folium Figure.")
        super().render(**kwargs)


class _DataLayer(Layer):
    """One overlay built by the page runtime from a JSON payload (the template holds only ids)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = COVERAGE.build("{{ this.get_name() }}");
        {% endmacro %}
        """
    )

    def __init__(self, m: _OfflineMap, key: str, name: str, data_id: str, spec: dict,
                 show: bool = True):
        # ``name`` labels the layer control; it is always one of our labels, never user text.
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "CoverageLayer"
        m.add_data(self.get_name(), _json({"key": key, "data": data_id, "spec": spec}))
        self.add_to(m)


class _Basemap(Layer):
    """The offline basemap (water, buildings, streets, labels) as one layer of the control; its
    parts are JSON payloads like every other layer's."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = COVERAGE.basemap("{{ this.get_name() }}");
        {% endmacro %}
        """
    )

    def __init__(self, m: _OfflineMap, name: str, parts: list, labels_id: str | None):
        super().__init__(name=name, overlay=True, control=True, show=True)
        self._name = "CoverageBasemap"
        self._payload = {"key": "basemap", "parts": parts, "labels": labels_id, "kinds": list(LABEL_KINDS)}
        m.add_data(self.get_name(), _json(self._payload))
        self.add_to(m)

    def avoid(self, m: _OfflineMap, obstacles: list[tuple[str, str, int]]) -> None:
        """Have the labels give way to these marker layers, ``(layer key, data block id, symbol
        size in px)`` each: the page reads their positions from the layers' own data blocks."""
        if self._payload["labels"] and obstacles:
            self._payload["obstacles"] = [list(o) for o in obstacles]
            m.add_data(self.get_name(), _json(self._payload))  # same block, same place in the page


class _Tiles(Layer):
    """A tile basemap whose URL and attribution travel as JSON data (they come from the config)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = COVERAGE.tiles("{{ this.get_name() }}");
        {% endmacro %}
        """
    )

    def __init__(self, url: str, *, attr: str, name: str, max_zoom: int, subdomains: str = "abc",
                 overlay: bool = False, control: bool = True):
        super().__init__(name=name, overlay=overlay, control=control, show=True)
        self._name = "CoverageTiles"
        self.spec = {"url": url, "options": {"attribution": attr, "maxZoom": max_zoom,
                                             "subdomains": subdomains}}

    def add_to(self, parent: _OfflineMap, name: str | None = None, index: int | None = None) -> "_Tiles":
        parent.add_data(self.get_name(), _json(self.spec))
        return super().add_to(parent, name=name, index=index)


class _Controls(MacroElement):
    """Scale bar, title box and legend; added after the layers so it can see them."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            COVERAGE.controls({{ this._parent.get_name() }}, COVERAGE.data("{{ this.get_name() }}"));
        {% endmacro %}
        """
    )

    def __init__(self, m: _OfflineMap, cfg: dict):
        super().__init__()
        self._name = "CoverageControls"
        m.add_data(self.get_name(), _json(cfg))
        self.add_to(m)


# ----------------------------------------------------------------------------- data encoding

def _to_gcj02(coords: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(coords[:, 0], coords[:, 1])
    return np.column_stack([lon, lat])


def _prepare(gdf: gpd.GeoDataFrame, layer: str, simplify_m: float, points: bool,
             gcj02: bool = False, decimals: int = _DECIMALS) -> gpd.GeoDataFrame:
    """Drop empty geometries, simplify in the layer's own CRS, reproject to WGS-84 (then to
    GCJ-02 when ``gcj02``, to match Amap tiles), round to ``decimals`` (1e-6° ≈ 0.1 m)."""
    if gdf.crs is None:
        raise InputError("maps.layer_without_crs", layer, layer=layer)
    geom = gdf.geometry
    keep = geom.notna().to_numpy() & ~shapely.is_empty(geom.to_numpy())
    gdf = gdf.loc[keep]
    geoms = gdf.geometry.to_numpy()
    if points:
        # Facilities may be polygons (a building): show their representative point.
        non_point = shapely.get_type_id(geoms) != 0
        if non_point.any():
            geoms = np.where(non_point, shapely.point_on_surface(geoms), geoms)
    elif simplify_m > 0:
        tol = simplify_m * _DEG_PER_M if gdf.crs.is_geographic else simplify_m
        geoms = shapely.simplify(geoms, tol, preserve_topology=True)
    out = gpd.GeoDataFrame(gdf.drop(columns=gdf.geometry.name), geometry=geoms, crs=gdf.crs)
    out = out.to_crs(4326)
    if gcj02:
        out = out.set_geometry(shapely.transform(out.geometry.to_numpy(), _to_gcj02), crs=4326)
    out = out.set_geometry(shapely.transform(out.geometry.to_numpy(),
                                             lambda c: np.round(c, decimals)), crs=4326)
    return out


def _props(df: pd.DataFrame, columns: list[str]) -> dict[str, list]:
    """Column-oriented properties with NaN as null and floats rounded to 0.001."""
    out: dict[str, list] = {}
    for col in columns:  # a loop over a handful of columns, each converted in one call
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            s = s.astype(object)
        elif pd.api.types.is_numeric_dtype(s):
            s = s.astype(float).round(3)
            s = s.where(np.isfinite(s))  # unreachable points carry inf minutes: JSON has no inf
        else:
            s = s.astype(object)
        out[col] = s.astype(object).where(s.notna(), None).tolist()
    return out


def _layer_json(gdf: gpd.GeoDataFrame, columns: list[str], points: bool) -> str:
    props = _json(_props(gdf, [c for c in columns if c in gdf.columns]))
    if points:
        xy = shapely.get_coordinates(gdf.geometry.to_numpy())
        return ('{"lon":' + json.dumps(xy[:, 0].tolist()) + ',"lat":' + json.dumps(xy[:, 1].tolist())
                + ',"props":' + props + "}")
    # GEOS writes each geometry's GeoJSON; joining the strings avoids a Python dict per vertex.
    geoms = shapely.to_geojson(gdf.geometry.to_numpy())
    return '{"geoms":[' + ",".join(geoms.tolist()) + '],"props":' + props + "}"


def _layer_data(m: _OfflineMap, key: str, gdf: gpd.GeoDataFrame, columns: list[str], points: bool) -> str:
    """Register a layer's data with the map; returns its block id."""
    return m.add_data(f"coverage_data_{key}", _layer_json(gdf, columns, points))


def _bin(values: pd.Series, edges: tuple[float, ...], right: bool = False) -> pd.Series:
    """Bin index per value (nullable Int64, <NA> where the value is missing)."""
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    idx = np.digitize(arr, edges, right=right).astype(float)
    idx[~np.isfinite(arr)] = np.nan
    return pd.Series(idx, index=values.index).astype("Int64")


def _kind_label(kinds: pd.Series, lang: str) -> pd.Series:
    return kinds.map(lambda k: FACILITY_KINDS.get(k, {}).get(lang, k)).astype(object)


def _gate_symbol(status: str, size: int = 16) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 20 20">'
            f"{_GATE_SVG[status]}</svg>")


def _symbol(shape: str, color: str, size: int = 18) -> str:
    stroke = color if shape == "ring" else "#ffffff"
    fill = "none" if shape == "ring" else color
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 20 20" fill="{fill}" stroke="{stroke}" stroke-width="1.5">'
            f"{_SHAPES[shape]}</svg>")


def _param(parameters: Mapping[str, Any], *names: str) -> Any:
    for n in names:
        if n in parameters and parameters[n] not in (None, ""):
            return parameters[n]
    return None


# ----------------------------------------------------------------------------- basemaps

def _basemap_layers(basemap: str, tianditu_key: str, lang: str) -> tuple[list[_Tiles], bool]:
    """Tile layers for ``basemap`` and whether overlays must be shifted to GCJ-02.

    Refuses Baidu (BD-09) and Tencent tiles with an explanation.
    """
    name = (basemap or "none").strip()
    low = name.lower()
    if low in ("none", ""):
        return [], False
    if any(h in low for h in REFUSED_TILE_HINTS):
        raise InputError("maps.basemap_refused", "basemap", language=lang, name=name)
    if any(h in low for h in _GCJ02_TILE_HINTS):
        url = _AMAP_URL if low in ("amap", "gaode") else name
        if not url.lower().startswith(("http://", "https://")):
            raise InputError("maps.basemap_unknown_amap", "basemap", language=lang, name=name)
        return [_Tiles(url, attr=_AMAP_ATTR, name="高德地图 Amap", subdomains="1234", max_zoom=18)], True
    if low == "osm":
        return [_Tiles(_OSM_URL, attr=_OSM_ATTR, name="OpenStreetMap", max_zoom=19)], False
    if low == "tianditu":
        if not tianditu_key.strip():
            raise InputError("maps.tianditu_needs_key", "basemap", language=lang)
        key = tianditu_key.strip()
        anno = "cva" if lang == "zh" else "eva"
        vec = _TIANDITU_URL.format(s="{s}", layer="vec", x="{x}", y="{y}", z="{z}", key=key)
        lab = _TIANDITU_URL.format(s="{s}", layer=anno, x="{x}", y="{y}", z="{z}", key=key)
        base = _Tiles(vec, attr=_TIANDITU_ATTR, name="天地图 Tianditu", subdomains="01234567", max_zoom=18)
        labels = _Tiles(lab, attr=_TIANDITU_ATTR, name="天地图注记 Tianditu labels",
                        subdomains="01234567", max_zoom=18, overlay=True, control=False)
        return [base, labels], False
    if low.startswith(("http://", "https://")) and all(t in name for t in ("{z}", "{x}", "{y}")):
        # Leaflet shows the attribution as HTML: the host name is escaped like any user string.
        return [_Tiles(name, attr=html.escape(name.split("/")[2]), name="Basemap", max_zoom=19)], False
    raise InputError("maps.basemap_unknown", "basemap", language=lang, name=name)


# ----------------------------------------------------------------------------- the map

class _Ctx(NamedTuple):
    """What every layer function of :func:`make_map` shares: the map, its language and labels,
    and how layers are prepared (display simplification ``simplify_m`` in m, the shift to GCJ-02
    for Amap tiles)."""

    m: _OfflineMap
    lang: str
    L: dict[str, str]
    simplify_m: float
    gcj02: bool
    limit_txt: str  # the walk limit as the legends show it (minutes)

    def prepare(self, gdf: gpd.GeoDataFrame, layer: str, points: bool) -> gpd.GeoDataFrame:
        return _prepare(gdf, layer, self.simplify_m, points=points, gcj02=self.gcj02)


class _Part(NamedTuple):
    """What a layer function hands back beside the layers it added to the map: its legend
    sections (HTML, every user string escaped), the WGS-84 extents (lon/lat bounds) the view is
    fitted to, and its markers that the basemap labels must not cover, ``(layer key, data block
    id, symbol size in px)`` each."""

    legend: tuple[str, ...] = ()
    bounds: tuple[np.ndarray, ...] = ()
    obstacles: tuple[tuple[str, str, int], ...] = ()


def make_map(
    communities: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame | None,
    *,
    demand: gpd.GeoDataFrame | None = None,
    isochrones: gpd.GeoDataFrame | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    proposed: gpd.GeoDataFrame | None = None,
    community_stats: pd.DataFrame | None = None,
    districts: gpd.GeoDataFrame | None = None,
    streets: gpd.GeoDataFrame | None = None,
    basemap_streets: dict[str, gpd.GeoDataFrame] | None = None,
    basemap_features: Mapping[str, gpd.GeoDataFrame] | None = None,
    gates: gpd.GeoDataFrame | None = None,
    gate_hour: float = 10.0,
    parameters: Mapping[str, Any],
    language: str = "zh",
    basemap: str = "none",
    tianditu_key: str = "",
    title: str = "",
    simplify_m: float = 5.0,
    accessibility: Any = None,
) -> folium.Map:
    """Build the study's coverage map.

    Parameters
    ----------
    communities, facilities, candidates
        Layers in the canonical schema (:mod:`eldercare_coverage.schema`), any CRS (metric expected).
    demand
        Demand points with ``within_limit`` (bool) and ``time_min`` (minutes); only points
        beyond the limit are drawn.
    isochrones
        Walk-time polygons with ``site_id``, ``kind``, ``limit_min`` (minutes).
    proposed
        Sites chosen by siting: ``candidate_id``, ``kind``, geometry.
    community_stats
        Per-community table keyed by ``community_id``; optional columns
        ``share_elderly_within`` / ``share_residents_within`` (0..1), ``gap_m2`` (m² short of
        the norm, <= 0 when met), ``required_tier``. Missing columns are simply not shown.
    basemap_streets
        The study's own OSM streets by class (:func:`eldercare_coverage.basemap.street_layers`),
        drawn under everything as an offline basemap, credited "© OpenStreetMap contributors".
    basemap_features
        More of the offline basemap, any CRS: ``water`` (polygons), ``waterways`` (lines),
        ``buildings`` (polygons, drawn faint from zoom 15) from
        :func:`eldercare_coverage.basemap.basemap_features`, and ``labels``
        (:func:`eldercare_coverage.basemap.labels`: street, compound and water names, each from its
        zoom, placed in priority order without overlapping each other or the site symbols shown).
    gates
        Compound gates from :func:`gate_status` (``status``, ``gate_id``, ``name``, ``access``,
        ``opening_hours``, ``compound``): one bar symbol per status, shown from zoom 15, with a
        popup; ``gate_hour`` (0-24) is the hour their opening hours were read at.
    districts, streets
        Boundary polygons with a ``name`` column; when absent they are dissolved from the
        communities' ``district`` / ``street`` columns, with gaps under 300 m between
        communities closed (an approximate outline, good for orientation only).
    parameters
        ``walk_speed_mps`` (m/s), ``time_limit_min`` (minutes), ``norm_profile`` (name),
        shown in the title box.
    language
        ``"zh"`` (default) or ``"en"`` for every label.
    basemap
        ``"none"`` (default, fully offline), ``"osm"``, ``"tianditu"`` (needs
        ``tianditu_key``), ``"amap"`` (Amap/Gaode GCJ-02 tiles: every overlay is shifted to
        GCJ-02 to line up, and the title box says so) or a WGS-84/Web Mercator tile URL.
        Baidu (BD-09) and Tencent tiles raise :class:`~eldercare_coverage.errors.InputError`.
    simplify_m
        Display simplification tolerance for polygons (m).
    accessibility
        :class:`~eldercare_coverage.accessibility.AccessibilityTables`: adds the accessibility
        quintiles and the facilities sized by service pressure (both off until ticked).

    Returns
    -------
    folium.Map
        Renders offline; shows inline in Jupyter; save with :func:`write_map`.
    """
    if language not in LABELS:
        raise InputError("maps.language_unknown", "language", value=language)
    L = LABELS[language]
    tiles, gcj02 = _basemap_layers(basemap, tianditu_key, language)
    limit = _param(parameters, "time_limit_min", "limit_min")
    m = _OfflineMap(location=[30.0, 104.0], zoom_start=12, tiles=None, prefer_canvas=True,
                    control_scale=False)
    m.page_title = title or L["communities_coverage"]
    for t in tiles:
        t.add_to(m)
    c = _Ctx(m, language, L, simplify_m, gcj02, f"{float(limit):g}" if limit is not None else "15")
    # layers in drawing order: the offline basemap under everything, proposed sites over facilities
    own_basemap = bool(basemap_streets or basemap_features)
    base = _street_basemap(m, basemap_streets, L["basemap"], gcj02, basemap_features) if own_basemap else None
    parts = [_communities_layers(c, communities, community_stats),
             _boundary_layers(c, communities, districts, streets),
             _isochrones_layer(c, isochrones),
             _demand_layer(c, demand),
             _candidates_layer(c, candidates, show=proposed is None),
             _facility_layers(c, facilities),
             _proposed_layer(c, proposed)]
    if gates is not None and len(gates):
        parts.append(_Part(legend=(_gates_layer(m, gates, L, gate_hour, gcj02),)))
    if accessibility is not None:  # capacity-aware accessibility (eldercare_coverage.accessibility)
        parts.append(_Part(legend=tuple(_accessibility_layers(m, communities, accessibility, facilities,
                                                              language, simplify_m, gcj02))))
    if base is not None:
        base.avoid(m, [o for p in parts for o in p.obstacles])
    _controls(c, title, parameters, parts, osm_credit=own_basemap)
    return m


def _community_frame(c: _Ctx, communities: gpd.GeoDataFrame,
                     community_stats: pd.DataFrame | None) -> tuple[gpd.GeoDataFrame, str | None]:
    """The communities with their statistics joined and binned (``_cbin``: coverage share,
    ``_gbin``: floor-area gap), and the coverage share column shown (None without one)."""
    com = c.prepare(communities, "communities", points=False)
    if community_stats is not None and "community_id" in community_stats.columns:
        # eldercare_coverage.norms names them area_gap_m2 / tier_required; accept both spellings.
        stats = community_stats.rename(columns={
            k: v for k, v in _STATS_ALIASES.items()
            if k in community_stats.columns and v not in community_stats.columns})
        stats = stats.drop_duplicates("community_id").set_index("community_id")
        stats = stats.drop(columns=[col for col in stats.columns if col in com.columns])
        com = com.join(stats, on="community_id")
    share_col = next((col for col in ("share_elderly_within", "share_residents_within")
                      if col in com.columns and com[col].notna().any()), None)
    com["_cbin"] = _bin(com[share_col], COVERAGE_BINS) if share_col else pd.Series(pd.NA, index=com.index, dtype="Int64")
    if "required_tier" in com.columns:
        com["required_tier"] = _kind_label(com["required_tier"].astype(object), c.lang)
    if "gap_m2" in com.columns and com["gap_m2"].notna().any():
        com["_gbin"] = _bin(com["gap_m2"], GAP_BINS, right=True)
    return com, share_col


def _communities_layers(c: _Ctx, communities: gpd.GeoDataFrame, community_stats: pd.DataFrame | None) -> _Part:
    """Two choropleths over the same polygons: walk-coverage share (shown) and floor-area gap
    (off until ticked; only when the statistics have a gap)."""
    L = c.L
    com, share_col = _community_frame(c, communities, community_stats)
    fields = [(L["f_id"], "community_id", "text"), (L["f_district"], "district", "text"),
              (L["f_street"], "street", "text"), (L["f_population"], "population", "int"),
              (L["f_elderly"], "elderly_population", "int"),
              (L["f_share_elderly"], "share_elderly_within", "pct"),
              (L["f_share_residents"], "share_residents_within", "pct"),
              (L["f_gap"], "gap_m2", "m2"), (L["f_required_tier"], "required_tier", "text")]
    fields = [f for f in fields if f[1] in com.columns]
    has_gap = "_gbin" in com.columns
    cols = ["name", "_cbin"] + [f[1] for f in fields] + (["_gbin"] if has_gap else [])
    com_data = c.m.add_data("coverage_data_communities", _layer_json(com, cols, points=False))
    popup = {"title": "name", "fields": fields}
    poly_style = {"color": "#555555", "weight": 0.8, "fillOpacity": 0.65}
    _DataLayer(c.m, "communities_coverage", L["communities_coverage"], com_data,
               {"style": poly_style, "popup": popup, "tooltip": "name",
                "palette": {"field": "_cbin", "colors": COVERAGE_COLORS, "missing": MISSING_COLOR}})
    legend = [_coverage_legend(L, share_col, c.limit_txt)]
    if has_gap:
        _DataLayer(c.m, "communities_gap", L["communities_gap"], com_data,
                   {"style": poly_style, "popup": popup, "tooltip": "name",
                    "palette": {"field": "_gbin", "colors": GAP_COLORS, "missing": MISSING_COLOR}},
                   show=False)
        e = GAP_BINS
        rows = [(L["gap_met"], GAP_COLORS[0])] + [
            (f"{e[i]:g}–{e[i + 1]:g} m²", GAP_COLORS[i + 1]) for i in range(len(e) - 1)
        ] + [(f"> {e[-1]:g} m²", GAP_COLORS[-1]), (L["no_data"], MISSING_COLOR)]
        legend.append(_legend_swatches("communities_gap", L["gap_title"], rows))
    return _Part(tuple(legend), (np.asarray(com.total_bounds),) if len(com) else ())


def _coverage_legend(L: dict[str, str], share_col: str | None, limit_txt: str) -> str:
    """Legend of the coverage choropleth: its bins (%), or one grey swatch without coverage data."""
    if not share_col:
        return _legend_swatches("communities_coverage", L["communities_coverage"], [(L["no_coverage"], MISSING_COLOR)])
    head = L["share_elderly" if share_col == "share_elderly_within" else "share_residents"]
    edges = (0.0,) + COVERAGE_BINS + (1.0,)
    rows = [(f"{edges[i] * 100:.0f}–{edges[i + 1] * 100:.0f}%", COVERAGE_COLORS[i])
            for i in range(len(COVERAGE_COLORS))] + [(L["no_data"], MISSING_COLOR)]
    return _legend_swatches("communities_coverage", head.format(t=limit_txt), rows)


def _boundary_layers(c: _Ctx, communities: gpd.GeoDataFrame, districts: gpd.GeoDataFrame | None,
                     streets: gpd.GeoDataFrame | None) -> _Part:
    """Street (off at first load) and district boundary lines, given or dissolved from the communities."""
    legend = []
    for key, given, col, style in (
        ("streets", streets, "street", {"color": "#737373", "weight": 1.5, "dashArray": "4,3",
                                        "fill": False}),
        ("districts", districts, "district", {"color": "#252525", "weight": 2.5, "fill": False}),
    ):
        bnd = _boundaries(communities, given, col)
        if bnd is None or bnd.empty:
            continue
        bnd = c.prepare(bnd, key, points=False)
        _DataLayer(c.m, key, c.L[key], _layer_data(c.m, key, bnd, ["name"], points=False),
                   {"style": style, "tooltip": "name"}, show=key != "streets")
        legend.append(_legend_line(key, c.L[key], style))
    return _Part(tuple(legend))


def _isochrones_layer(c: _Ctx, isochrones: gpd.GeoDataFrame | None) -> _Part:
    """Walk isochrones, one purple per band, largest band first so smaller bands draw on top."""
    if isochrones is None or not len(isochrones):
        return _Part()
    iso = c.prepare(isochrones, "isochrones", points=False)
    bands = np.sort(pd.to_numeric(iso["limit_min"], errors="coerce").dropna().unique())
    iso["_band"] = np.searchsorted(bands, pd.to_numeric(iso["limit_min"], errors="coerce"))
    iso = iso.sort_values("limit_min", ascending=False, kind="stable")
    colors = [ISOCHRONE_COLORS[min(i, len(ISOCHRONE_COLORS) - 1)] for i in range(len(bands))]
    _DataLayer(c.m, "isochrones", c.L["isochrones"], _layer_data(c.m, "isochrones", iso, ["_band"], points=False),
               {"style": {"weight": 1, "fillOpacity": 0.12, "opacity": 0.7},
                "interactive": False,
                "palette": {"field": "_band", "colors": colors, "missing": MISSING_COLOR,
                            "stroke": True}})
    legend = _legend_swatches("isochrones", c.L["isochrones"],
                              [(c.L["band"].format(m=f"{b:g}"), col) for b, col in zip(bands, colors)])
    return _Part((legend,), (np.asarray(iso.total_bounds),))


def _demand_layer(c: _Ctx, demand: gpd.GeoDataFrame | None) -> _Part:
    """Demand points beyond the walk limit, off at first load: thousands of dots hide the
    choropleth; one tick shows them."""
    if demand is None or "within_limit" not in demand.columns:
        return _Part()
    L = c.L
    beyond = demand.loc[~demand["within_limit"].fillna(False).astype(bool)]
    dem = c.prepare(beyond, "demand", points=True)
    fields = [(L["f_time"], "time_min", "min"), (L["f_weight"], "weight", "num"),
              (L["f_population"], "population", "num"),
              (L["f_elderly"], "elderly_population", "num"),
              (L["f_community"], "community_id", "text"),
              (L["f_nearest"], "nearest_facility_id", "text")]
    fields = [f for f in fields if f[1] in dem.columns]
    _DataLayer(c.m, "demand_beyond", L["demand_beyond"],
               _layer_data(c.m, "demand_beyond", dem, [f[1] for f in fields], points=True),
               {"style": DEMAND_BEYOND_STYLE, "radius": 2.5, "popup": {"fields": fields}}, show=False)
    return _Part((_legend_swatches("demand_beyond", L["demand_beyond"],
                                   [(L["beyond"].format(t=c.limit_txt), DEMAND_BEYOND_STYLE["fillColor"])],
                                   dot=True),))


def _site_points(c: _Ctx, sites: gpd.GeoDataFrame, layer: str) -> gpd.GeoDataFrame:
    """Candidate or proposed sites as points, their kind named in the map's language."""
    pts = c.prepare(sites, layer, points=True)
    if "kind" in pts.columns:
        pts["kind"] = _kind_label(pts["kind"].astype(object), c.lang)
    return pts


def _candidates_layer(c: _Ctx, candidates: gpd.GeoDataFrame | None, show: bool) -> _Part:
    """Candidate sites, drawn below the facilities. Thousands of candidate markers bury the map
    at city zoom: past :data:`MAX_SHOWN_CANDIDATES`, or once sites are proposed (``show`` False),
    they are listed but off until ticked."""
    if candidates is None or not len(candidates):
        return _Part()
    L = c.L
    cand = _site_points(c, candidates, "candidates")
    fields = [(L["f_id"], "candidate_id", "text"), (L["f_kind"], "kind", "text"),
              (L["f_max_floor_area"], "max_floor_area_m2", "m2"), (L["f_cost"], "cost", "int")]
    fields = [f for f in fields if f[1] in cand.columns]
    return _add_points(c.m, "candidates", L["candidates"], cand, fields, _CANDIDATE_SYMBOL, 14,
                       show=show and len(cand) <= MAX_SHOWN_CANDIDATES)


def _facility_layers(c: _Ctx, facilities: gpd.GeoDataFrame | None) -> _Part:
    """Existing facilities, one layer and symbol per kind, highest tier first as in the legend
    (an unknown kind draws as ``other``)."""
    if facilities is None or not len(facilities):
        return _Part()
    L = c.L
    fac = c.prepare(facilities, "facilities", points=True)
    kinds = fac["kind"].astype(object).where(fac["kind"].isin(list(FACILITY_KINDS)), "other")
    fac["kind_label"] = _kind_label(kinds, c.lang)
    fields = [(L["f_id"], "facility_id", "text"), (L["f_kind"], "kind_label", "text"),
              (L["f_floor_area"], "floor_area_m2", "m2"), (L["f_beds"], "beds", "int"),
              (L["f_residents_within"], "residents_within", "int"),
              (L["f_elderly_within"], "elderly_within", "int")]
    fields = [f for f in fields if f[1] in fac.columns]
    layers = []
    for kind in FACILITY_KINDS:
        sub = fac.loc[kinds == kind]
        if len(sub):
            sep = "：" if c.lang == "zh" else ": "
            label = f"{L['facilities']}{sep}{FACILITY_KINDS[kind][c.lang]}"
            layers.append(_add_points(c.m, f"facilities_{kind}", label, sub, fields, KIND_SYMBOLS[kind], 18))
    return _Part(tuple(sec for p in layers for sec in p.legend), (np.asarray(fac.total_bounds),),
                 tuple(o for p in layers for o in p.obstacles))


def _proposed_layer(c: _Ctx, proposed: gpd.GeoDataFrame | None) -> _Part:
    """Sites chosen by siting, over the facilities, with their coordinates as text to paste back
    (WGS-84 and the web maps' GCJ-02 / BD-09)."""
    if proposed is None or not len(proposed):
        return _Part()
    L = c.L
    prop = _site_points(c, proposed, "proposed")
    fields = [(L["f_id"], "candidate_id", "text"), (L["f_kind"], "kind", "text"), (L["f_cost"], "cost", "int"),
              (L["f_capacity"], "capacity", "int"), (L["f_newly_covered"], "newly_covered_weight", "int"),
              (L["f_served"], "served_weight", "int"), (L["f_lon"], "lon", "text"), (L["f_lat"], "lat", "text")]
    for web, tag in (("GCJ-02", "gcj02"), ("BD-09", "bd09")):
        fields += [(L["f_lon_web"].format(s=web), f"lon_{tag}", "text"),
                   (L["f_lat_web"].format(s=web), f"lat_{tag}", "text")]
    for col in ("lon", "lat", "lon_gcj02", "lat_gcj02", "lon_bd09", "lat_bd09"):
        if col in prop.columns:  # as text, to paste back: 6 decimals (about 0.1 m)
            prop[col] = pd.to_numeric(prop[col], errors="coerce").map(lambda v: "" if pd.isna(v) else f"{v:.6f}")
    for col in ("cost", "capacity"):  # a placeholder (unit cost, unlimited capacity) is not shown
        if col in prop.columns:
            prop[col] = pd.to_numeric(prop[col], errors="coerce").where(lambda v: np.isfinite(v))
    fields = [f for f in fields if f[1] in prop.columns and prop[f[1]].notna().any()]
    return _add_points(c.m, "proposed", L["proposed"], prop, fields, _PROPOSED_SYMBOL, 22)


def _controls(c: _Ctx, title: str, parameters: Mapping[str, Any], parts: list[_Part], osm_credit: bool) -> None:
    """The layer control, the title box (with the OpenStreetMap credit when the offline basemap is
    drawn), the folding legend of every part, and the view fitted to the parts' extents."""
    folium.LayerControl(position="topright", collapsed=False).add_to(c.m)
    title_html = _title_html(title, parameters, c.L, c.gcj02)
    if osm_credit:
        title_html += f'<div class="cov-attr">{html.escape(OSM_ATTRIBUTION)}</div>'
    # the legend folds away (a click on its heading) so it never covers the map on a small screen
    legend = "".join(sec for p in parts for sec in p.legend)
    legend_html = f'<details open><summary>{html.escape(c.L["legend"])}</summary>{legend}</details>'
    _Controls(c.m, {"title_html": title_html, "legend_html": legend_html, "units": {"min": c.L["u_min"]}})
    bounds = [b for p in parts for b in p.bounds]
    if bounds:
        b = np.vstack(bounds)
        c.m.fit_bounds([[float(b[:, 1].min()), float(b[:, 0].min())],
                        [float(b[:, 3].max()), float(b[:, 2].max())]])


OSM_ATTRIBUTION = "© OpenStreetMap contributors"
#: Street classes of the basemap, bottom to top, and their colours (greys under the data).
_BASEMAP_COLORS = {"footway": "#c8c8c8", "local": "#a8a8a8", "main": "#7a7a7a"}


#: Label kinds of the basemap, in the order the page indexes them (see basemap.labels).
LABEL_KINDS = ("compound", "main", "local", "footway", "water")
#: Styles of the basemap's areas and lines: water blue, buildings faint, under every overlay.
BASEMAP_STYLES = {
    "water": {"color": "#9ccbe0", "weight": 0, "fillColor": "#aad3df", "fillOpacity": 0.9},
    "waterways": {"color": "#8cc4dc", "weight": 2, "opacity": 0.9, "fill": False},
    "buildings": {"color": "#c9bcb0", "weight": 0.5, "fillColor": "#e2d9d0", "fillOpacity": 0.6},
}
#: Basemap coordinates are rounded to 1e-5° (≈1.1 m, a pixel at zoom 17): plenty for streets
#: and footprints drawn faint, and a third fewer bytes than the overlays' 1e-6°.
_BASEMAP_DECIMALS = 5


def _street_basemap(m: folium.Map, layers: dict[str, gpd.GeoDataFrame] | None, label: str, gcj02: bool,
                    features: Mapping[str, gpd.GeoDataFrame] | None = None) -> _Basemap | None:
    """The study's own OSM data as one non-interactive layer under every other (offline basemap):
    water, waterways, buildings (from zoom 15), streets by class, then the labels."""
    from .basemap import BUILDINGS_MIN_ZOOM

    features = features or {}
    parts: list[list] = []
    for key in ("water", "waterways", "buildings"):
        gdf = features.get(key)
        if gdf is None or not len(gdf):
            continue
        data = _prepare(gdf, f"basemap_{key}", 0.0, points=False, gcj02=gcj02, decimals=_BASEMAP_DECIMALS)
        spec = {"style": BASEMAP_STYLES[key], "interactive": False, "pane": "covBase"}
        if key == "buildings":
            spec.update(minZoom=BUILDINGS_MIN_ZOOM, pane="covBuildings")
        parts.append([f"basemap_{key}", _layer_data(m, f"basemap_{key}", data, [], points=False), spec])
    streets = [gdf.assign(_cls=i) for i, cls in enumerate(_BASEMAP_COLORS)
               if (gdf := (layers or {}).get(cls)) is not None and len(gdf)]
    if streets:
        lines = _prepare(gpd.GeoDataFrame(pd.concat(streets, ignore_index=True), crs=streets[0].crs), "basemap",
                         1.0, points=False, gcj02=gcj02, decimals=_BASEMAP_DECIMALS)
        parts.append(["basemap_streets", _layer_data(m, "basemap_streets", lines, ["_cls"], points=False),
                      {"style": {"weight": 1.6, "opacity": 0.9, "fill": False}, "interactive": False, "pane": "covBase",
                       "palette": {"field": "_cls", "colors": list(_BASEMAP_COLORS.values()), "missing": "#bbbbbb",
                                   "stroke": True}}])
    labels_id = None
    lab = features.get("labels")
    if lab is not None and len(lab):
        lab = _prepare(lab, "basemap_labels", 0.0, points=True, gcj02=gcj02, decimals=_BASEMAP_DECIMALS)
        lab = lab.assign(t=lab["text"].astype(str), k=lab["kind"].map(LABEL_KINDS.index),
                         a=lab["angle"].astype(float).round(0), z=lab["min_zoom"].astype(int))
        labels_id = _layer_data(m, "basemap_labels", lab, ["t", "k", "a", "z"], points=True)
    return _Basemap(m, label, parts, labels_id) if parts or labels_id else None


def gate_status(gates: gpd.GeoDataFrame, communities: gpd.GeoDataFrame, *, tolerance_m: float = 10.0,
                hour: float = 10.0) -> gpd.GeoDataFrame:
    """Each gate with what the access model made of it at ``hour`` (0-24), for the map.

    ``status``: ``public`` (open to everyone), ``residents`` (``access=private``/``residents``:
    the compound's own residents only), ``closed`` (``access=no``, or closed at ``hour`` by its
    ``opening_hours``) or ``unused`` (not within ``tolerance_m`` (m) of any compound boundary),
    as :func:`eldercare_coverage.gates.assign_gates` decides; ``reason`` says why a gate is not
    used (``off_boundary``, ``access_no``, ``closed_at_hour``; "" when used); ``compound`` names
    the compounds it serves; ``tolerance_m`` is kept for the popup. Layers in one metric CRS.
    """
    from .gates import assign_gates

    gates = gates.reset_index(drop=True)
    rows = assign_gates(gates, communities, tolerance_m, hour, include_unused=True)
    n = len(gates)
    on = rows[rows["compound"].to_numpy(int) >= 0]
    flags = {}
    for col in ("public", "residents"):
        flags[col] = np.zeros(n, dtype=bool)
        np.logical_or.at(flags[col], on["gate"].to_numpy(int), on[col].to_numpy(bool))
    on_boundary = np.zeros(n, dtype=bool)
    on_boundary[on["gate"].to_numpy(int)] = True
    status = np.where(flags["public"], "public", np.where(flags["residents"], "residents",
                                                           np.where(on_boundary, "closed", "unused")))
    # a gate's tags decide its reason, so every row of one gate carries the same one
    reason = rows.groupby("gate")["reason"].first().reindex(range(n)).fillna("").to_numpy(dtype=object)
    reason = np.where(np.isin(status, ("public", "residents")), "", reason)
    names = communities["name"] if "name" in communities else communities["community_id"]
    served = pd.Series(names.astype(str).to_numpy()[on["compound"].to_numpy(int)], index=on["gate"].to_numpy(int))
    compound = served.groupby(level=0).agg(lambda v: "、".join(dict.fromkeys(v)))
    out = gates.assign(status=status, reason=reason, compound=compound.reindex(range(n)).fillna("").to_numpy(),
                       tolerance_m=float(tolerance_m))
    for col in ("gate_id", "name", "access", "opening_hours"):
        if col not in out:
            out[col] = ""
    return out


def _why_unused(g: pd.DataFrame, L: dict[str, str], hour_txt: str) -> pd.Series:
    """Why each gate is not used, in the map's language ("—" for a gate in use)."""
    reason = g["reason"].fillna("").astype(str) if "reason" in g else pd.Series("", index=g.index)
    tol = g["tolerance_m"].astype(float) if "tolerance_m" in g else pd.Series(10.0, index=g.index)
    hours = g["opening_hours"].fillna("").astype(str)
    out = pd.Series("—", index=g.index, dtype=object)
    sel = reason == "off_boundary"
    out[sel] = [L["why_off_boundary"].format(m=f"{t:g}") for t in tol[sel]]
    out[reason == "access_no"] = L["why_access_no"]
    sel = reason == "closed_at_hour"
    out[sel] = [L["why_closed_at_hour"].format(h=hour_txt, hours=h) for h in hours[sel]]
    return out


def _gates_layer(m: folium.Map, gates: gpd.GeoDataFrame, L: dict[str, str], hour: float, gcj02: bool) -> str:
    """The compound gates, one bar symbol per status, shown from :data:`GATES_MIN_ZOOM`; returns
    the legend section."""
    g = _prepare(gates, "gates", 0.0, points=True, gcj02=gcj02)
    from .summary import clock

    hour_txt = clock(hour)
    text = {"public": L["gate_public"], "residents": L["gate_residents"],
            "closed": L["gate_closed"].format(h=hour_txt), "unused": L["gate_unused"]}
    g["_s"] = g["status"].map(GATE_STATUSES.index).astype(int)
    g["_type"] = g["status"].map(text)
    hours = g["opening_hours"].fillna("").astype(str)
    g["_hours"] = hours.where(hours.str.strip() != "", L["hours_untagged"])
    # the name (or, without one, the id) heads the popup
    g["_title"] = g["name"].fillna("").astype(str).where(g["name"].fillna("").astype(str).str.strip() != "",
                                                         g["gate_id"].astype(str))
    g["_why"] = _why_unused(g, L, hour_txt)
    fields = [(L["f_id"], "gate_id", "text"), (L["f_gate_type"], "_type", "text"), (L["f_hours"], "_hours", "text"),
              (L["f_access"], "access", "text"), (L["f_compound"], "compound", "text"),
              (L["f_why_unused"], "_why", "text")]
    _DataLayer(m, "gates", L["gates"],
               _layer_data(m, "gates", g, ["_title", "_s"] + [f[1] for f in fields], points=True),
               {"icons": {"field": "_s", "svg": [_gate_symbol(st) for st in GATE_STATUSES]}, "size": 16,
                "tooltip": "_title", "popup": {"title": "_title", "fields": fields}, "minZoom": GATES_MIN_ZOOM})
    present = [st for st in GATE_STATUSES if (g["status"] == st).any()]
    rows = "".join(f'<div><span class="cov-sym">{_gate_symbol(st, 14)}</span>{html.escape(text[st])}</div>'
                   + _why_legend(g[g["status"] == st], L, hour_txt) for st in present)
    return (f'<div class="cov-legend-section" data-layer="gates">'
            f'<div class="cov-h">{html.escape(L["gates_zoom"].format(z=GATES_MIN_ZOOM))}</div>{rows}</div>')


def _why_legend(g: pd.DataFrame, L: dict[str, str], hour_txt: str) -> str:
    """Legend lines under a status: each reason its gates are not used, with how many (one line
    per reason, not per opening-hours text)."""
    reason = g["reason"].fillna("").astype(str) if "reason" in g else pd.Series("", index=g.index)
    tol = float(g["tolerance_m"].iloc[0]) if "tolerance_m" in g and len(g) else 10.0
    text = {"off_boundary": L["why_off_boundary"].format(m=f"{tol:g}"), "access_no": L["why_access_no"],
            "closed_at_hour": L["why_closed_short"].format(h=hour_txt)}
    counts = reason[reason != ""].value_counts(sort=False)
    return "".join(f'<div class="cov-why" style="padding-left:20px;font-size:90%">'
                   f'{html.escape(L["why_count"].format(why=text.get(why, why), n=int(n)))}</div>'
                   for why, n in counts.items())


def _add_points(m: folium.Map, key: str, label: str, gdf: gpd.GeoDataFrame,
                fields: list[tuple[str, str, str]], symbol: tuple[str, str], size: int,
                show: bool = True) -> _Part:
    """A layer of point markers drawn with ``symbol`` (``size`` px): its legend section, and its
    markers as obstacles for the basemap labels."""
    cols = ["name"] + [f[1] for f in fields]
    data_id = _layer_data(m, key, gdf, cols, points=True)
    _DataLayer(m, key, label, data_id,
               {"icon": _symbol(*symbol, size=size), "size": size, "tooltip": "name",
                "popup": {"title": "name", "fields": fields}}, show=show)
    legend = (f'<div class="cov-legend-section" data-layer="{html.escape(key)}">'
              f'<span class="cov-sym">{_symbol(*symbol, size=14)}</span>{html.escape(label)}</div>')
    return _Part((legend,), obstacles=((key, data_id, size),))


def _legend_swatches(key: str, head: str, rows: list[tuple[str, str]], dot: bool = False) -> str:
    radius = "border-radius:50%;width:9px;height:9px;" if dot else ""
    items = "".join(f'<div><span class="cov-sw" style="background:{c};{radius}"></span>'
                    f"{html.escape(text)}</div>" for text, c in rows)
    return (f'<div class="cov-legend-section" data-layer="{html.escape(key)}">'
            f'<div class="cov-h">{html.escape(head)}</div>{items}</div>')


def _legend_line(key: str, label: str, style: dict) -> str:
    dash = "dashed" if style.get("dashArray") else "solid"
    return (f'<div class="cov-legend-section" data-layer="{html.escape(key)}"><span class="cov-line" '
            f'style="border-top:{style["weight"]}px {dash} {style["color"]}"></span>'
            f"{html.escape(label)}</div>")


def _title_html(title: str, parameters: Mapping[str, Any], L: dict[str, str], gcj02: bool) -> str:
    speed = _param(parameters, "walk_speed_mps", "walk_speed")
    limit = _param(parameters, "time_limit_min", "limit_min")
    profile = _param(parameters, "norm_profile", "profile")
    speed_txt = f"{float(speed):g} m/s" if isinstance(speed, (int, float)) else (str(speed) if speed else "—")
    limit_txt = f"{float(limit):g} {L['minutes']}" if limit is not None else "—"
    lines = [f"{L['walk_speed']}: {speed_txt}", f"{L['time_limit']}: {limit_txt}",
             f"{L['norm_profile']}: {profile if profile is not None else '—'}"]
    if gcj02:
        lines.append(L["gcj02_note"])
    head = f"<b>{html.escape(title)}</b><br>" if title else ""
    return head + "<br>".join(html.escape(x) for x in lines)


#: Gap closed between communities when boundaries are derived from them (m).
_CLOSE_M = 150.0


def _boundaries(communities: gpd.GeoDataFrame, given: gpd.GeoDataFrame | None,
                column: str) -> gpd.GeoDataFrame | None:
    """Boundary polygons with a ``name`` column: the given layer, or communities dissolved."""
    if given is not None:
        if "name" not in given.columns:
            given = given.assign(name="")
        return given[["name", given.geometry.name]]
    if column not in communities.columns:
        return None
    names = communities[column].astype(object).fillna("").astype(str).str.strip()
    sub = communities.loc[names != ""].assign(name=names[names != ""])
    if sub.empty:
        return None
    out = sub[["name", sub.geometry.name]].dissolve(by="name", as_index=False)
    # Compounds (小区) rarely tile their district; closing the gaps between them (grow, then
    # shrink by the same distance) draws one outline per district instead of one per compound.
    if out.crs is None or out.crs.is_geographic:
        return out  # closing distances are metres; the schema promises a metric CRS
    # Simplifying first (to a tenth of the closing distance) makes the buffers 3× cheaper.
    rough = shapely.simplify(out.geometry.to_numpy(), _CLOSE_M / 10)
    closed = shapely.buffer(shapely.buffer(rough, _CLOSE_M, quad_segs=4), -_CLOSE_M, quad_segs=4)
    return out.set_geometry(closed, crs=out.crs)


def site_reach(matrix: Any, site_ids: Any, demand: pd.DataFrame,
               columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Residents within the walk limit of each site, for the facility popups.

    Parameters
    ----------
    matrix
        Sparse sites × demand-points matrix with an entry (walk minutes > 0) for every pair
        within the limit, e.g. ``AccessResult.facility_matrix``.
    site_ids
        Row labels of ``matrix`` (e.g. ``AccessResult.facility_ids``).
    demand
        Demand points in the matrix's column order with weight columns.
    columns
        Output column -> demand column; default ``residents_within`` <- ``population`` and
        ``elderly_within`` <- ``elderly_population`` (those present).

    Returns
    -------
    DataFrame indexed by site id; join it to the facilities on ``facility_id``.
    """
    import scipy.sparse as sp

    columns = dict(columns or {"residents_within": "population",
                               "elderly_within": "elderly_population"})
    reach = sp.csr_matrix(matrix, copy=True)
    reach.data = (reach.data > 0).astype(float)  # within the limit or not; minutes do not matter
    out = {}
    for name, col in columns.items():
        if col in demand.columns:
            w = pd.to_numeric(demand[col], errors="coerce").fillna(0.0).to_numpy(dtype=float)
            out[name] = reach @ w
    return pd.DataFrame(out, index=pd.Index(np.asarray(site_ids).astype(str), name="facility_id"))


# ----------------------------------------------------------------------------- output

_EXTERNAL_RE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*[\"']?((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE)


def external_resources(page: str) -> list[str]:
    """URLs of scripts, stylesheets, images or frames a page would fetch from the network."""
    return _EXTERNAL_RE.findall(page)


def write_map(m: folium.Map, path: str | os.PathLike) -> Path:
    """Write the map as one self-contained UTF-8 HTML file; returns the path.

    Logs a warning when something added to the map links an external script or stylesheet
    (e.g. a folium plugin), because that page will not render offline.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = m.get_root().render()
    ext = external_resources(page)
    if ext:
        log.warning("Map %s links %d external resource(s) and will not render offline: %s",
                    path, len(ext), ", ".join(ext[:5]))
    path.write_text(page, encoding="utf-8")
    return path


_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                   "chrome", "msedge", "microsoft-edge")


def find_chromium() -> str | None:
    """Path of a Chromium-family browser: ``$COVERAGE_CHROMIUM`` or the first one on PATH."""
    env = os.environ.get("COVERAGE_CHROMIUM", "")
    if env and Path(env).exists():
        return env
    for name in _CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def write_png(m_or_html_path: folium.Map | str | os.PathLike, png_path: str | os.PathLike, *,
              width: int = 1400, height: int = 1000, timeout_s: float = 120.0,
              chromium: str | None = None) -> Path:
    """Screenshot the map with headless Chromium into a PNG (``width`` × ``height`` px).

    The PNG is the HTML map itself (same layers, legend, title box), so printed reports and
    the interactive page never disagree. Needs a Chromium-family browser (``chromium`` on
    Debian/Ubuntu, Chrome or Edge elsewhere; ``$COVERAGE_CHROMIUM`` overrides the search).
    """
    exe = chromium or find_chromium()
    if not exe:
        raise RuntimeError("write_png needs a Chromium-family browser and none was found. Install "
                           "one (Debian/Ubuntu: run scripts/setup_browser.sh, or apt-get install "
                           "chromium) or set COVERAGE_CHROMIUM to its path.")
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="coverage-png-") as tmp:
        if isinstance(m_or_html_path, folium.Map):
            page = write_map(m_or_html_path, Path(tmp) / "map.html")
        else:
            page = Path(m_or_html_path)
        cmd = [exe, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={Path(tmp) / 'profile'}", f"--window-size={width},{height}",
               # Let scripts run and (optional) tiles load before the shot, in virtual time.
               "--virtual-time-budget=10000", f"--screenshot={png_path.resolve()}",
               page.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to run as root with the sandbox
        png_path.unlink(missing_ok=True)  # an older picture must not pass for this one
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0 or not png_path.exists() or png_path.stat().st_size == 0:
        raise RuntimeError(f"Chromium could not screenshot {page}: exit {proc.returncode}\n"
                           f"{proc.stderr[-2000:]}")
    return png_path


# ----------------------------------------------------------------------------- accessibility

#: No supply in reach, then the quintiles of the communities that have some (low → high).
ACCESSIBILITY_COLORS = ("#d73027", "#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c")
_ACC_TEXT = {
    "zh": {"layer": "社区：供需可达性（{m}）", "fac": "设施：服务压力（圆越大压力越大）", "none": "步行范围内无供给",
           "q": "第 {i} 五分位 {a}–{b}", "acc": "可达性", "rel": "相对全区平均", "press": "服务压力（需求/供给）",
           "reach": "步行范围内需求", "per_m2": "每 m² 老年人", "per_bed": "每床老年人"},
    "en": {"layer": "Communities: accessibility ({m})", "fac": "Facilities: service pressure (larger = more)",
           "none": "No supply within walk", "q": "Quintile {i}: {a}–{b}", "acc": "Accessibility",
           "rel": "Relative to study mean", "press": "Pressure (demand per supply)", "reach": "Demand within walk",
           "per_m2": "Demand per m²", "per_bed": "Demand per bed"},
}


def _accessibility_layers(m: folium.Map, communities: gpd.GeoDataFrame, tables: Any,
                          facilities: gpd.GeoDataFrame | None, lang: str, simplify_m: float,
                          gcj02: bool) -> list[str]:
    """Two overlays from :class:`eldercare_coverage.accessibility.AccessibilityTables`: communities
    by accessibility quintile (its own class for no supply in reach) and facilities as circles
    sized by service pressure (weighted catchment demand per unit of supply). Returns the legend."""
    T = _ACC_TEXT[lang]
    acc = tables.communities.set_index("community_id")[["accessibility", "relative"]]
    com = _prepare(communities, "communities", simplify_m, points=False, gcj02=gcj02)
    com = com.join(acc, on="community_id")
    a = com["accessibility"].to_numpy(dtype=float)
    pos = a[np.isfinite(a) & (a > 0)]
    edges = np.quantile(pos, [0.2, 0.4, 0.6, 0.8]) if len(pos) else np.array([])
    cls = np.where(a > 0, 1 + np.searchsorted(edges, a, side="right"), 0).astype(float)
    cls[~np.isfinite(a)] = np.nan
    com["_abin"] = pd.Series(cls, index=com.index).astype("Int64")
    com["_acc"] = [f"{v:.4g}" if np.isfinite(v) else None for v in a]
    L_ = LABELS[lang]
    fields = [(L_["f_id"], "community_id", "text"), (T["acc"], "_acc", "text"), (T["rel"], "relative", "num")]
    measure = tables.result.params.get("measure", "")
    _DataLayer(m, "accessibility", T["layer"].format(m=measure),
               _layer_data(m, "accessibility", com, ["name", "_abin", "community_id", "_acc", "relative"], points=False),
               {"style": {"color": "#555555", "weight": 0.8, "fillOpacity": 0.65}, "tooltip": "name",
                "popup": {"title": "name", "fields": [list(f) for f in fields]},
                "palette": {"field": "_abin", "colors": list(ACCESSIBILITY_COLORS), "missing": MISSING_COLOR}},
               show=False)
    bounds = np.concatenate([[pos.min()] if len(pos) else [], edges, [pos.max()] if len(pos) else []])
    rows = [(T["none"], ACCESSIBILITY_COLORS[0])] + [
        (T["q"].format(i=i + 1, a=f"{bounds[i]:.3g}", b=f"{bounds[i + 1]:.3g}"), ACCESSIBILITY_COLORS[i + 1])
        for i in range(len(bounds) - 1)] + [(L_["no_data"], MISSING_COLOR)]
    legend = [_legend_swatches("accessibility", f"{T['acc']} ({tables.summary.get('unit', '')})", rows)]
    if facilities is not None and len(facilities) and len(tables.facilities):
        press = tables.facilities.drop(columns=[c for c in ("kind", "floor_area_m2", "beds") if c in tables.facilities])
        fac = facilities.merge(press, on="facility_id", how="inner")
        fac = _prepare(fac, "facilities", simplify_m, points=True, gcj02=gcj02)
        p = fac["pressure"].to_numpy(dtype=float)
        top = np.nanmax(p) if np.isfinite(p).any() and np.nanmax(p) > 0 else 1.0
        # area ∝ pressure: radius ∝ √pressure, 4-16 px
        fac["_r"] = np.where(np.isfinite(p), 4.0 + 12.0 * np.sqrt(np.clip(p, 0, None) / top), 4.0)
        ff = [(L_["f_id"], "facility_id", "text"), (L_["f_floor_area"], "floor_area_m2", "m2"),
              (L_["f_beds"], "beds", "int"), (T["reach"], "demand_in_reach", "int"),
              (T["per_m2"], "demand_per_m2", "num"), (T["per_bed"], "demand_per_bed", "num"),
              (T["press"], "pressure", "num")]
        ff = [f for f in ff if f[1] in fac.columns]
        _DataLayer(m, "pressure", T["fac"], _layer_data(m, "pressure", fac, ["name", "_r"] + [f[1] for f in ff], points=True),
                   {"style": {"color": "#7f2704", "fillColor": "#f16913", "weight": 1, "fillOpacity": 0.7},
                    "radius": 4, "radiusField": "_r", "tooltip": "name",
                    "popup": {"title": "name", "fields": [list(f) for f in ff]}}, show=False)
        legend.append(_legend_swatches("pressure", T["fac"], [(T["press"], "#f16913")], dot=True))
    return legend
