"""Which keywords a file gets, and how they are spelled in each XMP field.

Every photo manager reads a different field, so each keyword is written three
ways: ``lr:hierarchicalSubject`` (``NSFW|flagged``: darktable, Lightroom, Immich),
``digiKam:TagsList`` (``NSFW/flagged``: digiKam, read first by Immich) and a flat
``dc:subject`` keyword (``NSFW flagged``: PhotoPrism, Lightroom, Bridge). The flat
keyword carries the root too, so it never matches a person's own ``flagged``
keyword: what we remove is only ever what we would have written.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass

from nsfw_desktop.files.paths import is_inside
from nsfw_desktop.store.result import Result

FLAGGED = "flagged"
REVIEWED_SAFE = "reviewed safe"
REVIEWED_NSFW = "reviewed nsfw"
STATES = (FLAGGED, REVIEWED_SAFE, REVIEWED_NSFW)
NAMINGS = ("darktable", "lightroom")  # photo.jpg.xmp, photo.xmp
DEFAULT_ROOT = "NSFW"

# XMP keys as exiv2 names them, and the array kind each field has in its schema
# (what darktable, digiKam and Lightroom write), used when we create the field.
SUBJECT = "Xmp.dc.subject"
HIERARCHICAL = "Xmp.lr.hierarchicalSubject"
TAGS_LIST = "Xmp.digiKam.TagsList"
ARRAY_KINDS = {SUBJECT: "Bag", HIERARCHICAL: "Bag", TAGS_LIST: "Seq"}


def check_root(root: object) -> str | None:
    """Why ``root`` cannot be a keyword root, or None when it can."""
    if not isinstance(root, str) or not root.strip():
        return "the keyword root must be a non-empty text"
    if any(_not_text(c) for c in root):
        # ascii(): the root may hold a lone surrogate, which no terminal could print.
        return (f"the keyword root {ascii(root)} holds a control character or a code point that "
                "is not text, which XMP cannot hold (exiv2, darktable and digiKam would refuse "
                "the sidecar)")
    if root != root.strip() or any(c in root for c in "|/,"):
        return (f"the keyword root {root!r} must not start or end with a space nor contain "
                "'|', '/' or ',' (photo managers read those as separators)")
    return None


def _not_text(char: str) -> bool:
    """Control characters, lone surrogates (undecodable bytes of a command line) and the
    noncharacters (U+FFFE, U+FFFF, U+FDD0..U+FDEF and their kin in every plane)."""
    code = ord(char)
    return (unicodedata.category(char) in ("Cc", "Cs") or 0xFDD0 <= code <= 0xFDEF
            or code & 0xFFFE == 0xFFFE)


@dataclass(frozen=True)
class TagOptions:
    """How keywords are written: under which root, which sidecar name a new sidecar
    gets, from which score a file is flagged, and the quarantine folder (whose files
    get no keywords)."""

    threshold: float = 0.5
    root: str = DEFAULT_ROOT
    naming: str = "darktable"
    quarantine: str | None = None

    def __post_init__(self) -> None:
        problem = check_root(self.root)
        if problem:
            raise ValueError(problem)
        if self.naming not in NAMINGS:
            raise ValueError(f"the sidecar naming must be one of {', '.join(NAMINGS)}, not {self.naming!r}")

    def fields(self, states: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
        """The values of ``states`` in each of the three fields."""
        return {
            SUBJECT: [f"{self.root} {s}" for s in states],
            HIERARCHICAL: [f"{self.root}|{s}" for s in states],
            TAGS_LIST: [f"{self.root}/{s}" for s in states],
        }

    def ours(self) -> dict[str, set[str]]:
        """Every value we may have written, per field: what we replace or remove."""
        return {key: set(values) for key, values in self.fields(STATES).items()}

    def quarantined(self, path: str) -> bool:
        if not self.quarantine:
            return False
        return is_inside(path, os.path.expanduser(self.quarantine))


def state_of(result: Result, options: TagOptions) -> str | None:
    """The one rule from a stored result to a keyword. A review wins over the score;
    a file is flagged when its score reaches the threshold; a file in the quarantine
    folder, or missing, gets none (its photo manager no longer shows it)."""
    if result.missing_since is not None or options.quarantined(result.path):
        return None
    if result.review == "safe":
        return REVIEWED_SAFE
    if result.review == "nsfw":
        return REVIEWED_NSFW
    return FLAGGED if result.flagged(options.threshold) else None
