"""Video files: found by content, screened on frames sampled over the whole film.

Rules (documented in docs/videos.md):

- A file is a video by its first bytes (an MP4/MOV/M4V/3GP ``ftyp`` brand, old
  QuickTime atoms, Matroska/WebM's EBML header, AVI's RIFF header), else by its
  extension. Decoding is PyAV's (FFmpeg in its wheels).
- Frames are spread over the whole duration: one every ``interval`` seconds, at
  least ``min_frames`` and at most ``max_frames``. Each is taken by seeking to
  the keyframe at or before its time and decoding the first frame there, so a
  film is never decoded whole. Where keyframes are sparser than the samples,
  the decoder goes on from the keyframe to the sample's time instead of taking
  the same keyframe twice.
- Each frame is scaled down as soon as it is decoded (shorter side
  ``min_side``), so no full-size copies are kept; the display rotation of a
  phone video is applied, so the model sees it upright.
- Bounded per file: an MP4 whose tables list more samples than it has bytes of
  data is refused before FFmpeg opens it (``media.video_tables``); a resolution over
  ``max_pixels``, a duration over ``max_seconds`` or a frame count no frame rate
  explains is refused from the headers; decoding stops at ``timeout`` seconds
  (also for reads that stall).
- A file whose frames stop well before the duration it claims is truncated.
- Failures raise ImageError with a reason for the user.

Opening a container within those limits and finding frames in it is ``video_container``'s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from nsfw_desktop.media.imaging import ImageError, looks_like_image, open_regular
from nsfw_desktop.media.video_container import (
    VideoError,
    check_deadline,
    frame_at,
    keyframe_between,
    keyframes,
    opened,
    reduced,
    seek,
)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".mkv", ".webm", ".avi"})

DEFAULT_INTERVAL = 5.0  # seconds between sampled frames
DEFAULT_MIN_FRAMES = 8
DEFAULT_MAX_FRAMES = 32  # with the second look (scan.refine): under 10 s per 10-minute film
DEFAULT_MAX_PIXELS = 8192 * 4320  # 8K: more is no phone or camera video
DEFAULT_MAX_SECONDS = 24 * 3600
DEFAULT_TIMEOUT = 60.0  # seconds one video may take to sample
_COMPLETE = 0.75  # frames ending before this share of the duration: truncated

# ISO base media brands of video files (MP4, MOV, M4V, 3GP); HEIF brands are pictures.
_FTYP_BRANDS = {b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
                b"qt  ", b"M4V ", b"M4VH", b"M4VP", b"MSNV", b"dash", b"mmp4", b"f4v ", b"XAVC"}
# QuickTime files from before ftyp start with one of these atoms.
_QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}
_EBML = b"\x1a\x45\xdf\xa3"  # Matroska and WebM


@dataclass
class DecodedVideo:
    frames: list[Image.Image]  # upright RGB, reduced
    times: list[float]  # seconds from the start, one per frame
    width: int  # of the upright full-size picture
    height: int
    duration: float  # seconds


def looks_like_video(header: bytes) -> bool:
    """True when the first 16 bytes of a file carry the signature of a video container."""
    box = header[4:8]
    return (
        (box == b"ftyp" and (header[8:12] in _FTYP_BRANDS or header[8:11] in (b"3gp", b"3g2")))
        or box in _QUICKTIME_ATOMS
        or header.startswith(_EBML)
        or (header[:4] == b"RIFF" and header[8:12] == b"AVI ")
    )


def has_video_suffix(name: str) -> bool:
    return os.path.splitext(name.lower())[1] in VIDEO_SUFFIXES


def is_video_file(source: str | Path | BinaryIO) -> bool:
    """A video by its first bytes; by its extension when they are no known signature, so a
    broken .mp4 gets a video's reason. An open file's position is kept."""
    if not isinstance(source, (str, os.PathLike)):
        start = source.tell()
        header = source.read(16)
        source.seek(start)
        return looks_like_video(header)
    try:
        with open_regular(source) as handle:
            header = handle.read(16)
    except (OSError, ImageError):
        return False  # the picture decoder gives the reason
    return looks_like_video(header) or (not looks_like_image(header) and has_video_suffix(os.fspath(source)))


def sample_times(duration: float, *, interval: float = DEFAULT_INTERVAL,
                 min_frames: int = DEFAULT_MIN_FRAMES, max_frames: int = DEFAULT_MAX_FRAMES) -> list[float]:
    """Times of the frames to sample: the middles of equal slices of the film, so the
    first and last seconds (titles, a black fade) weigh no more than the rest."""
    count = max(min_frames, min(max_frames, round(duration / interval)))
    return [duration * (i + 0.5) / count for i in range(count)]


def load_video(
    source: str | Path | BinaryIO,
    *,
    min_side: int,
    interval: float = DEFAULT_INTERVAL,
    min_frames: int = DEFAULT_MIN_FRAMES,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    timeout: float = DEFAULT_TIMEOUT,
    at: Sequence[float] | None = None,
) -> DecodedVideo:
    """Sample frames of the video in ``source`` (a file name or an open binary file): spread
    over the film, or the frames at the times ``at`` (ascending; a second look around one
    place). Raises VideoError with the reason."""
    deadline = time.monotonic() + timeout
    with opened(source, timeout, max_pixels, max_seconds) as (container, stream, duration):
        frames, times = [], []
        previous = None
        missed = 0  # samples with no frame at or after their time
        quarter_turned = False
        keyframe_times = keyframes(stream)
        decoded = None  # the decoder's frames since the last seek
        targets = at if at is not None else sample_times(duration, interval=interval, min_frames=min_frames,
                                                         max_frames=max_frames)
        for target in targets:
            check_deadline(deadline)
            if (decoded is None or keyframe_times is None
                    or keyframe_between(keyframe_times, previous, target, stream)):
                seek(container, stream, target)
                decoded = container.decode(stream)
                frame = frame_at(decoded, target, previous, deadline)
            else:
                # No keyframe since the last frame: decoding on costs less than seeking
                # back to the same keyframe (a long film with one keyframe stays linear).
                frame = frame_at(decoded, target, previous, deadline, after_seek=False)
            if frame is None:
                missed += 1
                continue
            previous = frame.pts
            quarter_turned = round(frame.rotation) % 180 == 90
            frames.append(reduced(frame, min_side, max_pixels))
            times.append(float(frame.time) if frame.time is not None else target)
        if not frames:
            raise VideoError("no frame of the video could be decoded: the file is truncated or corrupt")
        if at is None and missed and times[-1] < _COMPLETE * duration:
            # A sound track may outlast the picture a little; frames that stop early mean
            # the file was cut short.
            raise VideoError(f"the video is truncated: its frames stop at {times[-1]:.0f} s of the "
                             f"{duration:.0f} s it claims (an incomplete download or copy?)")
        width, height = stream.codec_context.width, stream.codec_context.height
        if quarter_turned:
            width, height = height, width
        return DecodedVideo(frames, times, width, height, duration)


def still_frame(source: str | Path, at: float | None = None, *, min_side: int,
                max_pixels: int = DEFAULT_MAX_PIXELS, max_seconds: float = DEFAULT_MAX_SECONDS,
                timeout: float = DEFAULT_TIMEOUT) -> Image.Image:
    """The frame shown ``at`` seconds into the video (its middle by default), upright and
    reduced, for a thumbnail: the worst frame a scan found, by the time it stored."""
    deadline = time.monotonic() + timeout
    with opened(source, timeout, max_pixels, max_seconds) as (container, stream, duration):
        target = duration / 2 if at is None else min(max(at, 0.0), duration)
        seek(container, stream, target)
        last = None
        for frame in container.decode(stream):
            check_deadline(deadline)
            last = frame
            # A stored time is the frame's own; a hair's tolerance for its rounding.
            if frame.time is not None and frame.time >= target - 1e-3:
                break
        if last is None:
            raise VideoError("no frame of the video could be decoded: the file is truncated or corrupt")
        return reduced(last, min_side, max_pixels)
