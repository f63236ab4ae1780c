"""Spreadsheet-safe text: the one place every CSV and XLSX output of the toolkit goes through.

Names, ids, districts and streets come from files typed by many hands. A spreadsheet reads a
text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula
(OWASP "CSV injection"), so such cells get a leading single quote ``'`` and stay text. Only
text cells are touched: a numeric column (negative numbers included) is written as numbers.

XLSX text cells are always typed as strings, never formulas, and the control characters XLSX
cannot hold (C0 controls other than tab, line feed and carriage return) are replaced by U+FFFD;
:class:`XlsxText` counts them so the writer can report the replacement once per file.

This module imports only :mod:`eldercare_coverage.errors` and its messages from the package, so every writer
(reports, pipeline, access, siting) can use it without an import circle.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ProblemReport
from .messages import Text

log = logging.getLogger(__name__)

#: Starts of a text cell that spreadsheets evaluate (OWASP CSV injection guidance).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Stands in for a character XLSX cannot hold.
REPLACEMENT_CHAR = "\ufffd"


def neutralise(text: str) -> str:
    """``text`` with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _is_text_column(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)
                or pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype))


def safe_text_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are neutralised; numbers untouched."""
    out = df.copy()
    for j in range(out.shape[1]):  # by position: duplicated column names stay distinct
        s = out.iloc[:, j]
        if not _is_text_column(s):
            continue
        values = s.astype(object)
        hit = values.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_START)).to_numpy(dtype=bool)
        if hit.any():
            fixed = values.copy()
            fixed[hit] = ["'" + v for v in values[hit]]
            # object dtype: a categorical column cannot hold the new values (they would turn NaN)
            out.isetitem(j, fixed)
    out.columns = [neutralise(c) if isinstance(c, str) else c for c in out.columns]
    return out


def write_csv(df: pd.DataFrame, path: str | os.PathLike, *, encoding: str = "utf-8-sig",
              index: bool = False) -> Path:
    """Write ``df`` as CSV (UTF-8 with BOM by default, which Excel and WPS read as UTF-8) with
    every text cell neutralised; returns the path."""
    path = Path(path)
    safe_text_frame(df).to_csv(path, index=index, encoding=encoding)
    return path


class XlsxText:
    """Makes string-typed openpyxl cells for one workbook and remembers what it had to replace.

    ``cell(ws, value, row, column)`` returns a write-only cell for a ``str`` (neutralised,
    control characters replaced, ``data_type`` forced to ``"s"``) and any other value unchanged.
    ``row`` and ``column`` (1-based; ``header_row`` is the header, under any title block) only
    serve :meth:`report`.
    """

    def __init__(self, path: str | os.PathLike, header_row: int = 1):
        self.path = Path(path)
        self.header_row = header_row
        self.replaced_cells = 0
        self.first: tuple[str, int, int] | None = None  # sheet, row, column
        self._headers: dict[tuple[str, int], str] = {}

    def cell(self, ws: Any, value: Any, row: int, column: int) -> Any:
        if not isinstance(value, str):
            return value
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        clean = ILLEGAL_CHARACTERS_RE.sub(REPLACEMENT_CHAR, value)
        if row == self.header_row:
            self._headers[(ws.title, column)] = clean
        if clean != value:
            self.replaced_cells += 1
            if self.first is None:
                self.first = (ws.title, row, column)
        cell = WriteOnlyCell(ws, value=neutralise(clean))
        cell.data_type = "s"  # a string whatever it looks like, never a formula
        return cell

    def report(self, problems: ProblemReport | None = None) -> str | None:
        """Report replaced control characters once for the file (to ``problems``, else the log);
        returns the message, or None when nothing was replaced."""
        if self.first is None:
            return None
        from openpyxl.utils import get_column_letter

        sheet, row, column = self.first
        header = self._headers.get((sheet, column), "")
        problem = Text("cells.control_replaced", sheet=sheet, cell=f"{get_column_letter(column)}{row}",
                       header=Text("cells.header", name=header) if header else "",
                       more=Text("cells.more", n=self.replaced_cells - 1) if self.replaced_cells > 1 else "")
        if problems is not None:
            problems.warning(self.path.name, problem, row=row - self.header_row if row > self.header_row else None,
                             field=header or None)
        else:
            log.warning("%s: %s Fix: %s", self.path.name, problem.render("en"), problem.fix("en"))
        return problem.render("en")
