"""The window's actions, declared once as members of ``Action``, and where they appear.

In the manner of MusicBrainz Picard's ``@add_action``: each ``Action`` member declares
its text, shortcut and tip; the part of the window that carries an action out marks its
handler with ``@handles(Action.X)``, and ``ActionSet.bind(part)`` connects the marked
methods when the part is built. Menus, toolbar and context menu below take members,
never names. A new action: a member here, a ``@handles`` on its handler, and a place in
a layout below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QToolBar, QWidget

from nsfw_desktop.gui.heatmaps import METHODS

Key = QKeySequence.StandardKey
Handler = TypeVar("Handler", bound=Callable[..., object])
_HANDLES = "_handles_actions"  # the attribute ``handles`` puts on a handler


@dataclass(frozen=True)
class ActionSpec:
    text: str
    shortcut: str | QKeySequence.StandardKey | None = None
    checkable: bool = False
    enabled: bool = True
    tip: str = ""  # for the status bar


class Action(Enum):
    ADD_FOLDER = ActionSpec("Add folder…", Key.Open)
    SCAN = ActionSpec("Scan", "F5")
    PAUSE = ActionSpec("Pause", enabled=False)
    CANCEL = ActionSpec("Cancel", enabled=False)
    EXPORT = ActionSpec("Export flagged to CSV…", "Ctrl+E")
    SETTINGS = ActionSpec("Settings…", Key.Preferences)
    QUIT = ActionSpec("Quit", Key.Quit)
    OPEN = ActionSpec("Open with system viewer", "Ctrl+Shift+O")
    REVEAL_FILE = ActionSpec("Show in file manager")
    COPY = ActionSpec("Copy path", Key.Copy)
    QUARANTINE = ActionSpec("Move to quarantine", "Ctrl+M")
    UNDO = ActionSpec("Undo quarantine", Key.Undo, enabled=False)
    REVIEW_SAFE = ActionSpec("Mark reviewed safe", "Ctrl+1")
    REVIEW_NSFW = ActionSpec("Mark reviewed NSFW", "Ctrl+2")
    CLEAR_REVIEW = ActionSpec("Clear review", "Ctrl+0")
    WRITE_TAGS = ActionSpec("Write tags for selection",
                            tip="Write the results as keywords in XMP sidecars, for photo managers")
    PREVIEW = ActionSpec("Large preview", "F3", tip="Left and Right move through the grid; Esc closes")
    REVEAL = ActionSpec("Reveal / hide", tip="Also: Space, double-click, or the eye on a flagged tile")
    SELECT_FLAGGED = ActionSpec("Select all flagged", "Ctrl+Shift+A")
    EXPORT_SELECTION = ActionSpec("Export selection to CSV…")
    FORGET_MISSING = ActionSpec("Forget missing files",
                                tip="Remove the selected files that are gone from disk from the results")
    ZOOM_IN = ActionSpec("Larger thumbnails", Key.ZoomIn)
    ZOOM_OUT = ActionSpec("Smaller thumbnails", Key.ZoomOut)
    SIMILAR = ActionSpec("Find similar", "Ctrl+F")
    ALL_RESULTS = ActionSpec("Back to all results", "Escape", enabled=False)
    HEATMAP = ActionSpec("Show heatmap", "Ctrl+H", checkable=True,
                         tip="Colour where the model looked (red: most)")
    MODEL_QUALITY = ActionSpec("Model quality…", tip="How often the model agrees with your reviews; "
                                                     "learn from them")


def handles(*actions: Action) -> Callable[[Handler], Handler]:
    """Mark a method as what ``actions`` do when triggered; ``ActionSet.bind`` connects it."""
    def mark(method: Handler) -> Handler:
        setattr(method, _HANDLES, getattr(method, _HANDLES, ()) + actions)
        return method
    return mark


def marked_handlers(part: object) -> set[tuple[Action, str]]:
    """(action, method name) for each ``@handles`` on ``part``'s class and its bases; a method
    overridden in a subclass counts once."""
    return {(member, name) for cls in type(part).__mro__ for name, attribute in vars(cls).items()
            for member in getattr(attribute, _HANDLES, ())}


# None is a separator.
A = Action
FILE_MENU = (A.ADD_FOLDER, A.SCAN, None, A.EXPORT, A.SETTINGS, None, A.QUIT)
SELECTION = (A.OPEN, A.REVEAL_FILE, A.COPY, None, A.QUARANTINE, None, A.REVIEW_SAFE, A.REVIEW_NSFW,
             A.CLEAR_REVIEW, A.WRITE_TAGS, None, A.PREVIEW, A.REVEAL, A.SIMILAR, None, A.EXPORT_SELECTION,
             A.FORGET_MISSING)
EDIT_MENU = (A.UNDO, None, A.SELECT_FLAGGED, None, *SELECTION, None, A.MODEL_QUALITY)
TOOLBAR = (A.SCAN, A.PAUSE, A.CANCEL, None, A.HEATMAP)
VIEW_MENU_TOP = (A.HEATMAP,)
VIEW_MENU_REST = (A.PREVIEW, A.ZOOM_IN, A.ZOOM_OUT, None, A.ALL_RESULTS)


class ActionSet(Mapping[Action, QAction]):
    """One QAction per ``Action`` member, children of ``parent`` (so their shortcuts work)."""

    def __init__(self, parent: QWidget):
        self._actions: dict[Action, QAction] = {}
        for member in Action:
            spec = member.value
            action = QAction(spec.text, parent, checkable=spec.checkable, enabled=spec.enabled)
            action.setObjectName(member.name.lower())
            if spec.shortcut is not None:
                action.setShortcut(QKeySequence(spec.shortcut))
            if spec.tip:
                action.setStatusTip(spec.tip)
            self._actions[member] = action

    def __getitem__(self, member: Action) -> QAction:
        return self._actions[member]

    def __iter__(self) -> Iterator[Action]:
        return iter(self._actions)

    def __len__(self) -> int:
        return len(self._actions)

    def bind(self, part: QObject) -> None:
        """Connect each action to the method of ``part`` marked ``@handles`` for it."""
        for member, name in marked_handlers(part):
            self._actions[member].triggered.connect(getattr(part, name))


def create_method_actions(parent: QWidget, current: str) -> QActionGroup:
    """The heatmap methods as exclusive, checkable actions; each action's data is its method."""
    group = QActionGroup(parent)
    for method, text in METHODS.items():
        action = QAction(text, group, checkable=True, checked=method == current)
        action.setData(method)
    return group


def add_menus(window: QMainWindow, actions: ActionSet, methods: QActionGroup) -> None:
    """File, Edit and View; the Help menu is added after them (``help_menu``)."""
    menus = window.menuBar()
    _fill(menus.addMenu("&File"), actions, FILE_MENU)
    _fill(menus.addMenu("&Edit"), actions, EDIT_MENU)
    view = menus.addMenu("&View")
    _fill(view, actions, VIEW_MENU_TOP)
    view.addMenu("Heatmap method").addActions(methods.actions())
    view.addSeparator()
    _fill(view, actions, VIEW_MENU_REST)


def add_toolbar(window: QMainWindow, actions: ActionSet) -> QToolBar:
    toolbar = window.addToolBar("Scan")
    toolbar.setObjectName("scan-toolbar")
    toolbar.setMovable(False)
    _fill(toolbar, actions, TOOLBAR)
    toolbar.addSeparator()
    return toolbar


def add_context_menu(widget: QWidget, actions: ActionSet) -> None:
    """Right-click on ``widget`` offers the actions on the selection."""
    widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    for member in SELECTION:
        if member is None:
            separator = QAction(widget)
            separator.setSeparator(True)
            widget.addAction(separator)
        else:
            widget.addAction(actions[member])


def _fill(target: QMenu | QToolBar, actions: ActionSet, members: Iterable[Action | None]) -> None:
    for member in members:
        if member is None:
            target.addSeparator()
        else:
            target.addAction(actions[member])
