"""The one classifier of the app, shared by scanning, heatmaps, find similar and the watcher.

``ModelHost`` follows the model settings (model, endpoints, token, device,
unsafe labels) and keeps one classifier for the current choice. It is built
on first use, by the worker thread that asks first (scan, features), or on the
host's own thread for a user on the GUI thread (the watcher), because building
resolves the model and may import torch or download it. Every user gets the
same object, so the weights load once: ``LocalClassifier.load`` is locked and
does nothing the second time, and it runs on worker threads only. The token
stays here and in the settings; nothing sent to a worker carries it.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from nsfw_desktop.classify import Classifier, ModelSpec
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.worker_errors import reported


class ModelHost(QObject):
    ready = Signal(object, object)  # ModelSpec, Classifier: the answer to request()
    failed = Signal(object, object)  # ModelSpec, a message for the user
    changed = Signal(object)  # ModelSpec: another model was chosen, the old classifier let go
    # What building the classifier tells the user (a fast model built, its agreement with exact),
    # from whichever thread builds it.
    note = Signal(str)
    _wanted = Signal()

    def __init__(self, choice: ModelSpec, parent: QObject | None = None, *, results_db: Path | None = None):
        super().__init__(parent)
        self._results_db = results_db  # whose stored photos a fast model's agreement is measured on
        self._state = threading.Lock()  # guards the choice and its classifier; never held long
        self._building = threading.Lock()  # one build at a time: a second user waits, then shares it
        self._choice = choice
        self._classifier: Classifier | None = None
        self._thread = QThread(self)
        self._thread.setObjectName("model")
        self._builder = _Builder(self)
        self._builder.moveToThread(self._thread)
        self._wanted.connect(self._builder.build)
        self._builder.built.connect(self.ready)
        self._builder.failed.connect(self.failed)
        self._thread.start()

    @property
    def choice(self) -> ModelSpec:
        return self._choice

    def follow(self, settings: Settings) -> None:
        """Take the model settings of ``settings``; a new choice drops the classifier."""
        choice = ModelSpec.of(settings, self._choice.unsafe_labels)
        with self._state:  # not _building: the GUI thread never waits for a build
            if choice == self._choice:
                return
            self._choice, self._classifier = choice, None
        self.changed.emit(choice)

    def classifier(self) -> tuple[ModelSpec, Classifier]:
        """The current choice and its classifier, built on the first call; raises ModelError.
        Call it from a worker thread, never the GUI's: the first call may take minutes."""
        with self._building:
            with self._state:
                choice, classifier = self._choice, self._classifier
            if classifier is None:
                from nsfw_desktop.classify import make_classifier
                from nsfw_desktop.scan.agreement import measurer

                classifier = make_classifier(choice, notify=self.note.emit,
                                             measure_agreement=measurer(self._results_db))
                with self._state:
                    if self._choice == choice:  # else another model was chosen meanwhile: not kept
                        self._classifier = classifier
            return choice, classifier

    def request(self) -> None:
        """Ask for the classifier on the GUI thread: ``ready`` or ``failed`` answers."""
        self._wanted.emit()

    def stop(self) -> None:
        self._thread.quit()
        self._thread.wait()


class _Builder(QObject):
    """Builds the host's classifier on the host's thread, for users on the GUI thread."""

    built = Signal(object, object)
    failed = Signal(object, object)

    def __init__(self, host: ModelHost):
        super().__init__()
        self._host = host

    @Slot()
    @reported("Loading the model", lambda builder, text: builder.failed.emit(builder._host.choice, text))
    def build(self) -> None:
        choice = self._host.choice
        try:
            choice, classifier = self._host.classifier()
        except ModelError as exc:
            self.failed.emit(choice, f"The model cannot be used: {for_window(exc)}")
            return
        self.built.emit(choice, classifier)
