"""The quarantine's journal: intents written before a move, validated when read, and the
unfinished moves a killed process leaves completed or rolled back on the next start."""

import errno
import json
import logging
import os

import pytest

from nsfw_desktop.quarantine import moves as quarantine
from nsfw_desktop.quarantine.journal import LOG_NAME, Journal, origins, recover
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store, StoreError


class Killed(BaseException):
    """Stands for a SIGKILL: nothing of ours catches it, so the move stops where it is."""


def _kill(*args, **kwargs):
    raise Killed


def _busy(*args, **kwargs):
    raise StoreError("The results database is busy")


@pytest.fixture
def store(tmp_path):
    """A results store in the test's folder."""
    with Store(tmp_path / "results.sqlite3") as store:
        yield store


@pytest.fixture
def photo(tmp_path, store):
    """A scanned photo, photos/a.jpg."""
    path = tmp_path / "photos" / "a.jpg"
    path.parent.mkdir()
    path.write_bytes(b"photo")
    store.put_many([Result(path=str(path), label="nsfw", nsfw_score=0.9, model="m", width=4, height=3,
                           file_size=5, mtime_ns=1, scanned_at=0.0)])
    return path


def _visible(folder):
    return sorted(p for p in os.listdir(folder) if not p.startswith("."))


def test_the_intent_is_written_before_the_file_moves(tmp_path, store, photo, monkeypatch):
    monkeypatch.setattr(quarantine.os, "replace", _kill)
    with pytest.raises(Killed):
        quarantine.quarantine([str(photo)], tmp_path / "q", store)
    [intent] = Journal(tmp_path / "q").read()
    assert (intent.source, intent.destination) == (str(photo), str(tmp_path / "q" / "a.jpg"))
    assert intent.state == "open"


def test_the_intent_is_fsynced_before_the_rename(tmp_path, store, photo, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda *args: events.append("rename") or real_replace(*args))
    quarantine.quarantine([str(photo)], tmp_path / "q", store)
    assert events == ["fsync", "fsync", "rename"]  # the journal, its new folder entry, then the file


def test_a_kill_before_the_move_is_rolled_back(tmp_path, store, photo, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(quarantine.os, "replace", _kill)
        with pytest.raises(Killed):
            quarantine.quarantine([str(photo)], tmp_path / "q", store)
    assert _visible(tmp_path / "q") == ["a.jpg"]  # our empty placeholder
    recovery = recover(tmp_path / "q", store)
    assert [i.source for i in recovery.rolled_back] == [str(photo)] and not recovery.completed
    assert _visible(tmp_path / "q") == [] and photo.read_bytes() == b"photo"
    assert store.get(str(photo)) is not None and origins(tmp_path / "q") == {}


def test_a_kill_after_the_move_is_completed_and_the_database_follows(tmp_path, store, photo, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(quarantine, "follow", _kill)
        with pytest.raises(Killed):
            quarantine.quarantine([str(photo)], tmp_path / "q", store)
    target = str(tmp_path / "q" / "a.jpg")
    assert store.get(str(photo)) is not None and not photo.exists()
    recovery = recover(tmp_path / "q", store)
    assert [i.destination for i in recovery.completed] == [target]
    assert store.get(str(photo)) is None and store.get(target).nsfw_score == 0.9
    assert origins(tmp_path / "q") == {target: str(photo)}
    assert recover(tmp_path / "q", store).completed == []  # done once


def test_a_partial_copy_to_another_disk_is_removed_on_the_next_start(tmp_path, store, photo, monkeypatch):
    real_replace = os.replace

    def cross_device(src, dst):
        if os.fspath(src) == str(photo):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(src, dst)

    def half_copied(original, copy):
        copy.write(original.read(2))
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(quarantine.os, "replace", cross_device)
        patch.setattr(quarantine.shutil, "copyfileobj", half_copied)
        with pytest.raises(Killed):
            quarantine.quarantine([str(photo)], tmp_path / "q", store)
    assert (tmp_path / "q" / "a.jpg").read_bytes() == b"ph"
    recover(tmp_path / "q", store)
    assert _visible(tmp_path / "q") == [] and photo.read_bytes() == b"photo"


def test_damaged_and_foreign_lines_are_skipped_with_one_warning(tmp_path, caplog):
    folder = tmp_path / "q"
    folder.mkdir()
    good = {"from": "/photos/a.jpg", "to": str(folder / "a.jpg")}
    lines = ["5", '"text"', "[1, 2]", json.dumps({"from": 1, "to": "x"}), json.dumps({"done": 7}),
             json.dumps({"op": "delete", "id": "x"}), '{"op": "move", "id": "cut', json.dumps(good)]
    (folder / LOG_NAME).write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING):
        assert origins(folder) == {str(folder / "a.jpg"): "/photos/a.jpg"}
    assert [r.getMessage().split(" line")[0] for r in caplog.records] == ["skipped 7"]


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next(tmp_path, photo, store):
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / LOG_NAME).write_text('{"op": "move", "id": "ab", "from": "/x/y.jpg", "to": "/q')
    outcome = quarantine.quarantine([str(photo)], folder, store)
    assert origins(folder) == {outcome.moves[0].destination: str(photo)}


def test_lines_of_the_earlier_version_count_as_finished_moves(tmp_path, store):
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(b"x")
    old = [{"time": 1.0, "from": "/photos/a.jpg", "to": str(folder / "a.jpg")},
           {"time": 2.0, "from": "/photos/b.jpg", "to": str(folder / "b.jpg")},
           {"time": 3.0, "from": str(folder / "b.jpg"), "to": "/photos/b.jpg"}]
    (folder / LOG_NAME).write_text("".join(json.dumps(e) + "\n" for e in old))
    assert origins(folder) == {str(folder / "a.jpg"): "/photos/a.jpg"}
    recovery = recover(folder, store)
    assert not recovery.completed and not recovery.rolled_back


def test_an_unfinished_move_whose_name_was_used_later_leaves_that_file_alone(tmp_path, store, photo,
                                                                             monkeypatch):
    """A move left unfinished by a busy database, undone in the same session, then another
    file quarantined under the same name: recovery must not take that file for a placeholder."""
    with monkeypatch.context() as patch:
        patch.setattr(Store, "move", _busy)
        assert quarantine.quarantine([str(photo)], tmp_path / "q", store).database_error
    quarantine.undo([quarantine.Move(str(photo), str(tmp_path / "q" / "a.jpg"))], store)
    other = tmp_path / "other" / "a.jpg"
    other.parent.mkdir()
    other.write_bytes(b"other")
    quarantine.quarantine([str(other)], tmp_path / "q", store)
    recover(tmp_path / "q", store)
    assert (tmp_path / "q" / "a.jpg").read_bytes() == b"other" and photo.read_bytes() == b"photo"
    assert origins(tmp_path / "q") == {str(tmp_path / "q" / "a.jpg"): str(other)}
