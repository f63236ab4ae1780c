"""Norm profiles, per-community checks and the district/street roll-up, on hand-built data."""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from eldercare_coverage import norms
from eldercare_coverage.errors import InputError

CRS = "EPSG:32648"
X0, Y0 = 400_000.0, 3_000_000.0  # somewhere in UTM zone 48N


def make_communities(rows: list[dict]) -> gpd.GeoDataFrame:
    """Communities as 1 km squares side by side; ``rows`` give the attributes."""
    base = {"name": "", "district": "D1", "street": "", "households": np.nan,
            "elderly_population": np.nan, "estate_type": ""}
    recs = [base | {"community_id": f"C{i}"} | r for i, r in enumerate(rows)]
    geoms = [box(X0 + i * 1000, Y0, X0 + (i + 1) * 1000, Y0 + 1000) for i in range(len(rows))]
    gdf = gpd.GeoDataFrame(recs, geometry=geoms, crs=CRS)
    gdf["population"] = gdf["population"].astype(float)
    return gdf


def centre(i: int, dx: float = 0.0) -> Point:
    """A point inside community number ``i`` (see :func:`make_communities`)."""
    return Point(X0 + i * 1000 + 500 + dx, Y0 + 500)


def make_facilities(rows: list[dict]) -> gpd.GeoDataFrame:
    """Facilities; each row gives ``at`` (community index, -1 = far outside) and attributes."""
    recs, geoms = [], []
    for j, r in enumerate(rows):
        r = dict(r)
        at = r.pop("at")
        geoms.append(Point(X0 - 50_000, Y0) if at < 0 else centre(at, dx=j))
        recs.append({"facility_id": f"F{j}", "name": f"f{j}", "floor_area_m2": np.nan, "beds": np.nan,
                     "capacity": np.nan, "community_id": ""} | r)
    if not recs:
        return gpd.GeoDataFrame({"facility_id": [], "name": [], "kind": [], "floor_area_m2": [], "beds": [],
                                 "capacity": [], "community_id": []}, geometry=[], crs=CRS)
    return gpd.GeoDataFrame(recs, geometry=geoms, crs=CRS)


NO_FACILITIES = make_facilities([])


# --- profiles ---------------------------------------------------------------------------------

def test_every_shipped_profile_loads_and_names_its_source():
    listing = norms.list_profiles()
    assert set(listing["name"]) == {"national", "baoji", "yuxi", "lhasa", "beijing", "tianjin_hexi"}
    assert (listing["source_document"].str.len() > 0).all()
    assert (listing["clause"].str.len() > 0).all()
    assert (listing["clause_en"].str.len() > 0).all()
    for name in listing["name"]:
        p = norms.load_profile(name)
        assert p.name == name and p.chain == (name,)
        limit = p.walk_limit_min(0.9)
        assert limit is None or limit > 0
    assert set(listing.set_index("name")["status"].items()) == {
        ("national", "restated"), ("baoji", "issued"), ("lhasa", "issued"), ("yuxi", "draft"),
        ("beijing", "exchange_material"), ("tianjin_hexi", "exchange_material")}


def test_shipped_figures():
    nat = norms.load_profile("national")
    assert (nat.land_per_resident_m2, nat.per_100_households_new_m2, nat.per_100_households_existing_m2) == (0.1, 20, 15)
    assert nat.per_resident_m2 is None  # 0.1 m² per resident is land (用地), not floor area
    assert nat.walk_limit_min() is None  # no national text states a walk limit: the study's is used
    baoji = norms.load_profile("baoji")
    assert baoji.land_per_resident_m2 == 0.1 and baoji.per_resident_m2 is None and baoji.time_limit_min == 15
    assert [(t.kind, t.max_floor_area_m2) for t in baoji.tiers] == [
        ("day_care_centre", None), ("service_centre", 700), ("service_station", 300)]
    assert [(t.kind, t.min_population, t.min_floor_area_m2, t.min_beds, t.build_cost_cny) for t in baoji.tiers] == [
        ("day_care_centre", 10000, 700, 20, 800_000), ("service_centre", 5000, 300, 10, 350_000),
        ("service_station", 0, 100, 6, 250_000)]
    assert baoji.tier("day_care_centre").max_shared_area_m2 == 200
    lhasa = norms.load_profile("lhasa")
    assert lhasa.per_resident_m2 == 0.1 and lhasa.per_resident_estate_types == ("new", "redevelopment")
    assert lhasa.tier("day_care_centre").operating_subsidy_cny_per_year == 100_000
    assert lhasa.tier("service_station").operating_subsidy_cny_per_year == 50_000
    assert not lhasa.bands  # subsidies only: no population banding
    bj = norms.load_profile("beijing")
    assert (bj.recipients_per_facility_min, bj.recipients_per_facility_max) == (200, 300)
    assert bj.walk_limit_min() is None and bj.recipient_base == "basic_service_recipients"
    hexi = norms.load_profile("tianjin_hexi")
    assert hexi.distance_m == 700 and hexi.time_limit_min is None
    assert hexi.walk_limit_min(0.9) == pytest.approx(700 / 0.9 / 60)
    assert hexi.walk_limit_min(1.0) == pytest.approx(700 / 60)
    with pytest.raises(ValueError, match="walk_speed_mps"):
        hexi.walk_limit_min()
    assert norms.load_profile("yuxi").walk_limit_min() is None


def test_band_labels_state_the_boundaries():
    p = norms.load_profile("baoji")
    assert p.band_label("day_care_centre", "en") == "population≥10000"
    assert p.band_label("service_centre", "en") == "5000≤population<10000"
    assert p.band_label("service_station", "zh") == "人口<5000"


# --- per-community area rules ----------------------------------------------------------------

def test_per_resident_land_12000_residents_need_1200_m2_of_land_not_floor_area():
    com = make_communities([{"population": 12000}])
    t = norms.check_communities(com, NO_FACILITIES, norms.load_profile("national"))
    row = t.iloc[0]
    assert row["land_required_m2"] == pytest.approx(1200.0)
    assert row["land_rule"] == "national: land.per_resident_m2 = 0.1"
    assert row["land_status"] == "not checkable: no site area"
    assert math.isnan(row["land_gap_m2"])
    assert math.isnan(row["area_per_resident_m2"]) and math.isnan(row["area_required_m2"])
    assert row["area_required_rule"] == "no floor-area rule applies"
    assert row["area_per_households_rule"] == "households unknown"


def test_households_rule_by_estate_type_and_binding_rule():
    com = make_communities([
        {"population": 5000, "households": 3000, "estate_type": "new"},       # 600 vs 500 per resident
        {"population": 5000, "households": 3000, "estate_type": "existing"},  # 450 vs 500
        {"population": 5000, "households": 3000, "estate_type": ""},          # unknown -> existing rate
    ])
    t = norms.check_communities(com, NO_FACILITIES, norms.load_profile("national"))
    assert t["area_per_households_m2"].tolist() == pytest.approx([600.0, 450.0, 450.0])
    assert t["area_required_m2"].tolist() == pytest.approx([600.0, 450.0, 450.0])
    assert t.loc[0, "area_required_rule"] == "national: area.per_100_households_new_m2 = 20"
    assert t.loc[1, "area_required_rule"] == "national: area.per_100_households_existing_m2 = 15"
    assert t["land_required_m2"].tolist() == pytest.approx([500.0, 500.0, 500.0])  # land, apart
    assert "estate type unknown, taken as existing" in t.loc[2, "area_per_households_rule"]


def test_provided_area_by_id_then_polygon_and_facilities_outside_are_listed():
    # Lhasa: 0.1 m² of facility area per resident in new estates.
    com = make_communities([{"population": 12000, "estate_type": "new"}, {"population": 3000, "estate_type": "new"}])
    fac = make_facilities([
        {"at": 0, "kind": "service_station", "floor_area_m2": 200.0},
        # lies in C0 but its community_id says C1: the id wins
        {"at": 0, "kind": "service_station", "floor_area_m2": 50.0, "community_id": "C1"},
        # unknown id: falls back to the polygon (C1)
        {"at": 1, "kind": "meal_point", "floor_area_m2": 30.0, "community_id": "NOPE"},
        # nursing homes do not count as community service floor area
        {"at": 1, "kind": "nursing_home", "floor_area_m2": 5000.0},
        {"at": -1, "kind": "day_care_centre", "floor_area_m2": 900.0},  # in no community
        {"at": 1, "kind": "service_station"},  # unknown area
    ])
    t = norms.check_communities(com, fac, norms.load_profile("lhasa"))
    assert t["area_provided_m2"].tolist() == pytest.approx([200.0, 80.0])
    assert t["facility_ids"].tolist() == ["F0", "F1;F2;F3;F5"]
    assert t["facilities_area_unknown"].tolist() == [0, 1]
    assert t["area_gap_m2"].tolist() == pytest.approx([1000.0, 220.0])
    a = norms.assign_facilities(com, fac).set_index("facility_id")
    assert a.loc["F1", "assigned_by"] == "community_id"
    assert a.loc["F2", "assigned_by"] == "polygon" and "NOPE" in a.loc["F2", "note"]
    assert a.loc["F4", "assigned_by"] == "none" and a.loc["F4", "assigned_community_id"] == ""
    loose = norms.unassigned_facilities(t, fac)
    assert loose["facility_id"].tolist() == ["F4"]
    r = norms.rollup(t, fac, norms.load_profile("national"))
    outside = r[r["row_type"] == "no_community"].iloc[0]
    assert outside["existing_day_care_centre"] == 1 and outside["existing_total"] == 1
    assert r[r["row_type"] == "total"].iloc[0]["existing_total"] == len(fac)


# --- tiers: the Baoji-style task table -----------------------------------------------------------

def test_boundary_populations_are_banded_as_documented():
    pops = [10000, 9999, 5000, 4999, 0, np.nan]
    t = norms.check_communities(make_communities([{"population": p} for p in pops]), NO_FACILITIES,
                                norms.load_profile("baoji"))
    assert t["tier_required"].tolist() == ["day_care_centre", "service_centre", "service_centre",
                                           "service_station", "service_station", ""]
    assert t.loc[5, "tier_required_rule"] == "population unknown"
    assert t.loc[0, "tier_required_rule"] == "baoji: tiers.day_care_centre.min_population = 10000"
    assert t.loc[2, "tier_required_rule"] == ("baoji: tiers.service_centre.min_population = 5000; "
                                              "below baoji: tiers.day_care_centre.min_population = 10000")
    assert t["beds_required"].tolist()[:5] == [20, 10, 10, 6, 6]


def baoji_city():
    """Two districts with all three bands and existing centres; the expected table is worked by hand."""
    com = make_communities([
        {"district": "金台区", "street": "S1", "population": 15000},  # C0 has day-care -> met
        {"district": "金台区", "street": "S1", "population": 12000},  # C1 has centre -> needs day-care
        {"district": "金台区", "street": "S2", "population": 7000},   # C2 has day-care (higher) -> met
        {"district": "金台区", "street": "S2", "population": 5000},   # C3 nothing -> centre
        {"district": "金台区", "street": "S2", "population": 3000},   # C4 station -> met
        {"district": "金台区", "street": "S3", "population": 10000},  # C5 nothing -> day-care
        {"district": "渭滨区", "street": "S4", "population": 4999},   # C6 nothing -> station
        {"district": "渭滨区", "street": "S4", "population": 20000},  # C7 station -> day-care
        {"district": "渭滨区", "street": "S5", "population": 8000},   # C8 two stations -> centre
    ])
    fac = make_facilities([
        {"at": 0, "kind": "day_care_centre", "floor_area_m2": 800.0, "beds": 25},
        {"at": 1, "kind": "service_centre", "floor_area_m2": 400.0, "beds": 10},
        {"at": 2, "kind": "day_care_centre", "floor_area_m2": 700.0, "beds": 20},
        {"at": 4, "kind": "service_station", "floor_area_m2": 150.0, "beds": 6},
        {"at": 7, "kind": "service_station", "floor_area_m2": 100.0},
        {"at": 8, "kind": "service_station", "floor_area_m2": 120.0, "beds": 4},
        {"at": 8, "kind": "service_station", "floor_area_m2": 120.0, "beds": 4},
        {"at": 8, "kind": "nursing_home", "floor_area_m2": 3000.0, "beds": 200},
    ])
    return com, fac


def test_baoji_task_table_by_district():
    com, fac = baoji_city()
    p = norms.load_profile("baoji")
    t = norms.check_communities(com, fac, p)
    assert t["new_facility"].tolist() == ["", "day_care_centre", "", "service_centre", "", "day_care_centre",
                                          "service_station", "day_care_centre", "service_centre"]
    r = norms.rollup(t, fac, p).set_index("district")
    jt, wb = r.loc["金台区"], r.loc["渭滨区"]
    band = ["communities_band_day_care_centre", "communities_band_service_centre", "communities_band_service_station"]
    assert jt[band].tolist() == [3, 2, 1] and wb[band].tolist() == [1, 1, 1]
    assert jt[["existing_day_care_centre", "existing_service_centre", "existing_service_station"]].tolist() == [2, 1, 1]
    assert wb[["existing_day_care_centre", "existing_service_station", "existing_nursing_home"]].tolist() == [0, 3, 1]
    assert jt[["new_day_care_centre", "new_service_centre", "new_service_station", "new_total"]].tolist() == [2, 1, 0, 3]
    assert wb[["new_day_care_centre", "new_service_centre", "new_service_station", "new_total"]].tolist() == [1, 1, 1, 3]
    # subsidies: base + minimum top-up = 800k / 350k / 250k CNY
    assert jt["subsidy_build_cny"] == 2 * 800_000 + 350_000
    assert wb["subsidy_build_cny"] == 800_000 + 350_000 + 250_000
    total = r.loc["(all)"]
    assert total["new_total"] == 6 and total["subsidy_build_cny"] == 1_950_000 + 1_400_000
    # floor area: the required tier's minimum (Baoji states no floor area per resident);
    # nursing home not counted
    assert jt["area_required_m2"] == pytest.approx(700 + 700 + 300 + 300 + 100 + 700)
    assert jt["area_provided_m2"] == pytest.approx(800 + 400 + 700 + 150)
    assert jt["area_gap_m2"] == pytest.approx(0 + 300 + 0 + 300 + 0 + 700)
    # land: 0.1 m² per resident, reported apart, not checkable without site areas
    assert jt["land_required_m2"] == pytest.approx(1500 + 1200 + 700 + 500 + 300 + 1000)
    assert math.isnan(jt["land_gap_m2"]) and (t["land_status"] == "not checkable: no site area").all()
    assert not t["area_exceeds_tier_max"].any()
    # every existing facility here meets its own tier's minimum floor area (C8's stations: 120 >= 100)
    assert jt["facilities_below_tier_area"] == 0 and wb["facilities_below_tier_area"] == 0
    # beds: only tiered facilities count (the nursing home's 200 beds do not)
    assert wb["beds_provided"] == 8 and wb["beds_required"] == 6 + 20 + 10
    assert wb["bed_shortfall"] == 6 + 20 + 2


def test_facilities_below_their_tier_minimum_are_counted():
    com = make_communities([{"population": 12000}])
    fac = make_facilities([{"at": 0, "kind": "day_care_centre", "floor_area_m2": 650.0},
                           {"at": 0, "kind": "service_station", "floor_area_m2": 90.0},
                           {"at": 0, "kind": "service_station", "floor_area_m2": 100.0},
                           {"at": 0, "kind": "service_station"}])  # unknown area: not counted as below
    t = norms.check_communities(com, fac, norms.load_profile("baoji"))
    assert t.loc[0, "facilities_below_tier_area"] == 2
    assert t.loc[0, "tier_met"]  # a small day-care centre still counts as present
    t = norms.check_communities(com, fac, norms.load_profile("national"))  # no tier sizes in profile
    assert t.loc[0, "facilities_below_tier_area"] == 0


def test_tier_minimum_area_binds_when_larger(tmp_path):
    # A planner's own floor-area rule on top of Baoji's tiers.
    p = norms.load_profile(user_file=write(tmp_path, 'extends = "baoji"\n[area]\nper_resident_m2 = 0.1\n'))
    t = norms.check_communities(make_communities([{"population": 10000}]), NO_FACILITIES, p)
    assert t.loc[0, "area_required_m2"] == 1000  # 0.1 x 10000 beats the 700 m² tier minimum
    t = norms.check_communities(make_communities([{"population": 1200}]), NO_FACILITIES, p)
    assert t.loc[0, "area_required_m2"] == 120  # 0.1 x 1200 beats the 100 m² station minimum
    t = norms.check_communities(make_communities([{"population": 600}]), NO_FACILITIES,
                                norms.load_profile("baoji"))
    assert t.loc[0, "area_required_m2"] == 100
    assert t.loc[0, "area_required_rule"] == "baoji: tiers.service_station.min_floor_area_m2 = 100"


def test_rollup_sums_equal_community_sums_by_district_and_street():
    com, fac = baoji_city()
    p = norms.load_profile("baoji")
    t = norms.check_communities(com, fac, p)
    for by in ("district", "street"):
        r = norms.rollup(t, fac, p, by=by)
        groups = r[r["row_type"] == "group"]
        total = r[r["row_type"] == "total"].iloc[0]
        assert groups["communities"].sum() == len(com) == total["communities"]
        for c in ("population", "area_required_m2", "area_provided_m2", "area_gap_m2", "subsidy_build_cny",
                  "new_day_care_centre", "new_service_centre", "new_service_station", "bed_shortfall"):
            assert groups[c].sum() == pytest.approx(t[c].sum()), c
            assert total[c] == pytest.approx(t[c].sum()), c
        assert total["existing_total"] == len(fac)
    streets = norms.rollup(t, fac, p, by="street")
    assert streets.loc[streets["street"] == "S2", "new_service_centre"].item() == 1


# --- coverage from the access table --------------------------------------------------------------

def test_coverage_columns_with_and_without_access_table():
    com = make_communities([{"population": 1000, "elderly_population": 200, "households": 400},
                            {"population": 3000, "elderly_population": 600, "households": 1000, "district": "D2"},
                            {"population": 500, "elderly_population": 100, "households": 200}])
    p = norms.load_profile("national")
    t = norms.check_communities(com, NO_FACILITIES, p)
    assert (t["coverage_status"] == "not computed").all()
    assert t[list(norms.ACCESS_COLUMNS)].isna().all().all()
    r = norms.rollup(t, NO_FACILITIES, p)
    assert (r["coverage_status"] == "not computed").all() and r["share_elderly_within"].isna().all()
    access = pd.DataFrame({"community_id": ["C0", "C1"], "residents_within": [800.0, 600.0],
                           "elderly_within": [150.0, 60.0], "households_within": [300.0, 100.0],
                           "share_residents_within": [0.8, 0.2], "share_elderly_within": [0.75, 0.1],
                           "share_households_within": [0.75, 0.1], "median_time_min": [7.0, 22.0]})
    t = norms.check_communities(com, NO_FACILITIES, p, access)
    assert t["coverage_status"].tolist() == ["computed", "computed", "missing from access table"]
    assert t.loc[0, "elderly_within"] == 150 and t.loc[1, "median_time_min"] == 22
    r = norms.rollup(t, NO_FACILITIES, p).set_index("district")
    # D1: C0 computed, C2 missing -> share over the computed community only, status partial
    assert r.loc["D1", "share_elderly_within"] == pytest.approx(150 / 200)
    assert r.loc["D1", "coverage_status"] == "partial"
    assert r.loc["D2", "share_residents_within"] == pytest.approx(600 / 3000)
    assert r.loc["(all)", "share_elderly_within"] == pytest.approx((150 + 60) / (200 + 600))


# --- service capacity (Beijing) ------------------------------------------------------------------

def test_beijing_posts_per_recipients():
    com = make_communities([{"population": 8000, "elderly_population": 1600, "basic_service_recipients": 1000}])
    fac = make_facilities([{"at": 0, "kind": "service_station"},  # capacity unknown: counted at 300
                           {"at": 0, "kind": "service_station", "capacity": 150.0}])
    t = norms.check_communities(com, fac, norms.load_profile("beijing"))
    row = t.iloc[0]
    assert row["service_recipients"] == 1000
    assert row["stations_required_min"] == 4 and row["stations_required_max"] == 5  # ceil(1000/300), ceil(1000/200)
    assert row["stations_present"] == 2 and row["station_shortfall"] == 2
    assert row["capacity_provided"] == 450 and row["capacity_gap"] == 550
    assert "recipients_per_facility_max = 300" in row["service_capacity_rule"]
    assert "basic_service_recipients" in row["service_capacity_rule"] and row["service_capacity_status"] == "checked"
    t = norms.check_communities(com, fac, norms.load_profile("national"))
    assert np.isnan(t.loc[0, "stations_required_min"])


# --- user profiles ---------------------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "mine.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_profile_extends_and_overrides(tmp_path):
    path = write(tmp_path, 'extends = "baoji"\ntitle = "我的"\n[area]\nper_resident_m2 = 0.2\n'
                           'per_100_households_new_m2 = 30\n[tiers.day_care_centre]\nmin_population = 12000\n')
    p = norms.load_profile(user_file=path)
    assert p.chain == ("baoji", "mine.toml")
    assert p.tier("day_care_centre").min_population == 12000
    assert p.tier("day_care_centre").min_beds == 20  # inherited
    com = make_communities([{"population": 10000, "households": 3000, "estate_type": "new"}])
    base = norms.check_communities(com, NO_FACILITIES, norms.load_profile("baoji")).iloc[0]
    mine = norms.check_communities(com, NO_FACILITIES, p).iloc[0]
    assert base["tier_required"] == "day_care_centre" and mine["tier_required"] == "service_centre"
    assert base["area_required_m2"] == 700 and mine["area_required_m2"] == 2000
    assert mine["area_required_rule"] == "mine.toml: area.per_resident_m2 = 0.2"
    assert mine["area_per_households_m2"] == 900
    assert mine["tier_required_rule"] == ("baoji: tiers.service_centre.min_population = 5000; "
                                          "below mine.toml: tiers.day_care_centre.min_population = 12000")
    assert mine["beds_required_rule"] == "baoji: tiers.service_centre.min_beds = 10"


def test_user_profile_without_extends_uses_the_named_profile_and_can_switch_rules_off(tmp_path):
    path = write(tmp_path, "[land]\nper_resident_m2 = 0\n[tiers.service_station]\nenabled = false\n")
    p = norms.load_profile("baoji", path)
    assert p.land_per_resident_m2 is None and [t.kind for t in p.tiers] == ["day_care_centre", "service_centre"]
    t = norms.check_communities(make_communities([{"population": 3000}]), NO_FACILITIES, p)
    assert t.loc[0, "tier_required"] == "" and np.isnan(t.loc[0, "area_required_m2"])
    assert t.loc[0, "area_required_rule"] == "no floor-area rule applies"
    assert t.loc[0, "land_status"] == "no land rule"


@pytest.mark.parametrize("text, key, fix_part", [
    ('extends = "baoji"\n[area]\nper_resident_m = 0.2\n', "area.per_resident_m", "per_resident_m2"),
    ('[area]\nper_resident_m2 = "0.2"\n', "area.per_resident_m2", "plain number"),
    ('[area]\nper_resident_m2 = -1\n', "area.per_resident_m2", "0 (rule not applied)"),
    ('[tiers.day_care_centre]\nmin_population = 4000\n', "tiers.day_care_centre.min_population", "larger population"),
    ('[tiers.palace]\nmin_population = 4000\n', "tiers.palace", "day_care_centre"),
    ('[access]\nwalk_speed_mps = 0.9\n', "access.walk_speed_mps", "[access] walk_speed"),
    ('[access]\ndistance_m = -700\n', "access.distance_m", "positive"),
    ('[land]\nper_resident_m2 = "0.1"\n', "land.per_resident_m2", "plain number"),
    ('[cite."land.per_resident_m2"]\nqoute = "x"\n', "cite.land.per_resident_m2.qoute", "quote"),
    ('[area]\nunknown_estate_type = "old"\n', "area.unknown_estate_type", "existing"),
    ('extends = "shanghai"\n', "extends", "national"),
    ('[service_capacity]\nrecipients_per_facility_min = 400\nrecipients_per_facility_max = 300\n',
     "service_capacity.recipients_per_facility_min", "Swap"),
])
def test_bad_user_profiles_name_file_key_and_fix(tmp_path, text, key, fix_part):
    path = write(tmp_path, 'extends = "baoji"\n' + text if not text.startswith("extends") else text)
    with pytest.raises(InputError) as err:
        norms.load_profile(user_file=path)
    problems = err.value.report.errors
    assert problems, "an error must be reported"
    assert any(p.file.endswith("mine.toml") and p.field == key and fix_part in p.fix for p in problems), \
        err.value.report.format()


def test_bad_toml_and_missing_file(tmp_path):
    # .message is the English text; str() is the report in the default language (zh: no study here)
    with pytest.raises(InputError, match="不是有效的 TOML") as info:
        norms.load_profile(user_file=write(tmp_path, "[area\nx = 1\n"))
    assert "not valid TOML" in info.value.report.errors[0].message
    with pytest.raises(InputError, match="找不到规范文件") as info:
        norms.load_profile(user_file=tmp_path / "absent.toml")
    assert "not found" in info.value.report.errors[0].message
    with pytest.raises(InputError, match="未知的规范「nowhere」") as info:
        norms.load_profile("nowhere")
    assert "unknown norm profile 'nowhere'" in info.value.report.errors[0].message


def test_lhasa_per_resident_applies_in_new_estates_and_redevelopment_only(tmp_path):
    com = make_communities([{"population": 2000, "estate_type": "new"},
                            {"population": 2000, "estate_type": "existing"},
                            {"population": 2000, "estate_type": "redevelopment"},
                            {"population": 2000, "estate_type": ""}])
    t = norms.check_communities(com, NO_FACILITIES, norms.load_profile("lhasa"))
    assert t.loc[0, "area_required_m2"] == 200 and t.loc[2, "area_required_m2"] == 200
    assert math.isnan(t.loc[1, "area_required_m2"]) and math.isnan(t.loc[3, "area_required_m2"])
    assert t.loc[1, "area_per_resident_rule"] == \
        "not applicable: lhasa: area.per_resident_estate_types = [new, redevelopment]"
    assert (t["land_status"] == "no land rule").all()  # Lhasa's 面积 is facility area, not 用地
    # a planner can widen the scope in a profile file
    p = norms.load_profile("lhasa", write(tmp_path, '[area]\nper_resident_estate_types = ["new", "existing", '
                                                     '"redevelopment", "unknown"]\n'))
    t = norms.check_communities(com, NO_FACILITIES, p)
    assert t["area_required_m2"].tolist() == [200, 200, 200, 200]


# --- requirement kinds: land (用地), floor area (建筑面积), floor area per 100 households -------------

def test_land_with_site_area_is_checked_against_site_area_never_floor_area():
    com = make_communities([{"population": 8000}, {"population": 6000}, {"population": 3000}])
    fac = make_facilities([
        # 900 m² of floor area but only 500 m² of site: 800 m² of land is short by 300
        {"at": 0, "kind": "service_centre", "floor_area_m2": 900.0, "site_area_m2": 500.0},
        {"at": 1, "kind": "service_centre", "floor_area_m2": 300.0, "site_area_m2": 650.0},
        {"at": 2, "kind": "service_station", "floor_area_m2": 200.0},  # site area unknown
    ])
    t = norms.check_communities(com, fac, norms.load_profile("baoji"))
    assert t["land_required_m2"].tolist() == pytest.approx([800.0, 600.0, 300.0])
    assert t["land_provided_m2"].tolist() == pytest.approx([500.0, 650.0, 0.0])
    assert t["land_gap_m2"].tolist() == pytest.approx([300.0, 0.0, 300.0])
    assert t["land_status"].tolist() == ["short", "met", "site area unknown"]
    assert t["land_rule"].tolist() == ["baoji: land.per_resident_m2 = 0.1"] * 3
    # floor area is checked on its own against the tier minimum only
    assert t["area_required_m2"].tolist() == [300.0, 300.0, 100.0]
    assert t["area_gap_m2"].tolist() == [0.0, 0.0, 0.0]
    r = norms.rollup(t, fac, norms.load_profile("baoji")).set_index("district")
    assert r.loc["(all)", "land_gap_m2"] == pytest.approx(600.0) and r.loc["(all)", "area_gap_m2"] == 0


def test_land_without_site_area_is_the_land_to_reserve_with_no_pass_or_fail():
    com = make_communities([{"population": 8000}])
    fac = make_facilities([{"at": 0, "kind": "service_centre", "floor_area_m2": 2000.0}])
    t = norms.check_communities(com, fac, norms.load_profile("baoji"))
    row = t.iloc[0]
    assert row["land_required_m2"] == pytest.approx(800.0)
    assert row["land_status"] == "not checkable: no site area"
    assert math.isnan(row["land_provided_m2"]) and math.isnan(row["land_gap_m2"])  # 2000 m² of floor area is not land


def test_floor_area_per_resident_lhasa():
    com = make_communities([{"population": 4000, "estate_type": "new"}])
    fac = make_facilities([{"at": 0, "kind": "service_station", "floor_area_m2": 150.0, "site_area_m2": 5000.0}])
    t = norms.check_communities(com, fac, norms.load_profile("lhasa"))
    row = t.iloc[0]
    assert row["area_per_resident_m2"] == 400 and row["area_required_m2"] == 400
    assert row["area_required_rule"] == "lhasa: area.per_resident_m2 = 0.1"
    assert row["area_provided_m2"] == 150 and row["area_gap_m2"] == 250  # site area does not count
    assert row["land_status"] == "no land rule"


def test_floor_area_per_100_households_yuxi():
    com = make_communities([{"population": 5000, "households": 2000, "estate_type": "new"},
                            {"population": 5000, "households": 2000, "estate_type": "existing"},
                            {"population": 5000, "households": 2000, "estate_type": "redevelopment"},
                            {"population": 5000, "estate_type": "new"}])
    fac = make_facilities([{"at": 1, "kind": "service_station", "floor_area_m2": 250.0}])
    t = norms.check_communities(com, fac, norms.load_profile("yuxi"))
    assert t["area_per_households_m2"].tolist()[:3] == [400.0, 300.0, 300.0]
    assert t["area_required_rule"].tolist()[:3] == ["yuxi: area.per_100_households_new_m2 = 20",
                                                    "yuxi: area.per_100_households_existing_m2 = 15",
                                                    "yuxi: area.per_100_households_existing_m2 = 15"]
    assert t["area_gap_m2"].tolist()[:3] == [400.0, 50.0, 300.0]
    assert t.loc[3, "area_per_households_rule"] == "households unknown" and math.isnan(t.loc[3, "area_required_m2"])
    assert (t["land_status"] == "no land rule").all()


# --- tier caps and per-capita requirements together --------------------------------------------------

def test_tier_cap_conflict_says_how_to_meet_it_within_the_tier_sizes(tmp_path):
    # A planner's floor-area rule of 0.1 m² per resident on top of Baoji's tiers: a service-centre
    # community of 8,056 residents (the sample's 保利公园里) needs 805.6 m², more than the 700 m²
    # a service centre may have.
    p = norms.load_profile(user_file=write(tmp_path, 'extends = "baoji"\n[area]\nper_resident_m2 = 0.1\n'))
    com = make_communities([{"population": 8056}, {"population": 4999}, {"population": 6000}, {"population": 12000}])
    t = norms.check_communities(com, NO_FACILITIES, p, language="en")
    assert t["area_required_m2"].tolist() == pytest.approx([805.6, 499.9, 600.0, 1200.0])
    assert t["area_tier_max_m2"].tolist()[:3] == [700.0, 300.0, 700.0] and math.isnan(t.loc[3, "area_tier_max_m2"])
    assert t["area_exceeds_tier_max"].tolist() == [True, True, False, False]
    plan = t.loc[0, "area_plan"]
    assert "one 700 m² eldercare service centre plus one eldercare service station of 105.6 m²" in plan
    assert "baoji: tiers.service_centre.max_floor_area_m2 = 700" in plan
    assert "or one day-care centre of at least 805.6 m² (baoji: tiers.day_care_centre.min_floor_area_m2 = 700)" in plan
    plan = t.loc[1, "area_plan"]
    assert "one 300 m² eldercare service station plus one eldercare service station of 199.9 m²" in plan
    assert "or one eldercare service centre of at least 499.9 m²" in plan
    assert t.loc[2, "area_plan"] == "" and t.loc[3, "area_plan"] == ""  # a day-care centre has no maximum
    zh = norms.check_communities(com, NO_FACILITIES, p).loc[0, "area_plan"]
    assert "可建1个700平方米的养老服务中心加1个养老服务站（105.6平方米" in zh


def test_tier_cap_plan_splits_a_large_remainder_into_facilities_of_allowed_size(tmp_path):
    p = norms.load_profile(user_file=write(tmp_path, 'extends = "baoji"\n[tiers.day_care_centre]\nenabled = false\n'))
    assert norms.tier_cap_plan(p, "service_centre", 1199.9, language="en").startswith(
        "1,199.9 m² exceeds the largest eldercare service centre allowed, 700 m²")
    assert "plus one eldercare service centre of 499.9 m²" in norms.tier_cap_plan(p, "service_centre", 1199.9,
                                                                                 language="en")
    assert "plus 2 more eldercare service centre(s) of at most 700 m² each" in \
        norms.tier_cap_plan(p, "service_centre", 2000.0, language="en")
    assert "or one" not in norms.tier_cap_plan(p, "service_centre", 2000.0, language="en")  # no higher tier
    assert "at its minimum of 100 m²" in norms.tier_cap_plan(p, "service_station", 350.0, language="en")
    assert norms.tier_cap_plan(p, "service_centre", 700.0) == ""


def test_no_sample_community_is_asked_for_a_facility_larger_than_its_tier_under_baoji():
    from eldercare_coverage import pipeline
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study

    study = load_study(load_config(pipeline.sample_config_path()))
    t = pipeline.check_norms(study, profile="baoji").communities
    assert len(t) == 78
    assert not (t["area_required_m2"] > t["area_tier_max_m2"]).any() and not t["area_exceeds_tier_max"].any()
    # the 0.1 m² per resident is land: reported apart, never as floor area
    assert t["land_required_m2"].to_numpy() == pytest.approx(t["population"].to_numpy() * 0.1)
    assert (t["area_required_m2"] <= 700).all()
    assert t.loc[t["population"] == 8056, "land_required_m2"].item() == pytest.approx(805.6)


# --- basic-service recipients (Beijing) -------------------------------------------------------------

def test_recipients_column_present_drives_the_200_300_rule():
    com = make_communities([{"population": 9000, "elderly_population": 1800, "basic_service_recipients": 650},
                            {"population": 3000, "elderly_population": 500, "basic_service_recipients": np.nan}])
    fac = make_facilities([{"at": 0, "kind": "service_station"}])
    t = norms.check_communities(com, fac, norms.load_profile("beijing"))
    assert t.loc[0, "service_recipients"] == 650
    assert (t.loc[0, "stations_required_min"], t.loc[0, "stations_required_max"]) == (3, 4)  # 650/300, 650/200
    assert t.loc[0, "station_shortfall"] == 2
    assert t["service_capacity_status"].tolist() == ["checked", "recipients unknown"]
    assert math.isnan(t.loc[1, "stations_required_min"])  # never estimated from the 500 older residents


def test_recipients_column_absent_means_the_rule_could_not_be_checked(tmp_path):
    from eldercare_coverage import report

    com = make_communities([{"population": 9000, "elderly_population": 1800}])
    p = norms.load_profile("beijing")
    t = norms.check_communities(com, make_facilities([{"at": 0, "kind": "service_station"}]), p)
    assert t.loc[0, "service_capacity_status"] == "no basic_service_recipients"
    assert t[["service_recipients", "stations_required_min", "station_shortfall", "capacity_gap"]].isna().all().all()
    d = norms.rollup(t, NO_FACILITIES, p)
    paths = report.write_reports(t, d, tmp_path, profile=p, parameters={}, input_files=[], language="zh")
    assert "输入无基本养老服务对象人数，该规则无法核查" in paths["html"].read_text(encoding="utf-8")


# --- walk limits as the source gives them ----------------------------------------------------------

def test_tianjin_distance_limit_reaches_exactly_700_m_of_network_through_the_access_engine():
    import shapely

    from eldercare_coverage.access import coverage_matrix, snap_points
    from eldercare_coverage.network import network_from_arrays

    # A 2 km street bent at a right angle after 400 m: straight-line distance is shorter than
    # network distance beyond the bend, so only a network limit gives exactly 700 m of walking.
    xs = np.array([X0, X0 + 400, X0 + 400])
    ys = np.array([Y0, Y0, Y0 + 1600])
    net = network_from_arrays(xs, ys, np.array([0, 1]), np.array([1, 2]), CRS)
    facility = snap_points(net, shapely.points([X0], [Y0]), 50.0)
    along = np.array([500.0, 690.0, 699.0, 701.0, 710.0])  # network distance from the facility (m)
    homes = snap_points(net, shapely.points(np.full(5, X0 + 400), Y0 + along - 400), 50.0)
    hexi = norms.load_profile("tianjin_hexi")
    for speed in (0.9, 1.0, 0.76):
        limit = norms.walk_limit(hexi, walk_speed_mps=speed, study_limit_min=15.0)
        assert limit.basis == "profile_distance" and limit.distance_m == 700
        assert limit.rule == "tianjin_hexi: access.distance_m = 700"
        reached = coverage_matrix(net, facility, homes, speed, limit.limit_min).toarray()[0] > 0
        assert reached.tolist() == [True, True, True, False, False], speed
    # a profile that states no limit keeps the study's, and says so
    limit = norms.walk_limit(norms.load_profile("yuxi"), walk_speed_mps=0.9, study_limit_min=12.0)
    assert (limit.basis, limit.limit_min) == ("study", 12.0) and "study's choice" in limit.explain("en", 0.9)
    limit = norms.walk_limit(norms.load_profile("baoji"), walk_speed_mps=0.9, study_limit_min=12.0)
    assert (limit.basis, limit.limit_min, limit.rule) == ("profile_time", 15.0, "baoji: access.time_limit_min = 15")


def test_a_user_file_time_replaces_the_base_distance(tmp_path):
    p = norms.load_profile(user_file=write(tmp_path, 'extends = "tianjin_hexi"\n[access]\ntime_limit_min = 10\n'))
    assert p.distance_m is None and p.walk_limit_min(0.9) == 10
    limit = norms.walk_limit(p, walk_speed_mps=0.9, study_limit_min=15.0)
    assert (limit.basis, limit.limit_min) == ("profile_time", 10.0)


# --- the sample, and the new optional input columns ---------------------------------------------

def test_sample_report_under_baoji_distinguishes_land_from_floor_area(tmp_path):
    from eldercare_coverage import pipeline, report
    from eldercare_coverage.config import load_config
    from eldercare_coverage.io import load_study

    study = load_study(load_config(pipeline.sample_config_path()))
    result = pipeline.check_norms(study, profile="baoji")
    paths = report.write_reports(result.communities, result.districts, tmp_path, profile=result.profile,
                                 parameters=pipeline.parameters_of(study.config), input_files=[], language="zh")
    html = paths["html"].read_text(encoding="utf-8")
    assert "规划应预留用地(m²，用地面积)" in html and "所需建筑面积(m²)" in html
    assert "无设施占地面积，无法核查：所列为规划应预留用地" in html
    land = result.communities["land_required_m2"].sum()
    assert land == pytest.approx(0.1 * result.communities["population"].sum())
    assert f"{land:,.1f}" in html  # the summary's land to reserve
    assert "[用地面积（规划预留的场地面积）]" in html  # the rules table names the kind
    csv = pd.read_csv(paths["community_csv"], encoding="utf-8-sig")
    assert {"land_required_m2", "land_status", "area_required_m2", "area_plan"} <= set(csv.columns)


def test_site_area_and_recipients_columns_load_by_their_chinese_names(sample_copy):
    from eldercare_coverage import pipeline

    fac = sample_copy / "facilities.csv"
    lines = fac.read_text(encoding="utf-8-sig").splitlines()
    fac.write_text("\n".join([lines[0] + ",占地面积"] + [line + ",600" for line in lines[1:]]) + "\n",
                   encoding="utf-8-sig")
    pop = sample_copy / "population.csv"
    lines = pop.read_text(encoding="utf-8-sig").splitlines()
    pop.write_text("\n".join([lines[0] + ",基本养老服务对象"] + [line + ",250" for line in lines[1:]]) + "\n",
                   encoding="utf-8-sig")
    cfg = sample_copy / "sample.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('beds = "床位"', 'beds = "床位"\nsite_area_m2 = "占地面积"')
                   .replace('elderly_population = "60岁以上人口"',
                            'elderly_population = "60岁以上人口"\nbasic_service_recipients = "基本养老服务对象"'),
                   encoding="utf-8")
    study = pipeline.validate(cfg)
    assert not study.report.errors, study.report.format()
    assert (study.facilities["site_area_m2"] == 600).all()
    assert (pd.to_numeric(study.communities["basic_service_recipients"]) == 250).all()
    t = pipeline.check_norms(study, profile="baoji").communities
    assert set(t["land_status"]) <= {"met", "short"} and t["land_gap_m2"].notna().all()
    b = pipeline.check_norms(study, profile="beijing").communities
    assert (b["service_capacity_status"] == "checked").all() and (b["stations_required_min"] == 1).all()
