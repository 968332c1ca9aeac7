"""What the grid shows and in what order: the one owner of the window's filter state.

The filter bar edits it, the results model reads it (``accepts``, ``arrange``), the
window's saved view stores it by name (``view_state``). The threshold is not copied
here: it is the session's setting, read from ``LiveSettings`` each time, so the
slider, the settings dialog and the flags on the tiles cannot disagree.
A new filter: a field and its setter here, its test in ``accepts``; then one widget
in ``filter_bar`` to edit it.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal

from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.folder_counts import under
from nsfw_desktop.gui.live_settings import LiveSettings
from nsfw_desktop.store.result import Result


class Show(enum.Enum):
    ALL = "All"
    FLAGGED = "Flagged"
    UNFLAGGED = "Unflagged"
    ERRORS = "Errors"
    # Unreviewed photos nearest the threshold first: the marks that teach a learnt policy most.
    REVIEW_NEXT = "To review next"


class SortBy(enum.Enum):
    SCORE = "Score"
    NAME = "Name"
    DATE = "Date"


# The fields whose change only reorders the rows; any other change may add or drop rows.
ORDER_FIELDS = ("sort", "reverse")
THRESHOLD_SHOWS = (Show.FLAGGED, Show.UNFLAGGED, Show.REVIEW_NEXT)  # the rows depend on the threshold


def _sort_key(sort: SortBy) -> Callable[[Result], Any]:
    if sort is SortBy.SCORE:
        # Highest deciding score (the learnt policy's where there is one) first; errors last.
        return lambda r: (r.score is None, -(r.score or 0.0), r.path)
    if sort is SortBy.NAME:
        return lambda r: (os.path.basename(r.path).casefold(), r.path)
    return lambda r: (-r.mtime_ns, r.path)  # newest first


class FilterState(QObject):
    changed = Signal(str)  # the name of the field that changed

    def __init__(self, live: LiveSettings, parent: QObject | None = None):
        super().__init__(parent)
        self.live = live
        self.show = Show.ALL
        self.folder: str | None = None  # only the photos in this folder and below; None: all photos
        self.quarantine: str | None = None  # its photos are not among "All photos"
        self.sort = SortBy.SCORE
        self.reverse = False  # against each sort's natural order (highest score, A to Z, newest first)
        self.similar: dict[str, float] | None = None  # "Find similar" matches shown instead of the filter
        # Only to tell whether a settings change moved the threshold; reads go to the settings.
        self._applied_threshold = live.settings.threshold
        live.changed.connect(self._settings_changed)

    @property
    def threshold(self) -> float:
        return self.live.settings.threshold

    @property
    def showing_similar(self) -> bool:
        return self.similar is not None

    def set_threshold(self, threshold: float) -> None:
        if threshold != self.threshold:
            # Saved on close, not at each step of a slider's drag.
            self.live.update(self.live.settings.replace(threshold=threshold), save=False)

    def set_show(self, show: Show) -> None:
        self._set("show", show)

    def set_folder(self, folder: str | None) -> None:
        self._set("folder", folder)

    def set_quarantine(self, folder: str) -> None:
        self._set("quarantine", folder)

    def set_sort(self, sort: SortBy) -> None:
        self._set("sort", sort)

    def set_reverse(self, reverse: bool) -> None:
        self._set("reverse", reverse)

    def set_similar(self, matches: dict[str, float] | None) -> None:
        """Show only ``matches`` (path -> similarity), most alike first; None goes back to the filter."""
        self.similar = matches
        self.changed.emit("similar")

    def accepts(self, result: Result) -> bool:
        if self.similar is not None:
            return result.path in self.similar
        if not self.in_folder(result.path, self.folder):
            return False
        if self.show is Show.ALL:
            return True
        if self.show is Show.ERRORS:
            return result.error is not None
        if self.show is Show.REVIEW_NEXT:
            return result.awaits_review
        flagged = result.flagged(self.threshold)
        if self.show is Show.FLAGGED:
            return flagged
        return result.error is None and not flagged

    def arrange(self, results: Iterable[Result]) -> list[str]:
        """The paths of the accepted ``results``, in the order shown."""
        shown = [r for r in results if self.accepts(r)]
        similar = self.similar
        if similar is not None:
            shown.sort(key=lambda r: -similar[r.path])
        elif self.show is Show.REVIEW_NEXT:
            threshold = self.threshold
            shown.sort(key=lambda r: r.review_priority(threshold))  # as review --next orders them
        else:
            shown.sort(key=_sort_key(self.sort), reverse=self.reverse)
        return [r.path for r in shown]

    def in_folder(self, path: str, folder: str | None) -> bool:
        """Whether a click on ``folder``'s item (None: "All photos") shows ``path``."""
        if folder is None:
            return self.quarantine is None or not under(path, self.quarantine)
        return under(path, folder)

    def _set(self, field: str, value: object) -> None:
        if getattr(self, field) != value:
            setattr(self, field, value)
            self.changed.emit(field)

    def _settings_changed(self, new: Settings) -> None:
        if new.threshold != self._applied_threshold:
            self._applied_threshold = new.threshold
            self.changed.emit("threshold")
