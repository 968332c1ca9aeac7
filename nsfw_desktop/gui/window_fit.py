"""Keep the window usable at any size, from 800x600 to 4K.

The window and every dialog open at their usual size where the screen has room
for it, and within the screen's available room (taskbars and panels left out)
where it has not (``fit_to_screen``).

When the window's width changes, the docks on either side take their share of
it, within bounds, but never squeeze the grid below two tiles; the toolbars
share one row when the window is wide enough, and take two when it is not, so
no control goes into the toolbar's overflow menu.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar, QWidget

FOLDER_SHARE, DETAIL_SHARE = 0.22, 0.26  # of the window's width, at most
FOLDER_WIDTH = (170, 340)  # the folder dock's narrowest and widest, in pixels
DETAIL_WIDTH = (200, 480)
GRID_TILES = 2  # tiles side by side the grid keeps room for, at least
SCREEN_SHARE = 0.95  # of the screen's available room a window opens in at most: its frame takes the rest


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Give ``widget`` its usual ``width`` x ``height``, or less where its screen's available
    room is smaller, and place it inside that room."""
    screen = widget.screen()
    room = screen.availableGeometry() if screen is not None else None
    if room is None or room.isEmpty():
        widget.resize(width, height)
        return
    width = min(width, int(room.width() * SCREEN_SHARE))
    height = min(height, int(room.height() * SCREEN_SHARE))
    widget.resize(width, height)
    if not room.contains(widget.frameGeometry()):
        widget.move(room.left() + (room.width() - width) // 2, room.top() + (room.height() - height) // 2)


class WindowFit(QObject):
    def __init__(self, window: QMainWindow, folder_dock: QDockWidget, detail_dock: QDockWidget,
                 first: QToolBar, second: QToolBar, tile_width):
        super().__init__(window)
        self.window, self.folder_dock, self.detail_dock = window, folder_dock, detail_dock
        self.first, self.second = first, second
        self.tile_width = tile_width  # () -> the width of one tile now
        self._broken = False
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self.fit)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and event.size().width() != event.oldSize().width():
            self._timer.start()  # after the layout has taken the new size
        return super().eventFilter(watched, event)

    def fit(self) -> None:
        self._fit_toolbars()
        self._fit_docks()

    def _fit_toolbars(self) -> None:
        needed = self.first.sizeHint().width() + self.second.sizeHint().width() + 8
        broken = needed > self.window.width()
        if broken != self._broken:
            self._broken = broken
            if broken:
                self.window.insertToolBarBreak(self.second)
            else:
                self.window.removeToolBarBreak(self.second)

    def _fit_docks(self) -> None:
        width = self.window.width()
        docks, sizes = [], []
        grid_needs = GRID_TILES * self.tile_width() + 40  # the scroll bar and the margins
        room = max(0, width - grid_needs)
        wanted = []
        for dock, share, (low, high) in ((self.folder_dock, FOLDER_SHARE, FOLDER_WIDTH),
                                         (self.detail_dock, DETAIL_SHARE, DETAIL_WIDTH)):
            if dock.isVisible() and not dock.isFloating():
                # Each dock keeps its share of a window that changed width; the user's own
                # dragging holds until the window's width changes again.
                wanted.append((dock, max(low, min(high, int(width * share)))))
        total = sum(size for _dock, size in wanted)
        for dock, size in wanted:
            if total > room and total:
                size = max(dock.minimumSizeHint().width(), int(size * room / total))
            docks.append(dock)
            sizes.append(size)
        if docks:
            self.window.resizeDocks(docks, sizes, Qt.Orientation.Horizontal)
