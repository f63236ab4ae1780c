"""Reading and validating the study inputs: communities, population tables, facilities and
candidate sites, from GeoJSON, GeoPackage, Shapefile, CSV or Excel (.xlsx).

Every loader returns a GeoDataFrame with the canonical columns of :mod:`eldercare_coverage.schema` in
the study's metric CRS, and records every problem it finds (file, row, field, fix) in a
:class:`~eldercare_coverage.errors.ProblemReport` instead of stopping at the first. Inputs are only
read, never modified.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from . import checks
from . import crs as crsmod
from .config import LayerInput, StudyConfig, closest, input_file_problem
from .errors import ProblemReport
from .messages import Row, Text, layer_name, unit_name
from .schema import ESTATE_ALIASES, FACILITY_KINDS, LAYER_COLUMNS, Column, canonical_kind

log = logging.getLogger(__name__)

VECTOR_SUFFIXES = {".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb"}
TABLE_SUFFIXES = {".csv", ".txt", ".xlsx", ".xlsm"}
X_NAMES = ("lon", "lng", "longitude", "经度", "x", "X", "LON", "LNG", "Longitude")
Y_NAMES = ("lat", "latitude", "纬度", "y", "Y", "LAT", "Latitude")
WKT_NAMES = ("wkt", "WKT", "geometry", "geom", "几何")
#: Rows listed per problem before the rest are counted ("and 12 more rows").
MAX_ROWS_LISTED = 10


@dataclass
class Study:
    """Everything loaded for one study, in its metric CRS, with the problems found."""

    config: StudyConfig
    metric_crs: CRS
    communities: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    candidates: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame | None
    report: ProblemReport
    #: District boundaries for the map (``name`` + polygon or line geometry), if given.
    districts: gpd.GeoDataFrame | None = None
    #: Compound gates from ``[inputs.gates]`` (points with gate_id, access, opening_hours), if given.
    gates: gpd.GeoDataFrame | None = None
    #: Each input file with its SHA-256, for reports that trace numbers to inputs.
    input_files: list[dict] = field(default_factory=list)
    #: Communities far from the rest (flagged): they do not choose the metric CRS or widen the
    #: network's clip area. A bool mask in the order of ``communities``.
    far_communities: np.ndarray | None = None


# --------------------------------------------------------------------------------------
# Reading raw files


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_csv(path: Path, encoding: str, report: ProblemReport) -> pd.DataFrame | None:
    encodings = [encoding] if encoding else ["utf-8-sig", "gb18030"]
    for enc in encodings:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError:
            report.error(path, "io.csv_empty")
            return None
        except (pd.errors.ParserError, ValueError) as exc:
            report.error(path, "io.csv_unreadable", detail=str(exc))
            return None
    report.error(path, "io.csv_encoding", encodings=", ".join(encodings))
    return None


def _read_excel(path: Path, sheet: str, report: ProblemReport) -> pd.DataFrame | None:
    try:
        with pd.ExcelFile(path, engine="openpyxl") as book:
            sheets = [str(name) for name in book.sheet_names]
            if sheet and sheet not in sheets:
                report.error(path, "io.no_such_sheet", field="layer", sheet=sheet, sheets=", ".join(sheets),
                             hint=closest(sheet, sheets))
                return None
            table = pd.read_excel(book, sheet_name=sheet or 0, dtype=str, keep_default_na=False)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        report.error(path, "io.excel_unreadable", detail=f"{type(exc).__name__}: {exc}")
        return None
    if not sheet and len(sheets) > 1:
        # Read by the column checks: when the first sheet is a cover or notes sheet, their
        # messages name the sheets and the `layer` setting.
        table.attrs["sheets"] = sheets
    return table


def read_raw(spec: LayerInput, report: ProblemReport, *, spatial: bool = True) -> gpd.GeoDataFrame | pd.DataFrame | None:
    """Read one input file as given: a GeoDataFrame (vector file or table with coordinates) or,
    for ``spatial=False`` tables, a DataFrame. Returns None after recording an error."""
    path = Path(spec.path)
    suffix = "".join(path.suffixes[-1:]).lower()
    problem = input_file_problem(path)  # before any open: a FIFO or device would block the read
    if problem:
        report.error(path, problem, field="path")
        return None
    if path.stat().st_size == 0:
        report.error(path, "io.file_empty")
        return None
    if suffix in VECTOR_SUFFIXES:
        return _read_vector(path, spec, report)
    if suffix in TABLE_SUFFIXES:
        table = _read_excel(path, spec.layer, report) if suffix in (".xlsx", ".xlsm") else _read_csv(path, spec.encoding, report)
        if table is None:
            return None
        table.columns = [str(c).strip() for c in table.columns]
        if table.empty:
            report.error(path, "io.no_rows", sheets=_sheet_hint(table))
            return None
        if not spatial:
            return table
        gdf = _table_geometry(table, path, spec, report)
        if gdf is not None:
            gdf.attrs.update(table.attrs)
        return gdf
    report.error(path, "io.unsupported_type", suffix=suffix)
    return None


def _sheet_hint(table: pd.DataFrame) -> Text | str:
    """For a workbook read from its first sheet of several: which sheets there are, and how to pick one."""
    sheets = table.attrs.get("sheets")
    if not sheets:
        return ""
    return Text("io.sheet_hint", n=len(sheets), sheets=", ".join(sheets), first=sheets[0])


#: The parts of a Shapefile besides the .shp, and what each holds.
SHAPEFILE_PARTS = {".shx": "io.shp_part_shx", ".dbf": "io.shp_part_dbf"}


def _missing_shapefile_parts(path: Path, report: ProblemReport) -> bool:
    """Report missing .shx/.dbf parts beside a .shp (GDAL's own message does not name them)."""
    missing = [ext for ext in SHAPEFILE_PARTS if not _sibling(path, ext)]
    for ext in missing:
        report.error(path, "io.shp_part_missing", field="path", ext=ext, part=Text(SHAPEFILE_PARTS[ext]),
                     name=f"{path.stem}{ext}")
    return bool(missing)


def _sibling(path: Path, ext: str) -> Path | None:
    """``path`` with suffix ``ext`` in either case (Windows tools write .DBF), if it exists."""
    for candidate in (path.with_suffix(ext), path.with_suffix(ext.upper())):
        if candidate.is_file():
            return candidate
    return None


def _read_vector(path: Path, spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    import pyogrio

    if path.suffix.lower() == ".shp" and _missing_shapefile_parts(path, report):
        return None
    layer = spec.layer or None
    try:
        if path.suffix.lower() == ".gpkg" and layer is None:
            layers = [name for name, _ in pyogrio.list_layers(path)]
            if len(layers) > 1:
                report.error(path, "io.gpkg_layers", field="layer", n=len(layers), layers=", ".join(layers))
                return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as exc:  # pyogrio raises DataSourceError, DataLayerError, ...
        report.error(path, "io.vector_unreadable", detail=f"{type(exc).__name__}: {str(exc).strip()}")
        return None
    if gdf.empty:
        report.error(path, "io.no_features")
        return None
    gdf.columns = [str(c).strip() if c != "geometry" else c for c in gdf.columns]
    return gdf


def _find(columns, names) -> str | None:
    lower = {str(c).lower(): c for c in columns}
    for name in names:
        if name in columns:
            return name
        if name.lower() in lower:
            return lower[name.lower()]
    return None


def _table_geometry(table: pd.DataFrame, path: Path, spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    """Geometry from lon/lat (x/y) columns or a WKT column of a CSV/Excel table."""
    if spec.wkt_column or (not spec.x_column and _find(table.columns, WKT_NAMES) and not _find(table.columns, X_NAMES)):
        wkt_col = spec.wkt_column or _find(table.columns, WKT_NAMES)
        if wkt_col not in table.columns:
            report.error(path, "io.wkt_column_missing", column=wkt_col, columns=", ".join(table.columns),
                         sheets=_sheet_hint(table))
            return None
        text = table[wkt_col].astype(str).str.strip()
        geoms = shapely.from_wkt(text.where(text != "", None), on_invalid="ignore")
        bad = np.flatnonzero(pd.isna(geoms) & (text != ""))
        for i in bad[:MAX_ROWS_LISTED]:
            report.error(path, "io.wkt_invalid", row=_table_row(i), column=wkt_col, value=text.iloc[i][:60])
        _more(report, path, bad, wkt_col)
        return gpd.GeoDataFrame(table.drop(columns=[wkt_col]), geometry=geoms)
    x_col = spec.x_column or _find(table.columns, X_NAMES)
    y_col = spec.y_column or _find(table.columns, Y_NAMES)
    missing = [name for name, col in (("x_column", x_col), ("y_column", y_col)) if not col or col not in table.columns]
    if missing:
        report.error(path, "io.no_coordinate_columns", field=", ".join(missing), columns=", ".join(table.columns),
                     sheets=_sheet_hint(table))
        return None
    xs = pd.to_numeric(table[x_col].str.strip(), errors="coerce")
    ys = pd.to_numeric(table[y_col].str.strip(), errors="coerce")
    bad = np.flatnonzero(xs.isna().to_numpy() | ys.isna().to_numpy())
    for i in bad[:MAX_ROWS_LISTED]:
        report.error(path, "io.coordinates_not_numbers", row=_table_row(i), column=f"{x_col}/{y_col}",
                     x=table[x_col].iloc[i], y=table[y_col].iloc[i])
    _more(report, path, bad, f"{x_col}/{y_col}")
    geoms = shapely.points(xs.to_numpy(), ys.to_numpy())
    geoms = np.where(xs.isna().to_numpy() | ys.isna().to_numpy(), None, geoms)
    return gpd.GeoDataFrame(table.drop(columns=[x_col, y_col]), geometry=list(geoms))


def _table_row(i: int) -> Row:
    """Row label as the user sees it: spreadsheet/CSV line numbers (header is line 1)."""
    return Row(line=i + 2)


def _row_label(path: Path, i: int, ids: pd.Series | None = None) -> Row:
    """The row (table line) or feature number of position ``i``, with its id when it has one."""
    value = ids.iloc[i] if ids is not None else ""
    ident = value if isinstance(value, str) else ""
    if path.suffix.lower() in TABLE_SUFFIXES:
        return Row(line=i + 2, ident=ident)
    return Row(feature=i + 1, ident=ident)


def _more(report: ProblemReport, path: Path, bad, column: str) -> None:
    """"And N more rows with the same problem" after the first MAX_ROWS_LISTED of ``bad``."""
    if len(bad) > MAX_ROWS_LISTED:
        report.error(path, "io.more_rows", column=column, n=len(bad) - MAX_ROWS_LISTED)


# --------------------------------------------------------------------------------------
# Columns


def map_columns(df: pd.DataFrame, columns: tuple[Column, ...], mapping: dict[str, str], path: Path,
                report: ProblemReport, layer: str) -> pd.DataFrame:
    """Rename the user's columns to canonical names, from the config mapping or known aliases."""
    _check_mapping_keys(mapping, {c.name: c.aliases for c in columns}, path, report, layer)
    rename: dict[str, str] = {}
    for col in columns:
        source = mapping.get(col.name)
        if source is not None:
            if source not in df.columns:
                _mapped_column_missing(df, source, col.name, path, report, layer)
                continue
        elif col.name in df.columns:
            source = col.name
        elif path.suffix.lower() == ".shp" and col.name[:10] in df.columns:
            source = col.name[:10]  # Shapefile (dBase) field names are cut to 10 characters
        else:
            source = _find([c for c in df.columns if c not in rename], col.aliases)
            if source is None:
                if col.required:
                    report.error(path, "io.required_column_missing", column=col.name, columns=_column_list(df),
                                 sheets=_sheet_hint(df), layer=layer, name=col.name)
                continue
        if source != col.name and col.name in df.columns and col.name not in rename.values():
            df = df.drop(columns=[col.name])
        rename[source] = col.name
    # problems found later name the user's own columns
    report.map_columns(path, {canonical: source for source, canonical in rename.items()})
    return df.rename(columns=rename)


def _check_mapping_keys(mapping: dict[str, str], known: dict[str, tuple[str, ...]], path: Path,
                        report: ProblemReport, layer: str) -> None:
    """Keys of ``[inputs.<layer>.columns]`` must be canonical names (``known``: name -> aliases):
    a misspelt one would be ignored. The suggestion is the key whose alias it is, else the closest."""
    def norm(name: str) -> str:
        return re.sub(r"[\s:\-]+", "_", name.strip().lower())

    for key in mapping:
        if key not in known:
            owner = next((k for k, aliases in known.items() if norm(key) in map(norm, aliases)), None)
            hint = Text("hint.did_you_mean", name=owner) if owner else closest(key, known)
            report.error(path, "io.mapping_key_unknown", field=f"columns.{key}", key=key, layer=layer, hint=hint,
                         known=", ".join(sorted(known)))


def _column_list(df: pd.DataFrame) -> str:
    return ", ".join(str(c) for c in df.columns if c != "geometry")


def _mapped_column_missing(df: pd.DataFrame, source: str, key: str, path: Path, report: ProblemReport,
                           layer: str) -> None:
    hint = closest(source, [str(c) for c in df.columns if c != "geometry"])
    report.error(path, "io.mapped_column_missing", column=source, key=key, columns=_column_list(df), hint=hint,
                 sheets=_sheet_hint(df), layer=layer)


def _as_text(series: pd.Series) -> pd.Series:
    """Text values; whole-number floats from spreadsheets ("101.0") become "101"."""
    def one(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()
    return series.map(one).astype(object)


def _coerce(df: pd.DataFrame, columns: tuple[Column, ...], path: Path, report: ProblemReport,
            id_col: str) -> pd.DataFrame:
    """Convert canonical columns to their types, reporting every bad value."""
    out = df.copy()
    ids = _as_text(out[id_col]) if id_col in out.columns else None
    for col in columns:
        if col.name not in out.columns:
            out[col.name] = np.nan if col.dtype == "float" else ""
            continue
        raw = out[col.name]
        if col.dtype == "str":
            out[col.name] = _as_text(raw)
            continue
        if col.dtype == "float":
            out[col.name] = _numbers(_as_text(raw), col, path, report, ids)
            continue
        if col.dtype == "estate":
            text = _as_text(raw)
            mapped = text.map(lambda v: ESTATE_ALIASES.get(v, ESTATE_ALIASES.get(v.lower(), None)) if v else "")
            bad = np.flatnonzero(mapped.isna().to_numpy())
            for i in bad[:MAX_ROWS_LISTED]:
                report.error(path, "io.estate_type_unknown", row=_row_label(path, i, ids), column=col.name,
                             value=text.iloc[i])
            _more(report, path, bad, col.name)
            out[col.name] = mapped.fillna("").astype(object)
            continue
        if col.dtype in ("kind", "kind_or_any"):
            text = _as_text(raw)
            mapped = text.map(lambda v: canonical_kind(v) if v else ("" if col.dtype == "kind_or_any" else None))
            bad = np.flatnonzero(mapped.isna().to_numpy())
            for i in bad[:MAX_ROWS_LISTED]:
                report.error(path, "io.kind_unknown", row=_row_label(path, i, ids), column=col.name,
                             value=text.iloc[i] or Text("io.empty_value"),
                             known=", ".join(f"{v['zh']} ({k})" for k, v in FACILITY_KINDS.items()))
            _more(report, path, bad, col.name)
            out[col.name] = mapped.fillna("").astype(object)
    return out


#: Thousands separators as Excel and WPS write them (1,234 and 1,234,567.5); any other comma is
#: ambiguous: "1,2,3,4" is no number, and "1.234,5" is 1234.5 in a German locale but 1.2345 in another.
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
#: The largest plausible value of each numeric column. A community (社区) has a few thousand to
#: a few tens of thousands of residents; above a million it is a city, a total row or an extra digit.
PLAUSIBLE_MAX: dict[str, float] = {
    "population": 1_000_000, "households": 1_000_000, "elderly_population": 1_000_000,
    "floor_area_m2": 1_000_000, "max_floor_area_m2": 1_000_000, "beds": 100_000, "capacity": 1_000_000,
    "cost": 1e11,
}
#: Counts of people, warned when not whole numbers.
PERSON_COUNTS = ("population", "households", "elderly_population")


def _numbers(text: pd.Series, col: Column, path: Path, report: ProblemReport, ids: pd.Series | None) -> pd.Series:
    """One numeric column parsed from text, reporting every value that is not a plain, plausible number."""
    unit = Text("io.in_unit", unit=unit_name(col.unit)) if col.unit else ""

    def rows(mask, code, **values):
        """One error per row of ``mask`` (values: callables of the row position, or constants)."""
        idx = np.flatnonzero(np.asarray(mask))
        for i in idx[:MAX_ROWS_LISTED]:
            report.error(path, code, row=_row_label(path, i, ids), column=col.name,
                         **{k: v(i) if callable(v) else v for k, v in values.items()})
        _more(report, path, idx, col.name)

    grouped = text.str.fullmatch(_GROUPED.pattern)
    ambiguous = text.str.contains("[,，]", regex=True) & ~grouped
    values = pd.to_numeric(text.where(~grouped, text.str.replace(",", "", regex=False)).where(~ambiguous, ""),
                           errors="coerce").astype(float)
    blank = text == ""
    raw = lambda i: text.iloc[i]  # noqa: E731
    rows(ambiguous, "io.number_ambiguous", value=raw, unit=unit)
    rows(values.isna() & ~blank & ~ambiguous, "io.not_a_number", value=raw, unit=unit)
    if col.required:
        rows(blank, "io.number_empty")
    rows(values < 0, "io.number_negative", value=lambda i: f"{values.iloc[i]:g}")
    finite = np.isfinite(values.to_numpy())
    rows(np.isinf(values.to_numpy()), "io.number_infinite", value=raw)
    limit = PLAUSIBLE_MAX.get(col.name)
    if limit is not None:
        rows(finite & (values.to_numpy() > limit), "io.number_implausible", value=lambda i: f"{values.iloc[i]:,.6g}",
             ceiling=f"{limit:,.0f}", unit=unit_name(col.unit) if col.unit else "")
    if col.name in PERSON_COUNTS:
        fraction = np.flatnonzero(np.where(finite, values.to_numpy(), 0.0) % 1 != 0)
        if len(fraction):
            i = fraction[0]
            report.warning(path, "io.fractional_count", row=_row_label(path, i, ids), column=col.name,
                           n=len(fraction), value=f"{values.iloc[i]:g}")
    return values


def _check_ids(df: pd.DataFrame, id_col: str, path: Path, report: ProblemReport) -> None:
    ids = df[id_col]
    empty = np.flatnonzero((ids == "").to_numpy())
    for i in empty[:MAX_ROWS_LISTED]:
        report.error(path, "io.id_empty", row=_row_label(path, i), column=id_col)
    _more(report, path, empty, id_col)
    dup_mask = ids.duplicated(keep=False) & (ids != "")
    for value in pd.unique(ids[dup_mask])[:MAX_ROWS_LISTED]:
        rows = [_row_label(path, i) for i in np.flatnonzero((ids == value).to_numpy())]
        report.error(path, "io.id_duplicate", row=rows[0], column=id_col, value=value, n=len(rows), rows=rows[:5])


# --------------------------------------------------------------------------------------
# Coordinates and geometry


def _declared_crs(gdf: gpd.GeoDataFrame, spec: LayerInput, path: Path, report: ProblemReport) -> tuple[CRS | None, str]:
    """The CRS of a layer: (pyproj CRS, Chinese web CRS name or "").

    A configured ``crs`` overrides the file's own declaration, with a warning naming both: users set
    it precisely when the declaration is wrong (GCJ-02 coordinates labelled WGS-84, a wrong .prj).
    """
    web = crsmod.normalise_crs_name(spec.crs) if spec.crs and crsmod.is_chinese_web_crs(spec.crs) else ""
    configured = CRS.from_epsg(4326) if web else None
    if spec.crs and not web:
        try:
            configured = crsmod.parse_crs(spec.crs)
        except Exception:
            report.error(path, "io.crs_unknown", field="crs", value=spec.crs)
            return None, ""
    file_crs = CRS(gdf.crs) if gdf.crs is not None else None
    if configured is not None:
        # GeoJSON always declares WGS-84, which is also how GCJ-02/BD-09 files are labelled: no news.
        if file_crs is not None and not file_crs.equals(configured):
            report.warning(path, "io.crs_overridden", field="crs", declared=f"{file_crs.name} ({file_crs.to_string()})",
                           value=spec.crs)
        return configured, web
    if file_crs is not None:
        return file_crs, ""
    no_prj = path.suffix.lower() == ".shp" and _sibling(path, ".prj") is None
    report.error(path, "io.no_crs_shp" if no_prj else "io.no_crs", field="crs")
    return None, ""


def _check_coordinate_range(gdf: gpd.GeoDataFrame, declared: CRS, path: Path, report: ProblemReport,
                            ids: pd.Series | None = None, crs_label: str = "") -> bool:
    """Catch coordinates that clearly do not belong to the declared CRS (per row where it can)."""
    label = crs_label or declared.name
    geoms = gdf.geometry.to_numpy()
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    if not ok.any():
        return True
    bounds = np.full((len(geoms), 4), np.nan)
    bounds[ok] = shapely.bounds(geoms[ok])
    minx, miny, maxx, maxy = (np.nanmin(bounds[:, 0]), np.nanmin(bounds[:, 1]),
                              np.nanmax(bounds[:, 2]), np.nanmax(bounds[:, 3]))
    if not declared.is_geographic:
        looks_degrees = minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90
        if looks_degrees and max(abs(maxx), abs(maxy)) < 1000:
            report.error(path, "io.degrees_declared_projected", field="crs", label=label,
                         extent=f"{minx:.4f}..{maxx:.4f}, {miny:.4f}..{maxy:.4f}")
            return False
        return True
    # Geographic: judge each row. Latitude and longitude swapped is the commonest spreadsheet
    # mistake in China, where every latitude is below every longitude.
    x = (bounds[:, 0] + bounds[:, 2]) / 2
    y = (bounds[:, 1] + bounds[:, 3]) / 2
    in_range = (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180) & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
    swapped = ok & (((np.abs(y) > 90) & (np.abs(y) <= 180) & (np.abs(x) <= 90))
                    | (in_range & (y > 60) & (y <= 90) & (x >= 0) & (x < 55)))
    projected = ok & ~in_range & ~swapped
    if projected.sum() == ok.sum():
        report.error(path, "io.projected_declared_degrees", field="crs", label=label,
                     extent=f"{minx:.0f}..{maxx:.0f}, {miny:.0f}..{maxy:.0f}")
        return False
    rows = np.flatnonzero(swapped)
    for i in rows[:MAX_ROWS_LISTED]:
        report.error(path, "io.lonlat_swapped", row=_row_label(path, int(i), ids), field="geometry",
                     x=f"{x[i]:.6f}", y=f"{y[i]:.6f}", label=label)
    _more(report, path, rows, "geometry")
    rows = np.flatnonzero(projected)
    for i in rows[:MAX_ROWS_LISTED]:
        report.error(path, "io.not_lonlat", row=_row_label(path, int(i), ids), field="geometry",
                     x=f"{x[i]:.1f}", y=f"{y[i]:.1f}", label=label)
    _more(report, path, rows, "geometry")
    return not (swapped.any() or projected.any())


def _to_wgs84(gdf: gpd.GeoDataFrame, declared: CRS, web: str) -> gpd.GeoDataFrame:
    gdf = gdf.set_crs(declared, allow_override=True)
    if web:
        converted = crsmod.geometry_to_wgs84(gdf.geometry.to_numpy(), web)
        gdf = gdf.set_geometry(gpd.GeoSeries(converted, index=gdf.index, crs="EPSG:4326"))
    return gdf.to_crs(4326)


def _fix_geometry(gdf: gpd.GeoDataFrame, layer: str, path: Path, report: ProblemReport,
                  ids: pd.Series) -> gpd.GeoDataFrame:
    """Check geometry presence, type and validity; repair what make_valid can (with a warning)."""
    geoms = gdf.geometry.to_numpy().copy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    idx = np.flatnonzero(missing)
    for i in idx[:MAX_ROWS_LISTED]:
        report.error(path, "io.geometry_empty", row=_row_label(path, i, ids), field="geometry")
    _more(report, path, idx, "geometry")
    types = shapely.get_type_id(geoms)
    if layer == "communities":
        polygonal = np.isin(types, (3, 6))
        invalid = ~missing & polygonal & ~shapely.is_valid(geoms)
        if invalid.any():
            repaired = shapely.make_valid(geoms[invalid])
            repaired = np.array([_polygonal_part(g) for g in repaired], dtype=object)
            fixed = ~(shapely.is_missing(repaired) | shapely.is_empty(repaired))
            geoms[np.flatnonzero(invalid)[fixed]] = repaired[fixed]
            if fixed.any():
                report.warning(path, "io.polygons_repaired", field="geometry", n=int(fixed.sum()),
                               example=_row_label(path, int(np.flatnonzero(invalid)[fixed][0]), ids))
            for i in np.flatnonzero(invalid)[~fixed][:MAX_ROWS_LISTED]:
                report.error(path, "io.polygon_unrepairable", row=_row_label(path, i, ids), field="geometry")
        wrong = np.flatnonzero(~missing & ~polygonal)
        for i in wrong[:MAX_ROWS_LISTED]:
            report.error(path, "io.community_not_polygon", row=_row_label(path, i, ids), field="geometry",
                         kind=geoms[i].geom_type)
        _more(report, path, wrong, "geometry")
    else:
        polygonal = ~missing & np.isin(types, (3, 6))
        if polygonal.any():
            geoms[polygonal] = shapely.point_on_surface(shapely.make_valid(geoms[polygonal]))
            report.warning(path, "io.polygons_as_points", field="geometry", n=int(polygonal.sum()),
                           layer=layer_name(layer))
        wrong = np.flatnonzero(~missing & ~polygonal & (types != 0))
        for i in wrong[:MAX_ROWS_LISTED]:
            report.error(path, "io.not_a_point", row=_row_label(path, i, ids), field="geometry",
                         layer=layer_name(layer), kind=geoms[i].geom_type)
        _more(report, path, wrong, "geometry")
    return gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))


def _polygonal_part(geom):
    if geom is None:
        return None
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not parts:
        return None
    return shapely.union_all(parts)


# --------------------------------------------------------------------------------------
# Layers


def load_layer(spec: LayerInput, layer: str, report: ProblemReport,
               columns: tuple[Column, ...] | None = None) -> gpd.GeoDataFrame | None:
    """Read, map, type-check and validate one layer; result in WGS-84 (reprojected later)."""
    raw = read_raw(spec, report)
    if raw is None:
        return None
    path = Path(spec.path)
    columns = columns or LAYER_COLUMNS[layer]
    id_col = columns[0].name
    n_errors = len(report.errors)
    df = map_columns(raw, columns, spec.columns, path, report, layer)
    if len(report.errors) > n_errors and id_col not in df.columns:
        return None
    df = _coerce(df, columns, path, report, id_col)
    _check_ids(df, id_col, path, report)
    declared, web = _declared_crs(df, spec, path, report)
    gdf = gpd.GeoDataFrame(df[[c.name for c in columns]], geometry=df.geometry.values, crs=None)
    gdf = _fix_geometry(gdf, layer, path, report, gdf[id_col])
    if declared is None or not _check_coordinate_range(gdf, declared, path, report, gdf[id_col], web):
        return None
    if layer == "communities":
        _check_population(gdf, path, report)
    return _to_wgs84(gdf, declared, web)


def _check_population(df: pd.DataFrame, path: Path, report: ProblemReport, key: str = "community_id") -> set[str]:
    """Households and older residents must not exceed the population; returns the keys reported."""
    ids = df[key].astype(str)
    positions = np.asarray(df.index)
    reported: set[str] = set()
    for col in ("households", "elderly_population"):
        if col not in df:
            continue
        bad = np.flatnonzero((df[col] > df["population"]).to_numpy())
        reported.update(ids.iloc[bad])
        for i in bad[:MAX_ROWS_LISTED]:
            report.error(path, "io.above_population", row=_row_label(path, int(positions[i]), ids), column=col,
                         value=f"{df[col].iloc[i]:g}", population=f"{df['population'].iloc[i]:g}",
                         population_column=report.column_name(path, "population"))
        _more(report, path, bad, col)
    return reported


def join_population(communities: gpd.GeoDataFrame, spec, report: ProblemReport,
                    communities_path: Path) -> gpd.GeoDataFrame:
    """Join a separate population table on community_id or name; report unmatched rows on both sides."""
    raw = read_raw(spec, report, spatial=False)
    if raw is None:
        return communities
    path = Path(spec.path)
    key = spec.join_on
    # The join key is required; a table joined by name needs no community_id column.
    columns = tuple(dataclasses.replace(c, required=c.name == key or (c.required and c.name != "community_id"))
                    for c in LAYER_COLUMNS["population"])
    table = map_columns(raw, columns, spec.columns, path, report, "population")
    if key not in table.columns:
        report.error(path, "io.join_column_missing", column=key, key=key)
        return communities
    present = [c for c in columns if c.name in table.columns]
    raw_population = _as_text(table["population"]) if "population" in table.columns else None
    table = _coerce(table[[c.name for c in present]], tuple(present), path, report, key)
    table[key] = _as_text(table[key])
    table_bad = _check_population(table, path, report, key) if "population" in table.columns else set()
    if raw_population is not None:
        # Values already reported as bad in the table are not reported again on the boundary.
        reported_keys = set(_as_text(table[key])[(raw_population != "") & table["population"].isna()])
    else:
        reported_keys = set()
    _check_ids(table, key, path, report)
    left = communities[key].astype(str)
    if key != "community_id":
        dup = left.duplicated(keep=False) & (left != "")
        for value in pd.unique(left[dup])[:MAX_ROWS_LISTED]:
            rows = [_row_label(communities_path, i, communities["community_id"])
                    for i in np.flatnonzero((left == value).to_numpy())]
            report.error(communities_path, "io.join_names_duplicate", row=rows[0], column=key, n=len(rows),
                         value=value, rows=rows[:5])
    matched_left = left.isin(set(table[key]))
    matched_right = table[key].isin(set(left))
    for i in np.flatnonzero(~matched_right.to_numpy())[:MAX_ROWS_LISTED]:
        report.warning(path, "io.population_without_boundary", row=_row_label(path, i), column=key,
                       value=table[key].iloc[i], boundaries=communities_path.name)
    n_unmatched = int((~matched_right).sum())
    if n_unmatched > MAX_ROWS_LISTED:
        report.warning(path, "io.more_rows", column=key, n=n_unmatched - MAX_ROWS_LISTED)
    # Ids and names identify rows; the table supplies figures (and street/district/estate type).
    value_cols = [c.name for c in present if c.name not in ("community_id", "name")]
    for i in np.flatnonzero(~matched_left.to_numpy())[:MAX_ROWS_LISTED]:
        has_own = "population" in value_cols and not np.isnan(communities["population"].iloc[i])
        report.add("warning" if has_own else "error", communities_path,
                   "io.boundary_without_population_row" if has_own else "io.boundary_without_population",
                   row=_row_label(communities_path, i, left), column=key, value=left.iloc[i], table=path.name)
    # Duplicate keys are already reported as errors; keep the first so the join stays one-to-one.
    unique = table.drop_duplicates(subset=key, keep="first").set_index(key)
    merged = communities.copy()
    for c in value_cols:
        joined = left.map(unique[c])
        if c in ("households", "elderly_population", "population"):
            merged[c] = joined.where(joined.notna(), merged[c]).astype(float)
        else:
            merged[c] = joined.where(joined.notna() & (joined != ""), merged[c]).astype(object)
    _communities_without_population(merged[~left.isin(reported_keys) & matched_left], communities_path, report)
    # Figures that mix sources (population from the boundary, households from the table) are
    # checked on the boundary; rows already reported in the table are not reported twice.
    _check_population(merged[~left.isin(table_bad)], communities_path, report)
    return merged


def _communities_without_population(communities: gpd.GeoDataFrame, path: Path, report: ProblemReport) -> None:
    """Communities left with no population after the join (their index is their feature number)."""
    missing = np.flatnonzero(communities["population"].isna().to_numpy())
    positions = np.asarray(communities.index)
    for i in missing[:MAX_ROWS_LISTED]:
        report.error(path, "io.population_missing", column="population",
                     row=Row(feature=int(positions[i]) + 1, ident=str(communities["community_id"].iloc[i])))
    _more(report, path, missing, "population")


def load_study(config: StudyConfig, *, raise_on_error: bool = True) -> Study:
    """Load and validate every input of a study; reproject to its metric CRS.

    Collects all problems across all files; raises :class:`InputError` with the whole report
    when any is an error (unless ``raise_on_error`` is False, for ``validate``).
    """
    t0 = time.perf_counter()
    report = ProblemReport(language=config.study.language)
    # the config's own warnings (load_config raised on its errors), so validate lists them too
    report.problems.extend(getattr(config, "warnings", []))
    inputs = config.inputs
    com_spec = inputs.communities
    com_path = Path(com_spec.path)
    has_table = bool(inputs.population.path)
    if has_table:
        # Population may sit only in the table: the boundary file's population is optional then.
        communities = _load_communities_allowing_missing_population(com_spec, report)
    else:
        communities = load_layer(com_spec, "communities", report)
    if communities is not None and has_table:
        communities = join_population(communities, inputs.population, report, com_path)
    facilities = load_layer(inputs.facilities, "facilities", report) if inputs.facilities.path else None
    candidates = load_layer(inputs.candidates, "candidates", report) if inputs.candidates.path else None
    buildings = None
    if inputs.buildings.path:
        buildings = _load_buildings(inputs.buildings, report)
    districts = _load_boundaries(inputs.districts, report) if inputs.districts.path else None
    gates = _load_gates(inputs.gates, report) if inputs.gates.path else None

    metric = far = None
    if communities is not None and len(communities):
        labels = np.array([_row_label(com_path, i, communities["community_id"]) for i in range(len(communities))])
        far, metric = _check_community_placement(communities, labels, config, com_path, report)
    if metric is not None:
        communities = communities.to_crs(metric)
        checks.check_community_overlaps(communities.geometry.to_numpy(), labels, communities["community_id"],
                                        str(com_path), report)
        # The extent of the bulk: a community far away (already flagged) must not widen it.
        bulk = shapely.box(*communities[~far].total_bounds)
        extent = bulk.buffer(config.study.extent_margin_m)
        for layer, gdf, spec in (("facilities", facilities, inputs.facilities), ("candidates", candidates, inputs.candidates)):
            if gdf is None:
                continue
            gdf = gdf.to_crs(metric)
            geoms = gdf.geometry.to_numpy()
            present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
            outside = np.flatnonzero(present & ~shapely.intersects(geoms, extent))
            path = Path(spec.path)
            for i in outside[:MAX_ROWS_LISTED]:
                dist = shapely.distance(geoms[i], bulk)
                report.error(path, "io.outside_extent", row=_row_label(path, i, gdf.iloc[:, 0]), field="geometry",
                             km=f"{dist / 1000:.1f}", allowed=f"{config.study.extent_margin_m / 1000:.1f}")
            _more(report, path, outside, "geometry")
            if layer == "facilities":
                facilities = gdf
            else:
                candidates = gdf
        if facilities is not None and communities is not None:
            own = facilities["community_id"].astype(str)
            unknown = np.flatnonzero(((own != "") & ~own.isin(set(communities["community_id"]))).to_numpy())
            fpath = Path(inputs.facilities.path)
            for i in unknown[:MAX_ROWS_LISTED]:
                report.warning(fpath, "io.facility_community_unknown", column="community_id", value=own.iloc[i],
                               row=_row_label(fpath, int(i), facilities["facility_id"]))
        if buildings is not None:
            buildings = buildings.to_crs(metric)
        if districts is not None:
            districts = districts.to_crs(metric)
        if gates is not None:
            gates = gates.to_crs(metric)
    if raise_on_error:
        report.raise_if_errors()
    empty_fac = gpd.GeoDataFrame({c.name: pd.Series(dtype=float if c.dtype == "float" else object)
                                  for c in LAYER_COLUMNS["facilities"]}, geometry=gpd.GeoSeries([], crs=metric), crs=metric)
    empty_cand = gpd.GeoDataFrame({c.name: pd.Series(dtype=float if c.dtype == "float" else object)
                                   for c in LAYER_COLUMNS["candidates"]}, geometry=gpd.GeoSeries([], crs=metric), crs=metric)
    files = []
    for name in ("communities", "population", "facilities", "candidates", "buildings", "districts", "gates",
                 "network", "dem"):
        p = getattr(inputs, name).path
        if p and Path(p).is_file():
            files.append({"input": name, "path": p, "sha256": sha256_of(p), "bytes": Path(p).stat().st_size})
    study = Study(config=config, metric_crs=metric,
                  communities=communities if communities is not None else None,
                  facilities=facilities if facilities is not None else empty_fac,
                  candidates=candidates if candidates is not None else empty_cand,
                  buildings=buildings, report=report, input_files=files, districts=districts,
                  far_communities=far, gates=gates)
    if communities is not None:
        log.info("loaded %d communities, %d facilities, %d candidates in %s (%.2f s)", len(communities),
                 len(study.facilities), len(study.candidates), metric.name if metric else "?", time.perf_counter() - t0)
    return study


def _check_community_placement(communities: gpd.GeoDataFrame, labels: np.ndarray, config: StudyConfig,
                               path: Path, report: ProblemReport) -> tuple[np.ndarray, CRS | None]:
    """Flag communities far from the rest and choose the metric CRS from the bulk of them.

    ``communities`` in WGS-84; returns the mask of far communities and the metric CRS (None
    after recording an error). The choice and its reason go into the report as an info line.
    """
    bounds = shapely.bounds(communities.geometry.to_numpy())
    lon, lat = (bounds[:, 0] + bounds[:, 2]) / 2.0, (bounds[:, 1] + bounds[:, 3]) / 2.0
    far = checks.check_far_features(lon, lat, labels, str(path), "communities", report)
    if not np.isfinite(lon).any():
        return far, None  # no usable geometry: already reported per feature
    try:
        choice = crsmod.choose_metric_crs(lon, lat, config.study.metric_crs, what="communities")
    except Exception as exc:
        report.error(config.source or "config", "io.metric_crs_invalid", field="study.metric_crs",
                     value=config.study.metric_crs, detail=str(exc))
        return far, None
    report.info(config.source or "config", choice.message, field="study.metric_crs")
    return far, choice.crs


def _load_communities_allowing_missing_population(spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    """Communities whose population columns may come from a separate table."""
    optional = tuple(dataclasses.replace(c, required=False) if c.name == "population" else c
                     for c in LAYER_COLUMNS["communities"])
    return load_layer(spec, "communities", report, optional)


def _load_auxiliary(spec: LayerInput, report: ProblemReport, columns, type_ids: tuple[int, ...],
                    what: str) -> gpd.GeoDataFrame | None:
    """A layer without a strict schema (buildings, boundaries), in WGS-84.

    ``columns(raw, path)`` returns the output columns (or None after reporting an error);
    features whose geometry type is not in ``type_ids`` are left out with a warning.
    """
    raw = read_raw(spec, report)
    if raw is None:
        return None
    path = Path(spec.path)
    declared, web = _declared_crs(raw, spec, path, report)
    if declared is None:
        return None
    data = columns(raw, path)
    if data is None:
        return None
    out = gpd.GeoDataFrame(data, geometry=raw.geometry.values, crs=None)
    keep = np.isin(shapely.get_type_id(out.geometry.to_numpy()), type_ids)
    if (~keep).any():
        report.warning(path, "io.other_geometry_unused", field="geometry", n=int((~keep).sum()), what=Text(what))
    out = out[keep]
    if not _check_coordinate_range(out, declared, path, report, crs_label=web):
        return None
    return _to_wgs84(out, declared, web)


def _load_boundaries(spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    """District boundaries for the map: a ``name`` and polygon or line geometry, in WGS-84."""
    def columns(raw, path):
        found = _aux_columns(raw, spec, path, report, "districts",
                             {"name": ("name", "名称", "district", "区", "区县", "name:zh")})
        if found is None:
            return None
        return {"name": _as_text(raw[found["name"]]) if found["name"] else ""}

    return _load_auxiliary(spec, report, columns, (1, 2, 3, 5, 6), "io.what_boundary")


def _load_buildings(spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    """Buildings for demand points: polygons or points with optional levels and building type."""
    def columns(raw, path):
        found = _aux_columns(raw, spec, path, report, "buildings", {
            "levels": ("building:levels", "levels", "层数", "楼层数", "floors", "storeys", "stories"),
            "building": ("building", "建筑类型", "用途", "type"),
        })
        if found is None:
            return None
        levels_col, type_col = found["levels"], found["building"]
        levels = pd.to_numeric(raw[levels_col], errors="coerce") if levels_col else np.nan
        if levels_col:
            text = _as_text(raw[levels_col])
            bad = np.flatnonzero((levels.isna() & (text != "")).to_numpy())
            if len(bad):
                report.warning(path, "io.levels_not_numbers", row=_row_label(path, int(bad[0])), column=levels_col,
                               n=len(bad), value=text.iloc[bad[0]])
        return {
            "levels": levels,
            # The building type lets demand points skip shops, schools and other non-homes.
            "building": raw[type_col].astype(str) if type_col else "",
        }

    return _load_auxiliary(spec, report, columns, (0, 3, 6), "io.what_building")


def _aux_columns(raw: pd.DataFrame, spec: LayerInput, path: Path, report: ProblemReport, layer: str,
                 aliases: dict[str, tuple[str, ...]]) -> dict[str, str | None] | None:
    """The user's column for each optional key of a schema-free layer (mapped, else an alias, else None);
    None after reporting unknown keys or mapped columns the file does not have."""
    n_errors = len(report.errors)
    _check_mapping_keys(spec.columns, aliases, path, report, layer)
    found: dict[str, str | None] = {}
    for key, names in aliases.items():
        source = spec.columns.get(key)
        if source is not None and source not in raw.columns:
            _mapped_column_missing(raw, source, key, path, report, layer)
        found[key] = source or _find(raw.columns, names)
    report.map_columns(path, {key: col for key, col in found.items() if col})
    return None if len(report.errors) > n_errors else found


def _load_gates(spec: LayerInput, report: ProblemReport) -> gpd.GeoDataFrame | None:
    """Compound gates (小区出入口): points with optional id, access and opening hours, in WGS-84."""
    def columns(raw, path):
        found = _aux_columns(raw, spec, path, report, "gates", {
            "gate_id": ("gate_id", "id", "编号", "出入口编号", "name", "名称", "出入口名称"),
            "access": ("access", "通行", "开放对象", "权限"),
            "opening_hours": ("opening_hours", "开放时间", "开放时段"),
            # shown on the map, and "illustrative"/"示意" there marks gates that were not surveyed
            "name": ("name", "名称", "出入口名称"),
            "source": ("source", "来源", "数据来源")})
        if found is None:
            return None
        return {key: _as_text(raw[col]) if col else "" for key, col in found.items()}

    return _load_auxiliary(spec, report, columns, (0,), "io.what_gate")


