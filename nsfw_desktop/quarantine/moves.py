"""Move files into a quarantine folder, and back again.

Nothing is ever overwritten: the destination name is reserved by creating it
exclusively (``O_EXCL``) before the file is moved onto it, so a name taken
between the check and the move cannot be clobbered. Name collisions get
``name (1).jpg``, ``name (2).jpg``... The results database follows every move,
so a quarantined file keeps its score and review.

Where a file came from is never lost: each move is written down in the
quarantine folder's journal (``quarantine.journal``) before the file moves, and
``recover`` completes or rolls back what a killed process left unfinished. A
move to another disk fsyncs the copy and its folder before the original is
removed; a move that fails leaves nothing behind in the quarantine folder.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Container, Iterable
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.files.paths import is_inside
from nsfw_desktop.quarantine.journal import LOG_NAME as LOG_NAME  # re-exported for callers
from nsfw_desktop.quarantine.journal import Intent, Journal, follow, sync_folder
from nsfw_desktop.store.results import Store, StoreError

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 10_000


@dataclass(frozen=True)
class Move:
    source: str
    destination: str


@dataclass
class Outcome:
    moves: list[Move]  # what was moved, in order: give it to undo()
    failures: list[tuple[str, str]]  # (path, reason the user can act on)
    # The files moved but the database could not follow (why); it catches up at the next recover().
    database_error: str | None = None


def quarantine(paths: Iterable[str], folder: str | Path, store: Store | None = None, *,
               database_error: str | None = None) -> Outcome:
    """Move each file into ``folder`` (created if needed) under a free name. With
    ``database_error`` (why the database cannot follow now) the moves are left unfinished
    in the journal, for ``recover`` to bring the database in step later."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create the quarantine folder {folder}: {exc.strerror}"
        return Outcome([], [(path, reason) for path in paths])
    mover = _Mover(Journal(folder), store, database_error)
    for path in paths:
        if _inside(path, folder):
            mover.outcome.failures.append((path, "already in the quarantine folder"))
        else:
            mover.move(path, folder / os.path.basename(path))
    return mover.outcome


def undo(moves: Iterable[Move], store: Store | None = None, *, database_error: str | None = None) -> Outcome:
    """Put quarantined files back where they were. If something new took the old name
    meanwhile, the file comes back next to it under a free name instead."""
    outcomes = []
    for move in moves:
        mover = _Mover(Journal(os.path.dirname(move.destination)), store, database_error)
        mover.move(move.destination, move.source)
        database_error = mover.outcome.database_error  # one wait for a busy database is enough
        outcomes.append(mover.outcome)
    return Outcome([m for o in outcomes for m in o.moves], [f for o in outcomes for f in o.failures],
                   next((o.database_error for o in outcomes if o.database_error), None))


class _Mover:
    """Moves files one by one under ``journal`` (locked for each), the database following
    until it fails once; the moves after that stay unfinished in the journal."""

    def __init__(self, journal: Journal, store: Store | None, database_error: str | None):
        self.journal, self.store = journal, store
        self.outcome = Outcome([], [], database_error)

    def move(self, source: str, wanted: Path | str) -> None:
        try:
            with self.journal.lock():
                destination, intent = move_file(source, wanted, self.journal)
                self._follow(intent)
        except OSError as exc:
            self.outcome.failures.append((source, _reason(exc)))
            return
        self.outcome.moves.append(Move(source, destination))

    def _follow(self, intent: Intent) -> None:
        if self.outcome.database_error is not None:
            return  # left unfinished: recover() brings the database in step
        if self.store is not None:
            try:
                follow(self.store, intent.source, intent.destination)
            except StoreError as exc:
                self.outcome.database_error = str(exc)
                return
        try:
            self.journal.finish(intent)
        except OSError as exc:  # the move stands; recover() marks it done next time
            log.warning("could not mark a quarantine move done in %s: %s", self.journal.path, exc)


def move_file(source: str | Path, wanted: str | Path, journal: Journal) -> tuple[str, Intent]:
    """Move ``source`` to ``wanted`` or, if that name is taken, to the first free
    ``stem (n).suffix`` beside it, writing the intent to ``journal`` first. Returns the
    path used and the intent, still open; never overwrites."""
    source = os.fspath(source)
    if not os.path.lexists(source):
        raise FileNotFoundError(errno.ENOENT, "the file no longer exists", source)
    if os.path.isdir(source):
        raise IsADirectoryError(errno.EISDIR, "this is a folder, not a file", source)
    wanted = Path(wanted)
    wanted.parent.mkdir(parents=True, exist_ok=True)  # an undo may find the old folder gone
    destination, intent = _reserve(source, wanted, journal)
    try:
        try:
            os.replace(source, destination)  # onto our own empty placeholder only
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            _copy_across_devices(source, destination)
    except OSError:
        os.unlink(destination)
        journal.abandon(intent)
        raise
    return destination, intent


def free_name(wanted: str | Path, taken: Container[str] = ()) -> str:
    """``wanted``, or the first ``stem (n).suffix`` beside it that no file has and that is
    not in ``taken``."""
    wanted = Path(wanted)
    stem, suffix = wanted.stem, wanted.suffix
    for n in range(_MAX_ATTEMPTS):
        candidate = os.fspath(wanted if n == 0 else wanted.with_name(f"{stem} ({n}){suffix}"))
        if candidate not in taken and not os.path.lexists(candidate):
            return candidate
    raise FileExistsError(errno.EEXIST, f"no free name for {wanted.name} after {_MAX_ATTEMPTS} tries",
                          os.fspath(wanted))


def outside_folders(moves: Iterable[Move], folders: Iterable[str]) -> list[Move]:
    """The moves back (``source``: where the file was) that would create folders outside every
    one of ``folders``: the user confirms these first, as the journal may come from another
    computer or name a drive that is gone."""
    roots = list(folders)
    return [m for m in moves if not os.path.isdir(os.path.dirname(m.source))
            and not any(is_inside(m.source, root) for root in roots)]


def _reserve(source: str, wanted: Path, journal: Journal) -> tuple[str, Intent]:
    """Write the intent for the first free name, then create that name exclusively."""
    raced: set[str] = set()
    while True:
        candidate = free_name(wanted, raced)
        intent = journal.intend(source, candidate)
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except OSError as exc:
            journal.abandon(intent)
            if not isinstance(exc, FileExistsError):
                raise
            raced.add(candidate)  # taken since the check
            continue
        return candidate, intent


def _copy_across_devices(source: str, destination: str) -> None:
    """Another file system: copy onto the reserved name and make the copy durable, then
    remove the original. The caller removes the copy if any step fails (a source folder
    we may not write, for one)."""
    with open(source, "rb") as original, open(destination, "wb") as copy:
        shutil.copyfileobj(original, copy)
        copy.flush()
        os.fsync(copy.fileno())
    shutil.copystat(source, destination)
    sync_folder(os.path.dirname(destination))
    os.unlink(source)


def _inside(path: str, folder: Path) -> bool:
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder)


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the file no longer exists"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)
