"""Tile data as plain arrays: what tile tasks receive and return, and the tile cache on disk.

Everything crosses a process or machine boundary as ``.npz`` bytes read with
``allow_pickle=False``: numbers as typed arrays, text as fixed-width unicode arrays, geometries
as WKB, so no string from an input file ever passes through pickle (the task *functions* are
pickled by Dask; their data are not). A frame round-trips with its column order and dtypes.

The cache is one hidden folder per study in its data folder,
``.eldercare-tiles-<study>/<key>/``, where ``key`` hashes everything a tile's result depends on.
A tile is complete only when its marker ``<tile>.done`` (holding the data file's SHA-256) is
written after its data ``<tile>.npz``, so a run killed mid-write leaves no tile that looks done.
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


def text(value: str) -> np.ndarray:
    """One string as a 0-d unicode array (JSON for structured values)."""
    return np.array(value, dtype=str)


def geometry_arrays(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(WKB bytes concatenated as uint8, offsets int64 of length n+1); missing → empty WKB."""
    wkb = shapely.to_wkb(np.asarray(geoms, dtype=object))
    wkb = [b if b is not None else b"" for b in wkb]
    offsets = np.zeros(len(wkb) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in wkb], out=offsets[1:])
    return np.frombuffer(b"".join(wkb), dtype=np.uint8), offsets


def geometry_from(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    raw = data.tobytes()
    parts = [raw[offsets[i]:offsets[i + 1]] or None for i in range(len(offsets) - 1)]
    return shapely.from_wkb(np.asarray(parts, dtype=object)) if parts else np.empty(0, dtype=object)


def frame_arrays(prefix: str, df: pd.DataFrame) -> dict[str, np.ndarray]:
    """A (Geo)DataFrame as arrays under ``prefix/``: numbers and booleans as they are, anything
    else as text with a null mask, the geometry column as WKB."""
    out: dict[str, np.ndarray] = {}
    geom_col = df.geometry.name if isinstance(df, gpd.GeoDataFrame) else None
    cols = [str(c) for c in df.columns]
    meta = {"columns": cols, "geometry": geom_col, "crs": df.crs.to_wkt() if geom_col and df.crs else None,
            "kinds": {}}
    for i, col in enumerate(df.columns):
        key = f"{prefix}/{i}"
        if col == geom_col:
            out[key + "/wkb"], out[key + "/off"] = geometry_arrays(df[col].to_numpy())
            meta["kinds"][cols[i]] = "geometry"
            continue
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            out[key] = s.to_numpy()
            meta["kinds"][cols[i]] = "number"
        else:
            null = s.isna().to_numpy()
            out[key] = np.asarray(s.where(~null, "").astype(str).to_numpy(), dtype=str)
            out[key + "/null"] = null
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
            data[col] = geometry_from(arrays[key + "/wkb"], arrays[key + "/off"])
        elif kind == "number":
            data[col] = arrays[key]
        else:
            values = arrays[key].astype(object)
            values[arrays[key + "/null"]] = None
            data[col] = values
    df = pd.DataFrame(data, columns=meta["columns"])
    if meta["geometry"] is not None:
        df = gpd.GeoDataFrame(df, geometry=meta["geometry"], crs=meta["crs"])
    return df


def sparse_arrays(prefix: str, mat: sp.spmatrix) -> dict[str, np.ndarray]:
    """A sparse matrix as COO arrays (row, col, value) and its shape."""
    coo = sp.coo_matrix(mat)
    return {f"{prefix}/row": coo.row.astype(np.int64), f"{prefix}/col": coo.col.astype(np.int64),
            f"{prefix}/val": coo.data, f"{prefix}/shape": np.asarray(coo.shape, dtype=np.int64)}


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
                if f.is_file() and f.suffix in (".npz", ".done", ".part"):
                    f.unlink()
        path.write_text(text, encoding="utf-8")

    def done(self, name: str) -> bool:
        """Whether tile ``name`` is complete: its marker names the SHA-256 of its data."""
        marker, data = self.folder / f"{name}.done", self.folder / f"{name}.npz"
        try:
            return marker.read_text(encoding="utf-8").strip() == _sha256(data.read_bytes())
        except OSError:
            return False

    def write(self, name: str, payload: bytes) -> None:
        """The tile's data, then (only then) its marker; both through a rename."""
        data = self.folder / f"{name}.npz"
        tmp = data.with_suffix(".npz.part")
        tmp.write_bytes(payload)
        os.replace(tmp, data)
        marker = self.folder / f"{name}.done.part"
        marker.write_text(_sha256(payload), encoding="utf-8")
        os.replace(marker, self.folder / f"{name}.done")

    def read(self, name: str) -> bytes:
        return (self.folder / f"{name}.npz").read_bytes()

    def remove(self) -> None:
        """Remove this study's cache (after a published run)."""
        if self.root.exists() and self._owned():
            shutil.rmtree(self.root, ignore_errors=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
