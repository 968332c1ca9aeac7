"""Videos for the tests, encoded with PyAV from still pictures."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from PIL import Image


def write_video(path: Path, scenes: list[tuple[Image.Image, float]], *, fps: int = 10,
                codec: str = "libx264", container: str | None = None, keyframe_every: float = 1.0,
                size: tuple[int, int] = (128, 96), rotation: int = 0, options: dict | None = None) -> Path:
    """Encode ``scenes`` (a picture and how many seconds it is shown) into ``path``; a
    keyframe every ``keyframe_every`` seconds; ``rotation`` (counter-clockwise degrees)
    goes into the display matrix, as a phone held upright writes it; ``options`` are the
    muxer's (``{"movflags": "frag_keyframe+empty_moov"}`` for a fragmented MP4)."""
    import av

    with av.open(str(path), "w", format=container, options=options) as output:
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


def write_old_quicktime(path: Path, scenes: list[tuple[Image.Image, float]], *, fps: int = 10) -> Path:
    """A QuickTime film with mono IMA4 sound whose tables count uncompressed sound samples,
    as QuickTime itself wrote them: 64 per 34-byte packet, each one tick long, so more
    samples than bytes of sound."""
    import av
    import numpy as np

    with av.open(str(path), "w", format="mov") as output:
        video = output.add_stream("mpeg4", rate=fps)
        video.width, video.height = 128, 96
        video.pix_fmt = "yuv420p"
        sound = output.add_stream("adpcm_ima_qt", rate=44100, layout="mono")
        for picture, seconds in scenes:
            frame = av.VideoFrame.from_image(picture.convert("RGB").resize((128, 96)))
            for _ in range(round(seconds * fps)):
                output.mux(video.encode(frame))
        output.mux(video.encode())
        silence = np.zeros((1, 64), dtype=np.int16)
        for index in range(round(sum(seconds for _, seconds in scenes) * 44100 / 64)):
            frame = av.AudioFrame.from_ndarray(silence, format="s16p", layout="mono")
            frame.sample_rate, frame.pts = 44100, index * 64
            output.mux(sound.encode(frame))
        output.mux(sound.encode())
    data = bytearray(path.read_bytes())
    # The sound track's tables come second, each after its type, version and flags.
    sizes, times, chunks = (data.index(kind, data.index(kind) + 1) + 8
                            for kind in (b"stsz", b"stts", b"stsc"))
    size, packets = struct.unpack_from(">II", data, sizes)
    assert size == 34 and struct.unpack_from(">III", data, times) == (1, packets, 64)
    struct.pack_into(">II", data, sizes, 1, packets * 64)
    struct.pack_into(">III", data, times, 1, packets * 64, 1)
    for entry in range(struct.unpack_from(">I", data, chunks)[0]):
        at = chunks + 8 + 12 * entry  # samples per chunk, after the count and first chunk
        struct.pack_into(">I", data, at, struct.unpack_from(">I", data, at)[0] * 64)
    path.write_bytes(data)
    return path


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def claiming_samples(data: bytes, count: int) -> bytes:
    """The MP4 ``data`` of one frame with tables that claim ``count`` samples in one chunk, as
    a hostile file writes them: its constant-size ``stsz``, its one ``stts`` run and its one
    ``stsc`` entry (after each box's version, flags and entry count)."""
    assert struct.unpack_from(">I", data, data.index(b"stsz") + 8)[0] > 0, "stsz lists sizes one by one"
    data = patched(data, b"stsz", 12, ">I", count)
    data = patched(data, b"stts", 12, ">I", count)
    return patched(data, b"stsc", 16, ">I", count)


def compressed_movie(data: bytes) -> bytes:
    """The MP4 ``data`` with its ``moov`` zlib-compressed inside a ``cmov``, as old QuickTime
    files keep it (FFmpeg reads those too)."""
    start = data.index(b"moov") - 4
    end = start + struct.unpack_from(">I", data, start)[0]
    movie = data[start:end]
    packed = box(b"cmov", box(b"dcom", b"zlib")
                 + box(b"cmvd", struct.pack(">I", len(movie)) + zlib.compress(movie)))
    return data[:start] + box(b"moov", packed) + data[end:]


def patched(data: bytes, marker: bytes, offset: int, fmt: str, value) -> bytes:
    """``data`` with ``value`` packed (``struct`` format ``fmt``) at ``offset`` bytes after the
    first ``marker``: a header field of a container, rewritten to lie."""
    at = data.index(marker) + offset
    changed = bytearray(data)
    struct.pack_into(fmt, changed, at, value)
    return bytes(changed)
