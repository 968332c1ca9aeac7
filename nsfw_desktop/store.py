"""The results database: one row per screened file, in SQLite (WAL).

Paths are stored as the exact bytes the file system gave (``os.fsencode``), so
names that are not valid UTF-8 survive a round trip. Every batch is committed
as soon as it is classified, so a killed scan loses nothing it finished.
A ``Store`` belongs to the thread that opened it; other threads open their own.
Opening and SQLite's errors (``StoreError``) are the job of ``database``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from nsfw_desktop.database import StoreError as StoreError  # re-exported: callers catch it here
from nsfw_desktop.database import open_database, user_errors

SCHEMA_VERSION = 1

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
    review TEXT                     -- a person's verdict: 'safe', 'nsfw' or NULL
);
CREATE INDEX IF NOT EXISTS results_score ON results (nsfw_score);
"""

_COLUMNS = "path, label, nsfw_score, model, width, height, file_size, mtime_ns, scanned_at, error, review"


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
    # float32 vector from a scan with embeddings; the embeddings table keeps it, not this one
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
                                read_only=read_only)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @user_errors
    def fingerprints(self) -> dict[bytes, Fingerprint]:
        """path bytes -> what decides whether a stored row is still current, and its outcome."""
        rows = self.db.execute(
            "SELECT path, file_size, mtime_ns, model, nsfw_score, error IS NOT NULL FROM results")
        return {row[0]: Fingerprint(*row[1:]) for row in rows}

    @user_errors
    def put_many(self, results: Iterable[Result]) -> None:
        """Insert or replace results and commit. A review survives a change of model,
        not a change of the file itself."""
        self.db.executemany(
            f"""INSERT INTO results ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,NULL)
            ON CONFLICT(path) DO UPDATE SET
                label=excluded.label, nsfw_score=excluded.nsfw_score, model=excluded.model,
                width=excluded.width, height=excluded.height, scanned_at=excluded.scanned_at,
                error=excluded.error,
                review=CASE WHEN results.file_size=excluded.file_size
                             AND results.mtime_ns=excluded.mtime_ns
                            THEN results.review END,
                file_size=excluded.file_size, mtime_ns=excluded.mtime_ns""",
            [
                (os.fsencode(r.path), r.label, r.nsfw_score, r.model, r.width, r.height,
                 r.file_size, r.mtime_ns, r.scanned_at, r.error)
                for r in results
            ],
        )
        self.db.commit()

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

