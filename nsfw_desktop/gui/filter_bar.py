"""What the grid shows: which results (Show), in what order (Sort by), from which NSFW
score a file is flagged (the threshold slider), and the counts in the status bar."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QToolButton

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.folder_counts import count
from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.gui.results_model import ResultsModel, Show, SortBy


class FilterBar(QObject):
    def __init__(self, live: LiveSettings, model: ResultsModel, parent: QObject | None = None):
        super().__init__(parent)
        self.live, self.model = live, model
        self.show_box = QComboBox()
        self.show_box.addItems([s.value for s in Show])
        self.sort_box = QComboBox()
        self.sort_box.addItems([s.value for s in SortBy])
        self.reverse_button = QToolButton(checkable=True, text="↓", autoRaise=True)
        self.reverse_button.setToolTip("Reverse the order")
        self.reverse_button.toggled.connect(self._reverse_toggled)
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.slider.setFixedWidth(140)
        self.slider.setToolTip("From this NSFW score on, a photo is flagged")
        self.slider.setValue(round(live.settings.threshold * 100))
        self.threshold_label = QLabel(f"{live.settings.threshold:.2f}")
        self.counts_label = QLabel()
        self.show_box.currentIndexChanged.connect(lambda i: model.set_show(list(Show)[i]))
        self.sort_box.currentIndexChanged.connect(lambda i: model.set_sort(list(SortBy)[i]))
        self.slider.valueChanged.connect(self._threshold_moved)
        # Results that change say so (contents_changed); a new filter or folder resets the rows.
        for signal in (model.contents_changed, model.modelReset):
            signal.connect(self.update_counts)
        live.changed.connect(self._settings_changed)

    def add_to(self, toolbar: QToolBar) -> None:
        for widget in (QLabel(" Show: "), self.show_box, QLabel("  Sort by: "), self.sort_box,
                       self.reverse_button, QLabel("  Threshold: "), self.slider, self.threshold_label):
            toolbar.addWidget(widget)

    def update_counts(self) -> None:
        """Count the rows the grid shows, out of the chosen folder's (or all) photos."""
        threshold = self.model.threshold
        shown = count(self.model.shown_results(), threshold)
        files = len(self.model.results_in(self.model.folder))
        what = f"{files} files" if shown.photos == files else f"{shown.photos} of {files} files shown"
        self.counts_label.setText(f"{what} · {shown.flagged} flagged · {shown.errors} error(s)")

    def _reverse_toggled(self, reverse: bool) -> None:
        self.reverse_button.setText("↑" if reverse else "↓")
        self.model.set_reverse(reverse)

    def _threshold_moved(self, value: int) -> None:
        threshold = value / 100
        self.threshold_label.setText(f"{threshold:.2f}")
        self.model.set_threshold(threshold)
        if threshold != self.live.settings.threshold:
            # Saved on close, not at each step of a drag.
            self.live.update(self.live.settings.replace(threshold=threshold), save=False)

    def _settings_changed(self, new: Settings) -> None:
        self.slider.setValue(round(new.threshold * 100))
