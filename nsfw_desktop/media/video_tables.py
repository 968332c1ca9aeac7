"""What an MP4's sample tables claim, read before FFmpeg builds its index from them.

FFmpeg indexes an MP4 (MOV, M4V, 3GP) when it opens it: one entry per sample the
tables list, allocated from the counts they claim. A file of a few kilobytes can
claim eighty million samples (a constant-size ``stsz``, or a fragment's ``trun``
with no per-sample fields), and opening it then costs gigabytes and seconds.
Every sample is stored in the file, so the samples cannot outnumber the bytes of
media data (``mdat``). The counts are read here with a small box reader that
seeks from header to header (never reading the media data), and a file that
claims more is refused before FFmpeg sees it.

A sound track whose time-to-sample table is one run of 1-tick samples (PCM, and
old QuickTime compressed sound, which counts uncompressed samples) is indexed by
chunks, not samples, so its count claims nothing and is left out. A time-to-sample
table that lists more samples than ``stsz`` costs nothing either: FFmpeg spreads
it over the samples ``stsz`` counts (the "claims N frames" refusal in ``video``
deals with it). Matroska's cues and AVI's indexes are entries stored in the file,
so they cost memory only in proportion to its size (docs/reliability.md, Hostile videos).
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

_MAX_BOXES = 2_000_000  # headers read in all (1 s): a day of one-second fragments has 600,000
_MAX_COMPRESSED_MOVIE = 64 << 20  # bytes of an old QuickTime compressed movie header (cmov)
# Handler types of a track FFmpeg takes for sound, and those of its data references
# (QuickTime's second hdlr), which leave the track's type as it is.
_SOUND = b"soun"
_DATA_HANDLERS = frozenset({b"alis", b"url ", b"rsrc"})
_OTHER_CONTAINERS = (b"\x1a\x45\xdf\xa3", b"RIFF")  # Matroska/WebM, AVI: no boxes


class _Refused(Exception):
    """A header no real video has; the message is for the user."""


def sample_claim_problem(handle: BinaryIO) -> str | None:
    """Why the MP4 in ``handle`` cannot hold the samples its tables list, or None when it
    can (or is no MP4). The position of ``handle`` is kept."""
    start = handle.tell()
    try:
        handle.seek(0)
        if handle.read(4) in _OTHER_CONTAINERS:
            return None
        boxes = _Boxes(handle)
        end = handle.seek(0, os.SEEK_END)
        samples = data = reached = 0
        for kind, begin, stop in boxes.children(0, end):
            reached = stop
            if kind == b"mdat":
                data += stop - begin
            elif kind == b"moov":
                samples += boxes.movie_samples(begin, stop)
            elif kind == b"moof":
                runs = boxes.find(begin, stop, b"traf", b"trun")
                samples += sum(boxes.first(run, "4xI") for run in runs)  # after version and flags
        # Past a box FFmpeg cannot read either, samples may still point anywhere.
        data += end - reached
    except _Refused as exc:
        return str(exc)
    finally:
        handle.seek(start)
    if samples > data:
        return (f"refused: the video's tables list {samples} samples, but the file holds only "
                f"{data} bytes of picture and sound data: the file is truncated, corrupt or hostile")
    return None


class _Boxes:
    """Box headers and table counts of one file, read by seeking; at most ``_MAX_BOXES``
    headers in all, so no nesting of empty boxes makes the check itself slow."""

    def __init__(self, handle: BinaryIO, budget: list[int] | None = None):
        self.handle = handle
        self.budget = budget if budget is not None else [_MAX_BOXES]  # shared with a cmov's reader

    def children(self, begin: int, end: int) -> Iterator[tuple[bytes, int, int]]:
        """(type, payload start, payload end) of each box from ``begin`` to ``end``, up to one
        FFmpeg would stop at too; a box that claims more than is there is cut at ``end``."""
        position = begin
        while position + 8 <= end:
            self.budget[0] -= 1
            if self.budget[0] < 0:
                raise _Refused(f"refused: the file is made of more than {_MAX_BOXES} boxes, which no "
                               "real video is: the file is corrupt or hostile")
            self.handle.seek(position)
            header = self.handle.read(16)
            if len(header) < 8:
                return
            size, kind = struct.unpack(">I4s", header[:8])
            head = 8
            if size == 1:  # a 64-bit size follows the type
                if len(header) < 16:
                    return
                size, head = struct.unpack(">Q", header[8:])[0], 16
            elif size == 0:  # the box runs to the end of its container
                size = end - position
            if size < head:
                return
            yield kind, position + head, min(position + size, end)
            position += size

    def find(self, begin: int, end: int, *path: bytes) -> Iterator[tuple[int, int]]:
        """(payload start, end) of every box at ``path`` below the container: FFmpeg reads
        every box of a kind, where a later one replaces an earlier one's table."""
        if not path:
            yield begin, end
            return
        for kind, start, stop in self.children(begin, end):
            if kind == path[0]:
                yield from self.find(start, stop, *path[1:])

    def fields(self, box: tuple[int, int], fmt: str) -> tuple | None:
        """The big-endian ``fmt`` at the start of the payload ``box``; None where it is too
        short (FFmpeg then reads no table from it)."""
        size = struct.calcsize(fmt)
        self.handle.seek(box[0])
        raw = self.handle.read(size)
        return struct.unpack(">" + fmt, raw) if box[0] + size <= box[1] and len(raw) == size else None

    def first(self, box: tuple[int, int], fmt: str) -> int:
        fields = self.fields(box, fmt)
        return 0 if fields is None else fields[0]

    def movie_samples(self, begin: int, end: int) -> int:
        """Samples FFmpeg will index one by one for the tracks of a ``moov``."""
        samples = sum(self.track_samples(*track) for track in self.find(begin, end, b"trak"))
        for cmov in self.find(begin, end, b"cmov"):
            movie = self.decompressed_movie(*cmov)
            reader = _Boxes(movie, self.budget)
            # FFmpeg reads no cmov inside a decompressed one.
            samples += sum(sum(reader.track_samples(*track) for track in reader.find(*moov, b"trak"))
                           for moov in reader.find(0, len(movie.getbuffer()), b"moov"))
        return samples

    def track_samples(self, begin: int, end: int) -> int:
        handlers = [fields[0] for box in [*self.find(begin, end, b"mdia", b"hdlr"),
                                          *self.find(begin, end, b"mdia", b"minf", b"hdlr")]
                    if (fields := self.fields(box, "8x4s")) is not None]  # after version, flags, kind
        tables = list(self.find(begin, end, b"mdia", b"minf", b"stbl"))
        # Each time-to-sample table's entry count and its first run's tick, after version and flags.
        times = [self.fields(box, "4xIII") for table in tables for box in self.find(*table, b"stts")]
        if _SOUND in handlers and set(handlers) <= {_SOUND, *_DATA_HANDLERS} and times and all(
                fields is not None and (fields[0], fields[2]) == (1, 1) for fields in times):
            return 0  # indexed by chunks (see the module's docstring)
        # stsz: version and flags, the constant size, the count; stz2: the same with a field size.
        return max((self.first(box, "8xI") for table in tables
                    for box in [*self.find(*table, b"stsz"), *self.find(*table, b"stz2")]), default=0)

    def decompressed_movie(self, begin: int, end: int) -> io.BytesIO:
        """The ``moov`` an old QuickTime file keeps zlib-compressed in ``cmov``; empty where it
        cannot be had (FFmpeg then fails on it too). One too large to check is refused:
        FFmpeg would decompress it whatever its size."""
        for data in self.find(begin, end, b"cmvd"):
            size = self.first(data, "I")
            if max(size, data[1] - data[0]) > _MAX_COMPRESSED_MOVIE:
                raise _Refused(f"refused: the video's compressed header claims {size} bytes, more "
                               f"than the {_MAX_COMPRESSED_MOVIE >> 20} MB any real video needs: the "
                               "file is corrupt or hostile")
            self.handle.seek(data[0] + 4)
            try:
                compressed = self.handle.read(data[1] - data[0] - 4)
                return io.BytesIO(zlib.decompressobj().decompress(compressed, size))
            except zlib.error:
                break
        return io.BytesIO()
