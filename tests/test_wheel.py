"""The wheel works alone: installed into a fresh venv beside coverage.py, it runs the embedded
sample from an unrelated folder, and both packages import.

This builds the wheel and installs it with all its dependencies from the package registry (pip's
cache makes that quick after set-up), so it also checks the declared dependencies and package data.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.wheel


def _sh(*cmd, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(venv python, the built wheel)."""
    base = tmp_path_factory.mktemp("wheel")
    _sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", base / "dist", ROOT)
    (wheel,) = (base / "dist").glob("eldercare_coverage-*.whl")
    _sh(sys.executable, "-m", "venv", base / "venv")
    py = base / "venv" / "bin" / "python"
    _sh(py, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, "coverage")
    return py, wheel


def test_wheel_installs_nothing_named_coverage(installed):
    _, wheel = installed
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith("coverage/")]
    for part in ("eldercare_coverage/cli.py", "eldercare_coverage/profiles/national.toml",
                 "eldercare_coverage/assets/leaflet.js", "eldercare_coverage/sample/sample.toml",
                 "eldercare_coverage/sample/chengdu-jinniu-xindu.osm.bz2"):
        assert part in names


def test_both_packages_import_side_by_side(installed):
    py, _ = installed
    code = ("import coverage, eldercare_coverage, numba; "
            "cov = coverage.Coverage(data_file=None); cov.start(); cov.stop(); "
            "print(coverage.__version__, eldercare_coverage.__version__, eldercare_coverage.StudyConfig.__name__)")
    out = _sh(py, "-c", code).stdout.split()
    assert out[1] == "0.1.0" and out[2] == "StudyConfig"
    assert int(out[0].split(".")[0]) >= 7  # coverage.py itself, not our package


def test_installed_tool_runs_the_sample_from_an_unrelated_folder(installed, tmp_path):
    py, _ = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    _sh(py.parent / "eldercare-coverage", "run", cwd=work)
    assert (work / "reports" / "gaps.xlsx").is_file()
    assert list((work / "maps").glob("*.html"))
    site = Path(_sh(py, "-c", "import eldercare_coverage, os; print(os.path.dirname(eldercare_coverage.__file__))")
                .stdout.strip())
    assert not [p for p in site.rglob("*") if p.suffix in {".html", ".xlsx", ".gpkg"}]
    help_text = _sh(py, "-m", "eldercare_coverage", "--help", cwd=work).stdout
    assert "eldercare-coverage" in help_text and "run" in help_text
