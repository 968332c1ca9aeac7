"""The results database's tables and triggers, and the upgrades from earlier schemas.

``results`` holds one row per screened file. ``embeddings`` holds the float16
CLS embedding of files scanned with embeddings on; triggers on ``results`` keep
the two in step whoever writes (a removed row takes its embedding along, a
moved file keeps it, a file classified again after a change, or by another
model, loses the old one), and a generation counter, bumped on every change of
the table, tells a kept search matrix (``similar.matrix``) that it is out of
date. The ``embeddings_log`` says which rows changed (by rowid, the most recent
100,000 changes), so that matrix follows a scan batch or a removal without a
reload; a move keeps its row and needs nothing. ``database_identity`` tells two
databases at the same path apart. The personal policies' tables are in
``store.learning``; the files known to be no picture (``sniffed``) in
``store.sniffed``.
"""

from __future__ import annotations

import sqlite3

from nsfw_desktop.store.learning import LEARNING_SCHEMA
from nsfw_desktop.store.sniffed import SNIFFED_SCHEMA

SCHEMA_VERSION = 6  # 2: results.missing_since; 3: results.policy_score, policies,
# evaluation_scores; 4: embeddings_log, database_identity; 5: kind, duration, worst_frame_time, frames;
# 6: frame_scores. The sniffed table came without a new version: the schema script adds it on the
# next writable opening, an older nsfw-desktop ignores it, and read-only commands never read it, so
# a database stays readable (export, similar on a read-only copy) and usable by the version before.

SCHEMA = """
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
    policy_score REAL,              -- 0..1 from the policy of the row's model; NULL without one
    kind TEXT NOT NULL DEFAULT 'image',  -- 'image' or 'video'
    duration REAL,                  -- a video's, in seconds
    worst_frame_time REAL,          -- seconds into a video of its highest-scoring frame
    frames INTEGER,                 -- frames sampled from a video
    frame_scores TEXT               -- a video's frames as JSON [[seconds, score], ...] in time order
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
CREATE TABLE IF NOT EXISTS embeddings_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a matrix knows where it stopped
    row INTEGER NOT NULL            -- rowid of an embeddings row added, replaced or deleted
);
CREATE TRIGGER IF NOT EXISTS embeddings_log_insert AFTER INSERT ON embeddings
BEGIN INSERT INTO embeddings_log (row) VALUES (NEW.rowid); END;
CREATE TRIGGER IF NOT EXISTS embeddings_log_change AFTER UPDATE OF model, vector ON embeddings
BEGIN INSERT INTO embeddings_log (row) VALUES (NEW.rowid); END;
CREATE TRIGGER IF NOT EXISTS embeddings_log_delete AFTER DELETE ON embeddings
BEGIN INSERT INTO embeddings_log (row) VALUES (OLD.rowid); END;
-- A matrix further behind than this rebuilds: by then that is about as quick.
CREATE TRIGGER IF NOT EXISTS embeddings_log_trim AFTER INSERT ON embeddings_log
BEGIN DELETE FROM embeddings_log WHERE seq <= NEW.seq - 100000; END;
CREATE TABLE IF NOT EXISTS database_identity (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    id TEXT NOT NULL                -- random, made with the database: files kept for it say whose
);
INSERT OR IGNORE INTO database_identity VALUES (0, lower(hex(randomblob(16))));
""" + LEARNING_SCHEMA + SNIFFED_SCHEMA


def migrate(db: sqlite3.Connection) -> None:
    """Bring a database of an earlier schema up to this one (before the schema script runs)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(results)")}
    if columns and "missing_since" not in columns:  # schema 1
        db.execute("ALTER TABLE results ADD COLUMN missing_since REAL")
    if columns and "policy_score" not in columns:  # schema 1 and 2
        db.execute("ALTER TABLE results ADD COLUMN policy_score REAL")
    if columns and "kind" not in columns:  # schema 1 to 4
        db.execute("ALTER TABLE results ADD COLUMN kind TEXT NOT NULL DEFAULT 'image'")
        db.execute("ALTER TABLE results ADD COLUMN duration REAL")
        db.execute("ALTER TABLE results ADD COLUMN worst_frame_time REAL")
        db.execute("ALTER TABLE results ADD COLUMN frames INTEGER")
    if columns and "frame_scores" not in columns:  # schema 1 to 5
        db.execute("ALTER TABLE results ADD COLUMN frame_scores TEXT")
    # Schema 3 to 4 (and the sniffed table) only add tables and triggers: the schema script makes them.
