"""Where the app's own files (icons, the launcher, metainfo) are: ``resources/``.

In a PyInstaller bundle they sit in the bundle's data folder; in a source checkout
or an editable install, next to the package. A plain ``pip install`` has none of
them: callers fall back to the icon theme, where install.sh or a distribution
package put the icon.
"""

from __future__ import annotations

import sys
from pathlib import Path

APP_ID = "io.github.nsfw_desktop.NsfwDesktop"  # reverse-DNS id of the .desktop file and metainfo
ICON_NAME = "nsfw-desktop"  # name in the freedesktop icon theme (Icon= in the .desktop file)


def resources_dir() -> Path | None:
    """The folder holding ``nsfw-desktop.svg`` and ``icons/``, or None when not installed."""
    bundle = getattr(sys, "_MEIPASS", None)  # set by the PyInstaller bootloader
    candidates = [Path(bundle) / "resources"] if bundle else []
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    for folder in candidates:
        if (folder / f"{ICON_NAME}.svg").is_file():
            return folder
    return None


def icon_files() -> list[Path]:
    """The icon's PNG sizes, smallest first; empty when the resources are not installed."""
    folder = resources_dir()
    if folder is None:
        return []
    files = list((folder / "icons").glob(f"*/{ICON_NAME}.png"))
    return sorted(files, key=lambda path: int(path.parent.name.partition("x")[0]))
