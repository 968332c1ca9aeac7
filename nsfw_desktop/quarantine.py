"""Move files into a quarantine folder, and back again.

Nothing is ever overwritten: the destination name is reserved by creating it
exclusively (``O_EXCL``) before the file is moved onto it, so a name taken
between the check and the move cannot be clobbered. Name collisions get
``name (1).jpg``, ``name (2).jpg``... The results database follows every move,
so a quarantined file keeps its score and review. Each move is appended to
``.nsfw-desktop-quarantine.jsonl`` in the quarantine folder, so where a file came
from is never lost, even after the app is closed.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.store import Store

log = logging.getLogger(__name__)

LOG_NAME = ".nsfw-desktop-quarantine.jsonl"
_MAX_ATTEMPTS = 10_000


@dataclass(frozen=True)
class Move:
    source: str
    destination: str


@dataclass
class Outcome:
    moves: list[Move]  # what was moved, in order: give it to undo()
    failures: list[tuple[str, str]]  # (path, reason the user can act on)


def quarantine(paths: Iterable[str], folder: str | Path, store: Store | None = None) -> Outcome:
    """Move each file into ``folder`` (created if needed) under a free name."""
    folder = Path(folder)
    outcome = Outcome([], [])
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = f"cannot create the quarantine folder {folder}: {exc.strerror}"
        return Outcome([], [(path, reason) for path in paths])
    for path in paths:
        if _inside(path, folder):
            outcome.failures.append((path, "already in the quarantine folder"))
            continue
        try:
            destination = move_file(path, folder / os.path.basename(path))
        except OSError as exc:
            outcome.failures.append((path, _reason(exc)))
            continue
        move = Move(path, destination)
        outcome.moves.append(move)
        if store is not None:
            store.move(move.source, move.destination)
        _journal(folder, move)
    return outcome


def undo(moves: Iterable[Move], store: Store | None = None) -> Outcome:
    """Put quarantined files back where they were. If something new took the old name
    meanwhile, the file comes back next to it under a free name instead."""
    outcome = Outcome([], [])
    for move in moves:
        try:
            restored = move_file(move.destination, move.source)
        except OSError as exc:
            outcome.failures.append((move.destination, _reason(exc)))
            continue
        back = Move(move.destination, restored)
        outcome.moves.append(back)
        if store is not None:
            store.move(back.source, back.destination)
        _journal(Path(move.destination).parent, back)
    return outcome


def move_file(source: str | Path, wanted: str | Path) -> str:
    """Move ``source`` to ``wanted`` or, if that name is taken, to the first free
    ``stem (n).suffix`` beside it. Returns the path used; never overwrites."""
    source = os.fspath(source)
    if not os.path.lexists(source):
        raise FileNotFoundError(errno.ENOENT, "the file no longer exists", source)
    if os.path.isdir(source):
        raise IsADirectoryError(errno.EISDIR, "this is a folder, not a file", source)
    wanted = Path(wanted)
    wanted.parent.mkdir(parents=True, exist_ok=True)  # an undo may find the old folder gone
    destination = _reserve(wanted)
    try:
        os.replace(source, destination)  # onto our own empty placeholder only
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            os.unlink(destination)
            raise
        _copy_across_devices(source, destination)
    return destination


def _reserve(wanted: Path) -> str:
    stem, suffix = wanted.stem, wanted.suffix
    for n in range(_MAX_ATTEMPTS):
        candidate = wanted if n == 0 else wanted.with_name(f"{stem} ({n}){suffix}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return os.fspath(candidate)
    raise FileExistsError(errno.EEXIST, f"no free name for {wanted.name} after {_MAX_ATTEMPTS} tries",
                          os.fspath(wanted))


def _copy_across_devices(source: str, destination: str) -> None:
    """Another file system: copy onto the reserved name, then remove the original."""
    try:
        shutil.copy2(source, destination)
    except OSError:
        os.unlink(destination)
        raise
    os.unlink(source)


def _inside(path: str, folder: Path) -> bool:
    return os.path.dirname(os.path.abspath(path)) == os.path.abspath(folder)


def _reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "the file no longer exists"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return exc.strerror or str(exc)


def _journal(folder: Path, move: Move) -> None:
    entry = {"time": time.time(), "from": move.source, "to": move.destination}
    try:
        with open(folder / LOG_NAME, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    except OSError as exc:
        # The move itself succeeded and the database knows; the journal is a courtesy.
        log.warning("could not write the quarantine journal in %s: %s", folder, exc)
