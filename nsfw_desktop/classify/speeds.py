"""Scan speed per model and precision, measured on this computer by the scans themselves.

The model catalogue (``models list --available``, the app's Models dialog) shows how
fast each model screens photos here. Running a benchmark when the list is shown
would take minutes, so each scan records its own throughput instead: images per
second from the end of its first batch (which pays for loading the model and
warming up) to the end of its last, when it classified at least ``MIN_FILES``
files in that span without a pause. The latest figure per model id (with its
precision suffix) is kept in ``speeds.json`` in the cache folder.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

from filelock import FileLock

from nsfw_desktop.classify.precision import MODEL_ID_SUFFIX
from nsfw_desktop.files import paths
from nsfw_desktop.files.atomic import replaced

log = logging.getLogger(__name__)

SPEEDS_FILE = "speeds.json"
PRECISION_OF_SUFFIX = {suffix: precision for precision, suffix in MODEL_ID_SUFFIX.items()}
MIN_FILES = 16  # fewer, and the figure says more about the moment than about the model


@dataclass(frozen=True)
class Speed:
    images_per_second: float
    files: int  # classified in the measured span
    measured_at: float  # seconds since the epoch

    def describe(self) -> str:
        day = time.strftime("%Y-%m-%d", time.localtime(self.measured_at))
        return f"{self.images_per_second:.1f} images/s on this computer ({self.files} files, {day})"


class Meter:
    """Times a scan's batches; ``rate`` is None until enough files were timed."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._first_end: float | None = None
        self._last_end = 0.0
        self._files = 0
        self._paused = False

    def batch_done(self, files: int, *, paused: bool = False) -> None:
        now = self._clock()
        self._paused |= paused
        if self._first_end is None:
            self._first_end = now
            return
        self._files += files
        self._last_end = now

    def speed(self) -> Speed | None:
        if self._paused or self._first_end is None or self._files < MIN_FILES:
            return None
        seconds = self._last_end - self._first_end
        if seconds <= 0:
            return None
        return Speed(self._files / seconds, self._files, time.time())


def _file():
    return paths.cache_dir() / SPEEDS_FILE


def measured() -> dict[str, Speed]:
    """model id (with its precision suffix) -> the latest speed measured on this computer."""
    try:
        data = json.loads(_file().read_text())
        return {model: Speed(float(s["images_per_second"]), int(s["files"]), float(s["measured_at"]))
                for model, s in data.items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("cannot read the measured speeds in %s (%s): they are measured again", _file(), exc)
        return {}


def record(model_id: str, speed: Speed) -> None:
    """Keep ``speed`` as the latest of ``model_id``. A cache folder that cannot be written is
    logged and passed over: the scan's results do not depend on it."""
    target = _file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Two scans (the app and a watcher) may finish at once: one read-modify-write at a time.
        with FileLock(str(target) + ".lock", timeout=10):
            speeds = measured()
            speeds[model_id] = speed
            with replaced(target, "w", encoding="utf-8") as out:
                json.dump({model: vars(s) for model, s in speeds.items()}, out, indent=1)
    except OSError as exc:
        log.warning("cannot keep the scan speed of %s in %s: %s", model_id, target, exc)


def of_model(name: str) -> dict[str, Speed]:
    """precision -> the latest speed of ``name`` (a Hub id or ``open-nsfw``, whatever the revision)
    in that precision. An ONNX model's id has no precision suffix: it runs as published."""
    found: dict[str, Speed] = {}
    for model_id, speed in measured().items():
        repo, at, revision = model_id.partition("@")
        if repo != name or not at:
            continue
        suffix = revision[revision.find("+"):] if "+" in revision else ""
        precision = PRECISION_OF_SUFFIX.get(suffix)
        if precision and (precision not in found or speed.measured_at > found[precision].measured_at):
            found[precision] = speed
    return found


def describe(name: str, *, precisions: bool = True) -> str:
    """The measured speeds of ``name`` in words, or that none was measured yet. ``precisions``
    False: the model runs as published (ONNX), so its speed is not told by precision."""
    found = of_model(name)
    if not found:
        return "not measured yet: the next scan with it that classifies a few dozen files measures it"
    if not precisions:
        return max(found.values(), key=lambda s: s.measured_at).describe()
    return "; ".join(f"{precision} {found[precision].describe()}"
                     for precision in MODEL_ID_SUFFIX if precision in found)
