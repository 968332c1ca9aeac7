"""Database and file work for the window, on a thread of its own.

Loading results, saving reviews, quarantine moves and CSV export all touch
SQLite or the disk, so none of it runs on the GUI thread. ``StoreClient`` lives
on the GUI thread and turns method calls into queued signals; ``StoreWorker``
lives on its own QThread, opens its own ``Store`` there (a SQLite connection
belongs to the thread that made it) and answers by signals. Requests run in
the order they were made.
"""

from __future__ import annotations

import logging
import os
import sqlite3

from PySide6.QtCore import QObject, QThread, Signal, Slot

from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.worker_errors import on_failed, reported
from nsfw_desktop.quarantine import moves as quarantine
from nsfw_desktop.quarantine.journal import Recovery, recover
from nsfw_desktop.store import export
from nsfw_desktop.store.results import Store

log = logging.getLogger(__name__)


class StoreWorker(QObject):
    loaded = Signal(object)  # list[Result], highest score first
    reviewed = Signal(object, object)  # paths, review ('safe', 'nsfw' or None)
    quarantined = Signal(object)  # quarantine.Outcome
    restored = Signal(object)  # quarantine.Outcome of an undo
    recovered = Signal(object)  # quarantine_journal.Recovery: unfinished moves completed or rolled back
    forgotten = Signal(object)  # paths whose results were deleted
    trashed = Signal(object, object)  # paths sent to the trash, [(path, why not)]
    exported = Signal(object, int)  # CSV path, rows written
    failed = Signal(object)  # a message for the user

    def __init__(self, db_path: str):
        super().__init__()
        self.db_path = db_path
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    @Slot()
    @reported("Loading the stored results", on_failed)
    def load(self) -> None:
        try:
            self.loaded.emit(list(self.store.results()))
        except sqlite3.Error as exc:
            self.failed.emit(f"Cannot read the results database {self.db_path}: {for_window(exc)}")

    @Slot(object, object)
    @reported("Saving the review", on_failed)
    def set_review(self, paths: list[str], review: str | None) -> None:
        try:
            self.store.set_review(paths, review)
        except sqlite3.Error as exc:
            self.failed.emit(f"Could not save the review: {for_window(exc)}")
            return
        self.reviewed.emit(paths, review)

    @Slot(object, object)
    @reported("Quarantine", on_failed)
    def quarantine(self, paths: list[str], folder: str) -> None:
        database_error = self._recovered(folder)
        store = None if database_error else self.store
        self.quarantined.emit(quarantine.quarantine(paths, folder, store, database_error=database_error))

    @Slot(object)
    @reported("Finishing interrupted quarantine moves", on_failed)
    def recover(self, folder: str) -> None:
        """Complete or roll back the moves a killed process (or a busy database) left unfinished."""
        self._recovered(folder)

    def _recovered(self, folder: str) -> str | None:
        """Recover ``folder``'s journal and say what was done. Returns why the database
        cannot follow moves now (the journal then keeps them for later), or None."""
        try:
            recovery = recover(folder, self.store)
        except sqlite3.Error as exc:  # the database cannot even be opened
            recovery = Recovery(database_error=str(exc))
        except OSError as exc:
            self.failed.emit(f"Could not use the quarantine's journal in {folder}: {exc.strerror or exc}. "
                             "Check that the quarantine folder can be written, in Settings if need be.")
            return None
        if recovery.completed or recovery.rolled_back or recovery.database_error:
            self.recovered.emit(recovery)
        return recovery.database_error

    @Slot(object)
    @reported("Forgetting the results", on_failed)
    def forget(self, paths: list[str]) -> None:
        try:
            self.store.remove(paths)
        except sqlite3.Error as exc:
            self.failed.emit(f"Could not forget the results of the removed folders: {for_window(exc)}")
            return
        self.forgotten.emit(paths)

    @Slot(object)
    @reported("Emptying the quarantine", on_failed)
    def trash(self, paths: list[str]) -> None:
        """Send ``paths`` to the system trash and forget their results."""
        from send2trash import send2trash

        done, failures = [], []
        for path in paths:
            try:
                if os.path.lexists(path):
                    send2trash(path)
            except OSError as exc:  # TrashPermissionError too: a trash folder that cannot be used
                failures.append((path, str(exc)))
                continue
            done.append(path)
        try:
            self.store.remove(done)
        except sqlite3.Error as exc:
            self.failed.emit("The files went to the trash, but their results could not be forgotten: "
                             f"{for_window(exc)}")
        self.trashed.emit(done, failures)

    @Slot(object)
    @reported("Undo quarantine", on_failed)
    def undo(self, moves: list[quarantine.Move]) -> None:
        folders = sorted({os.path.dirname(m.destination) for m in moves})
        database_error = next(filter(None, [self._recovered(folder) for folder in folders]), None)
        store = None if database_error else self.store
        self.restored.emit(quarantine.undo(moves, store, database_error=database_error))

    @Slot(object, float)
    @reported("Export", on_failed)
    def export_flagged(self, path: str, threshold: float) -> None:
        self._export(path, lambda: export.select(self.store.results(), threshold, everything=False))

    @Slot(object, object)
    @reported("Export", on_failed)
    def export_paths(self, path: str, paths: list[str]) -> None:
        self._export(path, lambda: (r for r in map(self.store.get, paths) if r is not None))

    def _export(self, path: str, results) -> None:
        """Write ``results()`` to the CSV at ``path``; say what went wrong if it cannot be."""
        try:
            rows = export.write_csv(path, results(), with_review=True)
        except (OSError, sqlite3.Error) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.failed.emit(f"Could not export to {path}: {reason}")
            return
        self.exported.emit(path, rows)

    @Slot()
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class StoreClient(QObject):
    """The GUI thread's handle on a StoreWorker running in its own thread."""

    _load = Signal()
    _set_review = Signal(object, object)
    _quarantine = Signal(object, object)
    _undo = Signal(object)
    _recover = Signal(object)
    _forget = Signal(object)
    _trash = Signal(object)
    _export = Signal(object, float)
    _export_paths = Signal(object, object)
    _close = Signal()

    def __init__(self, db_path: str | os.PathLike, parent: QObject | None = None):
        super().__init__(parent)
        self.thread = QThread(self)
        self.thread.setObjectName("store")
        self.worker = StoreWorker(os.fspath(db_path))
        self.worker.moveToThread(self.thread)
        self._load.connect(self.worker.load)
        self._set_review.connect(self.worker.set_review)
        self._quarantine.connect(self.worker.quarantine)
        self._undo.connect(self.worker.undo)
        self._recover.connect(self.worker.recover)
        self._forget.connect(self.worker.forget)
        self._trash.connect(self.worker.trash)
        self._export.connect(self.worker.export_flagged)
        self._export_paths.connect(self.worker.export_paths)
        self._close.connect(self.worker.close)
        self.thread.start()

    def load(self) -> None:
        self._load.emit()

    def set_review(self, paths: list[str], review: str | None) -> None:
        self._set_review.emit(paths, review)

    def quarantine(self, paths: list[str], folder: str) -> None:
        self._quarantine.emit(paths, folder)

    def undo(self, moves: list[quarantine.Move]) -> None:
        self._undo.emit(moves)

    def recover(self, folder: str) -> None:
        """Finish what an interrupted quarantine move left; ``worker.recovered`` answers."""
        self._recover.emit(folder)

    def forget(self, paths: list[str]) -> None:
        """Delete the stored results of ``paths``; ``worker.forgotten`` answers."""
        self._forget.emit(paths)

    def trash(self, paths: list[str]) -> None:
        """Send ``paths`` to the system trash; ``worker.trashed`` answers."""
        self._trash.emit(paths)

    def export_flagged(self, path: str, threshold: float) -> None:
        self._export.emit(path, threshold)

    def export_paths(self, path: str, paths: list[str]) -> None:
        self._export_paths.emit(path, paths)

    def stop(self) -> None:
        """Finish the queued requests, close the database and end the thread."""
        self._close.emit()
        self.thread.quit()
        self.thread.wait()
