"""The folder watcher, with real watchdog observers on temporary folders and a tiny model."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import sys
import threading
import time
from collections import Counter

import pytest

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.scan.types import ScanPolicy
from nsfw_desktop.store.results import Store
from nsfw_desktop.watch import (
    CaughtUp,
    FileClassified,
    FileMoved,
    FileRemoved,
    FolderOffline,
    FolderOnline,
    Watcher,
    WatchStopped,
    WatchWarning,
)
from nsfw_desktop.watch.observers import system_setting
from tests.conftest import build_tiny_vit, random_image, write_photos

QUICK = 0.3  # settle interval for tests that are not about it
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="open and close-after-write are inotify events")


class Recorder:
    """Collects a watcher's events and lets the test wait for a condition on them."""

    def __init__(self):
        self.events = []
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.events.append((time.monotonic(), event))
            self._cond.notify_all()

    def of(self, kind) -> list:
        with self._cond:
            return [event for _, event in self.events if isinstance(event, kind)]

    def classified(self) -> Counter:
        return Counter(event.result.path for event in self.of(FileClassified))

    def wait_for(self, condition, timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: condition(self), timeout):
                raise AssertionError(f"timed out; events so far: {[e for _, e in self.events]}")


@pytest.fixture
def watch(tiny_model, tmp_path):
    """Start a Watcher on folders with the tiny model; stopped at the end of the test."""
    watchers = []

    def start(*folders, settle=QUICK, folder_check=5.0, db=tmp_path / "results.sqlite3", policy=None,
              before_event=None, **options):
        recorder = Recorder()

        def on_event(event):
            if before_event is not None:
                before_event(event)
            recorder(event)

        watcher = Watcher(folders, make_classifier(str(tiny_model)), db, on_event=on_event,
                          settle=settle, folder_check=folder_check, policy=policy, **options)
        watchers.append(watcher)
        watcher.start()
        recorder.wait_for(lambda r: len(r.of(FolderOnline)) + len(r.of(FolderOffline)) >= len(folders))
        return watcher, recorder

    yield start
    for watcher in watchers:
        watcher.stop()


def settle_time(seconds: float = 4 * QUICK) -> None:
    """Give a watcher time to (wrongly) classify something again."""
    time.sleep(seconds)


def _jpeg_bytes(seed: int) -> bytes:
    import io

    buffer = io.BytesIO()
    random_image(seed, size=(320, 240)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_burst_of_copies_classified_once_each(watch, tmp_path):
    source = tmp_path / "camera"
    originals = write_photos(source, 200, fmt="JPEG")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher, recorder = watch(inbox)
    # copy2 keeps the originals' older modification times: a catch-up still walking the
    # folder would take the copies as files it missed.
    recorder.wait_for(lambda r: r.of(CaughtUp))
    for path in originals:
        # copy2 also sets the modification time after closing the copy: a second event.
        shutil.copy2(path, inbox / path.name)
    recorder.wait_for(lambda r: len(r.classified()) == 200)
    settle_time()
    assert not any(event.catch_up for event in recorder.of(FileClassified))
    counts = recorder.classified()
    assert set(counts) == {str(inbox / p.name) for p in originals}
    assert set(counts.values()) == {1}
    assert all(event.result.error is None for event in recorder.of(FileClassified))
    with Store(tmp_path / "results.sqlite3") as store:
        assert store.count() == 200


def test_file_written_in_chunks_is_classified_after_the_last_chunk(watch, tmp_path):
    data = _jpeg_bytes(seed=7)
    chunks = [data[i:i + len(data) // 5 + 1] for i in range(0, len(data), len(data) // 5 + 1)]
    folder = tmp_path / "downloads"
    folder.mkdir()
    watcher, recorder = watch(folder, settle=1.0)
    target = folder / "slow.jpg"
    with open(target, "wb") as handle:  # kept open like a browser's download
        for chunk in chunks:
            handle.write(chunk)
            handle.flush()
            time.sleep(0.3)  # well within the settle interval: still being written
            assert not recorder.of(FileClassified), "classified before the last chunk"
        last_write = time.monotonic()
    recorder.wait_for(lambda r: r.classified())
    settle_time(2.5)
    [(when, event)] = [(t, e) for t, e in recorder.events if isinstance(e, FileClassified)]
    assert when > last_write
    assert event.result.path == str(target)
    assert event.result.file_size == len(data)
    assert event.result.error is None


def test_download_in_progress_at_start_waits_for_its_end(watch, tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    data = _jpeg_bytes(seed=8)
    with open(folder / "started.jpg", "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        watcher, recorder = watch(folder, settle=1.0)
        recorder.wait_for(lambda r: r.of(CaughtUp))
        assert recorder.of(CaughtUp)[0].summary.scanned == 0  # left to the readiness checks
        time.sleep(0.5)
        handle.write(data[len(data) // 2:])
    recorder.wait_for(lambda r: r.classified())
    settle_time(1.5)
    [event] = recorder.of(FileClassified)
    assert event.result.file_size == len(data) and event.result.error is None


@linux_only
def test_close_after_write_shortcuts_the_wait(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder, settle=30.0)
    (folder / "done.jpg").write_bytes(_jpeg_bytes(seed=3))
    recorder.wait_for(lambda r: r.classified(), timeout=15.0)  # well before the 30 s settle interval
    assert recorder.classified() == {str(folder / "done.jpg"): 1}


@linux_only
def test_download_held_open_through_a_pause_is_classified_once_when_complete(watch, tmp_path):
    """curl and wget write straight to the final name and keep it open between chunks."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    db = tmp_path / "results.sqlite3"
    watcher, recorder = watch(folder, settle=1.0, db=db)
    data = _jpeg_bytes(seed=13)
    target = folder / "photo.jpg"
    with open(target, "wb") as handle:
        handle.write(data[:len(data) // 2])
        handle.flush()
        time.sleep(1.0)
        with open(target, "rb") as viewer:  # a file manager peeking at it for a thumbnail
            viewer.read()
        time.sleep(1.0)  # two seconds without a write, twice the settle interval
        assert not recorder.of(FileClassified), "classified while half-written"
        handle.write(data[len(data) // 2:])
        closed = time.monotonic()
    recorder.wait_for(lambda r: r.classified())
    settle_time(2.0)
    [(when, event)] = [(t, e) for t, e in recorder.events if isinstance(e, FileClassified)]
    assert when >= closed
    assert event.result.file_size == len(data) and event.result.error is None
    with Store(db) as store:
        assert store.get(str(target)).error is None


def test_video_being_copied_is_classified_once_when_complete(watch, tmp_path):
    from tests.videos import write_video

    data = write_video(tmp_path / "clip.mp4", [(random_image(4), 3), (random_image(5), 3)]).read_bytes()
    folder = tmp_path / "camera"
    folder.mkdir()
    watcher, recorder = watch(folder, settle=1.0)
    target = folder / "VID_0001.mp4"
    with open(target, "wb") as handle:
        for start in range(0, len(data), len(data) // 4 + 1):
            handle.write(data[start:start + len(data) // 4 + 1])
            handle.flush()
            time.sleep(0.3)
            assert not recorder.of(FileClassified), "classified while half-written"
        closed = time.monotonic()
    recorder.wait_for(lambda r: r.classified())
    settle_time(2.0)
    [(when, event)] = [(t, e) for t, e in recorder.events if isinstance(e, FileClassified)]
    assert when >= closed
    assert (event.result.error, event.result.kind, event.result.file_size) == (None, "video", len(data))
    assert 0 <= event.result.worst_frame_time < 6


@linux_only
def test_file_open_only_for_reading_does_not_delay(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder, settle=30.0)
    path = folder / "viewed.jpg"
    path.write_bytes(_jpeg_bytes(seed=14))
    with open(path, "rb") as viewer:  # an image viewer keeps it open
        viewer.read(100)
        recorder.wait_for(lambda r: r.classified(), timeout=15.0)  # well before 30 s
        with open(path, "rb") as again:  # looked at again: nothing changed, nothing to do
            again.read()
        settle_time()
    assert recorder.classified() == {str(path): 1}


@linux_only
def test_writer_open_past_the_limit_is_classified_anyway_with_a_log_line(watch, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="nsfw_desktop.watch")
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder, open_limit=1.5)
    path = folder / "forgotten.jpg"
    data = _jpeg_bytes(seed=15)
    with open(path, "wb") as handle:  # a program that never closes what it wrote
        handle.write(data)
        handle.flush()
        written = time.monotonic()
        recorder.wait_for(lambda r: r.classified(), timeout=15.0)
        [(when, event)] = [(t, e) for t, e in recorder.events if isinstance(e, FileClassified)]
        assert when - written >= 1.5  # not at the settle interval: it is still open
        assert event.result.file_size == len(data) and event.result.error is None
        assert "still open for writing" in caplog.text and str(path) in caplog.text
    settle_time()
    assert recorder.classified() == {str(path): 1}  # closing without a change is nothing new


@linux_only
def test_catch_up_leaves_a_file_open_for_writing_to_the_watcher(watch, tmp_path):
    """A download that paused for longer than the settle interval while the catch-up
    scan had not reached it yet is not scanned half-written."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    data = _jpeg_bytes(seed=16)
    target = folder / "paused.jpg"
    handles = []

    def start_download(event):
        # Runs on the watcher's thread after the folder is watched and before its catch-up.
        if isinstance(event, FolderOnline):
            handle = open(target, "wb")  # noqa: SIM115 (stays open across the catch-up)
            handles.append(handle)
            handle.write(data[:len(data) // 2])
            handle.flush()
            time.sleep(1.0)  # older than the settle interval when the scan finds it

    watcher, recorder = watch(folder, before_event=start_download)
    recorder.wait_for(lambda r: r.of(CaughtUp))
    assert recorder.of(CaughtUp)[0].summary.scanned == 0
    [handle] = handles
    time.sleep(0.6)
    with handle:
        handle.write(data[len(data) // 2:])
    recorder.wait_for(lambda r: r.classified())
    settle_time()
    [event] = recorder.of(FileClassified)
    assert event.result.file_size == len(data) and event.result.error is None


def test_browser_download_renamed_from_part_is_classified_once_under_its_final_name(watch, tmp_path):
    folder = tmp_path / "downloads"
    folder.mkdir()
    watcher, recorder = watch(folder)
    final = folder / "holiday.jpg"
    final.touch()  # Firefox's empty placeholder under the final name
    partial = folder / "holiday.jpg.part"
    with open(partial, "wb") as handle:
        for i, byte in enumerate(data := _jpeg_bytes(seed=11)):
            handle.write(bytes([byte]))
            if i % 2000 == 0:
                handle.flush()
    chrome = folder / "other.jpg.crdownload"
    chrome.write_bytes(_jpeg_bytes(seed=12))
    settle_time()
    assert not recorder.of(FileClassified), "a placeholder or a temporary name was classified"
    os.replace(partial, final)
    os.replace(chrome, folder / "other.jpg")
    recorder.wait_for(lambda r: len(r.classified()) == 2)
    settle_time()
    assert recorder.classified() == {str(final): 1, str(folder / "other.jpg"): 1}
    [event] = [e for e in recorder.of(FileClassified) if e.result.path == str(final)]
    assert event.result.file_size == len(data) and event.result.error is None


def test_file_overwritten_in_place_is_classified_again_once(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder)
    path = folder / "edited.png"
    random_image(1).save(path)
    recorder.wait_for(lambda r: r.classified())
    random_image(2, size=(80, 60)).save(path)
    recorder.wait_for(lambda r: sum(r.classified().values()) == 2)
    settle_time()
    first, second = (e.result for e in recorder.of(FileClassified))
    assert first.path == second.path == str(path)
    assert (first.width, second.width) == (64, 80)
    with Store(tmp_path / "results.sqlite3") as store:
        assert store.get(str(path)).width == 80


def test_undecodable_file_is_an_error_once_not_retried(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff" + b"not really a jpeg" * 50)
    recorder.wait_for(lambda r: r.classified())
    (folder / "broken.jpg").chmod(0o644)  # an event that changes neither size nor mtime
    settle_time()
    [event] = recorder.of(FileClassified)
    assert event.result.error and event.result.nsfw_score is None
    watcher.stop()
    again, recorder = watch(folder)  # the catch-up scan does not retry it either
    recorder.wait_for(lambda r: r.of(CaughtUp))
    assert recorder.of(CaughtUp)[0].summary.scanned == 0
    assert not recorder.of(FileClassified)


def test_rename_and_delete_follow_the_stored_result(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder)
    random_image(5).save(folder / "a.png")
    recorder.wait_for(lambda r: r.classified())
    os.rename(folder / "a.png", folder / "b.png")
    recorder.wait_for(lambda r: r.of(FileMoved))
    settle_time()
    assert recorder.of(FileMoved) == [FileMoved(str(folder / "a.png"), str(folder / "b.png"))]
    assert sum(recorder.classified().values()) == 1  # a rename is not a new picture
    (folder / "b.png").unlink()
    recorder.wait_for(lambda r: r.of(FileRemoved))
    with Store(tmp_path / "results.sqlite3") as store:
        assert store.count() == 0


def test_folder_reached_through_a_symbolic_link(watch, tmp_path):
    real = tmp_path / "data" / "Downloads"
    real.mkdir(parents=True)
    link = tmp_path / "Downloads"
    link.symlink_to(real)
    watcher, recorder = watch(link)
    random_image(6).save(real / "via-real-path.png")
    recorder.wait_for(lambda r: r.classified())
    assert recorder.classified() == {str(link / "via-real-path.png"): 1}


def test_deleted_watched_folder_goes_offline_and_comes_back(watch, tmp_path):
    doomed, other = tmp_path / "usb", tmp_path / "inbox"
    write_photos(doomed, 2)
    other.mkdir()
    watcher, recorder = watch(doomed, other, folder_check=0.2)
    recorder.wait_for(lambda r: len(r.classified()) == 2)
    shutil.rmtree(doomed)
    recorder.wait_for(lambda r: r.of(FolderOffline))
    assert recorder.of(FolderOffline)[0].folder == str(doomed)
    random_image(9).save(other / "still.png")  # the other folder is still watched
    recorder.wait_for(lambda r: str(other / "still.png") in r.classified())
    assert watcher.running
    write_photos(doomed, 1, start=50)  # back, with a file added while it was away
    recorder.wait_for(lambda r: len(r.of(FolderOnline)) == 3)
    recorder.wait_for(lambda r: str(doomed / "photo_0050.png") in r.classified())
    random_image(10).save(doomed / "after.png")  # and watched again
    recorder.wait_for(lambda r: str(doomed / "after.png") in r.classified())
    assert not recorder.of(WatchStopped)


def test_folders_added_and_removed_while_watching(watch, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    write_photos(second, 1)
    watcher, recorder = watch(first)
    watcher.add_folder(second)
    recorder.wait_for(lambda r: str(second / "photo_0000.png") in r.classified())  # caught up
    assert [e.folder for e in recorder.of(FolderOnline)] == [str(first), str(second)]
    watcher.remove_folder(first)
    random_image(1).save(first / "unwatched.png")
    random_image(2).save(second / "watched.png")
    recorder.wait_for(lambda r: str(second / "watched.png") in r.classified())
    settle_time()
    assert str(first / "unwatched.png") not in recorder.classified()


def test_restart_catches_up_on_files_added_while_stopped(watch, tmp_path):
    folder = tmp_path / "inbox"
    write_photos(folder, 3)
    watcher, recorder = watch(folder)
    recorder.wait_for(lambda r: len(r.classified()) == 3)
    watcher.stop()
    assert recorder.of(WatchStopped) == [WatchStopped(None)]
    added = write_photos(folder, 2, start=3)
    random_image(99).save(folder / "photo_0000.png")  # changed while stopped
    an_hour_ago = time.time() - 3600  # files written just now would wait to settle first
    for path in [*added, folder / "photo_0000.png"]:
        os.utime(path, (an_hour_ago, an_hour_ago))
    watcher, recorder = watch(folder)
    recorder.wait_for(lambda r: r.of(CaughtUp))
    [caught_up] = recorder.of(CaughtUp)
    assert (caught_up.summary.scanned, caught_up.summary.unchanged) == (3, 2)
    assert all(event.catch_up for event in recorder.of(FileClassified))
    assert recorder.classified() == Counter({str(p): 1 for p in [*added, folder / "photo_0000.png"]})


def test_inotify_limit_falls_back_to_polling(watch, tmp_path, monkeypatch):
    # Reaching the real per-user limit would need root and would break every other
    # inotify user on this machine, so the kernel's refusal is raised here instead.
    from watchdog.observers.inotify import InotifyObserver

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyObserver, "schedule", refuse)
    folder = tmp_path / "inbox"
    for sub in ("2024/summer", "2025"):
        (folder / sub).mkdir(parents=True)
    watcher, recorder = watch(folder)
    [warning] = recorder.of(WatchWarning)
    assert f"Watching {folder} needs 4 of them, one for each folder in it" in warning.message
    limit = system_setting("fs.inotify.max_user_watches")
    assert f"sudo sysctl fs.inotify.max_user_watches={limit + 4} " in warning.message
    random_image(4).save(folder / "polled.png")
    recorder.wait_for(lambda r: r.classified())
    assert recorder.classified() == {str(folder / "polled.png"): 1}


def test_missing_folder_is_offline_from_the_start(watch, tmp_path):
    folder = tmp_path / "not-mounted"
    watcher, recorder = watch(folder, folder_check=0.2)
    [offline] = recorder.of(FolderOffline)
    assert offline.folder == str(folder) and "not there" in offline.reason
    write_photos(folder, 1)
    recorder.wait_for(lambda r: r.classified())
    assert watcher.running


def test_unusable_model_stops_with_a_message(tmp_path):
    model = build_tiny_vit(tmp_path / "model", labels=("cat", "dog"))  # no unsafe label
    folder = tmp_path / "inbox"
    write_photos(folder, 1)
    recorder = Recorder()
    watcher = Watcher([folder], make_classifier(str(model)), tmp_path / "db.sqlite3", on_event=recorder)
    watcher.start()
    assert watcher.wait(30)
    [stopped] = recorder.of(WatchStopped)
    assert stopped.error and "None of the model's labels" in stopped.error


def test_temporary_names_and_hidden_files_are_never_classified(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    watcher, recorder = watch(folder)
    for name in ("a.jpg.part", "b.jpg.crdownload", "c.tmp", ".hidden.png"):
        random_image(1).save(folder / name, "PNG")
    random_image(2).save(folder / "seen.png")
    recorder.wait_for(lambda r: r.classified())
    settle_time()
    assert recorder.classified() == {str(folder / "seen.png"): 1}



def test_files_arriving_while_watching_get_embeddings_when_the_policy_keeps_them(watch, tmp_path):
    """The watcher takes the scan's classify-and-commit path: "find similar" sees live files,
    and the next scan with embeddings has nothing left to classify."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    db = tmp_path / "results.sqlite3"
    watcher, recorder = watch(folder, db=db, policy=ScanPolicy(embeddings=True))
    recorder.wait_for(lambda r: r.of(CaughtUp))
    random_image(3).save(folder / "new.png")
    recorder.wait_for(lambda r: r.classified()[str(folder / "new.png")] == 1)
    watcher.stop()
    with Store(db) as store:
        assert store.fingerprint(str(folder / "new.png")).has_embedding


def test_retry_errors_policy_reaches_the_watcher(watch, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    broken = folder / "broken.jpg"
    broken.write_text("not a picture")
    db = tmp_path / "results.sqlite3"
    first, recorder = watch(folder, db=db)
    recorder.wait_for(lambda r: r.of(CaughtUp))
    first.stop()
    _, again = watch(folder, db=db, policy=ScanPolicy(retry_errors=True))
    again.wait_for(lambda r: r.classified()[str(broken)] == 1)  # stored as an error, tried again
    settle_time()
    assert again.classified()[str(broken)] == 1


class _CtrlCInTheModel:
    """The tiny model, which presses Ctrl-C on this process in its first forward pass."""

    def __init__(self, classifier):
        self.classifier = classifier
        self.pressed = False

    def __getattr__(self, name):
        return getattr(self.classifier, name)

    def predict(self, inputs):
        if not self.pressed:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # still in the model while the main thread handles Ctrl-C
        return self.classifier.predict(inputs)


def test_ctrl_c_while_classifying_stops_once_the_batch_is_saved(tiny_model, tmp_path):
    # What `nsfw-desktop watch` does on Ctrl-C. Python 3.11's Thread.join, interrupted,
    # takes the thread for ended: the process then exited with the watcher inside torch,
    # which aborted it (SIGABRT, "terminate called without an active exception").
    folder = tmp_path / "inbox"
    write_photos(folder, 1)
    recorder = Recorder()
    watcher = Watcher([folder], _CtrlCInTheModel(make_classifier(str(tiny_model))),
                      tmp_path / "db.sqlite3", on_event=recorder)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        watcher.start()
        with pytest.raises(KeyboardInterrupt):
            watcher.wait(30)
        watcher.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert recorder.of(WatchStopped) == [WatchStopped(None)]  # the watcher's thread had ended
    assert recorder.classified() == {str(folder / "photo_0000.png"): 1}
    assert not watcher.running
