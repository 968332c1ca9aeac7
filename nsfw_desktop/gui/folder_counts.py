"""How many photos, flagged, errors and reviewed files each folder holds, sub-folders included."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from nsfw_desktop.store.result import Result


def under(path: str, folder: str) -> bool:
    """True when ``path`` lies in ``folder`` or any folder below it."""
    return path.startswith(folder.rstrip(os.sep) + os.sep)


@dataclass
class Counts:
    photos: int = 0
    flagged: int = 0
    errors: int = 0
    reviewed: int = 0
    missing: int = 0

    def add(self, result: Result, threshold: float) -> None:
        self.photos += 1
        self.flagged += result.flagged(threshold)
        self.errors += result.error is not None
        self.reviewed += result.review is not None
        self.missing += result.missing_since is not None

    def merge(self, other: Counts) -> None:
        self.photos += other.photos
        self.flagged += other.flagged
        self.errors += other.errors
        self.reviewed += other.reviewed
        self.missing += other.missing


def count(results: Iterable[Result], threshold: float) -> Counts:
    counts = Counts()
    for result in results:
        counts.add(result, threshold)
    return counts


def count_by_folder(results: Iterable[Result], roots: Iterable[str], threshold: float) -> dict[str, Counts]:
    """Counts for every folder that holds results, from each root down; a result counts in its
    own folder and in every folder above it up to its root. Results under no root are left out."""
    roots = sorted((r.rstrip(os.sep) or os.sep for r in roots), key=len, reverse=True)
    # Each file counts in its own folder first; the few hundred folders then add up into
    # their parents, which keeps 20,000 results to a few tens of milliseconds.
    own: dict[str, Counts] = {}
    for result in results:
        folder = os.path.dirname(result.path)
        counts = own.get(folder)
        if counts is None:
            counts = own[folder] = Counts()
        counts.add(result, threshold)
    total: dict[str, Counts] = {}
    for folder, counts in own.items():
        root = next((r for r in roots if folder == r or under(folder, r)), None)
        if root is None:
            continue
        while True:
            total.setdefault(folder, Counts()).merge(counts)
            if folder == root or len(folder) <= len(root):
                break
            folder = os.path.dirname(folder)
    return total
