"""Tile data as plain arrays: what tile tasks receive and return, and the tile cache on disk.

A tile's input crosses a process or machine boundary as ``.npz`` bytes read with
``allow_pickle=False``: numbers as typed arrays, text as unicode arrays (each distinct text
once), geometries as coordinates or WKB. A tile's results are Parquet files: its demand points
with their walk times and its isochrones as GeoParquet, its two sparse walk-time matrices as
(row, col, val) tables, travelling inside the same ``.npz`` container with the tile's JSON
``meta``. So no string from an input file ever passes through pickle (the task *functions*
are pickled by Dask; their data are not), and a frame round-trips with its column order and
dtypes.

The cache is one hidden folder per study in its data folder,
``.eldercare-tiles-<study>/<key>/``, where ``key`` hashes everything a tile's result depends on.
Each finished tile is a folder ``<tile>/`` of its Parquet files and ``meta.json`` (readable by
any GeoParquet tool: geopandas, DuckDB, QGIS), and it counts as complete only when its marker
``<tile>.done`` (the SHA-256 of each file) is written after the folder, so a run killed
mid-write leaves no tile that looks done.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

CACHE_PREFIX = ".eldercare-tiles-"
#: The layout of the arrays, and the way tiles are computed (4: first halos per tile, isochrones
#: drawn from joined street lines); part of the cache key, so tiles of older runs are recomputed.
FORMAT = 4
_OWNER = "owner.json"


def pack(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as the bytes of an uncompressed ``.npz`` (compression costs more CPU than the
    bytes it saves on a loopback or LAN)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def unpack(data: bytes) -> dict[str, np.ndarray]:
    """The arrays of :func:`pack` bytes (never unpickles)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def read_meta(data: bytes) -> dict:
    """The JSON ``meta`` entry of :func:`pack` bytes alone (the other arrays are not read)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return json.loads(str(z["meta"]))


def text(value: str) -> np.ndarray:
    """One string as a 0-d unicode array (JSON for structured values)."""
    return np.array(value, dtype=str)


def geometry_arrays(prefix: str, geoms: np.ndarray) -> dict[str, np.ndarray]:
    """Geometries as arrays under ``prefix/``: an array of only points or only line strings (a
    walk network, demand points) as its coordinates and the offsets of each line's first one,
    anything else as WKB (bytes concatenated as uint8, offsets of length n+1; missing → empty).
    Coordinates are 2-D float64, so either form gives back the very same geometries."""
    geoms = np.asarray(geoms, dtype=object)
    types = shapely.get_type_id(geoms)
    plain = len(geoms) and not shapely.has_z(geoms).any() and not shapely.is_empty(geoms).any()
    if plain and (types == 0).all():  # Point; a missing geometry has type -1
        return {f"{prefix}/points": shapely.get_coordinates(geoms)}
    if plain and (types == 1).all():  # LineString
        xy, owner = shapely.get_coordinates(geoms, return_index=True)
        offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(owner, minlength=len(geoms)), out=offsets[1:])
        return {f"{prefix}/lines": xy, f"{prefix}/lines_off": offsets}
    wkb = shapely.to_wkb(geoms)
    wkb = [b if b is not None else b"" for b in wkb]
    offsets = np.zeros(len(wkb) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in wkb], out=offsets[1:])
    return {f"{prefix}/wkb": np.frombuffer(b"".join(wkb), dtype=np.uint8), f"{prefix}/off": offsets}


def geometry_from(prefix: str, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The geometries :func:`geometry_arrays` stored under ``prefix/``."""
    if f"{prefix}/points" in arrays:
        return shapely.points(arrays[f"{prefix}/points"])
    if f"{prefix}/lines" in arrays:
        off = arrays[f"{prefix}/lines_off"]
        owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
        return np.asarray(shapely.linestrings(arrays[f"{prefix}/lines"], indices=owner), dtype=object)
    data, offsets = arrays[f"{prefix}/wkb"], arrays[f"{prefix}/off"]
    raw = data.tobytes()
    parts = [raw[offsets[i]:offsets[i + 1]] or None for i in range(len(offsets) - 1)]
    return shapely.from_wkb(np.asarray(parts, dtype=object)) if parts else np.empty(0, dtype=object)


def frame_arrays(prefix: str, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A (Geo)DataFrame as arrays under ``prefix/``: numbers and booleans as they are, anything
    else as text (each distinct text once, and a code per row: -1 for missing), the geometry
    column as :func:`geometry_arrays`."""
    out: dict[str, np.ndarray] = {}
    geom_col = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    cols = [str(c) for c in df.columns]
    meta = {"columns": cols, "geometry": geom_col, "crs": df.crs.to_wkt() if geom_col and df.crs else None,
            "kinds": {}}
    for i, col in enumerate(df.columns):
        key = f"{prefix}/{i}"
        if col == geom_col:
            out.update(geometry_arrays(key, df[col].to_numpy()))
            meta["kinds"][cols[i]] = "geometry"
            continue
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            out[key] = s.to_numpy()
            meta["kinds"][cols[i]] = "number"
        else:
            try:
                codes, texts = pd.factorize(s, use_na_sentinel=True)
            except TypeError:  # unhashable values (lists): their text
                null = s.isna().to_numpy()
                codes, texts = pd.factorize(s.where(~null, "").astype(str))
                codes[null] = -1
            out[key + "/code"] = codes.astype(np.int32 if len(texts) < 2**31 else np.int64)
            out[key + "/text"] = np.asarray([str(t) for t in texts], dtype=str)
            meta["kinds"][cols[i]] = "text"
    out[f"{prefix}/meta"] = text(json.dumps(meta, ensure_ascii=False))
    return out


def frame_from(prefix: str, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The (Geo)DataFrame :func:`frame_arrays` stored under ``prefix/``."""
    meta = json.loads(str(arrays[f"{prefix}/meta"]))
    data = {}
    for i, col in enumerate(meta["columns"]):
        key = f"{prefix}/{i}"
        kind = meta["kinds"][col]
        if kind == "geometry":
            data[col] = geometry_from(key, arrays)
        elif kind == "number":
            data[col] = arrays[key]
        else:
            texts = np.append(arrays[key + "/text"].astype(object), None)
            data[col] = texts[arrays[key + "/code"]]  # code -1: the None appended last
    df = pd.DataFrame(data, columns=meta["columns"])
    if meta["geometry"] is not None:
        df = gpd.GeoDataFrame(df, geometry=meta["geometry"], crs=meta["crs"])
    return df


def part(name: str) -> str:
    """The file name of a tile's result part (``demand``, ``isochrones``, ``fmat``, ``cmat``)."""
    return f"{name}.parquet"


def sparse_frame(mat: sp.spmatrix) -> pd.DataFrame:
    """A sparse matrix as a (row, col, val) table (int64, int64, float64)."""
    coo = sp.coo_matrix(mat)
    return pd.DataFrame({"row": coo.row.astype(np.int64), "col": coo.col.astype(np.int64),
                         "val": coo.data.astype(np.float64)})


def parquet_bytes(df: pd.DataFrame) -> np.ndarray:
    """A frame as the bytes of a Parquet file (GeoParquet for a GeoDataFrame), as uint8."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def parquet_frame(data: np.ndarray | bytes) -> pd.DataFrame:
    """The frame of :func:`parquet_bytes` (a GeoDataFrame when the file is GeoParquet)."""
    import pyarrow.parquet as pq

    raw = io.BytesIO(data.tobytes() if isinstance(data, np.ndarray) else data)
    geo = b"geo" in (pq.read_schema(raw).metadata or {})
    raw.seek(0)
    return gpd.read_parquet(raw) if geo else pd.read_parquet(raw)


# --------------------------------------------------------------------------------------------
# The tile cache


class TileCache:
    """Tile results of one study on disk (see the module docstring); only this study's folder
    is ever written or removed."""

    def __init__(self, data_dir: str | Path, study: str, key: str):
        from .outputs import safe_name

        self.root = Path(data_dir) / (CACHE_PREFIX + safe_name(study))
        self.folder = self.root / key
        self.study = study

    def open(self) -> None:
        """Create the cache folder (owned by the study) and drop caches of other keys."""
        owner = self.root / _OWNER
        if self.root.exists() and not self._owned():
            from .errors import InputError

            raise InputError("pipeline.tile_cache_in_the_way", str(self.root))
        self.folder.mkdir(parents=True, exist_ok=True)
        if not owner.exists():
            owner.write_text(json.dumps({"study": self.study}, ensure_ascii=False), encoding="utf-8")
        for other in self.root.iterdir():
            if other.is_dir() and other != self.folder and (other / "key.json").is_file():
                shutil.rmtree(other, ignore_errors=True)  # results of other inputs: stale

    def _owned(self) -> bool:
        try:
            return json.loads((self.root / _OWNER).read_text(encoding="utf-8")).get("study") == self.study
        except (OSError, ValueError, AttributeError):
            return False

    def write_key(self, description: dict) -> None:
        """Record what the folder's tiles are computed with (settings, a DEM's fingerprint).
        Tiles computed with anything else are removed first, so a folder reused under the
        same key for other settings never hands out a stale tile."""
        text = json.dumps(description, ensure_ascii=False, indent=1, default=str, sort_keys=True)
        path = self.folder / "key.json"
        try:
            old = path.read_text(encoding="utf-8")
        except OSError:
            old = None
        if old != text:
            for f in self.folder.iterdir():
                if f.is_dir():
                    shutil.rmtree(f, ignore_errors=True)
                elif f.suffix in (".npz", ".done", ".part"):
                    f.unlink()
        path.write_text(text, encoding="utf-8")

    def done(self, name: str) -> bool:
        """Whether tile ``name`` is complete: its marker names the SHA-256 of each of its files."""
        try:
            sums = json.loads((self.folder / f"{name}.done").read_text(encoding="utf-8"))
            return bool(sums) and all(_sha256((self.folder / name / f).read_bytes()) == h for f, h in sums.items())
        except (OSError, ValueError, AttributeError):
            return False

    def write(self, name: str, result: bytes) -> None:
        """A tile's result (:func:`pack` bytes of Parquet files and ``meta``) as the folder
        ``<name>/``, then (only then) its marker; both through a rename."""
        arrays = unpack(result)
        files = {k: v.tobytes() for k, v in arrays.items() if k.endswith(".parquet")}
        files["meta.json"] = str(arrays["meta"]).encode("utf-8")
        tmp, final = self.folder / f"{name}.part", self.folder / name
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for f, data in files.items():
            (tmp / f).write_bytes(data)
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        marker = self.folder / f"{name}.done.part"
        marker.write_text(json.dumps({f: _sha256(data) for f, data in files.items()}), encoding="utf-8")
        os.replace(marker, self.folder / f"{name}.done")

    def read(self, name: str) -> bytes:
        """The tile's result as :meth:`write` took it."""
        folder = self.folder / name
        arrays = {f.name: np.frombuffer(f.read_bytes(), dtype=np.uint8) for f in sorted(folder.glob("*.parquet"))}
        arrays["meta"] = text((folder / "meta.json").read_text(encoding="utf-8"))
        return pack(arrays)

    def remove(self) -> None:
        """Remove this study's cache (after a published run)."""
        if self.root.exists() and self._owned():
            shutil.rmtree(self.root, ignore_errors=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
