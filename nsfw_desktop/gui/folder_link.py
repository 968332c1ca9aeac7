"""The folder panel and the grid together: a chosen folder filters the grid, the panel's
counts follow the results, and removing a folder asks what becomes of its results."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QDialog

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.folder_counts import count, count_by_folder, under
from nsfw_desktop.gui.folder_panel import FolderPanel
from nsfw_desktop.gui.folder_removal import RemoveFoldersDialog


class FolderLink(QObject):
    def __init__(self, context: WindowContext, panel: FolderPanel):
        window = context.window
        super().__init__(window)
        live, model, store, messages = context.live, context.model, context.store, context.messages
        self.live, self.panel, self.model, self.store, self.messages = live, panel, model, store, messages
        self.window = window
        # Counted at once, on every change, so the panel never disagrees with the grid beside it
        # (20,000 results take a few tens of milliseconds).
        model.contents_changed.connect(self.update_counts)
        live.changed.connect(self._settings_changed)  # folders, the quarantine folder
        panel.chosen.connect(model.filters.set_folder)
        panel.removal_requested.connect(self.remove)
        store.worker.forgotten.connect(self._forgotten)  # queued: a method of this thread's QObject
        model.filters.set_quarantine(str(live.settings.quarantine_path()))

    def update_counts(self) -> None:
        s = self.live.settings
        roots = [*s.folders, str(s.quarantine_path())]
        self.panel.set_counts(count_by_folder(self.model.all_results(), roots, self.model.filters.threshold),
                              count(self.model.results_in(None), self.model.filters.threshold))

    def _settings_changed(self, settings: Settings) -> None:
        self.model.filters.set_quarantine(str(settings.quarantine_path()))
        self.update_counts()

    def remove(self, folders: list[str]) -> None:
        """Remove ``folders`` from the list; when they hold results, ask whether to forget them."""
        results = [r for folder in folders for r in self.model.results_under(folder)]
        forget: list[str] = []
        if results:
            dialog = RemoveFoldersDialog(folders, results, self.window)
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            forget = dialog.removal().forget
        current = self.panel.current_folder
        if current is not None and any(current == f or under(current, f) for f in folders):
            self.panel.choose(None)  # its item goes away with the folder
        self.panel.remove_folders(folders)
        if forget:
            self.store.forget(forget)

    def _forgotten(self, paths: list[str]) -> None:
        self.model.remove_paths(paths)
        self.messages.show_info(f"Forgot the stored results of {len(paths)} file(s); a scan of their "
                                "folder finds any that are still there.")
