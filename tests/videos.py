"""Videos for the tests, encoded with PyAV from still pictures."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def write_video(path: Path, scenes: list[tuple[Image.Image, float]], *, fps: int = 10,
                codec: str = "libx264", container: str | None = None, keyframe_every: float = 1.0,
                size: tuple[int, int] = (128, 96), rotation: int = 0) -> Path:
    """Encode ``scenes`` (a picture and how many seconds it is shown) into ``path``; a
    keyframe every ``keyframe_every`` seconds; ``rotation`` (counter-clockwise degrees)
    goes into the display matrix, as a phone held upright writes it."""
    import av

    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if rotation:
            stream.set_display_rotation(rotation)
        stream.codec_context.gop_size = max(1, round(keyframe_every * fps))
        if codec == "libx264":
            # Keyframes exactly every keyframe_every seconds, none at scene cuts.
            gop = str(stream.codec_context.gop_size)
            stream.codec_context.options = {"sc_threshold": "0", "keyint_min": gop}
        for picture, seconds in scenes:
            frame = av.VideoFrame.from_image(picture.convert("RGB").resize(size))
            for _ in range(round(seconds * fps)):
                for packet in stream.encode(frame):
                    output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def write_audio(path: Path, seconds: float = 2.0, container: str = "mp4") -> Path:
    """An audio-only file: a second of silence per second asked."""
    import av
    import numpy as np

    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream("aac", rate=44100)
        samples = np.zeros((1, 1024), dtype=np.float32)
        for index in range(round(seconds * 44100 / 1024)):
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = index * 1024
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def patched(data: bytes, marker: bytes, offset: int, fmt: str, value) -> bytes:
    """``data`` with ``value`` packed (``struct`` format ``fmt``) at ``offset`` bytes after the
    first ``marker``: a header field of a container, rewritten to lie."""
    import struct

    at = data.index(marker) + offset
    changed = bytearray(data)
    struct.pack_into(fmt, changed, at, value)
    return bytes(changed)
