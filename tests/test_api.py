"""The public API re-exported from the package resolves, and lazily."""

import subprocess
import sys

import eldercare_coverage


def test_every_public_name_resolves():
    for name in eldercare_coverage.__all__:
        assert getattr(eldercare_coverage, name) is not None, name


def test_import_is_light():
    code = "import sys, eldercare_coverage; print('osmnx' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
