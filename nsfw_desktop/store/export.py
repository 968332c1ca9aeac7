"""CSV export of stored results.

The CSV is valid UTF-8 whatever the file names: a name that is not valid UTF-8
is shown in ``path`` with U+FFFD for its undecodable bytes, and its exact bytes
are in ``path_bytes``, percent-encoded (see ``files.displaypath``). A regular file (or
a new name) is written next to its destination and renamed into place, so a
crash never leaves a half-written CSV behind. Anything else is written through,
never replaced: ``-`` is standard output, and a FIFO, a device or a symbolic
link stays what it is (``/dev/stdout`` is a link that must stay one).
"""

from __future__ import annotations

import csv
import io
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO

from nsfw_desktop.files import atomic
from nsfw_desktop.files.displaypath import display_path, path_bytes
from nsfw_desktop.store.result import Result

# New columns go last, so the columns before them keep their places in older readers' scripts.
COLUMNS = ["path", "label", "nsfw_score", "model", "width", "height", "file_size", "modified",
           "scanned_at", "error", "path_bytes", "policy_score", "kind", "duration", "worst_frame_time"]


def csv_row(result: Result, *, with_review: bool = False) -> list:
    row = [
        result.path,
        result.label or "",
        "" if result.nsfw_score is None else f"{result.nsfw_score:.6f}",
        result.model,
        "" if result.width is None else result.width,
        "" if result.height is None else result.height,
        result.file_size,
        result.modified.isoformat(timespec="seconds"),
        datetime.fromtimestamp(result.scanned_at).astimezone().isoformat(timespec="seconds"),
        result.error or "",
        path_bytes(result.path) or "",
        "" if result.policy_score is None else f"{result.policy_score:.6f}",
        result.kind,
        _seconds(result.duration),
        _seconds(result.worst_frame_time),
    ]
    if with_review:
        row.append(result.review or "")
    # An error message or a local model's folder can name a file too.
    return [display_path(cell) if isinstance(cell, str) else cell for cell in row]


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def write_csv(path: str | Path, results: Iterable[Result], *, with_review: bool = False) -> int:
    """Write ``results`` to ``path`` (``-``: standard output); returns the number of rows."""
    header = COLUMNS + (["review"] if with_review else [])
    count = 0
    with _opened(path) as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for result in results:
            writer.writerow(csv_row(result, with_review=with_review))
            count += 1
    return count


def describe(path: str | Path) -> str:
    """``path`` as a message names it."""
    return "standard output" if os.fspath(path) == "-" else os.fspath(path)


@contextmanager
def _opened(path: str | Path) -> Iterator[IO[str]]:
    if os.fspath(path) == "-":
        sys.stdout.flush()
        # UTF-8 whatever the terminal's encoding, as in a file.
        handle = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        try:
            yield handle
        finally:
            handle.flush()
            handle.detach()
    elif _written_through(Path(path)):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            yield handle
    else:
        with atomic.replaced(path, "w", newline="", encoding="utf-8") as replacement:
            yield replacement


def _written_through(path: Path) -> bool:
    """A link, FIFO or device: replacing it would destroy it, so it is written through."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return False
    return not stat.S_ISREG(info.st_mode)


def select(results: Iterable[Result], threshold: float, *, everything: bool) -> Iterable[Result]:
    """All rows with ``everything``, else only the flagged ones (``Result.flagged``: the review
    mark, else the policy's score where there is one, else the model's)."""
    return results if everything else (r for r in results if r.flagged(threshold))
