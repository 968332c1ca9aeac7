"""Scanning from the window: start, pause, resume, cancel, and the progress shown.

The scan itself runs in the ``ScanWorker``'s thread. The controller sends it a
``ScanJob`` and a ``ScanControl`` by signal, and gets every event back by
signal; pause and cancel go through the ``ScanControl``, which the engine
checks between batches.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import QProgressBar

from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.scan_worker import ScanJob, ScanWorker
from nsfw_desktop.scan.engine import BatchDone, ScanStarted, ScanSummary
from nsfw_desktop.scan.pipeline import ScanControl


class ScanController(QObject):
    started = Signal()
    batch_shown = Signal(object)  # BatchDone, once its results are in the grid
    ended = Signal(object)  # ScanSummary, or None when the scan failed
    requested = Signal(object, object)  # ScanJob, ScanControl: to the worker's thread

    def __init__(self, context: WindowContext):
        super().__init__(context.window)
        live, host, model, store = context.live, context.host, context.model, context.store
        messages, status, actions = context.messages, context.status, context.actions
        db_path = context.db_path
        self.live, self.model, self.store, self.messages, self.status = live, model, store, messages, status
        self.db_path = db_path
        self.control: ScanControl | None = None
        self.error: str | None = None  # the last scan's failure, for automation
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self._scan, self._pause = actions[Action.SCAN], actions[Action.PAUSE]
        self._cancel = actions[Action.CANCEL]
        actions.bind(self)

        self.thread = QThread(self)
        self.thread.setObjectName("scan")
        self.worker = ScanWorker(host)
        self.worker.moveToThread(self.thread)
        self.requested.connect(self.worker.run)
        self.worker.status.connect(status.setText)
        self.worker.scan_started.connect(self._started)
        self.worker.batch_done.connect(self._batch_done)
        self.worker.scan_finished.connect(self._finished)
        self.worker.scan_failed.connect(self._failed)
        self.thread.start()

    @property
    def scanning(self) -> bool:
        return self.control is not None

    @handles(Action.SCAN)
    def start(self) -> None:
        if self.scanning:
            return
        s = self.live.settings
        if not s.folders:
            self.messages.show_message("Add a folder to screen first (File > Add folder).")
            return
        self.control = ScanControl()
        self.error = None
        self._set_scanning(True)
        self.progress.setRange(0, 0)
        self.status.setText("Looking for photos…")
        self.started.emit()
        self.requested.emit(ScanJob(roots=tuple(s.folders), db_path=self.db_path, threshold=s.threshold,
                                    policy=s.scan_policy(), options=s.decode_options()), self.control)

    @handles(Action.PAUSE)
    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.control.paused:
            self.control.resume()
            self._pause.setText("Pause")
            self.status.setText("Resuming…")
        else:
            self.control.pause()
            self._pause.setText("Resume")
            self.status.setText("Paused (after the batch in progress)")

    @handles(Action.CANCEL)
    def cancel(self) -> None:
        if self.control is not None:
            self.control.cancel()
            self.status.setText("Cancelling after the batch in progress…")

    def stop(self) -> None:
        """Stop after the batch in the model (every batch is already committed) and end the thread."""
        self.cancel()
        self.thread.quit()
        self.thread.wait()

    def _set_scanning(self, scanning: bool) -> None:
        self._scan.setEnabled(not scanning)
        self._pause.setEnabled(scanning)
        self._cancel.setEnabled(scanning)
        self._pause.setText("Pause")
        self.progress.setVisible(scanning)

    def _started(self, event: ScanStarted) -> None:
        for problem in event.problems:
            self.messages.show_message(f"Folder not scanned: {problem}")
        self.progress.setRange(0, max(event.to_classify, 1))
        self.progress.setValue(0)
        self.status.setText(f"{event.to_classify} to classify, {event.unchanged} unchanged")

    def _batch_done(self, event: BatchDone) -> None:
        self.model.add_results(event.results)
        p = event.progress
        self.progress.setValue(p.done)
        if self.control is None or not self.control.paused:
            # No flagged count here: the counts beside it follow the threshold, this line would not.
            left = p.seconds_left
            self.status.setText(
                f"{p.done} / {p.total} · {p.images_per_second:.1f} images/s · "
                f"{duration(left) + ' left' if left is not None else 'estimating…'} · "
                f"{p.errors} error(s)")
        self.batch_shown.emit(event)

    def _finished(self, summary: ScanSummary) -> None:
        self.control = None
        self._set_scanning(False)
        self.model.resort()
        verb = "Cancelled after" if summary.cancelled else "Done:"
        self.status.setText(
            f"{verb} {summary.scanned} scanned, {summary.unchanged} unchanged, "
            f"{summary.errors} error(s) in {duration(summary.seconds)}")
        if summary.pruned:
            self.store.load()  # rows of vanished files were removed from the database
        self.ended.emit(summary)

    def _failed(self, message: str) -> None:
        self.control = None
        self.error = message
        self._set_scanning(False)
        self.status.setText("Scan stopped")
        self.messages.show_message(message)
        self.ended.emit(None)


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: 42 s, 3 min 05 s, 1 h 02 min."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
