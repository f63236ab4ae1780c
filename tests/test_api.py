"""The public API re-exported from the package resolves, and lazily."""

import subprocess
import sys

import coverage


def test_every_public_name_resolves():
    for name in coverage.__all__:
        assert getattr(coverage, name) is not None, name


def test_import_is_light():
    code = "import sys, coverage; print('osmnx' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
