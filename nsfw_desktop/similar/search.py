"""Find similar: cosine similarity over the embeddings stored in the results database.

The store keeps the embeddings (``Store.put_many``, the ``embeddings`` table);
this module only reads them. A query ranks the model's search matrix
(``similar.matrix``: int8 rows in a mapped file that follows the database)
approximately, then ranks its best candidates again exactly, in
float32, from their vectors in the database: the matches, and their order, are
those of an exact float32 search. The mapped matrix is kept between queries.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import numpy as np
from filelock import FileLock, Timeout

from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.files.canonical import Canonical
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.similar.matrix import IN_CHUNK, SearchMatrix
from nsfw_desktop.similar.matrix_file import DatabaseState, matrix_path, owner_key
from nsfw_desktop.store.results import EMBEDDING_DTYPE, Store, StoreError

RERANK_EXTRA = 32  # candidates ranked again beyond top_k, and then any within int8 rounding
LOCK_TIMEOUT_S = 300  # another process may be building a matrix of a million rows


class EmbeddingsError(Exception):
    """Find similar cannot run; the message is for the user of the command line.

    ``problem`` is the why alone: a window gives its own advice (turn on the
    embeddings setting and scan again) instead of the command."""

    def __init__(self, problem: str, cli_advice: str = ""):
        message = f"{problem}: {cli_advice}" if cli_advice else problem
        super().__init__(message if message.endswith((".", "!", "?")) else f"{message}.")
        self.problem = problem


class Match(NamedTuple):
    path: str
    similarity: float  # cosine similarity, -1..1; 1 for an identical embedding


_kept: dict[str, SearchMatrix] = {}  # owner (database + model) -> its mapped matrix
_kept_lock = threading.Lock()


@contextmanager
def _read_only(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection in one read transaction: a query never takes the write lock a
    running scan needs, and sees one state of the database throughout."""
    if not db_path.is_file():
        raise EmbeddingsError(f"There is no results database at {db_path}",
                              "scan with embeddings turned on first (nsfw-desktop scan --embeddings).")
    try:
        store = Store(db_path, read_only=True)
    except StoreError as exc:
        raise EmbeddingsError(str(exc)) from None
    try:
        store.db.execute("BEGIN")
        yield store.db
    finally:
        store.close()


@contextmanager
def _matrix(db: sqlite3.Connection, db_path: Path, model: str) -> Iterator[SearchMatrix]:
    """The model's search matrix, in step with ``db``; held locked against other threads and
    processes while the caller uses it."""
    owner = owner_key(db_path, model)
    path = matrix_path(owner)
    state = DatabaseState.read(db)
    try:
        with _kept_lock, FileLock(SearchMatrix.lock_path(path), timeout=LOCK_TIMEOUT_S, mode=0o600):
            matrix = _kept.get(owner)
            fresh = matrix is None or not matrix.current()
            if fresh:
                _kept.clear()  # one mapped matrix at a time, and none left on a file being replaced
                matrix = SearchMatrix.open(path, owner, state)
            changed = matrix is not None and (matrix.header.generation, matrix.header.seq) != (
                state.generation, state.log_last)
            if matrix is None or not matrix.sync(db, state, model) or (
                    (fresh or changed) and not matrix.trusted(db, model)):
                _kept.clear()
                matrix = None  # its mapping is closed before its file is replaced (Windows)
                matrix = SearchMatrix.build(db, path, owner, state, model)
            _kept[owner] = matrix
            if not matrix.live:
                raise EmbeddingsError(f"No embeddings of the model {model} are stored in {db_path}",
                                      "scan with embeddings turned on first "
                                      "(nsfw-desktop scan --embeddings).")
            yield matrix
    except Timeout:
        raise EmbeddingsError(f"Find similar waited {LOCK_TIMEOUT_S} s for another nsfw-desktop "
                              f"preparing its search of {db_path}: try again when it is done.") from None
    except OSError as exc:
        advice = ("Free some disk space there." if exc.errno == errno.ENOSPC else
                  "Make sure that folder can be written.")
        raise EmbeddingsError(f"Cannot keep the find-similar matrix in {path.parent}: "
                              f"{exc.strerror or exc}. {advice}") from None


class _Outdated(EmbeddingsError):
    """A candidate's row no longer holds its database vector: the matrix is rebuilt."""


def _ranked(db: sqlite3.Connection, matrix: SearchMatrix, model: str, vector: np.ndarray,
            top_k: int, exclude: Sequence[str]) -> list[Match]:
    """The int8 matrix picks candidates; their stored vectors rank them exactly."""
    query = np.asarray(vector, dtype=np.float32).reshape(-1)
    if query.shape[0] != matrix.header.dim:
        raise ValueError(f"the query has {query.shape[0]} dimensions, the stored embeddings "
                         f"{matrix.header.dim}")
    positions = matrix.candidates(query, top_k + len(exclude) + RERANK_EXTRA)
    rowids = matrix.rowids[positions].tolist()
    stored: dict[int, tuple[bytes, bytes]] = {}  # rowid -> (path, vector)
    for start in range(0, len(rowids), IN_CHUNK):
        part = rowids[start:start + IN_CHUNK]
        stored.update((row, (path, vector)) for row, path, vector in db.execute(
            f"SELECT rowid, path, vector FROM embeddings WHERE model=? AND rowid IN "
            f"({','.join('?' * len(part))})", (model, *part)))
    found = [stored.get(row) for row in rowids]
    if not matrix.holds(positions, [row and row[1] for row in found]):
        raise _Outdated(f"The find-similar matrix {matrix.path} disagrees with the database "
                        "even after it was rebuilt: delete it, then try again.")
    rows = [stored[row] for row in rowids]  # each one found: the matrix holds them
    vectors = np.frombuffer(b"".join(vector for _, vector in rows), EMBEDDING_DTYPE)
    vectors = _unit_float32(vectors.reshape(len(found), -1))
    similarities = vectors @ _unit_float32(query[None, :])[0]
    order = np.argsort(-similarities, kind="stable")
    matches = [Match(os.fsdecode(rows[i][0]), float(similarities[i])) for i in order]
    return [m for m in matches if m.path not in exclude][:top_k]


def _unit_float32(vectors: np.ndarray) -> np.ndarray:
    vectors = np.array(vectors, dtype=np.float32)
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))[:, None]
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def _search(db_path: Path, model: str, top_k: int, vector: np.ndarray | None,
            path: str | None = None) -> list[Match] | None:
    """The matches of ``vector``, or of the stored vector of ``path`` (None if it has none)."""
    try:
        return _search_once(db_path, model, top_k, vector, path)
    except _Outdated:
        return _search_once(db_path, model, top_k, vector, path)  # on a rebuilt matrix


def _search_once(db_path: Path, model: str, top_k: int, vector: np.ndarray | None,
                 path: str | None) -> list[Match] | None:
    with _read_only(db_path) as db, _matrix(db, db_path, model) as matrix:
        if vector is None:
            assert path is not None, "a search without a vector is for a stored file's"
            vector = _stored_vector(db, path, model)
            if vector is None:
                return None
        try:
            return _ranked(db, matrix, model, vector, top_k, () if path is None else (path,))
        except _Outdated:
            matrix.distrust()  # whoever opens it next, the retry above, rebuilds it
            raise


def find_similar(db_path: str | Path, query: str | Path | np.ndarray, classifier, *,
                 top_k: int = 10) -> list[Match]:
    """Stored images most like ``query`` (an image file, or an embedding vector), best first.

    ``classifier`` (a LocalClassifier) names the model whose embeddings are compared, and
    computes the query's embedding when the database has none for the file as it is now:
    the model is loaded only then. The query file itself is left out of the matches.
    Raises EmbeddingsError, or ImageError for an unreadable query image.
    Safe to call from a worker thread.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, not {top_k}")
    model = classifier.model_id
    db_path = Path(db_path).resolve()
    if isinstance(query, np.ndarray):
        return _answered(_search(db_path, model, top_k, query))
    path = os.path.abspath(query)
    matches = _search(db_path, model, top_k, None, path)  # no embeddings stored: no model load
    if matches is None:
        stored = _stored_name(db_path, path)  # the same file, stored under another name (a link)
        if stored != path:
            matches = _search(db_path, model, top_k, None, stored)
    if matches is None:
        matches = _search(db_path, model, top_k, query_embedding(path, classifier), stored)
    return _answered(matches)


def _answered(matches: list[Match] | None) -> list[Match]:
    assert matches is not None, "a search with a query vector always answers"
    return matches


def _stored_name(db_path: Path, path: str) -> str:
    """The name ``path``'s file is stored under: a library scanned through a link is stored
    by the link's path, and the query may name the real one (``canonical``). The rows whose
    name ends like the query's are compared: one pass over the paths, no model load."""
    tail = os.fsencode(os.sep + os.path.basename(path))
    canonical = Canonical()
    with _read_only(db_path) as db:
        for (stored,) in db.execute("SELECT path FROM results WHERE substr(path, -?) = ?",
                                    (len(tail), tail)):
            if canonical(os.fsdecode(stored)) == canonical(path):
                return os.fsdecode(stored)
    return path


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
