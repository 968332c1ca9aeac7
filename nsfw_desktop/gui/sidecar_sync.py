"""Keywords in XMP sidecars that follow what happens in the window.

With "Keep tags in XMP sidecars up to date" on (Settings), a review mark, a
change of threshold or keyword root, a quarantine move and its undo each bring
the sidecars concerned in step; scans do it themselves (``ScanPolicy.sidecars``).
"Write tags for selection" (Edit menu) writes the selection's tags whatever the
setting. The sidecars are written on a thread of their own, with a read-only
connection to the results database of its own.
"""

from __future__ import annotations

import sqlite3

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.message_bar import MAX_LISTED
from nsfw_desktop.gui.worker_errors import on_failed, reported
from nsfw_desktop.quarantine.moves import Outcome
from nsfw_desktop.store.results import Store
from nsfw_desktop.xmp.keywords import TagOptions
from nsfw_desktop.xmp.tagging import Report, remove_tags, tag_stored

SETTLE_MS = 1000  # a threshold being dragged is written to the sidecars once it rests


class SidecarWorker(QObject):
    done = Signal(object, bool)  # tagging.Report, whether the user asked for it (the action)
    failed = Signal(str)  # a message for the user

    def __init__(self, db_path: str):
        super().__init__()
        self.db_path = db_path
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path, read_only=True)
        return self._store

    @Slot(list, object, bool)
    @reported("Updating XMP sidecars", on_failed)
    def tag(self, paths: list[str], options: TagOptions, asked: bool) -> None:
        self._answer(lambda: tag_stored(self.store, paths, options), asked)

    @Slot(list, object)
    @reported("Updating XMP sidecars", on_failed)
    def untag(self, paths: list[str], options: TagOptions) -> None:
        self._answer(lambda: remove_tags(paths, options), False)

    @Slot(object, object)
    @reported("Updating XMP sidecars", on_failed)
    def retag_all(self, previous: TagOptions, options: TagOptions) -> None:
        """Every stored file, after a change of threshold or root; keywords under a root
        no longer used are taken away first."""
        def run() -> Report:
            paths = [r.path for r in self.store.results()]
            report = Report()
            if previous.root != options.root:
                report = tag_stored(self.store, paths, previous, remove=True)
            again = tag_stored(self.store, paths, options)
            return Report(report.changes + again.changes, report.problems + again.problems)
        self._answer(run, False)

    @Slot()
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _answer(self, work, asked: bool) -> None:
        try:
            report = work()
        except sqlite3.Error as exc:
            self.failed.emit(f"XMP sidecars not updated: the results database {self.db_path} "
                             f"could not be read ({exc})")
            return
        self.done.emit(report, asked)


class SidecarSync(QObject):
    _tag = Signal(list, object, bool)
    _untag = Signal(list, object)
    _retag_all = Signal(object, object)
    _close = Signal()

    def __init__(self, context: WindowContext):
        super().__init__(context.window)
        live, grid, store, messages = context.live, context.grid, context.store, context.messages
        actions, db_path = context.actions, context.db_path
        self.live, self.grid, self.messages = live, grid, messages
        self._applied = live.settings  # the settings the sidecars were last brought in step with
        self._previous: TagOptions | None = None  # what a pending re-tag of everything replaces
        self.thread = QThread(self)
        self.thread.setObjectName("sidecars")
        self.worker = SidecarWorker(db_path)
        self.worker.moveToThread(self.thread)
        self._tag.connect(self.worker.tag)
        self._untag.connect(self.worker.untag)
        self._retag_all.connect(self.worker.retag_all)
        self._close.connect(self.worker.close)
        self.worker.done.connect(self._done)
        self.worker.failed.connect(messages.show_message)
        self.settle = QTimer(self, singleShot=True, interval=SETTLE_MS)
        self.settle.timeout.connect(self._retag_everything)
        actions.bind(self)
        store.worker.reviewed.connect(self._reviewed)  # queued: methods of this thread's QObject
        store.worker.quarantined.connect(self._quarantined)
        store.worker.restored.connect(self._restored)
        live.changed.connect(self._settings_changed)
        self.thread.start()

    @property
    def keeping(self) -> bool:
        return self.live.settings.xmp_sidecars

    @handles(Action.WRITE_TAGS)
    def write_selected(self) -> None:
        paths = self.grid.selected_paths()
        if paths:
            self._tag.emit(paths, self.live.settings.tag_options(), True)

    def stop(self) -> None:
        self._close.emit()
        self.thread.quit()
        self.thread.wait()

    def _reviewed(self, paths: list[str], _review: str | None) -> None:
        if self.keeping:
            self._tag.emit(paths, self.live.settings.tag_options(), False)

    def _quarantined(self, outcome: Outcome) -> None:
        if self.keeping and outcome.moves:
            self._untag.emit([m.source for m in outcome.moves], self.live.settings.tag_options())

    def _restored(self, outcome: Outcome) -> None:
        if self.keeping and outcome.moves:
            self._tag.emit([m.destination for m in outcome.moves], self.live.settings.tag_options(), False)

    def _settings_changed(self, new: Settings) -> None:
        old, self._applied = self._applied, new
        if not new.xmp_sidecars:
            self.settle.stop()
            self._previous = None
            return
        if old.xmp_sidecars and old.tag_options() == new.tag_options():
            return
        if self._previous is None:
            self._previous = old.tag_options()
        self.settle.start()  # again: a drag of the threshold slider restarts it

    def _retag_everything(self) -> None:
        previous, self._previous = self._previous, None
        self._retag_all.emit(previous, self.live.settings.tag_options())

    def _done(self, report: Report, asked: bool) -> None:
        if asked:
            written = len(report.written)
            self.messages.show_message(f"Wrote tags to {written} XMP sidecar(s); "
                                       f"{len(report.changes) - written} were already up to date.")
        for path, reason in report.problems[:MAX_LISTED]:
            self.messages.show_message(f"Tags not written for {path}: {reason}")
