"""What decoding a picture will cost, and whether a JPEG can hold the picture it claims,
both read from the headers before any pixel is decoded.

A file of a few bytes can claim a picture of gigabytes: Pillow allocates the whole
picture up front and fills what the data does not cover. The decoder therefore asks
here first, and refuses what is over budget or cannot be complete.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

# Pillow keeps "1", "L" and "P" in one byte per pixel, the 16-bit grayscale modes in
# two, and every other mode (RGB included) in four.
_STORED_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2}
DEEP_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"RGBA", "LA", "La", "RGBa", "PA"})

# Decoders that hold buffers of their own beside Pillow's picture: libwebp's animation
# decoder (which Pillow uses for every WebP) keeps two full RGBA canvases; libheif
# (HEIC, AVIF) decodes into its own picture, which Pillow then copies.
_DECODER_BYTES = {"WEBP": 8, "HEIF": 4, "AVIF": 4}

# Baseline, extended and progressive DCT with Huffman coding: every 8x8 block costs at
# least one bit of entropy-coded data (its DC code). Arithmetic and lossless coding
# have no such floor and are not checked.
_HUFFMAN_DCT_FRAMES = frozenset({0xC0, 0xC1, 0xC2})
_PROGRESSIVE_FRAMES = frozenset({0xC2, 0xC6, 0xCA, 0xCE})
_MARKERS_WITHOUT_LENGTH = frozenset({0x01, *range(0xD0, 0xDA)})


def decode_bytes(img: Image.Image, *, frames: int = 1, rotated: bool = False, decoder_bytes: int = 0) -> int:
    """Peak bytes that decoding ``img`` (at its current, possibly draft-reduced size) into
    ``frames`` RGB frames allocates: Pillow's storage for the mode, the larger of the
    EXIF rotation's copy (when ``rotated``) and the conversion's working copies, and
    each RGB frame kept, plus ``decoder_bytes`` the decoder holds besides."""
    stored = _STORED_BYTES.get(img.mode, 4)
    has_alpha = img.mode in ALPHA_MODES or "transparency" in img.info
    if img.mode in DEEP_GRAY_MODES:
        # A numpy copy, its scaled copy, the 8-bit result and its Pillow picture.
        working = 2 * stored + 2
    elif has_alpha and img.mode != "RGBA":
        working = 4  # the RGBA copy that is composited over white
    else:
        working = 0
    rotation = stored if rotated else 0
    per_pixel = stored + max(rotation, working) + 4 * frames + _DECODER_BYTES.get(img.format or "", 0)
    return img.width * img.height * per_pixel + decoder_bytes


@dataclass(frozen=True)
class JpegFrame:
    """What a JPEG's headers say about its picture."""

    kind: int  # the frame marker's second byte: 0xC0 baseline, 0xC2 progressive...
    blocks: int  # 8x8 blocks over all components, at full size
    data_bytes: int  # from the first scan's header to the end of the file

    @property
    def too_short(self) -> bool:
        """The data cannot hold the picture: the decoder would meet the end-of-image
        marker early and pad the rest with grey, "successfully"."""
        return self.kind in _HUFFMAN_DCT_FRAMES and self.data_bytes * 8 < self.blocks

    @property
    def coefficient_bytes(self) -> int:
        """libjpeg keeps every coefficient of a progressive JPEG (64 of 2 bytes per block,
        at full size even when decoding reduced) until the last scan is read."""
        return 128 * self.blocks if self.kind in _PROGRESSIVE_FRAMES else 0


def read_jpeg_frame(handle: BinaryIO) -> JpegFrame | None:
    """Read the frame header of the JPEG in ``handle``; None where the headers are malformed
    (the decoder then gives the precise reason). The position of ``handle`` is kept."""
    start = handle.tell()
    try:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(2)  # past the start-of-image marker
        frame = None
        while True:
            kind = _next_marker(handle)
            if kind is None:
                return None
            if kind in _MARKERS_WITHOUT_LENGTH:
                continue
            raw_length = handle.read(2)
            if len(raw_length) < 2:
                return None
            if kind == 0xDA:  # start of scan: the entropy-coded data follows
                break
            segment = handle.read(struct.unpack(">H", raw_length)[0] - 2)
            if 0xC0 <= kind <= 0xCF and kind not in (0xC4, 0xC8, 0xCC):
                frame = (kind, segment)
        if frame is None:
            return None
        blocks = _block_count(frame[1])
        if blocks is None:
            return None
        return JpegFrame(frame[0], blocks, size - handle.tell())
    finally:
        handle.seek(start)


def _next_marker(handle: BinaryIO) -> int | None:
    if handle.read(1) != b"\xff":
        return None
    kind = handle.read(1)
    while kind == b"\xff":  # fill bytes may pad a marker
        kind = handle.read(1)
    return kind[0] if kind else None


def _block_count(frame: bytes) -> int | None:
    """8x8 blocks over all components of a frame header (SOFn segment body)."""
    if len(frame) < 6:
        return None
    height, width, count = struct.unpack(">HHB", frame[1:6])
    factors = [(b >> 4, b & 15) for b in frame[7:6 + 3 * count:3]]
    if not factors or len(factors) != count or min(min(f) for f in factors) < 1:
        return None
    h_max = max(h for h, _ in factors)
    v_max = max(v for _, v in factors)
    total = 0
    for h, v in factors:
        columns = -(-width * h // h_max)
        rows = -(-height * v // v_max)
        total += -(-columns // 8) * -(-rows // 8)
    return total
