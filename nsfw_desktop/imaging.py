"""Safe image decoding: any file in, RGB frames or a readable reason out.

Conversion rules (documented in the README):

- The format is detected from the file's content, never from its extension.
- EXIF orientation is applied, so the model sees the photo upright.
- Transparent images (RGBA, LA, palette with transparency) are composited over
  white, the way a viewer shows them on a light background.
- 16-bit and 32-bit grayscale is scaled to 8 bits by its type's full range;
  grayscale, palette, bilevel and CMYK are converted by Pillow's own rules.
- Animated GIF/WebP/PNG: up to ``max_frames`` frames evenly spread over the
  animation are returned; the engine flags the file on its highest-scoring frame.
- Large JPEGs are decoded at reduced size (``Image.draft``), never below
  ``min_side`` on either side, which the engine sets to twice the model input.
- Pictures with more pixels than ``max_pixels`` are refused from the header,
  before any pixel memory is allocated (decompression bombs).
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 128_000_000
DEFAULT_MAX_FRAMES = 4

IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp", ".bmp", ".dib",
    ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif",
})

# EXIF orientations 5-8 are rotations by 90 or 270 degrees: width and height swap.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


class ImageError(Exception):
    """A file that could not be turned into an image; the message is for the user."""


@dataclass
class DecodedImage:
    frames: list[Image.Image]  # RGB, upright; one for a still image
    width: int  # of the full-size upright picture, not of the reduced decode
    height: int
    format: str


@functools.cache
def _register_plugins() -> None:
    # pillow-heif adds HEIC/HEIF (iPhone photos); Pillow itself reads AVIF where built with it.
    import pillow_heif

    pillow_heif.register_heif_opener()


def looks_like_image(header: bytes) -> bool:
    """True when the first bytes of a file carry the signature of a format we read."""
    return (
        header.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM"))
        or header.startswith((b"II*\x00", b"MM\x00*"))
        or (header[:4] == b"RIFF" and header[8:12] == b"WEBP")
        or (header[4:8] == b"ftyp" and header[8:12] in _HEIF_BRANDS)
    )


_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif",
                b"avis"}


def load_image(
    path: str | Path | BinaryIO,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
) -> DecodedImage:
    """Decode ``path`` (a file name, or an open binary file such as a request body) into
    upright RGB frames, or raise ImageError with the reason."""
    _register_plugins()
    try:
        with warnings.catch_warnings():
            # We check the pixel count ourselves below, with our own limit and message.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                return _decode(img, min_side, max_pixels, max_frames)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("the file disappeared before it could be read") from None
    except PermissionError:
        raise ImageError("permission denied: the file cannot be read") from None
    except IsADirectoryError:
        raise ImageError("this is a folder, not a file") from None
    except UnidentifiedImageError:
        if isinstance(path, (str, os.PathLike)) and os.path.getsize(path) == 0:
            raise ImageError("the file is empty (0 bytes)") from None
        raise ImageError("not an image, or an image format nsfw-desktop cannot read") from None
    except Image.DecompressionBombError:
        raise ImageError(
            "refused as a possible decompression bomb: its header claims far more pixels "
            f"than the {max_pixels / 1e6:.0f} megapixel limit"
        ) from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        if "truncated" in str(exc):
            raise ImageError("the image is truncated (an incomplete download or copy?)") from None
        raise ImageError(f"the image data is corrupt ({exc})") from None


def _decode(img: Image.Image, min_side: int | None, max_pixels: int, max_frames: int) -> DecodedImage:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            f"refused as a possible decompression bomb: {width}x{height} is "
            f"{width * height / 1e6:.0f} megapixels, over the {max_pixels / 1e6:.0f} megapixel limit"
        )
    orientation = img.getexif().get(ImageOps.ExifTags.Base.Orientation, 1)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width
    fmt = img.format or "unknown"

    if getattr(img, "is_animated", False) and img.n_frames > 1:
        frames = []
        for index in _spread(img.n_frames, max_frames):
            img.seek(index)
            frames.append(to_rgb(img))
        return DecodedImage(frames, width, height, fmt)

    if min_side and fmt == "JPEG":
        # The JPEG decoder scales by 1/2, 1/4 or 1/8 for almost free; draft keeps
        # both sides at least min_side.
        img.draft("RGB", (min_side, min_side))
    img.load()
    upright = ImageOps.exif_transpose(img)
    return DecodedImage([to_rgb(upright)], width, height, fmt)


def _spread(count: int, wanted: int) -> list[int]:
    """Indices of ``wanted`` frames evenly spread over ``count``, first and last included."""
    if count <= wanted:
        return list(range(count))
    if wanted == 1:
        return [0]
    return sorted({round(i * (count - 1) / (wanted - 1)) for i in range(wanted)})


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB by the rules in the module docstring."""
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_to_uint8(np.asarray(img), mode)).convert("RGB")
    if mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        mode == "P" and "transparency" in img.info
    ) or (mode in ("L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def _to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        low, high = float(pixels.min()), float(pixels.max())
        scaled = (pixels - low) / (high - low or 1.0) * 255.0
    else:
        # Pillow reads 16-bit PNG and TIFF grayscale into these modes; the values span 0..65535.
        scaled = pixels.astype(np.float64) / 257.0
    return np.clip(scaled, 0, 255).astype(np.uint8)
