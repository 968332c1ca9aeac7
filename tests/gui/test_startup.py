"""Starting the app: missing X11 libraries are named before Qt can abort."""

import subprocess
import sys

from nsfw_desktop.gui import x11_libraries

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
