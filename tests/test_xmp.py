"""Keywords in XMP sidecars: read back by exiftool, merged into digiKam's and darktable's
sidecars without losing anything of theirs, following the stored state, never touching
the photo, a link or a sidecar that cannot be parsed."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.config.settings import Settings, SettingsError
from nsfw_desktop.quarantine import moves as quarantine
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store
from nsfw_desktop.xmp.keywords import TagOptions, state_of
from nsfw_desktop.xmp.naming import sidecars
from nsfw_desktop.xmp.sidecar import SidecarError, apply
from nsfw_desktop.xmp.tagging import tag_results, tag_stored

from .conftest import random_image

DATA = Path(__file__).parent / "data"
EXIFTOOL = shutil.which("exiftool")
needs_exiftool = pytest.mark.skipif(EXIFTOOL is None,
                                    reason="exiftool (libimage-exiftool-perl) not installed")
FIELDS = ("XMP-dc:Subject", "XMP-lr:HierarchicalSubject", "XMP-digiKam:TagsList")
OURS = {"NSFW flagged", "NSFW|flagged", "NSFW/flagged", "NSFW reviewed safe", "NSFW|reviewed safe",
        "NSFW/reviewed safe"}
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"


def exiftool(path: Path) -> dict:
    """Every tag exiftool reads from ``path`` (lists always lists), without the file's own."""
    out = subprocess.run([EXIFTOOL, "-j", "-struct", "-G1", "-a", "-n", "-l", str(path)],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    tags = json.loads(out)[0]
    return {k: v["val"] if isinstance(v, dict) and "val" in v else v for k, v in tags.items()
            if not k.startswith(("System:", "ExifTool:", "File:", "SourceFile"))}


def listed(tags: dict, name: str) -> list:
    value = tags.get(name, [])
    return value if isinstance(value, list) else [value]


def without_ours(tags: dict) -> dict:
    kept = {}
    for name, value in tags.items():
        if name in FIELDS:
            value = [v for v in listed(tags, name) if v not in OURS]
            if not value:
                continue
        kept[name] = value
    return kept


def array_kind(sidecar: Path, prefix: str, name: str) -> str:
    namespaces = {"dc": "http://purl.org/dc/elements/1.1/", "lr": "http://ns.adobe.com/lightroom/1.0/",
                  "digiKam": "http://www.digikam.org/ns/1.0/"}
    element = ET.parse(sidecar).getroot().find(f".//{{{namespaces[prefix]}}}{name}")
    return element[0].tag.removeprefix(RDF)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def photo(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    path = folder / "IMG_0001.jpg"
    random_image(1).save(path, quality=90)
    return path


def result(path: Path, score: float = 0.9, review: str | None = None) -> Result:
    info = path.stat()
    return Result(str(path), "nsfw", score, "tiny", 64, 48, info.st_size, info.st_mtime_ns, time.time(),
                  review=review)


@needs_exiftool
def test_exiftool_reads_our_keywords_in_all_three_fields(photo):
    before = digest(photo)
    change = apply(str(photo), "flagged", TagOptions())
    sidecar = photo.with_name("IMG_0001.jpg.xmp")
    assert change.changed and change.created and change.sidecar == str(sidecar)
    tags = exiftool(sidecar)
    assert listed(tags, "XMP-dc:Subject") == ["NSFW flagged"]
    assert listed(tags, "XMP-lr:HierarchicalSubject") == ["NSFW|flagged"]
    assert listed(tags, "XMP-digiKam:TagsList") == ["NSFW/flagged"]
    # The kinds of array the schemas and the photo managers use.
    assert array_kind(sidecar, "dc", "subject") == "Bag"
    assert array_kind(sidecar, "lr", "hierarchicalSubject") == "Bag"
    assert array_kind(sidecar, "digiKam", "TagsList") == "Seq"
    assert digest(photo) == before


@needs_exiftool
def test_the_root_is_a_setting(photo):
    apply(str(photo), "reviewed nsfw", TagOptions(root="Screening"))
    tags = exiftool(photo.with_name("IMG_0001.jpg.xmp"))
    assert listed(tags, "XMP-lr:HierarchicalSubject") == ["Screening|reviewed nsfw"]
    assert listed(tags, "XMP-digiKam:TagsList") == ["Screening/reviewed nsfw"]


@pytest.mark.parametrize("root", ["", " NSFW", "a|b", "a/b", "a,b"])
def test_a_root_that_photo_managers_would_split_is_refused(root):
    with pytest.raises(SettingsError, match="root"):
        Settings(xmp_root=root)


def test_naming_of_a_new_sidecar_and_an_existing_one_of_either_name(photo):
    lightroom = photo.with_name("IMG_0001.xmp")
    apply(str(photo), "flagged", TagOptions(naming="lightroom"))
    assert lightroom.exists() and not photo.with_name("IMG_0001.jpg.xmp").exists()
    # The darktable naming finds the Lightroom sidecar that is there and uses it.
    assert sidecars(photo, "darktable") == [lightroom]
    change = apply(str(photo), "reviewed safe", TagOptions(naming="darktable"))
    assert change.sidecar == str(lightroom) and not photo.with_name("IMG_0001.jpg.xmp").exists()


@needs_exiftool
@pytest.mark.parametrize("sample", ["digikam.xmp", "darktable.xmp"])
def test_a_photo_managers_sidecar_keeps_everything_of_its_own(photo, sample):
    import pyexiv2

    sidecar = photo.with_name("IMG_0001.jpg.xmp")
    shutil.copy(DATA / sample, sidecar)
    original = exiftool(sidecar)
    assert original["XMP-xmp:Rating"] and listed(original, "XMP-dc:Subject")
    photo_digest = digest(photo)

    apply(str(photo), "flagged", TagOptions())
    tagged = exiftool(sidecar)
    assert "NSFW|flagged" in listed(tagged, "XMP-lr:HierarchicalSubject")
    assert "NSFW/flagged" in listed(tagged, "XMP-digiKam:TagsList")
    assert without_ours(tagged) == original  # ratings, colour labels, keywords, edit history
    assert array_kind(sidecar, "dc", "subject") == "Bag"

    apply(str(photo), "reviewed safe", TagOptions())
    reviewed = exiftool(sidecar)
    ours = {v for name in FIELDS for v in listed(reviewed, name) if v in OURS}
    assert ours == {"NSFW reviewed safe", "NSFW|reviewed safe", "NSFW/reviewed safe"}
    assert without_ours(reviewed) == original

    apply(str(photo), None, TagOptions())
    assert exiftool(sidecar) == original
    # Line for line what exiv2 writes for the untouched sidecar (its own serialization:
    # indentation, packet wrapper), only the fields we edited moved to the end.
    with pyexiv2.ImageData((DATA / sample).read_bytes()) as untouched:
        untouched.clear_exif()
        untouched.clear_iptc()
        assert sorted(sidecar.read_bytes().splitlines()) == sorted(untouched.get_bytes().splitlines())
    assert digest(photo) == photo_digest


def test_a_sidecar_already_right_is_not_rewritten(photo):
    sidecar = photo.with_name("IMG_0001.jpg.xmp")
    shutil.copy(DATA / "digikam.xmp", sidecar)
    unchanged = apply(str(photo), None, TagOptions())  # none of ours in it: nothing to remove
    assert not unchanged.changed and sidecar.read_bytes() == (DATA / "digikam.xmp").read_bytes()
    apply(str(photo), "flagged", TagOptions())
    written = sidecar.read_bytes()
    os.utime(sidecar, ns=(1, 1))
    assert not apply(str(photo), "flagged", TagOptions()).changed
    assert sidecar.read_bytes() == written and sidecar.stat().st_mtime_ns == 1


def test_a_sidecar_holding_only_our_keywords_goes_when_they_go(photo):
    apply(str(photo), "flagged", TagOptions())
    change = apply(str(photo), None, TagOptions())
    assert change.deleted and not photo.with_name("IMG_0001.jpg.xmp").exists()
    assert sorted(os.listdir(photo.parent)) == ["IMG_0001.jpg"]  # no temporary file left


def test_the_state_rule():
    options = TagOptions(threshold=0.5, quarantine="/q")
    row = Result("/p/a.jpg", "nsfw", 0.7, "m", 1, 1, 1, 1, 0.0)
    assert state_of(row, options) == "flagged"
    assert state_of(Result("/p/a.jpg", "sfw", 0.2, "m", 1, 1, 1, 1, 0.0), options) is None
    assert state_of(Result("/p/a.jpg", None, None, "m", None, None, 1, 1, 0.0, error="x"), options) is None
    row.review = "safe"
    assert state_of(row, options) == "reviewed safe"
    row.review = "nsfw"
    assert state_of(row, options) == "reviewed nsfw"
    row.path = "/q/a.jpg"
    assert state_of(row, options) is None  # quarantined: no keyword
    row.path, row.missing_since = "/p/a.jpg", 1.0
    assert state_of(row, options) is None


def test_review_threshold_and_quarantine_changes_follow_in_the_sidecar(photo, tmp_path):
    sidecar = photo.with_name("IMG_0001.jpg.xmp")
    shutil.copy(DATA / "darktable.xmp", sidecar)
    db = tmp_path / "results.sqlite3"
    folder = tmp_path / "quarantine"
    options = TagOptions(threshold=0.5, quarantine=str(folder))

    def hierarchy() -> list[str]:
        import pyexiv2

        with pyexiv2.ImageData(sidecar.read_bytes()) as data:
            return [v for v in data.read_xmp()["Xmp.lr.hierarchicalSubject"] if v.startswith("NSFW")]

    with Store(db) as store:
        store.put_many([result(photo, score=0.8)])
        tag_stored(store, [str(photo)], options)
        assert hierarchy() == ["NSFW|flagged"]
        store.set_review([str(photo)], "safe")
        tag_stored(store, [str(photo)], options)
        assert hierarchy() == ["NSFW|reviewed safe"]
        store.set_review([str(photo)], None)
        tag_stored(store, [str(photo)], TagOptions(threshold=0.9, quarantine=str(folder)))
        assert hierarchy() == []
        tag_stored(store, [str(photo)], options)
        assert hierarchy() == ["NSFW|flagged"]
        moved = quarantine.quarantine([str(photo)], folder, store)
        # The app removes the keywords at the old place (gui/sidecar_sync); the moved file gets none.
        from nsfw_desktop.xmp.tagging import remove_tags

        remove_tags([moved.moves[0].source], options)
        assert hierarchy() == []
        report = tag_stored(store, [moved.moves[0].destination], options)
        assert not report.written and not list(folder.glob("*.xmp"))


def test_a_link_as_sidecar_is_not_followed(photo, tmp_path):
    outside = tmp_path / "elsewhere.xmp"
    shutil.copy(DATA / "digikam.xmp", outside)
    link = photo.with_name("IMG_0001.jpg.xmp")
    link.symlink_to(outside)
    before = outside.read_bytes()
    with pytest.raises(SidecarError, match="symbolic link"):
        apply(str(photo), "flagged", TagOptions())
    assert link.is_symlink() and os.readlink(link) == str(outside) and outside.read_bytes() == before
    report = tag_results([result(photo)], TagOptions())
    assert report.problems and "symbolic link" in report.problems[0][1]
    assert outside.read_bytes() == before


@pytest.mark.parametrize("content", [b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF><broken",
                                     b"not xml at all", b"\xff\xd8\xff\xe0 a JPEG named .xmp"])
def test_an_unparseable_sidecar_is_left_untouched_and_reported(photo, content):
    sidecar = photo.with_name("IMG_0001.jpg.xmp")
    sidecar.write_bytes(content)
    os.utime(sidecar, ns=(5, 5))
    report = tag_results([result(photo)], TagOptions())
    assert not report.changes and len(report.problems) == 1
    path, message = report.problems[0]
    assert path == str(photo) and str(sidecar) in message and "left as it is" in message
    assert sidecar.read_bytes() == content and sidecar.stat().st_mtime_ns == 5
    assert sorted(os.listdir(photo.parent)) == ["IMG_0001.jpg", "IMG_0001.jpg.xmp"]


def test_threads_writing_sidecars_at_once(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    photos = []
    for i in range(24):
        path = folder / f"{i}.jpg"
        random_image(i, size=(16, 16)).save(path)
        shutil.copy(DATA / ("digikam.xmp" if i % 2 else "darktable.xmp"), folder / f"{i}.jpg.xmp")
        photos.append(path)
    errors = []

    def work(chunk):
        try:
            for _ in range(3):
                for p in chunk:
                    apply(str(p), "flagged", TagOptions())
                    apply(str(p), "reviewed nsfw", TagOptions())
        except Exception as exc:  # noqa: BLE001 (collected, so the main thread can fail the test)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(photos[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    import pyexiv2

    for p in photos:
        with pyexiv2.ImageData(Path(f"{p}.xmp").read_bytes()) as data:
            values = data.read_xmp()["Xmp.lr.hierarchicalSubject"]
        assert "NSFW|reviewed nsfw" in values and "NSFW|flagged" not in values


def _cli_db(tmp_path, *results):
    db = tmp_path / "results.sqlite3"
    with Store(db) as store:
        store.put_many(results)
        for r in results:
            store.set_review([r.path], r.review)  # put_many keeps a stored review, never sets one
    return db


def test_cli_tag_dry_run_changes_nothing(photo, tmp_path, capsys):
    other = photo.with_name("IMG_0002.jpg")
    random_image(2).save(other)
    shutil.copy(DATA / "digikam.xmp", photo.with_name("IMG_0001.jpg.xmp"))
    db = _cli_db(tmp_path, result(photo, 0.9), result(other, 0.1))
    listing = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photo.parent.iterdir()}
    assert main(["tag", str(photo.parent), "--db", str(db), "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"would update\t{photo}.xmp\tnone -> flagged"]
    assert "Would change 1 sidecar(s); 1 already up to date; 0 problem(s)" in err
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in photo.parent.iterdir()} == listing


@needs_exiftool
def test_cli_tag_writes_and_removes(photo, tmp_path, capsys):
    db = _cli_db(tmp_path, result(photo, 0.3, review="nsfw"))
    before = digest(photo)
    assert main(["tag", str(photo), "--db", str(db), "--naming", "lightroom", "--root", "Screen"]) == 0
    sidecar = photo.with_name("IMG_0001.xmp")
    assert capsys.readouterr().out.splitlines() == [f"created\t{sidecar}\tnone -> reviewed nsfw"]
    assert listed(exiftool(sidecar), "XMP-lr:HierarchicalSubject") == ["Screen|reviewed nsfw"]
    assert main(["tag", str(photo.parent), "--db", str(db), "--remove", "--root", "Screen"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"deleted\t{sidecar}\treviewed nsfw -> none"]
    assert not sidecar.exists() and digest(photo) == before


def test_cli_tag_uses_the_apps_threshold_and_reports_unstored_paths(photo, tmp_path, capsys):
    from nsfw_desktop.config import settings as settings_file

    db = _cli_db(tmp_path, result(photo, 0.6))
    settings_file.save(Settings(threshold=0.7))
    assert main(["tag", str(photo), "--db", str(db)]) == 0
    assert not photo.with_name("IMG_0001.jpg.xmp").exists()
    assert main(["tag", str(photo), "--db", str(db), "--threshold", "0.5"]) == 0
    assert photo.with_name("IMG_0001.jpg.xmp").exists()
    capsys.readouterr()
    assert main(["tag", str(tmp_path / "never-scanned"), "--db", str(db)]) == 1
    assert "no stored results under" in capsys.readouterr().err


def test_a_scan_with_the_setting_on_tags_what_it_classifies(photos, make_classifier, tmp_path):
    import pyexiv2

    from nsfw_desktop.scan.engine import scan

    from .conftest import build_tiny_vit

    db = tmp_path / "results.sqlite3"
    policy = Settings(xmp_sidecars=True, threshold=0.0).scan_policy()
    digests = {p: digest(p) for p in photos.iterdir()}
    first = sorted(digests)[0]

    def hierarchy(path: Path) -> list[str]:
        with pyexiv2.ImageData(Path(f"{path}.xmp").read_bytes()) as data:
            return data.read_xmp()["Xmp.lr.hierarchicalSubject"]

    with Store(db) as store:
        list(scan([str(photos)], make_classifier(), store, policy=policy))
        assert all(hierarchy(p) == ["NSFW|flagged"] for p in digests)
        store.set_review([str(first)], "safe")
        # Another model classifies every file again; the store keeps the review, and so does the sidecar.
        other = make_classifier(build_tiny_vit(tmp_path / "other-model", seed=1))
        events = list(scan([str(photos)], other, store, policy=policy))
    assert events[-1].summary.scanned == len(digests)
    assert hierarchy(first) == ["NSFW|reviewed safe"]
    assert {p: digest(p) for p in digests} == digests


def test_exiv2_warnings_stay_out_of_the_commands_output(photo, tmp_path, capfd):
    photo.with_name("IMG_0001.jpg.xmp").write_bytes(b"<?xpacket begin='' id='W5M0MpCehiHzreSzNTczkc9d'?>"
                                                   b"<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF>")
    db = _cli_db(tmp_path, result(photo, 0.9))
    assert main(["tag", str(photo), "--db", str(db)]) == 0
    out, err = capfd.readouterr()
    assert out == "" and "[warn]" not in err
    assert "could not be read as XMP" in err and "0 problem(s)" not in err
