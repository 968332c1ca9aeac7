"""Watched folders in the app: start the watcher, follow the ticked folders, act on its events.

The watcher starts once the window shows (``start``), with the classifier
the ``ModelHost`` hands over, the same one scans use. It follows the ticked
folders of the session's settings, is restarted when the model changes, and
each of its events updates the grid, the folder marks or the message bar; a
flagged file arriving may raise a tray notification or go to quarantine.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from nsfw_desktop.classify import ModelSpec
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.watching import WatchBridge
from nsfw_desktop.quarantine.moves import Move
from nsfw_desktop.store.result import Result


class WatchController(QObject):
    flagged_arrived = Signal(object)  # Result: a flagged file just landed in a watched folder
    event = Signal(object)  # every WatchEvent, after the app has acted on it
    folder_marked = Signal(object, object)  # folder, why it is offline (None: back online)
    stopped = Signal()  # the watcher was stopped: no folder is offline any more

    def __init__(self, context: WindowContext):
        super().__init__(context.window)
        live, host, model, store = context.live, context.host, context.model, context.store
        messages, status, db_path = context.messages, context.status, context.db_path
        self.live, self.host, self.model, self.store = live, host, model, store
        self.messages, self.status = messages, status
        self.bridge = WatchBridge(db_path, parent=self)
        self.tray: QSystemTrayIcon | None = None
        self._active = False  # set once the window shows: building the classifier imports torch
        self._asked = False  # a classifier was asked of the host and has not come yet
        self.bridge.event.connect(self._event)
        host.ready.connect(self._classifier_ready)
        host.failed.connect(self._classifier_failed)
        host.changed.connect(self._model_changed)
        live.changed.connect(self._settings_changed)

    def start(self) -> None:
        """Watch the ticked folders from now on, and follow them."""
        self._active = True
        self.sync()

    def sync(self) -> None:
        """Make the watcher follow the ticked folders; start it when there is one."""
        if not self._active:
            return
        wanted = self.live.settings.folders_to_watch()
        if self.bridge.running:
            self.bridge.set_folders(wanted)
        elif wanted and not self._asked:
            self._asked = True
            self.host.request()

    def stop(self) -> None:
        self.bridge.stop()
        self.stopped.emit()

    def _settings_changed(self, _settings: Settings) -> None:
        self.sync()

    def _model_changed(self, _choice: ModelSpec) -> None:
        self.stop()  # its classifier is the old model's
        self.sync()

    def _classifier_ready(self, choice: ModelSpec, classifier) -> None:
        self._asked = False
        if choice != self.host.choice:
            self.sync()  # the settings changed meanwhile: ask again
            return
        wanted = self.live.settings.folders_to_watch()
        if self._active and wanted and not self.bridge.running:
            s = self.live.settings
            self.bridge.start(wanted, classifier, threshold=s.threshold, policy=s.scan_policy(),
                              options=s.decode_options())
            self.status.setText(f"Watching {len(wanted)} folder(s)")

    def _classifier_failed(self, _choice: ModelSpec, message: str) -> None:
        self._asked = False
        self.messages.show_message(f"Folders are not watched: {message}")

    def _event(self, event) -> None:
        from nsfw_desktop import watch

        if isinstance(event, watch.FileClassified):
            self.model.add_results([event.result])
            if event.result.flagged(self.live.settings.threshold) and not event.catch_up:
                self._flagged_arrived(event.result)
        elif isinstance(event, watch.FileMoved):
            self.model.apply_moves([Move(event.old, event.new)])
        elif isinstance(event, watch.FileRemoved):
            self.model.remove_paths([event.path])
        elif isinstance(event, watch.FolderOnline):
            self.folder_marked.emit(event.folder, None)
        elif isinstance(event, watch.FolderOffline):
            self.folder_marked.emit(event.folder, event.reason)
            self.messages.show_message(f"Watched folder offline: {event.folder}: {event.reason}")
        elif isinstance(event, watch.CaughtUp):
            self.status.setText(f"Watching {len(self.bridge.folders)} folder(s), up to date")
        elif isinstance(event, watch.WatchWarning):
            self.messages.show_message(event.message)
        elif isinstance(event, watch.WatchStopped) and event.error:
            self.bridge.stop()  # its thread has ended; this only lets go of it
            self.messages.show_message(f"Watching stopped: {event.error}")
        self.event.emit(event)

    def _flagged_arrived(self, result: Result) -> None:
        s = self.live.settings
        name = display_path(os.path.basename(result.path))
        if s.notify_flagged and QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(QApplication.windowIcon(), self)
                self.tray.show()
            self.tray.showMessage("Flagged photo arrived", f"{name}: NSFW score {result.nsfw_score:.2f}",
                                  QSystemTrayIcon.MessageIcon.Warning)
        if s.auto_quarantine:
            self.store.quarantine([result.path], str(s.quarantine_path()))
        else:
            self.messages.show_message(f"Flagged on arrival: {result.path} "
                                       f"(NSFW score {result.nsfw_score:.2f})")
        self.flagged_arrived.emit(result)
