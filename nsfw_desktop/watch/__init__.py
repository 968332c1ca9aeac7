"""Watch folders and classify new images as they arrive (Qt-free).

Usage from a worker thread or a front end::

    watcher = Watcher(folders, make_classifier(model), db_path, on_event=callback)
    watcher.start()
    watcher.add_folder(folder)  # or remove_folder(folder), from any thread
    watcher.stop()
"""

from nsfw_desktop.watch.events import (
    CaughtUp,
    FileClassified,
    FileMoved,
    FileRemoved,
    FolderOffline,
    FolderOnline,
    WatchEvent,
    WatchStopped,
    WatchWarning,
)
from nsfw_desktop.watch.watcher import Watcher

__all__ = [
    "CaughtUp",
    "FileClassified",
    "FileMoved",
    "FileRemoved",
    "FolderOffline",
    "FolderOnline",
    "WatchEvent",
    "WatchStopped",
    "WatchWarning",
    "Watcher",
]
