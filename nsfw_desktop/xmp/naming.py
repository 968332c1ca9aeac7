"""Which sidecar describes a photo: ``photo.jpg.xmp`` always, ``photo.xmp`` only when
no other file in the folder could claim it.

darktable, digiKam and Immich name a sidecar after the whole file name
(``IMG_2.CR2.xmp``); Lightroom and Bridge after the stem (``IMG_2.xmp``). In a
RAW+JPEG pair (``IMG_2.CR2`` + ``IMG_2.JPG``) or a live photo (``IMG_5.HEIC`` +
``IMG_5.MOV``) the stem's sidecar belongs to the other file (Lightroom wrote it
for the RAW): it is never used, whatever the naming setting, and such a file
gets its own ``name.ext.xmp``. Stems are compared without case, as on the
case-insensitive disks of macOS and Windows where ``img_2.cr2`` and ``IMG_2.JPG``
share ``IMG_2.xmp``. Where both names exist (digiKam and Lightroom both used),
both are kept in step.
"""

from __future__ import annotations

import os
from pathlib import Path

SUFFIX = ".xmp"


class FolderNames:
    """The names in a folder, listed once per tagging run: one listing serves every photo
    of the folder, and the removal of a killed run's temporary files."""

    def __init__(self) -> None:
        self._listings: dict[Path, list[str] | None] = {}
        self._by_stem: dict[Path, dict[str, set[str]] | None] = {}

    def listing(self, folder: Path) -> list[str] | None:
        """The names in ``folder``; None when it cannot be listed."""
        if folder not in self._listings:
            try:
                self._listings[folder] = os.listdir(folder)
            except OSError:
                self._listings[folder] = None
        return self._listings[folder]

    def stem_shared(self, photo: Path) -> bool:
        """Whether another file in ``photo``'s folder (any extension, picture or not) has
        ``photo``'s stem. A folder that cannot be listed answers yes: then nobody can tell
        whose the stem's sidecar is."""
        if photo.parent not in self._by_stem:
            names = self.listing(photo.parent)
            self._by_stem[photo.parent] = None if names is None else _by_stem(names)
        by_stem = self._by_stem[photo.parent]
        if by_stem is None:
            return True
        return bool(by_stem.get(photo.stem.casefold(), set()) - {photo.name})


def _by_stem(names: list[str]) -> dict[str, set[str]]:
    by_stem: dict[str, set[str]] = {}
    for name in names:
        if not name.lower().endswith(SUFFIX):  # a sidecar's stem is its photo's
            by_stem.setdefault(Path(name).stem.casefold(), set()).add(name)
    return by_stem


def sidecars(photo: str | Path, naming: str, names: FolderNames | None = None) -> list[Path]:
    """The sidecars of ``photo`` to keep in step: those of its names that exist (links
    too), or else the one a new sidecar gets (``naming``: "darktable" for photo.jpg.xmp,
    "lightroom" for photo.xmp where that name is the photo's alone)."""
    photo = Path(photo)
    own = photo.with_name(photo.name + SUFFIX)  # photo.jpg.xmp: darktable, digiKam, Immich
    stem = photo.with_name(photo.stem + SUFFIX)  # photo.xmp: Lightroom, Bridge
    names = names or FolderNames()
    usable = [own] if stem == own or names.stem_shared(photo) else [own, stem]
    existing = [path for path in usable if os.path.lexists(path)]
    if existing:
        return existing
    return [stem] if naming == "lightroom" and stem in usable else [own]
