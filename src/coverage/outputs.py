"""Writing outputs completely or not at all.

Every file of a run is written into a hidden staging folder beside the output folders; only
when the whole run has succeeded are the files moved into place (``os.replace``, atomic per
file on one filesystem). A failed run removes its staging folder and leaves earlier outputs
untouched.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


class StagedOutputs:
    """Collects a run's files in staging and publishes them together.

    ``folders`` maps a logical name ("data", "reports", "maps") to its final folder.
    Use as a context manager: files are published on a clean exit, discarded on an exception.
    """

    def __init__(self, folders: dict[str, str | Path]):
        self.folders = {k: Path(v).resolve() for k, v in folders.items()}
        parents = [p.parent for p in self.folders.values()]
        root = Path(os.path.commonpath([str(p) for p in parents])) if parents else Path.cwd()
        root.mkdir(parents=True, exist_ok=True)
        self.staging = Path(tempfile.mkdtemp(prefix=".eldercare-staging-", dir=root))

    def folder(self, folder: str) -> Path:
        """The staging folder standing for logical folder ``folder``; anything written in it is published."""
        if folder not in self.folders:
            raise KeyError(f"unknown output folder {folder!r}; known: {', '.join(self.folders)}")
        staged = self.staging / folder
        staged.mkdir(parents=True, exist_ok=True)
        return staged

    def path(self, folder: str, name: str) -> Path:
        """A staging path for file ``name`` of logical folder ``folder``."""
        staged = self.folder(folder) / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def planned(self) -> dict[Path, Path]:
        """Every file written to staging so far -> where publishing puts it."""
        plan = {}
        for name, final in self.folders.items():
            root = self.staging / name
            if root.exists():
                for staged in sorted(p for p in root.rglob("*") if p.is_file()):
                    plan[staged] = final / staged.relative_to(root)
        return plan

    def publish(self) -> list[Path]:
        """Move every staged file into place; return the final paths."""
        published = []
        for staged, final in self.planned().items():
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, final)
            published.append(final)
        self.discard()
        return published

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            log.info("run failed: discarding staged outputs in %s", self.staging)
            self.discard()
