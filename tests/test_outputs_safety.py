"""The toolkit deletes and overwrites only what it wrote, and publishes all outputs or none.

Pipeline runs here skip the walk network (norm checks only, about 2 s) and the PNG unless a
test needs them, to keep the suite fast.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eldercare_coverage import cli, outputs, pipeline
from eldercare_coverage.outputs import OutputError, StagedOutputs, safe_name

NETWORK_SECTION = "[inputs.network]"


def _configure(folder: Path, *, name: str | None = None, network: bool = False, siting: bool = False,
               dirs: tuple[str, str, str] | None = None, extra: str = "", file: str = "study.toml") -> Path:
    """A variant of the sample config in ``folder``, written as ``file``."""
    text = (folder / "sample.toml").read_text(encoding="utf-8")
    if not network:
        text = text[:text.index(NETWORK_SECTION)] + text[text.index("[access]"):]
    if not siting:
        text = text.replace('model = "mclp"', 'model = ""')
    if name is not None:
        text = text.replace('name = "chengdu-north-sample"', f"name = {json.dumps(name)}")
    if dirs is not None:
        text = (text.replace('data_dir = "out"', f'data_dir = "{dirs[0]}"')
                .replace('reports_dir = "reports"', f'reports_dir = "{dirs[1]}"')
                .replace('maps_dir = "maps"', f'maps_dir = "{dirs[2]}"'))
    text = text.replace("[output]", "[output]\npng = false") + extra
    path = folder / file
    path.write_text(text, encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``folder`` (hidden ones included)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _staging_left(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(outputs.STAGING_PREFIX + "*") if p.is_dir()]


def _no_computation(monkeypatch):
    """Make loading the study fail the test: a refusal must come before any work."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the study was loaded although the outputs were refused")

    monkeypatch.setattr(pipeline, "load_study", forbidden)


# ----------------------------------------------------------------------------------------------
# Safe names


@pytest.mark.parametrize("name", [
    "x" * 300, "养老" * 150, "a/b", "a\\b", "c:d", "what?*", 'say "hi"', "tab\there\x07", ".hidden", "..",
    "CON", "con.txt", "LPT1", "trailing. ", "", "   ", "name\nwith newline",
])
def test_safe_name_is_a_valid_file_name_everywhere(name, tmp_path):
    slug = safe_name(name)
    assert 0 < len(slug.encode("utf-8")) <= 80
    assert not any(ch in slug for ch in '<>:"/\\|?*') and slug.isprintable()
    assert not slug.startswith(".") and not slug.endswith((".", " "))
    assert slug.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "COM1", "LPT1"}
    (tmp_path / (slug + ".html")).write_text("ok", encoding="utf-8")  # the filesystem takes it
    assert safe_name(name) == slug  # stable across runs, so manifests find their files


def test_safe_name_keeps_plain_and_chinese_names_and_keeps_distinct_names_distinct():
    assert safe_name("chengdu-north-sample") == "chengdu-north-sample"
    assert safe_name("金牛区 养老设施 2025") == "金牛区 养老设施 2025"
    assert safe_name("a/b") != safe_name("a:b") != safe_name("a_b")
    assert safe_name("a_b") == "a_b"
    assert safe_name("x" * 300) != safe_name("x" * 299)
    assert safe_name("养老" * 150).startswith("养老养老")


def test_long_and_odd_study_names_give_safe_map_files(sample_copy):
    name = 'Study: "金牛/新都"\t*' + "长" * 300
    cfg = _configure(sample_copy, name=name)
    assert cli.main(["run", str(cfg)]) == 0
    maps = [p for p in (sample_copy / "maps").iterdir() if not p.name.startswith(".")]
    assert [p.name for p in maps] == [safe_name(name) + ".html"]
    assert len(maps[0].name.encode("utf-8")) <= 90
    manifest = json.loads(outputs.manifest_path(sample_copy / "maps", name).read_text(encoding="utf-8"))
    assert manifest["study"] == name and list(manifest["files"]) == [maps[0].name]
    # The name itself is kept where it is text: the run record.
    run = json.loads((sample_copy / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["parameters"]["study"] == name


# ----------------------------------------------------------------------------------------------
# Manifest-only clean-up


def _publish(folders: dict[str, Path], files: dict[str, str], **kwargs) -> list[Path]:
    """Stage ``{"logical/name": text}`` and publish it as study ``kwargs['study']``."""
    staged = StagedOutputs(folders, **kwargs)
    with staged:
        for key, text in files.items():
            logical, name = key.split("/", 1)
            staged.path(logical, name).write_text(text, encoding="utf-8")
        return staged.publish()


def test_clean_up_removes_only_files_of_the_studys_manifest(tmp_path):
    folders = {"data": tmp_path / "out", "maps": tmp_path / "maps"}
    _publish(folders, {"data/a.csv": "1", "data/b.csv": "1", "maps/m.html": "1"}, study="s")
    (tmp_path / "out" / "notes.txt").write_text("the user's", encoding="utf-8")
    _publish(folders, {"data/a.csv": "2"}, study="s")
    assert (tmp_path / "out" / "a.csv").read_text(encoding="utf-8") == "2"
    assert not (tmp_path / "out" / "b.csv").exists() and not (tmp_path / "maps" / "m.html").exists()
    assert (tmp_path / "out" / "notes.txt").read_text(encoding="utf-8") == "the user's"
    manifest = json.loads(outputs.manifest_path(tmp_path / "out", "s").read_text(encoding="utf-8"))
    assert list(manifest["files"]) == ["a.csv"]


def test_clean_up_keeps_an_earlier_output_that_is_now_an_input_or_was_edited(tmp_path):
    folders = {"data": tmp_path / "out"}
    _publish(folders, {"data/a.csv": "1", "data/sites.csv": "1", "data/edited.csv": "1"}, study="s")
    (tmp_path / "out" / "edited.csv").write_text("my notes", encoding="utf-8")
    _publish(folders, {"data/a.csv": "2"}, study="s", inputs=[tmp_path / "out" / "sites.csv"])
    assert (tmp_path / "out" / "sites.csv").read_text(encoding="utf-8") == "1"
    assert (tmp_path / "out" / "edited.csv").read_text(encoding="utf-8") == "my notes"


def test_outputs_of_an_older_version_are_adopted_through_its_run_json(sample_copy):
    cfg = _configure(sample_copy)
    old = sample_copy / "out" / "inputs.gpkg"
    old.parent.mkdir()
    old.write_bytes(b"old output")
    stale = sample_copy / "out" / "siting.json"
    stale.write_text("{}", encoding="utf-8")
    (sample_copy / "out" / "run.json").write_text(json.dumps({
        "parameters": {"study": "chengdu-north-sample"},
        "outputs": [str(old), str(stale), str(sample_copy / "out" / "run.json")]}), encoding="utf-8")
    assert cli.main(["run", str(cfg)]) == 0
    assert old.read_bytes() != b"old output" and not stale.exists()


# ----------------------------------------------------------------------------------------------
# Inputs inside the output folder, and files the study did not write


@pytest.mark.parametrize("as_input", [True, False], ids=["is-an-input", "user-file"])
def test_data_dir_dot_never_overwrites_the_users_inputs_gpkg(sample_copy, as_input, monkeypatch, capsys):
    import geopandas as gpd

    users = sample_copy / "inputs.gpkg"
    communities = gpd.read_file(sample_copy / "communities.geojson")
    communities.to_file(users, layer="communities", driver="GPKG")
    communities.head(3).to_file(users, layer="my_other_layer", driver="GPKG")
    cfg = _configure(sample_copy, dirs=(".", ".", "."))
    if as_input:
        text = cfg.read_text(encoding="utf-8").replace('path = "communities.geojson"',
                                                       'path = "inputs.gpkg"\nlayer = "communities"')
        cfg.write_text(text, encoding="utf-8")
    before = _snapshot(sample_copy)
    _no_computation(monkeypatch)
    assert cli.main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert str(users) in err
    assert ("这是本研究的输入文件" if as_input else "不是本研究写入的") in err  # the zh study's language
    assert "另选" in err and "输出文件夹" in err
    assert _snapshot(sample_copy) == before
    assert sorted(p.name for p in sample_copy.iterdir()) == sorted(before)  # no folders left behind


def test_an_output_named_like_the_config_is_refused(sample_copy, monkeypatch, capsys):
    cfg = _configure(sample_copy, dirs=(".", "reports", "maps"), file="validation.txt")
    before = _snapshot(sample_copy)
    _no_computation(monkeypatch)
    assert cli.main(["run", str(cfg)]) == 2
    assert "validation.txt" in capsys.readouterr().err
    assert _snapshot(sample_copy) == before


def test_a_file_staged_but_not_expected_is_still_checked_when_publishing(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "surprise.csv").write_text("the user's", encoding="utf-8")
    with pytest.raises(OutputError, match="不是本研究写入的"):
        _publish({"data": tmp_path / "out"}, {"data/a.csv": "1", "data/surprise.csv": "2"}, study="s")
    assert (tmp_path / "out" / "surprise.csv").read_text(encoding="utf-8") == "the user's"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["surprise.csv"]


# ----------------------------------------------------------------------------------------------
# Two studies


def test_two_studies_sharing_the_maps_folder_keep_each_others_files(sample_copy):
    a = _configure(sample_copy, name="金牛", dirs=("a/out", "a/reports", "maps"), file="a.toml")
    b = _configure(sample_copy, name="新都", dirs=("b/out", "b/reports", "maps"), file="b.toml")
    assert cli.main(["run", str(a)]) == 0
    a_files = _snapshot(sample_copy / "a")
    assert cli.main(["run", str(b)]) == 0
    assert cli.main(["run", str(a)]) == 0  # a rerun of 金牛 keeps 新都's map
    maps = sorted(p.name for p in (sample_copy / "maps").iterdir())
    assert maps == sorted([".eldercare-manifest-新都.json", ".eldercare-manifest-金牛.json", "新都.html", "金牛.html"])
    assert set(_snapshot(sample_copy / "a")) == set(a_files)


def test_a_second_study_in_the_same_folders_is_refused_and_the_first_survives(sample_copy, capsys):
    a = _configure(sample_copy, name="金牛", file="a.toml")
    b = _configure(sample_copy, name="新都", file="b.toml")
    assert cli.main(["run", str(a)]) == 0
    before = _snapshot(sample_copy)
    capsys.readouterr()
    assert cli.main(["run", str(b)]) == 2
    err = capsys.readouterr().err
    assert "它属于写入同一文件夹的研究「金牛」" in err and "各自的输出文件夹" in err
    assert _snapshot(sample_copy) == before
    assert cli.main(["run", str(a)]) == 0


# ----------------------------------------------------------------------------------------------
# Publishing all or nothing


def _failing_replace(monkeypatch, *, fail_when):
    """Make ``os.replace`` (as outputs uses it) fail for the staged file moves ``fail_when`` picks."""
    real = os.replace
    calls = []

    def replace(src, dst):
        src, dst = Path(src), Path(dst)
        if outputs.STAGING_PREFIX in str(src) and "/files/" in src.as_posix():
            calls.append(dst)
            error = fail_when(dst, len(calls))
            if error is not None:
                raise OSError(error, os.strerror(error), str(src), None, str(dst))
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    return calls


@pytest.mark.parametrize("case", ["cross-device maps folder", "disk full mid-publish"])
def test_a_failing_move_rolls_every_folder_back(sample_copy, monkeypatch, capsys, case):
    cfg = _configure(sample_copy)
    assert cli.main(["run", str(cfg)]) == 0
    (sample_copy / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    before = _snapshot(sample_copy)
    if case.startswith("cross-device"):
        calls = _failing_replace(monkeypatch, fail_when=lambda dst, n: errno.EXDEV if dst.parent.name == "maps"
                                 else None)
    else:
        calls = _failing_replace(monkeypatch, fail_when=lambda dst, n: errno.ENOSPC if n == 6 else None)
    capsys.readouterr()
    assert cli.main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert len(calls) > 3  # other files had been moved into place before the failure
    assert ("跨文件系统" if case.startswith("cross") else "No space left") in err  # the OS's own words stay
    assert "已恢复到本次运行之前的状态" in err
    assert _snapshot(sample_copy) == before
    assert not _staging_left(sample_copy)


def test_a_roll_back_that_fails_keeps_the_backups_for_the_next_run(sample_copy, monkeypatch, capsys):
    cfg = _configure(sample_copy)
    assert cli.main(["run", str(cfg)]) == 0
    before = _snapshot(sample_copy)
    real = os.replace
    failed_restores = []

    def replace(src, dst):
        src_posix = Path(src).as_posix()
        if "/files/" in src_posix and Path(dst).parent.name == "maps":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        if "/backup/" in src_posix and not failed_restores:  # the first restore fails too
            failed_restores.append(dst)
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        return real(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    capsys.readouterr()
    assert cli.main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "未能放回" in err and "未写入任何文件" not in err
    assert failed_restores and not Path(failed_restores[0]).exists()
    monkeypatch.setattr(outputs.os, "replace", real)
    for staging in _staging_left(sample_copy):  # that run has ended
        owner = json.loads((staging / "owner.json").read_text(encoding="utf-8"))
        (staging / "owner.json").write_text(json.dumps({**owner, "pid": _dead_pid()}), encoding="utf-8")
    StagedOutputs({"data": sample_copy / "out", "reports": sample_copy / "reports", "maps": sample_copy / "maps"},
                  study="chengdu-north-sample").discard()
    assert _snapshot(sample_copy) == before
    assert not _staging_left(sample_copy)


def test_a_tampered_manifest_or_journal_cannot_reach_outside_its_folder(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me", encoding="utf-8")
    folders = {"data": tmp_path / "out"}
    _publish(folders, {"data/a.csv": "1"}, study="s")
    manifest = outputs.manifest_path(tmp_path / "out", "s")
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"]["../precious.txt"] = outputs._file_record(outside)
    data["files"][str(outside)] = outputs._file_record(outside)
    manifest.write_text(json.dumps(data), encoding="utf-8")
    staging = tmp_path / "out" / (outputs.STAGING_PREFIX + "planted")
    staging.mkdir()
    (staging / "owner.json").write_text(json.dumps({"pid": _dead_pid(), "started": 0}), encoding="utf-8")
    (staging / "journal.json").write_text(json.dumps({"runs": [str(staging)], "entries": [
        {"final": str(outside), "staged": str(tmp_path / "moved.txt"), "backup": None,
         "sha256": hashlib.sha256(b"keep me").hexdigest()}]}), encoding="utf-8")
    _publish(folders, {"data/b.csv": "1"}, study="s")
    assert outside.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "moved.txt").exists() and not staging.exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [manifest.name, "b.csv"]


def test_a_publish_killed_half_way_is_rolled_back_by_the_next_run(tmp_path):
    """A kill while moving files (simulated by an exception no handler catches) leaves the
    journal; the next run into the folders restores the earlier files."""
    folders = {"data": tmp_path / "out", "reports": tmp_path / "reports"}
    _publish(folders, {"data/a.csv": "old a", "reports/r.csv": "old r"}, study="s")
    before = _snapshot(tmp_path)
    real = os.replace
    moved = []

    class Killed(BaseException):
        pass

    def replace(src, dst):
        if "/files/" in Path(src).as_posix():
            moved.append(dst)
            if len(moved) == 2:
                raise Killed
        return real(src, dst)

    staged = StagedOutputs(folders, study="s")
    staged.path("data", "a.csv").write_text("new a", encoding="utf-8")
    staged.path("reports", "r.csv").write_text("new r", encoding="utf-8")
    os.replace, saved = replace, os.replace
    try:
        with pytest.raises(Killed):
            staged.publish()
    finally:
        os.replace = saved
    assert (tmp_path / "out" / "a.csv").read_text(encoding="utf-8") == "new a"  # half published
    for staging in staged.staging:  # the run is gone: its process no longer exists
        owner = json.loads((staging / "owner.json").read_text(encoding="utf-8"))
        (staging / "owner.json").write_text(json.dumps({**owner, "pid": _dead_pid()}), encoding="utf-8")
    StagedOutputs(folders, study="s").discard()
    assert _snapshot(tmp_path) == before
    assert not _staging_left(tmp_path)


def _other_filesystem() -> Path | None:
    """A writable folder on another filesystem than the pytest temp folder (/dev/shm), if any."""
    import tempfile

    shm = Path("/dev/shm")
    try:
        if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != Path(tempfile.gettempdir()).stat().st_dev:
            return shm
    except OSError:
        pass
    return None


@pytest.mark.skipif(_other_filesystem() is None, reason="no second writable filesystem (/dev/shm) here")
def test_an_output_folder_on_another_filesystem_is_published(sample_copy):
    """The real case: maps on tmpfs, data and reports on the disk (staging used to sit in their
    common parent, /, and the move across filesystems failed half-way)."""
    import tempfile

    maps = Path(tempfile.mkdtemp(prefix="eldercare-test-maps-", dir=_other_filesystem()))
    try:
        cfg = _configure(sample_copy, dirs=("out", "reports", str(maps)))
        assert cli.main(["run", str(cfg)]) == 0
        assert cli.main(["run", str(cfg)]) == 0
        assert (maps / "chengdu-north-sample.html").stat().st_size > 0
        assert (sample_copy / "out" / "inputs.gpkg").exists()
        assert not _staging_left(maps) and not _staging_left(sample_copy)
    finally:
        import shutil

        shutil.rmtree(maps, ignore_errors=True)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ----------------------------------------------------------------------------------------------
# Unwritable destinations


def test_an_unwritable_output_folder_is_refused_before_any_work(sample_copy, monkeypatch, capsys):
    maps = sample_copy / "maps"
    maps.mkdir()
    real = os.access
    # Tests run as root, for whom chmod does not stop writes: simulate what access(2) says for a user.
    monkeypatch.setattr(outputs.os, "access", lambda path, mode: False if Path(path) == maps else real(path, mode))
    _no_computation(monkeypatch)
    cfg = _configure(sample_copy)
    assert cli.main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert str(maps) in err and "不可写" in err
    assert not (sample_copy / "out").exists() and not (sample_copy / "reports").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into 0o500 folders anyway")
def test_a_read_only_output_folder_is_refused(sample_copy, monkeypatch, capsys):
    maps = sample_copy / "maps"
    maps.mkdir()
    maps.chmod(0o500)
    try:
        _no_computation(monkeypatch)
        assert cli.main(["run", str(_configure(sample_copy))]) == 2
        assert "cannot be written" in capsys.readouterr().err
    finally:
        maps.chmod(0o700)


@pytest.mark.parametrize("where", ["--out file", "--out under a file", "data_dir under a file"])
def test_an_output_folder_that_is_a_file_is_exit_2(sample_copy, monkeypatch, capsys, where):
    blocker = sample_copy / "results.txt"
    blocker.write_text("mine", encoding="utf-8")
    _no_computation(monkeypatch)
    if where == "--out file":
        argv = ["run", str(_configure(sample_copy)), "--out", str(blocker)]
    elif where == "--out under a file":
        argv = ["run", str(_configure(sample_copy)), "--out", str(blocker / "deeper")]
    else:
        argv = ["run", str(_configure(sample_copy, dirs=("results.txt/out", "reports", "maps")))]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "是一个文件，不是文件夹" in err and "内部错误" not in err
    assert blocker.read_text(encoding="utf-8") == "mine"
    assert not (sample_copy / "reports").exists()


# ----------------------------------------------------------------------------------------------
# Killed runs and stale staging


def test_a_killed_run_is_cleaned_up_by_the_next_and_a_later_run_removes_what_it_no_longer_writes(sample_copy):
    """Kill a run with walk access, rerun it (stale staging removed, outputs complete), then run
    without walk access: its access outputs go, the user's file and the inputs stay."""
    cfg = _configure(sample_copy, network=True)
    proc = subprocess.Popen([sys.executable, "-m", "eldercare_coverage", "-q", "run", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(sample_copy.glob("out/" + outputs.STAGING_PREFIX + "*/files/data/inputs.gpkg")):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no staging folder appeared"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _staging_left(sample_copy)
    assert left and not (sample_copy / "out" / "inputs.gpkg").exists()  # killed before publishing
    assert cli.main(["run", str(cfg)]) == 0
    assert not _staging_left(sample_copy)
    written = {p.relative_to(sample_copy).as_posix() for p in sample_copy.rglob("*") if p.is_file()}
    expected = pipeline.expected_outputs(pipeline.load_config(cfg))
    for logical, folder in (("data", "out"), ("reports", "reports"), ("maps", "maps")):
        assert {f"{folder}/{name}" for name in expected[logical]} <= written
    assert (sample_copy / "out" / "access.gpkg").exists()

    (sample_copy / "out" / "notes.txt").write_text("mine", encoding="utf-8")
    inputs = {name: (sample_copy / name).read_bytes() for name in ("communities.geojson", "population.csv")}
    assert cli.main(["run", str(_configure(sample_copy, network=False))]) == 0
    assert not (sample_copy / "out" / "access.gpkg").exists()
    assert not (sample_copy / "out" / "community_access.csv").exists()
    assert (sample_copy / "out" / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert all((sample_copy / name).read_bytes() == data for name, data in inputs.items())


def test_stale_staging_is_judged_by_owner_process_and_age(tmp_path):
    def staging(name: str, owner: dict | None) -> Path:
        path = tmp_path / (outputs.STAGING_PREFIX + name)
        (path / "files").mkdir(parents=True)
        if owner is not None:
            (path / "owner.json").write_text(json.dumps(owner), encoding="utf-8")
        return path

    import socket

    host, now = socket.gethostname(), time.time()
    dead = staging("dead", {"pid": _dead_pid(), "host": host, "started": now})
    old = staging("old", {"pid": os.getpid(), "host": host, "started": now - outputs.STALE_AFTER_S - 60})
    live = staging("live", {"pid": os.getpid(), "host": host, "started": now})
    elsewhere = staging("elsewhere", {"pid": 1, "host": host + "-other", "started": now})
    fresh_without_owner = staging("fresh", None)
    removed = outputs.remove_stale_staging(tmp_path)
    assert sorted(removed) == sorted([dead, old])
    assert live.exists() and elsewhere.exists() and fresh_without_owner.exists()


def test_an_adopted_output_changed_after_its_run_json_is_kept(sample_copy):
    """Old outputs carry no hash: one modified after the old run.json is the user's now."""
    cfg = _configure(sample_copy)
    (sample_copy / "out").mkdir()
    edited = sample_copy / "out" / "siting.json"
    edited.write_text('{"my": "notes"}', encoding="utf-8")
    run_json = sample_copy / "out" / "run.json"
    run_json.write_text(json.dumps({"parameters": {"study": "chengdu-north-sample"},
                                    "outputs": [str(edited), str(run_json)]}), encoding="utf-8")
    past = run_json.stat().st_mtime - 3600
    os.utime(run_json, (past, past))
    assert cli.main(["run", str(cfg)]) == 0
    assert edited.read_text(encoding="utf-8") == '{"my": "notes"}'
