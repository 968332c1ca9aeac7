"""The results database: one row per screened file, in SQLite (WAL).

Paths are stored as the exact bytes the file system gave (``os.fsencode``), so
names that are not valid UTF-8 survive a round trip. Every batch is committed
as soon as it is classified, so a killed scan loses nothing it finished.
A ``Store`` belongs to the thread that opened it; other threads open their own.

Scans with embeddings turned on also keep each file's CLS embedding (final
layer, after the final layer norm) as float16 in an ``embeddings`` table, in
the same transaction as its result. The tables, their triggers and the
upgrades from earlier schemas are in ``store.schema``.

Once a personal policy is adopted for a model (``learn.policy``), each of that
model's rows also carries a ``policy_score``, computed from its stored
embedding (``store.linear_policy``); ``put_many`` gives new rows theirs as they are
stored, in the same transaction, so a scan, the watcher and a fill-in all get
it. A review mark wins over both scores (``Result.flagged``). The policies and
evaluate's kept scores are in ``store.learning``; the files a walk found to be
no picture, so that a rescan need not open them again, in ``store.sniffed``.

Opening and SQLite's errors (``StoreError``) are the job of ``database``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from nsfw_desktop.store.database import StoreError as StoreError  # re-exported: callers catch it here
from nsfw_desktop.store.database import open_database, user_errors
from nsfw_desktop.store.learning import LearningTables
from nsfw_desktop.store.result import Fingerprint, Result
from nsfw_desktop.store.schema import SCHEMA, migrate
from nsfw_desktop.store.schema import SCHEMA_VERSION as SCHEMA_VERSION  # re-exported for callers
from nsfw_desktop.store.sniffed import SniffedFiles

EMBEDDING_DTYPE = np.dtype("<f2")  # float16, little-endian, whatever the machine

_FINGERPRINTS = """SELECT r.path, r.file_size, r.mtime_ns, r.model, r.nsfw_score, r.error IS NOT NULL,
    e.path IS NOT NULL, r.policy_score, r.review
    FROM results r LEFT JOIN embeddings e ON e.path = r.path AND e.model = r.model"""

_COLUMNS = ("path, label, nsfw_score, model, width, height, file_size, mtime_ns, scanned_at, error, "
            "review, missing_since, policy_score, kind, duration, worst_frame_time, frames, frame_scores")


class Store(LearningTables, SniffedFiles):
    """The results database at ``path``, created if needed; ``read_only=True`` opens an
    existing one without ever taking the write lock (so a running scan is never held up)
    and works on read-only media. Raises StoreError."""

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self.damaged_policies: set[str] = set()
        self.db = open_database(self.path, schema=SCHEMA, version=SCHEMA_VERSION,
                                read_only=read_only, migrate=migrate)

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
        them together. A review survives a change of model, not a change of the file itself.
        Each result that carries an embedding gets the policy score of its model's adopted
        policy (set on the Result too); the policy is read in the same write transaction, so a
        policy adopted meanwhile by another process is never missed."""
        results = list(results)
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
        for result, policy_score in zip(results, self.policy_scores(results), strict=True):
            result.policy_score = policy_score
        self.db.executemany(
            f"""INSERT INTO results ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,NULL,NULL,?,?,?,?,?,?)
            ON CONFLICT(path) DO UPDATE SET
                label=excluded.label, nsfw_score=excluded.nsfw_score, model=excluded.model,
                policy_score=excluded.policy_score,
                kind=excluded.kind, duration=excluded.duration,
                worst_frame_time=excluded.worst_frame_time, frames=excluded.frames,
                frame_scores=excluded.frame_scores,
                width=excluded.width, height=excluded.height, scanned_at=excluded.scanned_at,
                error=excluded.error, missing_since=NULL,
                review=CASE WHEN results.file_size=excluded.file_size
                             AND results.mtime_ns=excluded.mtime_ns
                            THEN results.review END,
                file_size=excluded.file_size, mtime_ns=excluded.mtime_ns""",
            [
                (os.fsencode(r.path), r.label, r.nsfw_score, r.model, r.width, r.height,
                 r.file_size, r.mtime_ns, r.scanned_at, r.error, r.policy_score, r.kind, r.duration,
                 r.worst_frame_time, r.frames,
                 None if r.frame_scores is None else json.dumps([[t, s] for t, s in r.frame_scores]))
                for r in results
            ],
        )
        vectors = [
            (os.fsencode(r.path), r.model, np.asarray(r.embedding, dtype=EMBEDDING_DTYPE).tobytes())
            for r in results if r.embedding is not None
        ]
        if vectors:
            # An upsert, not INSERT OR REPLACE: the replaced row's deletion would not reach the
            # embeddings_log (SQLite fires no delete trigger for REPLACE).
            self.db.executemany(
                """INSERT INTO embeddings (path, model, vector) VALUES (?,?,?) ON CONFLICT(path)
                DO UPDATE SET model=excluded.model, vector=excluded.vector""", vectors)
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
        """Every row (or those with a deciding score >= threshold, see ``Result.score``),
        highest deciding score first."""
        query = f"SELECT {_COLUMNS} FROM results"
        params: tuple = ()
        if threshold is not None:
            query += " WHERE error IS NULL AND COALESCE(policy_score, nsfw_score) >= ?"
            params = (threshold,)
        query += (" ORDER BY COALESCE(policy_score, nsfw_score) IS NULL, "
                  "COALESCE(policy_score, nsfw_score) DESC, path")
        for row in self.db.execute(query, params):
            yield Result.from_row(row)

    @user_errors
    def scored_paths(self, model: str) -> list[str]:
        """The pictures (not videos, not errors) scored by ``model`` in any precision: the id
        alone or with a precision's suffix (``+balanced``, ``+int8``)."""
        rows = self.db.execute("SELECT path FROM results WHERE error IS NULL AND kind = 'image' "
                               "AND (model = ? OR substr(model, 1, ?) = ?)",
                               (model, len(model) + 1, model + "+"))
        return [os.fsdecode(row[0]) for row in rows]

    @user_errors
    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    @user_errors
    def forget_gone(self, paths: Iterable[bytes]) -> tuple[int, int]:
        """Delete the rows of files found gone (path bytes), except reviewed ones: those are
        marked missing instead, so no review mark is lost to a scan. (deleted, marked missing)."""
        rows = [(path,) for path in paths]
        before = self.db.total_changes
        self.db.executemany("UPDATE results SET missing_since=? WHERE path=? AND review IS NOT NULL "
                            "AND missing_since IS NULL", [(time.time(), *p) for p in rows])
        marked = self.db.total_changes - before
        self.db.executemany("DELETE FROM results WHERE path=? AND review IS NULL", rows)
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
