"""Replace a file atomically: write beside it, then rename over it.

A reader (or a crash) sees the old file or the new one, never half of one.
Settings, exports, embeddings, thumbnails and XMP sidecars are all written so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


@contextmanager
def replaced(path: str | Path, mode: str = "wb", *, permissions: int | None = None,
             **open_args) -> Iterator[IO]:
    """An open temporary file in ``path``'s folder that becomes ``path`` when the block
    ends without an error, and is removed when it does not. mkstemp creates it 0600;
    ``permissions`` sets others. ``open_args`` go to ``open`` (encoding, newline)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if permissions is not None:
            os.fchmod(fd, permissions)
        with os.fdopen(fd, mode, **open_args) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
