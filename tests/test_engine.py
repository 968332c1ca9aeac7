import os
import shutil
import sys

import pytest

from nsfw_desktop.scan.engine import BatchDone, scan
from nsfw_desktop.scan.pipeline import ScanControl
from nsfw_desktop.scan.types import DecodeOptions
from tests.conftest import build_tiny_vit, png_bomb, run_scan, write_photos


def test_scan_classifies_and_stores_every_photo(photos, make_classifier, store):
    started, summary, results = run_scan([photos], make_classifier(), store)
    assert started.to_classify == 5 and started.unchanged == 0
    assert summary.scanned == 5 and summary.errors == 0
    assert {os.path.basename(r.path) for r in results} == {f"photo_000{i}.png" for i in range(5)}
    stored = {r.path: r for r in store.results()}
    for r in results:
        assert stored[r.path].nsfw_score == pytest.approx(r.nsfw_score)
        assert 0.0 <= r.nsfw_score <= 1.0 and r.label in ("normal", "nsfw")
        assert (r.width, r.height) == (64, 48)


def test_unchanged_rescan_runs_no_inference(photos, make_classifier, store):
    run_scan([photos], make_classifier(), store)
    fresh = make_classifier()
    started, summary, results = run_scan([photos], fresh, store)
    assert (started.to_classify, started.unchanged, results) == (0, 5, [])
    assert fresh.model is None  # the weights were never even loaded


def test_changed_file_and_changed_model_classify_again(photos, make_classifier, store, tmp_path):
    run_scan([photos], make_classifier(), store)
    target = photos / "photo_0002.png"
    st = target.stat()
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    started, _, results = run_scan([photos], make_classifier(), store)
    assert started.to_classify == 1 and [r.path for r in results] == [str(target)]

    other = build_tiny_vit(tmp_path / "other-model", seed=1)
    started, _, results = run_scan([photos], make_classifier(other), store)
    assert started.to_classify == 5
    assert {r.model for r in store.results()} == {results[0].model}


def test_vanished_files_are_pruned_but_skipped_ones_kept(photos, make_classifier, store):
    hidden = photos / ".hidden"
    write_photos(hidden, 1)
    run_scan([photos], make_classifier(), store, include_hidden=True)
    assert store.count() == 6
    (photos / "photo_0000.png").unlink()
    started, _, _ = run_scan([photos], make_classifier(), store)
    assert started.pruned == 1
    # The hidden file was not walked this time, but it still exists: its row stays.
    assert store.get(str(hidden / "photo_0000.png")) is not None
    assert store.get(str(photos / "photo_0000.png")) is None


def test_bad_files_become_error_rows_and_the_scan_goes_on(photos, make_classifier, store):
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "notes.jpg").write_text("not a picture")
    png_bomb(photos / "bomb.png")
    data = (photos / "photo_0001.png").read_bytes()
    (photos / "cut.png").write_bytes(data[: len(data) // 2])
    _, summary, results = run_scan([photos], make_classifier(), store, batch_size=2)
    errors = {os.path.basename(r.path): r.error for r in results if r.error}
    assert set(errors) == {"empty.jpg", "notes.jpg", "bomb.png", "cut.png"}
    assert "decompression bomb" in errors["bomb.png"]
    assert errors["empty.jpg"] == "the file is empty (0 bytes)"
    assert summary.scanned == 9 and summary.errors == 4
    assert all(r.nsfw_score is not None for r in results if not r.error)


def test_walk_rules(tmp_path, make_classifier, store):
    root = tmp_path / "root"
    write_photos(root, 1)
    write_photos(root / "deeper", 1, start=1)
    write_photos(root / ".cache", 1, start=2)
    (root / "download.jpg.part").write_bytes((root / "photo_0000.png").read_bytes())
    (root / "report.pdf").write_bytes(b"%PDF-1.7 not an image")
    # A photo saved without an extension is found by its content.
    (root / "noext").write_bytes((root / "photo_0000.png").read_bytes())
    os.symlink(root, root / "deeper" / "loop")
    _, _, results = run_scan([root], make_classifier(), store)
    names = sorted(os.path.relpath(r.path, root) for r in results)
    assert names == ["deeper/photo_0001.png", "noext", "photo_0000.png"]
    _, _, flat = run_scan([root], make_classifier(), store, recursive=False)
    assert flat == []  # everything at the top level is already known


def test_an_unchanged_rescan_opens_no_file_it_found_to_be_no_picture(tmp_path, make_classifier, store,
                                                                     monkeypatch):
    from nsfw_desktop.scan import walker

    root = tmp_path / "downloads"
    write_photos(root, 1)
    (root / "report.pdf").write_bytes(b"%PDF-1.7 not an image")
    (root / "notes").write_bytes(b"no extension, no picture")
    run_scan([root], make_classifier(), store)
    opened = []
    sniff = walker.open_regular

    def counted(path):
        opened.append(os.path.basename(path))
        return sniff(path)

    monkeypatch.setattr(walker, "open_regular", counted)
    started, _, _ = run_scan([root], make_classifier(), store)
    assert opened == [] and started.unchanged == 1
    # A changed file is sniffed again; a vanished one, or one that became a picture, is forgotten.
    (root / "notes").write_bytes(b"longer notes, still no picture")
    run_scan([root], make_classifier(), store)
    assert opened == ["notes"]
    (root / "report.pdf").unlink()
    shutil.copyfile(root / "photo_0000.png", root / "notes")
    _, _, results = run_scan([root], make_classifier(), store)
    assert [os.path.basename(r.path) for r in results] == ["notes"]
    assert store.sniffed() == {}


def test_unicode_and_undecodable_names(tmp_path, make_classifier, store):
    if sys.platform != "linux":
        pytest.skip("byte file names are a POSIX feature")
    root = tmp_path / "names"
    write_photos(root, 2)
    os.rename(root / "photo_0000.png", root / "Ferien 東京 ☀.png")
    raw = os.fsencode(root) + b"/caf\xe9.png"  # Latin-1 bytes: not valid UTF-8
    os.rename(root / "photo_0001.png", raw)
    _, summary, results = run_scan([root], make_classifier(), store)
    assert summary.errors == 0 and len(results) == 2
    stored = {os.fsencode(r.path) for r in store.results()}
    assert raw in stored and os.fsencode(str(root / "Ferien 東京 ☀.png")) in stored
    started, _, _ = run_scan([root], make_classifier(), store)
    assert started.unchanged == 2


def test_missing_folder_is_a_problem_not_a_crash(tmp_path, photos, make_classifier, store):
    started, summary, _ = run_scan([tmp_path / "gone", photos], make_classifier(), store)
    assert started.problems == [f"Folder not found: {tmp_path / 'gone'}"]
    assert summary.scanned == 5


def test_cancel_and_pause_between_batches(tmp_path, make_classifier, store):
    root = tmp_path / "many"
    write_photos(root, 12)
    control = ScanControl()
    batches = 0
    events = scan([str(root)], make_classifier(), store,
                  options=DecodeOptions(batch_size=2), control=control)
    for event in events:
        if isinstance(event, BatchDone):
            batches += 1
            if batches == 2:
                control.cancel()
    assert batches == 2 and store.count() == 4
    # The next scan resumes with the files the cancelled one did not reach.
    started, _, _ = run_scan([root], make_classifier(), store)
    assert (started.to_classify, started.unchanged) == (8, 4)


def test_pause_blocks_until_resume(tmp_path, make_classifier, store):
    import threading
    import time

    root = tmp_path / "p"
    write_photos(root, 6)
    control = ScanControl()
    events = scan([str(root)], make_classifier(), store, options=DecodeOptions(batch_size=2),
                  control=control)
    done = []
    for event in events:
        if isinstance(event, BatchDone):
            done.append(time.monotonic())
            if len(done) == 1:
                control.pause()
                timer = threading.Timer(0.3, control.resume)
                timer.start()
    assert control.paused is False and len(done) == 3
    assert done[1] - done[0] >= 0.25  # no batch ran while paused


def test_a_vanished_or_emptied_folder_keeps_its_results(tmp_path, make_classifier, store):
    """An unmounted drive looks like a missing or empty folder: nothing may be pruned."""
    import shutil

    drive = tmp_path / "drive"
    write_photos(drive / "album", 3)
    run_scan([drive], make_classifier(), store)
    shutil.move(drive, tmp_path / "elsewhere")
    started, _, _ = run_scan([drive], make_classifier(), store)
    assert started.pruned == 0 and store.count() == 3
    drive.mkdir()  # an empty mount point
    started, _, _ = run_scan([drive], make_classifier(), store)
    assert started.pruned == 0 and store.count() == 3


def test_error_rows_are_kept_unless_retry_is_asked(photos, make_classifier, store):
    (photos / "broken.jpg").write_text("not yet a picture")
    run_scan([photos], make_classifier(), store)
    started, _, _ = run_scan([photos], make_classifier(), store)
    assert started.to_classify == 0
    started, _, results = run_scan([photos], make_classifier(), store, retry_errors=True)
    assert started.to_classify == 1 and results[0].error


def test_reviewed_files_found_gone_are_marked_missing_not_deleted(tmp_path, make_classifier, store):
    root = tmp_path / "photos"
    photos = write_photos(root, 3)
    run_scan([root], make_classifier(), store)
    store.set_review([str(photos[0])], "safe")
    backup = shutil.copy2(photos[0], tmp_path / "backup.png")
    os.remove(photos[0])
    os.remove(photos[1])
    started, summary, _ = run_scan([root], make_classifier(), store)
    assert (started.pruned, started.missing, summary.missing) == (1, 1, 1)
    kept = store.get(str(photos[0]))
    assert kept.review == "safe" and kept.missing_since is not None
    assert store.get(str(photos[1])) is None  # unreviewed and gone: forgotten
    # The file comes back (a backup restored as it was): no longer missing, its review intact.
    shutil.copy2(backup, photos[0])
    started, _, _ = run_scan([root], make_classifier(), store)
    assert started.missing == 0
    back = store.get(str(photos[0]))
    assert back.missing_since is None and back.review == "safe"


def test_a_subfolder_that_vanished_or_was_unmounted_keeps_its_rows(tmp_path, make_classifier, store):
    """A drive mounted inside a scanned folder and unmounted leaves an empty mount point (or
    nothing): the rows under it, reviews and all, must survive the next scan of the parent."""
    root = tmp_path / "library"
    write_photos(root, 2)
    mounted = write_photos(root / "camera", 2)  # files right at the mount point
    deeper = write_photos(root / "camera" / "2024", 2)
    run_scan([root], make_classifier(), store)
    store.set_review([str(deeper[0])], "nsfw")
    shutil.rmtree(root / "camera")
    (root / "camera").mkdir()  # the empty mount point after unmounting
    started, _, _ = run_scan([root], make_classifier(), store)
    assert (started.pruned, started.missing) == (0, 0)
    assert store.count() == 6
    assert store.get(str(deeper[0])).review == "nsfw"
    assert store.get(str(mounted[1])) is not None


def test_a_folder_that_cannot_be_listed_keeps_its_rows(tmp_path, make_classifier, store):
    root = tmp_path / "library"
    write_photos(root, 2)
    inside = write_photos(root / "locked", 2)
    run_scan([root], make_classifier(), store)
    # A folder replaced by something that is not a folder cannot be listed: nothing is known.
    shutil.rmtree(root / "locked")
    (root / "locked").write_text("")
    started, _, _ = run_scan([root], make_classifier(), store)
    assert started.pruned == 0 and store.get(str(inside[0])) is not None
