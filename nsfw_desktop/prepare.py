"""Decode and prepare: one file (or uploaded bytes) in, model inputs or a reason out.

Scans, the server and heatmaps all turn a picture into model input here, so
they share the same limits (bomb refusal, frames sampled from an animation,
reduced JPEG decoding never below twice the model input) and the same messages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image

from nsfw_desktop.classify.base import Classifier
from nsfw_desktop.imaging import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_FRAMES,
    DEFAULT_MAX_PIXELS,
    ImageError,
    load_image,
)

DEFAULT_BATCH_SIZE = 8


@dataclass(frozen=True)
class DecodeOptions:
    """How pictures are decoded and batched; the same for a scan, the watcher and ``classify``."""

    batch_size: int = DEFAULT_BATCH_SIZE  # images per forward pass
    decode_workers: int = 2  # threads decoding ahead of the model
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused as bombs
    max_frames: int = DEFAULT_MAX_FRAMES  # frames sampled from an animation
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES  # memory one picture may take to decode

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        if self.decode_workers < 1:
            raise ValueError(f"decode workers must be at least 1, not {self.decode_workers}")
        if self.max_frames < 1:
            raise ValueError(f"max frames must be at least 1, not {self.max_frames}")


@dataclass
class PreparedImage:
    width: int  # of the full-size upright picture, not of the reduced decode
    height: int
    frames: list[Image.Image]  # upright RGB frames as decoded, one for a still picture
    inputs: list[Any] = field(repr=False)  # classifier.prepare(frame), one per frame


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
    image = load_image(source, min_side=max(min_side, 2 * classifier.input_size),
                       max_pixels=options.max_pixels, max_decode_bytes=options.max_decode_bytes,
                       max_frames=options.max_frames if max_frames is None else max_frames)
    # A classifier may prepare from the file itself (RemoteClassifier uploads a small file
    # as it is); the others prepare each decoded frame.
    prepare_file = getattr(classifier, "prepare_file", None)
    try:
        if prepare_file is not None and isinstance(source, (str, os.PathLike)):
            inputs = prepare_file(os.fspath(source), image)
        else:
            inputs = [classifier.prepare(frame) for frame in image.frames]
    except Exception as exc:  # a checkpoint's processor may reject odd sizes: say so for this file
        raise ImageError(f"the model's preprocessing failed: {exc}") from None
    return PreparedImage(image.width, image.height, image.frames, inputs)
