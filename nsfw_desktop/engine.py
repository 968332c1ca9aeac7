"""The scan engine: walk folders, skip what is unchanged, classify the rest in batches.

Decoding (and the classifier's ``prepare``) runs in a thread pool a couple of
batches ahead, so the next images are ready while the model works on this
batch. Results are committed batch by batch. The engine is Qt-free: callers
iterate over its events and steer it with a ``ScanControl`` from any thread;
the CLI, the desktop app and the watcher all use this same code.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from nsfw_desktop.classifier import Classifier
from nsfw_desktop.imaging import DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS, ImageError, load_image
from nsfw_desktop.store import Result, Store
from nsfw_desktop.walker import FileEntry, WalkReport, walk

DEFAULT_BATCH_SIZE = 8


@dataclass
class ScanOptions:
    recursive: bool = True
    include_hidden: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE  # images per forward pass
    decode_workers: int = 2  # threads decoding ahead of the model
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused as bombs
    max_frames: int = DEFAULT_MAX_FRAMES  # frames sampled from an animation
    embeddings: bool = False  # also store each file's embedding (float16) for "find similar"
    retry_errors: bool = False  # classify files stored as errors again (after an endpoint outage)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        if self.decode_workers < 1:
            raise ValueError(f"decode workers must be at least 1, not {self.decode_workers}")


class ScanControl:
    """Pause, resume and cancel a running scan from any thread.

    The engine looks at it between batches, so a request takes effect once the
    batch in the model is finished and committed.
    """

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()  # a paused scan must wake up to see the cancel

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait_while_paused(self) -> None:
        self._running.wait()


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
    options: ScanOptions | None = None,
    control: ScanControl | None = None,
    threshold: float = 0.5,
    defer: Callable[[FileEntry], bool] | None = None,
) -> Iterator[Event]:
    """Screen ``roots`` incrementally, committing results to ``store`` as they come.

    A file is classified again only when its size, modification time or the
    model changed; rows of files that no longer exist under ``roots`` are pruned.
    Files for which ``defer(entry)`` is true are left to the caller (the watcher
    defers files still being written): not classified, not pruned, counted as unchanged.
    """
    options = options or ScanOptions()
    control = control or ScanControl()
    roots = [os.path.abspath(root) for root in roots]
    report = WalkReport()
    known = store.fingerprints()
    vectors = None
    missing: set[bytes] = set()
    if options.embeddings:
        from nsfw_desktop.embeddings import EmbeddingStore
        from nsfw_desktop.features import EmbeddingClassifier

        classifier = EmbeddingClassifier(classifier)  # same forward pass, embeddings on the side
        vectors = EmbeddingStore(store)
        missing = vectors.missing()  # classified before embeddings were turned on
    seen: set[bytes] = set()
    todo: list[FileEntry] = []
    earlier_flagged = earlier_errors = 0
    for entry in walk(roots, report, recursive=options.recursive,
                      include_hidden=options.include_hidden):
        key = os.fsencode(entry.path)
        seen.add(key)
        if defer is not None and defer(entry):
            continue
        stored = known.get(key)
        if stored and stored.current(entry.size, entry.mtime_ns, classifier.model_id) \
                and key not in missing and not (options.retry_errors and stored.failed):
            earlier_errors += stored.failed
            earlier_flagged += not stored.failed and stored.nsfw_score >= threshold
        else:
            todo.append(entry)
    pruned = _prune_vanished(store, known, seen, roots)
    unchanged = len(seen) - len(todo)
    yield ScanStarted(len(todo), unchanged, pruned, list(report.problems))

    start = time.monotonic()
    progress = Progress(0, len(todo), 0, 0, 0.0)
    if todo and not control.cancelled:
        classifier.load()
        for results in classify_entries(todo, classifier, options, control):
            store.put_many(results)
            if vectors is not None:
                vectors.put_many(results)
            progress.done += len(results)
            progress.errors += sum(r.error is not None for r in results)
            progress.flagged += sum(r.flagged(threshold) for r in results)
            progress.elapsed = time.monotonic() - start
            yield BatchDone(results, progress)
    yield ScanFinished(ScanSummary(
        scanned=progress.done, unchanged=unchanged, flagged=earlier_flagged + progress.flagged,
        errors=earlier_errors + progress.errors, pruned=pruned, seconds=time.monotonic() - start,
        cancelled=control.cancelled, problems=list(report.problems),
    ))


def _prune_vanished(store: Store, known: dict, seen: set[bytes], roots: list[str]) -> int:
    """Remove rows under ``roots`` whose files are gone.

    Files merely skipped this time (a hidden folder, --no-recursive) still exist
    and keep their rows. A root where the walk found no file at all is left
    alone: an unmounted drive or a vanished folder looks exactly like that, and
    its results must survive until it is back.
    """
    prefixes = tuple(
        prefix for prefix in (os.fsencode(os.path.join(root, "")) for root in roots)
        if any(path.startswith(prefix) for path in seen)
    )
    if not prefixes:
        return 0
    gone = [
        os.fsdecode(path) for path in known
        if path not in seen and path.startswith(prefixes) and not os.path.lexists(path)
    ]
    if gone:
        store.remove(gone)
    return len(gone)


def classify_entries(
    entries: Iterable[FileEntry],
    classifier: Classifier,
    options: ScanOptions | None = None,
    control: ScanControl | None = None,
) -> Iterator[list[Result]]:
    """Classify files in batches, yielding one list of Results per batch, in order.

    Errors (unreadable, corrupt, bomb...) come back as Results with ``error``
    set; they never stop the run. Animated images are scored on several frames
    and the file takes its highest-scoring frame.
    """
    options = options or ScanOptions()
    control = control or ScanControl()
    classifier.load()
    min_side = 2 * classifier.input_size

    def decode(entry: FileEntry) -> _Decoded:
        try:
            image = load_image(entry.path, min_side=min_side, max_pixels=options.max_pixels,
                               max_frames=options.max_frames)
        except ImageError as exc:
            return _Decoded(entry, error=str(exc))
        try:
            # A classifier may prepare from the file itself (RemoteClassifier uploads small
            # files as they are); the others prepare each decoded frame.
            prepare_file = getattr(classifier, "prepare_file", None)
            prepared = (prepare_file(entry.path, image) if prepare_file is not None
                        else [classifier.prepare(frame) for frame in image.frames])
        except Exception as exc:  # a checkpoint's processor may reject odd sizes
            return _Decoded(entry, error=f"the model's preprocessing failed: {exc}")
        return _Decoded(entry, image.width, image.height, prepared)

    ahead = 2 * options.batch_size  # enough decoded work to keep the model busy
    pending: deque[Future[_Decoded]] = deque()
    remaining = iter(entries)
    with ThreadPoolExecutor(options.decode_workers, thread_name_prefix="decode") as pool:

        def refill() -> None:
            while len(pending) < ahead:
                entry = next(remaining, None)
                if entry is None:
                    return
                pending.append(pool.submit(decode, entry))

        refill()
        try:
            while pending:
                control.wait_while_paused()
                if control.cancelled:
                    return
                batch: list[_Decoded] = []
                frames = 0
                while pending and frames < options.batch_size:
                    item = pending.popleft().result()
                    refill()
                    batch.append(item)
                    frames += len(item.prepared)
                yield _predict_batch(batch, classifier)
        finally:
            for future in pending:
                future.cancel()


@dataclass
class _Decoded:
    entry: FileEntry
    width: int | None = None
    height: int | None = None
    prepared: list = field(default_factory=list)
    error: str | None = None


def _predict_batch(batch: list[_Decoded], classifier: Classifier) -> list[Result]:
    inputs = [p for item in batch for p in item.prepared]
    predictions = classifier.predict(inputs) if inputs else []
    if len(predictions) != len(inputs):
        raise RuntimeError(f"classifier returned {len(predictions)} predictions for {len(inputs)}")
    scanned_at = time.time()
    results = []
    offset = 0
    for item in batch:
        entry = item.entry
        mine = predictions[offset:offset + len(item.prepared)]
        offset += len(item.prepared)
        error = item.error or next((p.error for p in mine if p.error), None)
        best = None if error else max(mine, key=lambda p: p.nsfw_score)
        results.append(Result(
            path=entry.path,
            label=best.label if best else None,
            nsfw_score=best.nsfw_score if best else None,
            model=classifier.model_id,
            width=item.width, height=item.height,
            file_size=entry.size, mtime_ns=entry.mtime_ns,
            scanned_at=scanned_at, error=error, embedding=best.embedding if best else None,
        ))
    return results


def entries_for_paths(paths: Iterable[str]) -> Iterator[FileEntry | tuple[str, str]]:
    """FileEntry for each existing file, or (path, reason) for one that cannot be read."""
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            yield path, "file not found"
            continue
        except OSError as exc:
            yield path, f"cannot read the file: {exc.strerror}"
            continue
        if not os.path.isfile(path):
            yield path, "not a file"
            continue
        yield FileEntry(os.path.abspath(path), info.st_size, info.st_mtime_ns)
