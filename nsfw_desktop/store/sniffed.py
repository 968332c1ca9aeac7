"""The files a walk found to be no picture or video by their first bytes, kept so that a
rescan does not open them again.

``SniffedFiles`` is part of ``Store`` (a mixin: the store's connection, in the
store's thread, its errors in plain words). A row keeps the size and modification
time the file had when it was sniffed: a file changed since is sniffed again, like
a changed picture is classified again. A scan deletes the rows under its folders of
files it did not meet as non-pictures this time (gone, or a picture now), so the
table holds what the walk would find; a row too many only costs one more sniff.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from nsfw_desktop.store.database import user_errors

SNIFFED_SCHEMA = """
CREATE TABLE IF NOT EXISTS sniffed (
    path BLOB PRIMARY KEY,          -- os.fsencode(path) of a file whose first bytes are no picture or video
    file_size INTEGER NOT NULL,     -- as it was sniffed: a changed file is sniffed again
    mtime_ns INTEGER NOT NULL
) WITHOUT ROWID;
"""


class SniffedFiles:
    """Store methods for the files known to be no picture or video."""

    db: sqlite3.Connection
    path: Path
    read_only: bool

    @user_errors
    def sniffed(self) -> dict[bytes, tuple[int, int]]:
        """path bytes -> (file_size, mtime_ns) of every file sniffed as no picture or video."""
        rows = self.db.execute("SELECT path, file_size, mtime_ns FROM sniffed")
        return {path: (size, mtime_ns) for path, size, mtime_ns in rows}

    @user_errors
    def update_sniffed(self, found: Iterable[tuple[bytes, int, int]], gone: Iterable[bytes]) -> None:
        """Keep ``found`` (path bytes, size, mtime_ns: sniffed as no picture or video) and forget
        ``gone`` (path bytes), in one commit."""
        found, gone_rows = list(found), [(path,) for path in gone]
        if not found and not gone_rows:
            return  # an unchanged rescan writes nothing
        self.db.executemany("INSERT OR REPLACE INTO sniffed VALUES (?,?,?)", found)
        self.db.executemany("DELETE FROM sniffed WHERE path=?", gone_rows)
        self.db.commit()
