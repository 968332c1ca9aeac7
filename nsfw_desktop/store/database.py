"""Opening the results database's SQLite file, and SQLite's errors in plain words.

The database and its ``-wal``/``-shm`` files are created readable by their
owner only: they list which photos were flagged. A database written by a newer
nsfw-desktop is refused before anything is written to it. A read-only opening
never takes the write lock, so it reads while a scan writes (WAL), and it works
on read-only media. What SQLite reports (a full disk, a file that is not a
database, a database another process is writing, read-only media) reaches
callers as a ``StoreError`` whose message says what to do; the write that
failed is rolled back, so nothing committed before is lost.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

BUSY_TIMEOUT_S = 30.0  # how long a write waits for another writer (a running scan) to commit


class StoreError(sqlite3.Error):
    """The results database cannot be used; the message is for the user.

    A ``sqlite3.Error``, so code that already catches SQLite's errors (the app's
    workers) catches it too. ``problem`` is the why alone, without the command line's
    advice (--db), which the window leaves out."""

    def __init__(self, problem: str, cli_advice: str = "") -> None:
        super().__init__(f"{problem} {cli_advice}" if cli_advice else problem)
        self.problem = problem


def open_database(path: Path, *, schema: str, version: int, read_only: bool,
                  migrate: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection to the results database at ``path``; StoreError if it cannot be used.

    Writable: created (with ``schema``) if needed, in WAL mode; a database of an older
    schema is brought up to date by ``migrate`` first. Read-only: it must exist and be
    of this schema (nothing can be upgraded there)."""
    if read_only:
        return _open_read_only(path, version)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite gives the -wal and -shm files the database file's mode: 0600 for all three.
        with contextlib.suppress(FileExistsError):  # an existing database keeps its mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise StoreError(f"Cannot create the results database {path}: {exc.strerror}.",
                         "Use another database with --db.") from None
    db = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S)
    try:
        found = _checked_version(db, version)
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL is durable across a killed process in WAL mode; only a power cut
        # can lose the last transactions.
        db.execute("PRAGMA synchronous=NORMAL")
        if found < version:
            migrate(db)
        db.executescript(schema)  # takes no lock when every table is there already
        if found != version:
            db.execute(f"PRAGMA user_version={version}")
        db.commit()
    except sqlite3.DatabaseError as exc:
        db.close()
        raise failure(None, exc, path, read_only=False) from None
    except StoreError:
        db.close()
        raise
    return db


def _open_read_only(path: Path, version: int) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"There is no results database at {path}: scan a folder first.",
                         "Or name the database with --db.")
    uri = f"{path.resolve().as_uri()}?mode=ro"
    try:
        return _connect_read_only(uri, version)
    except sqlite3.DatabaseError as exc:
        if not _cannot_make_shm(exc) or _has_pending_wal(path):
            raise failure(None, exc, path, read_only=True) from None
    # Read-only media, or a read-only file in a folder we may not write (a backup, a
    # share): SQLite cannot make the -shm file a WAL database is read with. Without a
    # -wal file holding pages nobody is writing the database and its file holds every
    # result, so it is read as immutable, without -shm.
    try:
        return _connect_read_only(uri + "&immutable=1", version)
    except sqlite3.DatabaseError as exc:
        raise failure(None, exc, path, read_only=True) from None


def _cannot_make_shm(exc: sqlite3.DatabaseError) -> bool:
    """Whether ``exc`` is SQLite failing to open or create the -shm file beside the
    database: "unable to open" on read-only media, SQLITE_READONLY_DIRECTORY (and its
    kin) where only the permissions forbid it."""
    return ("unable to open" in str(exc) or "readonly database" in str(exc)
            or getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY"))


def _has_pending_wal(path: Path) -> bool:
    try:
        return path.with_name(path.name + "-wal").stat().st_size > 0
    except FileNotFoundError:
        return False


def _connect_read_only(uri: str, version: int) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        _checked_version(db, version, read_only=True)
    except BaseException:
        db.close()
        raise
    return db


def _checked_version(db: sqlite3.Connection, version: int, *, read_only: bool = False) -> int:
    """The database's schema version; StoreError when it is newer than ``version``, or
    older when opened read-only (an upgrade writes)."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > version:
        raise StoreError(f"This results database was written by a newer nsfw-desktop (schema "
                         f"{found}; this version reads up to {version}). Update nsfw-desktop.",
                         "Or use another database with --db.")
    if read_only and found < version:
        raise StoreError(f"This results database was written by an earlier nsfw-desktop (schema "
                         f"{found}; this version reads {version}) and cannot be upgraded while it is "
                         "open read-only. Scan once with this version to upgrade it.")
    return found


def failure(db: sqlite3.Connection | None, exc: sqlite3.DatabaseError, path: Path, *,
            read_only: bool) -> StoreError:
    """The StoreError for ``exc``, after rolling back the write that failed on ``db``."""
    if db is not None and db.in_transaction:
        # The error being reported matters, not a rollback that fails after it.
        with contextlib.suppress(sqlite3.Error):
            db.rollback()
    return StoreError(*explain(exc, path, read_only=read_only))


def user_errors(method: Callable) -> Callable:
    """For methods of an object with ``db``, ``path`` and ``read_only`` (a Store): they
    raise StoreError instead of SQLite's own errors. Generators too."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def generator(self, *args, **kwargs):
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                raise failure(self.db, exc, self.path, read_only=self.read_only) from None
        return generator

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise failure(self.db, exc, self.path, read_only=self.read_only) from None
    return wrapper


def explain(exc: sqlite3.DatabaseError, path: Path, *, read_only: bool) -> tuple[str, str]:
    """What SQLite's error means for the user (its texts are fixed by SQLite), and what to
    do on the command line."""
    text = str(exc)
    other = "Use another database with --db."
    if "database or disk is full" in text:
        return (f"The disk holding the results database {path} is full: free some space, then "
                "run again. Everything saved before is kept.", "")
    if "file is not a database" in text:
        return f"{path} is not an nsfw-desktop results database (file is not a database)", ""
    if "database is locked" in text:
        return (f"The results database {path} is busy: another nsfw-desktop is writing to it. "
                "Wait for it to finish.", other)
    if read_only and "readonly database" in text:
        return f"The results database {path} is open read-only: nothing can be changed in it here.", ""
    if not read_only and ("readonly database" in text or "unable to open" in text) and not (
            os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        return (f"Cannot write the results database {path}: it or its folder is read-only "
                "(read-only media, or no permission).", other)
    if "malformed" in text:
        return (f"The results database {path} is damaged ({text}). Move it aside and scan again.", other)
    if read_only and "unable to open" in text:
        return (f"Cannot read the results database {path} here: its latest results are in "
                f"{path}-wal, and SQLite cannot open them on read-only media. Copy both files "
                "to a writable folder.", "Use that copy with --db.")
    return f"Cannot use the results database {path}: {text}.", other
