"""The results database: schema upgrades, embeddings written with their rows."""

from __future__ import annotations

import sqlite3

import numpy as np

from nsfw_desktop.store import SCHEMA_VERSION, Result, Store

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
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_batch_and_its_embeddings_are_one_commit(tmp_path):
    def row(path, embedding=None):
        return Result(path, "normal", 0.1, "m", 1, 1, 1, 1, 0.0, embedding=embedding)

    with Store(tmp_path / "r.sqlite3") as store:
        store.put_many([row("/a.jpg", np.ones(4, np.float32)), row("/b.jpg")])
        assert store.embedding_count("m") == 1
        assert not store.db.in_transaction
        assert store.fingerprint("/a.jpg").has_embedding and not store.fingerprint("/b.jpg").has_embedding
