import errno
import os

import pytest

from nsfw_desktop.quarantine import moves as quarantine
from nsfw_desktop.quarantine.journal import Journal, origins, recover
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store, StoreError


def _result(path, score=0.9):
    return Result(path=str(path), label="nsfw", nsfw_score=score, model="m", width=4, height=3,
                  file_size=5, mtime_ns=1, scanned_at=0.0)


@pytest.fixture
def store(tmp_path):
    """A results store in the test's folder."""
    with Store(tmp_path / "results.sqlite3") as store:
        yield store


def _photo(folder, name, content):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def test_quarantine_moves_and_the_store_follows(tmp_path, store):
    photo = _photo(tmp_path / "photos", "a.jpg", b"one")
    store.put_many([_result(photo)])
    store.set_review([str(photo)], "nsfw")
    outcome = quarantine.quarantine([str(photo)], tmp_path / "q", store)
    target = tmp_path / "q" / "a.jpg"
    assert outcome.moves == [quarantine.Move(str(photo), str(target))] and not outcome.failures
    assert not photo.exists() and target.read_bytes() == b"one"
    assert store.get(str(photo)) is None
    assert store.get(str(target)).review == "nsfw"


def test_name_collisions_never_overwrite(tmp_path, store):
    folder = tmp_path / "q"
    _photo(folder, "a.jpg", b"already there")
    _photo(folder, "a (1).jpg", b"also there")
    first = _photo(tmp_path / "x", "a.jpg", b"first")
    second = _photo(tmp_path / "y", "a.jpg", b"second")
    outcome = quarantine.quarantine([str(first), str(second)], folder, store)
    assert [os.path.basename(m.destination) for m in outcome.moves] == ["a (2).jpg", "a (3).jpg"]
    assert (folder / "a.jpg").read_bytes() == b"already there"
    assert (folder / "a (1).jpg").read_bytes() == b"also there"
    assert (folder / "a (2).jpg").read_bytes() == b"first"
    assert (folder / "a (3).jpg").read_bytes() == b"second"


def test_undo_puts_files_back(tmp_path, store):
    photos = [_photo(tmp_path / "p", f"{i}.png", bytes([i])) for i in range(3)]
    store.put_many([_result(p) for p in photos])
    moved = quarantine.quarantine([str(p) for p in photos], tmp_path / "q", store)
    restored = quarantine.undo(moved.moves, store)
    assert not restored.failures
    assert [m.destination for m in restored.moves] == [str(p) for p in photos]
    for i, p in enumerate(photos):
        assert p.read_bytes() == bytes([i])
        assert store.get(str(p)) is not None
    assert [p for p in os.listdir(tmp_path / "q") if not p.startswith(".")] == []
    journal = Journal(tmp_path / "q").read()
    assert len(journal) == 6 and journal[0].source == str(photos[0])
    assert all(intent.state == "done" for intent in journal)


def test_undo_does_not_overwrite_a_new_file_with_the_old_name(tmp_path, store):
    photo = _photo(tmp_path / "p", "a.jpg", b"quarantined")
    moved = quarantine.quarantine([str(photo)], tmp_path / "q", store)
    photo.write_bytes(b"newcomer")
    restored = quarantine.undo(moved.moves, store)
    assert photo.read_bytes() == b"newcomer"
    assert restored.moves[0].destination == str(tmp_path / "p" / "a (1).jpg")
    assert (tmp_path / "p" / "a (1).jpg").read_bytes() == b"quarantined"


def test_missing_files_are_reported_and_the_rest_moved(tmp_path, store):
    photo = _photo(tmp_path / "p", "a.jpg", b"x")
    outcome = quarantine.quarantine([str(tmp_path / "p" / "gone.jpg"), str(photo)], tmp_path / "q", store)
    assert outcome.failures == [(str(tmp_path / "p" / "gone.jpg"), "the file no longer exists")]
    assert len(outcome.moves) == 1
    assert not (tmp_path / "q" / "gone.jpg").exists()  # no placeholder left behind


def test_a_file_already_in_quarantine_stays_put(tmp_path, store):
    inside = _photo(tmp_path / "q", "a.jpg", b"x")
    outcome = quarantine.quarantine([str(inside)], tmp_path / "q", store)
    assert outcome.failures == [(str(inside), "already in the quarantine folder")]
    assert inside.read_bytes() == b"x"


def test_another_file_system_is_copied_then_removed(tmp_path, store, monkeypatch):
    photo = _photo(tmp_path / "p", "a.jpg", b"content")
    _cross_device_for(monkeypatch, photo)
    synced = []
    monkeypatch.setattr(quarantine, "sync_folder", synced.append)
    outcome = quarantine.quarantine([str(photo)], tmp_path / "q", store)
    assert not photo.exists() and (tmp_path / "q" / "a.jpg").read_bytes() == b"content"
    assert outcome.moves == [quarantine.Move(str(photo), str(tmp_path / "q" / "a.jpg"))]
    assert synced == [str(tmp_path / "q")]  # the copy's folder, before the original went


def test_an_unwritable_quarantine_folder_fails_every_file_with_the_reason(tmp_path, store):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    photo = _photo(tmp_path / "p", "a.jpg", b"x")
    outcome = quarantine.quarantine([str(photo)], blocker / "q", store)
    assert not outcome.moves and "cannot create the quarantine folder" in outcome.failures[0][1]
    assert photo.exists()


def test_undo_recreates_a_folder_removed_meanwhile(tmp_path, store):
    photo = _photo(tmp_path / "p" / "sub", "a.jpg", b"x")
    moved = quarantine.quarantine([str(photo)], tmp_path / "q", store)
    os.rmdir(tmp_path / "p" / "sub")
    restored = quarantine.undo(moved.moves, store)
    assert restored.moves[0].destination == str(photo) and photo.read_bytes() == b"x"


def _cross_device_for(monkeypatch, photo):
    """os.replace of ``photo`` fails as it does across file systems."""
    real_replace = os.replace

    def cross_device(src, dst):
        if os.fspath(src) == str(photo):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    monkeypatch.setattr(quarantine.os, "replace", cross_device)


def test_a_source_that_may_not_be_deleted_leaves_no_copy_in_quarantine(tmp_path, store, monkeypatch):
    photo = _photo(tmp_path / "readonly", "ro.jpg", b"x")
    _cross_device_for(monkeypatch, photo)
    real_unlink = os.unlink

    def read_only_folder(path, *args, **kwargs):  # tests run as root, where chmod would not stop it
        if os.fspath(path) == str(photo):
            raise PermissionError(errno.EACCES, "Permission denied", str(photo))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(quarantine.os, "unlink", read_only_folder)
    for _attempt in range(2):
        outcome = quarantine.quarantine([str(photo)], tmp_path / "q", store)
        assert outcome.failures == [(str(photo), "permission denied")] and not outcome.moves
    assert [p for p in os.listdir(tmp_path / "q") if not p.startswith(".")] == []
    assert photo.read_bytes() == b"x"


def _busy(*args, **kwargs):
    raise StoreError("The results database is busy: another nsfw-desktop is writing to it.")


def test_a_busy_database_keeps_the_move_in_the_journal_and_catches_up_later(tmp_path, store, monkeypatch):
    photos = [_photo(tmp_path / "p", f"{i}.jpg", bytes([i])) for i in range(2)]
    store.put_many([_result(p) for p in photos])
    with monkeypatch.context() as patch:
        patch.setattr(Store, "move", _busy)
        outcome = quarantine.quarantine([str(p) for p in photos], tmp_path / "q", store)
    assert "busy" in outcome.database_error and not outcome.failures
    moved = [m.destination for m in outcome.moves]
    assert moved == [str(tmp_path / "q" / "0.jpg"), str(tmp_path / "q" / "1.jpg")]
    assert origins(tmp_path / "q") == {m.destination: m.source for m in outcome.moves}
    assert store.get(str(photos[0])) is not None  # not followed yet
    recovery = recover(tmp_path / "q", store)
    assert [i.destination for i in recovery.completed] == moved and recovery.database_error is None
    assert store.get(str(photos[0])) is None and store.get(moved[0]) is not None
    assert [i.state for i in Journal(tmp_path / "q").read()] == ["done", "done"]
