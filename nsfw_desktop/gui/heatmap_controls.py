"""The heatmap switch and method: the View menu's toggle, the detail view's, and whether
the model can make heatmaps at all (``ModelSpec.capabilities``; a checkpoint that is no
ViT is found out when the worker loads it); the method is a ViT's choice."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QActionGroup

from nsfw_desktop.classify import ModelSpec
from nsfw_desktop.gui.actions import Action
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.feature_worker import FeatureWorker
from nsfw_desktop.gui.heatmaps import HeatmapProvider

TIP = "Colour where the model looked (red: most)"


class HeatmapControls(QObject):
    def __init__(self, context: WindowContext, heatmaps: HeatmapProvider, worker: FeatureWorker,
                 detail: DetailView, refresh_detail: Callable[[], None], methods: QActionGroup):
        super().__init__(context.window)
        host, grid, model, messages = context.host, context.grid, context.model, context.messages
        action = context.actions[Action.HEATMAP]
        self.heatmaps, self.grid, self.detail, self.messages = heatmaps, grid, detail, messages
        self.action, self.methods, self.refresh_detail = action, methods, refresh_detail
        heatmaps.connect_worker(worker)
        heatmaps.ready.connect(model.refresh)
        heatmaps.availability_changed.connect(self._availability_changed)
        action.toggled.connect(self.set_enabled)
        detail.heatmap_toggle.toggled.connect(action.setChecked)
        methods.triggered.connect(lambda chosen: self.set_method(chosen.data()))
        host.changed.connect(self._model_changed)
        self._model_changed(host.choice)

    def set_enabled(self, on: bool) -> None:
        self.heatmaps.set_enabled(on)
        self.detail.heatmap_toggle.setChecked(on)
        self.grid.viewport().update()
        self.refresh_detail()

    def set_method(self, method: str) -> None:
        self.heatmaps.set_method(method)
        self.grid.viewport().update()
        self.refresh_detail()

    def _model_changed(self, choice: ModelSpec) -> None:
        capabilities = choice.capabilities
        self.heatmaps.reset(available=capabilities.heatmaps, reason=capabilities.no_heatmaps)
        why = capabilities.no_heatmap_methods
        self.methods.setEnabled(not why)
        for action in self.methods.actions():
            action.setToolTip(why or action.text())
            action.setStatusTip(why)

    def _availability_changed(self, available: bool, reason: str) -> None:
        for widget in (self.action, self.detail.heatmap_toggle):
            widget.setEnabled(available)
            widget.setToolTip(reason if not available else TIP)
        self.action.setStatusTip(reason if not available else TIP)  # what the View menu shows
        if not available:
            if self.heatmaps.enabled:  # the user asked for them: say why there are none
                self.messages.show_message(reason)
            self.action.setChecked(False)
