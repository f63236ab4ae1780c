"""Problems found in user input, collected into one report instead of stopping at the first.

A :class:`Problem` names the file, the row or feature, the field, what is wrong and what
would fix it. Loaders append problems to a :class:`ProblemReport`; when any problem is an
error the caller raises :class:`InputError`, which the command line turns into exit code 2
with the whole report and no traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing wrong (``severity='error'``), repaired/suspicious (``'warning'``) or a choice the
    toolkit made that a reader should be able to trace (``'info'``, e.g. the metric CRS)."""

    file: str
    message: str
    fix: str = ""
    row: str | None = None
    field: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        text = f"{self.severity.upper()}: {', '.join(where)}: {self.message}"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text


@dataclass
class ProblemReport:
    """An ordered collection of problems across every input of a study."""

    problems: list[Problem] = field(default_factory=list)

    def error(self, file: str | Path, message: str, fix: str = "", *, row: object = None,
              field: str | None = None) -> None:
        self.problems.append(Problem(str(file), message, fix, _row(row), field, "error"))

    def warning(self, file: str | Path, message: str, fix: str = "", *, row: object = None,
                field: str | None = None) -> None:
        problem = Problem(str(file), message, fix, _row(row), field, "warning")
        self.problems.append(problem)
        log.warning("%s", problem)

    def info(self, file: str | Path, message: str, *, field: str | None = None) -> None:
        """A choice made on the user's behalf (not a problem): listed in the report, never fatal."""
        problem = Problem(str(file), message, "", None, field, "info")
        self.problems.append(problem)
        log.info("%s", problem)

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

    def format(self) -> str:
        lines = [str(p) for p in self.problems]
        if not (self.errors or self.warnings):
            return "\n".join(lines + ["No problems found."])
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s).")
        return "\n".join(lines)


def _row(row: object) -> str | None:
    return None if row is None else str(row)


class InputError(Exception):
    """Bad user input (config or data). Carries the full problem report."""

    def __init__(self, report: ProblemReport | str, file: str | Path = "", fix: str = ""):
        if isinstance(report, str):
            rep = ProblemReport()
            rep.error(file or "<input>", report, fix)
            report = rep
        self.report = report
        super().__init__(report.format())
