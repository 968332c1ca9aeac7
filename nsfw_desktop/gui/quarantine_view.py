"""The quarantine in the window: browse what is quarantined, put chosen files back, and
empty it to the system trash after a confirmation.

The folder panel's "Quarantine" item shows the quarantine folder's photos in the
grid, and this bar above it. Where each file came from is read from the
quarantine's journal (``quarantine.journal``), which every move writes to before
it happens, so a file can be put back after a restart, or a crash, too: at
start-up and each time the quarantine is opened, the moves a crash or a busy
database left unfinished are completed or rolled back first. A file is put back
into a folder that is gone, outside the screened folders, only when the user
confirms it. Emptying sends the files to the
system trash (``send2trash``), never a plain delete, and forgets their results.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.folder_counts import under
from nsfw_desktop.gui.folder_panel import FolderPanel
from nsfw_desktop.gui.message_bar import MAX_LISTED, listed
from nsfw_desktop.gui.quarantine_controller import window_terms
from nsfw_desktop.quarantine.journal import Recovery, origins
from nsfw_desktop.quarantine.moves import Move, outside_folders


class QuarantineView(QWidget):
    """The bar above the grid while it shows the quarantine."""

    def __init__(self, context: WindowContext, panel: FolderPanel, put_back: Callable[[list[Move]], None]):
        super().__init__()
        live, grid, model = context.live, context.grid, context.model
        store, messages = context.store, context.messages
        self.live, self.panel, self.grid, self.model = live, panel, grid, model
        self.store, self.messages, self.put_back = store, messages, put_back
        self.label = QLabel()
        self.restore_button = QPushButton("Put back selected")
        self.restore_button.clicked.connect(self.restore_selected)
        self.empty_button = QPushButton("Empty quarantine…")
        self.empty_button.clicked.connect(self.empty)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 8, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.empty_button)
        self.setVisible(False)
        panel.set_quarantine(self.folder)
        panel.chosen.connect(self._chosen)
        live.changed.connect(lambda _settings: panel.set_quarantine(self.folder))
        store.worker.trashed.connect(self._trashed)  # queued: a method of this thread's QObject
        store.worker.recovered.connect(self._recovered)
        store.recover(self.folder)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved):
            signal.connect(self._update_label)

    @property
    def folder(self) -> str:
        return str(self.live.settings.quarantine_path())

    def quarantined(self) -> list[str]:
        return [r.path for r in self.model.results_under(self.folder)]

    def restore_selected(self) -> None:
        paths = [p for p in self.grid.selected_paths() if under(p, self.folder)]
        if not paths:
            self.messages.show_info("Select the quarantined photos to put back first.")
            return
        known = origins(self.folder)
        unknown = [p for p in paths if p not in known]
        if unknown:
            self.messages.show_message(f"Where these came from is not in the quarantine's journal, so they "
                                       f"stay: {listed(unknown)}. Move them by hand in the file manager.")
        moves = [Move(source=known[p], destination=p) for p in paths if p in known]
        elsewhere = outside_folders(moves, self.live.settings.folders)
        if elsewhere and not self._confirmed(elsewhere):
            self.messages.show_info(f"Kept in the quarantine: {listed([m.destination for m in elsewhere])}.")
            moves = [m for m in moves if m not in elsewhere]
        if moves:
            self.put_back(moves)

    def _confirmed(self, elsewhere: list[Move]) -> bool:
        text = ("These photos came from folders that no longer exist and are not among your folders: "
                f"{listed([m.source for m in elsewhere])}. Create those folders again and put the photos "
                "back there?")
        answer = QMessageBox.question(self, "Put back into missing folders", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def empty(self) -> None:
        paths = self.quarantined()
        if not paths:
            self.messages.show_info("The quarantine is empty.")
            return
        reviewed = sum(self.model.result_for(p).review is not None for p in paths)
        text = (f"Send the {len(paths)} file(s) in the quarantine ({self.folder}) to the system trash? "
                "Their results are forgotten"
                + (f", {reviewed} of them reviewed" if reviewed else "") + ". The trash can still give "
                "them back until it is emptied.")
        answer = QMessageBox.question(self, "Empty quarantine", text,
                                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.store.trash(paths)

    def _chosen(self, folder: str | None) -> None:
        self.setVisible(folder == self.folder)
        if folder == self.folder:
            self.store.recover(self.folder)
        self._update_label()

    def _recovered(self, recovery: Recovery) -> None:
        """Moves an earlier crash (or a busy database) left unfinished, now finished."""
        self.model.apply_moves(Move(i.source, i.destination) for i in recovery.completed)
        finished = len(recovery.completed) + len(recovery.rolled_back)
        if finished:
            self.messages.show_info(f"Finished {finished} quarantine move(s) that were interrupted: "
                                    f"{len(recovery.completed)} file(s) are in the quarantine, "
                                    f"{len(recovery.rolled_back)} stayed where they were.")
        if recovery.database_error:
            self.messages.show_message(
                f"Quarantined files' results could not be updated: {window_terms(recovery.database_error)} "
                "The quarantine's journal keeps their moves; the results catch up when the quarantine "
                "is opened again or the app restarts.")

    def _update_label(self) -> None:
        if self.isVisible():
            count = len(self.quarantined())
            self.label.setText(f"Quarantine: {count} file(s) in {self.folder}")
            self.empty_button.setEnabled(count > 0)

    def _trashed(self, paths: list[str], failures: list[tuple[str, str]]) -> None:
        self.model.remove_paths(paths)
        if paths:
            self.messages.show_info(f"Sent {len(paths)} file(s) to the trash.")
        for path, reason in failures[:MAX_LISTED]:
            self.messages.show_message(f"Not sent to the trash: {path}: {reason}")
        if len(failures) > MAX_LISTED:
            self.messages.show_message(f"…and {len(failures) - MAX_LISTED} more not sent to the trash.")
        self._update_label()
