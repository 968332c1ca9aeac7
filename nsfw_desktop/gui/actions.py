"""The window's actions, declared once by name, and where they appear.

In the manner of MusicBrainz Picard's ``ui/mainwindow/actions.py``: ``ACTIONS``
is the registry, ``create_actions`` makes a QAction for each entry, and the
layouts below say which menus, toolbar and context menu show them. What an
action does is not known here: each part of the window connects the actions
it carries out (the scan controller "scan", the quarantine controller "undo"...).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QWidget

from nsfw_desktop.gui.heatmaps import METHODS

Key = QKeySequence.StandardKey


@dataclass(frozen=True)
class ActionSpec:
    text: str
    shortcut: str | QKeySequence.StandardKey | None = None
    checkable: bool = False
    enabled: bool = True
    tip: str = ""  # for the status bar


ACTIONS: dict[str, ActionSpec] = {
    "add_folder": ActionSpec("Add folder…", Key.Open),
    "scan": ActionSpec("Scan", "F5"),
    "pause": ActionSpec("Pause", enabled=False),
    "cancel": ActionSpec("Cancel", enabled=False),
    "export": ActionSpec("Export flagged to CSV…", "Ctrl+E"),
    "settings": ActionSpec("Settings…", Key.Preferences),
    "quit": ActionSpec("Quit", Key.Quit),
    "open": ActionSpec("Open with system viewer", "Ctrl+Shift+O"),
    "reveal_file": ActionSpec("Show in file manager"),
    "copy": ActionSpec("Copy path", Key.Copy),
    "quarantine": ActionSpec("Move to quarantine", "Ctrl+M"),
    "undo": ActionSpec("Undo quarantine", Key.Undo, enabled=False),
    "review_safe": ActionSpec("Mark reviewed safe", "Ctrl+1"),
    "review_nsfw": ActionSpec("Mark reviewed NSFW", "Ctrl+2"),
    "clear_review": ActionSpec("Clear review", "Ctrl+0"),
    "write_tags": ActionSpec("Write tags for selection",
                             tip="Write the results as keywords in XMP sidecars, for photo managers"),
    "preview": ActionSpec("Large preview", "F3", tip="Left and Right move through the grid; Esc closes"),
    "reveal": ActionSpec("Reveal / hide", tip="Also: Space, double-click, or the eye on a flagged tile"),
    "select_flagged": ActionSpec("Select all flagged", "Ctrl+Shift+A"),
    "export_selection": ActionSpec("Export selection to CSV…"),
    "forget_missing": ActionSpec("Forget missing files",
                                 tip="Remove the selected files that are gone from disk from the results"),
    "zoom_in": ActionSpec("Larger thumbnails", Key.ZoomIn),
    "zoom_out": ActionSpec("Smaller thumbnails", Key.ZoomOut),
    "similar": ActionSpec("Find similar", "Ctrl+F"),
    "all_results": ActionSpec("Back to all results", "Escape", enabled=False),
    "heatmap": ActionSpec("Show heatmap", "Ctrl+H", checkable=True,
                          tip="Colour where the model looked (red: most)"),
    "model_quality": ActionSpec("Model quality…", tip="How often the model agrees with your reviews; "
                                                      "learn from them"),
}

# None is a separator.
FILE_MENU = ("add_folder", "scan", None, "export", "settings", None, "quit")
SELECTION = ("open", "reveal_file", "copy", None, "quarantine", None, "review_safe", "review_nsfw",
             "clear_review", "write_tags", None, "preview", "reveal", "similar", None, "export_selection",
             "forget_missing")
EDIT_MENU = ("undo", None, "select_flagged", None, *SELECTION, None, "model_quality")
TOOLBAR = ("scan", "pause", "cancel", None, "heatmap")


def create_actions(parent: QWidget) -> dict[str, QAction]:
    """One QAction per entry of ``ACTIONS``, children of ``parent`` (so its shortcuts work)."""
    actions = {}
    for name, spec in ACTIONS.items():
        action = QAction(spec.text, parent, checkable=spec.checkable, enabled=spec.enabled)
        action.setObjectName(name)
        if spec.shortcut is not None:
            action.setShortcut(QKeySequence(spec.shortcut))
        if spec.tip:
            action.setStatusTip(spec.tip)
        actions[name] = action
    return actions


def create_method_actions(parent: QWidget, current: str) -> QActionGroup:
    """The heatmap methods as exclusive, checkable actions; each action's data is its method."""
    group = QActionGroup(parent)
    for method, text in METHODS.items():
        action = QAction(text, group, checkable=True, checked=method == current)
        action.setData(method)
    return group


def add_menus(window: QMainWindow, actions: dict[str, QAction], methods: QActionGroup) -> None:
    """File, Edit and View; the Help menu is added after them (``help_menu``)."""
    menus = window.menuBar()
    _fill(menus.addMenu("&File"), actions, FILE_MENU)
    _fill(menus.addMenu("&Edit"), actions, EDIT_MENU)
    view = menus.addMenu("&View")
    view.addAction(actions["heatmap"])
    view.addMenu("Heatmap method").addActions(methods.actions())
    view.addSeparator()
    view.addActions([actions["preview"], actions["zoom_in"], actions["zoom_out"]])
    view.addSeparator()
    view.addAction(actions["all_results"])


def add_toolbar(window: QMainWindow, actions: dict[str, QAction]) -> QToolBar:
    toolbar = window.addToolBar("Scan")
    toolbar.setObjectName("scan-toolbar")
    toolbar.setMovable(False)
    _fill(toolbar, actions, TOOLBAR)
    toolbar.addSeparator()
    return toolbar


def add_context_menu(widget: QWidget, actions: dict[str, QAction]) -> None:
    """Right-click on ``widget`` offers the actions on the selection."""
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for name in SELECTION:
        if name is None:
            separator = QAction(widget)
            separator.setSeparator(True)
            widget.addAction(separator)
        else:
            widget.addAction(actions[name])


def _fill(target: QMenu | QToolBar, actions: dict[str, QAction], names: Iterable[str | None]) -> None:
    for name in names:
        if name is None:
            target.addSeparator()
        else:
            target.addAction(actions[name])
