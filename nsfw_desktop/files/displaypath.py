"""File names in what nsfw-desktop writes out: the CSV, ``--json`` lines, printed lines.

Every output is valid UTF-8, whatever the names on disk. ``path`` is the name as
text with U+FFFD (the replacement character) in place of each byte that is not
valid UTF-8: readable, and the exact name whenever the name is valid UTF-8.
When it is not, ``path_bytes`` holds the name's exact bytes, percent-encoded
(``/`` kept), and ``os.fsdecode(urllib.parse.unquote_to_bytes(path_bytes))`` is
the file's path again. Strict JSON parsers, pandas and spreadsheet programs
reject the lone surrogates (``\\udce9``) Python uses for such bytes, and the raw
bytes are not UTF-8, so neither can reach an output.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

# os.fsdecode turns each byte that is not UTF-8 into a lone surrogate (Windows names can
# hold lone surrogates themselves); no valid text contains one.
_UNDECODABLE = re.compile("[\ud800-\udfff]")


def display_path(text: str) -> str:
    """``text`` (a path, or a message naming one) with U+FFFD for each undecodable byte."""
    return _UNDECODABLE.sub("\ufffd", text)


def path_bytes(path: str) -> str | None:
    """The exact bytes of ``path``, percent-encoded, when it is not valid UTF-8; else None."""
    if not _UNDECODABLE.search(path):
        return None
    return quote(os.fsencode(path), safe="/")


def path_fields(path: str) -> dict[str, str]:
    """``path``, and ``path_bytes`` only when it is needed, for a JSON record."""
    fields = {"path": display_path(path)}
    exact = path_bytes(path)
    if exact is not None:
        fields["path_bytes"] = exact
    return fields
