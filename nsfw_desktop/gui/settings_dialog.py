"""The settings dialog: edits a copy of the settings and refuses values that cannot work."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.classify.precision import PRECISIONS
from nsfw_desktop.config.settings import BLUR_MODES, DEVICES, MAX_BATCH_SIZE, Settings, SettingsError
from nsfw_desktop.gui.sidecar_settings import SidecarSettings
from nsfw_desktop.gui.video_settings import VideoSettings

MODEL_KINDS = ("Default model", "open_nsfw, included (works offline)", "Local folder", "Hugging Face id",
               "Remote endpoint")
DEFAULT, INCLUDED, FOLDER, HUB, REMOTE = range(len(MODEL_KINDS))  # MODEL_KINDS' indexes
MODEL_PLACEHOLDERS = ("", "", "/path/to/model folder", "owner/name or owner/name@revision",
                      "https://host:port (several: separated by spaces)")
PRECISION_LABELS = {
    "exact": "Exact: full precision, the reference scores",
    "balanced": "Balanced: 2-3x faster on CPUs with native bf16, scores within about 0.02",
    "fast": "Fast: int8, 3-4x faster, scores within about 0.07 (no heatmaps)",
}


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings  # replaced by the checked new settings on OK

        self.model_kind = QComboBox()
        self.model_kind.addItems(MODEL_KINDS)
        self.model_text = QLineEdit()
        browse_model = QPushButton("Browse…")
        browse_model.clicked.connect(self._browse_model)
        self.token = QLineEdit(echoMode=QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("none")
        self.remember_token = QCheckBox("Remember the token (saved in a file only you can read)")
        self.threshold = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.threshold_hint = QLabel(wordWrap=True)
        self.precision = QComboBox()
        for name in PRECISIONS:
            self.precision.addItem(PRECISION_LABELS[name], name)
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.batch_size = QSpinBox(minimum=1, maximum=MAX_BATCH_SIZE)
        self.blur_mode = QComboBox()
        self.blur_mode.addItems(BLUR_MODES)
        self.quarantine = QLineEdit()
        self.quarantine.setPlaceholderText(str(settings.quarantine_path()))
        browse_quarantine = QPushButton("Browse…")
        browse_quarantine.clicked.connect(self._browse_quarantine)
        self.embeddings = QCheckBox("Keep image embeddings during scans, for Find similar (local models)")
        self.notify_flagged = QCheckBox("Notify me when a flagged photo lands in a watched folder")
        self.auto_quarantine = QCheckBox("Move flagged photos arriving in watched folders to quarantine")
        self.sidecars = SidecarSettings()
        self.videos = VideoSettings()
        self.error = QLabel(wordWrap=True, styleSheet="color: #c62828")
        self.error.setVisible(False)

        rows = QWidget()
        form = QFormLayout(rows)
        form.addRow("Model:", self.model_kind)
        form.addRow("", _row(self.model_text, browse_model))
        form.addRow("Token:", self.token)
        form.addRow("", self.remember_token)
        form.addRow("Threshold:", _row(self.threshold, self.threshold_hint))
        form.addRow("Device:", self.device)
        form.addRow("Precision:", self.precision)
        form.addRow("Batch size:", self.batch_size)
        form.addRow("Flagged thumbnails:", self.blur_mode)
        form.addRow("Quarantine folder:", _row(self.quarantine, browse_quarantine))
        form.addRow("Find similar:", self.embeddings)
        form.addRow("Watched folders:", self.notify_flagged)
        form.addRow("", self.auto_quarantine)
        self.videos.add_to(form)
        self.sidecars.add_to(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        # The rows scroll and the buttons stay below them, so a small screen still reaches OK.
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.Shape.NoFrame)
        scroll.setWidget(rows)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._fit_screen(rows, buttons)
        self.model_kind.currentIndexChanged.connect(self._kind_changed)
        self._fill(settings)
        # A change of model proposes that model's threshold (the last chosen, or the recommended).
        self.model_kind.currentIndexChanged.connect(self._propose_threshold)
        self.model_text.editingFinished.connect(self._propose_threshold)

    def _fit_screen(self, rows: QWidget, buttons: QWidget) -> None:
        """Open as large as the rows want, within nine tenths of the screen's height."""
        margins = self.layout().contentsMargins()
        scroll_bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        width = rows.sizeHint().width() + scroll_bar
        height = rows.sizeHint().height() + buttons.sizeHint().height() + self.layout().spacing()
        screen = self.screen().availableGeometry()
        self.resize(width + margins.left() + margins.right(),
                    min(height + margins.top() + margins.bottom(), int(screen.height() * 0.9)))

    def _fill(self, s: Settings) -> None:
        if s.endpoints:
            kind, text = REMOTE, " ".join(s.endpoints)
        elif s.model is None:
            kind, text = DEFAULT, ""
        elif s.model == OPEN_NSFW:
            kind, text = INCLUDED, ""
        elif "/" in s.model and not s.model.startswith(("/", ".", "~")) and s.model.count("/") == 1:
            kind, text = HUB, s.model
        else:
            kind, text = FOLDER, s.model
        self.model_kind.setCurrentIndex(kind)
        self.model_text.setText(text)
        self._kind_changed(kind)
        self.token.setText(s.token or "")
        self.remember_token.setChecked(s.remember_token)
        self.embeddings.setChecked(s.embeddings)
        self.notify_flagged.setChecked(s.notify_flagged)
        self.auto_quarantine.setChecked(s.auto_quarantine)
        self.threshold.setValue(s.threshold)
        self.device.setCurrentText(s.device)
        self.precision.setCurrentIndex(PRECISIONS.index(s.precision))
        self.batch_size.setValue(s.batch_size)
        self.blur_mode.setCurrentText(s.blur_mode)
        self.quarantine.setText(s.quarantine_folder)
        self.sidecars.fill(s)
        self.videos.fill(s)

    def edited(self) -> Settings:
        """The settings as the dialog shows them, checked; raises SettingsError."""
        kind = self.model_kind.currentIndex()
        model = self._model()
        text = self.model_text.text().strip()
        if kind in (FOLDER, HUB, REMOTE) and not text:
            raise SettingsError(f"enter a {MODEL_KINDS[kind].lower()}, or choose the default model")
        threshold = round(self.threshold.value(), 2)
        new = self.settings.replace(
            model=model,
            endpoints=text.split() if kind == REMOTE else [],
            token=self.token.text().strip() or None,
            remember_token=self.remember_token.isChecked(),
            threshold=threshold,
            model_thresholds=self.settings.thresholds_with(model, threshold),
            device=self.device.currentText(),
            precision=self.precision.currentData(),
            batch_size=self.batch_size.value(),
            blur_mode=self.blur_mode.currentText(),
            quarantine_folder=self.quarantine.text().strip(),
            embeddings=self.embeddings.isChecked(),
            notify_flagged=self.notify_flagged.isChecked(),
            auto_quarantine=self.auto_quarantine.isChecked(),
            **self.sidecars.changes(),
            **self.videos.changes(),
        )
        new.check_model()
        return new

    def accept(self) -> None:
        try:
            self.settings = self.edited()
        except SettingsError as exc:
            self.error.setText(f"Not saved: {exc}")
            self.error.setVisible(True)
            return
        super().accept()

    def _model(self) -> str | None:
        """The model setting the dialog shows (None: the default model, or endpoints)."""
        kind = self.model_kind.currentIndex()
        if kind == INCLUDED:
            return OPEN_NSFW
        return (self.model_text.text().strip() or None) if kind in (FOLDER, HUB) else None

    def _kind_changed(self, kind: int) -> None:
        self.model_text.setEnabled(kind in (FOLDER, HUB, REMOTE))
        self.token.setEnabled(kind == REMOTE)
        self.remember_token.setEnabled(kind == REMOTE)
        self.model_text.setPlaceholderText(MODEL_PLACEHOLDERS[kind])

    def _propose_threshold(self) -> None:
        if self.model_kind.currentIndex() == REMOTE:
            return
        model = self._model()
        proposed = self.settings.threshold_for(model)
        if abs(proposed - self.threshold.value()) >= 0.005:
            self.threshold.setValue(proposed)
            self.threshold_hint.setText(f"proposed for {model or 'the default model'}")

    def _browse_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Model folder")
        if folder:
            self.model_kind.setCurrentIndex(FOLDER)
            self.model_text.setText(folder)

    def _browse_quarantine(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Quarantine folder")
        if folder:
            self.quarantine.setText(folder)


def _row(*widgets: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder
