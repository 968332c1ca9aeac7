"""Fixtures for the desktop app's tests: offscreen Qt, tiny models, a window factory."""

import os

# Before any Qt application exists: no display is needed and none is touched.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402 (after QT_QPA_PLATFORM is set, before pytest-qt starts Qt)

from nsfw_desktop.config.settings import Settings  # noqa: E402 (likewise)
from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts  # noqa: E402 (likewise)

# pytest-qt and the tests call Qt thousands of times before any window exists.
guard_singleton_refcounts()

SCAN_TIMEOUT_MS = 120_000  # two shared cores: a scan can be slow, but never hangs this long


@pytest.fixture
def db_path(tmp_path):
    """Where the window under test keeps its results."""
    return tmp_path / "results.sqlite3"


@pytest.fixture
def make_window(qtbot, tiny_model, db_path):
    """Open a MainWindow on the tiny model and wait until the stored results are shown."""
    from nsfw_desktop.gui.main_window import MainWindow

    def make(folders=(), **changes):
        changes.setdefault("model", str(tiny_model))
        settings = Settings(folders=[str(f) for f in folders], **changes)
        window = MainWindow(settings, db_path=db_path)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: window.loaded, timeout=10_000)
        return window

    return make


@pytest.fixture
def scan(qtbot):
    """Run a scan in a window and wait for its end; returns the summary."""
    def run(window):
        with qtbot.waitSignal(window.scan_ended, timeout=SCAN_TIMEOUT_MS) as blocker:
            window.start_scan()
        return blocker.args[0]

    return run
