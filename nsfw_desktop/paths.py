"""Where nsfw-desktop keeps its files.

Settings live in the platformdirs config folder, the results database (the
user's decisions) in the data folder, thumbnails in the cache folder and logs in
the log folder. ``NSFW_DESKTOP_HOME`` relocates all four under one folder: the
portable mode, and what the tests use. Model weights are not ours: they stay in
the standard Hugging Face cache so other tools share them.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "nsfw-desktop"
HOME_ENV = "NSFW_DESKTOP_HOME"


def _folder(kind: str) -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        folder = Path(home).expanduser() / kind
    else:
        folder = Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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
