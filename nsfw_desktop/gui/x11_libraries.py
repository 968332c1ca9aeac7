"""The system libraries Qt's X11 (xcb) platform plugin needs, checked before Qt starts.

When one is missing, Qt prints "Could not load the Qt platform plugin" and
aborts the whole process (exit 134), which reads like a broken install of the
app. Loading each library first with ctypes finds the missing ones, so the
user is told which packages to install instead. No Qt is imported here.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

# The libraries libqxcb.so (PySide6 6.x) links against that distributions split
# into packages of their own, by their Debian and Ubuntu package names.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """True when Qt would start with its xcb plugin: on Linux, asked for by
    QT_QPA_PLATFORM, or by default in an X11 session (Wayland sessions use Wayland)."""
    if not platform.startswith("linux"):
        return False
    asked = environ.get("QT_QPA_PLATFORM", "")
    if asked:
        return asked.split(":")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and environ.get("XDG_SESSION_TYPE") != "wayland"


def missing_packages(load: Callable[[str], object] | None = None) -> list[str]:
    """The packages whose libraries cannot be loaded (by ``load``, ctypes.CDLL by default),
    in the order of ``XCB_LIBRARIES``."""
    load = load or ctypes.CDLL
    missing = []
    for library, package in XCB_LIBRARIES.items():
        try:
            load(library)
        except OSError:
            missing.append(package)
    return missing


def problem(missing: list[str]) -> str:
    return (f"the desktop app cannot open a window: Qt's X11 support needs {', '.join(missing)}, "
            f"which {'is' if len(missing) == 1 else 'are'} not installed. On Debian or Ubuntu: "
            f"sudo apt install {' '.join(missing)} (other distributions name them alike, "
            "e.g. xcb-util-cursor, xcb-util-wm and xcb-util-keysyms on Fedora).")
