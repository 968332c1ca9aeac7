"""Quarantine from the window: move the selection away, and undo, one move at a time.

The moves run in the ``StoreWorker``'s thread; their outcomes come back by
signal, whoever asked for them (the Edit menu or the watcher's
auto-quarantine), and each outcome is one step that Undo puts back.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject

from nsfw_desktop.gui.actions import Action, handles
from nsfw_desktop.gui.context import WindowContext
from nsfw_desktop.gui.message_bar import MAX_LISTED, listed
from nsfw_desktop.quarantine.moves import Move, Outcome


class QuarantineController(QObject):
    def __init__(self, context: WindowContext):
        super().__init__(context.window)
        live, grid, model, store = context.live, context.grid, context.model, context.store
        messages, actions = context.messages, context.actions
        self.live, self.grid, self.model, self.store, self.messages = live, grid, model, store, messages
        self.undo_action = actions[Action.UNDO]
        self._undo_stack: list[list[Move]] = []
        self._undoing: dict[str, str] = {}  # quarantined path -> where an undo should put it
        actions.bind(self)
        # Worker signals go to methods of this GUI-thread QObject, so Qt queues them here.
        store.worker.quarantined.connect(self._quarantined)
        store.worker.restored.connect(self._restored)

    @handles(Action.QUARANTINE)
    def quarantine_selected(self) -> None:
        paths = self.grid.selected_paths()
        if paths:
            self.store.quarantine(paths, str(self.live.settings.quarantine_path()))

    @handles(Action.UNDO)
    def undo(self) -> None:
        if self._undo_stack:
            self.put_back(self._undo_stack.pop())
        self.undo_action.setEnabled(bool(self._undo_stack))

    def put_back(self, moves: list[Move]) -> None:
        """Move quarantined files back (each move's destination to its source)."""
        self._undoing.update((m.destination, m.source) for m in moves)
        self.store.undo(moves)

    def _quarantined(self, outcome: Outcome) -> None:
        self.model.apply_moves(outcome.moves)
        if outcome.moves:
            self._undo_stack.append(outcome.moves)
            self.undo_action.setEnabled(True)
            folder = os.path.dirname(outcome.moves[0].destination)
            self.messages.show_info(f"Moved {len(outcome.moves)} file(s) to {folder}. "
                                       "Edit > Undo quarantine (Ctrl+Z) puts them back.")
        for path, reason in outcome.failures[:MAX_LISTED]:
            self.messages.show_message(f"Not moved: {path}: {reason}")
        self._tell_database_error(outcome)

    def _restored(self, outcome: Outcome) -> None:
        self.model.apply_moves(outcome.moves)
        # Where each file was before quarantine; an undo puts it elsewhere only if that name was taken.
        originals = {m.source: self._undoing.pop(m.source, None) for m in outcome.moves}
        moved_elsewhere = [m.destination for m in outcome.moves if originals[m.source] != m.destination]
        if outcome.moves:
            self.messages.show_info(f"Put back {len(outcome.moves)} file(s) where they were.")
        if moved_elsewhere:
            self.messages.show_message(f"Their old name was taken, so these got a new one: "
                                       f"{listed(moved_elsewhere)}")
        for path, reason in outcome.failures[:MAX_LISTED]:
            self.messages.show_message(f"Not put back: {path}: {reason}")
        self._tell_database_error(outcome)

    def _tell_database_error(self, outcome: Outcome) -> None:
        if outcome.database_error and outcome.moves:
            reason = window_terms(outcome.database_error)
            self.messages.show_message(
                f"The files moved, but their results could not be updated: {reason} "
                "Nothing is lost: the quarantine's journal knows where each file came from, and the "
                "results catch up when the quarantine is opened or the app starts again. Undo still "
                "puts the files back.")


def window_terms(database_error: str) -> str:
    """The database's message without its command-line advice (the first sentence, which
    says what is wrong)."""
    first, _, _ = database_error.partition(". ")
    return first.rstrip(".") + "."
