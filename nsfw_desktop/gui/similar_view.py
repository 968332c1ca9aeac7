"""Find similar: ask the ``FeatureWorker`` for the stored photos most like the selected one,
show them in the grid best first, and the bar above it that leads back to all results.
The action is disabled, its tooltip saying why, while the model gives no embeddings."""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from nsfw_desktop.classify import ModelSpec
from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.feature_worker import FeatureWorker

SIMILAR_TOP_K = 50  # matches shown by "Find similar"


class SimilarView(QWidget):
    """The bar saying whose matches the grid shows; hidden while it shows all results."""

    shown = Signal(object)  # the query path, once its matches are in the grid
    _requested = Signal(object, object, int)  # db path, query path, top k: to the feature worker

    def __init__(self, context: WindowContext, worker: FeatureWorker, selected: Callable[[], list[str]]):
        super().__init__()
        model, messages, status = context.model, context.messages, context.status
        actions, db_path = context.actions, context.db_path
        self.model, self.selected, self.status, self.db_path = model, selected, status, db_path
        self.all_results_action = actions[Action.ALL_RESULTS]
        self.label = QLabel()
        back = QPushButton("Back to all results")
        back.clicked.connect(self.show_all_results)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(back)
        self.setVisible(False)
        self.similar_action = actions[Action.SIMILAR]
        self.tip = self.similar_action.toolTip()
        worker.host.changed.connect(self._model_changed)
        self._model_changed(worker.host.choice)
        actions.bind(self)
        self._requested.connect(worker.find_similar)
        worker.similar_found.connect(self._found)
        self.messages = messages
        worker.similar_failed.connect(self._failed)

    def _model_changed(self, choice: ModelSpec) -> None:
        reason = choice.capabilities.no_embeddings
        self.similar_action.setEnabled(not reason)
        self.similar_action.setToolTip(f"Find similar: {reason}" if reason else self.tip)
        self.similar_action.setStatusTip(reason)  # what the Edit menu shows

    @handles(Action.SIMILAR)
    def find_similar_to_selected(self) -> None:
        paths = self.selected()
        if not paths:
            return
        self.status.setText(f"Looking for photos like {display_path(os.path.basename(paths[0]))}…")
        self._requested.emit(self.db_path, paths[0], SIMILAR_TOP_K)

    @handles(Action.ALL_RESULTS)
    def show_all_results(self) -> None:
        if self.model.filters.showing_similar:
            self.model.filters.set_similar(None)
        self.setVisible(False)
        self.all_results_action.setEnabled(False)

    def _failed(self, message: str) -> None:
        self.status.setText("Find similar found nothing to show")
        self.messages.show_message(message)

    def _found(self, query: str, matches: list) -> None:
        known = {m.path: m.similarity for m in matches if self.model.result_for(m.path) is not None}
        self.model.filters.set_similar(known)
        name = display_path(os.path.basename(query))
        self.label.setText(f"Similar to {name}: {len(known)} stored photo(s), "
                           "most alike first")
        self.setVisible(True)
        self.all_results_action.setEnabled(True)
        self.status.setText("")
        self.shown.emit(query)
