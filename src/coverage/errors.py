"""Problems found in user input, collected into one report instead of stopping at the first.

A :class:`Problem` names the file, the row or feature, the field (the user's own column name
for a data column), what is wrong and what would fix it. It carries a message id and its
values, not a sentence: :meth:`ProblemReport.format` renders the same report in zh or en from
the catalogues of :mod:`eldercare_coverage.messages`. Loaders append problems to a
:class:`ProblemReport`; when any problem is an error the caller raises :class:`InputError`,
which the command line turns into exit code 2 with the whole report and no traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .messages import LIST_LIMIT, Row, Text, language_of, text

log = logging.getLogger(__name__)

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
#: Severity -> the message id of its word.
_SEVERITY_WORDS = {"error": "severity.error", "warning": "severity.warning", "info": "severity.info"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``severity='error'``), repaired/suspicious (``'warning'``) or a choice the
    toolkit made that a reader should be able to trace (``'info'``, e.g. the metric CRS).

    ``code`` is the message id, ``params`` its values; ``field`` is the user's column name when
    ``is_column`` (a column of a data file), else a config key or another field."""

    file: str
    code: str
    params: dict = field(default_factory=dict)
    row: str | None = None
    field: str | None = None
    severity: str = "error"
    is_column: bool = False

    @property
    def message(self) -> str:
        """The message in English (stable for scripts and tests; users see :meth:`render`)."""
        return Text(self.code, **self.params).render("en")

    @property
    def fix(self) -> str:
        return Text(self.code, **self.params).fix("en")

    def render(self, language: str = "en") -> str:
        """One line: severity, file, row, column or field, message and fix, in ``language``."""
        lang = language_of(language)
        where = [self.file]
        if self.row is not None:
            where.append(self.row.render(lang) if isinstance(self.row, Row) else text("where.row", lang, row=self.row))
        if self.field is not None:
            where.append(text("where.column" if self.is_column else "where.field", lang, name=self.field))
        msg = Text(self.code, **self.params)
        line = text("where.line", lang, severity=text(_SEVERITY_WORDS[self.severity], lang),
                    where=text("where.sep", lang).join(where), message=msg.render(lang))
        fix = msg.fix(lang)
        return line + (text("where.fix", lang, fix=fix) if fix else "")

    def __str__(self) -> str:
        return self.render("en")


@dataclass
class ProblemReport:
    """An ordered collection of problems across every input of a study, rendered in ``language``
    (the study's ``[study] language``)."""

    problems: list[Problem] = field(default_factory=list)
    language: str = "zh"
    #: Per file: canonical column -> the user's column (registered by the loaders), so problems
    #: name the column as it is in the user's file.
    columns: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, severity: str, file: str | Path, code: str | Text, /, *, row: object = None,
            field: str | None = None, column: str | None = None, **params: Any) -> Problem:
        """Record a problem. ``code``: a message id (or a :class:`Text` with its values);
        ``column``: a canonical column of ``file``, shown as the user's own column name (also
        the ``{column}`` value); ``field``: a config key or other field, shown as given."""
        if isinstance(code, Text):
            params = {**code.params, **params}
            code = code.key
        is_column = column is not None
        if is_column:
            field = self.column_name(file, column)
            params.setdefault("column", field)
        problem = Problem(str(file), code, params, _row(row), field, severity, is_column)
        self.problems.append(problem)
        if severity != "error":
            (log.warning if severity == "warning" else log.info)("%s", problem.render(self.language))
        return problem

    def error(self, file: str | Path, code: str | Text, /, **kw: Any) -> None:
        self.add("error", file, code, **kw)

    def warning(self, file: str | Path, code: str | Text, /, **kw: Any) -> None:
        self.add("warning", file, code, **kw)

    def info(self, file: str | Path, code: str | Text, /, **kw: Any) -> None:
        """A choice made on the user's behalf (not a problem): listed in the report, never fatal."""
        self.add("info", file, code, **kw)

    def map_columns(self, file: str | Path, mapping: dict[str, str]) -> None:
        """Register ``{canonical: user column}`` of ``file`` for the problems recorded after."""
        self.columns.setdefault(str(file), {}).update(mapping)

    def column_name(self, file: str | Path, column: str) -> str:
        """The user's name of canonical ``column`` in ``file`` (the canonical name if not mapped)."""
        return self.columns.get(str(file), {}).get(column, column)

    def extend(self, other: "ProblemReport") -> None:
        self.problems.extend(other.problems)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self)

    def format(self, language: str | None = None, *, limit: int | None = None, more_hint: str = "") -> str:
        """The report in ``language`` (default: the report's own): errors first, then warnings and
        notes. ``limit``: show at most this many, then "and N more" (with ``more_hint``, e.g.
        where the full list is); None shows all."""
        lang = language_of(language or self.language)
        ordered = sorted(self.problems, key=lambda p: _SEVERITY_ORDER.get(p.severity, 3))
        shown = ordered if limit is None else ordered[:limit]
        lines = [p.render(lang) for p in shown]
        if len(ordered) > len(shown):
            lines.append(text("problems.more", lang, n=len(ordered) - len(shown))
                         + (text("problems.more_hint", lang, hint=more_hint) if more_hint else ""))
        if not (self.errors or self.warnings):
            return "\n".join(lines + [text("problems.no_problems", lang)])
        lines.append(text("problems.counts", lang, errors=len(self.errors), warnings=len(self.warnings)))
        return "\n".join(lines)

    def format_terminal(self, language: str | None = None, more_hint: str = "") -> str:
        """:meth:`format` cut at :data:`~eldercare_coverage.messages.LIST_LIMIT` items."""
        return self.format(language, limit=LIST_LIMIT, more_hint=more_hint)


def _row(row: object) -> str | None:
    if row is None or isinstance(row, Row):
        return row
    return str(row)


class InputError(Exception):
    """Bad user input (config or data). Carries the full problem report.

    ``InputError(report)``, or ``InputError(code, file, field=..., **params)`` for one problem."""

    def __init__(self, report: ProblemReport | str | Text, file: str | Path = "", /, *, language: str | None = None,
                 row: object = None, field: str | None = None, **params: Any):
        if not isinstance(report, ProblemReport):
            rep = ProblemReport(language=language_of(language))
            rep.error(file or "<input>", report, row=row, field=field, **params)
            report = rep
        self.report = report
        super().__init__(report.format())

    def __str__(self) -> str:  # rendered now: the report's language may be set after raising
        return self.report.format()
