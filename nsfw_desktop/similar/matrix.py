"""The search matrix of find similar: one model's stored embeddings as int8 rows,
each with its float32 scale (``int8_rows``), in a memory-mapped file in the cache
folder.

Why a file: at 1,000,000 photos, reading the embeddings out of SQLite and
normalising them takes many seconds and, as float32, 3 GB. The file holds them
ready: the first query after start maps it (no copy, no Python objects per row)
and ONNX Runtime multiplies the int8 rows where they lie. Why int8: a query reads
every row, so the rows' size is the process's resident memory (0.77 GB at
1,000,000 x 768, float16's 1.54 GB) and most of a query's time.

The file follows the database through its ``embeddings_log``: rows added,
replaced or deleted since the file's last sync are read again by rowid, so a
scan batch or a removal costs its own rows, and a move nothing (the row keeps
its rowid; paths are read from the database for the matches only). The file is
rebuilt when it cannot be trusted: another database (its random identity) or
model, a header that does not check out, a file shorter than its header says, a
log that no longer reaches back to the file's position, a row count that
differs from the database's, or a row that no longer holds its database vector.

The file's layout is ``similar.matrix_file``'s. Updates write the rows first and the header
last. A crash in between leaves the old log position in the header, and replaying
the log from there is harmless: each touched row is set from the database again.
"""

from __future__ import annotations

import logging
import mmap
import os
import sqlite3
from pathlib import Path

import numpy as np

from nsfw_desktop.similar.int8_rows import BLOCK, CODE_DTYPE, SCALE_DTYPE, margins, quantize, scores
from nsfw_desktop.similar.matrix_file import (
    HEADER_BYTES,
    MAGIC,
    ROWID_DTYPE,
    DatabaseState,
    Header,
    file_size,
    rows_offset,
    why_untrusted,
)
from nsfw_desktop.store.results import EMBEDDING_DTYPE

log = logging.getLogger(__name__)

READ_ROWS = 16_384  # rows read from SQLite at a time while building
IN_CHUNK = 500  # rowids per "IN (...)" query, well below SQLite's variable limit
SPOT_CHECKS = 8  # rows compared with the database after every change
MOST_CANDIDATES = 1000  # in a crowd of near-duplicates; their vectors are read from SQLite


class SearchMatrix:
    """A mapped matrix file. Not thread-safe: the caller holds a lock, and the file's lock
    (``lock_path``) against other processes, around ``sync`` and ``candidates``."""

    def __init__(self, path: Path, header: Header, mapping: mmap.mmap):
        self.path, self.header, self.mapping = path, header, mapping
        capacity, dim = header.capacity, header.dim
        self.rowids = np.frombuffer(mapping, ROWID_DTYPE, capacity, HEADER_BYTES)
        self.scales = np.frombuffer(mapping, SCALE_DTYPE, capacity,
                                    HEADER_BYTES + capacity * ROWID_DTYPE.itemsize)
        self.blocks = np.frombuffer(mapping, CODE_DTYPE, capacity * dim,
                                    rows_offset(capacity)).reshape(capacity // BLOCK, dim, BLOCK)
        self.inode = os.stat(path).st_ino

    @property
    def live(self) -> int:
        return int(np.count_nonzero(self.rowids[:self.header.count]))

    @staticmethod
    def lock_path(path: Path) -> Path:
        return path.with_suffix(".lock")

    @classmethod
    def open(cls, path: Path, owner: str, state: DatabaseState) -> SearchMatrix | None:
        """The matrix file at ``path`` if it is this owner's and whole; None otherwise."""
        try:
            with open(path, "r+b") as file:
                header = Header.unpack(file.read(HEADER_BYTES))
                size = os.fstat(file.fileno()).st_size
                why = why_untrusted(header, owner, state, size)
                if why:
                    log.info("rebuilding the find-similar matrix %s: %s", path, why)
                    return None
                assert header is not None, "why_untrusted refuses a damaged header"
                mapping = mmap.mmap(file.fileno(), size, access=mmap.ACCESS_WRITE)
        except FileNotFoundError:
            return None
        return cls(path, header, mapping)

    @classmethod
    def build(cls, db: sqlite3.Connection, path: Path, owner: str, state: DatabaseState,
              model: str) -> SearchMatrix:
        """Write a new matrix file from every embedding of ``model``, then put it in place."""
        (count,) = db.execute("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()
        first = db.execute("SELECT vector FROM embeddings WHERE model=? LIMIT 1", (model,)).fetchone()
        dim = len(first[0]) // EMBEDDING_DTYPE.itemsize if first else 0
        # Room to grow before the next rebuild, sparse until used; whole blocks.
        capacity = -(-(2 * count + 65_536) // BLOCK) * BLOCK
        header = Header(owner, state.identity, dim, 0, capacity, state.log_last, state.generation)
        path.with_suffix(".f16").unlink(missing_ok=True)  # version 1's file, by its old name
        temporary = path.with_suffix(".tmp")  # only one builder at a time: the caller holds the lock
        with open(os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600), "r+b") as file:
            os.chmod(temporary, 0o600)  # a leftover of a crash keeps its mode otherwise
            file.truncate(file_size(capacity, dim))
            mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_WRITE)
        writer = cls(temporary, header, mapping)
        cursor = db.execute("SELECT rowid, vector FROM embeddings WHERE model=? ORDER BY rowid", (model,))
        while chunk := cursor.fetchmany(READ_ROWS):
            writer._append(chunk)
        writer._commit()
        del writer  # its arrays hold the mapping: closed before the rename, as Windows needs
        mapping.close()
        os.replace(temporary, path)
        matrix = cls.open(path, owner, state)
        if matrix is None:
            raise OSError(f"the find-similar matrix {path} just written cannot be read back")
        return matrix

    def current(self) -> bool:
        """Whether this mapping is still the file in place. Another process may have moved
        the rows on: the header is read again."""
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            return False
        header = Header.unpack(bytes(self.mapping[:HEADER_BYTES]))
        if inode != self.inode or header is None or (header.capacity, header.dim) != (
                self.header.capacity, self.header.dim):
            return False
        self.header = header
        return True

    def sync(self, db: sqlite3.Connection, state: DatabaseState, model: str) -> bool:
        """Bring the rows in step with the database; False when it takes a rebuild."""
        header = self.header
        if (header.generation, header.seq) == (state.generation, state.log_last):
            return True
        if not state.log_first - 1 <= header.seq <= state.log_last:
            log.info("rebuilding the find-similar matrix %s: the database changed more than its "
                     "log keeps", self.path)
            return False
        touched = np.fromiter((row for (row,) in db.execute(
            "SELECT DISTINCT row FROM embeddings_log WHERE seq > ?", (header.seq,))), ROWID_DTYPE)
        if touched.size and not self._apply(db, touched, model):
            return False
        header.seq, header.generation = state.log_last, state.generation
        self._commit()
        return True

    def _apply(self, db: sqlite3.Connection, touched: np.ndarray, model: str) -> bool:
        now = dict(_vectors(db, model, touched))
        positions = self.positions(touched)
        known = positions >= 0
        added = [(int(row), now[int(row)]) for row in touched[~known] if int(row) in now]
        if self.header.count + len(added) > self.header.capacity:
            log.info("rebuilding the find-similar matrix %s: it is full", self.path)
            return False
        for row, position in zip(touched[known].tolist(), positions[known].tolist(), strict=True):
            if row in now:
                self._write(position, *quantize(np.frombuffer(now[row], EMBEDDING_DTYPE)))
            else:  # deleted, or now another model's: the row is freed for good
                self.rowids[position] = 0
                self._write(position, np.zeros((1, self.header.dim), CODE_DTYPE), np.zeros(1, SCALE_DTYPE))
        for start in range(0, len(added), READ_ROWS):
            self._append(added[start:start + READ_ROWS])
        return True

    def positions(self, rowids: np.ndarray) -> np.ndarray:
        """The row of each rowid in the matrix, -1 for those it does not hold."""
        held = self.rowids[:self.header.count]
        if not len(held) or rowids.min() > held.max():  # only additions: no sort of a million rows
            return np.full(len(rowids), -1)
        order = np.argsort(held, kind="stable")
        positions = order[np.minimum(np.searchsorted(held, rowids, sorter=order), len(held) - 1)]
        return np.where(held[positions] == rowids, positions, -1)

    def trusted(self, db: sqlite3.Connection, model: str) -> bool:
        """Whether the row count and a few rows picked at random agree with the database."""
        (count,) = db.execute("SELECT COUNT(*) FROM embeddings WHERE model=?", (model,)).fetchone()
        if count != self.live:
            log.info("rebuilding the find-similar matrix %s: it holds %d rows, the database %d",
                     self.path, self.live, count)
            return False
        held = np.flatnonzero(self.rowids[:self.header.count])
        sample = np.random.default_rng().choice(held, min(SPOT_CHECKS, len(held)), replace=False)

        now = dict(_vectors(db, model, self.rowids[sample]))
        return self.holds(sample, [now.get(int(row)) for row in self.rowids[sample]])

    def holds(self, positions: np.ndarray, vectors: list[bytes | None]) -> bool:
        """Whether the rows at ``positions`` hold ``vectors``, their rowids' in the database."""
        if not vectors:
            return True  # an empty matrix (no embeddings stored yet) holds all it should
        size = self.header.dim * EMBEDDING_DTYPE.itemsize
        whole = [vector for vector in vectors if vector is not None and len(vector) == size]
        differ = np.array([vector is None or len(vector) != size for vector in vectors])
        if not differ.any():
            stored = np.frombuffer(b"".join(whole), EMBEDDING_DTYPE).reshape(len(vectors), -1)
            codes, scales = quantize(stored)
            # Made by the same code from the same vector: equal, but for a rounding of ties.
            held = self.blocks[positions // BLOCK, :, positions % BLOCK]
            differ = (np.abs(codes.astype(np.int16) - held) > 1).any(axis=1) | ~np.isclose(
                scales, self.scales[positions], rtol=1e-5, atol=0)
        if differ.any():
            log.info("rebuilding the find-similar matrix %s: row %d differs from the database",
                     self.path, positions[differ][0])
            return False
        return True

    def distrust(self) -> None:
        """Mark the file damaged: whoever opens it next builds it again."""
        self.mapping[:len(MAGIC)] = bytes(len(MAGIC))
        self.mapping.flush(0, mmap.PAGESIZE)

    def candidates(self, query: np.ndarray, count: int) -> np.ndarray:
        """Positions of the ``count`` rows most like ``query`` in int8, and of those rows
        whose rounding error could put them above the last of them (up to
        ``MOST_CANDIDATES`` in all, or ``count``), best first: the exact ranking then
        finds the exact best."""
        used = self.header.count
        free = self.rowids[:used] == 0
        count = min(count, used - int(np.count_nonzero(free)))
        if count <= 0:
            return np.zeros(0, np.int64)
        similar = scores(self.blocks[:-(-used // BLOCK)], self.scales, query)[:used]
        similar[free] = -np.inf
        best = np.argpartition(-similar, count - 1)[:count]
        last = best[np.argmin(similar[best])]
        # The widest margin (the largest scale) picks a few rows; each row's own keeps them.
        widest = margins(self.scales[:used].max(keepdims=True), self.scales[last], query)[0]
        near = np.flatnonzero(similar >= similar[last] - widest)
        near = near[similar[near] >= similar[last] - margins(self.scales[near], self.scales[last], query)]
        most = max(MOST_CANDIDATES, count)
        if len(near) > most:
            near = np.argpartition(-similar, most - 1)[:most]
        return near[np.argsort(-similar[near], kind="stable")]

    def _append(self, chunk: list[tuple[int, bytes]]) -> None:
        size = self.header.dim * EMBEDDING_DTYPE.itemsize
        chunk = [(row, blob) for row, blob in chunk if len(blob) == size]  # others: another size
        start, end = self.header.count, self.header.count + len(chunk)
        self.rowids[start:end] = [row for row, _ in chunk]
        vectors = np.frombuffer(b"".join(blob for _, blob in chunk), EMBEDDING_DTYPE)
        self._write(start, *quantize(vectors.reshape(len(chunk), self.header.dim)))
        self.header.count = end

    def _write(self, start: int, codes: np.ndarray, scales: np.ndarray) -> None:
        """Rows ``start`` on, each a column of its block."""
        self.scales[start:start + len(codes)] = scales
        done = 0
        while done < len(codes):
            block, column = divmod(start + done, BLOCK)
            width = min(BLOCK - column, len(codes) - done)
            self.blocks[block, :, column:column + width] = codes[done:done + width].T
            done += width

    def _commit(self) -> None:
        """Rows first, then the header that says they are there."""
        self.mapping.flush()
        self.mapping[:HEADER_BYTES] = self.header.pack()
        self.mapping.flush(0, mmap.PAGESIZE)


def _vectors(db: sqlite3.Connection, model: str, rowids: np.ndarray):
    """(rowid, vector blob) of those ``rowids`` that hold an embedding of ``model``."""
    rowids = rowids.tolist()
    for start in range(0, len(rowids), IN_CHUNK):
        part = rowids[start:start + IN_CHUNK]
        yield from db.execute(f"SELECT rowid, vector FROM embeddings WHERE model=? AND rowid IN "
                              f"({','.join('?' * len(part))})", (model, *part))
