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
        self.files: dict[Path, Path] = {}

    def path(self, folder: str, name: str) -> Path:
        """A staging path for ``name`` in logical folder ``folder``; publish moves it to its folder."""
        staged = self.staging / folder / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        self.files[staged] = self.folders[folder] / name
        return staged

    def publish(self) -> list[Path]:
        """Move every staged file that exists into place; return the final paths."""
        missing = [s for s in self.files if not s.exists()]
        if missing:
            raise RuntimeError(f"staged output(s) were never written: {', '.join(str(m) for m in missing)}")
        published = []
        for staged, final in self.files.items():
            final.parent.mkdir(parents=True, exist_ok=True)
            if final.is_dir():
                shutil.rmtree(final)
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
