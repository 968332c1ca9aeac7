"""Removing folders from the list: what becomes of their results.

A removed folder's results stay in the database unless the user says to forget
them; forgotten results come back with a rescan of the folder. Review marks
are work the user did by hand, so a reviewed file is forgotten only when the
user ticks the box that says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.store.result import Result


@dataclass(frozen=True)
class Removal:
    folders: list[str]
    forget: list[str]  # the paths whose results are to be deleted from the database


class RemoveFoldersDialog(QDialog):
    """Asks whether to forget the results of ``folders`` too, and the reviewed ones among them."""

    def __init__(self, folders: list[str], results: list[Result], parent: QWidget | None = None):
        super().__init__(parent)
        self.folders = folders
        self.unreviewed = [r.path for r in results if r.review is None]
        self.reviewed = [r.path for r in results if r.review is not None]
        self.setWindowTitle("Remove folders" if len(folders) > 1 else "Remove folder")
        names = ", ".join(display_path(f) for f in folders)
        text = QLabel(wordWrap=True, text=(
            f"Remove {names} from the list? Their files stay on disk.\n\n"
            f"{len(results)} result(s) of these folders are stored. Forgotten results leave the grid "
            "and the counts, and come back when the folder is added and scanned again."))
        self.forget_box = QCheckBox(f"Forget their {len(self.unreviewed)} result(s)", checked=True)
        self.reviewed_box = QCheckBox(
            f"Also forget the {len(self.reviewed)} reviewed file(s): their review marks are lost")
        self.reviewed_box.setVisible(bool(self.reviewed))
        self.forget_box.toggled.connect(self.reviewed_box.setEnabled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        buttons.addButton("Remove", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (text, self.forget_box, self.reviewed_box, buttons):
            layout.addWidget(widget)

    def removal(self) -> Removal:
        forget = []
        if self.forget_box.isChecked():
            forget = self.unreviewed + (self.reviewed if self.reviewed_box.isChecked() else [])
        return Removal(self.folders, forget)
