"""Shared fixtures, and the guard that keeps the suite self-contained.

The guard: every file a test opens must lie inside the repository, the pytest temp folder or
the Python installation and system folders that libraries read. A test that opens anything
else (the project's shared folder beside a developer's checkout, a file in someone's home) fails, since a
user's bare clone has nothing beside it. It sees opens made through Python (``open``,
``io``, ``os.open``), which is how the tests and our loaders read their inputs.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SAMPLE_FILES = ("communities.geojson", "population.csv", "facilities.csv", "candidates.geojson",
                "district_border.geojson", "gates.geojson", "sample.toml")

_HOME = Path.home()
#: Where libraries legitimately read or write outside the repository: the interpreter and its
#: packages, system configuration and devices, and per-user caches (fonts, matplotlib, Jupyter).
_SYSTEM_ROOTS = {
    sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"],
    *site.getsitepackages(), "/usr", "/etc", "/proc", "/sys", "/dev", "/lib", "/lib64",
    "/var/cache/fontconfig", "/run", str(_HOME / ".cache"), str(_HOME / ".config"),
    str(_HOME / ".local"), str(_HOME / ".ipython"), str(_HOME / ".jupyter"), str(_HOME / ".matplotlib"),
}
_allowed: list[str] = []
#: Folders that count as outside even within an allowed root: the repository's own parent
#: (where a developer's shared/ folder sits), except the repository and the pytest temp folder.
_beside: list[str] = []
_violations: list[str] = []


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _inside(path: str) -> bool:
    if _under(path, _beside[:1]) and not _under(path, _beside[1:]):
        return False
    return _under(path, _allowed)


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not _allowed:
        return
    path = args[0]
    if not isinstance(path, (str, bytes, os.PathLike)):
        return  # a file descriptor
    path = os.fsdecode(path)
    resolved = os.path.realpath(path)
    if not (_inside(os.path.abspath(path)) or _inside(resolved)):
        _violations.append(resolved)


@pytest.fixture(scope="session", autouse=True)
def _guard_installed(tmp_path_factory: pytest.TempPathFactory):
    basetemp = tmp_path_factory.getbasetemp()
    # Libraries' own temporary files go inside the pytest temp folder, so the system temp
    # folder (where a CI clone may sit beside other folders) need not be allowed.
    scratch = basetemp / "scratch"
    scratch.mkdir(exist_ok=True)
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(scratch)
    roots = {ROOT, basetemp, *map(Path, _SYSTEM_ROOTS)}
    _allowed.extend(sorted({os.path.realpath(r) for r in roots}))
    _beside.extend(os.path.realpath(r) for r in (ROOT.parent, ROOT, basetemp))
    sys.addaudithook(_audit)  # audit hooks cannot be removed: an empty _allowed switches it off
    yield
    _allowed.clear()
    _beside.clear()
    tempfile.tempdir = saved_tempdir


@pytest.fixture(autouse=True)
def _only_files_of_the_repository(_guard_installed):
    """Fail the test that opened a file outside the repository and the temp folders."""
    start = len(_violations)
    yield
    opened = sorted(set(_violations[start:]))
    del _violations[start:]
    if opened:
        pytest.fail("the test opened files outside the repository (a bare clone has nothing beside it; "
                    "copy what it needs into tests/data/ with its attribution): " + ", ".join(opened[:5]),
                    pytrace=False)


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> tuple[Path, object]:
    """(output folder, RunResult) of one run of the embedded sample, shared by every test that
    only reads its outputs (the run takes several seconds)."""
    from eldercare_coverage import pipeline

    out = tmp_path_factory.mktemp("sample-run")
    return out, pipeline.run(None, out_dir=out)


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A folder holding a copy of the sample inputs and config (the network file is linked by path)."""
    folder = tmp_path / "study"
    folder.mkdir()
    for name in SAMPLE_FILES:
        shutil.copyfile(DATA / name, folder / name)
    config = (folder / "sample.toml").read_text(encoding="utf-8")
    config = config.replace('path = "chengdu-jinniu-xindu.osm.bz2"',
                            f'path = "{(DATA / "chengdu-jinniu-xindu.osm.bz2").as_posix()}"')
    config = config.replace('"../out"', '"out"').replace('"../reports"', '"reports"').replace('"../maps"', '"maps"')
    (folder / "sample.toml").write_text(config, encoding="utf-8")
    return folder
