"""GCJ-02 / BD-09 conversion and the choice of metric CRS."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from eldercare_coverage import crs

# Reference vectors published in the README of wandergis/coordtransform, the reference
# implementation most Chinese web-GIS code follows.
LON, LAT = 116.404, 39.915


def test_forward_transforms_match_published_reference_values():
    assert crs.wgs84_to_gcj02(LON, LAT) == pytest.approx((116.41024449916938, 39.91640428150164), abs=1e-12)
    assert crs.gcj02_to_bd09(LON, LAT) == pytest.approx((116.41036949371029, 39.92133699351021), abs=1e-12)
    assert crs.wgs84_to_bd09(LON, LAT) == pytest.approx((116.41662724378733, 39.922699552216216), abs=1e-12)


def test_inverse_is_exact_not_the_one_step_approximation():
    # The one-step inverse gives (116.39775550083061, 39.91359571849836); ours iterates until the
    # forward transform reproduces the input.
    lon, lat = crs.gcj02_to_wgs84(LON, LAT)
    assert crs.wgs84_to_gcj02(lon, lat) == pytest.approx((LON, LAT), abs=1e-9)
    assert abs(lon - 116.39775550083061) > 1e-7  # about 2 cm here
    blon, blat = crs.bd09_to_gcj02(LON, LAT)
    assert crs.gcj02_to_bd09(blon, blat) == pytest.approx((LON, LAT), abs=1e-9)


def test_round_trip_across_china_is_below_a_millimetre():
    rng = np.random.default_rng(1)
    lon = rng.uniform(75, 134, 2000)
    lat = rng.uniform(18, 53, 2000)
    for forward, inverse in ((crs.wgs84_to_gcj02, crs.gcj02_to_wgs84), (crs.wgs84_to_bd09, crs.bd09_to_wgs84)):
        back = inverse(*forward(lon, lat))
        # 1e-8 degrees is about 1 mm.
        assert np.abs(back[0] - lon).max() < 1e-8 and np.abs(back[1] - lat).max() < 1e-8


def test_offset_in_chengdu_is_hundreds_of_metres_and_zero_abroad():
    glon, glat = crs.wgs84_to_gcj02(104.07, 30.77)
    dx = (glon - 104.07) * 111_320 * np.cos(np.radians(30.77))
    dy = (glat - 30.77) * 110_570
    assert 100 < np.hypot(dx, dy) < 800
    assert crs.wgs84_to_gcj02(24.94, 60.17) == (24.94, 60.17)  # Helsinki: untouched


def test_geometry_conversion_moves_every_vertex():
    poly = shapely.Polygon([(104.07, 30.77), (104.08, 30.77), (104.08, 30.78)])
    (out,) = crs.geometry_to_wgs84([poly], "gcj02")
    coords = shapely.get_coordinates(out)
    expected = np.column_stack(crs.gcj02_to_wgs84(*shapely.get_coordinates(poly).T))
    np.testing.assert_allclose(coords, expected)


def test_metric_crs_is_the_utm_zone_or_the_configured_one():
    assert crs.pick_metric_crs((104.05, 30.75, 104.10, 30.78)).to_epsg() == 32648  # Chengdu
    assert crs.pick_metric_crs((121.46, 31.22, 121.49, 31.24)).to_epsg() == 32651  # Shanghai
    assert crs.pick_metric_crs((113.92, 22.54, 113.97, 22.56)).to_epsg() == 32649  # Shenzhen
    assert crs.pick_metric_crs((0, 0, 1, 1), "EPSG:4547").to_epsg() == 4547
    with pytest.raises(ValueError, match="geographic"):
        crs.pick_metric_crs((0, 0, 1, 1), "EPSG:4326")


def test_metric_crs_follows_the_bulk_of_the_features_and_says_why():
    rng = np.random.default_rng(3)
    lon = np.r_[rng.uniform(104.03, 104.10, 60), 179.95]  # one typo near the antimeridian
    lat = np.r_[rng.uniform(30.74, 30.79, 60), 30.77]
    # The bounding box's centre lies in zone 54 (142° E); the median lies in Chengdu's zone 48.
    assert crs.pick_metric_crs((lon.min(), lat.min(), lon.max(), lat.max())).to_epsg() == 32654
    choice = crs.choose_metric_crs(lon, lat, what="communities")
    assert choice.crs.to_epsg() == 32648
    assert "EPSG:32648" in choice.reason and "60 of 61 communities" in choice.reason
    # A study split over two zones takes the zone of its larger part.
    assert crs.choose_metric_crs([101.9, 102.1, 102.2], [30.0, 30.0, 30.1]).crs.to_epsg() == 32648
    assert crs.choose_metric_crs([-70.6, -70.7, np.nan], [-33.4, -33.5, 1.0]).crs.to_epsg() == 32719  # Santiago
    configured = crs.choose_metric_crs(lon, lat, "EPSG:4547")
    assert configured.crs.to_epsg() == 4547 and "study.metric_crs" in configured.reason
    with pytest.raises(ValueError, match="geographic"):
        crs.choose_metric_crs(lon, lat, "EPSG:4326")
    with pytest.raises(ValueError, match="finite"):
        crs.choose_metric_crs([np.nan], [np.nan])


def test_convert_lonlat_between_the_three_systems():
    lon, lat = np.array([104.07, 116.404]), np.array([30.77, 39.915])
    for source in crs.LONLAT_SYSTEMS:
        for target in crs.LONLAT_SYSTEMS:
            there = crs.convert_lonlat(lon, lat, source, target)
            back = crs.convert_lonlat(*there, target, source)
            np.testing.assert_allclose(back, (lon, lat), atol=1e-8)
    np.testing.assert_array_equal(crs.convert_lonlat(lon, lat, "wgs84", "gcj02"), crs.wgs84_to_gcj02(lon, lat))
    np.testing.assert_allclose(crs.convert_lonlat(lon, lat, "BD-09", "GCJ-02"), crs.bd09_to_gcj02(lon, lat),
                               atol=1e-9)
    np.testing.assert_array_equal(crs.convert_lonlat(lon, lat, "WGS-84", "WGS-84"), (lon, lat))
