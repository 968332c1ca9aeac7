"""The results database: one row per screened file, in SQLite (WAL).

Paths are stored as the exact bytes the file system gave (``os.fsencode``), so
names that are not valid UTF-8 survive a round trip. Every batch is committed
as soon as it is classified, so a killed scan loses nothing it finished.
A ``Store`` belongs to the thread that opened it; other threads open their own.

Scans with embeddings turned on also keep each file's CLS embedding (final
layer, after the final layer norm) as float16 in an ``embeddings`` table. The
store owns that table too: triggers on ``results`` keep the two in step
whoever writes (a removed row takes its embedding along, a moved file keeps
it, a file classified again after a change, or by another model, loses the old
one), and a generation counter, bumped on every change of the table, tells a
kept search matrix (``search.py``) that it is out of date.

Opening and SQLite's errors (``StoreError``) are the job of ``database``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nsfw_desktop.database import StoreError as StoreError  # re-exported: callers catch it here
from nsfw_desktop.database import open_database, user_errors

SCHEMA_VERSION = 3  # 2: results.missing_since; 3: kind, duration, worst_frame_time, frames
EMBEDDING_DTYPE = np.dtype("<f2")  # float16, little-endian, whatever the machine

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    path BLOB PRIMARY KEY,          -- os.fsencode(path)
    label TEXT,                     -- the model's top label; NULL for errors
    nsfw_score REAL,                -- 0..1; NULL for errors
    model TEXT NOT NULL,            -- model id: a change of model classifies again
    width INTEGER,
    height INTEGER,
    file_size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    scanned_at REAL NOT NULL,       -- seconds since the epoch
    error TEXT,                     -- why the file could not be classified
    review TEXT,                    -- a person's verdict: 'safe', 'nsfw' or NULL
    missing_since REAL,             -- a reviewed file a scan found gone; NULL while it is there
    kind TEXT NOT NULL DEFAULT 'image',  -- 'image' or 'video'
    duration REAL,                  -- a video's, in seconds
    worst_frame_time REAL,          -- seconds into a video of its highest-scoring frame
    frames INTEGER                  -- frames sampled from a video
);
CREATE INDEX IF NOT EXISTS results_score ON results (nsfw_score);
CREATE TABLE IF NOT EXISTS embeddings (
    path BLOB PRIMARY KEY,          -- os.fsencode(path), as in results
    model TEXT NOT NULL,            -- model id the vector came from; only same-model vectors compare
    vector BLOB NOT NULL            -- float16 little-endian CLS embedding
);
CREATE INDEX IF NOT EXISTS embeddings_model ON embeddings (model);
CREATE TABLE IF NOT EXISTS embeddings_generation (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    generation INTEGER NOT NULL     -- bumped on every change: kept search matrices reload
);
INSERT OR IGNORE INTO embeddings_generation VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS embeddings_follow_removal AFTER DELETE ON results
WHEN EXISTS (SELECT 1 FROM embeddings WHERE path = OLD.path)
BEGIN
    DELETE FROM embeddings WHERE path = OLD.path;
    UPDATE embeddings_generation SET generation = generation + 1;
END;
CREATE TRIGGER IF NOT EXISTS embeddings_follow_move AFTER UPDATE OF path ON results
WHEN EXISTS (SELECT 1 FROM embeddings WHERE path = OLD.path)
BEGIN
    UPDATE embeddings SET path = NEW.path WHERE path = OLD.path;
    UPDATE embeddings_generation SET generation = generation + 1;
END;
CREATE TRIGGER IF NOT EXISTS embeddings_drop_stale AFTER UPDATE OF file_size, mtime_ns, model ON results
WHEN (OLD.file_size IS NOT NEW.file_size OR OLD.mtime_ns IS NOT NEW.mtime_ns
      OR OLD.model IS NOT NEW.model)
     AND EXISTS (SELECT 1 FROM embeddings WHERE path = NEW.path)
BEGIN
    DELETE FROM embeddings WHERE path = NEW.path;
    UPDATE embeddings_generation SET generation = generation + 1;
END;
"""

_FINGERPRINTS = """SELECT r.path, r.file_size, r.mtime_ns, r.model, r.nsfw_score, r.error IS NOT NULL,
    e.path IS NOT NULL FROM results r LEFT JOIN embeddings e ON e.path = r.path AND e.model = r.model"""

_COLUMNS = ("path, label, nsfw_score, model, width, height, file_size, mtime_ns, scanned_at, error, "
            "review, missing_since, kind, duration, worst_frame_time, frames")


@dataclass
class Result:
    path: str
    label: str | None
    nsfw_score: float | None
    model: str
    width: int | None
    height: int | None
    file_size: int
    mtime_ns: int
    scanned_at: float
    error: str | None = None
    review: str | None = None
    missing_since: float | None = None  # seconds since the epoch; set on reviewed files found gone
    kind: str = "image"  # or "video"
    duration: float | None = None  # a video's, in seconds
    worst_frame_time: float | None = None  # seconds into a video of its highest-scoring frame
    frames: int | None = None  # frames sampled from a video
    # float32 vector from a scan with embeddings; put_many keeps it in the embeddings table
    embedding: Any = field(default=None, repr=False, compare=False)

    def flagged(self, threshold: float) -> bool:
        return self.error is None and self.nsfw_score is not None and self.nsfw_score >= threshold

    @property
    def modified(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9).astimezone()

    @classmethod
    def from_row(cls, row: tuple) -> Result:
        return cls(os.fsdecode(row[0]), *row[1:])


class Fingerprint(NamedTuple):
    file_size: int
    mtime_ns: int
    model: str
    nsfw_score: float | None
    failed: bool
    has_embedding: bool  # an embedding of the row's own model is stored

    def current(self, size: int, mtime_ns: int, model: str) -> bool:
        return (self.file_size, self.mtime_ns, self.model) == (size, mtime_ns, model)


class Store:
    """The results database at ``path``, created if needed; ``read_only=True`` opens an
    existing one without ever taking the write lock (so a running scan is never held up)
    and works on read-only media. Raises StoreError."""

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.db = open_database(self.path, schema=_SCHEMA, version=SCHEMA_VERSION,
                                read_only=read_only, migrate=_migrate)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @user_errors
    def fingerprints(self) -> dict[bytes, Fingerprint]:
        """path bytes -> what decides whether a stored row is still current, and its outcome."""
        return {row[0]: Fingerprint(*row[1:]) for row in self.db.execute(_FINGERPRINTS)}

    @user_errors
    def fingerprint(self, path: str) -> Fingerprint | None:
        """The Fingerprint of one file's row, or None."""
        row = self.db.execute(_FINGERPRINTS + " WHERE r.path=?", (os.fsencode(path),)).fetchone()
        return Fingerprint(*row[1:]) if row else None

    @user_errors
    def put_many(self, results: Iterable[Result]) -> None:
        """Insert or replace results, with the embedding of each that carries one, and commit
        them together. A review survives a change of model, not a change of the file itself."""
        results = list(results)
        self.db.executemany(
            f"""INSERT INTO results ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,NULL,NULL,?,?,?,?)
            ON CONFLICT(path) DO UPDATE SET
                label=excluded.label, nsfw_score=excluded.nsfw_score, model=excluded.model,
                kind=excluded.kind, duration=excluded.duration,
                worst_frame_time=excluded.worst_frame_time, frames=excluded.frames,
                width=excluded.width, height=excluded.height, scanned_at=excluded.scanned_at,
                error=excluded.error, missing_since=NULL,
                review=CASE WHEN results.file_size=excluded.file_size
                             AND results.mtime_ns=excluded.mtime_ns
                            THEN results.review END,
                file_size=excluded.file_size, mtime_ns=excluded.mtime_ns""",
            [
                (os.fsencode(r.path), r.label, r.nsfw_score, r.model, r.width, r.height,
                 r.file_size, r.mtime_ns, r.scanned_at, r.error, r.kind, r.duration,
                 r.worst_frame_time, r.frames)
                for r in results
            ],
        )
        vectors = [
            (os.fsencode(r.path), r.model, np.asarray(r.embedding, dtype=EMBEDDING_DTYPE).tobytes())
            for r in results if r.embedding is not None
        ]
        if vectors:
            self.db.executemany("INSERT OR REPLACE INTO embeddings (path, model, vector) VALUES (?,?,?)",
                                vectors)
            self.db.execute("UPDATE embeddings_generation SET generation = generation + 1")
        self.db.commit()

    @user_errors
    def embedding(self, path: str, model: str) -> np.ndarray | None:
        """The stored float32 embedding of ``path`` by ``model``, or None."""
        row = self.db.execute("SELECT vector FROM embeddings WHERE path=? AND model=?",
                              (os.fsencode(path), model)).fetchone()
        return np.frombuffer(row[0], dtype=EMBEDDING_DTYPE).astype(np.float32) if row else None

    @user_errors
    def embedding_count(self, model: str | None = None) -> int:
        if model is None:
            return self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()[0]

    @user_errors
    def get(self, path: str) -> Result | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM results WHERE path=?", (os.fsencode(path),)
        ).fetchone()
        return Result.from_row(row) if row else None

    @user_errors
    def results(self, *, threshold: float | None = None) -> Iterator[Result]:
        """Every row (or those with nsfw_score >= threshold), highest score first."""
        query = f"SELECT {_COLUMNS} FROM results"
        params: tuple = ()
        if threshold is not None:
            query += " WHERE error IS NULL AND nsfw_score >= ?"
            params = (threshold,)
        query += " ORDER BY nsfw_score IS NULL, nsfw_score DESC, path"
        for row in self.db.execute(query, params):
            yield Result.from_row(row)

    @user_errors
    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    @user_errors
    def forget_gone(self, paths: Iterable[bytes]) -> tuple[int, int]:
        """Delete the rows of files found gone (path bytes), except reviewed ones: those are
        marked missing instead, so no review mark is lost to a scan. (deleted, marked missing)."""
        paths = [(path,) for path in paths]
        before = self.db.total_changes
        self.db.executemany("UPDATE results SET missing_since=? WHERE path=? AND review IS NOT NULL "
                            "AND missing_since IS NULL", [(time.time(), *p) for p in paths])
        marked = self.db.total_changes - before
        self.db.executemany("DELETE FROM results WHERE path=? AND review IS NULL", paths)
        deleted = self.db.total_changes - before - marked
        self.db.commit()
        return deleted, marked

    @user_errors
    def mark_found(self, paths: set[bytes]) -> None:
        """Clear the missing mark of the rows among ``paths`` (path bytes): their files are back."""
        missing = [row[0] for row in self.db.execute(
            "SELECT path FROM results WHERE missing_since IS NOT NULL")]
        back = [(path,) for path in missing if path in paths]
        if back:
            self.db.executemany("UPDATE results SET missing_since=NULL WHERE path=?", back)
            self.db.commit()

    @user_errors
    def missing_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results WHERE missing_since IS NOT NULL").fetchone()[0]

    @user_errors
    def remove(self, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM results WHERE path=?", [(os.fsencode(p),) for p in paths])
        self.db.commit()

    @user_errors
    def move(self, old: str, new: str) -> None:
        """Follow a file that was moved or renamed, keeping its result and review."""
        self.db.execute("DELETE FROM results WHERE path=?", (os.fsencode(new),))
        self.db.execute(
            "UPDATE results SET path=? WHERE path=?", (os.fsencode(new), os.fsencode(old))
        )
        self.db.commit()

    @user_errors
    def set_review(self, paths: Iterable[str], review: str | None) -> None:
        if review not in (None, "safe", "nsfw"):
            raise ValueError(f"review must be 'safe', 'nsfw' or None, not {review!r}")
        self.db.executemany(
            "UPDATE results SET review=? WHERE path=?", [(review, os.fsencode(p)) for p in paths]
        )
        self.db.commit()


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a database of an earlier schema up to this one (before the schema script runs)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
    if columns and "missing_since" not in columns:  # schema 1
        db.execute("ALTER TABLE results ADD COLUMN missing_since REAL")
    if columns and "kind" not in columns:  # schema 2
        db.execute("ALTER TABLE results ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'")
        db.execute("ALTER TABLE results ADD COLUMN duration REAL")
        db.execute("ALTER TABLE results ADD COLUMN worst_frame_time REAL")
        db.execute("ALTER TABLE results ADD COLUMN frames INTEGER")
