"""The main window: folders on the left, the thumbnail grid, details on the right.

The window only puts its parts together; each part wires itself to the
shared pieces it is given in one ``WindowContext`` (the session's settings, the
results model and its filters, the store, the model host, the message bar, the
actions) and carries out one job.
The window owns no heavy work: scans run in the ScanWorker's thread; database
reads and writes, quarantine moves and exports in the StoreWorker's thread;
XMP sidecars in the SidecarWorker's thread;
thumbnails in the ThumbnailLoader's pool; heatmaps and "find similar" in the
FeatureWorker's thread; watched folders in the Watcher's own thread. The one
classifier all of them use comes from the ModelHost. Everything comes back by
signal, and every failure becomes a line in the message bar, not a crash.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS, ModelSpec
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui import actions as window_actions
from nsfw_desktop.gui import view_state
from nsfw_desktop.gui.actions import Action, ActionSet, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.detail_link import DetailLink
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.empty_state import EmptyState, GridArea
from nsfw_desktop.gui.export import Exporter
from nsfw_desktop.gui.feature_worker import FeatureWorker
from nsfw_desktop.gui.file_actions import FileActions
from nsfw_desktop.gui.filter_bar import FilterBar
from nsfw_desktop.gui.filter_state import FilterState
from nsfw_desktop.gui.folder_drop import FolderDrop
from nsfw_desktop.gui.folder_link import FolderLink
from nsfw_desktop.gui.folder_panel import FolderPanel
from nsfw_desktop.gui.garbage import GuiThreadCollector
from nsfw_desktop.gui.heatmap_controls import HeatmapControls
from nsfw_desktop.gui.heatmaps import HeatmapProvider
from nsfw_desktop.gui.help_menu import add_help_menu
from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.gui.message_bar import MessageBar
from nsfw_desktop.gui.model_host import ModelHost
from nsfw_desktop.gui.model_quality import ModelQuality
from nsfw_desktop.gui.preview_window import PreviewWindow
from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts
from nsfw_desktop.gui.quarantine_controller import QuarantineController
from nsfw_desktop.gui.quarantine_view import QuarantineView
from nsfw_desktop.gui.results_model import ResultsModel
from nsfw_desktop.gui.scan_controller import ScanController
from nsfw_desktop.gui.settings_dialog import SettingsDialog
from nsfw_desktop.gui.sidecar_sync import SidecarSync
from nsfw_desktop.gui.similar_view import SimilarView
from nsfw_desktop.gui.store_worker import StoreClient
from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
from nsfw_desktop.gui.tile_delegate import TileDelegate
from nsfw_desktop.gui.view_controls import ViewControls
from nsfw_desktop.gui.watch_controller import WatchController
from nsfw_desktop.gui.window_fit import WindowFit, fit_to_screen
from nsfw_desktop.scan.engine import ScanSummary
from nsfw_desktop.store.result import Result


class MainWindow(QMainWindow):
    settled = Signal()  # results shown and counted, no scan running, visible thumbnails drawn
    batch_shown = Signal(object)  # BatchDone, once its results are in the grid
    scan_ended = Signal(object)  # ScanSummary, or None when the scan failed
    similar_shown = Signal(object)  # the query path, once its matches are in the grid

    def __init__(self, settings: Settings, *, db_path: str | os.PathLike,
                 unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS, scan_on_load: bool = False):
        guard_singleton_refcounts()
        super().__init__()
        self.collector = GuiThreadCollector(self)
        self.setWindowTitle("nsfw-desktop")
        fit_to_screen(self, 1280, 800)
        db_path = os.fspath(db_path)
        self.loaded = False  # the stored results are in the grid
        self._scan_on_load = scan_on_load
        self._scan_if_empty = False  # the first-run screen got a model before the results were in

        # Shared by the parts.
        self.live = LiveSettings(settings, self)
        self.host = ModelHost(ModelSpec.of(settings, unsafe_labels), self, results_db=Path(db_path))
        self.live.changed.connect(self.host.follow)
        self.loader = ThumbnailLoader(parent=self)
        self.filter_state = FilterState(self.live, self)
        self.model = ResultsModel(self.loader, self.filter_state, parent=self)
        self.store = StoreClient(db_path, parent=self)
        self.messages = MessageBar()
        self.live.problem.connect(self.messages.show_message)
        self.host.note.connect(self.messages.show_info)
        self.store.worker.failed.connect(self.messages.show_message)
        self.loader.problem.connect(self.messages.show_message)
        self.status = QLabel()  # the status line: what the app is doing
        self.action_set = ActionSet(self)
        self.feature_thread = QThread(self)
        self.feature_thread.setObjectName("features")
        self.feature_worker = FeatureWorker(self.loader.cache, self.host)
        self.feature_worker.moveToThread(self.feature_thread)
        self.feature_worker.failed.connect(self.messages.show_message)

        # The parts, each wired to what it needs.
        self.heatmaps = HeatmapProvider(self)
        self.delegate = TileDelegate(self, blur_mode=settings.blur_mode, heatmaps=self.heatmaps)
        self.grid = ThumbnailGrid(self.model, self.delegate)
        context = WindowContext(self, self.live, self.host, self.model, self.filter_state, self.store,
                                self.messages, self.status, self.action_set, self.grid, db_path)
        self.grid_area = GridArea(self.grid, EmptyState(self.action_set))
        self.detail = DetailView(self.loader)
        self.filters = FilterBar(self.filter_state, self.model, self)
        self.view_controls = ViewControls(self.grid, self.delegate, self.action_set, self)
        # The toolbars before the docks: the first in the focus chain takes the focus, as before.
        scan_bar = window_actions.add_toolbar(self, self.action_set)
        view_bar = self.addToolBar("View")
        view_bar.setObjectName("view-toolbar")
        view_bar.setMovable(False)
        self.filters.add_to(view_bar)
        self.view_controls.add_to(view_bar)
        self.folders = FolderPanel(self.live, self.action_set)
        self.folder_dock = self._dock("Folders", self.folders, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.folder_drop = FolderDrop(self, self.folders.add_folders)
        self.folder_link = FolderLink(context, self.folders)
        self.detail_dock = self._dock("Details", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)
        self.fit = WindowFit(self, self.folder_dock, self.detail_dock, scan_bar, view_bar, self._tile_width)
        self.detail_link = DetailLink(context, self.delegate, self.detail, self.detail_dock, self.heatmaps)
        self.files = FileActions(context)
        self.quarantine = QuarantineController(context)
        self.sidecars = SidecarSync(context)
        self.quarantine_view = QuarantineView(context, self.folders, self.quarantine.put_back)
        self.exporter = Exporter(context, self.grid.selected_paths)
        self.similar = SimilarView(context, self.feature_worker, self.files.existing_selected)
        methods = window_actions.create_method_actions(self, self.heatmaps.method)
        self.heatmap_controls = HeatmapControls(context, self.heatmaps, self.feature_worker, self.detail,
                                                self.detail_link.refresh, methods)
        self.preview = PreviewWindow(self.grid, self.loader, self.heatmaps, self.action_set, self)
        self.scanner = ScanController(context)
        self.watch = WatchController(context)
        self.quality = ModelQuality(context)

        self._lay_out(methods)
        self._connect()
        self._restore_view()
        self.feature_thread.start()
        self.store.load()

    @property
    def settings(self) -> Settings:
        return self.live.settings

    def _lay_out(self, methods: QActionGroup) -> None:
        window_actions.add_menus(self, self.action_set, methods)
        add_help_menu(self, lambda: self.settings)
        window_actions.add_context_menu(self.grid, self.action_set)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.messages)
        layout.addWidget(self.similar)
        layout.addWidget(self.quarantine_view)
        layout.addWidget(self.grid_area, 1)
        self.setCentralWidget(central)
        self.resizeDocks([self.folder_dock, self.detail_dock], [220, 340], Qt.Orientation.Horizontal)
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.scanner.progress)
        self.statusBar().addPermanentWidget(self.view_controls.selected_label)
        self.statusBar().addPermanentWidget(self.filters.counts_label)

    def _tile_width(self) -> int:
        return self.delegate.tile_size(self.fontMetrics().height()).width() + 2 * self.grid.spacing()

    def _restore_view(self) -> None:
        tile_side = view_state.restore(self, self.filter_state)
        if tile_side is not None:
            self.view_controls.set_tile_side(tile_side)

    def _save_view(self) -> None:
        view_state.save(self, self.filter_state, tile_side=self.delegate.side)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.action_set.bind(self)
        self.scanner.batch_shown.connect(self.batch_shown)
        self.scanner.ended.connect(self._scan_ended)
        self.similar.shown.connect(self.similar_shown)
        self.watch.folder_marked.connect(self.folders.mark)
        self.watch.stopped.connect(self.folders.clear_marks)
        self.loader.idle.connect(self._check_settled)
        for signal in (self.model.modelReset, self.model.rowsInserted, self.model.rowsRemoved,
                       self.scanner.started, self.scanner.ended, self.live.changed):
            signal.connect(self._refresh_grid_area)
        self.store.worker.loaded.connect(self._loaded_results)  # queued: a method of this thread's QObject

    # What the app, the benchmarks and the tests drive

    @property
    def scan_error(self) -> str | None:
        return self.scanner.error

    def start_scan(self) -> None:
        self.scanner.start()
        self._check_settled()  # no scan starts without a folder

    def add_folders(self, folders: list[str]) -> None:
        self.folders.add_folders(folders)

    def select_rows(self, rows: list[int]) -> None:
        self.grid.select_rows(rows)

    def show_all_results(self) -> None:
        self.similar.show_all_results()

    @property
    def heatmap_action(self) -> QAction:
        return self.action_set[Action.HEATMAP]

    @property
    def similar_action(self) -> QAction:
        return self.action_set[Action.SIMILAR]

    @handles(Action.SETTINGS)
    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.settings)

    def apply_settings(self, new: Settings) -> None:
        self.live.update(new)

    # Loading, settling and shutdown

    def _loaded_results(self, results: list[Result]) -> None:
        self.model.set_results(results)
        self.loaded = True
        self.watch.start()  # now, not before the window shows: its classifier imports torch
        if self._scan_if_empty and not results and self.settings.folders:
            self._scan_on_load = True
        if self._scan_on_load:
            self._scan_on_load = False
            self.start_scan()
        self._check_settled()

    def _refresh_grid_area(self) -> None:
        self.grid_area.refresh(folders=self.settings.folders, scanning=self.scanner.scanning)

    def first_model_chosen(self, model: str) -> None:
        """The first-run screen got a model: use it, and scan the folders if none was scanned yet."""
        self.apply_settings(self.settings.replace(model=model))
        if not self.loaded:
            self._scan_if_empty = True  # decided once the stored results are in
        elif self.settings.folders and not self.model.all_results():
            self.start_scan()

    def _scan_ended(self, summary: ScanSummary | None) -> None:
        self.scan_ended.emit(summary)
        self._check_settled()

    def _check_settled(self) -> None:
        if not self.loaded or self.scanner.scanning or self._scan_on_load:
            return
        self.grid.request_visible()
        if self.loader.is_idle:
            self.settled.emit()

    @handles(Action.QUIT)
    def quit(self) -> None:
        self.close()

    def closeEvent(self, event) -> None:
        self._save_view()
        self.scanner.stop()
        self.watch.stop()
        self.quality.stop()
        self.feature_thread.quit()
        self.feature_thread.wait()
        self.host.stop()
        self.loader.shutdown()
        self.sidecars.stop()
        self.store.stop()
        self.live.save()
        self.collector.stop()
        super().closeEvent(event)
