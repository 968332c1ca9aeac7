"""Where nsfw-desktop keeps its files.

Settings live in the platformdirs config folder, the results database (the
user's decisions) in the data folder, thumbnails in the cache folder and logs in
the log folder. ``NSFW_DESKTOP_HOME`` relocates all four under one folder: the
portable mode, and what the tests use. Model weights are not ours: they stay in
the standard Hugging Face cache so other tools share them.

The four folders are readable by their owner only (0700): they hold the list of
flagged photos, thumbnails of them and logs naming them. A folder an older
version made open to others is closed when it is next used.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "nsfw-desktop"
HOME_ENV = "NSFW_DESKTOP_HOME"


def private_folder(folder: Path) -> Path:
    """``folder``, created if needed, readable by its owner only (0700). Missing parents are
    created with the usual mode: they may be the user's, not ours."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        try:
            os.chmod(folder, 0o700)
        except OSError as exc:  # a file system without permissions (FAT), or not our folder
            log.info("cannot make %s readable by its owner only: %s", folder, exc.strerror)
    return folder


def _folder(kind: str) -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        folder = Path(home).expanduser() / kind
    else:
        folder = Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))
    return private_folder(folder)


def config_dir() -> Path:
    return _folder("config")


def data_dir() -> Path:
    return _folder("data")


def cache_dir() -> Path:
    return _folder("cache")


def log_dir() -> Path:
    return _folder("log")


def default_db_path() -> Path:
    return data_dir() / "results.sqlite3"


def is_inside(path: str, folder: str, *, flavour=os.path) -> bool:
    """Whether ``path`` is ``folder`` or lies below it, by their absolute paths.

    Two paths on different Windows drives (quarantine on C:, photos on D:) are not
    inside each other: ``commonpath`` raises ValueError for them, which answers "no"
    here rather than ending a scan. ``flavour`` is ``ntpath`` or ``posixpath`` in tests."""
    folder = flavour.normcase(flavour.abspath(folder))
    path = flavour.normcase(flavour.abspath(path))
    try:
        return flavour.commonpath([folder, path]) == folder
    except ValueError:
        return False
