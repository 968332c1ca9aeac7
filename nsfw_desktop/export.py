"""CSV export of stored results.

Paths are written with the ``surrogateescape`` error handler, so a file name
that is not valid UTF-8 comes out as its exact original bytes and can be fed
back to the file system. The file is written next to its destination and
renamed into place, so a crash never leaves a half-written CSV behind.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from nsfw_desktop.store import Result

COLUMNS = ["path", "label", "nsfw_score", "model", "width", "height", "file_size", "modified",
           "scanned_at", "error"]


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
    ]
    if with_review:
        row.append(result.review or "")
    return row


def write_csv(path: str | Path, results: Iterable[Result], *, with_review: bool = False) -> int:
    """Write ``results`` to ``path`` atomically; returns the number of rows."""
    path = Path(path)
    header = COLUMNS + (["review"] if with_review else [])
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    count = 0
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for result in results:
                writer.writerow(csv_row(result, with_review=with_review))
                count += 1
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return count


def select(results: Iterable[Result], threshold: float, *, everything: bool) -> Iterable[Result]:
    """All rows with ``everything``, else only the flagged ones (nsfw_score >= threshold)."""
    return results if everything else (r for r in results if r.flagged(threshold))
