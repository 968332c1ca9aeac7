"""The main window: folders on the left, the thumbnail grid, details on the right.

The window only puts its parts together; each part wires itself to the
shared pieces it is given (the session's settings, the results model, the
store, the model host, the message bar, the actions) and carries out one job.
The window owns no heavy work: scans run in the ScanWorker's thread; database
reads and writes, quarantine moves and exports in the StoreWorker's thread;
thumbnails in the ThumbnailLoader's pool; heatmaps and "find similar" in the
FeatureWorker's thread; watched folders in the Watcher's own thread. The one
classifier all of them use comes from the ModelHost. Everything comes back by
signal, and every failure becomes a line in the message bar, not a crash.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QVBoxLayout, QWidget

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.engine import ScanSummary
from nsfw_desktop.gui import actions as window_actions
from nsfw_desktop.gui.detail_link import DetailLink
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.export import Exporter
from nsfw_desktop.gui.feature_worker import FeatureWorker
from nsfw_desktop.gui.file_actions import FileActions
from nsfw_desktop.gui.filter_bar import FilterBar
from nsfw_desktop.gui.folder_panel import FolderPanel
from nsfw_desktop.gui.heatmap_controls import HeatmapControls
from nsfw_desktop.gui.heatmaps import HeatmapProvider
from nsfw_desktop.gui.help_menu import add_help_menu
from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.gui.message_bar import MessageBar
from nsfw_desktop.gui.model_host import ModelChoice, ModelHost
from nsfw_desktop.gui.model_quality import ModelQuality
from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts
from nsfw_desktop.gui.quarantine_controller import QuarantineController
from nsfw_desktop.gui.results_model import ResultsModel
from nsfw_desktop.gui.scan_controller import ScanController
from nsfw_desktop.gui.settings_dialog import SettingsDialog
from nsfw_desktop.gui.similar_view import SimilarView
from nsfw_desktop.gui.store_worker import StoreClient
from nsfw_desktop.gui.thumbnail_grid import ThumbnailGrid
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
from nsfw_desktop.gui.tile_delegate import TileDelegate
from nsfw_desktop.gui.watch_controller import WatchController
from nsfw_desktop.settings import Settings
from nsfw_desktop.store import Result


class MainWindow(QMainWindow):
    settled = Signal()  # results shown, no scan running, visible thumbnails drawn
    batch_shown = Signal(object)  # BatchDone, once its results are in the grid
    scan_ended = Signal(object)  # ScanSummary, or None when the scan failed
    similar_shown = Signal(str)  # the query path, once its matches are in the grid

    def __init__(self, settings: Settings, *, db_path: str | os.PathLike,
                 unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS, scan_on_load: bool = False):
        guard_singleton_refcounts()
        super().__init__()
        self.setWindowTitle("nsfw-desktop")
        self.resize(1280, 800)
        db_path = os.fspath(db_path)
        self.loaded = False  # the stored results are in the grid
        self._scan_on_load = scan_on_load

        # Shared by the parts.
        self.live = LiveSettings(settings, self)
        self.host = ModelHost(ModelChoice.of(settings, unsafe_labels), self)
        self.live.changed.connect(self.host.follow)
        self.loader = ThumbnailLoader(parent=self)
        self.model = ResultsModel(self.loader, threshold=settings.threshold, parent=self)
        self.store = StoreClient(db_path, parent=self)
        self.messages = MessageBar()
        self.live.problem.connect(self.messages.show_message)
        self.store.worker.failed.connect(self.messages.show_message)
        self.status = QLabel()  # the status line: what the app is doing
        self.named_actions = window_actions.create_actions(self)
        self.feature_thread = QThread(self)
        self.feature_thread.setObjectName("features")
        self.feature_worker = FeatureWorker(self.loader.cache, self.host)
        self.feature_worker.moveToThread(self.feature_thread)

        # The parts, each wired to what it needs.
        self.heatmaps = HeatmapProvider(self)
        self.delegate = TileDelegate(self, blur_mode=settings.blur_mode, heatmaps=self.heatmaps)
        self.grid = ThumbnailGrid(self.model, self.delegate)
        self.detail = DetailView(self.loader)
        self.filters = FilterBar(self.live, self.model, self)
        # The toolbar before the docks: the first in the focus chain takes the focus, as before.
        self.filters.add_to(window_actions.add_toolbar(self, self.named_actions))
        self.folders = FolderPanel(self.live, self.named_actions)
        self.folder_dock = self._dock("Folders", self.folders, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.detail_dock = self._dock("Details", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)
        self.detail_link = DetailLink(self.live, self.grid, self.delegate, self.detail, self.detail_dock,
                                      self.heatmaps, self)
        self.files = FileActions(self.grid, self.model, self.store, self.messages, self.named_actions, self)
        self.quarantine = QuarantineController(self.live, self.grid, self.model, self.store, self.messages,
                                               self.named_actions, self)
        self.exporter = Exporter(self.live, self.store, self.messages, self.named_actions, self)
        self.similar = SimilarView(self.model, self.feature_worker, self.files.existing_selected,
                                   self.messages, self.status, self.named_actions, db_path)
        methods = window_actions.create_method_actions(self, self.heatmaps.method)
        self.heatmap_controls = HeatmapControls(
            self.heatmaps, self.feature_worker, self.host, self.grid, self.model, self.detail,
            self.detail_link.refresh, self.messages, self.named_actions["heatmap"], methods, self)
        self.scanner = ScanController(self.live, self.host, self.model, self.store, self.messages,
                                      self.status, self.named_actions, db_path, self)
        self.watch = WatchController(self.live, self.host, self.model, self.store, self.messages,
                                     self.status, db_path, self)
        self.quality = ModelQuality(self.live, self.host, self.store, self.messages, self.named_actions,
                                    db_path, self)

        self._lay_out(methods)
        self._connect()
        self.feature_thread.start()
        self.store.load()

    @property
    def settings(self) -> Settings:
        return self.live.settings

    def _lay_out(self, methods: QActionGroup) -> None:
        window_actions.add_menus(self, self.named_actions, methods)
        add_help_menu(self, lambda: self.settings)
        window_actions.add_context_menu(self.grid, self.named_actions)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.messages)
        layout.addWidget(self.similar)
        layout.addWidget(self.grid, 1)
        self.setCentralWidget(central)
        self.resizeDocks([self.folder_dock, self.detail_dock], [220, 340], Qt.Orientation.Horizontal)
        self.statusBar().addWidget(self.status, 1)
        self.statusBar().addPermanentWidget(self.scanner.progress)
        self.statusBar().addPermanentWidget(self.filters.counts_label)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.named_actions["settings"].triggered.connect(self.open_settings)
        self.named_actions["quit"].triggered.connect(self.close)
        self.scanner.batch_shown.connect(self.batch_shown)
        self.scanner.ended.connect(self._scan_ended)
        self.similar.shown.connect(self.similar_shown)
        self.watch.results_changed.connect(self.filters.update_counts)
        self.watch.folder_marked.connect(self.folders.mark)
        self.watch.stopped.connect(self.folders.clear_marks)
        self.loader.idle.connect(self._check_settled)
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
        return self.named_actions["heatmap"]

    @property
    def similar_action(self) -> QAction:
        return self.named_actions["similar"]

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
        if self._scan_on_load:
            self._scan_on_load = False
            self.start_scan()
        self._check_settled()

    def _scan_ended(self, summary: ScanSummary | None) -> None:
        self.scan_ended.emit(summary)
        self._check_settled()

    def _check_settled(self) -> None:
        if not self.loaded or self.scanner.scanning or self._scan_on_load:
            return
        self.grid.request_visible()
        if self.loader.is_idle:
            self.settled.emit()

    def closeEvent(self, event) -> None:
        self.scanner.stop()
        self.watch.stop()
        self.quality.stop()
        self.feature_thread.quit()
        self.feature_thread.wait()
        self.host.stop()
        self.loader.shutdown()
        self.store.stop()
        self.live.save()
        super().closeEvent(event)
