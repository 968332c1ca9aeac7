"""What a front end hands to a scan: the files (``FileEntry``), which of them and what to keep
(``ScanPolicy``), and how pictures are decoded and batched (``DecodeOptions``). Here, at the
bottom of the scan package, so every step and every front end takes them from one place."""

from __future__ import annotations

from dataclasses import dataclass

from nsfw_desktop.media import video
from nsfw_desktop.media.imaging import DEFAULT_MAX_DECODE_BYTES, DEFAULT_MAX_FRAMES, DEFAULT_MAX_PIXELS
from nsfw_desktop.xmp.keywords import TagOptions

DEFAULT_BATCH_SIZE = 8


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class ScanPolicy:
    """Which files a scan looks at, and what it keeps of them."""

    recursive: bool = True
    include_hidden: bool = False
    videos: bool = True  # screen video files too (rows of videos screened before are kept)
    retry_errors: bool = False  # classify files stored as errors again (after an endpoint outage)
    embeddings: bool = False  # also store each file's embedding (float16) for "find similar"
    sidecars: TagOptions | None = None  # keep the keywords in the files' XMP sidecars in step


@dataclass(frozen=True)
class DecodeOptions:
    """How pictures are decoded and batched; the same for a scan, the watcher and ``classify``."""

    batch_size: int = DEFAULT_BATCH_SIZE  # images per forward pass
    decode_workers: int = 2  # threads decoding ahead of the model
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused as bombs
    max_frames: int = DEFAULT_MAX_FRAMES  # frames sampled from an animation
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES  # memory one picture may take to decode
    video_interval: float = video.DEFAULT_INTERVAL  # seconds between frames sampled from a video
    video_min_frames: int = video.DEFAULT_MIN_FRAMES  # however short the video
    video_max_frames: int = video.DEFAULT_MAX_FRAMES  # however long the video
    video_max_pixels: int = video.DEFAULT_MAX_PIXELS  # larger videos are refused
    video_max_seconds: float = video.DEFAULT_MAX_SECONDS  # longer claims are refused as absurd
    video_timeout: float = video.DEFAULT_TIMEOUT  # seconds one video may take to sample
    video_refine_frames: int = 4  # frames of the second look at a doubtful video (scan.refine); 0: none

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, not {self.batch_size}")
        if self.decode_workers < 1:
            raise ValueError(f"decode workers must be at least 1, not {self.decode_workers}")
        if self.max_frames < 1:
            raise ValueError(f"max frames must be at least 1, not {self.max_frames}")
        if not 1 <= self.video_min_frames <= self.video_max_frames:
            raise ValueError(f"video frames must be 1 <= min <= max, not {self.video_min_frames} "
                             f"and {self.video_max_frames}")
        if self.video_refine_frames < 0:
            raise ValueError(f"video refine frames must be 0 or more, not {self.video_refine_frames}")
        if self.video_interval <= 0 or self.video_timeout <= 0:
            raise ValueError("the video interval and timeout must be positive")
