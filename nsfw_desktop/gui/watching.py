"""The window's link to a ``Watcher``: folder changes in, watch events out as a Qt signal.

The watcher runs on its own thread and calls ``on_event`` there; ``event`` is a
Qt signal, so connecting it to a method of a window-thread QObject queues each
event to the GUI thread. The classifier comes from the ``ModelHost``, which
builds it off the GUI thread, because building it imports torch.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal

from nsfw_desktop.classify import Classifier
from nsfw_desktop.scan.types import DecodeOptions, ScanPolicy


class WatchBridge(QObject):
    event = Signal(object)  # a nsfw_desktop.watch WatchEvent, queued to the receiver's thread

    def __init__(self, db_path: str, parent: QObject | None = None):
        super().__init__(parent)
        self.db_path = db_path
        self.watcher = None
        self.classifier: Classifier | None = None  # the one the running watcher uses
        self.folders: set[str] = set()

    @property
    def running(self) -> bool:
        return self.watcher is not None

    def start(self, folders: Iterable[str], classifier: Classifier, *, threshold: float,
              policy: ScanPolicy, options: DecodeOptions) -> None:
        """Watch ``folders``; returns at once (the catch-up scan runs on the watcher's thread)."""
        from nsfw_desktop.watch import Watcher

        self.folders = {os.path.abspath(f) for f in folders}
        self.classifier = classifier
        self.watcher = Watcher(sorted(self.folders), classifier, self.db_path, on_event=self.event.emit,
                               threshold=threshold, policy=policy, options=options)
        self.watcher.start()

    def set_folders(self, folders: Iterable[str]) -> None:
        """Watch exactly ``folders`` from now on; from the GUI thread, returns at once."""
        wanted = {os.path.abspath(f) for f in folders}
        for folder in sorted(wanted - self.folders):
            self.watcher.add_folder(folder)
        for folder in sorted(self.folders - wanted):
            self.watcher.remove_folder(folder)
        self.folders = wanted

    def stop(self) -> None:
        """Stop watching; the batch in the model is finished and saved first."""
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = self.classifier = None
            self.folders = set()
