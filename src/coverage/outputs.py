"""Writing outputs completely or not at all, and only over files the study wrote itself.

The rules (README "Outputs"):

- **Ownership.** Each output folder keeps one manifest per study,
  ``.eldercare-manifest-<study>.json``, listing the files that study published there with their
  size, modification time and SHA-256. A run may overwrite or remove a file only when its own
  manifest lists it and the file is unchanged since. Any other existing file at an output path
  (a user's file, another study's, one the user edited) stops the run before anything is
  computed, as does an output path that is one of the run's inputs.
- **Staging beside each destination.** Each output folder gets its own hidden staging folder
  ``.eldercare-staging-*`` inside it, so every move is a rename on one filesystem.
- **All or nothing.** Publishing moves every file of every folder; replaced files are kept as
  backups until all moves have succeeded, and restored when one fails. A journal in each staging
  folder lets the next run finish the roll-back when a run was killed while publishing.
- **Stale staging.** Staging folders of runs that no longer live (their process is gone, or
  older than :data:`STALE_AFTER_S`) are removed by the next run into the same folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError, ProblemReport
from .messages import Text

log = logging.getLogger(__name__)

STAGING_PREFIX = ".eldercare-staging-"
MANIFEST_PREFIX = ".eldercare-manifest-"
#: A staging folder whose owner cannot be checked (another host, no owner file) is stale after this (s).
STALE_AFTER_S = 24 * 3600.0
_OWNER = "owner.json"
_JOURNAL = "journal.json"
_COMMITTED = "committed"
_BACKUP = "backup"

# --------------------------------------------------------------------------------------------
# Safe file names

_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$", re.IGNORECASE)


def safe_name(name: str, max_bytes: int = 80) -> str:
    """``name`` as a file name that is valid on Windows, macOS and Linux (at most ``max_bytes``
    bytes of UTF-8; Chinese and other letters kept).

    Path separators, ``<>:"|?*``, control characters, leading dots and trailing dots/spaces are
    replaced or dropped, and Windows device names (``CON``, ``LPT1`` …) are prefixed. A name that
    had to change gets ``-`` and 8 hex digits of its SHA-256, so two names that clean to the
    same text still give different files.
    """
    clean = unicodedata.normalize("NFC", str(name))
    clean = "".join("_" if unicodedata.category(ch).startswith("C") else ch for ch in clean)
    clean = _UNSAFE.sub("_", clean)
    clean = re.sub(r"\s+", " ", clean).strip(" ").lstrip(".").rstrip(". ")
    clean = clean or "study"
    if _WINDOWS_RESERVED.match(clean):
        clean = "_" + clean
    if clean == name and len(clean.encode("utf-8")) <= max_bytes:
        return clean
    suffix = "-" + hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
    budget = max_bytes - len(suffix)
    cut = clean.encode("utf-8")[:budget].decode("utf-8", "ignore").rstrip(". ")
    return (cut or "study") + suffix


def manifest_path(folder: Path, study: str) -> Path:
    """The manifest of ``study``'s files in ``folder``."""
    return folder / f"{MANIFEST_PREFIX}{safe_name(study)}.json"


# --------------------------------------------------------------------------------------------
# Manifests


def _file_record(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(path)}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _unchanged(path: Path, record: dict | None) -> bool:
    """Whether ``path`` is still the file a manifest recorded (size and mtime, else the hash)."""
    if not isinstance(record, dict) or not record:
        return False
    st = path.stat()
    if st.st_size != record.get("size"):
        return False
    if st.st_mtime_ns == record.get("mtime_ns"):
        return True
    return record.get("sha256") == _sha256(path)


def read_manifest(path: Path) -> dict | None:
    """A manifest's content, or None when it is missing or unreadable."""
    try:
        if not path.is_file():  # never block on a FIFO someone named like a manifest
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return None
    return data


def _owners(folder: Path) -> dict[str, str]:
    """File name (relative to ``folder``) -> the study whose manifest lists it."""
    owners: dict[str, str] = {}
    if not folder.is_dir():
        return owners
    for path in folder.glob(MANIFEST_PREFIX + "*.json"):
        data = read_manifest(path)
        if data:
            for rel in data["files"]:
                owners.setdefault(rel, str(data.get("study", path.stem)))
    return owners


# --------------------------------------------------------------------------------------------
# Checks before a run


def _same_file(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _folder_problem(folder: Path) -> Text | None:
    """Why ``folder`` cannot take outputs (message id and values), or None. Does not create anything."""
    probe = folder
    while not probe.exists():
        if probe.is_symlink():
            return Text("outputs.broken_link", path=str(probe))
        probe = probe.parent
    if not probe.is_dir():
        if probe == folder:
            return Text("outputs.folder_is_file", folder=str(folder))
        return Text("outputs.folder_under_file", folder=str(folder), path=str(probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        if probe == folder:
            return Text("outputs.folder_not_writable", folder=str(folder))
        return Text("outputs.parent_not_writable", folder=str(folder), path=str(probe))
    return None


def check_output_folder(folder: str | Path, language: str = "zh") -> None:
    """Raise :class:`OutputError` (in ``language``) when ``folder`` is, or lies under, a file or cannot be written."""
    problem = _folder_problem(Path(os.path.abspath(folder)))
    if problem:
        raise OutputError("outputs.output_folder", str(folder), language=language, problem=problem,
                          fix=Text("outputs.fix_out_folder"))


class StagedOutputs:
    """Collects a run's files in staging and publishes them together, over its own files only.

    ``folders`` maps a logical name ("data", "reports", "maps") to its final folder; ``study``
    names the manifest; ``inputs`` are the run's input files, which are never written or
    removed; ``expected`` maps a logical folder to the file names the run will write, so
    conflicts are refused before any computation (the files actually staged are checked again
    when publishing); ``adopt`` are files an earlier version of the toolkit wrote for this study
    (from its ``run.json``), treated as the study's own while it has no manifest.

    Raises :class:`OutputError` (exit 2) on construction when a folder cannot be written or an
    expected output would overwrite a file that is not the study's. Use as a context manager:
    files are published by :meth:`publish`, and discarded on an exception.
    """

    def __init__(self, folders: dict[str, str | Path], *, study: str = "study",
                 inputs: Iterable[str | Path] = (), expected: dict[str, Iterable[str]] | None = None,
                 adopt: Iterable[str | Path] = (), language: str = "zh"):
        self.folders = {k: Path(os.path.abspath(v)) for k, v in folders.items()}
        self.study = study
        self.inputs = [Path(os.path.abspath(p)) for p in inputs if p]
        self._adopt = {Path(os.path.abspath(p)) for p in adopt}
        self._created: list[Path] = []
        self._staging: dict[Path, Path] = {}
        self.language = language
        report = ProblemReport(language=language)
        for final in sorted(set(self.folders.values())):
            problem = _folder_problem(final)
            if problem:
                report.error(final, "outputs.output_folder", field="output", problem=problem,
                             fix=Text("outputs.fix_writable_folder"))
        if report.ok:
            for logical, names in (expected or {}).items():
                for name in names:
                    self._claim(self.folders[logical] / name, report)
        if not report.ok:
            raise OutputError(report)
        self._open_staging()

    # -- set-up ---------------------------------------------------------------------------------

    def _open_staging(self) -> None:
        """Create the output folders and one staging folder in each; clear stale staging."""
        for final in sorted(set(self.folders.values())):
            missing = [p for p in (final, *final.parents) if not p.exists()]
            try:
                final.mkdir(parents=True, exist_ok=True)
                self._created.extend(reversed(missing))
                remove_stale_staging(final)
                staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=final))
                self._staging[final] = staging
                (staging / _OWNER).write_text(json.dumps({
                    "pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                    "study": self.study}), encoding="utf-8")
            except OSError as exc:
                self.discard()
                raise OutputError("outputs.cannot_write", final, language=self.language,
                                  detail=str(exc.strerror or exc)) from exc

    @property
    def staging(self) -> list[Path]:
        """The staging folders (one per distinct output folder)."""
        return list(self._staging.values())

    def folder(self, folder: str) -> Path:
        """The staging folder standing for logical folder ``folder``; anything written in it is published."""
        if folder not in self.folders:
            raise KeyError(f"unknown output folder {folder!r}; known: {', '.join(self.folders)}")
        staged = self._staging[self.folders[folder]] / "files" / folder
        staged.mkdir(parents=True, exist_ok=True)
        return staged

    def path(self, folder: str, name: str) -> Path:
        """A staging path for file ``name`` of logical folder ``folder``."""
        staged = self.folder(folder) / name
        staged.parent.mkdir(parents=True, exist_ok=True)
        return staged

    def planned(self) -> dict[Path, Path]:
        """Every file written to staging so far -> where publishing puts it."""
        plan: dict[Path, Path] = {}
        seen: dict[Path, Path] = {}
        for name, final in self.folders.items():
            root = self._staging[final] / "files" / name
            if root.exists():
                for staged in sorted(p for p in root.rglob("*") if p.is_file()):
                    dest = final / staged.relative_to(root)
                    if dest in seen:
                        raise RuntimeError(f"two outputs are written to {dest} ({seen[dest]} and {staged})")
                    seen[dest] = staged
                    plan[staged] = dest
        return plan

    # -- ownership --------------------------------------------------------------------------------

    def _claim(self, final: Path, report: ProblemReport) -> None:
        """Record in ``report`` why this study may not write ``final``, if it may not."""
        if any(_same_file(final, p) for p in self.inputs):
            report.error(final, "outputs.is_input", field="output")
            return
        if not os.path.lexists(final):
            return
        if final.is_dir() or not final.is_file():
            report.error(final, "outputs.would_replace_folder", field="output")
            return
        root = _root_of(final, self.folders.values())
        rel = final.relative_to(root).as_posix()
        own = read_manifest(manifest_path(root, self.study))
        if own is not None and rel in own["files"]:
            if not _unchanged(final, own["files"][rel]):
                report.error(final, "outputs.changed_since", field="output", study=self.study)
            return
        if own is None and final in self._adopt:
            return
        other = _owners(root).get(rel)
        if other is not None and other != self.study:
            report.error(final, "outputs.other_study", field="output", study=other)
            return
        report.error(final, "outputs.not_ours", field="output")

    def _owned(self, final_folder: Path) -> dict[str, dict]:
        """This study's files in ``final_folder`` by its manifest (or adopted from an old run.json)."""
        own = read_manifest(manifest_path(final_folder, self.study))
        if own is not None:  # a record that is not a dict never licenses a removal
            return {rel: rec for rel, rec in own["files"].items() if isinstance(rec, dict) and rec}
        return {p.relative_to(final_folder).as_posix(): {} for p in self._adopt
                if final_folder in p.parents and _root_of(p, self.folders.values()) == final_folder}

    # -- publishing -------------------------------------------------------------------------------

    def publish(self, inputs: Iterable[str | Path] = ()) -> list[Path]:
        """Move every staged file into place together; return the final paths.

        Files of this study's manifest that the run did not write again are removed, unless
        they are inputs or were changed since. Raises :class:`OutputError` (nothing changed)
        when a destination is not the study's or a move fails.
        """
        self.inputs.extend(Path(os.path.abspath(p)) for p in inputs if p)
        plan = self.planned()
        report = ProblemReport(language=self.language)
        for final in plan.values():
            self._claim(final, report)
        if not report.ok:
            raise OutputError(report)
        stale = self._stale(set(plan.values()))
        records = {staged: _file_record(staged) for staged in plan}
        manifests = self._stage_manifests(plan, records)
        moves = list(plan.items()) + manifests  # manifests last: a folder is listed only once filled
        journal = _Journal(dict(self._staging))
        try:
            journal.begin(stale, moves, {staged: r["sha256"] for staged, r in records.items()})
            for final in stale:
                journal.remove(final)
            for staged, final in moves:
                journal.move(staged, final)
        except OSError as exc:
            restored = journal.rollback()
            message = _publish_failure(exc, restored, self._staging)
            if not restored:  # the backups stay for the next run to restore (see remove_stale_staging)
                self._staging.clear()
                self._created.clear()
            raise OutputError(message, exc.filename or "output", language=self.language, restored=restored) from exc
        journal.commit()
        self._created.clear()
        self.discard()
        return [final for _, final in moves]

    def _stale(self, written: set[Path]) -> list[Path]:
        """This study's earlier files that this run does not write again and may remove."""
        stale = []
        for final in sorted(set(self.folders.values())):
            for rel, record in self._owned(final).items():
                path = final / rel
                if not _within(path, final):
                    log.warning("ignoring %r in the manifest of %s: not a file of that folder", rel, final)
                    continue
                if path in written or not path.is_file():
                    continue
                if any(_same_file(path, p) for p in self.inputs):
                    log.info("keeping %s: listed as an earlier output, but now an input", path)
                elif not record and not _older_than_run_json(path, self._adopt):
                    # adopted from an old run.json, which records no size or hash: only a file not
                    # modified after that run.json was written counts as unchanged
                    log.info("keeping %s: listed by an earlier version's run.json but modified since", path)
                elif record and not _unchanged(path, record):
                    log.warning("keeping %s: an earlier run of this study wrote it, but it was changed since", path)
                else:
                    stale.append(path)
        return stale

    def _stage_manifests(self, plan: dict[Path, Path], records: dict[Path, dict]) -> list[tuple[Path, Path]]:
        """Write each folder's new manifest into its staging folder; return the moves that publish them."""
        by_folder: dict[Path, dict[str, dict]] = {final: {} for final in set(self.folders.values())}
        for staged, final in plan.items():
            root = _root_of(final, by_folder)
            by_folder[root][final.relative_to(root).as_posix()] = records[staged]
        moves = []
        for final, files in sorted(by_folder.items()):
            if not files and not manifest_path(final, self.study).exists():
                continue
            staged = self._staging[final] / "manifest.json"
            staged.write_text(json.dumps({"study": self.study, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                          "files": files}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            moves.append((staged, manifest_path(final, self.study)))
        return moves

    def discard(self) -> None:
        """Remove the staging folders, and the output folders this run created if still empty."""
        for staging in self._staging.values():
            shutil.rmtree(staging, ignore_errors=True)
        self._staging.clear()
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                pass
        self._created.clear()

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            log.info("run failed: discarding staged outputs in %s", ", ".join(map(str, self.staging)))
            self.discard()


class OutputError(InputError):
    """An output folder or file the run may not use (exit 2, like bad input).

    ``restored`` is False when a failed publish could not put every earlier file back.
    """

    def __init__(self, report, file="", /, *, restored: bool = True, **kw):
        super().__init__(report, file, **kw)
        self.restored = restored


def _publish_failure(exc: OSError, restored: bool, staging: dict[Path, Path]) -> Text:
    what = Text("outputs.cross_device") if exc.errno == errno.EXDEV else str(exc.strerror or exc)
    if restored:
        return Text("outputs.publish_failed_restored", what=what)
    return Text("outputs.publish_failed_kept", what=what, kept=", ".join(str(s) for s in staging.values()))


# --------------------------------------------------------------------------------------------
# The publish journal: backups of replaced files and the moves done, per output folder


class _Journal:
    """Moves files into place with backups, and undoes them; survives a kill through journal files."""

    def __init__(self, staging: dict[Path, Path]):
        self.staging = staging
        self.entries: dict[Path, dict] = {}
        self.done: list[dict] = []

    def begin(self, stale: list[Path], moves: list[tuple[Path, Path]], hashes: dict[Path, str]) -> None:
        """Write each staging folder's journal: the run's staging folders and the moves into its
        folder (``hashes``: SHA-256 of staged files already known)."""
        runs = [str(s) for s in self.staging.values()]
        by_staging: dict[Path, list[dict]] = {s: [] for s in self.staging.values()}
        for staged, final in [(None, f) for f in stale] + moves:
            staging = self.staging[_root_of(final, self.staging)]
            entry = {"final": str(final), "staged": str(staged) if staged else None,
                     "backup": str(staging / _BACKUP / str(len(by_staging[staging])))}
            if staged is not None:
                entry["sha256"] = hashes.get(staged) or _sha256(staged)
            by_staging[staging].append(entry)
            self.entries[final] = entry
        for staging, entries in by_staging.items():
            (staging / _JOURNAL).write_text(json.dumps({"runs": runs, "entries": entries}, ensure_ascii=False),
                                            encoding="utf-8")

    def _move_aside(self, final: Path) -> dict:
        """Move ``final`` to its backup, if it exists; the entry is undone on roll-back."""
        entry = self.entries[final]
        self.done.append(entry)
        if os.path.lexists(final):
            backup = Path(entry["backup"])
            backup.parent.mkdir(exist_ok=True)
            os.replace(final, backup)
        return entry

    def remove(self, final: Path) -> None:
        """Take away ``final`` (a stale file of this study); its backup is deleted on commit."""
        self._move_aside(final)

    def move(self, staged: Path, final: Path) -> None:
        self._move_aside(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, final)

    def rollback(self) -> bool:
        """Undo the moves done, newest first; True when every earlier file is back."""
        ok = True
        for entry in reversed(self.done):
            ok &= _undo(entry)
        if ok:
            for staging in self.staging.values():
                (staging / _JOURNAL).unlink(missing_ok=True)
        return ok

    def commit(self) -> None:
        """Mark the publish complete, then remove the staging folders with the backups."""
        # Every staging folder is marked before any is removed: a kill (or a file that will not
        # delete) during the clean-up then leaves no folder that a later run could roll back.
        for staging in self.staging.values():
            (staging / _COMMITTED).write_text("", encoding="utf-8")
        for staging in self.staging.values():
            shutil.rmtree(staging, ignore_errors=True)


def _older_than_run_json(path: Path, adopted: Iterable[Path]) -> bool:
    """Whether ``path`` was last modified no later than the adopted ``run.json`` that lists it."""
    runs = [p for p in adopted if p.name == "run.json" and p.is_file()]
    try:
        return bool(runs) and path.stat().st_mtime <= max(p.stat().st_mtime for p in runs) + 1.0
    except OSError:
        return False


def _root_of(final: Path, folders: Iterable[Path]) -> Path:
    """The deepest of ``folders`` that holds ``final`` (output folders may be nested)."""
    holders = [f for f in folders if f in final.parents]
    return max(holders, key=lambda f: len(f.parts))


def _undo(entry: dict) -> bool:
    """Put back what one journal entry moved; True on success."""
    final = Path(entry["final"])
    staged = Path(entry["staged"]) if entry.get("staged") else None
    backup = Path(entry["backup"]) if entry.get("backup") else None
    try:
        if staged is not None and os.path.lexists(final) and not os.path.lexists(staged):
            # Our new file is in place: take it away again, unless it is not ours (recorded hash).
            if "sha256" not in entry or (final.is_file() and _sha256(final) == entry["sha256"]):
                os.replace(final, staged)
        if backup is not None and os.path.lexists(backup):
            os.replace(backup, final)
        return True
    except OSError as exc:
        log.error("could not restore %s: %s", final, exc)
        return False


# --------------------------------------------------------------------------------------------
# Stale staging folders


def _alive(owner: dict) -> bool:
    """Whether the run that owns a staging folder may still be running."""
    started = owner.get("started")
    if not isinstance(started, (int, float)) or time.time() - started > STALE_AFTER_S:
        return False
    if owner.get("host") != socket.gethostname():
        return True  # cannot check another machine's processes: wait for the age limit
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    return pid == os.getpid() or _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return kernel32.GetLastError() == 5  # access denied: it exists
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(folder: Path) -> list[Path]:
    """Remove the staging folders in ``folder`` left by runs that no longer live; finish the
    roll-back of a run killed while publishing. Returns the folders removed."""
    removed = []
    for staging in sorted(folder.glob(STAGING_PREFIX + "*")):
        if not staging.is_dir() or staging.is_symlink():
            continue
        try:
            owner = json.loads((staging / _OWNER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            # Killed between creating the folder and writing the owner file: judge by age.
            owner = {"started": staging.stat().st_mtime, "host": None}
            if time.time() - owner["started"] < 3600:
                continue
        if isinstance(owner, dict) and _alive(owner):
            continue
        if not _recover(staging):
            log.error("kept %s: it holds earlier outputs that could not be put back", staging)
            continue
        log.info("removing stale staging folder %s (its run ended without cleaning up)", staging)
        shutil.rmtree(staging, ignore_errors=True)
        removed.append(staging)
    return removed


def _recover(staging: Path) -> bool:
    """Roll back this folder's part of a publish that was killed half-way (unless it had
    committed); True when nothing of value is left in ``staging``."""
    try:
        journal = json.loads((staging / _JOURNAL).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    if any((Path(run) / _COMMITTED).exists() for run in journal.get("runs", [])):
        return True
    log.warning("an earlier run was stopped while publishing into %s; restoring the files it replaced",
                staging.parent)
    entries = [e for e in journal.get("entries", []) if _journal_entry_ok(e, staging)]
    return all([_undo(entry) for entry in reversed(entries)])


def _journal_entry_ok(entry: object, staging: Path) -> bool:
    """A journal entry moves files only inside the staging folder's own output folder; anything
    else did not come from us and is ignored."""
    if not isinstance(entry, dict) or not isinstance(entry.get("final"), str):
        return False
    inside = [(entry["final"], staging.parent)] + [(entry[k], staging) for k in ("staged", "backup") if entry.get(k)]
    return all(isinstance(p, str) and _within(Path(p), root) for p, root in inside)


def _within(path: Path, root: Path) -> bool:
    return os.path.isabs(path) and ".." not in path.parts and root in path.parents
