"""One canonical form to compare paths in: the real folder (links resolved), the name as given.

A library reached through a symbolic link (``~/Pictures`` -> ``/data/photos``) is
stored under the path it was scanned by, and the same photo can be named another
way: by its real path, or by a relative name typed inside the folder, which the
process's working directory (always the real one) turns into the real path. So
``review``, ``tag`` and ``quarantine`` look a stored row up by this form when the
name as given is not stored. The file name itself is kept (a link to a file is a
file of its own), and each folder is resolved once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Protocol


class _Stored(Protocol):
    path: str


class Canonical:
    """``canonical(path)``: the absolute path with its folder's links resolved (cached)."""

    def __init__(self) -> None:
        self._folders: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        folder, name = os.path.split(os.path.abspath(path))
        real = self._folders.get(folder)
        if real is None:
            real = self._folders[folder] = os.path.realpath(folder)
        return os.path.join(real, name)

    def root(self, path: str) -> str:
        """A folder given to a command, resolved whole; a file as ``__call__`` does."""
        return os.path.realpath(path) if os.path.isdir(path) else self(path)


def under(rows: Iterable[_Stored], roots: Iterable[str]) -> Iterator:
    """The rows whose file is one of ``roots`` or lies below one, however either is named."""
    canonical = Canonical()
    real_roots = [canonical.root(root) for root in roots]
    for row in rows:
        path = canonical(row.path)
        if any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in real_roots):
            yield row


class StoredNames:
    """The stored path of a file named in any of its ways, or None when it is not stored.
    Callers look the name as given up first: this reads every row once."""

    def __init__(self, rows: Iterable[_Stored]) -> None:
        self._rows = rows
        self._canonical = Canonical()
        self._stored: dict[str, str] | None = None  # canonical form -> stored path, built on first use

    def find(self, path: str) -> str | None:
        if self._stored is None:
            self._stored = {}
            for row in self._rows:
                self._stored.setdefault(self._canonical(row.path), row.path)
        return self._stored.get(self._canonical(path))
