"""The planner notebooks run top to bottom on the embedded sample and are stored without outputs.

Each notebook is executed with nbclient in a fresh ``python3`` kernel, with ``notebooks/`` as
its working folder; any cell error fails the test. The notebooks write only into temporary
folders, which is checked by comparing ``data/`` and ``notebooks/`` before and after, and remove
those folders at the end.
"""

from __future__ import annotations

from pathlib import Path

import nbclient  # test extras (pip install -e .[test]); a missing one must fail, not skip
import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_quickstart.ipynb", "02_norms_and_gaps.ipynb", "03_siting_scenarios.ipynb",
            "04_bring_your_own_data.ipynb", "05_accessibility.ipynb"]
CELL_TIMEOUT_S = 300


def _snapshot() -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under data/ and notebooks/: the folders a notebook could dirty."""
    files = [p for d in (REPO / "data", NOTEBOOK_DIR) for p in d.rglob("*") if p.is_file()]
    return {str(p.relative_to(REPO)): (p.stat().st_size, p.stat().st_mtime_ns) for p in files
            if ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


def test_every_notebook_is_present():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code cells"
    with_output = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not with_output, f"cells {with_output} keep outputs or execution counts: clear them before committing"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_bilingual(path: Path):
    """Planners read Chinese: every notebook explains itself in Chinese and English."""
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), "no Chinese explanation"
    assert "This notebook answers" in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # The kernel inherits TMPDIR, so the notebook's tempfile folders land (and are cleaned) here.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    before = _snapshot()
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    # Every code cell ran.
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code" and c.source.strip())
    assert _snapshot() == before, "running the notebook changed or added files in data/ or notebooks/"
    leftover = [p for p in tmp_path.rglob("eldercare-*")]
    assert not leftover, f"the notebook left its temporary folder behind: {leftover[:3]}"
    # the last cell removes the folder the notebook wrote into
    assert "cleanup()" in nb.cells[-1].source
