"""Python's garbage collector runs on the GUI thread while a window is open.

Python collects in whichever thread allocates when a threshold is crossed. The window's
workers (scans, the store, heatmaps, thumbnails) allocate all the time, so a collection could
free the Python side of a widget on a worker thread while the GUI thread still delivers that
widget's events: PySide then crashed with SIGSEGV (in the GUI tests, the scan after a window
was closed crashed 2 runs in 4). So while a window is open, automatic collection is off and a
timer on the GUI thread collects instead, whenever the counts pass the thresholds as they
would have.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_MS = 250  # how often the GUI thread looks at the counts: cheap, and garbage waits little

_open = 0  # windows collecting; automatic collection is back once the last one stops


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject):
        super().__init__(parent)
        global _open
        _open += 1
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._collect)
        self._timer.start(CHECK_MS)
        self._stopped = False

    def _collect(self) -> None:
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return
        older = [generation for generation in (2, 1) if counts[generation] > thresholds[generation]]
        gc.collect(older[0] if older else 0)

    def stop(self) -> None:
        global _open
        if self._stopped:
            return
        self._stopped = True
        self._timer.stop()
        _open -= 1
        if _open == 0:
            gc.enable()
