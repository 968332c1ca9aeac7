"""Measuring how the fast (int8) model agrees with exact, through the scan pipeline.

The int8 export gives up some agreement for its speed; how much depends on the photos. So
when a fast model is first used, a random sample of the user's own stored files of that
model (up to ``SAMPLE_SIZE``, within ``TIME_BUDGET_S``) is classified by the exact (fp32)
model and by the fast one, each through ``classify_entries``: the same decoding and
preparing as a scan, so the figures are those a scan would give. With no stored files of
the model (a first scan in fast), sample pictures are used instead, and the figure says so.
``classify.agreement`` keeps and states the result.
"""

from __future__ import annotations

import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nsfw_desktop.classify.agreement import Agreement
from nsfw_desktop.classify.base import Classifier
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.files.paths import default_db_path
from nsfw_desktop.media.sample_data import camera_photo
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.scan.types import FileEntry
from nsfw_desktop.store.results import Store, StoreError

if TYPE_CHECKING:
    from nsfw_desktop.classify.onnx import OnnxClassifier

log = logging.getLogger(__name__)

SAMPLE_SIZE = 200
TIME_BUDGET_S = 90.0  # the exact model runs 3 to 4 images/s on a 2-core CPU: the sample stops there
SAMPLE_PICTURES = 16
SAMPLE_PICTURE_SIZE = (800, 600)

def measurer(results_db: Path | None) -> Callable[[OnnxClassifier], Agreement | None]:
    """What a fast classifier calls on its first use (``make_classifier``'s
    ``measure_agreement``): measure it against exact on the stored files of ``results_db``
    (None: the default database), telling the user through the classifier's ``notify``.
    None when the exact model cannot be loaded."""

    def measure_fast(fast: OnnxClassifier) -> Agreement | None:
        files = stored_files(results_db or default_db_path(), fast.source.model_id)
        fast.notify(f"Measuring how the fast model agrees with exact on "
                    f"{f'up to {len(files)} of your photos' if files else 'sample pictures'}; "
                    "this takes a minute and a half at most.")
        exact = LocalClassifier(fast.source, device="cpu", unsafe_labels=fast.unsafe_names)
        try:
            exact.load()
        except ModelError as exc:
            fast.notify(f"The fast model's agreement with exact could not be measured: {exc}")
            return None
        return measure(exact, fast, files)

    return measure_fast


def stored_files(db_path: Path, model_id: str, limit: int = SAMPLE_SIZE, *,
                 seed: int | None = None) -> list[str]:
    """A random sample of the files ``db_path`` holds a score of ``model_id`` for, in any precision.
    No database, or one that cannot be read: none (and the sample pictures are used)."""
    if not db_path.is_file():
        return []
    try:
        with Store(db_path, read_only=True) as store:
            paths = store.scored_paths(model_id)
    except StoreError as exc:
        log.warning("the agreement is measured on sample pictures: %s", exc)
        return []
    random.Random(seed).shuffle(paths)
    return paths[:limit]


def measure(exact: Classifier, fast: Classifier, files: Sequence[str], *, budget_s: float = TIME_BUDGET_S,
            clock: Callable[[], float] = time.monotonic) -> Agreement:
    """Classify ``files`` (or, if none of them can be read, the sample pictures) with ``exact``
    until the files or ``budget_s`` run out, then the files it scored with ``fast``."""
    pairs = _pairs(exact, fast, _readable(files), clock() + budget_s, clock)
    if pairs:
        exact_scores, fast_scores = zip(*pairs, strict=True)
        return Agreement(exact_scores, fast_scores, on_user_photos=True)
    with tempfile.TemporaryDirectory(prefix="nsfw-agreement-") as folder:
        samples = []
        for seed in range(SAMPLE_PICTURES):
            path = Path(folder) / f"sample-{seed:02d}.png"  # lossless: the picture as made
            camera_photo(seed, SAMPLE_PICTURE_SIZE).save(path)
            samples.append(str(path))
        pairs = _pairs(exact, fast, _readable(samples), float("inf"), clock)
    exact_scores, fast_scores = zip(*pairs, strict=True)
    return Agreement(exact_scores, fast_scores, on_user_photos=False)


def _readable(paths: Sequence[str]) -> list[FileEntry]:
    """The files of ``paths`` that are still there; the others are passed over."""
    return [entry for entry in entries_for_paths(paths) if isinstance(entry, FileEntry)]


def _pairs(exact: Classifier, fast: Classifier, entries: list[FileEntry], deadline: float,
           clock: Callable[[], float]) -> list[tuple[float, float]]:
    """(exact, fast) scores of the files both score; exact stops at ``deadline``, a batch at a time."""
    by_exact: dict[str, float] = {}
    batches = classify_entries(entries, exact)
    for batch in batches:
        by_exact.update((r.path, r.nsfw_score) for r in batch if r.nsfw_score is not None)
        if clock() >= deadline:
            batches.close()  # the decodes queued ahead are cancelled
            break
    scored = [entry for entry in entries if entry.path in by_exact]
    by_fast = {r.path: r.nsfw_score for batch in classify_entries(scored, fast) for r in batch}
    return [(by_exact[e.path], score) for e in scored if (score := by_fast[e.path]) is not None]
