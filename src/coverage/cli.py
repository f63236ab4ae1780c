"""The ``eldercare-coverage`` command line: run, validate, profiles.

Exit codes: 0 success; 2 bad input or an output folder the run may not use (the problem
report, no traceback); 1 internal error (rerun with ``--verbose`` for the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
import traceback
from pathlib import Path

from .errors import InputError
from .messages import LIST_LIMIT, detect_language, text

EXAMPLES_RUN = """examples:
  eldercare-coverage run                      # the embedded north-Chengdu sample
  eldercare-coverage run study.toml           # your study
  eldercare-coverage run study.toml --out results/
"""
EXAMPLES_VALIDATE = """examples:
  eldercare-coverage validate study.toml      # list every problem in the inputs, write nothing
  eldercare-coverage validate                 # check the embedded sample
  eldercare-coverage validate study.toml --all  # every problem, not only the first 10
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eldercare-coverage",
        description="Plan the 15-minute home and community eldercare circle (一刻钟居家养老服务圈): "
                    "walk access, space norms, facility siting, maps and gap reports.",
        epilog="Run 'eldercare-coverage COMMAND --help' for each command's options.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="every detail (timestamped log lines) and tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only (no stage lines, warnings or summary)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p_run = sub.add_parser("run", help="run every stage of a study and write its outputs",
                           description="Load and validate the inputs, compute walk access, check the norms, "
                                       "propose sites, and write tables, reports and maps. Outputs are written "
                                       "to a staging folder and moved into place only when all are complete.",
                           epilog=EXAMPLES_RUN, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_run.add_argument("config", nargs="?", help="study config (TOML); omitted: the embedded sample")
    p_run.add_argument("--out", help="put out/, reports/ and maps/ under this folder instead of the config's [output]")
    p_run.add_argument("-v", "--verbose", action="store_true", dest="verbose_sub", help="debug logging and tracebacks")

    p_val = sub.add_parser("validate", help="check the inputs only and print the problem report",
                           description="Read every input of a study, check it, and print every problem "
                                       "(file, row, field, fix) in one report. Writes nothing. Exit 2 if any "
                                       "problem is an error.",
                           epilog=EXAMPLES_VALIDATE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p_val.add_argument("config", nargs="?", help="study config (TOML); omitted: the embedded sample")
    p_val.add_argument("--all", action="store_true", dest="all_problems",
                       help=f"list every problem (default: the first {LIST_LIMIT}, then how many more)")
    p_val.add_argument("-v", "--verbose", action="store_true", dest="verbose_sub", help="debug logging and tracebacks")

    p_prof = sub.add_parser("profiles", help="list the norm profiles with their sources",
                            description="List the shipped norm profiles, each with its source document.",
                            epilog="example:\n  eldercare-coverage profiles",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    p_prof.add_argument("-v", "--verbose", action="store_true", dest="verbose_sub", help="debug logging")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    verbose = args.verbose or getattr(args, "verbose_sub", False)
    _setup_logging(verbose, args.quiet, quiet_warnings=args.command == "validate")
    if args.command is None:
        parser.print_help()
        return 0
    lang = _language(getattr(args, "config", None))
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "profiles":
            return _profiles()
    except InputError as exc:
        hint = text("problems.more_validate", exc.report.language, config=getattr(args, "config", None) or "")
        print(printable(exc.report.format_terminal(more_hint=hint)), file=sys.stderr)
        if getattr(exc, "restored", True):  # OutputError after a publish that could not be undone
            print(text("problems.nothing_written", exc.report.language), file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and cut short: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(text("problems.interrupted", lang), file=sys.stderr)
        return 130
    except Exception as exc:  # internal error: short message, traceback only on request
        if verbose:
            traceback.print_exc()
        print(printable(text("cli.internal_error", lang, error=f"{type(exc).__name__}: {exc}")), file=sys.stderr)
        if not verbose:
            print(text("cli.rerun_verbose", lang), file=sys.stderr)
        return 1
    return 0


class _OncePerMessage(logging.Filter):
    """Drops a record whose text was already shown (a warning repeated by a later stage)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.levelno}:{record.getMessage()}"
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


class _WarningCap(logging.Filter):
    """Lets the first :data:`~eldercare_coverage.messages.LIST_LIMIT` problem-report warnings of a
    run through and counts the rest (the full list is in validation.txt)."""

    def __init__(self) -> None:
        super().__init__()
        self.shown = self.held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name != "eldercare_coverage.errors" or record.levelno != logging.WARNING:
            return True
        if self.shown < LIST_LIMIT:
            self.shown += 1
            return True
        self.held += 1
        return False


#: The cap of the current command line's handler (read by ``run`` to say how many were held back).
_CAP = _WarningCap()


class _StageLinesOnly(logging.Filter):
    """At the default verbosity: the pipeline's one line per stage (records marked ``stage``), and
    every warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or getattr(record, "stage", False)


#: Control characters a terminal would act on (ESC sequences, bell, backspace, C1 codes) and
#: bidirectional overrides: names from input files may carry them, and they must show as text.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with terminal control characters shown as U+FFFD (newline, tab, CR kept)."""
    return _CONTROL.sub("\ufffd", text)


class _Console(logging.StreamHandler):
    """The command line's handler, writing to the current ``sys.stderr`` (so a caller that swaps
    it, like pytest's capsys or a notebook, sees the text)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


def _setup_logging(verbose: bool, quiet: bool, quiet_warnings: bool = False) -> None:
    """One handler on the package logger, not propagated to the root: each message printed once
    even where the root logger has handlers of its own (a notebook, an embedding program, a
    second call of :func:`main`). ``quiet_warnings``: the command prints the problem report
    itself, so live warnings would repeat it."""
    from . import progress

    pkg = logging.getLogger("eldercare_coverage")
    for handler in [h for h in pkg.handlers if isinstance(h, _Console)]:
        pkg.removeHandler(handler)
    handler = _Console(sys.stderr)
    if verbose:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        pkg.setLevel(logging.DEBUG)
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(_StageLinesOnly())
        pkg.setLevel(logging.ERROR if quiet else logging.INFO)
    if quiet_warnings and not verbose:
        logging.getLogger("eldercare_coverage.errors").setLevel(logging.ERROR)
    else:
        logging.getLogger("eldercare_coverage.errors").setLevel(logging.NOTSET)
    handler.addFilter(_OncePerMessage())
    global _CAP
    _CAP = _WarningCap()
    if not verbose:
        handler.addFilter(_CAP)
    pkg.addHandler(handler)
    pkg.propagate = False
    logging.captureWarnings(True)  # library warnings go through logging too, shown once
    for name in ("py.warnings", "pyogrio", "fiona", "urllib3", "numba", "matplotlib", "PIL"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose and name == "py.warnings" else logging.ERROR)
    progress.enable(not quiet and not verbose)


def _run(args) -> int:
    from .pipeline import run
    from .summary import run_summary

    t0 = time.perf_counter()
    result = run(args.config, out_dir=args.out)
    if args.quiet:
        return 0
    lang = result.study.config.study.language
    validation = next((p for p in result.outputs if p.name == "validation.txt"), Path("validation.txt"))
    if _CAP.held:
        print(printable(text("problems.more", lang, n=_CAP.held)
                        + text("problems.more_hint", lang, hint=text("problems.more_file", lang, path=_rel(validation)))),
              file=sys.stderr)
    print()
    for line in run_summary(result, validation_path=_rel(validation)):
        print(printable(line))
    folders = sorted({_rel(p.parent) for p in result.outputs})
    print()
    print(text("summary.outputs", lang, paths=", ".join(f"{f}/" for f in folders)))
    log = logging.getLogger("eldercare_coverage.cli")
    for path in result.outputs:
        log.debug("  %s", _rel(path))
    print(f"{time.perf_counter() - t0:.1f} s")
    return 0


def _validate(args) -> int:
    from .pipeline import validate

    study = validate(args.config)
    report = study.report
    hint = text("problems.more_validate", report.language, config=args.config or "")
    print(printable(report.format() if args.all_problems else report.format_terminal(more_hint=hint)))
    return 0 if report.ok else 2


def _profiles() -> int:
    from .norm_sources import STATUS_LABELS
    from .norms import list_profiles

    for row in list_profiles().itertuples(index=False):
        extends = f" (extends {row.extends})" if row.extends else ""
        print(f"{row.name}{extends}: {row.title}")
        print(f"    {row.title_en}")
        print(f"    source / 来源: {row.source_document}")
        if row.status:
            print(f"    status / 性质: {' / '.join(STATUS_LABELS.get(row.status, (row.status,)))}")
        print(f"    clause / 条款: {row.clause}")
        print()
    print("Use one with [norms] profile = \"NAME\"; extend one with a TOML file (extends = \"NAME\") "
          "given as [norms] profile_file.")
    return 0


def _language(config: str | None) -> str:
    """The study language of ``config`` read from its raw text (the sample's when omitted), for
    the messages printed before or without a parsed config."""
    if config is None:
        return "zh"  # the embedded sample is a zh study
    import stat

    try:
        if not stat.S_ISREG(os.stat(config).st_mode):  # never open a FIFO or a device: it could block
            return detect_language(None)
        with open(config, "rb") as fh:
            return detect_language(fh.read(65536))
    except OSError:
        return detect_language(None)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
