"""Sidecars shared with other files and other programs: a sidecar belongs to one file,
another program's change is never lost, read-only sidecars stay as they are, and what
we replace keeps its permissions, owner, attributes and links."""

from __future__ import annotations

import ntpath
import os
import posixpath
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.config.settings import Settings, SettingsError
from nsfw_desktop.files.paths import is_inside
from nsfw_desktop.xmp import files
from nsfw_desktop.xmp.keywords import TagOptions
from nsfw_desktop.xmp.sidecar import SidecarError, apply
from nsfw_desktop.xmp.tagging import tag_results

from .conftest import random_image
from .test_xmp import DATA, _cli_db, result

ROOT = Path(__file__).resolve().parents[1]


def keywords(sidecar: Path) -> list[str]:
    import pyexiv2

    with pyexiv2.ImageData(sidecar.read_bytes()) as data:
        return list(data.read_xmp().get("Xmp.lr.hierarchicalSubject", []))


def rating(sidecar: Path) -> str:
    import pyexiv2

    with pyexiv2.ImageData(sidecar.read_bytes()) as data:
        return data.read_xmp()["Xmp.xmp.Rating"]


def picture(path: Path, seed: int = 1) -> Path:
    random_image(seed).save(path, format="JPEG")
    return path


@pytest.fixture
def folder(tmp_path) -> Path:
    path = tmp_path / "photos"
    path.mkdir()
    return path


@pytest.mark.parametrize("naming", ["darktable", "lightroom"])
def test_a_raws_lightroom_sidecar_is_never_rewritten_for_the_jpeg_beside_it(folder, naming):
    raw = folder / "IMG_2.CR2"
    raw.write_bytes(b"a RAW file's bytes")
    lightroom = folder / "IMG_2.xmp"
    lightroom.write_bytes((DATA / "darktable.xmp").read_bytes())
    kept = lightroom.read_bytes()
    jpeg = picture(folder / "IMG_2.JPG")
    report = tag_results([result(jpeg, 0.9)], TagOptions(naming=naming))
    assert lightroom.read_bytes() == kept
    assert [c.sidecar for c in report.written] == [str(folder / "IMG_2.JPG.xmp")]
    assert keywords(folder / "IMG_2.JPG.xmp") == ["NSFW|flagged"]
    tag_results([result(jpeg, 0.9)], TagOptions(naming=naming), remove=True)
    assert lightroom.read_bytes() == kept and not (folder / "IMG_2.JPG.xmp").exists()


def test_a_live_photos_two_files_each_get_their_own_sidecar(folder):
    heic = picture(folder / "IMG_5.HEIC")  # the content does not matter to the sidecar
    mov = folder / "IMG_5.MOV"
    mov.write_bytes(b"a video")
    options = TagOptions(naming="lightroom")
    report = tag_results([result(heic, 0.9), result(mov, 0.1)], options)
    assert [(c.sidecar, c.created, c.deleted) for c in report.written] == [
        (str(folder / "IMG_5.HEIC.xmp"), True, False)]
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_5.HEIC.xmp"]
    # The other order, and another run: the flagged file's keyword stays.
    tag_results([result(mov, 0.1), result(heic, 0.9)], options)
    assert keywords(folder / "IMG_5.HEIC.xmp") == ["NSFW|flagged"]
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_5.HEIC.xmp"]


def test_stems_are_compared_without_case(folder):
    (folder / "img_3.cr2").write_bytes(b"raw")
    jpeg = picture(folder / "IMG_3.JPG")
    tag_results([result(jpeg, 0.9)], TagOptions(naming="lightroom"))
    assert sorted(p.name for p in folder.glob("*.xmp")) == ["IMG_3.JPG.xmp"]


def test_both_names_present_are_kept_in_step_and_both_lose_our_keywords(folder, capsys):
    photo = picture(folder / "IMG_7.jpg")
    digikam, lightroom = folder / "IMG_7.jpg.xmp", folder / "IMG_7.xmp"
    digikam.write_bytes((DATA / "digikam.xmp").read_bytes())
    lightroom.write_bytes((DATA / "darktable.xmp").read_bytes())
    theirs = {p: [k for k in keywords(p)] for p in (digikam, lightroom)}
    db = _cli_db(folder.parent, result(photo, 0.9))
    assert main(["tag", str(photo), "--db", str(db)]) == 0
    for sidecar in (digikam, lightroom):
        assert keywords(sidecar) == theirs[sidecar] + ["NSFW|flagged"]
    assert main(["tag", str(photo), "--db", str(db), "--remove"]) == 0
    for sidecar in (digikam, lightroom):
        assert keywords(sidecar) == theirs[sidecar]
    assert "Changed 2 sidecar(s)" in capsys.readouterr().err


def test_another_programs_change_after_our_read_is_kept(folder, monkeypatch):
    """darktable writes the sidecar between our read and our write: we read it again."""
    photo = picture(folder / "IMG_8.jpg")
    sidecar = folder / "IMG_8.jpg.xmp"
    sidecar.write_bytes((DATA / "darktable.xmp").read_bytes())
    real_read = files.read
    reads = []

    def read_then_darktable_writes(path):
        snapshot = real_read(path)
        reads.append(snapshot)
        if len(reads) == 1:
            sidecar.write_bytes(sidecar.read_bytes().replace(b'xmp:Rating="3"', b'xmp:Rating="5"'))
        return snapshot

    monkeypatch.setattr(files, "read", read_then_darktable_writes)
    change = apply(str(photo), "flagged", TagOptions())
    assert change.changed and len(reads) == 2
    assert rating(sidecar) == "5" and "NSFW|flagged" in keywords(sidecar)


def test_a_sidecar_that_keeps_changing_is_left_to_its_writer_and_reported(folder, monkeypatch):
    photo = picture(folder / "IMG_9.jpg")
    sidecar = folder / "IMG_9.jpg.xmp"
    sidecar.write_bytes((DATA / "darktable.xmp").read_bytes())
    real_read = files.read

    def read_then_it_changes(path):
        snapshot = real_read(path)
        sidecar.write_bytes(snapshot.data.replace(b"beach", b"beach "))  # another size each time
        return snapshot

    monkeypatch.setattr(files, "read", read_then_it_changes)
    with pytest.raises(SidecarError, match="kept changing"):
        apply(str(photo), "flagged", TagOptions())
    assert "NSFW|flagged" not in keywords(sidecar)


def test_a_sidecar_created_meanwhile_by_another_program_is_merged_not_replaced(folder, monkeypatch):
    photo = picture(folder / "IMG_10.jpg")
    sidecar = folder / "IMG_10.jpg.xmp"
    real_read = files.read

    def none_yet_then_digikam_creates_it(path):
        snapshot = real_read(path)
        if not sidecar.exists():
            sidecar.write_bytes((DATA / "digikam.xmp").read_bytes())
        return snapshot

    monkeypatch.setattr(files, "read", none_yet_then_digikam_creates_it)
    apply(str(photo), "flagged", TagOptions())
    assert keywords(sidecar)[-1] == "NSFW|flagged" and len(keywords(sidecar)) > 1


@pytest.mark.parametrize("remove", [False, True])
def test_a_read_only_sidecar_is_left_alone_and_reported(folder, remove):
    photo = picture(folder / "IMG_11.jpg")
    sidecar = folder / "IMG_11.jpg.xmp"
    sidecar.write_bytes((DATA / "darktable.xmp").read_bytes())
    apply(str(photo), "flagged", TagOptions())
    sidecar.chmod(0o444)
    before = sidecar.read_bytes()
    report = tag_results([result(photo, 0.1)], TagOptions(), remove=remove)
    assert not report.written and len(report.problems) == 1
    assert "read-only" in report.problems[0][1]
    assert sidecar.read_bytes() == before and stat.S_IMODE(sidecar.stat().st_mode) == 0o444


def test_no_sidecar_is_created_in_a_read_only_folder(folder):
    photo = picture(folder / "IMG_12.jpg")
    folder.chmod(0o555)
    try:
        report = tag_results([result(photo, 0.9)], TagOptions())
    finally:
        folder.chmod(0o755)
    assert "folder is read-only" in report.problems[0][1]
    assert not list(folder.glob("*.xmp"))


def test_permissions_attributes_and_hard_links_of_an_updated_sidecar_are_kept(folder, tmp_path):
    photo = picture(folder / "IMG_13.jpg")
    sidecar = folder / "IMG_13.jpg.xmp"
    sidecar.write_bytes((DATA / "darktable.xmp").read_bytes())
    sidecar.chmod(0o640)
    try:
        os.setxattr(sidecar, "user.origin", b"darktable")
    except OSError:
        pytest.skip("this file system keeps no extended attributes")
    apply(str(photo), "flagged", TagOptions())
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o640
    assert os.getxattr(sidecar, "user.origin") == b"darktable"
    # A hard link (a backup tool's snapshot, a second album) sees the change too.
    linked = tmp_path / "album.xmp"
    os.link(sidecar, linked)
    apply(str(photo), "reviewed safe", TagOptions())
    assert os.path.samefile(sidecar, linked) and keywords(linked)[-1] == "NSFW|reviewed safe"


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_the_owner_of_an_updated_sidecar_is_kept(folder):
    photo = picture(folder / "IMG_14.jpg")
    sidecar = folder / "IMG_14.jpg.xmp"
    sidecar.write_bytes((DATA / "darktable.xmp").read_bytes())
    os.chown(sidecar, 65534, 65534)
    apply(str(photo), "flagged", TagOptions())
    assert (sidecar.stat().st_uid, sidecar.stat().st_gid) == (65534, 65534)


@pytest.mark.parametrize("root", ["NS\x01FW", "NSFW\ufffe", "NSFW\uffff", "NSFW\udcff", "a\tb"])
def test_a_root_xmp_cannot_hold_is_refused_before_anything_is_written(folder, root, capsys):
    photo = picture(folder / "IMG_15.jpg")
    db = _cli_db(folder.parent, result(photo, 0.9))
    assert main(["tag", str(photo), "--db", str(db), "--root", root]) == 1
    assert "not text" in capsys.readouterr().err
    assert not list(folder.glob("*.xmp"))
    with pytest.raises(SettingsError, match="not text"):
        Settings(xmp_root=root)


CRASH_MID_WRITE = """
import os, signal, sys
from pathlib import Path
from nsfw_desktop.xmp import files
with files._temporary(Path(sys.argv[1]), b"half a sidecar", 0o644):
    os.kill(os.getpid(), signal.SIG{signal})
"""


def test_a_killed_runs_temporary_file_is_removed_by_the_next_run(folder):
    photo = picture(folder / "IMG_16.jpg")
    sidecar = folder / "IMG_16.jpg.xmp"
    killed = subprocess.run([sys.executable, "-c", CRASH_MID_WRITE.format(signal="KILL"), str(sidecar)],
                            cwd=ROOT, timeout=60)
    assert killed.returncode == -signal.SIGKILL
    (left,) = folder.glob(".IMG_16.jpg.xmp.*.tmp")
    # A live writer is never disturbed: only a temporary file older than a write takes is looked at.
    old = time.time() - 60
    os.utime(left, (old, old))
    tag_results([result(photo, 0.9)], TagOptions())
    assert sorted(p.name for p in folder.iterdir()) == ["IMG_16.jpg", "IMG_16.jpg.xmp"]


def test_a_temporary_file_another_run_holds_is_left_to_it(folder):
    sidecar = folder / "IMG_17.jpg.xmp"
    writer = subprocess.Popen([sys.executable, "-c", CRASH_MID_WRITE.format(signal="STOP"), str(sidecar)],
                              cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not list(folder.glob(".IMG_17.jpg.xmp.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.05)
        (held,) = folder.glob(".IMG_17.jpg.xmp.*.tmp")
        old = time.time() - 60
        os.utime(held, (old, old))
        files.remove_stale_temporaries(folder, os.listdir(folder))
        assert held.exists()
    finally:
        writer.kill()
        writer.wait(timeout=30)


@pytest.mark.parametrize(("path", "folder", "inside"), [
    (r"D:\Photos\a.jpg", r"C:\Quarantine", False),  # two drives: commonpath raised ValueError
    (r"c:\quarantine\a.jpg", r"C:\Quarantine", True),
    (r"C:\Quarantine2\a.jpg", r"C:\Quarantine", False),
    (r"\\nas\share\q\a.jpg", r"C:\Quarantine", False),
])
def test_inside_follows_windows_path_rules(path, folder, inside):
    assert is_inside(path, folder, flavour=ntpath) is inside


def test_inside_on_posix():
    assert is_inside("/q/a.jpg", "/q", flavour=posixpath)
    assert not is_inside("/qq/a.jpg", "/q", flavour=posixpath)
    assert is_inside("/q", "/q", flavour=posixpath)
