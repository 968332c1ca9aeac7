"""A second look at a video whose highest-scoring sample is in doubt.

Frames sampled every few seconds can fall either side of a short scene, or
catch only its edge. When a video's highest-scoring sample lies in the doubtful
band (``REFINE_FROM`` <= score < ``REFINE_BELOW``: something is there, but not
clearly above any threshold a user would pick), a few more frames
(``DecodeOptions.video_refine_frames``) are taken between that sample and its
neighbours, by seeking as the first pass did, and scored in one forward pass
for the whole batch; the video then takes the highest score of all its frames.
A clearly safe or clearly flagged video costs nothing more, and a doubtful one
a few frames: this is what lets the default sample half as many frames as
before (32, not 64) and still screen a 10-minute film in under 10 s.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from nsfw_desktop.classify.base import Classifier, Prediction
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.scan.prepare import prepare_video_at
from nsfw_desktop.scan.types import DecodeOptions

log = logging.getLogger(__name__)

REFINE_FROM = 0.2  # below: nothing in the film looked near explicit
REFINE_BELOW = 0.9  # from here the video is flagged at any usual threshold already
_SAME_FRAME = 1e-3  # seconds: a refined frame this close to a sampled one is that frame


@dataclass
class FirstLook:
    """A video as the first pass left it."""

    source: str | Path | BinaryIO  # to open again
    name: str  # for the log
    duration: float
    times: list[float]  # of the sampled frames, ascending
    scores: list[float]  # one per time


def doubtful(score: float) -> bool:
    return REFINE_FROM <= score < REFINE_BELOW


def refine_times(times: list[float], duration: float, index: int, count: int) -> list[float]:
    """``count`` times spread evenly between the sample ``times[index]`` and the samples either
    side of it (the film's start and end at the ends), excluding the samples themselves."""
    here = times[index]
    before = times[index - 1] if index > 0 else 0.0
    after = times[index + 1] if index + 1 < len(times) else duration
    left, right = count // 2, count - count // 2
    wanted = [here - (here - before) * k / (left + 1) for k in range(1, left + 1)]
    wanted += [here + (after - here) * k / (right + 1) for k in range(1, right + 1)]
    return sorted(t for t in wanted if 0.0 <= t <= duration)


def second_look(videos: list[FirstLook], classifier: Classifier,
                options: DecodeOptions) -> list[list[tuple[float, Prediction]]]:
    """For each video, the (time, prediction) of the frames its second look scored: none
    for a video not in doubt, or one whose file can no longer be read (its first look
    stands; the reason goes to the log)."""
    wanted: list[tuple[int, list[float], list]] = []  # (video, times, inputs)
    for number, first in enumerate(videos):
        best = max(range(len(first.scores)), key=first.scores.__getitem__)
        if options.video_refine_frames < 1 or not doubtful(first.scores[best]):
            continue
        targets = refine_times(first.times, first.duration, best, options.video_refine_frames)
        if not isinstance(first.source, (str, Path)):
            first.source.seek(0)  # the first pass read it to the end
        try:
            prepared = prepare_video_at(first.source, classifier, options, targets)
        except ImageError as exc:
            log.warning("the second look at %s failed, its first stands: %s", first.name, exc)
            continue
        times = prepared.times
        assert times is not None, "a video's frames come with their times"
        # Sparse keyframes may give back a frame the first pass scored already.
        fresh = [i for i, t in enumerate(times)
                 if all(abs(t - seen) > _SAME_FRAME for seen in first.times)]
        if fresh:
            wanted.append((number, [times[i] for i in fresh], [prepared.inputs[i] for i in fresh]))
    extra: list[list[tuple[float, Prediction]]] = [[] for _ in videos]
    inputs = [p for _, _, more in wanted for p in more]
    if not inputs:
        return extra
    predictions = classifier.predict(inputs)
    if len(predictions) != len(inputs):
        raise RuntimeError(f"classifier returned {len(predictions)} predictions for {len(inputs)}")
    remaining = iter(predictions)
    for number, times, _ in wanted:
        scored = [(t, next(remaining)) for t in times]
        extra[number] = [(t, p) for t, p in scored if not p.error]
    return extra
