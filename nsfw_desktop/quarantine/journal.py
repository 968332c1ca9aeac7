"""The quarantine's journal: where each file came from, written down before it moves.

Every move into or out of a quarantine folder first appends an intent,
``{"op": "move", "id": ..., "from": ..., "to": ...}``, to
``.nsfw-desktop-quarantine.jsonl`` in that folder and fsyncs it; only then does
the file move. ``{"done": id}`` follows once the file and the results database
are where the intent says, ``{"abandoned": id}`` when the file stayed where it
was (the move failed, or was rolled back). The same idea as SQLite's journal.

A process killed in the middle leaves an intent with neither line: ``recover``,
run at the next start (the ``quarantine`` command, the app), completes it when
the file reached ``to`` (the database follows) and rolls it back when the file
is still at ``from`` (our empty placeholder, or a copy to another disk that may
be partial, is removed from ``to``). A move whose database update failed (a
database locked by a scan) is left open on purpose, so the database is brought
in step the same way. Lines of earlier versions (``from`` and ``to`` only)
count as finished moves; anything else is skipped with one warning.

Moves in one folder are serialised by a lock file beside the journal, so the app
and the command never recover a move the other is making.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from nsfw_desktop.store.results import Store, StoreError

log = logging.getLogger(__name__)

LOG_NAME = ".nsfw-desktop-quarantine.jsonl"
LOCK_NAME = ".nsfw-desktop-quarantine.lock"
_MARKS = ("done", "abandoned")
_LOCK_WAIT_S = 60.0  # another process's move takes milliseconds; its recovery, at most seconds


@dataclass(frozen=True)
class Intent:
    id: str
    source: str
    destination: str
    state: str = "open"  # "done", "abandoned" or "open" (unfinished: a kill, or a database that failed)


@dataclass
class Recovery:
    """What ``recover`` did with the unfinished moves it found."""

    completed: list[Intent] = field(default_factory=list)  # the file had moved: the database followed
    rolled_back: list[Intent] = field(default_factory=list)  # the file had not moved: it stays
    database_error: str | None = None  # the database could not follow; those moves stay unfinished


def sync_folder(folder: str | Path) -> None:
    """Make a name created or removed in ``folder`` survive a crash. Windows cannot open a
    folder to fsync it (its file system orders this itself)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal of the quarantine folder ``folder``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOG_NAME

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder's lock; OSError when another process holds it too long."""
        try:
            with FileLock(self.folder / LOCK_NAME, timeout=_LOCK_WAIT_S):
                yield
        except Timeout:
            raise TimeoutError(f"another nsfw-desktop has been moving files in {self.folder} for "
                               f"{_LOCK_WAIT_S:.0f} s; try again when it has finished") from None

    def intend(self, source: str, destination: str) -> Intent:
        """Write down, durably, that ``source`` is about to move to ``destination``."""
        intent = Intent(uuid.uuid4().hex, source, destination)
        created = not self.path.exists()
        self._append({"op": "move", "id": intent.id, "time": time.time(), "from": source,
                      "to": destination}, sync=True)
        if created:
            sync_folder(self.folder)
        return intent

    def finish(self, intent: Intent) -> None:
        # Not fsynced: the next intent's fsync carries it, and recovery would redo it anyway.
        self._append({"done": intent.id}, sync=False)

    def abandon(self, intent: Intent) -> None:
        self._append({"abandoned": intent.id}, sync=False)

    def _append(self, entry: dict, *, sync: bool) -> None:
        with open(self.path, "ab+") as handle:
            # A line cut short by a kill would swallow the next one: end it first.
            if handle.seek(0, os.SEEK_END) > 0:
                handle.seek(-1, os.SEEK_END)
                if handle.read(1) != b"\n":
                    handle.write(b"\n")
            handle.write(json.dumps(entry).encode() + b"\n")
            if sync:
                handle.flush()
                os.fsync(handle.fileno())

    def read(self) -> list[Intent]:
        """Every move in the journal, in order, with its state. A line that is not an intent,
        a mark or an earlier version's move is skipped (one warning for them all)."""
        try:
            with open(self.path, encoding="utf-8", errors="surrogateescape") as handle:
                lines = handle.readlines()
        except FileNotFoundError:
            return []
        intents: dict[str, Intent] = {}
        marks: dict[str, str] = {}
        skipped = 0
        for number, line in enumerate(lines):
            entry = _parse(line)
            if entry is None:
                skipped += line.strip() != ""
            elif entry.get("op") == "move":
                intents[entry["id"]] = Intent(entry["id"], entry["from"], entry["to"])
            elif "from" in entry:  # an earlier version's line, written after the move
                intents[f"line-{number}"] = Intent(f"line-{number}", entry["from"], entry["to"], "done")
            else:
                state, intent_id = next(iter(entry.items()))
                marks[intent_id] = state
        if skipped:
            log.warning("skipped %d line(s) of the quarantine journal %s that are not moves "
                        "(damaged or written by another program)", skipped, self.path)
        return [Intent(i.id, i.source, i.destination, marks.get(i.id, i.state)) for i in intents.values()]


def _parse(line: str) -> dict | None:
    """The line as a checked entry (an intent, a mark, an earlier version's move), or None."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict):
        return None
    if entry.get("op") == "move":
        valid = all(isinstance(entry.get(key), str) for key in ("id", "from", "to"))
    elif "op" in entry:
        valid = False
    elif "from" in entry:
        valid = isinstance(entry["from"], str) and isinstance(entry.get("to"), str)
    else:
        valid = len(entry) == 1 and all(key in _MARKS and isinstance(value, str)
                                        for key, value in entry.items())
    return entry if valid else None


def origins(folder: str | Path) -> dict[str, str]:
    """Quarantined path -> where it was before, for the files the journal says are in
    ``folder``; the last move into each name counts."""
    folder = os.path.abspath(folder)
    found: dict[str, str] = {}
    for intent in Journal(folder).read():
        if intent.state == "abandoned":
            continue
        found.pop(intent.source, None)  # moved out again (an undo, a restore)
        if os.path.dirname(os.path.abspath(intent.destination)) == folder:
            found[intent.destination] = intent.source
    return found


def follow(store: Store, source: str, destination: str) -> None:
    """The database follows a move: ``source``'s row becomes ``destination``'s, if it has one
    (a redone move, or one whose row never moved, must not delete the row at ``destination``)."""
    if store.get(source) is not None:
        store.move(source, destination)


def recover(folder: str | Path, store: Store | None) -> Recovery:
    """Complete or roll back the unfinished moves of ``folder``'s journal (see the module's
    docstring). OSError when the journal cannot be read or written."""
    journal = Journal(folder)
    recovery = Recovery()
    if not journal.path.exists():
        return recovery
    with journal.lock():
        intents = journal.read()
        last_use: dict[str, int] = {}  # path -> index of the last intent naming it
        for index, intent in enumerate(intents):
            last_use[intent.source] = last_use[intent.destination] = index
        for index, intent in enumerate(intents):
            if intent.state != "open":
                continue
            source_there = os.path.lexists(intent.source)
            if last_use[intent.destination] > index:
                # A later move used this name, so the file there is not this move's business.
                (journal.abandon if source_there else journal.finish)(intent)
            elif os.path.lexists(intent.destination) and not source_there:
                if store is not None and recovery.database_error is None:
                    try:
                        follow(store, intent.source, intent.destination)
                    except StoreError as exc:
                        recovery.database_error = str(exc)
                if store is None or recovery.database_error is None:
                    _close(journal, intent, recovery, moved=True)
            else:
                if source_there and os.path.lexists(intent.destination):
                    os.unlink(intent.destination)  # our placeholder, or a copy that may be partial
                    sync_folder(os.path.dirname(intent.destination))
                elif not source_there:
                    log.warning("an interrupted quarantine move found neither %s nor %s",
                                intent.source, intent.destination)
                _close(journal, intent, recovery, moved=False)
    return recovery


def _close(journal: Journal, intent: Intent, recovery: Recovery, *, moved: bool) -> None:
    if moved:
        journal.finish(intent)
        recovery.completed.append(intent)
    else:
        journal.abandon(intent)
        recovery.rolled_back.append(intent)
