"""The session's settings: one copy that every part of the window reads and follows.

A part that changes a setting (the folder panel, the threshold slider, the
settings dialog) hands the new ``Settings`` to ``update``; every part that
depends on one listens to ``changed`` and applies what concerns it, so no
part reaches into another to apply settings.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.files.logs import hide_secret


class LiveSettings(QObject):
    changed = Signal(object)  # the new Settings
    problem = Signal(object)  # a message for the user: the settings file could not be written

    def __init__(self, settings: Settings, parent: QObject | None = None):
        super().__init__(parent)
        self.settings = settings

    def update(self, new: Settings, *, save: bool = True) -> None:
        """Use ``new`` from now on; ``save=False`` for a change saved later (a slider being dragged)."""
        if new.token and new.token != self.settings.token:
            hide_secret(new.token)  # a token typed in this session is kept out of the log too
        self.settings = new
        if save:
            self.save()
        self.changed.emit(new)

    def save(self) -> None:
        try:
            settings_file.save(self.settings)
        except OSError as exc:
            self.problem.emit(f"Settings could not be saved: {exc}")
