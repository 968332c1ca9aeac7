"""What the Edit menu does to the selected files, short of quarantine: open, show in the
file manager, copy the paths, mark as reviewed, reveal or hide."""

from __future__ import annotations

import os

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.message_bar import MAX_LISTED, listed
from nsfw_desktop.gui.system import open_file, reveal_in_file_manager
from nsfw_desktop.gui.tile_delegate import video_duration_text
from nsfw_desktop.gui.video_player import open_video_at


class FileActions(QObject):
    def __init__(self, context: WindowContext):
        super().__init__(context.window)
        grid, model, store, messages = context.grid, context.model, context.store, context.messages
        actions = context.actions
        self.grid, self.model, self.store, self.messages = grid, model, store, messages
        actions.bind(self)
        grid.reveal_requested.connect(self.toggle_reveal_selected)
        store.worker.reviewed.connect(model.set_review)  # queued: the model lives on this thread

    def existing_selected(self) -> list[str]:
        """The selected paths still on disk; the others are named in the message bar."""
        paths = self.grid.selected_paths()
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            self.messages.show_message(f"No longer on disk: {listed(missing)}")
        return [p for p in paths if p not in missing]

    @handles(Action.OPEN)
    def open_selected(self) -> None:
        """Open each file in the system's viewer; a video at its highest-scoring frame where
        the player takes a start time (``video_player``)."""
        for path in self.existing_selected()[:MAX_LISTED]:
            result = self.model.result_for(path)
            if result is None or result.worst_frame_time is None:
                opened = open_file(path)
            else:
                opened, player = open_video_at(path, result.worst_frame_time)
                if player is not None:
                    self.messages.show_info(f"{player} plays {self.model.name(path)} from "
                                            f"{video_duration_text(result.worst_frame_time)}, "
                                            "its highest-scoring frame.")
            if not opened:
                self.messages.show_message(f"No viewer could open {path}")

    @handles(Action.REVEAL_FILE)
    def reveal_selected_in_file_manager(self) -> None:
        paths = self.existing_selected()
        if paths and not reveal_in_file_manager(paths[0]):
            self.messages.show_message(f"The file manager could not be started for {paths[0]}")

    @handles(Action.COPY)
    def copy_selected_paths(self) -> None:
        paths = self.grid.selected_paths()
        if paths:
            QGuiApplication.clipboard().setText(display_path("\n".join(paths)))

    @handles(Action.REVIEW_SAFE)
    def review_selected_safe(self) -> None:
        self.review_selected("safe")

    @handles(Action.REVIEW_NSFW)
    def review_selected_nsfw(self) -> None:
        self.review_selected("nsfw")

    @handles(Action.CLEAR_REVIEW)
    def clear_selected_review(self) -> None:
        self.review_selected(None)

    def review_selected(self, review: str | None) -> None:
        paths = self.grid.selected_paths()
        if paths:
            self.store.set_review(paths, review)

    @handles(Action.FORGET_MISSING)
    def forget_missing_selected(self) -> None:
        """Delete the stored results of the selected files marked missing (reviewed, then gone)."""
        paths = [p for p in self.grid.selected_paths() if self.model.result_for(p).missing_since is not None]
        if paths:
            self.store.forget(paths)
        else:
            self.messages.show_info("None of the selected files is marked missing.")

    @handles(Action.REVEAL)
    def toggle_reveal_selected(self) -> None:
        for row in self.grid.selected_rows():
            self.model.toggle_revealed(self.model.index(row))
