"""CSV export of stored results.

The CSV is valid UTF-8 whatever the file names: a name that is not valid UTF-8
is shown in ``path`` with U+FFFD for its undecodable bytes, and its exact bytes
are in ``path_bytes``, percent-encoded (see ``displaypath``). The file is
written next to its destination and renamed into place, so a crash never leaves
a half-written CSV behind.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from nsfw_desktop import atomic
from nsfw_desktop.displaypath import display_path, path_bytes
from nsfw_desktop.store import Result

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
    """Write ``results`` to ``path`` atomically; returns the number of rows."""
    path = Path(path)
    header = COLUMNS + (["review"] if with_review else [])
    count = 0
    with atomic.replaced(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for result in results:
            writer.writerow(csv_row(result, with_review=with_review))
            count += 1
    return count


def select(results: Iterable[Result], threshold: float, *, everything: bool) -> Iterable[Result]:
    """All rows with ``everything``, else only the flagged ones (``Result.flagged``: the review
    mark, else the policy's score where there is one, else the model's)."""
    return results if everything else (r for r in results if r.flagged(threshold))
