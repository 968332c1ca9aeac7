"""The widgets that edit the ``FilterState``: which results (Show), in what order (Sort by),
from which NSFW score a file is flagged (the threshold slider), and the counts in the status
bar. They follow the state too, so a restored view or a changed setting shows here."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QSlider, QToolBar, QToolButton

from nsfw_desktop.gui.filter_state import FilterState, Show, SortBy
from nsfw_desktop.gui.folder_counts import count
from nsfw_desktop.gui.results_model import ResultsModel


class FilterBar(QObject):
    def __init__(self, filters: FilterState, model: ResultsModel, parent: QObject | None = None):
        super().__init__(parent)
        self.filters, self.model = filters, model
        self.show_box = QComboBox()
        self.show_box.addItems([s.value for s in Show])
        self.sort_box = QComboBox()
        self.sort_box.addItems([s.value for s in SortBy])
        self.reverse_button = QToolButton(checkable=True, text="↓", autoRaise=True)
        self.reverse_button.setToolTip("Reverse the order")
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.slider.setFixedWidth(140)
        self.slider.setToolTip("From this NSFW score on, a photo is flagged")
        self.threshold_label = QLabel()
        self.counts_label = QLabel()
        self._follow("threshold")
        self.show_box.currentIndexChanged.connect(lambda i: filters.set_show(list(Show)[i]))
        self.sort_box.currentIndexChanged.connect(lambda i: filters.set_sort(list(SortBy)[i]))
        self.reverse_button.toggled.connect(filters.set_reverse)
        self.slider.valueChanged.connect(lambda value: filters.set_threshold(value / 100))
        filters.changed.connect(self._follow)
        # Results that change say so (contents_changed); a new filter or folder resets the rows.
        for signal in (model.contents_changed, model.modelReset):
            signal.connect(self.update_counts)

    def add_to(self, toolbar: QToolBar) -> None:
        for widget in (QLabel(" Show: "), self.show_box, QLabel("  Sort by: "), self.sort_box,
                       self.reverse_button, QLabel("  Threshold: "), self.slider, self.threshold_label):
            toolbar.addWidget(widget)

    def update_counts(self) -> None:
        """Count the rows the grid shows, out of the chosen folder's (or all) photos."""
        shown = count(self.model.shown_results(), self.filters.threshold)
        files = len(self.model.results_in(self.filters.folder))
        what = f"{files} files" if shown.photos == files else f"{shown.photos} of {files} files shown"
        self.counts_label.setText(f"{what} · {shown.flagged} flagged · {shown.errors} error(s)")

    def _follow(self, field: str) -> None:
        """Show the state's ``field``; a widget set to what it shows already emits nothing."""
        state = self.filters
        if field == "show":
            self.show_box.setCurrentIndex(list(Show).index(state.show))
        elif field == "sort":
            self.sort_box.setCurrentIndex(list(SortBy).index(state.sort))
        elif field == "reverse":
            self.reverse_button.setChecked(state.reverse)
            self.reverse_button.setText("↑" if state.reverse else "↓")
        elif field == "threshold":
            self.slider.setValue(round(state.threshold * 100))
            self.threshold_label.setText(f"{state.threshold:.2f}")
