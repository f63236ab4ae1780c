"""The ``eldercare-coverage`` command line: run, validate, profiles.

Exit codes: 0 success; 2 bad input or an output folder the run may not use (the problem
report, no traceback); 1 internal error (rerun with ``--verbose`` for the traceback).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import traceback
from pathlib import Path

from .errors import InputError

EXAMPLES_RUN = """examples:
  eldercare-coverage run                      # the embedded north-Chengdu sample
  eldercare-coverage run study.toml           # your study
  eldercare-coverage run study.toml --out results/
"""
EXAMPLES_VALIDATE = """examples:
  eldercare-coverage validate study.toml      # list every problem in the inputs, write nothing
  eldercare-coverage validate                 # check the embedded sample
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eldercare-coverage",
        description="Plan the 15-minute home and community eldercare circle (一刻钟居家养老服务圈): "
                    "walk access, space norms, facility siting, maps and gap reports.",
        epilog="Run 'eldercare-coverage COMMAND --help' for each command's options.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
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
    level = logging.DEBUG if verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    for noisy in ("pyogrio", "fiona", "urllib3", "numba", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "profiles":
            return _profiles()
    except InputError as exc:
        print(exc.report.format(), file=sys.stderr)
        if getattr(exc, "restored", True):  # OutputError after a publish that could not be undone
            print("Nothing was written. Correct the input and run again.", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and cut short: not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("Interrupted; nothing was written.", file=sys.stderr)
        return 130
    except Exception as exc:  # internal error: short message, traceback only on request
        if verbose:
            traceback.print_exc()
        print(f"Internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        if not verbose:
            print("Rerun with --verbose for the traceback, and please report it.", file=sys.stderr)
        return 1
    return 0


def _run(args) -> int:
    from .pipeline import run

    t0 = time.perf_counter()
    result = run(args.config, out_dir=args.out)
    print(f"Study '{result.study.config.study.name}': {len(result.study.communities)} communities, "
          f"{len(result.study.facilities)} facilities, {len(result.study.candidates)} candidate sites.")
    if result.study.report.warnings:
        print(f"{len(result.study.report.warnings)} warning(s); see the validation report.")
    print("Outputs:")
    for path in result.outputs:
        print(f"  {_rel(path)}")
    print(f"Done in {time.perf_counter() - t0:.1f} s.")
    return 0


def _validate(args) -> int:
    from .pipeline import validate

    study = validate(args.config)
    print(study.report.format())
    return 0 if study.report.ok else 2


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


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
