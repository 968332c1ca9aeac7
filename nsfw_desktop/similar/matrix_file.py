"""The search matrix's file: its layout, its header, and when a file cannot be trusted.

Layout: a 4096-byte header (magic, length and CRC32 of a JSON body), then
``capacity`` int64 rowids (0 marks a free row), ``capacity`` float32 scales and,
from the next page, the int8 rows in transposed blocks of ``BLOCK`` (``int8_rows``
says why), ``capacity / BLOCK`` x ``dim`` x ``BLOCK``; the unused tail is sparse.
The magic names the layout: a file of another (the float16 rows of version 1) is
rebuilt. Updates write the rows first and the header last. A crash in between
leaves the old log position in the header, and replaying the log from there is
harmless: each touched row is set from the database again.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import sqlite3
import struct
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from nsfw_desktop.files.paths import cache_dir, private_folder
from nsfw_desktop.similar.int8_rows import CODE_DTYPE, SCALE_DTYPE

MAGIC = b"NSFWSIM2"
HEADER_BYTES = 4096
ROWID_DTYPE = np.dtype("<i8")


class DatabaseState(NamedTuple):
    """What a matrix file is checked against, read in the caller's read transaction."""

    identity: str
    generation: int
    log_first: int  # the oldest change still in the embeddings_log (log_last + 1 if empty)
    log_last: int  # the newest (0 if none ever)

    @classmethod
    def read(cls, db: sqlite3.Connection) -> DatabaseState:
        """sqlite3.OperationalError when the database has no such tables (an older schema)."""
        (identity,) = db.execute("SELECT id FROM database_identity").fetchone()
        (generation,) = db.execute("SELECT generation FROM embeddings_generation").fetchone()
        # Two queries: min and max together would scan the log, each alone is one lookup.
        (first,) = db.execute("SELECT min(seq) FROM embeddings_log").fetchone()
        last = db.execute("SELECT max(seq) FROM embeddings_log").fetchone()[0] or 0
        return cls(identity, generation, first if first is not None else last + 1, last)


@dataclass
class Header:
    owner: str  # sha256 of database path + model: a file is never used for another pair
    identity: str  # the database's random identity: a new database at the same path is another
    dim: int
    count: int  # rows in use, free ones included
    capacity: int
    seq: int  # the embeddings_log position the rows reflect
    generation: int

    def pack(self) -> bytes:
        body = json.dumps(asdict(self)).encode()
        return (MAGIC + struct.pack("<II", len(body), zlib.crc32(body)) + body).ljust(HEADER_BYTES, b"\0")

    @classmethod
    def unpack(cls, raw: bytes) -> Header | None:
        if len(raw) < HEADER_BYTES or raw[:8] != MAGIC:
            return None
        length, crc = struct.unpack_from("<II", raw, 8)
        body = raw[16:16 + length]
        if length > HEADER_BYTES - 16 or zlib.crc32(body) != crc:
            return None
        try:
            return cls(**json.loads(body))
        except (ValueError, TypeError):
            return None


def owner_key(db_path: Path, model: str) -> str:
    text = f"{db_path}\0{model}".encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()


def matrix_path(owner: str) -> Path:
    """Where the matrix of one database and model lives: private, like the database."""
    return private_folder(cache_dir() / "similar") / f"{owner[:32]}.matrix"


def rows_offset(capacity: int) -> int:
    """Where the rows start: after the rowids and scales, on a page boundary."""
    end = HEADER_BYTES + capacity * (ROWID_DTYPE.itemsize + SCALE_DTYPE.itemsize)
    return -(-end // mmap.PAGESIZE) * mmap.PAGESIZE


def file_size(capacity: int, dim: int) -> int:
    return rows_offset(capacity) + capacity * dim * CODE_DTYPE.itemsize


def why_untrusted(header: Header | None, owner: str, state: DatabaseState, size: int) -> str:
    """Why a matrix file with this header cannot be used; empty when it can."""
    if header is None:
        return "its header is damaged or of another version"
    if header.owner != owner:
        return "it belongs to another database or model"
    if header.identity != state.identity:
        return "the database was replaced by another one"
    if header.count > header.capacity or size < file_size(header.capacity, header.dim):
        return "the file is shorter than its header says"
    return ""
