"""The scan worker: a QObject living in its own QThread that drives the engine.

torch and transformers are first imported in a worker thread, once a scan is
asked for, so the window never waits for them. The worker talks to the window
only by signals; the window steers it through a ``ScanControl``, which the
engine checks between batches (a queued signal would sit unread while the
worker is busy). The worker opens its own ``Store``: a SQLite connection
belongs to the thread that made it. The classifier comes from the
``ModelHost``, shared with the rest of the app; a ``ScanJob`` names only what
to scan and how, never the model's credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.model_host import ModelHost
from nsfw_desktop.scan.engine import BatchDone, ScanFinished, ScanStarted
from nsfw_desktop.scan.pipeline import ScanControl
from nsfw_desktop.scan.types import DecodeOptions, ScanPolicy
from nsfw_desktop.store.results import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanJob:
    roots: tuple[str, ...]
    db_path: str
    threshold: float
    policy: ScanPolicy
    options: DecodeOptions


class ScanWorker(QObject):
    status = Signal(object)  # what the worker is doing, for the status line
    scan_started = Signal(object)  # ScanStarted
    batch_done = Signal(object)  # BatchDone
    scan_finished = Signal(object)  # ScanSummary
    scan_failed = Signal(object)  # a message for the user; the scan is over

    def __init__(self, host: ModelHost):
        super().__init__()
        self.host = host

    @Slot(object, object)
    def run(self, job: ScanJob, control: ScanControl) -> None:
        from nsfw_desktop.scan.engine import scan

        try:
            self.status.emit("Loading the model…")
            _choice, classifier = self.host.classifier()
            with Store(job.db_path) as store:
                for event in scan(job.roots, classifier, store, policy=job.policy, options=job.options,
                                  control=control, threshold=job.threshold):
                    if isinstance(event, ScanStarted):
                        self.scan_started.emit(event)
                    elif isinstance(event, BatchDone):
                        self.batch_done.emit(event)
                    elif isinstance(event, ScanFinished):
                        self.scan_finished.emit(event.summary)
        except ModelError as exc:
            self.scan_failed.emit(f"The model cannot be used: {for_window(exc)}")
        except Exception as exc:
            # This thread is the last place that can catch it: log the traceback for a
            # bug report and tell the user, rather than take the whole app down.
            log.exception("the scan stopped")
            self.scan_failed.emit(f"The scan stopped: {for_window(exc)}")
