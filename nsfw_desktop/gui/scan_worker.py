"""The scan worker: a QObject living in its own QThread that drives the engine.

torch and transformers are first imported here, in the worker thread, once a
scan is asked for, so the window never waits for them. The worker talks to the
window only by signals; the window steers it through a ``ScanControl``, which
the engine checks between batches (a queued signal would sit unread while the
worker is busy). The worker opens its own ``Store``: a SQLite connection
belongs to the thread that made it. The classifier is kept between scans and
rebuilt only when the model settings change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS, Classifier
from nsfw_desktop.engine import BatchDone, ScanFinished, ScanStarted
from nsfw_desktop.model_source import ModelError
from nsfw_desktop.pipeline import ScanControl, ScanPolicy
from nsfw_desktop.prepare import DecodeOptions
from nsfw_desktop.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScanRequest:
    roots: tuple[str, ...]
    db_path: str
    model: str | None = None
    endpoints: tuple[str, ...] = ()
    token: str | None = None
    device: str = "auto"
    unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS
    batch_size: int = 8
    threshold: float = 0.5
    embeddings: bool = False  # keep each file's embedding for "Find similar" (local models only)


class ScanWorker(QObject):
    status = Signal(str)  # what the worker is doing, for the status line
    scan_started = Signal(object)  # ScanStarted
    batch_done = Signal(object)  # BatchDone
    scan_finished = Signal(object)  # ScanSummary
    scan_failed = Signal(str)  # a message for the user; the scan is over

    def __init__(self) -> None:
        super().__init__()
        self._classifier: Classifier | None = None
        self._classifier_key: tuple | None = None

    @Slot(object, object)
    def run(self, request: ScanRequest, control: ScanControl) -> None:
        from nsfw_desktop.engine import scan

        try:
            self.status.emit("Loading the model…")
            classifier = self._classifier_for(request)
            policy = ScanPolicy(embeddings=request.embeddings)
            options = DecodeOptions(batch_size=request.batch_size)
            with Store(request.db_path) as store:
                for event in scan(request.roots, classifier, store, policy=policy, options=options,
                                  control=control,
                                  threshold=request.threshold):
                    if isinstance(event, ScanStarted):
                        self.scan_started.emit(event)
                    elif isinstance(event, BatchDone):
                        self.batch_done.emit(event)
                    elif isinstance(event, ScanFinished):
                        self.scan_finished.emit(event.summary)
        except ModelError as exc:
            self._classifier = self._classifier_key = None
            self.scan_failed.emit(f"The model cannot be used: {exc}")
        except Exception as exc:
            # This thread is the last place that can catch it: log the traceback for a
            # bug report and tell the user, rather than take the whole app down.
            log.exception("the scan stopped")
            self.scan_failed.emit(f"The scan stopped: {exc}")

    def _classifier_for(self, request: ScanRequest) -> Classifier:
        key = (request.model, request.endpoints, request.token, request.device, request.unsafe_labels)
        if self._classifier is None or key != self._classifier_key:
            from nsfw_desktop.classify import make_classifier

            self._classifier = make_classifier(request.model, device=request.device,
                                               unsafe_labels=request.unsafe_labels,
                                               endpoints=request.endpoints, token=request.token)
            self._classifier_key = key
        return self._classifier
