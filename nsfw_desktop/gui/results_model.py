"""The item model behind the thumbnail grid: every stored result, filtered and sorted.

All results are held in memory (a few hundred bytes each: 20,000 photos are a
few megabytes); the thumbnails are not, they come from the ``ThumbnailLoader``
only when a tile is drawn. Filtering by threshold works on the stored scores,
so moving the slider never runs the model. During a scan new results are
appended at the end and the sort order is restored a moment later, as a layout
change that keeps the selection.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.filter_state import ORDER_FIELDS, THRESHOLD_SHOWS, FilterState
from nsfw_desktop.gui.folder_counts import under
from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
from nsfw_desktop.quarantine.moves import Move
from nsfw_desktop.store.result import Result

ResultRole = Qt.ItemDataRole.UserRole + 1  # the Result itself
FlaggedRole = Qt.ItemDataRole.UserRole + 2  # bool: score at or over the threshold
HiddenRole = Qt.ItemDataRole.UserRole + 3  # bool: flagged and not revealed by the user
ThumbnailRole = Qt.ItemDataRole.UserRole + 4  # (sharp, blurred) QPixmaps, or None while loading
FailureRole = Qt.ItemDataRole.UserRole + 5  # why no thumbnail could be made, or None
SimilarityRole = Qt.ItemDataRole.UserRole + 6  # cosine similarity to the "Find similar" query, or None

RESORT_DELAY_MS = 700  # batches arriving within this time share one re-sort


class ResultsModel(QAbstractListModel):
    """The one source of the window's counts: the folder panel and the status bar count what
    this model holds, and recount on ``contents_changed``."""

    # A result came, went, moved or changed its flag (score, review, threshold): counts may differ.
    contents_changed = Signal()

    def __init__(self, thumbnails: ThumbnailLoader, filters: FilterState, parent: QObject | None = None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.filters = filters  # what is shown and in what order: read here, owned there
        self._results: dict[str, Result] = {}
        self._rows: list[str] = []  # paths of the rows shown, in order
        self._row_of: dict[str, int] = {}
        self._revealed: set[str] = set()
        self._shared_names: set[str] | None = None  # file names held by more than one result; None: to count
        self._resort_timer = QTimer(self, singleShot=True, interval=RESORT_DELAY_MS)
        self._resort_timer.timeout.connect(self.resort)
        thumbnails.ready.connect(self._thumbnail_ready)
        filters.changed.connect(self._filter_changed)

    # Qt model interface

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's own signature: an invalid index is the root)
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        path = self._rows[index.row()]
        result = self._results[path]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_path(self.name(path))
        if role == Qt.ItemDataRole.ToolTipRole:
            if result.missing_since is not None:
                return display_path(f"{path}\nMissing from disk; kept because it was reviewed. "
                                    "Edit > Forget missing files removes it.")
            if result.error:
                return display_path(f"{path}\nError: {result.error}")
            policy = "" if result.policy_score is None else f", learnt policy {result.policy_score:.2f}"
            return display_path(f"{path}\n{result.label}: NSFW score {result.nsfw_score:.2f}{policy}")
        if role == ResultRole:
            return result
        if role == FlaggedRole:
            return result.flagged(self.filters.threshold)
        if role == HiddenRole:
            return result.flagged(self.filters.threshold) and path not in self._revealed
        if role == ThumbnailRole:
            return self.thumbnails.pixmaps(path, result.worst_frame_time)
        if role == FailureRole:
            return self.thumbnails.failure(path)
        if role == SimilarityRole:
            return None if self.filters.similar is None else self.filters.similar.get(path)
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    # Content

    def set_results(self, results: Iterable[Result]) -> None:
        self.beginResetModel()
        self._results = {r.path: r for r in results}
        self._shared_names = None
        self._rows = self.filters.arrange(self._results.values())
        self._index_rows()
        self.endResetModel()
        self.contents_changed.emit()

    def add_results(self, results: Iterable[Result]) -> None:
        """New or updated results from a scan: updates in place, new ones at the end
        until the re-sort that follows shortly."""
        new = []
        for result in results:
            old = self._results.get(result.path)
            if old is None:
                self._shared_names = None
            self._results[result.path] = result
            if old is not None and (old.file_size, old.mtime_ns) != (result.file_size, result.mtime_ns):
                self.thumbnails.forget(result.path)
            row = self._row_of.get(result.path)
            if row is not None:
                if self.filters.accepts(result):
                    self._changed(row)
                else:
                    self._remove_row(row)
            elif self.filters.accepts(result):
                new.append(result.path)
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            self._rows.extend(new)
            self._row_of.update((path, first + i) for i, path in enumerate(new))
            self.endInsertRows()
            self._resort_timer.start()
        self.contents_changed.emit()

    def remove_paths(self, paths: Iterable[str]) -> None:
        self._shared_names = None
        for path in paths:
            self._results.pop(path, None)
            self._revealed.discard(path)
            self.thumbnails.forget(path)
            row = self._row_of.get(path)
            if row is not None:
                self._remove_row(row)
        self.contents_changed.emit()

    def apply_moves(self, moves: Iterable[Move]) -> None:
        """Files were moved (quarantine, undo): rename their rows, keeping their place."""
        self._shared_names = None
        for move in moves:
            result = self._results.pop(move.source, None)
            if result is None:
                continue
            result.path = move.destination
            self._results[move.destination] = result
            if move.source in self._revealed:
                self._revealed.discard(move.source)
                self._revealed.add(move.destination)
            if self.filters.similar is not None and move.source in self.filters.similar:
                self.filters.similar[move.destination] = self.filters.similar.pop(move.source)
            self.thumbnails.forget(move.source)
            row = self._row_of.pop(move.source, None)
            if row is not None:
                self._rows[row] = move.destination
                self._row_of[move.destination] = row
                if self.filters.accepts(result):
                    self._changed(row)
                else:  # moved out of the folder shown (into the quarantine, out of "All photos")
                    self._remove_row(row)
            elif self.filters.accepts(result):
                self.add_results([result])
        self.contents_changed.emit()

    def set_review(self, paths: Iterable[str], review: str | None) -> None:
        """A review mark decides whether a file is flagged, and whether it is still to review:
        rows come and go with it under those filters."""
        for path in paths:
            result = self._results.get(path)
            if result is None:
                continue
            result.review = review
            row = self._row_of.get(path)
            if row is None:
                if self.filters.accepts(result):
                    self.add_results([result])
            elif self.filters.accepts(result):
                self._changed(row)
            else:
                self._remove_row(row)
        self.contents_changed.emit()

    # What is shown

    def _filter_changed(self, field: str) -> None:
        if field in ORDER_FIELDS:
            self.resort()
        elif field == "threshold":
            if self.filters.show in THRESHOLD_SHOWS:
                self._refilter()
            elif self._rows:
                self.dataChanged.emit(self.index(0), self.index(len(self._rows) - 1))
            self.contents_changed.emit()
        elif field == "quarantine":
            if self.filters.folder is None:
                self._refilter()
            self.contents_changed.emit()
        else:
            self._refilter()

    def toggle_revealed(self, index: QModelIndex) -> None:
        path = self._rows[index.row()]
        if path in self._revealed:
            self._revealed.discard(path)
        else:
            self._revealed.add(path)
        self._changed(index.row())

    # Queries

    def result(self, row: int) -> Result:
        return self._results[self._rows[row]]

    def result_for(self, path: str) -> Result | None:
        return self._results.get(path)

    def row_of(self, path: str) -> int | None:
        return self._row_of.get(path)

    def name(self, path: str) -> str:
        """The file's name, after its folder's when another result has the same name."""
        if self._shared_names is None:
            seen: set[str] = set()
            self._shared_names = set()
            for other in self._results:
                base = os.path.basename(other)
                (self._shared_names if base in seen else seen).add(base)
        base = os.path.basename(path)
        if base in self._shared_names:
            return os.path.join(os.path.basename(os.path.dirname(path)), base)
        return base

    def all_results(self) -> list[Result]:
        return list(self._results.values())

    def results_under(self, folder: str) -> list[Result]:
        return [r for r in self._results.values() if under(r.path, folder)]

    def results_in(self, folder: str | None) -> list[Result]:
        """The results a click on ``folder``'s item shows under "Show: All" (None: "All photos")."""
        return [r for r in self._results.values() if self.filters.in_folder(r.path, folder)]

    def shown_results(self) -> list[Result]:
        """The results of the rows shown, after every filter."""
        return [self._results[path] for path in self._rows]

    # Internals

    def _index_rows(self) -> None:
        self._row_of = {path: row for row, path in enumerate(self._rows)}

    def _changed(self, row: int) -> None:
        index = self.index(row)
        self.dataChanged.emit(index, index)

    def _remove_row(self, row: int) -> None:
        self.beginRemoveRows(QModelIndex(), row, row)
        path = self._rows.pop(row)
        self._row_of.pop(path, None)
        for later in self._rows[row:]:
            self._row_of[later] -= 1
        self.endRemoveRows()

    def _refilter(self) -> None:
        # The set of rows changes: a reset is the honest signal, and at 20,000 rows it
        # takes a few milliseconds.
        self.beginResetModel()
        self._rows = self.filters.arrange(self._results.values())
        self._index_rows()
        self.endResetModel()

    def resort(self) -> None:
        """Same rows, new order: a layout change, so selection and current item follow."""
        self._resort_timer.stop()
        order = self.filters.arrange(self._results.values())
        if order == self._rows:
            return
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_paths = [self._rows[index.row()] for index in old]
        self._rows = order
        self._index_rows()
        self.changePersistentIndexList(old, [self.index(self._row_of[path]) for path in old_paths])
        self.layoutChanged.emit()

    def refresh(self, path: str) -> None:
        """Something drawn on ``path``'s tile (its heatmap) is ready: repaint it."""
        self._thumbnail_ready(path)

    def _thumbnail_ready(self, path: str) -> None:
        row = self._row_of.get(path)
        if row is not None:
            self._changed(row)
