"""Write the synthetic DEM fixtures of tests/test_walkcost.py (no download; run from anywhere):

    python tests/data/dem/make_dems.py [out_dir]

* ``plane_utm.tif``: an inclined plane rising 8 m per 100 m eastwards (8 % grade),
  z = 100 + 0.08 * (x - X0), in UTM 48N (EPSG:32648), 5 m cells; bilinear sampling of a plane
  is exact, so walk times can be checked against Tobler's formula analytically.
* ``hill_lonlat.tif``: a Gaussian hill 40 m high (sigma 150 m) on a 200 m base, in lon/lat
  (EPSG:4326, about 5 m cells) over the same area, with a nodata hole 40 m across near its
  northern edge (a DEM in another CRS than the network, with a gap).
* ``flat_utm.tif``: level ground at 500 m (slopes must change nothing).

All cover X0..X0+600 m, Y0..Y0+600 m; tiny (float32, deflate). Written by rasterio.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyproj

X0, Y0 = 400_000.0, 3_400_000.0  # UTM 48N, near Chongqing
SIZE_M, CELL_M = 600.0, 5.0
HILL_XY = (X0 + 300.0, Y0 + 300.0)


def plane(x, y):
    return 100.0 + 0.08 * (x - X0)


def hill(x, y):
    return 200.0 + 40.0 * np.exp(-((x - HILL_XY[0]) ** 2 + (y - HILL_XY[1]) ** 2) / (2 * 150.0 ** 2))


def write(path: Path, z: np.ndarray, transform, crs: str, nodata: float | None = None) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=z.shape[1], height=z.shape[0], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=nodata, compress="deflate") as dst:
        dst.write(z.astype(np.float32), 1)


def make(out: Path) -> list[Path]:
    from affine import Affine

    def from_origin(west, north, xsize, ysize):  # rasterio's, without its deprecated '*'
        return Affine(xsize, 0.0, west, 0.0, -ysize, north)

    out.mkdir(parents=True, exist_ok=True)
    n = int(SIZE_M / CELL_M)
    centres = (np.arange(n) + 0.5) * CELL_M
    xx, yy = np.meshgrid(X0 + centres, Y0 + SIZE_M - centres)  # row 0 is the north edge
    utm = from_origin(X0, Y0 + SIZE_M, CELL_M, CELL_M)
    write(out / "plane_utm.tif", plane(xx, yy), utm, "EPSG:32648")
    write(out / "flat_utm.tif", np.full_like(xx, 500.0), utm, "EPSG:32648")
    # lon/lat grid over the same area (a little wider), values from the hill at each cell centre
    tf = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
    lon0, lat0 = tf.transform(X0 - 20, Y0 - 20)
    lon1, lat1 = tf.transform(X0 + SIZE_M + 20, Y0 + SIZE_M + 20)
    nx_, ny_ = 130, 130
    dlon, dlat = (lon1 - lon0) / nx_, (lat1 - lat0) / ny_
    lon = lon0 + (np.arange(nx_) + 0.5) * dlon
    lat = lat1 - (np.arange(ny_) + 0.5) * dlat
    LON, LAT = np.meshgrid(lon, lat)
    back = pyproj.Transformer.from_crs(4326, 32648, always_xy=True)
    hx, hy = back.transform(LON, LAT)
    z = hill(np.asarray(hx), np.asarray(hy))
    # a nodata hole 40 m across on the northern edge, where the test network's top street runs
    z[(np.abs(np.asarray(hx) - (X0 + 300)) < 20) & (np.abs(np.asarray(hy) - (Y0 + 570)) < 20)] = -9999.0
    write(out / "hill_lonlat.tif", z, from_origin(lon0, lat1, dlon, dlat), "EPSG:4326", nodata=-9999.0)
    return [out / "plane_utm.tif", out / "flat_utm.tif", out / "hill_lonlat.tif"]


if __name__ == "__main__":
    for p in make(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent):
        print(f"wrote {p} ({p.stat().st_size:,} bytes)")
