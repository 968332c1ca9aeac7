"""What the window looked like when it was closed, restored at the next start: its size
and place, the docks and toolbars, what the grid shows and in what order, and the
thumbnail size. Kept apart from the settings (``settings.json``): none of it
changes what a scan does, and the command line never reads it."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from nsfw_desktop.files import paths
from nsfw_desktop.gui.filter_state import FilterState, Show, SortBy

E = TypeVar("E", bound=Enum)

VERSION = 1  # of the saved dock and toolbar layout; a new layout ignores older saves


def _store() -> QSettings:
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def save(window: QMainWindow, filters: FilterState, *, tile_side: int) -> None:
    state = _store()
    state.setValue("geometry", window.saveGeometry())
    state.setValue("layout", window.saveState(VERSION))
    state.setValue("show", filters.show.name)  # by name: a reordered menu keeps its meaning
    state.setValue("sort", filters.sort.name)
    state.setValue("reverse", filters.reverse)
    state.setValue("tile_side", tile_side)
    state.sync()


def restore(window: QMainWindow, filters: FilterState) -> int | None:
    """Put back the window's size, place and layout, and the filters' show, sort and reverse;
    return the saved thumbnail side (None for a first start)."""
    state = _store()
    geometry, layout = state.value("geometry"), state.value("layout")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    if isinstance(layout, QByteArray):
        window.restoreState(layout, VERSION)
    show, sort = _member(Show, state.value("show")), _member(SortBy, state.value("sort"))
    if show is not None:
        filters.set_show(show)
    if sort is not None:
        filters.set_sort(sort)
    if state.value("reverse") is not None:
        filters.set_reverse(str(state.value("reverse")).lower() == "true")
    try:
        return int(state.value("tile_side"))
    except (TypeError, ValueError):
        return None  # none saved, or a hand-edited file: the default stays


def _member(kind: type[E], saved: object) -> E | None:
    """The member saved by name; older saves held the menu's index, still read as one.
    Anything else (a hand-edited file) is None: the default stays."""
    text = str(saved)
    if text in kind.__members__:
        return kind[text]
    if text.isdigit() and int(text) < len(kind):
        return list(kind)[int(text)]
    return None
