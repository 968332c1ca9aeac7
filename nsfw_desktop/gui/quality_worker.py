"""Model quality and "Learn from my reviews", worked out off the GUI thread.

A ``QualityWorker`` lives in its own QThread and opens its own Store there (a
Store belongs to one thread). It uses the ModelHost's classifier: only its
model id to measure, its forward pass to fill in missing embeddings. Answers
go back by signal; a failure becomes a message for the user.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.model_host import ModelHost
from nsfw_desktop.gui.worker_errors import on_failed, reported
from nsfw_desktop.store.results import Store


@dataclass
class Quality:
    """How the model's scores agree with the review marks of its files."""

    model: str
    nsfw_marks: int
    safe_marks: int
    threshold: float
    agreed: int = 0  # reviewed files the model decides as the review does, at the threshold
    roc_auc: float | None = None
    roc: tuple = ((), (), ())  # false-positive rates, recalls, thresholds (scikit-learn's roc_curve)
    missing_embeddings: int = 0  # reviewed files a policy cannot learn from before a fill-in
    policy: dict | None = None  # the adopted policy's figures, if any
    policy_fitted_at: float | None = None
    marks: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


class QualityWorker(QObject):
    measured = Signal(object)  # Quality
    progress = Signal(int, int)  # embeddings filled in so far, to fill in
    learned = Signal(object)  # policy.FitOutcome, not yet adopted
    applied = Signal(int)  # files rescored by the adopted policy; 0 after a reset
    failed = Signal(str)  # a message for the user

    def __init__(self, db_path: str, host: ModelHost):
        super().__init__()
        self.db_path = db_path
        self.host = host
        self._store: Store | None = None

    def _open(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    @Slot(float)
    @reported("Model quality", on_failed)
    def measure(self, threshold: float) -> None:
        from sklearn.metrics import roc_auc_score, roc_curve

        from nsfw_desktop.learn.policy import reviewed_without_embedding

        try:
            _choice, classifier = self.host.classifier()
            store = self._open()
            rows = [r for r in store.results() if r.review is not None and r.model == classifier.model_id
                    and r.nsfw_score is not None and r.error is None]
            marks = [int(r.review == "nsfw") for r in rows]
            scores = [r.nsfw_score for r in rows]
            agreed = sum((s >= threshold) == bool(m) for s, m in zip(scores, marks, strict=True))
            quality = Quality(classifier.model_id, sum(marks), len(marks) - sum(marks), threshold,
                              agreed=agreed,
                              missing_embeddings=len(reviewed_without_embedding(store, classifier.model_id)),
                              marks=marks, scores=scores)
            if 0 < sum(marks) < len(marks):
                quality.roc_auc = float(roc_auc_score(marks, scores))
                quality.roc = tuple(np.asarray(a).tolist() for a in roc_curve(marks, scores))
            policy = store.policy(classifier.model_id)
            if policy is not None:
                quality.policy, quality.policy_fitted_at = policy.figures, policy.fitted_at
        except (ModelError, sqlite3.Error) as exc:
            self.failed.emit(f"Model quality: {for_window(exc)}")
            return
        self.measured.emit(quality)

    @Slot(float, bool)
    @reported("Learn from my reviews", on_failed)
    def learn(self, threshold: float, fill: bool) -> None:
        from nsfw_desktop.learn.policy import fill_embeddings, fit_policy, reviewed_without_embedding

        try:
            _choice, classifier = self.host.classifier()
            store = self._open()
            if fill:
                missing = reviewed_without_embedding(store, classifier.model_id)
                done = 0
                self.progress.emit(done, len(missing))
                for batch in fill_embeddings(store, classifier, missing):
                    done += 1 if isinstance(batch, tuple) else len(batch)
                    self.progress.emit(done, len(missing))
            outcome = fit_policy(store, classifier.model_id, threshold=threshold, adopt=False)
        except (ModelError, sqlite3.Error) as exc:
            self.failed.emit(f"Learn from my reviews: {for_window(exc)}")
            return
        self.learned.emit(outcome)

    @Slot(object)
    @reported("Keeping the learnt policy", on_failed)
    def apply(self, policy) -> None:
        try:
            self.applied.emit(self._open().save_policy(policy))
        except sqlite3.Error as exc:
            self.failed.emit(f"Could not keep the learnt policy: {for_window(exc)}")

    @Slot(str)
    @reported("Going back to the model's scores", on_failed)
    def reset(self, model: str) -> None:
        try:
            self._open().reset_policy(model)
        except sqlite3.Error as exc:
            self.failed.emit(f"Could not go back to the model's scores: {for_window(exc)}")
            return
        self.applied.emit(0)

    @Slot()
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
