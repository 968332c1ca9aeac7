"""A video container opened within limits, and frames found in it: the part of reading a video
that speaks FFmpeg (through PyAV). ``video`` decides which frames to take.

A container is opened only after its tables passed ``video_tables``, its picture size and
claimed length and frame count are checked before any frame is decoded, a deadline bounds
FFmpeg's reads and decoding, and every FFmpeg or file-system error becomes a VideoError.
"""

from __future__ import annotations

import bisect
import os
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from nsfw_desktop.media.imaging import ImageError, open_regular
from nsfw_desktop.media.video_tables import sample_claim_problem

_MAX_FPS = 1000  # a container claiming more frames than this per second is lying


class VideoError(ImageError):
    """A video that could not be sampled; the message is for the user."""


@contextmanager
def opened(source: str | Path | BinaryIO, timeout: float, max_pixels: int, max_seconds: float):
    """The container, its video stream and duration, checked against the limits; FFmpeg's
    and the file system's errors become VideoErrors."""
    import av

    try:
        with ExitStack() as stack:
            if isinstance(source, (str, os.PathLike)):
                if os.path.getsize(source) == 0:
                    raise VideoError("the file is empty (0 bytes)")
                source = stack.enter_context(open_regular(source))
            # Before FFmpeg builds its index from the tables, which a hostile file inflates.
            if (problem := sample_claim_problem(source)) is not None:
                raise VideoError(problem)
            # The timeout interrupts FFmpeg's reads too, so a stalled read cannot hang a scan.
            container = stack.enter_context(av.open(source, "r", timeout=(timeout, timeout)))
            stream = _checked_stream(container, max_pixels)
            duration = _duration(container, stream)
            if duration > max_seconds:
                raise VideoError(f"refused: the video claims to last {_span(duration)}, more than "
                                 f"the {_span(max_seconds)} limit: the file is corrupt or hostile")
            if stream.frames > _MAX_FPS * max(duration, 1.0):
                raise VideoError(f"refused: the video claims {stream.frames} frames in {_span(duration)}, "
                                 "which no real video has: the file is corrupt or hostile")
            stream.codec_context.thread_count = 1  # the scan runs several decoders at once already
            yield container, stream, duration
    except FileNotFoundError:
        raise VideoError("the file disappeared before it could be read") from None
    except PermissionError:
        raise VideoError("permission denied: the file cannot be read") from None
    except MemoryError:
        raise VideoError("not enough memory to decode this video") from None
    except av.error.ExitError:
        raise VideoError(f"reading the video took longer than {timeout:.0f} seconds; "
                         "it may be damaged or on a very slow drive") from None
    except av.FFmpegError as exc:
        raise VideoError(f"the video is truncated or corrupt ({exc.strerror or exc})") from None
    except OSError as exc:  # reading the tables before FFmpeg: a failing drive, say
        raise VideoError(f"the file could not be read ({exc.strerror or exc})") from None


def _checked_stream(container, max_pixels: int):
    if not container.streams.video:
        raise VideoError("the file has no video track (audio only?)")
    stream = container.streams.video[0]
    codec = stream.codec_context
    if codec is None or not codec.name:
        raise VideoError("the video is in a format (codec) nsfw-desktop cannot decode")
    width, height = codec.width, codec.height
    if width <= 0 or height <= 0:
        raise VideoError("the video's header gives no picture size: the file is corrupt")
    if width * height > max_pixels:
        raise VideoError(f"refused: the video claims {width}x{height} pixels "
                         f"({width * height / 1e6:.0f} MP), over the "
                         f"{max_pixels / 1e6:.0f} megapixel limit for videos")
    return stream


def _span(seconds: float) -> str:
    if seconds >= 7200:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def check_deadline(deadline: float) -> None:
    import av

    if time.monotonic() > deadline:
        raise av.error.ExitError(0, "deadline")


def seek(container, stream, target: float) -> None:
    """To the keyframe at or before ``target`` seconds."""
    container.seek(round(target / stream.time_base) + (stream.start_time or 0), stream=stream,
                   any_frame=False, backward=True)


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE
    raise VideoError("the video does not say how long it is: the file is truncated or corrupt")


def keyframes(stream) -> list[int] | None:
    """The keyframes' timestamps from the container's index, where it lists every frame
    (MP4, MOV); None where it does not (Matroska reads its index on the first seek)."""
    entries = stream.index_entries
    if stream.frames <= 0 or len(entries) < stream.frames:
        return None
    return [entry.timestamp for entry in entries if entry.is_keyframe]


def keyframe_between(keyframes: list[int], previous: int | None, target: float, stream) -> bool:
    """Whether a keyframe lies after the frame ``previous`` (pts) and at or before ``target`` s."""
    end = round(target / stream.time_base) + (stream.start_time or 0)
    start = -1 << 62 if previous is None else previous
    index = bisect.bisect_right(keyframes, start)
    return index < len(keyframes) and keyframes[index] <= end


def frame_at(decoded, target: float, previous: int | None, deadline: float, *, after_seek: bool = True):
    """From ``decoded`` (the decoder's frames), the first frame, when it is fresh and a seek
    just landed on its keyframe; otherwise the first fresh frame at or after ``target``
    (keyframes sparser than the samples)."""
    first = after_seek
    for frame in decoded:
        if frame.pts is None:
            continue
        fresh = previous is None or frame.pts > previous
        if fresh and (first or frame.time >= target):
            return frame
        first = False
        check_deadline(deadline)
    return None


def reduced(frame, min_side: int, max_pixels: int) -> Image.Image:
    """The frame as an upright RGB picture whose shorter side is ``min_side`` (never enlarged)."""
    if frame.width * frame.height > max_pixels:
        raise VideoError(f"refused: a frame of the video is {frame.width}x{frame.height} pixels, "
                         f"over the {max_pixels / 1e6:.0f} megapixel limit for videos")
    scale = min(1.0, min_side / min(frame.width, frame.height))
    width, height = max(1, round(frame.width * scale)), max(1, round(frame.height * scale))
    picture = frame.reformat(width=width, height=height, format="rgb24").to_image()
    return _rotation(picture, frame.rotation)


def _rotation(picture: Image.Image, degrees: int = 0) -> Image.Image:
    """Turn ``picture`` by the display matrix's angle (counter-clockwise degrees)."""
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_270}
    turn = turns.get(round(degrees) % 360)
    return picture.transpose(turn) if turn is not None else picture
