"""Starting the app: missing X11 libraries are named before Qt can abort."""

import subprocess
import sys

from nsfw_desktop.gui import x11_libraries
from tests.gui.conftest import SCAN_TIMEOUT_MS

# Run in a child process: without the fix, Qt aborts the process it starts in.
WITHOUT_ICCCM = """
import ctypes, sys
real = ctypes.CDLL
def load(name, *args, **kwargs):
    if name == "libxcb-icccm.so.4":
        raise OSError(name + ": cannot open shared object file")
    return real(name, *args, **kwargs)
ctypes.CDLL = load
from nsfw_desktop.cli import main
sys.exit(main(["gui"]))
"""


def test_a_missing_xcb_library_is_named_before_qt_starts(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "DISPLAY": ":99", "XDG_SESSION_TYPE": "x11",
           "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", WITHOUT_ICCCM], env=env, capture_output=True, text=True,
                          timeout=120, cwd=str(tmp_path.parent if False else __import__("os").getcwd()))
    assert done.returncode == 1, done.stderr
    assert "libxcb-icccm4" in done.stderr and "sudo apt install" in done.stderr


def test_xcb_is_expected_only_where_qt_would_use_it():
    assert x11_libraries.uses_xcb({"DISPLAY": ":0"}, "linux")
    assert x11_libraries.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not x11_libraries.uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not x11_libraries.uses_xcb({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland"}, "linux")
    assert not x11_libraries.uses_xcb({"DISPLAY": ":0"}, "darwin")
    assert x11_libraries.missing_packages(lambda name: None) == []


def test_after_the_first_model_is_chosen_the_folders_are_scanned(make_window, photos, qtbot, tiny_model):
    window = make_window([photos], model=None)
    assert window.grid_area.currentWidget() is window.grid_area.empty
    assert window.grid_area.empty.scan_button.isVisible()
    with qtbot.waitSignal(window.scan_ended, timeout=SCAN_TIMEOUT_MS) as ended:
        window.first_model_chosen(str(tiny_model))
    assert ended.args[0].scanned == 5 and window.settings.model == str(tiny_model)
    assert window.grid_area.currentWidget() is window.grid


def test_an_empty_window_says_how_to_start(make_window):
    window = make_window()
    empty = window.grid_area.empty
    assert window.grid_area.currentWidget() is empty
    assert "Add a folder" in empty.text.text() and empty.add_button.isVisible()
    assert not empty.scan_button.isVisible()
