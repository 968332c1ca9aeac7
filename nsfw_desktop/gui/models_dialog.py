"""Help > Models: the models the app knows, as ``models list --available`` lists them.

For each: what it is, its size, licence and origin, the threshold recommended
for it, its speed measured by scans on this computer, and, once its fast (int8)
version was built here, how that version agrees with exact. Everything is read
from the catalogue and the cache folder: nothing is measured or downloaded when
the dialog opens.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop.classify import speeds
from nsfw_desktop.classify.agreement import kept_agreement
from nsfw_desktop.classify.catalogue import MODELS, CatalogueModel, is_example
from nsfw_desktop.classify.model_source import DEFAULT_MODEL
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.window_fit import fit_to_screen

EXAMPLE_TITLE = "Any Hugging Face model by its id (owner/name), under Model in Settings"


def model_rows(entry: CatalogueModel, settings: Settings) -> list[tuple[str, str]]:
    """(label, text) rows describing ``entry``, its threshold the one the settings would use."""
    rows = [("Architecture", entry.architecture), ("Size", entry.size), ("Licence", entry.licence),
            ("Comes from", entry.source),
            ("Recommended threshold", f"{entry.threshold:g} ({entry.threshold_source})")]
    if is_example(entry):  # its note is command-line advice
        return rows
    rows.append(("Speed here", speeds.describe(entry.name, precisions=entry.precisions)))
    agreement = kept_agreement(entry.name)
    if agreement is not None:
        rows.append(("Fast precision", agreement.describe(settings.threshold_for(entry.name))))
    elif entry.precisions:
        rows.append(("Fast precision", "not built on this computer yet: the first scan with "
                                       "Settings, Precision, Fast builds it and measures its agreement"))
    return [*rows, ("Note", entry.note)]


class ModelsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        intro = QLabel("The models nsfw-desktop knows. Choose one in Settings, under Model.", wordWrap=True)
        inner = QWidget()
        column = QVBoxLayout(inner)
        in_use = (settings.model or DEFAULT_MODEL).partition("@")[0]
        self.boxes: dict[str, QGroupBox] = {}
        for entry in MODELS:
            name = EXAMPLE_TITLE if is_example(entry) else entry.name
            title = name + (" (in use)" if entry.name == in_use and not settings.endpoints else "")
            box = QGroupBox(title)
            form = QFormLayout(box)
            for label, text in model_rows(entry, settings):
                value = QLabel(text, wordWrap=True,
                               textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
                form.addRow(f"{label}:", value)
            column.addWidget(box)
            self.boxes[entry.name] = box
        column.addStretch(1)
        scroll = QScrollArea(widgetResizable=True)
        scroll.setWidget(inner)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        fit_to_screen(self, 720, 640)

    def text(self) -> str:
        """Everything the dialog says, for tests and screen readers alike."""
        return "\n".join(label.text() for label in self.findChildren(QLabel))
