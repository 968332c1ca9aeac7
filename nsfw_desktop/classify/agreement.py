"""How the fast (int8) model agrees with exact, measured when the fast model is built.

The int8 export gives up some agreement for its speed; how much depends on the
photos. So when a fast model is first used, a random sample of the user's own
stored files of that model (up to ``SAMPLE_SIZE``, within ``TIME_BUDGET_S``) is
classified by both the exact (fp32) model and the fast one. With no stored files
of the model (a first scan in fast), the sample pictures of ``media.sample_data`` are
used instead, and the figure says so. The pairs of scores are kept beside the
cached fast model (``AGREEMENT_FILE``), so the agreement can be stated again at any
threshold: on every later use, in ``models list --available`` and in the app.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.classify.model_source import ModelError, resolve
from nsfw_desktop.classify.onnx_export import cache_folder
from nsfw_desktop.files.atomic import replaced
from nsfw_desktop.media.imaging import ImageError, load_image
from nsfw_desktop.media.sample_data import camera_photo
from nsfw_desktop.store.results import Store, StoreError

log = logging.getLogger(__name__)

AGREEMENT_FILE = "agreement.json"
SAMPLE_SIZE = 200
TIME_BUDGET_S = 90.0  # the exact model runs 3 to 4 images/s on a 2-core CPU: the sample stops there
SAMPLE_PICTURES = 16
SAMPLE_PICTURE_SIZE = (800, 600)
BATCH = 8


@dataclass(frozen=True)
class Agreement:
    """The NSFW scores of the same files by exact and by fast, in the same order."""

    exact: tuple[float, ...]
    fast: tuple[float, ...]
    on_user_photos: bool  # False: measured on the sample pictures

    @property
    def count(self) -> int:
        return len(self.exact)

    @property
    def max_difference(self) -> float:
        return max((abs(a - b) for a, b in zip(self.exact, self.fast, strict=True)), default=0.0)

    def agreeing(self, threshold: float) -> int:
        """Files that both models flag, or both leave, at ``threshold``."""
        return sum((a >= threshold) == (b >= threshold) for a, b in zip(self.exact, self.fast, strict=True))

    def describe(self, threshold: float) -> str:
        where = ("of your photos" if self.on_user_photos
                 else "sample pictures (none of your photos had been scanned with this model)")
        return (f"agrees with exact on {self.agreeing(threshold)}/{self.count} {where} at threshold "
                f"{threshold:g}, max difference {self.max_difference:.3f}")

    def save(self, folder: Path) -> None:
        data = {"exact": list(self.exact), "fast": list(self.fast), "on_user_photos": self.on_user_photos}
        with replaced(folder / AGREEMENT_FILE, "w") as out:
            json.dump(data, out)

    @classmethod
    def load(cls, folder: Path) -> Agreement | None:
        """The agreement kept in ``folder``, or None when it was never measured (or is unreadable)."""
        try:
            data = json.loads((folder / AGREEMENT_FILE).read_text())
            return cls(tuple(map(float, data["exact"])), tuple(map(float, data["fast"])),
                       bool(data["on_user_photos"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot read %s (%s): the agreement is measured again", folder / AGREEMENT_FILE, exc)
            return None


def kept_agreement(model: str | None) -> Agreement | None:
    """The agreement kept beside the fast model of ``model`` (a --model value), or None when no
    fast model of it was built on this computer. Never downloads anything."""
    try:
        source = resolve(model, download=False)
    except ModelError:
        return None
    return Agreement.load(cache_folder(source)) if source.format == "transformers" else None


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


def measure(exact, fast, files: Sequence[str], *, budget_s: float = TIME_BUDGET_S,
            clock: Callable[[], float] = time.monotonic) -> Agreement:
    """Classify ``files`` (or, if none of them can be read, the sample pictures) with the loaded
    classifiers ``exact`` and ``fast``, batch by batch, until the files or ``budget_s`` run out."""
    deadline = clock() + budget_s
    pairs = _pairs(exact, fast, _user_images(files, 2 * exact.input_size), deadline, clock)
    if pairs:
        exact_scores, fast_scores = zip(*pairs, strict=True)
        return Agreement(exact_scores, fast_scores, on_user_photos=True)
    samples = (camera_photo(seed, SAMPLE_PICTURE_SIZE) for seed in range(SAMPLE_PICTURES))
    pairs = _pairs(exact, fast, samples, float("inf"), clock)
    exact_scores, fast_scores = zip(*pairs, strict=True)
    return Agreement(exact_scores, fast_scores, on_user_photos=False)


def _user_images(files: Sequence[str], min_side: int):
    """The first frame of each file that can still be read; the others are passed over."""
    for path in files:
        try:
            yield load_image(path, min_side=min_side).frames[0]
        except (ImageError, OSError) as exc:
            log.info("agreement sample: %s passed over (%s)", path, exc)


def _pairs(exact, fast, images, deadline: float, clock) -> list[tuple[float, float]]:
    pairs: list[tuple[float, float]] = []
    batch = []
    for image in images:
        batch.append(image)
        if len(batch) == BATCH:
            pairs += _scores(exact, fast, batch)
            batch = []
            if clock() >= deadline:
                return pairs
    if batch:
        pairs += _scores(exact, fast, batch)
    return pairs


def _scores(exact, fast, images) -> list[tuple[float, float]]:
    by_exact = exact.predict([exact.prepare(image) for image in images])
    by_fast = fast.predict([fast.prepare(image) for image in images])
    return [(a.nsfw_score, b.nsfw_score) for a, b in zip(by_exact, by_fast, strict=True)]
