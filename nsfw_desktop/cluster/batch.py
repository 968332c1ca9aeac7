"""A scan's classifying step on a Ray cluster, with Ray Data.

The walk, the incremental decision and the database stay on this computer
(``engine.scan``); only the files that need classifying go to the cluster, as a
Ray Data dataset of paths (or contents, with ``ship_bytes``). Each worker builds
the classifier once (``classify.make_classifier``, the same model as here) and
decodes and predicts with the pipeline's own ``decode_entry`` and
``predict_batch``, so a file gets the same Result on a worker as on this computer.
Only plain arrays and strings cross the cluster; results stream back batch by
batch and ``pipeline.classify_and_commit`` commits each one as it arrives.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

from nsfw_desktop.classify import Classifier, ModelSpec
from nsfw_desktop.cluster import ClusterError, import_ray
from nsfw_desktop.scan.pipeline import ClassifyEntries, Decoded, ScanControl, decode_entry, predict_batch
from nsfw_desktop.scan.types import DecodeOptions, FileEntry
from nsfw_desktop.store.result import Result


@dataclass(frozen=True)
class RayOptions:
    concurrency: int = 1  # workers, each with its own copy of the model
    batch_size: int | None = None  # files per worker call (default: the scan's batch size)
    num_gpus: float = 0  # GPUs each worker takes
    num_cpus: float = 1  # CPUs each worker takes; Ray gives torch as many threads
    ship_bytes: bool = False  # send file contents from here: for workers without the shared mount


def ray_classify(spec: ModelSpec, ray_options: RayOptions | None = None) -> ClassifyEntries:
    """The classifying step for ``engine.scan(classify=...)``, run by Ray Data.

    The caller connects first (``cluster.connect``)."""
    ray_options = ray_options or RayOptions()

    def classify(entries: Iterable[FileEntry], classifier: Classifier, options: DecodeOptions | None = None,
                 control: ScanControl | None = None) -> Iterator[list[Result]]:
        return _classify(list(entries), classifier, spec, ray_options, options or DecodeOptions(),
                         control or ScanControl())

    return classify


def _classify(entries: list[FileEntry], classifier: Classifier, spec: ModelSpec, ray_options: RayOptions,
              options: DecodeOptions, control: ScanControl) -> Iterator[list[Result]]:
    from nsfw_desktop.classify.embedding import EmbeddingClassifier

    import_ray()
    import ray.data

    # The front end shows progress: no Ray Data bars, no notes on each run or on the bars' absence.
    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
    # The pipeline wraps the classifier when embeddings are kept: the workers do the same.
    embeddings = isinstance(classifier, EmbeddingClassifier)
    items = [_item(i, entry, ray_options.ship_bytes) for i, entry in enumerate(entries)]
    dataset = ray.data.from_items(items)
    classified = dataset.map_batches(
        _Worker, fn_constructor_kwargs={"spec": spec.portable(), "embeddings": embeddings,
                                        "options": asdict(options)},
        batch_size=ray_options.batch_size or options.batch_size, batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=ray_options.concurrency),
        num_cpus=ray_options.num_cpus, num_gpus=ray_options.num_gpus or None)
    for batch in classified.iter_batches(batch_size=None, batch_format="numpy"):
        control.wait_while_paused()
        if control.cancelled:
            return
        yield _results(batch, entries, classifier.model_id)


def _item(index: int, entry: FileEntry, ship_bytes: bool) -> dict:
    # Paths travel as bytes: a file name that is not UTF-8 survives the trip.
    item = {"index": index, "path": os.fsencode(entry.path), "size": entry.size, "mtime_ns": entry.mtime_ns}
    if ship_bytes:
        item["read_error"] = ""  # every row has the same columns
        try:
            with open(entry.path, "rb") as file:
                item["data"] = file.read()
        except OSError as exc:
            item["data"] = b""
            item["read_error"] = f"cannot read the file: {exc.strerror}"
    return item


class _Worker:
    """Runs on a Ray worker: the classifier built once, then one call per batch of files."""

    def __init__(self, spec: dict, embeddings: bool, options: dict):
        from nsfw_desktop.classify import make_classifier

        classifier = make_classifier(ModelSpec(**spec))
        if embeddings:
            from nsfw_desktop.classify.embedding import EmbeddingClassifier

            classifier = EmbeddingClassifier(classifier)
        classifier.load()
        self.classifier = classifier
        self.embeddings = embeddings
        self.options = DecodeOptions(**options)
        self.pool = ThreadPoolExecutor(self.options.decode_workers, thread_name_prefix="decode")

    def _decode(self, entry: FileEntry, source: io.BytesIO | None, read_error: str) -> Decoded:
        if read_error:  # this computer could not read the file to ship it
            return Decoded(entry, error=read_error)
        return decode_entry(entry, self.classifier, self.options, source)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        entries = [FileEntry(os.fsdecode(bytes(path)), int(size), int(mtime))
                   for path, size, mtime in zip(batch["path"], batch["size"], batch["mtime_ns"], strict=True)]
        n = len(entries)
        sources = [io.BytesIO(bytes(data)) for data in batch["data"]] if "data" in batch else [None] * n
        read_errors = [str(reason) for reason in batch["read_error"]] if "read_error" in batch else [""] * n
        decoded = list(self.pool.map(self._decode, entries, sources, read_errors))
        results = predict_batch(decoded, self.classifier, self.options)
        return _columns(batch["index"], results, self.classifier.model_id, self.embeddings)


def _columns(index: np.ndarray, results: list[Result], model_id: str,
             embeddings: bool) -> dict[str, np.ndarray]:
    """Results as plain columns; a missing number is NaN (or -1 for a count), a missing text ''."""

    def floats(values) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)

    def ints(values) -> np.ndarray:
        return np.array([-1 if v is None else v for v in values], dtype=np.int64)

    columns = {
        "index": np.asarray(index, dtype=np.int64),
        "model": np.array([model_id] * len(results), dtype=object),
        "label": np.array([r.label or "" for r in results], dtype=object),
        "error": np.array([r.error or "" for r in results], dtype=object),
        "kind": np.array([r.kind for r in results], dtype=object),
        "nsfw_score": floats(r.nsfw_score for r in results),
        "duration": floats(r.duration for r in results),
        "worst_frame_time": floats(r.worst_frame_time for r in results),
        "width": ints(r.width for r in results),
        "height": ints(r.height for r in results),
        "frames": ints(r.frames for r in results),
        "frame_scores": np.array(["" if r.frame_scores is None else json.dumps(r.frame_scores)
                                  for r in results], dtype=object),
    }
    if embeddings:
        size = next((len(r.embedding) for r in results if r.embedding is not None), 0)
        columns["embedding"] = np.stack([np.zeros(size, np.float32) if r.embedding is None
                                         else np.asarray(r.embedding, np.float32) for r in results])
    return columns


def _pairs(text: str) -> list[tuple[float, float]] | None:
    """A video's (seconds, score) pairs from their JSON column ('' for none)."""
    return [(t, s) for t, s in json.loads(text)] if text else None


def _results(batch: dict[str, np.ndarray], entries: list[FileEntry], model_id: str) -> list[Result]:
    """The Results of one batch from the workers, for the files of ``entries`` they name."""
    worker_models = set(batch["model"].tolist())
    if worker_models - {model_id}:
        raise ClusterError(f"The workers classify with {', '.join(sorted(worker_models))}, not {model_id}.",
                           "Give the workers the same model (the same folder on the shared mount, or "
                           "the same Hub id and revision).")

    def real(value) -> float | None:
        return None if np.isnan(value) else float(value)

    def count(value) -> int | None:
        return None if value < 0 else int(value)

    scanned_at = time.time()
    results = []
    for row, i in enumerate(batch["index"].tolist()):
        entry = entries[i]
        error = str(batch["error"][row]) or None
        embedding = batch["embedding"][row] if "embedding" in batch and error is None else None
        results.append(Result(
            path=entry.path, label=str(batch["label"][row]) or None,
            nsfw_score=real(batch["nsfw_score"][row]), model=model_id,
            width=count(batch["width"][row]), height=count(batch["height"][row]),
            file_size=entry.size, mtime_ns=entry.mtime_ns, scanned_at=scanned_at, error=error,
            embedding=embedding, kind=str(batch["kind"][row]),
            duration=real(batch["duration"][row]),
            worst_frame_time=real(batch["worst_frame_time"][row]),
            frames=count(batch["frames"][row]),
            frame_scores=_pairs(str(batch["frame_scores"][row])),
        ))
    return results
