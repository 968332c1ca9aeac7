"""Find similar: cosine similarity over the embeddings stored in the results database.

The store keeps the embeddings (``Store.put_many``, the ``embeddings`` table);
this module only reads them. Searching loads the model's embeddings once into a unit-length float32 matrix
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

from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.imaging import ImageError
from nsfw_desktop.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.store import EMBEDDING_DTYPE


class EmbeddingsError(Exception):
    """Find similar cannot run; the message is for the user of the command line.

    ``problem`` is the why alone: a window gives its own advice (turn on the
    embeddings setting and scan again) instead of the command."""

    def __init__(self, problem: str, cli_advice: str = ""):
        super().__init__(f"{problem}: {cli_advice}" if cli_advice else f"{problem}.")
        self.problem = problem


class Match(NamedTuple):
    path: str
    similarity: float  # cosine similarity, -1..1; 1 for an identical embedding


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
        vectors = np.frombuffer(blob, dtype=EMBEDDING_DTYPE).reshape(len(rows), -1)
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
        raise EmbeddingsError(f"There is no results database at {db_path}",
                              "scan with embeddings turned on first (nsfw-desktop scan --embeddings).")
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
        raise EmbeddingsError(f"No embeddings of the model {model} are stored in {key}",
                              "scan with embeddings turned on first (nsfw-desktop scan --embeddings).")
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
    return np.frombuffer(row[0], dtype=EMBEDDING_DTYPE).astype(np.float32) if row else None


def query_embedding(path: str, classifier) -> np.ndarray:
    """The embedding of one image file as a scan would store it (float32); ImageError if unreadable."""
    entry = next(entries_for_paths([path]))
    if isinstance(entry, tuple):
        raise ImageError(entry[1])
    [result] = next(classify_entries([entry], EmbeddingClassifier(classifier)))
    if result.error:
        raise ImageError(result.error)
    return result.embedding
