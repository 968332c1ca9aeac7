"""The window's fixtures (offscreen Qt, a window factory, a scan) for the journeys that use it."""

from tests.gui.conftest import SCAN_TIMEOUT_MS, db_path, make_window, scan

__all__ = ["SCAN_TIMEOUT_MS", "db_path", "make_window", "scan"]
