"""Decode and prepare: one file (or uploaded bytes) in, model inputs or a reason out.

Scans, the server and heatmaps all turn a picture into model input here, so
they share the same limits (bomb refusal, frames sampled from an animation,
reduced JPEG decoding never below twice the model input) and the same messages.
A video (by its first bytes, or its extension when they say nothing) is
sampled by ``video.load_video`` and comes out as the frames with their times.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from nsfw_desktop.classify.base import Classifier
from nsfw_desktop.media import video
from nsfw_desktop.media.imaging import (
    ImageError,
    load_image,
)
from nsfw_desktop.scan.types import DecodeOptions


@dataclass
class PreparedImage:
    width: int  # of the full-size upright picture, not of the reduced decode
    height: int
    frames: list[Image.Image]  # upright RGB frames as decoded, one for a still picture
    inputs: list[Any] = field(repr=False)  # classifier.prepare(frame), one per frame
    kind: str = "image"  # or "video"
    times: list[float] | None = None  # a video's frames' times in seconds
    duration: float | None = None  # a video's, in seconds


def decode_and_prepare(
    source: str | Path | BinaryIO,
    classifier: Classifier,
    options: DecodeOptions | None = None,
    *,
    min_side: int = 0,
    max_frames: int | None = None,
) -> PreparedImage:
    """Decode ``source`` and run the classifier's preprocessing on each frame.

    The decode keeps both sides at least twice the model input, or ``min_side``
    when that is larger (a heatmap drawn over a bigger preview). Raises
    ImageError with a reason for the user; safe to call from worker threads.
    """
    options = options or DecodeOptions()
    side = max(min_side, 2 * classifier.input_size)
    if video.is_video_file(source):
        most = max_frames or options.video_max_frames
        sampled = video.load_video(source, min_side=side, interval=options.video_interval,
                           min_frames=min(options.video_min_frames, most), max_frames=most,
                           max_pixels=options.video_max_pixels, max_seconds=options.video_max_seconds,
                           timeout=options.video_timeout)
        # A remote classifier's prepare_file would upload the whole film: frames go instead.
        inputs = _prepare_each(classifier, sampled.frames)
        return PreparedImage(sampled.width, sampled.height, sampled.frames, inputs, "video",
                             sampled.times, sampled.duration)
    image = load_image(source, min_side=side,
                       max_pixels=options.max_pixels, max_decode_bytes=options.max_decode_bytes,
                       max_frames=options.max_frames if max_frames is None else max_frames)
    # A classifier may prepare from the file itself (RemoteClassifier uploads a small file
    # as it is); the others prepare each decoded frame.
    prepare_file = getattr(classifier, "prepare_file", None)
    if prepare_file is not None and isinstance(source, (str, os.PathLike)):
        try:
            inputs = prepare_file(os.fspath(source), image)
        except Exception as exc:  # an upload's preparation may fail: say so for this file
            raise ImageError(f"the model's preprocessing failed: {exc}") from None
    else:
        inputs = _prepare_each(classifier, image.frames)
    return PreparedImage(image.width, image.height, image.frames, inputs)


def prepare_video_at(source: str | Path | BinaryIO, classifier: Classifier, options: DecodeOptions,
                     times: list[float]) -> PreparedImage:
    """The frames of a video at ``times`` (ascending), decoded and prepared as a scan's are:
    the second look of ``refine``. Raises ImageError with a reason for the user."""
    sampled = video.load_video(source, min_side=2 * classifier.input_size, at=times,
                               max_pixels=options.video_max_pixels, max_seconds=options.video_max_seconds,
                               timeout=options.video_timeout)
    inputs = _prepare_each(classifier, sampled.frames)
    return PreparedImage(sampled.width, sampled.height, sampled.frames, inputs, "video", sampled.times,
                         sampled.duration)


def _prepare_each(classifier: Classifier, frames: list[Image.Image]) -> list[Any]:
    try:
        return [classifier.prepare(frame) for frame in frames]
    except Exception as exc:  # a checkpoint's processor may reject odd sizes: say so for this file
        raise ImageError(f"the model's preprocessing failed: {exc}") from None
