"""The results database: versions and upgrades, broken and busy files, read-only access, file modes,
embeddings written with their rows."""

from __future__ import annotations

import os
import sqlite3
import stat

import numpy as np
import pytest

from nsfw_desktop.store import database
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import SCHEMA_VERSION, Store, StoreError


def result(i: int, *, error: str | None = None) -> Result:
    return Result(path=f"/photos/{i:06d}-{'x' * 200}.jpg", label="normal", nsfw_score=0.1,
                  model="m", width=640, height=480, file_size=1000 + i, mtime_ns=i,
                  scanned_at=1.0, error=error)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def short_busy_timeout(monkeypatch):
    monkeypatch.setattr(database, "BUSY_TIMEOUT_S", 0.2)


def test_a_newer_schema_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as db:
        db.put_many([result(1)])
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    for read_only in (False, True):
        with pytest.raises(StoreError) as caught:
            Store(path, read_only=read_only)
        assert str(caught.value) == (
            f"This results database was written by a newer nsfw-desktop (schema {SCHEMA_VERSION + 1}; "
            f"this version "
            f"reads up to {SCHEMA_VERSION}). Update nsfw-desktop. Or use another database with --db.")
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert raw.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 1
    raw.close()


@pytest.mark.parametrize("content", [b"path,label\n/a.jpg,normal\n" * 200, os.urandom(8192)],
                         ids=["text", "random"])
@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_that_is_not_a_database_is_refused_and_kept(tmp_path, content, read_only):
    path = tmp_path / "results.csv"
    path.write_bytes(content)
    with pytest.raises(StoreError) as caught:
        Store(path, read_only=read_only)
    assert str(caught.value) == (f"{path} is not an nsfw-desktop results database "
                                 "(file is not a database)")
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_full_disk_fails_with_a_clear_message_and_keeps_what_was_saved(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as db:
        db.put_many([result(i) for i in range(5)])
        pages = db.db.execute("PRAGMA page_count").fetchone()[0]
        db.db.execute(f"PRAGMA max_page_count={pages}")  # the disk is now full
        with pytest.raises(StoreError) as caught:
            db.put_many([result(i) for i in range(5, 500)])
        assert str(caught.value) == (
            f"The disk holding the results database {path} is full: free some space, then run "
            "again. Everything saved before is kept.")
        assert db.count() == 5  # the failed batch was rolled back, the connection still works
    with Store(path) as db:
        assert db.count() == 5


def test_a_database_another_process_is_writing_is_busy(tmp_path, short_busy_timeout):
    path = tmp_path / "r.db"
    with Store(path) as db:
        db.put_many([result(1)])
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as caught, Store(path) as db:
            db.put_many([result(2)])
        assert str(caught.value) == (
            f"The results database {path} is busy: another nsfw-desktop is writing to it. "
            "Wait for it to finish. Use another database with --db.")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    with Store(path) as db:
        assert db.count() == 1


def test_read_only_store_reads_while_a_scan_holds_the_write_lock(tmp_path, short_busy_timeout):
    path = tmp_path / "r.db"
    with Store(path) as db:
        db.put_many([result(i) for i in range(3)])
    scan = sqlite3.connect(path, isolation_level=None)
    scan.execute("BEGIN IMMEDIATE")
    scan.execute("DELETE FROM results")  # not committed: readers still see the three rows
    try:
        with Store(path, read_only=True) as db:
            assert [r.file_size for r in db.results()] == [1000, 1001, 1002]
            with pytest.raises(StoreError, match="read-only"):
                db.put_many([result(9)])
    finally:
        scan.execute("ROLLBACK")
        scan.close()


def test_read_only_store_needs_an_existing_database(tmp_path):
    missing = tmp_path / "none" / "r.db"
    with pytest.raises(StoreError) as caught:
        Store(missing, read_only=True)
    assert str(caught.value) == (f"There is no results database at {missing}: scan a folder "
                                 "first. Or name the database with --db.")
    assert not missing.parent.exists()


def test_database_and_its_wal_files_are_readable_by_the_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "new" / "r.db"
        with Store(path) as db:
            db.put_many([result(1)])
            files = [path, path.with_name("r.db-wal"), path.with_name("r.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
            assert mode(path.parent) == 0o700
    finally:
        os.umask(old)


def run_on_read_only_media(folder, code: str):
    """Run Python ``code`` in a mount namespace where ``folder`` is a read-only file system."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("mounting a read-only file system needs root and unshare")
    script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" -c "$3"'
    done = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", str(folder),
                           sys.executable, code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    if "mount" in done.stderr and done.returncode != 0:
        pytest.skip(f"cannot mount a read-only file system here: {done.stderr.strip()}")
    return done


def test_read_only_media_is_read_and_refuses_writes(tmp_path):
    import shutil

    media = tmp_path / "media"
    with Store(media / "r.db") as db:
        db.put_many([result(i) for i in range(3)])
    assert not (media / "r.db-wal").exists()  # closed cleanly, as a copied database is
    # A copy taken while a scan was writing: the latest results are only in the -wal file.
    crashed = media / "crashed"
    crashed.mkdir()
    with Store(tmp_path / "live.db") as db:
        db.db.execute("PRAGMA wal_autocheckpoint=0")
        db.put_many([result(1)])
        for name in ("live.db", "live.db-wal"):
            shutil.copyfile(tmp_path / name, crashed / name)
    code = f"""
from nsfw_desktop.store.results import Store, StoreError
with Store({str(media / "r.db")!r}, read_only=True) as db:
    print(db.count())
for path, read_only in [({str(media / "r.db")!r}, False), ({str(crashed / "live.db")!r}, True)]:
    try:
        Store(path, read_only=read_only)
    except StoreError as exc:
        print(exc)
"""
    done = run_on_read_only_media(media, code)
    assert done.returncode == 0, done.stderr
    live = crashed / "live.db"
    assert done.stdout.splitlines() == [
        "3",
        f"Cannot write the results database {media / 'r.db'}: it or its folder is read-only "
        "(read-only media, or no permission). Use another database with --db.",
        f"Cannot read the results database {live} here: its latest results are in {live}-wal, "
        "and SQLite cannot open them on read-only media. Copy both files to a writable folder. "
        "Use that copy with --db."]
    assert sorted(p.name for p in media.iterdir()) == ["crashed", "r.db"]


SCHEMA_1 = """
CREATE TABLE results (
    path BLOB PRIMARY KEY, label TEXT, nsfw_score REAL, model TEXT NOT NULL, width INTEGER,
    height INTEGER, file_size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, scanned_at REAL NOT NULL,
    error TEXT, review TEXT
);
INSERT INTO results VALUES (X'2f612e6a7067', 'nsfw', 0.9, 'm', 10, 10, 5, 6, 7.0, NULL, 'safe');
PRAGMA user_version = 1;
"""


def test_a_schema_1_database_is_upgraded_keeping_its_rows_and_reviews(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
    with Store(path) as store:
        row = store.get("/a.jpg")
        assert (row.nsfw_score, row.review, row.missing_since) == (0.9, "safe", None)
        assert (row.kind, row.duration, row.worst_frame_time, row.frames, row.frame_scores) == (
            "image", None, None, None, None)
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.sniffed() == {}  # the table of files known to be no picture


def test_a_video_row_keeps_its_duration_worst_frame_time_and_frames(tmp_path):
    video = Result("/v.mp4", "nsfw", 0.8, "m", 1920, 1080, 10, 1, 0.0, kind="video", duration=65.0,
                   worst_frame_time=42.5, frames=3, frame_scores=[(2.5, 0.1), (42.5, 0.8), (60.0, 0.25)])
    with Store(tmp_path / "r.sqlite3") as store:
        store.put_many([video])
        assert store.get("/v.mp4") == video
        store.put_many([Result("/v.mp4", "normal", 0.1, "m", 10, 10, 11, 2, 0.0)])  # now a picture
        assert (store.get("/v.mp4").kind, store.get("/v.mp4").worst_frame_time) == ("image", None)


def test_a_batch_and_its_embeddings_are_one_commit(tmp_path):
    def row(path, embedding=None):
        return Result(path, "normal", 0.1, "m", 1, 1, 1, 1, 0.0, embedding=embedding)

    with Store(tmp_path / "r.sqlite3") as store:
        store.put_many([row("/a.jpg", np.ones(4, np.float32)), row("/b.jpg")])
        assert store.embedding_count("m") == 1
        assert not store.db.in_transaction
        assert store.fingerprint("/a.jpg").has_embedding and not store.fingerprint("/b.jpg").has_embedding


def test_an_older_schema_opened_read_only_says_how_to_upgrade(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
    with pytest.raises(StoreError, match="earlier nsfw-desktop .*Scan once"):
        Store(path, read_only=True)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # left as it was


def test_a_database_of_the_version_before_the_sniffed_table_stays_readable_and_gains_it(tmp_path):
    """No new schema version for an added table: a read-only command reads the previous
    version's database as it is, and the next scan adds the table."""
    path = tmp_path / "r.db"
    with Store(path) as db:
        db.put_many([result(1)])
        db.db.execute("DROP TABLE sniffed")  # as the version before left it
        db.db.commit()
    with Store(path, read_only=True) as db:
        assert db.count() == 1
    with Store(path) as db:
        assert db.sniffed() == {}
        assert db.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
