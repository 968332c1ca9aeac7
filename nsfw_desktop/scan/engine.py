"""The scan engine: walk folders, skip what is unchanged, classify the rest, prune what is gone.

Classifying and committing is ``pipeline.classify_and_commit``, the same path
the watcher takes. The engine is Qt-free: callers iterate over its events and
steer it with a ``ScanControl`` from any thread; the CLI, the desktop app and
the watcher's catch-up scans all use this same code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from nsfw_desktop.classify import Classifier, speeds
from nsfw_desktop.scan.pipeline import ClassifyEntries, ScanControl, classify_and_commit, is_current
from nsfw_desktop.scan.types import DecodeOptions, FileEntry, ScanPolicy
from nsfw_desktop.scan.walker import Sniffed, WalkReport, walk
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store


@dataclass
class Progress:
    done: int  # files classified (or failed) so far in this scan
    total: int  # files this scan has to classify
    errors: int
    flagged: int
    elapsed: float  # seconds since classification started, pauses included

    @property
    def images_per_second(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        rate = self.images_per_second
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass
class ScanStarted:
    to_classify: int
    unchanged: int
    pruned: int  # rows of files that no longer exist, removed
    missing: int  # reviewed files found gone: kept, marked missing
    problems: list[str] = field(default_factory=list)  # folders that could not be read


@dataclass
class BatchDone:
    results: list[Result]
    progress: Progress


@dataclass
class ScanSummary:
    scanned: int  # files classified by this scan
    unchanged: int  # files whose stored result is still current
    flagged: int  # of all files under the roots, this scan's and earlier results alike
    errors: int  # likewise: files that could not be classified
    pruned: int
    missing: int  # reviewed files this scan found gone, kept and marked missing
    seconds: float
    cancelled: bool
    problems: list[str]

    @property
    def images_per_second(self) -> float:
        return self.scanned / self.seconds if self.seconds > 0 else 0.0


@dataclass
class ScanFinished:
    summary: ScanSummary


Event = ScanStarted | BatchDone | ScanFinished


def scan(
    roots: Iterable[str],
    classifier: Classifier,
    store: Store,
    *,
    policy: ScanPolicy | None = None,
    options: DecodeOptions | None = None,
    control: ScanControl | None = None,
    threshold: float = 0.5,
    defer: Callable[[FileEntry], bool] | None = None,
    classify: ClassifyEntries | None = None,
) -> Iterator[Event]:
    """Screen ``roots`` incrementally, committing results to ``store`` as they come.

    A file is classified again only when its stored row is no longer current
    (``pipeline.is_current``); rows of files known to be gone are pruned.
    Files for which ``defer(entry)`` is true are left to the caller (the watcher
    defers files still being written): not classified, not pruned, counted as unchanged.
    ``classify`` is the classifying step (``pipeline.classify_entries`` by default; a
    Ray cluster's with ``cluster.batch``): only the files to classify go to it.
    """
    policy = policy or ScanPolicy()
    control = control or ScanControl()
    roots = [os.path.abspath(root) for root in roots]
    report = WalkReport()
    known = store.fingerprints()
    sniffed = Sniffed(store.sniffed())
    seen: set[bytes] = set()
    todo: list[FileEntry] = []
    earlier_flagged = earlier_errors = 0
    for entry in walk(roots, report, recursive=policy.recursive, include_hidden=policy.include_hidden,
                      videos=policy.videos, sniffed=sniffed):
        key = os.fsencode(entry.path)
        seen.add(key)
        if defer is not None and defer(entry):
            continue
        stored = known.get(key)
        if is_current(stored, entry, classifier.model_id, policy):
            earlier_errors += stored.failed
            earlier_flagged += stored.flagged(threshold)
        else:
            todo.append(entry)
    store.mark_found(seen)
    pruned, missing = _prune_vanished(store, known, seen, roots)
    # Non-pictures the walk did not meet under the roots (gone, pictures now, or skipped this
    # time) are forgotten: a row too many would only cost one more sniff, never a wrong skip.
    under = tuple(os.fsencode(os.path.join(root, "")) for root in roots)
    store.update_sniffed(sniffed.found, [path for path in sniffed.known
                                         if path not in sniffed.met and path.startswith(under)])
    unchanged = len(seen) - len(todo)
    yield ScanStarted(len(todo), unchanged, pruned, missing, list(report.problems))

    start = time.monotonic()
    progress = Progress(0, len(todo), 0, 0, 0.0)
    meter = speeds.Meter()
    if todo and not control.cancelled:
        for results in classify_and_commit(todo, classifier, store, policy, options, control,
                                                   classify):
            progress.done += len(results)
            progress.errors += sum(r.error is not None for r in results)
            progress.flagged += sum(r.flagged(threshold) for r in results)
            progress.elapsed = time.monotonic() - start
            meter.batch_done(len(results), paused=control.paused)
            yield BatchDone(results, progress)
    # This computer's speed for the model catalogue; a cluster's (``classify``) is not this computer's.
    speed = meter.speed()
    if classify is None and speed is not None and not control.cancelled:
        speeds.record(classifier.model_id, speed)
    yield ScanFinished(ScanSummary(
        scanned=progress.done, unchanged=unchanged, flagged=earlier_flagged + progress.flagged,
        errors=earlier_errors + progress.errors, pruned=pruned, missing=missing,
        seconds=time.monotonic() - start, cancelled=control.cancelled, problems=list(report.problems),
    ))


def _prune_vanished(store: Store, known: dict, seen: set[bytes], roots: list[str]) -> tuple[int, int]:
    """Forget the rows under ``roots`` whose files are known to be gone: (deleted, marked missing).

    Known to be gone means: the file's own folder could be listed, holds
    something, and the file is not in it. A folder that cannot be read, that is
    not there, or that is empty (an unmounted drive's mount point looks like
    that) tells nothing, so its rows stay; so do the rows of files merely
    skipped this time (a hidden folder, --no-recursive), and every row of a
    root where the walk found no file at all. A gone file with a review mark is
    never deleted: its row is marked missing, for the person to remove.
    """
    prefixes = tuple(
        prefix for prefix in (os.fsencode(os.path.join(root, "")) for root in roots)
        if any(path.startswith(prefix) for path in seen)
    )
    if not prefixes:
        return 0, 0
    listings: dict[bytes, frozenset[bytes] | None] = {}
    gone = []
    for path in known:
        if path in seen or not path.startswith(prefixes):
            continue
        folder, name = os.path.split(path)
        if folder not in listings:
            listings[folder] = _listing(folder)
        names = listings[folder]
        if names and name not in names:
            gone.append(path)
    return store.forget_gone(gone)


def _listing(folder: bytes) -> frozenset[bytes] | None:
    """The names in ``folder``, or None when it cannot be listed."""
    try:
        return frozenset(os.listdir(folder))
    except OSError:
        return None
