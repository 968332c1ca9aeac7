"""The one path from files to stored results, shared by the scan engine and the watcher.

- ``is_current`` decides whether a stored row still answers for a file.
- ``classify_entries`` decodes and prepares files in a thread pool a couple of
  batches ahead, so the next images are ready while the model works on this
  batch, and yields one list of Results per batch.
- ``classify_and_commit`` does that and commits each batch to the store, with
  the embeddings when the policy keeps them, and brings the XMP sidecars of the
  batch's files in step when the policy asks for it. The classifying step is a
  ``ClassifyEntries``: ``classify_entries`` here, or the Ray-backed one of
  ``cluster.batch`` (same signature, same Results), chosen by the caller.
- ``decode_entry`` and ``predict_batch`` are the two halves of one batch, shared
  with the cluster's workers so both give the same Results.

``ScanControl`` steers all of it from any thread; it is looked at between batches.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import BinaryIO

from nsfw_desktop.classify.base import Classifier, Prediction
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.media.video import VideoError, has_video_suffix
from nsfw_desktop.scan.prepare import decode_and_prepare
from nsfw_desktop.scan.refine import FirstLook, second_look
from nsfw_desktop.scan.types import DecodeOptions, FileEntry, ScanPolicy
from nsfw_desktop.store.result import Fingerprint, Result
from nsfw_desktop.store.results import Store
from nsfw_desktop.xmp.tagging import tag_stored


class ScanControl:
    """Pause, resume and cancel a running scan from any thread.

    The pipeline looks at it between batches, so a request takes effect once the
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


def is_current(stored: Fingerprint | None, entry: FileEntry, model_id: str, policy: ScanPolicy) -> bool:
    """True when ``stored`` still answers for ``entry``: same size, modification time and
    model, and nothing the policy asks for is missing (an embedding, a retry of an error)."""
    if stored is None or not stored.current(entry.size, entry.mtime_ns, model_id):
        return False
    if stored.failed:
        return not policy.retry_errors
    return stored.has_embedding or not policy.embeddings


# (entries, classifier, options, control) -> one list of Results per batch, committed by the caller
ClassifyEntries = Callable[
    [Iterable[FileEntry], Classifier, DecodeOptions | None, ScanControl | None], Iterator[list[Result]]]


def classify_and_commit(
    entries: Iterable[FileEntry],
    classifier: Classifier,
    store: Store,
    policy: ScanPolicy,
    options: DecodeOptions | None = None,
    control: ScanControl | None = None,
    classify: ClassifyEntries | None = None,
) -> Iterator[list[Result]]:
    """Classify ``entries`` and commit each batch to ``store`` before yielding it.

    With ``policy.embeddings`` each result's embedding (from the same forward
    pass) is stored with it; that needs a local ViT (ModelError otherwise).
    With ``policy.sidecars`` each committed batch's sidecars follow the stored
    state (a review kept by the store included); a sidecar that cannot be
    written is logged and the scan goes on.
    When the model has an adopted personal policy, embeddings are kept anyway:
    ``Store.put_many`` gives each new file its policy score from its embedding.
    ``classify`` is the classifying step (default ``classify_entries``, on this computer).
    """
    classify = classify or classify_entries
    if policy.embeddings or store.policy(classifier.model_id) is not None:
        from nsfw_desktop.classify.embedding import EmbeddingClassifier

        classifier = EmbeddingClassifier(classifier)
    for results in classify(entries, classifier, options, control):
        store.put_many(results)
        if policy.sidecars is not None:
            tag_stored(store, [r.path for r in results], policy.sidecars)
        yield results


def classify_entries(
    entries: Iterable[FileEntry],
    classifier: Classifier,
    options: DecodeOptions | None = None,
    control: ScanControl | None = None,
) -> Generator[list[Result], None, None]:
    """Classify files in batches, yielding one list of Results per batch, in order.

    Errors (unreadable, corrupt, bomb...) come back as Results with ``error``
    set; they never stop the run. Animated images and videos are scored on several
    frames and the file takes its highest-scoring frame (for a video, with its time).
    """
    options = options or DecodeOptions()
    control = control or ScanControl()
    classifier.load()

    def decode(entry: FileEntry) -> Decoded:
        return decode_entry(entry, classifier, options)

    ahead = 2 * options.batch_size  # enough decoded work to keep the model busy
    # A video brings up to 36 frames' inputs (about 22 MB at 224 px): a folder of videos
    # would otherwise hold sixteen films' inputs. Told by the name, which is what phones
    # and downloads give; a video with another name is not held back.
    videos_ahead = options.decode_workers + 1
    pending: deque[tuple[Future[Decoded], bool]] = deque()  # (decode, is a video)
    remaining = iter(entries)
    waiting: list[FileEntry] = []  # the next entry, held back while enough videos are ahead
    with ThreadPoolExecutor(options.decode_workers, thread_name_prefix="decode") as pool:

        def refill() -> None:
            while len(pending) < ahead:
                entry = waiting.pop() if waiting else next(remaining, None)
                if entry is None:
                    return
                video = has_video_suffix(entry.path)
                if video and sum(v for _, v in pending) >= videos_ahead:
                    waiting.append(entry)
                    return
                pending.append((pool.submit(decode, entry), video))

        refill()
        try:
            while pending:
                control.wait_while_paused()
                if control.cancelled:
                    return
                batch: list[Decoded] = []
                frames = 0
                while pending and frames < options.batch_size:
                    item = pending.popleft()[0].result()
                    refill()
                    batch.append(item)
                    frames += len(item.inputs)
                yield predict_batch(batch, classifier, options)
        finally:
            for future, _ in pending:
                future.cancel()


@dataclass
class Decoded:
    """One file's model inputs (one per frame), or the reason it has none."""

    entry: FileEntry
    width: int | None = None
    height: int | None = None
    inputs: list = field(default_factory=list)
    error: str | None = None
    kind: str = "image"
    times: list[float] | None = None  # a video's sampled frames' times
    duration: float | None = None
    source: str | BinaryIO | None = None  # a video's, for a second look (refine)


def decode_entry(entry: FileEntry, classifier: Classifier, options: DecodeOptions,
                 source: str | BinaryIO | None = None) -> Decoded:
    """Decode and prepare one file (read from ``source`` when given, else from its path);
    a failure becomes the Decoded's error, never an exception."""
    try:
        prepared = decode_and_prepare(entry.path if source is None else source, classifier, options)
    except ImageError as exc:
        # A broken video stays a video in the results, so it shows and exports as one.
        return Decoded(entry, error=str(exc), kind="video" if isinstance(exc, VideoError) else "image")
    # The frames are not kept: only the model inputs wait in the queue.
    return Decoded(entry, prepared.width, prepared.height, prepared.inputs, kind=prepared.kind,
                   times=prepared.times, duration=prepared.duration,
                   source=(entry.path if source is None else source) if prepared.kind == "video" else None)


def predict_batch(batch: list[Decoded], classifier: Classifier,
                  options: DecodeOptions | None = None) -> list[Result]:
    """One forward pass over the batch's frames; each file takes its highest-scoring frame.
    With ``options``, a video whose best frame is in doubt gets a second look (``refine``)."""
    inputs = [p for item in batch for p in item.inputs]
    predictions = classifier.predict(inputs) if inputs else []
    if len(predictions) != len(inputs):
        raise RuntimeError(f"classifier returned {len(predictions)} predictions for {len(inputs)}")
    scored: list[list] = []  # per file: its frames' predictions, then (time, prediction) for a video
    offset = 0
    for item in batch:
        scored.append(predictions[offset:offset + len(item.inputs)])
        offset += len(item.inputs)
    videos = [i for i, item in enumerate(batch) if item.times is not None and item.source is not None
              and item.inputs and not any(p.error for p in scored[i])]
    more: dict[int, list] = {}  # file: (time, prediction) of the frames of its second look
    if options is not None and videos:
        firsts = [_first_look(batch[i], scored[i]) for i in videos]
        more = dict(zip(videos, second_look(firsts, classifier, options), strict=True))
    scanned_at = time.time()
    results = []
    for number, (item, mine) in enumerate(zip(batch, scored, strict=True)):
        entry = item.entry
        error = item.error or next((p.error for p in mine if p.error), None)
        video = item.times is not None
        frames = []  # a video's (time, prediction), with its second look's, in time order
        if item.times is not None:
            frames = sorted([*zip(item.times, mine, strict=True), *more.get(number, [])], key=lambda f: f[0])
        if frames:
            mine = [p for _, p in frames]
        best_index = None if error else max(range(len(mine)), key=lambda i: mine[i].nsfw_score)
        best = None if best_index is None else mine[best_index]
        results.append(Result(
            path=entry.path,
            label=best.label if best else None,
            nsfw_score=best.nsfw_score if best else None,
            model=classifier.model_id,
            width=item.width, height=item.height,
            file_size=entry.size, mtime_ns=entry.mtime_ns,
            scanned_at=scanned_at, error=error, embedding=best.embedding if best else None,
            kind=item.kind, duration=item.duration,
            worst_frame_time=frames[best_index][0] if video and best_index is not None else None,
            frames=len(mine) if video else None,
            frame_scores=[(t, p.nsfw_score) for t, p in frames] if video and not error else None,
        ))
    return results


def _first_look(item: Decoded, predictions: list[Prediction]) -> FirstLook:
    # decode_entry sets a video's source, duration and times together
    assert item.source is not None and item.duration is not None and item.times is not None
    return FirstLook(item.source, item.entry.path, item.duration, item.times,
                     [p.nsfw_score for p in predictions])


def entries_for_paths(paths: Iterable[str]) -> Iterator[FileEntry | tuple[str, str]]:
    """FileEntry for each existing file, or (path, reason) for one that cannot be read."""
    for path in paths:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            yield path, "no such file"
            continue
        except OSError as exc:
            yield path, f"cannot read the file: {exc.strerror}"
            continue
        if not os.path.isfile(path):
            yield path, "not a file"
            continue
        yield FileEntry(os.path.abspath(path), info.st_size, info.st_mtime_ns)
