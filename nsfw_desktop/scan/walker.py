"""Find the image and video files under the folders a user asked to screen.

A file is a candidate when its extension is an image or video extension (a
broken one then becomes an error row), or when its first bytes carry an image
or video signature whatever its name, so a photo or a film saved without an
extension is still screened.
Other files (a PDF in Downloads, say) are not images and are left out silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from nsfw_desktop.media.imaging import IMAGE_SUFFIXES, ImageError, looks_like_image, open_regular
from nsfw_desktop.media.video import VIDEO_SUFFIXES, looks_like_video
from nsfw_desktop.scan.types import FileEntry

# Browsers and download managers write to these names and rename when done.
TEMPORARY_SUFFIXES = (".part", ".crdownload", ".download", ".partial", ".tmp")


@dataclass
class WalkReport:
    """What the walk could not look into, in words for the user."""

    problems: list[str] = field(default_factory=list)


@dataclass
class Sniffed:
    """Files whose first bytes are no picture or video, by ``os.fsencode(path)``: those an
    earlier walk found (``known``: size and mtime_ns as they were), those this walk met
    (``met``, known or not), and those it found anew or changed (``found``), to be kept."""

    known: Mapping[bytes, tuple[int, int]] = field(default_factory=dict)
    met: set[bytes] = field(default_factory=set)
    found: list[tuple[bytes, int, int]] = field(default_factory=list)


def is_temporary(name: str) -> bool:
    return name.lower().endswith(TEMPORARY_SUFFIXES)


def is_candidate(path: str, name: str, *, videos: bool = True) -> bool:
    """A picture (or, with ``videos``, a video) by its extension or its first bytes."""
    named = _by_name(name, videos)
    if named is not None:
        return named
    kind = _sniff(path)
    return kind == "image" or (videos and kind == "video")


def _by_name(name: str, videos: bool) -> bool | None:
    """Whether the name makes the file a candidate, or rules it out; None: its first bytes tell."""
    lowered = name.lower()
    if lowered.endswith(TEMPORARY_SUFFIXES):
        return False
    suffix = os.path.splitext(lowered)[1]
    if suffix in IMAGE_SUFFIXES:
        return True
    if suffix in VIDEO_SUFFIXES:
        return videos
    return None


def _sniff(path: str) -> str | None:
    """What the file's first bytes say: "image", "video" or "other"; None when it cannot be
    read (a later walk may read it, so that is not to be remembered)."""
    try:
        # Never a plain open(): on a FIFO it waits for a writer forever.
        with open_regular(path) as handle:
            header = handle.read(16)
    except (OSError, ImageError):
        return None
    return "image" if looks_like_image(header) else "video" if looks_like_video(header) else "other"


def _candidate(entry: os.DirEntry, info: os.stat_result, videos: bool, sniffed: Sniffed | None) -> bool:
    """``is_candidate``, without opening a file ``sniffed`` knows is no picture, unchanged."""
    named = _by_name(entry.name, videos)
    if named is not None:
        return named
    if sniffed is None:
        return is_candidate(entry.path, entry.name, videos=videos)
    key = os.fsencode(entry.path)
    if sniffed.known.get(key) == (info.st_size, info.st_mtime_ns):
        sniffed.met.add(key)
        return False
    kind = _sniff(entry.path)
    if kind == "other":
        sniffed.met.add(key)
        sniffed.found.append((key, info.st_size, info.st_mtime_ns))
    return kind == "image" or (videos and kind == "video")


def walk(
    roots: Iterable[str],
    report: WalkReport,
    *,
    recursive: bool = True,
    include_hidden: bool = False,
    videos: bool = True,
    sniffed: Sniffed | None = None,
) -> Iterator[FileEntry]:
    """Yield the candidate image (and, with ``videos``, video) files under ``roots``, each once.
    A root that is a file is yielded whatever it is: it was asked for by name. With
    ``sniffed``, files it knows are no picture are not opened again, and it learns more.

    Symbolic links to folders are followed, but every folder is entered at most
    once (keyed by device and inode), so a link loop ends the descent.
    """
    visited: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root = os.path.abspath(root)
        try:
            info = os.stat(root)
        except OSError:
            report.problems.append(f"Folder not found: {root}")
            continue
        if stat.S_ISREG(info.st_mode):
            if root not in seen_files:
                seen_files.add(root)
                yield FileEntry(root, info.st_size, info.st_mtime_ns)
            continue
        yield from _walk_folder(root, report, recursive, include_hidden, videos, sniffed, visited, seen_files)


def _walk_folder(root, report, recursive, include_hidden, videos, sniffed, visited, seen_files):
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
        except OSError as exc:
            report.problems.append(f"Cannot open folder {folder}: {exc.strerror}")
            continue
        key = (info.st_dev, info.st_ino)
        if key in visited:
            continue
        visited.add(key)
        try:
            with os.scandir(folder) as entries:
                entries = sorted(entries, key=lambda e: e.name)
        except OSError as exc:
            report.problems.append(f"Cannot read folder {folder}: {exc.strerror}")
            continue
        subfolders = []
        for entry in entries:
            if not include_hidden and entry.name.startswith("."):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                if recursive:
                    subfolders.append(entry.path)
                continue
            try:
                file_info = entry.stat()
            except OSError:
                # A dangling link or a file gone since the listing: nothing to classify.
                continue
            # FIFOs, sockets and devices hold no pictures, and sniffing one could block.
            if not stat.S_ISREG(file_info.st_mode):
                continue
            if entry.path in seen_files or not _candidate(entry, file_info, videos, sniffed):
                continue
            seen_files.add(entry.path)
            yield FileEntry(entry.path, file_info.st_size, file_info.st_mtime_ns)
        # Reversed so the stack pops folders in name order.
        stack.extend(reversed(subfolders))
