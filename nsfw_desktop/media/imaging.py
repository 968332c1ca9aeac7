"""Safe image decoding: any file in, RGB frames or a readable reason out.

Conversion rules (documented in docs/models.md and docs/reliability.md):

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
- Pictures whose decode would allocate more than ``max_decode_bytes`` (512 MB by
  default: the picture in its own mode, the conversion to RGB and the decoder's own
  buffers, after any JPEG reduction) are refused from the header too, so a tiny file
  claiming a huge RGBA picture cannot take gigabytes. Two decode workers and the model
  then stay under about 1.5 GB. Larger budgets can be passed per call.
- A JPEG whose data is shorter than its claimed picture needs is reported as
  truncated, like a file cut short, instead of being decoded padded with grey.
- Only regular files are opened: a FIFO, socket or device is refused unopened, since
  reading one could block forever.
"""

from __future__ import annotations

import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from nsfw_desktop.media.decode_limits import ALPHA_MODES, DEEP_GRAY_MODES, decode_bytes, read_jpeg_frame

DEFAULT_MAX_PIXELS = 128_000_000
DEFAULT_MAX_DECODE_BYTES = 512 * 1024 * 1024
DEFAULT_MAX_FRAMES = 4

# Our limit, checked from the header (``max_pixels``), replaces Pillow's own: Pillow warns of a
# large picture through the warnings filters, which are one for the whole process, and decode
# threads that each silenced the warning for their call restored each other's filters (a warning
# could escape, and a model export on another thread lost its own filters).
Image.MAX_IMAGE_PIXELS = None

IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".gif", ".webp", ".bmp", ".dib",
    ".tif", ".tiff", ".heic", ".heif", ".hif", ".avif",
})

# EXIF orientations 5-8 are rotations by 90 or 270 degrees: width and height swap.
_TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}

TRUNCATED = "the image is truncated: the file ends before the picture does (an incomplete download or copy?)"


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


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file, else raise ImageError.

    A FIFO opened the ordinary way waits for a writer forever, and opening a device can
    have side effects, so the type is checked before opening; the open itself does not
    block (O_NONBLOCK) and the type is checked again on the open file, in case the name
    was replaced in between.
    """
    _refuse_unless_regular(os.stat(path).st_mode)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _refuse_unless_regular(mode: int) -> None:
    if stat.S_ISDIR(mode):
        raise ImageError("this is a folder, not a file")
    if not stat.S_ISREG(mode):
        raise ImageError("not a regular file (a pipe, socket or device): there is no picture to read")


def load_image(
    path: str | Path | BinaryIO,
    *,
    min_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_frames: int = DEFAULT_MAX_FRAMES,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
) -> DecodedImage:
    """Decode ``path`` (a file name, or an open binary file such as a request body) into
    upright RGB frames, or raise ImageError with the reason."""
    _register_plugins()
    limits = (min_side, max_pixels, max_frames, max_decode_bytes)
    try:
        if isinstance(path, (str, os.PathLike)):
            with open_regular(path) as handle:
                return _open_and_decode(handle, *limits)
        return _open_and_decode(path, *limits)
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError("the file disappeared before it could be read") from None
    except PermissionError:
        raise ImageError("permission denied: the file cannot be read") from None
    except UnidentifiedImageError:
        if isinstance(path, (str, os.PathLike)) and os.path.getsize(path) == 0:
            raise ImageError("the file is empty (0 bytes)") from None
        raise ImageError("not an image, or an image format nsfw-desktop cannot read") from None
    except MemoryError:
        raise ImageError("not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        if "truncated" in str(exc):
            raise ImageError(TRUNCATED) from None
        raise ImageError(f"the image data is corrupt ({exc})") from None


def _open_and_decode(handle: BinaryIO, min_side: int | None, max_pixels: int, max_frames: int,
                     max_decode_bytes: int) -> DecodedImage:
    with Image.open(handle) as img:
        jpeg = read_jpeg_frame(handle) if img.format == "JPEG" else None
        if jpeg is not None and jpeg.too_short:
            raise ImageError(TRUNCATED)
        budget = _Budget(max_decode_bytes, jpeg.coefficient_bytes if jpeg else 0, img.size)
        return _decode(img, min_side, max_pixels, max_frames, budget)


@dataclass(frozen=True)
class _Budget:
    max_bytes: int
    decoder_bytes: int  # what the decoder holds besides the picture (progressive JPEG)
    claimed: tuple[int, int]  # the full size, before any JPEG reduction

    def check(self, img: Image.Image, *, frames: int = 1, rotated: bool = False) -> None:
        """Refuse, before decoding, a picture whose decode would allocate more than the
        budget. Only JPEG can decode reduced (draft); others decode at full size or not at all."""
        needed = decode_bytes(img, frames=frames, rotated=rotated, decoder_bytes=self.decoder_bytes)
        if needed > self.max_bytes:
            width, height = self.claimed
            raise ImageError(
                f"the picture claims {width}x{height} pixels "
                f"({width * height / 1e6:.0f} MP, {_megabytes(needed)} to decode), more than "
                f"the {_megabytes(self.max_bytes)} this app decodes per picture; "
                "convert it to a smaller JPEG to screen it"
            )


def _decode(img: Image.Image, min_side: int | None, max_pixels: int, max_frames: int,
            budget: _Budget) -> DecodedImage:
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            f"refused as a possible decompression bomb: {width}x{height} is "
            f"{width * height / 1e6:.0f} megapixels, over the {max_pixels / 1e6:.0f} megapixel limit"
        )
    fmt = img.format or "unknown"
    if min_side and fmt == "JPEG":
        # The JPEG decoder scales by 1/2, 1/4 or 1/8 for almost free; draft keeps
        # both sides at least min_side.
        img.draft("RGB", (min_side, min_side))
    # Checked before reading the EXIF too: to find EXIF stored after a PNG's pixels,
    # Pillow decodes the whole picture.
    budget.check(img)
    orientation = img.getexif().get(ImageOps.ExifTags.Base.Orientation, 1)
    if orientation in _TRANSPOSED_ORIENTATIONS:
        width, height = height, width

    n_frames = getattr(img, "n_frames", 1)  # only the plugins of multi-frame formats have it
    if getattr(img, "is_animated", False) and n_frames > 1:
        indices = _spread(n_frames, max_frames)
        budget.check(img, frames=len(indices))
        frames = []
        for index in indices:
            img.seek(index)
            frames.append(to_rgb(img))
        return DecodedImage(frames, width, height, fmt)

    budget.check(img, rotated=orientation != 1)
    img.load()
    ImageOps.exif_transpose(img, in_place=True)
    return DecodedImage([to_rgb(img)], width, height, fmt)


def _megabytes(count: int) -> str:
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GB"
    return f"{count / 1024**2:.0f} MB"


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
    if mode in DEEP_GRAY_MODES:
        return Image.fromarray(_to_uint8(np.asarray(img), mode)).convert("RGB")
    if mode in ALPHA_MODES or "transparency" in img.info:
        rgba = img if mode == "RGBA" else img.convert("RGBA")
        # Pasting through the alpha blends over white like alpha compositing does,
        # without the two extra RGBA pictures compositing allocates.
        white = Image.new("RGB", rgba.size, (255, 255, 255))
        white.paste(rgba, mask=rgba)
        return white
    return img.convert("RGB")


def _to_uint8(pixels: np.ndarray, mode: str) -> np.ndarray:
    if mode == "F":
        low, high = float(pixels.min()), float(pixels.max())
        scaled = pixels - low
        scaled *= 255.0 / (high - low or 1.0)
    else:
        # Pillow reads 16-bit PNG and TIFF grayscale into these modes; the values span
        # 0..65535. Integer division keeps the array's own width (no float64 copies).
        scaled = pixels // 257
    return np.clip(scaled, 0, 255, out=scaled).astype(np.uint8)
