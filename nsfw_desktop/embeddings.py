"""Embeddings in the results database, and "find similar" by cosine similarity over them.

Scans with embeddings turned on keep each file's CLS embedding (final layer, after
the final layer norm) as float16 in an ``embeddings`` table beside ``results``.
Triggers on ``results`` keep the two in step whoever writes: a removed row takes
its embedding along, a moved file keeps it, and a file classified again after a
change (or by another model) loses the old one.

Searching loads the model's embeddings once into a unit-length float32 matrix
(100,000 x 768 is 300 MB) and keeps it; a query is one matrix-vector product. A
generation counter, bumped on every change of the table, tells when the kept
matrix is out of date.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nsfw_desktop.store import Result, Store

STORED_DTYPE = np.dtype("<f2")  # float16, little-endian, whatever the machine

_SCHEMA = """
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


class EmbeddingsError(Exception):
    """Find similar cannot run; the message is for the user."""


class Match(NamedTuple):
    path: str
    similarity: float  # cosine similarity, -1..1; 1 for an identical embedding


class EmbeddingStore:
    """The ``embeddings`` table of a results database, on that Store's connection (and thread)."""

    def __init__(self, store: Store):
        self.db = store.db
        self.db.executescript(_SCHEMA)
        self.db.commit()

    def put_many(self, results: Iterable[Result]) -> int:
        """Store the embedding of each result that carries one (float16) and commit; how many."""
        rows = [
            (os.fsencode(r.path), r.model, np.asarray(r.embedding, dtype=STORED_DTYPE).tobytes())
            for r in results if r.embedding is not None
        ]
        if rows:
            self.db.executemany("INSERT OR REPLACE INTO embeddings (path, model, vector) VALUES (?,?,?)",
                                rows)
            self.db.execute("UPDATE embeddings_generation SET generation = generation + 1")
            self.db.commit()
        return len(rows)

    def get(self, path: str, model: str) -> np.ndarray | None:
        """The stored float32 vector of ``path`` by ``model``, or None."""
        row = self.db.execute("SELECT vector FROM embeddings WHERE path=? AND model=?",
                              (os.fsencode(path), model)).fetchone()
        return np.frombuffer(row[0], dtype=STORED_DTYPE).astype(np.float32) if row else None

    def count(self, model: str | None = None) -> int:
        if model is None:
            return self.db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()[0]

    def missing(self) -> set[bytes]:
        """Path bytes of classified files (errors aside) that have no embedding of their model."""
        rows = self.db.execute(
            """SELECT r.path FROM results r LEFT JOIN embeddings e ON e.path = r.path AND e.model = r.model
            WHERE r.error IS NULL AND e.path IS NULL""")
        return {path for (path,) in rows}


class SimilarityIndex:
    """One model's stored embeddings as unit-length float32 rows, searched by cosine similarity."""

    def __init__(self, paths: Sequence[str], vectors: np.ndarray, *, generation: int = 0):
        vectors = np.asarray(vectors)
        if vectors.ndim != 2 or len(paths) != len(vectors):
            raise ValueError(f"need one vector per path: {len(paths)} paths, vectors of shape "
                             f"{vectors.shape}")
        self.paths = list(paths)
        self.matrix = _unit_rows(vectors)  # (N, D)
        self.generation = generation

    @classmethod
    def load(cls, db: sqlite3.Connection, model: str) -> SimilarityIndex:
        """Read every embedding of ``model`` from an open results database."""
        generation = _generation(db)
        rows = db.execute("SELECT path, vector FROM embeddings WHERE model=?", (model,)).fetchall()
        if not rows:
            return cls([], np.zeros((0, 0), np.float32), generation=generation)
        paths = [os.fsdecode(path) for path, _ in rows]
        blob = b"".join(vector for _, vector in rows)  # one buffer: no per-row arrays
        vectors = np.frombuffer(blob, dtype=STORED_DTYPE).reshape(len(rows), -1)
        return cls(paths, vectors, generation=generation)

    def __len__(self) -> int:
        return len(self.paths)

    def search(self, vector: np.ndarray, top_k: int = 10, *, exclude: Iterable[str] = ()) -> list[Match]:
        """The ``top_k`` most similar stored images, best first, leaving out the ``exclude`` paths."""
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, not {top_k}")
        if not len(self):
            return []
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.matrix.shape[1]:
            raise ValueError(f"the query has {query.shape[0]} dimensions, the stored embeddings "
                             f"{self.matrix.shape[1]}")
        similarities = self.matrix @ _unit_rows(query[None, :])[0]  # (N,)
        excluded = set(exclude)
        wanted = min(len(self), top_k + len(excluded))
        best = np.argpartition(-similarities, wanted - 1)[:wanted]
        best = best[np.argsort(-similarities[best], kind="stable")]
        matches = [Match(self.paths[i], float(similarities[i])) for i in best
                   if self.paths[i] not in excluded]
        return matches[:top_k]


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.array(vectors, dtype=np.float32)  # a copy: normalised in place
    # einsum sums the squares row by row without a temporary matrix (10x faster than linalg.norm).
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    vectors /= np.maximum(norms, np.finfo(np.float32).tiny)  # an all-zero vector stays zero
    return vectors


def _generation(db: sqlite3.Connection) -> int:
    return db.execute("SELECT generation FROM embeddings_generation").fetchone()[0]


_indexes: dict[tuple[str, str], SimilarityIndex] = {}  # (database, model) -> the kept index
_indexes_lock = threading.Lock()


@contextmanager
def _read_only(db_path: str | Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection: a query never takes the write lock a running scan needs."""
    db_path = Path(db_path).resolve()
    if not db_path.is_file():
        raise EmbeddingsError(f"There is no results database at {db_path}: scan with embeddings "
                              "turned on first (nsfw-desktop scan --embeddings).")
    db = sqlite3.connect(f"{db_path.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        yield db
    finally:
        db.close()


def _kept_index(db: sqlite3.Connection, key: str, model: str) -> SimilarityIndex:
    try:
        generation = _generation(db)
    except sqlite3.OperationalError:  # no embeddings table: never scanned with embeddings
        generation = None
    index = None
    if generation is not None:
        with _indexes_lock:
            index = _indexes.get((key, model))
            if index is None or index.generation != generation:
                _indexes.clear()  # one kept matrix at a time, each can take hundreds of MB
                index = SimilarityIndex.load(db, model)
                _indexes[(key, model)] = index
    if index is None or not len(index):
        raise EmbeddingsError(f"No embeddings of the model {model} are stored in {key}: scan with "
                              "embeddings turned on first (nsfw-desktop scan --embeddings).")
    return index


def find_similar(db_path: str | Path, query: str | Path | np.ndarray, classifier, *,
                 top_k: int = 10) -> list[Match]:
    """Stored images most like ``query`` (an image file, or an embedding vector), best first.

    ``classifier`` (a LocalClassifier) names the model whose embeddings are compared, and
    computes the query's embedding when the database has none for the file as it is now:
    the model is loaded only then. The query file itself is left out of the matches.
    Raises EmbeddingsError, or ImageError for an unreadable query image.
    Safe to call from a worker thread.
    """
    model = classifier.model_id
    with _read_only(db_path) as db:
        index = _kept_index(db, str(Path(db_path).resolve()), model)
        if isinstance(query, np.ndarray):
            return index.search(query, top_k)
        path = os.path.abspath(query)
        vector = _stored_vector(db, path, model)
    if vector is None:
        vector = query_embedding(path, classifier)
    return index.search(vector, top_k, exclude=[path])


def _stored_vector(db: sqlite3.Connection, path: str, model: str) -> np.ndarray | None:
    """The stored embedding of ``path``, if the file is still what was scanned."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    row = db.execute(
        """SELECT e.vector FROM embeddings e JOIN results r ON r.path = e.path
        WHERE e.path=? AND e.model=? AND r.file_size=? AND r.mtime_ns=?""",
        (os.fsencode(path), model, info.st_size, info.st_mtime_ns)).fetchone()
    return np.frombuffer(row[0], dtype=STORED_DTYPE).astype(np.float32) if row else None


def query_embedding(path: str, classifier) -> np.ndarray:
    """The embedding of one image file as a scan would store it (float32); ImageError if unreadable."""
    from nsfw_desktop.classify.embedding import EmbeddingClassifier
    from nsfw_desktop.engine import classify_entries, entries_for_paths
    from nsfw_desktop.imaging import ImageError

    entry = next(entries_for_paths([path]))
    if isinstance(entry, tuple):
        raise ImageError(entry[1])
    [result] = next(classify_entries([entry], EmbeddingClassifier(classifier)))
    if result.error:
        raise ImageError(result.error)
    return result.embedding
