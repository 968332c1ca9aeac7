"""Thumbnails on disk, in the platformdirs cache folder.

A thumbnail is keyed by the file's path, size and modification time as they
are on disk when it is asked for, so an edited photo gets a fresh thumbnail and
a stale one is never shown. Decoding goes through ``imaging.load_image``, so
the same bomb limits, EXIF rotation and clear error messages apply; big JPEGs
are decoded at a reduced scale, which makes a 12 MP photo cost a fraction of a
full decode. A video's thumbnail is one of its frames (``video.still_frame``):
the worst frame when the scan's time of it is given, else the middle one.
Qt-free: the desktop app calls this from its worker threads.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from PIL import Image, ImageFilter

from nsfw_desktop.files import atomic, paths
from nsfw_desktop.media.imaging import ImageError, load_image
from nsfw_desktop.media.video import is_video_file, still_frame

THUMBNAIL_SIZE = 192  # longest side, in pixels
_FORMAT_VERSION = 1  # bump when the way thumbnails are made changes


class ThumbnailCache:
    def __init__(self, folder: str | Path | None = None, size: int = THUMBNAIL_SIZE):
        self.folder = Path(folder) if folder else paths.cache_dir() / "thumbnails"
        self.size = size

    def key(self, path: str, file_size: int, mtime_ns: int, at: float | None = None) -> str:
        digest = hashlib.sha256(os.fsencode(path))
        digest.update(f"\0{file_size}\0{mtime_ns}\0{self.size}\0{_FORMAT_VERSION}".encode())
        if at is not None:  # a video's frame; a picture's key stays what it was
            digest.update(f"\0{at:.3f}".encode())
        return digest.hexdigest()

    def location(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.jpg"

    def thumbnail(self, path: str, at: float | None = None) -> Path:
        """The cached thumbnail file of ``path`` (of a video, its frame ``at`` seconds in),
        made first if needed. Raises ImageError."""
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise ImageError("the file no longer exists") from None
        except OSError as exc:
            raise ImageError(f"cannot read the file: {exc.strerror}") from None
        target = self.location(self.key(path, info.st_size, info.st_mtime_ns, at))
        if not target.exists():
            self._write(make_thumbnail(path, self.size, at), target)
        return target

    def _write(self, image: Image.Image, target: Path) -> None:
        # Pictures of the user's photos: the folders are 0700 and mkstemp makes the file 0600.
        paths.private_folder(self.folder)
        paths.private_folder(target.parent)
        with atomic.replaced(target) as handle:  # a reader never sees half a thumbnail
            image.save(handle, "JPEG", quality=85)


def make_thumbnail(path: str | Path, size: int = THUMBNAIL_SIZE, at: float | None = None) -> Image.Image:
    """An upright RGB image of ``path`` whose longest side is at most ``size``; of a video,
    its frame ``at`` seconds in (the middle one when None)."""
    if is_video_file(path):
        image = still_frame(path, at, min_side=size)
    else:
        # max_frames=1: an animation is represented by its first frame.
        image = load_image(path, min_side=size, max_frames=1).frames[0]
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    return image


def privacy_blur(image: Image.Image) -> Image.Image:
    """A blur strong enough that nothing explicit can be made out, at any size."""
    # Shrinking first makes the blur cheap and its strength independent of the size.
    small = image.resize((max(1, image.width // 16), max(1, image.height // 16)), Image.Resampling.BOX)
    return small.resize(image.size, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(4))
