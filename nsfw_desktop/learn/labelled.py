"""Labelled photos for ``evaluate``: reading a labelled set, and a model's scores for it.

A labelled set is a folder with one sub-folder per label (``nsfw/``,
``normal/``...; the images anywhere under each), or a CSV of ``path,label``
rows (a relative path is relative to the CSV's folder), or the review marks in
the results database. A label counts as unsafe when it is one of the model's
unsafe labels (``--unsafe-labels``); every other label counts as safe.

Scores come from the database when it has them for the file as it is now: a
scan's row of the same model, or an earlier evaluation's (``evaluation_scores``).
Only the other files go through the model (``pipeline.classify_entries``), and
their scores are kept for the next evaluation, apart from the scan results.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.scan.types import DecodeOptions, FileEntry
from nsfw_desktop.scan.walker import WalkReport, walk
from nsfw_desktop.store.results import Store


class LabelledError(Exception):
    """The labelled set cannot be read; the message is for the user."""


@dataclass(frozen=True)
class Labelled:
    path: str
    label: str
    unsafe: bool


@dataclass
class Scored:
    """One model's scores for the readable files of a labelled set."""

    model: str
    items: list[Labelled]  # the files scored, in order
    scores: np.ndarray  # (N,) nsfw_score of each
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, why) of files not scored
    classified: int = 0  # files that went through the model now
    from_database: int = 0  # files whose score was already stored

    @property
    def marks(self) -> np.ndarray:
        return np.array([item.unsafe for item in self.items], dtype=int)


def read_labelled(source: str | Path, unsafe_labels: Iterable[str]) -> tuple[list[Labelled], list[str]]:
    """The labelled files of a folder or CSV, and the problems met reading it (for the user)."""
    unsafe = {label.strip().lower() for label in unsafe_labels if label.strip()}
    source = Path(source)
    if source.is_dir():
        return _from_folder(source, unsafe)
    if source.is_file():
        return _from_csv(source, unsafe), []
    raise LabelledError(f"{source} is neither a folder of labelled sub-folders nor a CSV of "
                        "path,label rows")


def from_reviews(store: Store) -> list[Labelled]:
    """The reviewed files still there, each labelled by its review mark."""
    return [Labelled(r.path, r.review, r.review == "nsfw") for r in store.results()
            if r.review is not None and r.missing_since is None]


def _from_folder(folder: Path, unsafe: set[str]) -> tuple[list[Labelled], list[str]]:
    report = WalkReport()
    items = []
    labels = sorted(child for child in folder.iterdir() if child.is_dir() and not child.name.startswith("."))
    for child in labels:
        items += [Labelled(entry.path, child.name, child.name.lower() in unsafe)
                  for entry in walk([str(child)], report)]
    if not labels:
        raise LabelledError(f"{folder} has no sub-folders: put the images in one sub-folder per "
                            "label, such as nsfw/ and normal/")
    return items, report.problems


def _from_csv(path: Path, unsafe: set[str]) -> list[Labelled]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = [row for row in csv.reader(handle) if row]
    except UnicodeDecodeError:
        raise LabelledError(f"{path} is not a CSV of path,label rows (it is not text: a picture?). "
                            "Give a folder with one sub-folder per label (nsfw/, normal/...) or "
                            "such a CSV") from None
    except OSError as exc:
        raise LabelledError(f"cannot read {path}: {exc.strerror or exc}") from None
    if rows and [cell.strip().lower() for cell in rows[0]] == ["path", "label"]:
        rows = rows[1:]
    items = []
    for number, row in enumerate(rows, start=1):
        if len(row) != 2 or not row[0].strip() or not row[1].strip():
            raise LabelledError(f"{path}, row {number}: expected two columns, path and label, "
                                f"not {row!r}")
        label = row[1].strip()
        items.append(Labelled(os.path.join(path.parent, row[0].strip()), label, label.lower() in unsafe))
    if not items:
        raise LabelledError(f"{path} lists no files: write one path,label row per image")
    return items


def score_labelled(items: list[Labelled], classifier, store: Store, *,
                   options: DecodeOptions | None = None,
                   on_batch: Callable[[int], None] | None = None) -> Scored:
    """``classifier``'s score for each file of ``items``, from the database where it has one for
    the file as it is now, else from the model (kept for next time). ``on_batch(count)`` is
    called after each batch the model classified."""
    model = classifier.model_id
    prints = store.fingerprints()
    cached = store.evaluation_scores(model)
    found: dict[str, tuple[float | None, str | None]] = {}
    todo: list[FileEntry] = []
    failed: list[tuple[str, str]] = []
    for item in entries_for_paths([os.path.abspath(item.path) for item in items]):
        if isinstance(item, tuple):
            failed.append(item)
            continue
        key = os.fsencode(item.path)
        stored = prints.get(key)
        kept = cached.get(key)
        if stored is not None and stored.current(item.size, item.mtime_ns, model) and not stored.failed:
            found[item.path] = (stored.nsfw_score, None)
        elif kept is not None and kept[:2] == (item.size, item.mtime_ns):
            found[item.path] = kept[2:]
        else:
            todo.append(item)
    from_database = len(found)
    # Nothing to classify: the model is not even loaded.
    for results in classify_entries(todo, classifier, options) if todo else ():
        store.put_evaluation_scores(results)
        found.update((r.path, (r.nsfw_score, r.error)) for r in results)
        if on_batch is not None:
            on_batch(len(results))
    scored, scores = [], []
    for labelled in items:
        score, error = found.get(os.path.abspath(labelled.path), (None, None))
        if error is not None:
            failed.append((labelled.path, error))
        elif score is not None:
            scored.append(labelled)
            scores.append(score)
    return Scored(model, scored, np.array(scores, dtype=np.float64), failed, classified=len(todo),
                  from_database=from_database)
