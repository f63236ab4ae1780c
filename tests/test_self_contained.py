"""The suite and the package stand on the repository alone (a bare clone has nothing beside it)."""

from __future__ import annotations

import re
from pathlib import Path

import conftest

ROOT = Path(__file__).resolve().parents[1]
OUTSIDE = re.compile(r"\.\./shared|parent / \"shared\"|parents\[\d\] / \"shared\"")


def test_no_test_or_package_file_names_shared():
    offenders = [str(p.relative_to(ROOT)) for folder in ("tests", "src")
                 for p in (ROOT / folder).rglob("*.py") if OUTSIDE.search(p.read_text(encoding="utf-8"))
                 ]
    assert offenders == []


def test_guard_flags_a_file_outside_the_repository(tmp_path):
    start = len(conftest._violations)
    outside = ROOT.parent.joinpath("shared", "data", "osm", "any.osm")
    conftest._audit("open", (str(outside), "r", 0))
    conftest._audit("open", (str(tmp_path / "inside.txt"), "w", 0))
    conftest._audit("open", (str(ROOT / "data" / "sample.toml"), "r", 0))
    flagged = conftest._violations[start:]
    del conftest._violations[start:]  # this test's own probe must not fail it
    assert flagged == [str(outside.resolve())]


def test_test_data_carry_their_attribution():
    for folder in ("osm", "orlib", "pmedcap", "swain", "dem"):
        readme = (ROOT / "tests" / "data" / folder / "README.md").read_text(encoding="utf-8")
        assert len(readme) > 200, folder
    assert "OpenStreetMap contributors" in (ROOT / "tests" / "data" / "osm" / "README.md").read_text(encoding="utf-8")
