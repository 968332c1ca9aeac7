"""Edit > Model quality…: how often the model agrees with the review marks, its ROC curve, the
threshold for a chosen false-positive rate, and "Learn from my reviews".

The figures, the fill-in of missing embeddings and the fit all run in the
``QualityWorker``'s thread; the dialog shows a progress bar meanwhile and
never blocks the window. A learnt policy is shown against the model on
held-out marks and is used only when the user clicks "Use the learnt policy".
"""

from __future__ import annotations

import math
from datetime import datetime

from PySide6.QtCore import QObject, QPointF, Qt, QThread, Signal
from PySide6.QtGui import QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.gui.quality_worker import Quality, QualityWorker
from nsfw_desktop.learn.evaluation import threshold_for_false_positive_rate

ROWS = (("accuracy", "Accuracy"), ("false_positive_rate", "False-positive rate"), ("recall", "Recall"),
        ("roc_auc", "ROC AUC"))


class RocCurve(QWidget):
    """The ROC curve of the review marks, with the current threshold's point."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(240, 240)
        self.points: list[tuple[float, float]] = []
        self.marked: tuple[float, float] | None = None

    def show_curve(self, false_positive_rates, recalls, marked: tuple[float, float] | None) -> None:
        self.points = list(zip(false_positive_rates, recalls, strict=True))
        self.marked = marked
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        side = min(self.width(), self.height()) - 20
        left, bottom = 10, 10 + side

        def at(x: float, y: float) -> QPointF:
            return QPointF(left + x * side, bottom - y * side)

        painter.setPen(QPen(self.palette().mid().color(), 1, Qt.PenStyle.DotLine))
        painter.drawRect(left, 10, side, side)
        painter.drawLine(at(0, 0), at(1, 1))
        if self.points:
            painter.setPen(QPen(self.palette().highlight().color(), 2))
            painter.drawPolyline(QPolygonF([at(x, y) for x, y in self.points]))
        if self.marked is not None:
            painter.setPen(QPen(Qt.GlobalColor.red, 8))
            painter.drawPoint(at(*self.marked))
        painter.end()


class ModelQualityDialog(QDialog):
    measure = Signal(float)  # threshold: to the worker
    learn = Signal(float, bool)  # threshold, fill in missing embeddings first
    apply = Signal(object)  # the LinearPolicy to adopt
    reset = Signal(str)  # the model whose policy is dropped

    def __init__(self, live: LiveSettings, worker: QualityWorker, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Model quality")
        self.live, self.quality, self.learnt = live, None, None
        self.summary = QLabel("Measuring…", wordWrap=True)
        self.curve = RocCurve()
        self.rate = QDoubleSpinBox(decimals=3, minimum=0.0, maximum=1.0, singleStep=0.01, value=0.05)
        self.rate_result = QLabel()
        self.use_threshold = QPushButton("Use this threshold", enabled=False)
        self.learn_button = QPushButton("Learn from my reviews", enabled=False)
        self.progress = QProgressBar(visible=False)
        self.figures = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.use_policy = QPushButton("Use the learnt policy", visible=False)
        self.drop_policy = QPushButton("Back to the model's scores", visible=False)
        rate_row = QHBoxLayout()
        rate_row.addWidget(QLabel("False-positive rate at most:"))
        for widget in (self.rate, self.rate_result, self.use_threshold):
            rate_row.addWidget(widget)
        buttons = QHBoxLayout()
        for widget in (self.learn_button, self.use_policy, self.drop_policy):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.curve, 1)
        layout.addLayout(rate_row)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.figures)
        self.rate.valueChanged.connect(self._show_rate_threshold)
        self.use_threshold.clicked.connect(self._use_threshold)
        self.learn_button.clicked.connect(self._learn)
        self.use_policy.clicked.connect(lambda: self.apply.emit(self.learnt.policy))
        self.drop_policy.clicked.connect(lambda: self.reset.emit(self.quality.model))
        self.measure.connect(worker.measure)
        self.learn.connect(worker.learn)
        self.apply.connect(worker.apply)
        self.reset.connect(worker.reset)
        worker.measured.connect(self._measured)
        worker.progress.connect(self._progress)
        worker.learned.connect(self._learned)
        worker.applied.connect(self._applied)
        worker.failed.connect(self._failed)
        self.measure.emit(live.settings.threshold)

    def _measured(self, quality: Quality) -> None:
        self.quality = quality
        reviewed = quality.nsfw_marks + quality.safe_marks
        lines = [f"{reviewed} photo(s) reviewed with this model ({quality.nsfw_marks} NSFW, "
                 f"{quality.safe_marks} safe)."]
        if reviewed:
            lines.append(f"The model agreed with {quality.agreed} of them ({quality.agreed / reviewed:.0%}) "
                         f"at the threshold {quality.threshold:g}.")
        if quality.roc_auc is not None:
            lines.append(f"ROC AUC of its scores on your marks: {quality.roc_auc:.3f}.")
        if quality.policy_fitted_at is not None:
            fitted = datetime.fromtimestamp(quality.policy_fitted_at).strftime("%Y-%m-%d %H:%M")
            lines.append(f"A policy learnt from your reviews on {fitted} is in use.")
        if quality.missing_embeddings:
            lines.append(f"{quality.missing_embeddings} reviewed photo(s) have no stored embedding: "
                         "learning fills them in first, which classifies each of them once more.")
        self.summary.setText(" ".join(lines))
        self.learn_button.setEnabled(True)
        self.drop_policy.setVisible(quality.policy is not None)
        self._show_rate_threshold()

    def _show_rate_threshold(self) -> None:
        quality = self.quality
        if quality is None or quality.roc_auc is None:
            self.rate_result.setText("needs NSFW and safe reviews")
            self.curve.show_curve([], [], None)
            return
        threshold = threshold_for_false_positive_rate(quality.marks, quality.scores, self.rate.value())
        # The app's threshold moves in steps of 0.01: rounded up, the rate stays within the target.
        self._threshold = min(1.0, math.ceil(round(threshold * 100, 6)) / 100)
        self.rate_result.setText(f"threshold {self._threshold:.2f}")
        self.use_threshold.setEnabled(True)
        false_positive_rates, recalls, thresholds = quality.roc
        index = min(range(len(thresholds)), key=lambda i: abs(thresholds[i] - threshold))
        self.curve.show_curve(false_positive_rates, recalls, (false_positive_rates[index], recalls[index]))

    def _use_threshold(self) -> None:
        self.live.update(self.live.settings.replace(threshold=self._threshold))
        self.measure.emit(self._threshold)

    def _learn(self) -> None:
        self.learn_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the fill-in reports its size
        self.progress.setVisible(True)
        self.figures.setText("Learning from your reviews…")
        self.learn.emit(self.live.settings.threshold, True)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.figures.setText(f"Filling in embeddings: {done} of {total} photo(s)…")

    def _learned(self, outcome) -> None:
        self.learnt = outcome
        self.progress.setVisible(False)
        self.learn_button.setEnabled(True)
        text = ""
        if outcome.comparison is not None:
            figures = outcome.comparison.as_dict()
            rows = "".join(f"<tr><td>{title}</td><td>{_share(figures['model'][key])}</td>"
                           f"<td>{_share(figures['policy'][key])}</td></tr>" for key, title in ROWS)
            text = (f"On held-out reviews ({figures['nsfw_marks']} NSFW, {figures['safe_marks']} safe):"
                    f"<table><tr><th></th><th>Model</th><th>Learnt</th></tr>{rows}</table>")
        verdict = ("The learnt policy decides your reviews better than the model." if outcome.policy
                   else "Not used: " + "; ".join(outcome.reasons) + ".")
        self.figures.setText(f"{text}<p>{verdict}</p>")
        self.use_policy.setVisible(outcome.policy is not None)

    def _applied(self, rescored: int) -> None:
        self.use_policy.setVisible(False)
        self.figures.setText(f"The learnt policy now scores {rescored} photo(s)." if rescored
                             else "Back to the model's scores.")
        self.measure.emit(self.live.settings.threshold)

    def _failed(self, message: str) -> None:
        self.progress.setVisible(False)
        self.learn_button.setEnabled(self.quality is not None)
        self.figures.setText(message)


class ModelQuality(QObject):
    """Edit > Model quality…: the dialog, the worker's thread, and a reload once scores change."""

    def __init__(self, context: WindowContext):
        live, host, store, messages, window = (context.live, context.host, context.store, context.messages,
                                               context.window)
        actions, db_path = context.actions, context.db_path
        super().__init__(window)
        self.live, self.store, self.window = live, store, window
        self.thread = QThread(self)
        self.thread.setObjectName("quality")
        self.worker = QualityWorker(db_path, host)
        self.worker.moveToThread(self.thread)
        self.thread.finished.connect(self.worker.close)
        self.worker.applied.connect(lambda _count: store.load())  # the tiles follow the new scores
        self.worker.failed.connect(messages.show_message)
        actions.bind(self)
        self.thread.start()
        self.dialog: ModelQualityDialog | None = None

    @handles(Action.MODEL_QUALITY)
    def open(self) -> ModelQualityDialog:
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        self.dialog = ModelQualityDialog(self.live, self.worker, self.window)
        self.dialog.show()
        return self.dialog

    def stop(self) -> None:
        self.thread.quit()
        self.thread.wait()


def _share(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
