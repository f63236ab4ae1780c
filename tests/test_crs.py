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
