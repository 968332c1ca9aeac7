"""The main window: folders on the left, the thumbnail grid, details on the right.

The window owns no heavy work. Scans run in the ScanWorker's thread; database
reads and writes, quarantine moves and exports in the StoreWorker's thread;
thumbnails in the ThumbnailLoader's pool. Everything comes back by signal, and
every failure becomes a line in the message bar above the grid, not a crash.
Heatmaps and "find similar" run in the FeatureWorker's thread, watched folders
in the Watcher's own thread (see ``watching``).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QThread, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QSlider,
    QSystemTrayIcon,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nsfw_desktop import settings as settings_file
from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.engine import BatchDone, ScanStarted, ScanSummary
from nsfw_desktop.gui.detail_view import DetailView
from nsfw_desktop.gui.feature_worker import REMOTE_REASON, FeatureWorker, ModelChoice
from nsfw_desktop.gui.heatmaps import METHODS, HeatmapProvider
from nsfw_desktop.gui.help_menu import add_help_menu
from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts
from nsfw_desktop.gui.results_model import HiddenRole, ResultsModel, Show, SortBy
from nsfw_desktop.gui.scan_worker import ScanRequest, ScanWorker
from nsfw_desktop.gui.settings_dialog import SettingsDialog
from nsfw_desktop.gui.store_worker import StoreClient
from nsfw_desktop.gui.system import open_file, reveal_in_file_manager
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
from nsfw_desktop.gui.tile_delegate import TileDelegate
from nsfw_desktop.gui.watching import WatchBridge
from nsfw_desktop.logs import hide_secret
from nsfw_desktop.pipeline import ScanControl, ScanPolicy
from nsfw_desktop.prepare import DecodeOptions
from nsfw_desktop.quarantine import Move, Outcome
from nsfw_desktop.settings import Settings
from nsfw_desktop.store import Result

MAX_MESSAGES = 4  # lines kept in the message bar
MAX_LISTED = 5  # files named in one message before "and N more"
PREFETCH_PAGES = 1  # thumbnails made ahead of the scroll position, in screens
SIMILAR_TOP_K = 50  # matches shown by "Find similar"
FolderRole = Qt.ItemDataRole.UserRole  # a folder list item's folder path (its text may say "offline")


class MessageBar(QFrame):
    """Problems and outcomes the user should see, newest last, until dismissed."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # A fixed light background needs a fixed dark text colour to stay readable in dark themes.
        self.setStyleSheet("MessageBar { background: #fff4d6; border: 1px solid #e0c060; }"
                           "MessageBar QLabel { color: #3a2f00; }")
        self.text = QLabel(wordWrap=True, textInteractionFlags=Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(text="✕", autoRaise=True)
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.messages: list[str] = []
        self.setVisible(False)

    def show_message(self, message: str) -> None:
        self.messages = (self.messages + [message])[-MAX_MESSAGES:]
        self.text.setText("\n".join(self.messages))
        self.setVisible(True)

    def clear(self) -> None:
        self.messages = []
        self.setVisible(False)


class ThumbnailGrid(QListView):
    """Icon-mode grid with uniform tiles; Space asks to reveal, and thumbnails for the
    next screen are asked for before it is scrolled into view."""

    reveal_requested = Signal()

    def __init__(self, model: ResultsModel, delegate: TileDelegate, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)  # layout of 20,000 tiles without asking each its size
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSpacing(4)
        self.setItemDelegate(delegate)
        self.setModel(model)
        self.results = model
        self._prefetch_timer = QTimer(self, singleShot=True, interval=30)
        self._prefetch_timer.timeout.connect(self.prefetch)
        self.verticalScrollBar().valueChanged.connect(self._prefetch_timer.start)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.reveal_requested.emit()
            return
        super().keyPressEvent(event)

    def visible_rows(self) -> range:
        """Rows on screen, from the grid's geometry: tiles are uniform, so the first
        row's tiles give the columns and the second row's the line pitch."""
        count = self.results.rowCount()
        first = self.visualRect(self.results.index(0)) if count else None
        if first is None or not first.isValid():
            return range(0)
        columns = 1
        while columns < count and self.visualRect(self.results.index(columns)).top() == first.top():
            columns += 1
        pitch = first.height() + 2 * self.spacing()
        if columns < count:
            pitch = self.visualRect(self.results.index(columns)).top() - first.top()
        start = max(0, -first.top() // max(pitch, 1)) * columns
        lines = self.viewport().height() // max(pitch, 1) + 2
        return range(min(start, count), min(count, start + lines * columns))

    def request_visible(self) -> None:
        """Ask for the thumbnails on screen now, without waiting for a paint."""
        self.executeDelayedItemsLayout()  # rows just added may not have a place yet
        for row in self.visible_rows():
            self.results.thumbnails.request(self.results.result(row).path)

    def prefetch(self) -> None:
        rows = self.visible_rows()
        if not rows:
            return
        ahead = range(rows.stop, min(self.results.rowCount(), rows.stop + PREFETCH_PAGES * len(rows)))
        # Requested farthest first: the loader serves the newest request first.
        for row in reversed(ahead):
            self.results.thumbnails.request(self.results.result(row).path)


class MainWindow(QMainWindow):
    settled = Signal()  # results shown, no scan running, visible thumbnails drawn
    batch_shown = Signal(object)  # BatchDone, once its results are in the grid
    scan_ended = Signal(object)  # ScanSummary, or None when the scan failed
    similar_shown = Signal(str)  # the query path, once its matches are in the grid
    flagged_arrived = Signal(object)  # Result: a flagged file just landed in a watched folder
    watch_event = Signal(object)  # every WatchEvent, after the window has acted on it
    _scan_requested = Signal(object, object)  # ScanRequest, ScanControl
    _model_chosen = Signal(object)  # ModelChoice, to the feature worker
    _classifier_wanted = Signal()
    _similar_requested = Signal(str, str, int)  # db path, query path, top k

    def __init__(self, settings: Settings, *, db_path: str | os.PathLike,
                 unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS, scan_on_load: bool = False):
        guard_singleton_refcounts()
        super().__init__()
        self.settings = settings
        self.db_path = os.fspath(db_path)
        self.unsafe_labels = unsafe_labels
        self.control: ScanControl | None = None
        self.scan_error: str | None = None  # the last scan's failure, for automation
        self.loaded = False  # the stored results are in the grid
        self._scan_on_load = scan_on_load
        self._undo_stack: list[list[Move]] = []
        self._undoing: dict[str, str] = {}  # quarantined path -> where an undo should put it
        self.setWindowTitle("nsfw-desktop")
        self.resize(1280, 800)

        self.loader = ThumbnailLoader(parent=self)
        self.model = ResultsModel(self.loader, threshold=settings.threshold, parent=self)
        self.heatmaps = HeatmapProvider(self)
        self.delegate = TileDelegate(self, blur_mode=settings.blur_mode, heatmaps=self.heatmaps)
        self.grid = ThumbnailGrid(self.model, self.delegate)
        self.detail = DetailView(self.loader)
        self.detail.hidden_mode = settings.blur_mode
        self.messages = MessageBar()
        self.store = StoreClient(self.db_path, parent=self)
        self.watching = WatchBridge(self.db_path, parent=self)
        self.offline: dict[str, str] = {}  # watched folder -> why it is offline
        self.tray: QSystemTrayIcon | None = None
        self._model_choice = _model_choice(settings, unsafe_labels)
        self._classifier_asked = False  # a classifier for the watcher is being built

        self._build_actions()
        self._build_layout()
        self._connect()
        self._start_scan_thread()
        self._start_feature_thread()
        self.store.load()

    # Construction

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None) -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            return act

        self.add_folder_action = action("Add folder…", self.choose_folder, QKeySequence.StandardKey.Open)
        self.remove_folder_action = action("Remove folder", self.remove_selected_folders)
        self.scan_action = action("Scan", self.start_scan, "F5")
        self.pause_action = action("Pause", self.toggle_pause)
        self.cancel_action = action("Cancel", self.cancel_scan)
        self.export_action = action("Export flagged to CSV…", self.choose_export, "Ctrl+E")
        self.settings_action = action("Settings…", self.open_settings, QKeySequence.StandardKey.Preferences)
        self.quit_action = action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.open_action = action("Open with system viewer", self.open_selected, "Ctrl+Shift+O")
        self.reveal_file_action = action("Show in file manager", self.reveal_selected_in_file_manager)
        self.copy_action = action("Copy path", self.copy_selected_paths, QKeySequence.StandardKey.Copy)
        self.quarantine_action = action("Move to quarantine", self.quarantine_selected, "Ctrl+M")
        self.undo_action = action("Undo quarantine", self.undo_quarantine, QKeySequence.StandardKey.Undo)
        self.safe_action = action("Mark reviewed safe", lambda: self.review_selected("safe"), "Ctrl+1")
        self.nsfw_action = action("Mark reviewed NSFW", lambda: self.review_selected("nsfw"), "Ctrl+2")
        self.clear_review_action = action("Clear review", lambda: self.review_selected(None), "Ctrl+0")
        self.reveal_action = action("Reveal / hide", self.toggle_reveal_selected)
        self.similar_action = action("Find similar", self.find_similar_to_selected, "Ctrl+F")
        self.all_results_action = action("Back to all results", self.show_all_results, "Escape")
        self.all_results_action.setEnabled(False)
        self.heatmap_action = QAction("Show heatmap", self, checkable=True)
        self.heatmap_action.setShortcut(QKeySequence("Ctrl+H"))
        self.heatmap_action.setStatusTip("Colour where the model looked (red: most)")
        self.heatmap_action.toggled.connect(self.set_heatmaps)
        self.method_actions = QActionGroup(self)
        for method, text in METHODS.items():
            act = QAction(text, self.method_actions, checkable=True, checked=method == self.heatmaps.method)
            act.triggered.connect(lambda _checked, m=method: self.set_heatmap_method(m))
        self.selection_actions = [
            self.open_action, self.reveal_file_action, self.copy_action, None, self.quarantine_action,
            None, self.safe_action, self.nsfw_action, self.clear_review_action, None, self.reveal_action,
            self.similar_action,
        ]
        self.undo_action.setEnabled(False)
        self.pause_action.setEnabled(False)
        self.cancel_action.setEnabled(False)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for act in (self.add_folder_action, self.scan_action, None, self.export_action,
                    self.settings_action, None, self.quit_action):
            file_menu.addSeparator() if act is None else file_menu.addAction(act)
        edit_menu = menus.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        for act in self.selection_actions:
            edit_menu.addSeparator() if act is None else edit_menu.addAction(act)
        view_menu = menus.addMenu("&View")
        view_menu.addAction(self.heatmap_action)
        method_menu = view_menu.addMenu("Heatmap method")
        method_menu.addActions(self.method_actions.actions())
        view_menu.addSeparator()
        view_menu.addAction(self.all_results_action)
        add_help_menu(self, lambda: self.settings)

    def _build_layout(self) -> None:
        toolbar = self.addToolBar("Scan")
        toolbar.setObjectName("scan-toolbar")
        toolbar.setMovable(False)
        for act in (self.scan_action, self.pause_action, self.cancel_action, None, self.heatmap_action):
            toolbar.addSeparator() if act is None else toolbar.addAction(act)
        toolbar.addSeparator()
        self.show_box = QComboBox()
        self.show_box.addItems([s.value for s in Show])
        self.sort_box = QComboBox()
        self.sort_box.addItems([s.value for s in SortBy])
        self.slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100)
        self.slider.setFixedWidth(180)
        self.slider.setValue(round(self.settings.threshold * 100))
        self.threshold_label = QLabel(f"{self.settings.threshold:.2f}")
        for widget in (QLabel(" Show: "), self.show_box, QLabel("  Sort by: "), self.sort_box,
                       QLabel("  Threshold: "), self.slider, self.threshold_label):
            toolbar.addWidget(widget)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.messages)
        self.similar_label = QLabel()
        back = QPushButton("Back to all results")
        back.clicked.connect(self.show_all_results)
        self.similar_bar = QWidget()
        similar_layout = QHBoxLayout(self.similar_bar)
        similar_layout.setContentsMargins(8, 2, 8, 2)
        similar_layout.addWidget(self.similar_label, 1)
        similar_layout.addWidget(back)
        self.similar_bar.setVisible(False)
        layout.addWidget(self.similar_bar)
        layout.addWidget(self.grid, 1)
        self.setCentralWidget(central)

        self.folder_list = QListWidget()
        self.folder_list.setToolTip("Tick a folder to watch it: new photos are classified as they arrive")
        for folder in self.settings.folders:
            self._add_folder_item(folder)
        self.folder_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        add, remove = QPushButton("Add…"), QPushButton("Remove")
        add.clicked.connect(self.choose_folder)
        remove.clicked.connect(self.remove_selected_folders)
        folders = QWidget()
        folder_layout = QVBoxLayout(folders)
        folder_layout.addWidget(QLabel("Tick a folder to watch it for new photos:", wordWrap=True))
        folder_layout.addWidget(self.folder_list, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        folder_layout.addLayout(buttons)
        self.folder_dock = self._dock("Folders", folders, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.detail_dock = self._dock("Details", self.detail, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.folder_dock, self.detail_dock], [220, 340], Qt.Orientation.Horizontal)

        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setVisible(False)
        self.progress_label = QLabel()
        self.counts_label = QLabel()
        self.statusBar().addWidget(self.progress_label, 1)
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.counts_label)

        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for act in self.selection_actions:
            if act is None:
                act = QAction(self.grid)
                act.setSeparator(True)
            self.grid.addAction(act)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _connect(self) -> None:
        self.show_box.currentIndexChanged.connect(lambda i: self.model.set_show(list(Show)[i]))
        self.sort_box.currentIndexChanged.connect(lambda i: self.model.set_sort(list(SortBy)[i]))
        self.slider.valueChanged.connect(self._threshold_moved)
        self.grid.selectionModel().currentChanged.connect(self._show_current)
        self.grid.clicked.connect(self._reveal_clicked)
        self.grid.activated.connect(self._open_details)
        self.grid.reveal_requested.connect(self.toggle_reveal_selected)
        self.detail.reveal_requested.connect(self.toggle_reveal_selected)
        self.detail.heatmap_toggle.toggled.connect(self.heatmap_action.setChecked)
        self.heatmaps.ready.connect(self.model.refresh)
        self.heatmaps.ready.connect(self._heatmap_ready)
        self.heatmaps.availability_changed.connect(self._heatmaps_available)
        self.folder_list.itemChanged.connect(self._folder_item_changed)
        self.watching.event.connect(self._watch_event)
        self.model.dataChanged.connect(self._refresh_current)
        self.model.modelReset.connect(lambda: self._show_current(self.grid.currentIndex()))
        self.model.modelReset.connect(self._update_counts)
        self.model.rowsInserted.connect(self._update_counts)
        self.loader.idle.connect(self._check_settled)
        # Worker signals go only to methods of QObjects living on this thread, so Qt
        # queues them here; a lambda would run in the worker's thread.
        worker = self.store.worker
        worker.loaded.connect(self._loaded_results)
        worker.reviewed.connect(self.model.set_review)
        worker.quarantined.connect(self._quarantined)
        worker.restored.connect(self._restored)
        worker.exported.connect(self._exported)
        worker.failed.connect(self.messages.show_message)

    def _start_scan_thread(self) -> None:
        self.scan_thread = QThread(self)
        self.scan_thread.setObjectName("scan")
        self.scan_worker = ScanWorker()
        self.scan_worker.moveToThread(self.scan_thread)
        self._scan_requested.connect(self.scan_worker.run)
        self.scan_worker.status.connect(self.progress_label.setText)
        self.scan_worker.scan_started.connect(self._scan_started)
        self.scan_worker.batch_done.connect(self._batch_done)
        self.scan_worker.scan_finished.connect(self._scan_finished)
        self.scan_worker.scan_failed.connect(self._scan_failed)
        self.scan_thread.start()

    def _start_feature_thread(self) -> None:
        self.feature_thread = QThread(self)
        self.feature_thread.setObjectName("features")
        self.feature_worker = FeatureWorker(self.loader.cache)
        self.feature_worker.moveToThread(self.feature_thread)
        self._model_chosen.connect(self.feature_worker.set_model)
        self._classifier_wanted.connect(self.feature_worker.build_classifier)
        self._similar_requested.connect(self.feature_worker.find_similar)
        self.heatmaps.connect_worker(self.feature_worker)
        self.feature_worker.similar_found.connect(self._similar_found)
        self.feature_worker.similar_failed.connect(self.messages.show_message)
        self.feature_worker.classifier_ready.connect(self._classifier_ready)
        self.feature_worker.classifier_failed.connect(self._classifier_failed)
        self.feature_thread.start()
        self._model_chosen.emit(self._model_choice)
        if self._model_choice.remote:
            self.heatmaps.reset(available=False, reason=REMOTE_REASON)

    # Folders

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to screen")
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str]) -> None:
        current = list(self.settings.folders)
        for folder in folders:
            folder = os.path.abspath(os.path.expanduser(folder))
            if folder not in current:
                current.append(folder)
                self._add_folder_item(folder)
        self._save_settings(self.settings.replace(folders=current))

    def remove_selected_folders(self) -> None:
        gone = {item.data(FolderRole) for item in self.folder_list.selectedItems()}
        for item in self.folder_list.selectedItems():
            self.folder_list.takeItem(self.folder_list.row(item))
        self._save_settings(self.settings.replace(
            folders=[f for f in self.settings.folders if f not in gone],
            watched_folders=[f for f in self.settings.watched_folders if f not in gone]))
        self._sync_watching()

    def _add_folder_item(self, folder: str) -> None:
        item = QListWidgetItem(folder)
        item.setData(FolderRole, folder)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        watched = folder in self.settings.watched_folders
        item.setCheckState(Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)
        self.folder_list.addItem(item)

    def folder_item(self, folder: str) -> QListWidgetItem | None:
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            if item.data(FolderRole) == folder:
                return item
        return None

    def set_watched(self, folder: str, watched: bool) -> None:
        """Tick or untick a folder's watch box, as a click on it does."""
        item = self.folder_item(folder)
        if item is not None:
            item.setCheckState(Qt.CheckState.Checked if watched else Qt.CheckState.Unchecked)

    def _folder_item_changed(self, item: QListWidgetItem) -> None:
        folder = item.data(FolderRole)
        watched = item.checkState() == Qt.CheckState.Checked
        if folder is None or watched == (folder in self.settings.watched_folders):
            return  # a text change (the offline mark), not the box
        current = [f for f in self.settings.watched_folders if f != folder]
        self._save_settings(self.settings.replace(watched_folders=current + [folder] if watched else current))
        if not watched:
            self._mark_folder(folder, None)
        self._sync_watching()

    def _mark_folder(self, folder: str, offline_reason: str | None) -> None:
        if offline_reason is None:
            self.offline.pop(folder, None)
        else:
            self.offline[folder] = offline_reason
        item = self.folder_item(folder)
        if item is not None:
            item.setText(folder if offline_reason is None else f"{folder} (offline)")
            item.setToolTip(offline_reason or "")

    # Watching

    def _sync_watching(self) -> None:
        """Make the watcher follow ``settings.watched_folders``; start it when there is one."""
        wanted = [f for f in self.settings.watched_folders if f in self.settings.folders]
        if self.watching.running:
            self.watching.set_folders(wanted)
        elif wanted and not self._classifier_asked:
            self._classifier_asked = True  # built on the feature thread: that imports torch
            self._classifier_wanted.emit()

    def _classifier_ready(self, choice: ModelChoice, classifier) -> None:
        self._classifier_asked = False
        wanted = [f for f in self.settings.watched_folders if f in self.settings.folders]
        if choice != self._model_choice:
            self._sync_watching()  # the settings changed meanwhile: ask again
            return
        if wanted and not self.watching.running:
            s = self.settings
            policy = ScanPolicy(embeddings=s.embeddings and not s.endpoints)
            self.watching.start(wanted, classifier, threshold=s.threshold, policy=policy,
                                options=DecodeOptions(batch_size=s.batch_size))
            self.progress_label.setText(f"Watching {len(wanted)} folder(s)")

    def _classifier_failed(self, message: str) -> None:
        self._classifier_asked = False
        self.messages.show_message(f"Folders are not watched: {message}")

    def _watch_event(self, event) -> None:
        from nsfw_desktop import watch

        if isinstance(event, watch.FileClassified):
            self.model.add_results([event.result])
            self._update_counts()
            if event.result.flagged(self.settings.threshold) and not event.catch_up:
                self._flagged_arrived(event.result)
        elif isinstance(event, watch.FileMoved):
            self.model.apply_moves([Move(event.old, event.new)])
        elif isinstance(event, watch.FileRemoved):
            self.model.remove_paths([event.path])
            self._update_counts()
        elif isinstance(event, watch.FolderOnline):
            self._mark_folder(event.folder, None)
        elif isinstance(event, watch.FolderOffline):
            self._mark_folder(event.folder, event.reason)
            self.messages.show_message(f"Watched folder offline: {event.folder}: {event.reason}")
        elif isinstance(event, watch.CaughtUp):
            self.progress_label.setText(f"Watching {len(self.watching.folders)} folder(s), up to date")
        elif isinstance(event, watch.WatchWarning):
            self.messages.show_message(event.message)
        elif isinstance(event, watch.WatchStopped) and event.error:
            self.watching.stop()  # its thread has ended; this only lets go of it
            self.messages.show_message(f"Watching stopped: {event.error}")
        self.watch_event.emit(event)

    def _flagged_arrived(self, result: Result) -> None:
        name = os.path.basename(result.path)
        if self.settings.notify_flagged and QSystemTrayIcon.isSystemTrayAvailable():
            if self.tray is None:
                self.tray = QSystemTrayIcon(self.windowIcon(), self)
                self.tray.show()
            self.tray.showMessage("Flagged photo arrived", f"{name}: NSFW score {result.nsfw_score:.2f}",
                                  QSystemTrayIcon.MessageIcon.Warning)
        if self.settings.auto_quarantine:
            self.store.quarantine([result.path], str(self.settings.quarantine_path()))
        else:
            self.messages.show_message(f"Flagged on arrival: {result.path} "
                                       f"(NSFW score {result.nsfw_score:.2f})")
        self.flagged_arrived.emit(result)

    def _stop_watching(self) -> None:
        self.watching.stop()
        for folder in list(self.offline):
            self._mark_folder(folder, None)

    # Heatmaps

    def set_heatmaps(self, on: bool) -> None:
        self.heatmaps.set_enabled(on)
        self.detail.heatmap_toggle.setChecked(on)
        self.grid.viewport().update()
        self._show_current(self.grid.currentIndex())

    def set_heatmap_method(self, method: str) -> None:
        self.heatmaps.set_method(method)
        self.grid.viewport().update()
        self._show_current(self.grid.currentIndex())

    def _heatmaps_available(self, available: bool, reason: str) -> None:
        tip = "" if available else reason
        for widget in (self.heatmap_action, self.detail.heatmap_toggle):
            widget.setEnabled(available)
            widget.setToolTip(tip or "Colour where the model looked (red: most)")
        if not available:
            if self.heatmaps.enabled:  # the user asked for them: say why there are none
                self.messages.show_message(reason)
            self.heatmap_action.setChecked(False)

    def _heatmap_ready(self, path: str) -> None:
        current = self.grid.currentIndex()
        if current.isValid() and self.model.result(current.row()).path == path:
            self._show_current(current)

    # Find similar

    def find_similar_to_selected(self) -> None:
        paths = self._existing_selected()
        if not paths:
            return
        self.progress_label.setText(f"Looking for photos like {os.path.basename(paths[0])}…")
        self._similar_requested.emit(self.db_path, paths[0], SIMILAR_TOP_K)

    def _similar_found(self, query: str, matches: list) -> None:
        known = {m.path: m.similarity for m in matches if self.model.result_for(m.path) is not None}
        self.model.show_similar(known)
        self.similar_label.setText(f"Similar to {os.path.basename(query)}: {len(known)} stored photo(s), "
                                   "most alike first")
        self.similar_bar.setVisible(True)
        self.all_results_action.setEnabled(True)
        self.progress_label.setText("")
        self.similar_shown.emit(query)

    def show_all_results(self) -> None:
        if self.model.showing_similar:
            self.model.show_similar(None)
        self.similar_bar.setVisible(False)
        self.all_results_action.setEnabled(False)

    # Scanning

    @property
    def scanning(self) -> bool:
        return self.control is not None

    def start_scan(self) -> None:
        if self.scanning:
            return
        if not self.settings.folders:
            self.messages.show_message("Add a folder to screen first (File > Add folder).")
            self._check_settled()
            return
        s = self.settings
        request = ScanRequest(
            roots=tuple(s.folders), db_path=self.db_path, model=s.model, endpoints=tuple(s.endpoints),
            token=s.token, device=s.device, unsafe_labels=self.unsafe_labels, batch_size=s.batch_size,
            threshold=s.threshold, embeddings=s.embeddings and not s.endpoints)
        self.control = ScanControl()
        self.scan_error = None
        self._set_scanning(True)
        self.progress.setRange(0, 0)
        self.progress_label.setText("Looking for photos…")
        self._scan_requested.emit(request, self.control)

    def toggle_pause(self) -> None:
        if self.control is None:
            return
        if self.control.paused:
            self.control.resume()
            self.pause_action.setText("Pause")
            self.progress_label.setText("Resuming…")
        else:
            self.control.pause()
            self.pause_action.setText("Resume")
            self.progress_label.setText("Paused (after the batch in progress)")

    def cancel_scan(self) -> None:
        if self.control is not None:
            self.control.cancel()
            self.progress_label.setText("Cancelling after the batch in progress…")

    def _set_scanning(self, scanning: bool) -> None:
        self.scan_action.setEnabled(not scanning)
        self.pause_action.setEnabled(scanning)
        self.cancel_action.setEnabled(scanning)
        self.pause_action.setText("Pause")
        self.progress.setVisible(scanning)

    def _scan_started(self, event: ScanStarted) -> None:
        for problem in event.problems:
            self.messages.show_message(f"Folder not scanned: {problem}")
        self.progress.setRange(0, max(event.to_classify, 1))
        self.progress.setValue(0)
        self.progress_label.setText(f"{event.to_classify} to classify, {event.unchanged} unchanged")

    def _batch_done(self, event: BatchDone) -> None:
        self.model.add_results(event.results)
        p = event.progress
        self.progress.setValue(p.done)
        if self.control is None or not self.control.paused:
            left = p.seconds_left
            self.progress_label.setText(
                f"{p.done} / {p.total} · {p.images_per_second:.1f} images/s · "
                f"{_duration(left) + ' left' if left is not None else 'estimating…'} · "
                f"{p.errors} error(s) · {p.flagged} flagged")
        self.batch_shown.emit(event)

    def _scan_finished(self, summary: ScanSummary) -> None:
        self.control = None
        self._set_scanning(False)
        self.model.resort()
        verb = "Cancelled after" if summary.cancelled else "Done:"
        self.progress_label.setText(
            f"{verb} {summary.scanned} classified, {summary.unchanged} unchanged, {summary.flagged} flagged, "
            f"{summary.errors} error(s) in {_duration(summary.seconds)}")
        if summary.pruned:
            self.store.load()  # rows of vanished files were removed from the database
        self.scan_ended.emit(summary)
        self._check_settled()

    def _scan_failed(self, message: str) -> None:
        self.control = None
        self.scan_error = message
        self._set_scanning(False)
        self.progress_label.setText("Scan stopped")
        self.messages.show_message(message)
        self.scan_ended.emit(None)
        self._check_settled()

    # Results and selection

    def _loaded_results(self, results: list[Result]) -> None:
        self.model.set_results(results)
        self.loaded = True
        self._sync_watching()  # now, not before the window shows: its classifier imports torch
        if self._scan_on_load:
            self._scan_on_load = False
            self.start_scan()
        self._check_settled()

    def _update_counts(self) -> None:
        files, flagged, errors = self.model.counts()
        self.counts_label.setText(f"{files} files · {flagged} flagged · {errors} error(s)")

    def _threshold_moved(self, value: int) -> None:
        threshold = value / 100
        self.threshold_label.setText(f"{threshold:.2f}")
        self.settings = self.settings.replace(threshold=threshold)
        self.model.set_threshold(threshold)
        self._update_counts()

    def selected_rows(self) -> list[int]:
        return sorted(index.row() for index in self.grid.selectionModel().selectedIndexes())

    def selected_paths(self) -> list[str]:
        return [self.model.result(row).path for row in self.selected_rows()]

    def select_rows(self, rows: list[int]) -> None:
        selection = self.grid.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(self.model.index(row), QItemSelectionModel.SelectionFlag.Select)
        if rows:
            selection.setCurrentIndex(self.model.index(rows[0]), QItemSelectionModel.SelectionFlag.NoUpdate)

    def _show_current(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if not current.isValid():
            self.detail.show_result(None)
            return
        result, hidden = self.model.result(current.row()), bool(current.data(HiddenRole))
        self.detail.show_result(result, hidden=hidden)
        self.detail.set_overlay(None if hidden else self.heatmaps.overlay(result, "preview"))

    def _refresh_current(self, top: QModelIndex, bottom: QModelIndex) -> None:
        current = self.grid.currentIndex()
        if current.isValid() and top.row() <= current.row() <= bottom.row():
            self._show_current(current)

    def _reveal_clicked(self, index: QModelIndex) -> None:
        if index.data(HiddenRole):
            self.model.toggle_revealed(index)

    def toggle_reveal_selected(self) -> None:
        for row in self.selected_rows():
            self.model.toggle_revealed(self.model.index(row))

    def _open_details(self, _index: QModelIndex) -> None:
        self.detail_dock.show()
        self.detail_dock.raise_()

    # Actions on the selection

    def _existing_selected(self) -> list[str]:
        paths = self.selected_paths()
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            self.messages.show_message(f"No longer on disk: {_listed(missing)}")
        return [p for p in paths if p not in missing]

    def open_selected(self) -> None:
        for path in self._existing_selected()[:MAX_LISTED]:
            if not open_file(path):
                self.messages.show_message(f"No viewer could open {path}")

    def reveal_selected_in_file_manager(self) -> None:
        paths = self._existing_selected()
        if paths and not reveal_in_file_manager(paths[0]):
            self.messages.show_message(f"The file manager could not be started for {paths[0]}")

    def copy_selected_paths(self) -> None:
        paths = self.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText("\n".join(paths))

    def review_selected(self, review: str | None) -> None:
        paths = self.selected_paths()
        if paths:
            self.store.set_review(paths, review)

    def quarantine_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.store.quarantine(paths, str(self.settings.quarantine_path()))

    def undo_quarantine(self) -> None:
        if self._undo_stack:
            moves = self._undo_stack.pop()
            self._undoing.update((m.destination, m.source) for m in moves)
            self.store.undo(moves)
        self.undo_action.setEnabled(bool(self._undo_stack))

    def _quarantined(self, outcome: Outcome) -> None:
        self.model.apply_moves(outcome.moves)
        if outcome.moves:
            self._undo_stack.append(outcome.moves)
            self.undo_action.setEnabled(True)
            folder = os.path.dirname(outcome.moves[0].destination)
            self.messages.show_message(f"Moved {len(outcome.moves)} file(s) to {folder}. "
                                       "Edit > Undo quarantine (Ctrl+Z) puts them back.")
        for path, reason in outcome.failures[:MAX_LISTED]:
            self.messages.show_message(f"Not moved: {path}: {reason}")

    def _restored(self, outcome: Outcome) -> None:
        self.model.apply_moves(outcome.moves)
        # Where each file was before quarantine; an undo puts it elsewhere only if that name was taken.
        originals = {m.source: self._undoing.pop(m.source, None) for m in outcome.moves}
        moved_elsewhere = [m.destination for m in outcome.moves if originals[m.source] != m.destination]
        if outcome.moves:
            self.messages.show_message(f"Put back {len(outcome.moves)} file(s) where they were.")
        if moved_elsewhere:
            self.messages.show_message(f"Their old name was taken, so these got a new one: "
                                       f"{_listed(moved_elsewhere)}")
        for path, reason in outcome.failures[:MAX_LISTED]:
            self.messages.show_message(f"Not put back: {path}: {reason}")

    def _exported(self, path: str, rows: int) -> None:
        self.messages.show_message(f"Exported {rows} flagged file(s) with their reviews to {path}")

    def choose_export(self) -> None:
        default = str(Path.home() / "nsfw-flagged.csv")
        path, _ = QFileDialog.getSaveFileName(self, "Export flagged files", default, "CSV files (*.csv)")
        if path:
            self.export_flagged(path)

    def export_flagged(self, path: str) -> None:
        self.store.export_flagged(path, self.settings.threshold)

    # Settings

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.settings, self)
        if dialog.exec():
            self.apply_settings(dialog.settings)

    def apply_settings(self, new: Settings) -> None:
        self._save_settings(new)
        if new.token:
            hide_secret(new.token)
        choice = _model_choice(new, self.unsafe_labels)
        if choice != self._model_choice:
            self._model_choice = choice
            self._model_chosen.emit(choice)
            self.heatmaps.reset(available=not choice.remote, reason=REMOTE_REASON if choice.remote else "")
            self._stop_watching()  # its classifier is the old model's
            self._sync_watching()
        self.delegate.blur_mode = new.blur_mode
        self.detail.hidden_mode = new.blur_mode
        self.slider.setValue(round(new.threshold * 100))
        self.grid.viewport().update()
        self._show_current(self.grid.currentIndex())

    def _save_settings(self, new: Settings) -> None:
        self.settings = new
        try:
            settings_file.save(new)
        except OSError as exc:
            self.messages.show_message(f"Settings could not be saved: {exc}")

    # Automation and shutdown

    def _check_settled(self) -> None:
        if not self.loaded or self.scanning or self._scan_on_load:
            return
        self.grid.request_visible()
        if self.loader.is_idle:
            self.settled.emit()

    def closeEvent(self, event) -> None:
        # Stop the scan after the batch in the model; every batch is already committed.
        if self.control is not None:
            self.control.cancel()
        self.scan_thread.quit()
        self.scan_thread.wait()
        self.watching.stop()
        self.feature_thread.quit()
        self.feature_thread.wait()
        self.loader.shutdown()
        self.store.stop()
        self._save_settings(self.settings)
        super().closeEvent(event)


def _model_choice(settings: Settings, unsafe_labels: tuple[str, ...]) -> ModelChoice:
    return ModelChoice(settings.model, tuple(settings.endpoints), settings.token, settings.device,
                       tuple(unsafe_labels))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _listed(paths: list[str]) -> str:
    shown = ", ".join(paths[:MAX_LISTED])
    return shown if len(paths) <= MAX_LISTED else f"{shown} and {len(paths) - MAX_LISTED} more"

