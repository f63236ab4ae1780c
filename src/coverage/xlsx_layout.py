"""Print and screen layout of the gap workbook's sheets: a title block above each table, A4
landscape fitted to the page width, the header row repeated on every printed page, panes frozen
below the header and right of the name column, and an autofilter on the header.

Works on openpyxl's write-only worksheets (set before the rows are appended).
"""

from __future__ import annotations

from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

#: Columns that name a row; panes freeze right of the first one a table has.
NAME_COLUMNS = ("name", "district", "street", "candidate_id", "facility_id", "community_id")
_A4 = 9  # openpyxl's paper size code for A4


def title_rows(title: str, lines: list[str]) -> list[list[str]]:
    """The title block: the study title, then one line each (profile, walk speed, limit, date),
    then an empty row before the table's header."""
    return [[title], *[[line] for line in lines], []]


def freeze_after(columns: list[str]) -> int:
    """1-based index of the column right of the row's name (1: nothing frozen sideways)."""
    for name in NAME_COLUMNS:
        if name in columns:
            return columns.index(name) + 2
    return 1


def print_layout(ws, *, header_row: int, n_rows: int, n_cols: int, freeze_col: int = 1) -> None:
    """Landscape A4 fitted to one page wide (as many pages down as needed), the header row
    printed on every page, panes frozen at the header and the name column, autofilter on the
    header. ``n_rows`` counts the data rows below the header."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = _A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # 0 = as many pages as the rows need
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_options.gridLines = True
    ws.print_title_rows = f"{header_row}:{header_row}"
    ws.freeze_panes = f"{get_column_letter(max(freeze_col, 1))}{header_row + 1}"
    if n_cols:
        last = get_column_letter(n_cols)
        ws.auto_filter.ref = f"A{header_row}:{last}{header_row + max(n_rows, 0)}"
