"""Regenerate the embedded sample study in ``data/`` from the OpenStreetMap export.

    python scripts/make_sample.py [--osm PATH] [--out data]

Deterministic: the same OSM file gives the same files byte for byte (tested).

What is real, estimated and illustrative (also stated in data/README.md and in the files):
- real (OSM): the 78 residential compound polygons (landuse=residential) used as communities,
  their names, the district border way "金牛新都边界" that assigns each compound to 金牛区 or
  新都区, the streets and footways (the walk network is read from the copied OSM file);
- estimated: residents = compound area x floor-area ratio / floor area per resident;
  households = residents / 2.6; older residents (60+) = residents x 17.98 %;
- assigned: estate type (new/existing) and the sub-district (街道) of each compound;
- illustrative: 12 existing facilities and 45 candidate sites.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OSM = ROOT.parent / "shared" / "data" / "osm" / "chengdu-jinniu-xindu.osm.bz2"
OSM_NAME = "chengdu-jinniu-xindu.osm.bz2"
METRIC = "EPSG:32648"  # UTM 48N, the zone of Chengdu

#: Floor-area ratio (gross floor area / compound land area) of Chengdu high-rise compounds of the
#: 2010s-2020s, and of the low-rise villa phase.
FAR_HIGH_RISE = 2.8
FAR_VILLA = 1.0
#: Residential floor area per resident (m²), near Chengdu's urban figure in the 2020 census.
FLOOR_AREA_PER_RESIDENT_M2 = 35.0
PERSONS_PER_HOUSEHOLD = 2.6
#: Share of residents aged 60+ in Chengdu, 7th national census (2020): 17.98 %.
ELDERLY_SHARE = 0.1798
#: Compounds whose OSM way id is below this were mapped before 2021; taken as existing estates.
EXISTING_ESTATE_MAX_WAY_ID = 1_000_000_000
STREETS = {"金牛区": "天回镇街道", "新都区": "大丰街道"}

#: Illustrative existing facilities: (host compound name, kind, floor area m², beds).
#: Chosen so that the sample has covered and uncovered compounds and passing and failing norms.
FACILITIES = [
    ("北星城", "日间照料中心", 760, 22),
    ("保利公园里", "养老服务中心", 420, 12),
    ("绿地城", "养老服务中心", 280, 8),
    ("城北优品道", "养老服务站", 160, 6),
    ("盛世名城", "养老服务站", 120, 4),
    ("北斗七星城", "养老服务中心", 520, 10),
    ("克拉玛依小区", "养老服务站", 90, 6),
    ("天府石油乐园", "日间照料中心", 650, 20),
    ("民生新干线", "养老服务站", 200, 6),
    ("锦丰新城A区", "养老服务站", 180, 8),
    ("北延新居A区", "养老服务中心", 340, 10),
    ("方营小区", "养老服务站", 110, 0),
]


def _round_coords(geom, ndigits: int = 7):
    return shapely.set_precision(geom, 10 ** -ndigits)


def _feature_collection(gdf: gpd.GeoDataFrame, properties: list[str], note: str) -> str:
    """GeoJSON text with a stable property order, 7-decimal coordinates and one feature per line."""
    feats = []
    for row, geom in zip(gdf[properties].itertuples(index=False), gdf.geometry):
        props = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in zip(properties, row)}
        feats.append(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": json.loads(shapely.to_geojson(_round_coords(geom)))},
                                ensure_ascii=False, separators=(",", ":")))
    head = json.dumps({"type": "FeatureCollection", "name": note}, ensure_ascii=False)[:-1]
    crs = '"crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:OGC:1.3:CRS84"}}'
    return head + "," + crs + ',"features":[\n' + ",\n".join(feats) + "\n]}\n"


def _side_of_border(points: np.ndarray, border: shapely.LineString) -> np.ndarray:
    """+1 / -1 for each point: the side of the border line its nearest segment puts it on."""
    coords = np.asarray(border.coords)
    a, b = coords[:-1], coords[1:]
    segs = shapely.linestrings(np.stack([a, b], axis=1))
    pts = shapely.points(points)
    d = shapely.distance(pts[:, None], segs[None, :])
    nearest = d.argmin(axis=1)
    sa, sb = a[nearest], b[nearest]
    cross = (sb[:, 0] - sa[:, 0]) * (points[:, 1] - sa[:, 1]) - (sb[:, 1] - sa[:, 1]) * (points[:, 0] - sa[:, 0])
    return np.sign(cross)


def build(osm: Path, out: Path) -> dict[str, str]:
    """Write the sample files into ``out``; return their SHA-256 checksums."""
    out.mkdir(parents=True, exist_ok=True)
    feats = ox.features_from_xml(osm, tags={"landuse": "residential", "boundary": "administrative",
                                            "building": True, "amenity": True})
    feats = feats.reset_index()
    compounds = feats[(feats["landuse"] == "residential") & feats.geom_type.isin(["Polygon", "MultiPolygon"])]
    compounds = compounds.sort_values("id").reset_index(drop=True).to_crs(METRIC)
    border = feats[(feats.get("name") == "金牛新都边界")].to_crs(METRIC).geometry.iloc[0]

    # District from the side of the border; 新都区 lies north of 金牛区.
    reps = shapely.point_on_surface(compounds.geometry.to_numpy())
    xy = np.column_stack([shapely.get_x(reps), shapely.get_y(reps)])
    side = _side_of_border(xy, border)
    north_probe = np.array([[border.centroid.x, border.centroid.y + 20_000.0]])
    north_side = _side_of_border(north_probe, border)[0]
    district = np.where(side == north_side, "新都区", "金牛区")

    names = compounds["name"].fillna("").astype(str).to_numpy()
    ids = np.array([f"CD{int(i):010d}" for i in compounds["id"]])
    display = np.where(names == "", np.array([f"未命名小区 way {int(i)}" for i in compounds["id"]]), names)
    area = compounds.geometry.area.to_numpy()
    far = np.where(np.char.find(names.astype(str), "别墅") >= 0, FAR_VILLA, FAR_HIGH_RISE)
    population = np.round(area * far / FLOOR_AREA_PER_RESIDENT_M2).astype(int)
    households = np.round(population / PERSONS_PER_HOUSEHOLD).astype(int)
    elderly = np.round(population * ELDERLY_SHARE).astype(int)
    estate = np.where(compounds["id"].to_numpy() < EXISTING_ESTATE_MAX_WAY_ID, "existing", "new")
    street = np.array([STREETS[d] for d in district])

    boundaries = gpd.GeoDataFrame({
        "community_id": ids, "name": display, "district": district, "street": street,
        "estate_type": estate, "area_m2": np.round(area, 1),
        "osm_way": [f"https://www.openstreetmap.org/way/{int(i)}" for i in compounds["id"]],
        "source": "boundary, name: OpenStreetMap (ODbL); district: side of OSM border way 金牛新都边界; "
                  "street, estate_type: assigned (see data/README.md)",
    }, geometry=compounds.geometry.to_crs(4326).values, crs=4326)
    (out / "communities.geojson").write_text(
        _feature_collection(boundaries, ["community_id", "name", "district", "street", "estate_type", "area_m2",
                                         "osm_way", "source"],
                            "communities: 78 residential compounds, north Chengdu, © OpenStreetMap contributors"),
        encoding="utf-8")

    population_table = pd.DataFrame({
        "社区编码": ids, "小区名称": display, "人口": population, "户数": households, "60岁以上人口": elderly,
        "数据说明": f"估算: 面积×容积率{FAR_HIGH_RISE:g}(别墅{FAR_VILLA:g})÷人均{FLOOR_AREA_PER_RESIDENT_M2:g}m²; "
                    f"户数=人口÷{PERSONS_PER_HOUSEHOLD:g}; 60岁以上=人口×{ELDERLY_SHARE:.2%}",
    })
    population_table.to_csv(out / "population.csv", index=False, encoding="utf-8-sig", lineterminator="\n")

    by_name = {n: i for i, n in enumerate(names) if n}
    fac_rows = []
    for k, (host, kind, floor_area, beds) in enumerate(FACILITIES, start=1):
        geom = compounds.geometry.iloc[by_name[host]]
        # Inside the compound, a quarter of the way from its centre to its edge towards the street.
        centre = geom.point_on_surface()
        point = shapely.Point(centre.x, centre.y)
        lonlat = gpd.GeoSeries([point], crs=METRIC).to_crs(4326).iloc[0]
        fac_rows.append({"设施编码": f"F{k:02d}", "设施名称": f"{host}{kind}", "设施类型": kind,
                         "建筑面积": floor_area, "床位": beds, "经度": round(lonlat.x, 7), "纬度": round(lonlat.y, 7),
                         "数据说明": "示意数据 (illustrative)"})
    pd.DataFrame(fac_rows).to_csv(out / "facilities.csv", index=False, encoding="utf-8-sig", lineterminator="\n")

    # The district border itself, clipped to the export's extent, for the map.
    bounds = shapely.box(*feats.total_bounds)
    border_wgs = gpd.GeoSeries([border], crs=METRIC).to_crs(4326).iloc[0].intersection(bounds)
    border_gdf = gpd.GeoDataFrame({"name": ["金牛新都边界"], "admin_level": [6],
                                   "source": ["OpenStreetMap way 145238873 (boundary=administrative, admin_level 6)"]},
                                  geometry=[border_wgs], crs=4326)
    (out / "district_border.geojson").write_text(
        _feature_collection(border_gdf, ["name", "admin_level", "source"],
                            "金牛区 / 新都区 border, © OpenStreetMap contributors"), encoding="utf-8")

    candidates = _candidates(osm, feats, compounds)
    (out / "candidates.geojson").write_text(
        _feature_collection(candidates, ["candidate_id", "name", "kind", "max_floor_area_m2", "source"],
                            "candidate sites (illustrative), north Chengdu"), encoding="utf-8")

    gates = _gates(osm, compounds, ids)
    (out / "gates.geojson").write_text(
        _feature_collection(gates, ["gate_id", "community_id", "name", "access", "opening_hours", "source"],
                            "compound gates (illustrative, not surveyed), north Chengdu"), encoding="utf-8")

    if osm.resolve() != (out / OSM_NAME).resolve():
        shutil.copyfile(osm, out / OSM_NAME)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())
            if p.name in SAMPLE_FILES}


SAMPLE_FILES = ("communities.geojson", "population.csv", "facilities.csv", "candidates.geojson",
                "district_border.geojson", "gates.geojson", OSM_NAME)


def _gates(osm: Path, compounds: gpd.GeoDataFrame, ids: np.ndarray) -> gpd.GeoDataFrame:
    """Illustrative compound gates (the OSM export maps none): a main gate where the compound
    wall comes closest to a street outside it, open to all; in compounds with a wall longer than
    1 km, a side gate on the opposite side, for residents only and closed at night."""
    graph = ox.graph_from_xml(osm, bidirectional=True, simplify=True, retain_all=False)
    edges = ox.graph_to_gdfs(graph, nodes=False).to_crs(METRIC)
    streets = edges.geometry.to_numpy()
    tree = shapely.STRtree(streets)
    rows = []
    for cid, poly in zip(ids, compounds.geometry.to_numpy()):
        ring = shapely.get_exterior_ring(poly if poly.geom_type == "Polygon" else max(poly.geoms, key=lambda g: g.area))
        near = tree.query(poly.buffer(300))
        outside = [streets[i] for i in near if not streets[i].within(poly)]
        if not outside:
            continue
        line = shapely.shortest_line(ring, shapely.union_all(outside))
        main = shapely.get_point(line, 0)
        rows.append((f"G-{cid}-1", cid, "示意大门（非实测）", "", "", main))
        if ring.length > 1000:
            at = (ring.project(main) + ring.length / 2) % ring.length
            rows.append((f"G-{cid}-2", cid, "示意侧门（非实测，仅业主通行）", "private", "06:00-22:00",
                         ring.interpolate(at)))
    gdf = gpd.GeoDataFrame(rows, columns=["gate_id", "community_id", "name", "access", "opening_hours", "geometry"],
                           geometry="geometry", crs=METRIC).to_crs(4326)
    gdf["source"] = "illustrative: placed where the compound wall meets the nearest outside street (see data/README.md)"
    return gdf


def _candidates(osm: Path, feats: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """45 illustrative candidate sites: 15 non-residential buildings, 15 street corners, 15 compound edges."""
    rng = np.random.default_rng(20261123)
    buildings = feats[feats["building"].notna() & ~feats["building"].isin(["residential", "house", "apartments"])
                      & feats.geom_type.isin(["Polygon", "MultiPolygon"])].sort_values("id").to_crs(METRIC)
    pick_b = np.sort(rng.choice(len(buildings), size=min(15, len(buildings)), replace=False))
    b_pts = shapely.point_on_surface(buildings.geometry.to_numpy()[pick_b])

    graph = ox.graph_from_xml(osm, bidirectional=True, simplify=True, retain_all=False)
    nodes = ox.graph_to_gdfs(graph, edges=False).sort_index().to_crs(METRIC)
    degree = np.array([graph.degree(n) for n in nodes.index])
    corners = nodes[degree >= 6]  # bidirectional: degree 6 = a three-way junction
    area = shapely.union_all(compounds.geometry.to_numpy()).buffer(300)
    corners = corners[corners.intersects(area)]
    pick_c = np.sort(rng.choice(len(corners), size=min(15, len(corners)), replace=False))
    c_pts = corners.geometry.to_numpy()[pick_c]

    pick_e = np.sort(rng.choice(len(compounds), size=15, replace=False))
    rings = shapely.get_exterior_ring(compounds.geometry.to_numpy()[pick_e])
    e_pts = shapely.line_interpolate_point(rings, rng.uniform(0, 1, size=15), normalized=True)

    geoms = np.concatenate([b_pts, c_pts, e_pts])
    source = (["non-residential building (OSM)"] * len(b_pts) + ["street junction (OSM)"] * len(c_pts)
              + ["compound edge (OSM)"] * len(e_pts))
    kinds = rng.choice(["", "养老服务站", "养老服务中心"], size=len(geoms), p=[0.6, 0.25, 0.15])
    max_area = rng.choice([150, 250, 400, 800], size=len(geoms))
    names = [f"候选点 {i + 1:02d}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({
        "candidate_id": [f"C{i + 1:02d}" for i in range(len(geoms))], "name": names, "kind": kinds,
        "max_floor_area_m2": max_area.astype(float), "source": [f"illustrative; placed at a {s}" for s in source],
    }, geometry=gpd.GeoSeries(geoms, crs=METRIC).to_crs(4326).values, crs=4326)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--osm", type=Path, default=DEFAULT_OSM if DEFAULT_OSM.exists() else ROOT / "data" / OSM_NAME)
    parser.add_argument("--out", type=Path, default=ROOT / "data")
    args = parser.parse_args()
    for name, digest in build(args.osm, args.out).items():
        print(f"{digest}  {args.out / name}")


if __name__ == "__main__":
    main()
