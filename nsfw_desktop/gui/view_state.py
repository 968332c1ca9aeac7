"""What the window looked like when it was closed, restored at the next start: its size
and place, the docks and toolbars, what the grid shows and in what order, and the
thumbnail size. Kept apart from the settings (``settings.json``): none of it
changes what a scan does, and the command line never reads it."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QMainWindow

from nsfw_desktop.files import paths

VERSION = 1  # of the saved dock and toolbar layout; a new layout ignores older saves


def _store() -> QSettings:
    return QSettings(str(paths.config_dir() / "window.ini"), QSettings.Format.IniFormat)


def save(window: QMainWindow, *, show: int, sort: int, reverse: bool, tile_side: int) -> None:
    state = _store()
    state.setValue("geometry", window.saveGeometry())
    state.setValue("layout", window.saveState(VERSION))
    state.setValue("show", show)
    state.setValue("sort", sort)
    state.setValue("reverse", reverse)
    state.setValue("tile_side", tile_side)
    state.sync()


def restore(window: QMainWindow) -> dict:
    """Put back the window's size, place and layout; return the grid's saved view
    (show, sort, reverse, tile_side: those saved, nothing for a first start)."""
    state = _store()
    geometry, layout = state.value("geometry"), state.value("layout")
    if isinstance(geometry, QByteArray):
        window.restoreGeometry(geometry)
    if isinstance(layout, QByteArray):
        window.restoreState(layout, VERSION)
    view = {}
    for key, kind in (("show", int), ("sort", int), ("tile_side", int)):
        value = state.value(key)
        if value is not None:
            try:
                view[key] = kind(value)
            except (TypeError, ValueError):
                continue  # a hand-edited file: the default stays
    if state.value("reverse") is not None:
        view["reverse"] = str(state.value("reverse")).lower() == "true"
    return view
