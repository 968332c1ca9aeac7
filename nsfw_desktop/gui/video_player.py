"""Open a video in a player that starts at its highest-scoring frame, where one can.

The system's "open" (xdg-open, Launch Services, the shell) takes no start
time, so a video opens at its highest-scoring frame only in a player known to
take one on its command line: mpv, VLC or MPlayer. The user's choice comes
first: where the desktop says which application opens videos (``xdg-mime``)
and it is one of those, it is started with the time; where it names another
player, the video opens normally in that one; where nothing says (no
``xdg-mime``, or no answer), the first known player on PATH is used. Otherwise
the video opens normally, and nothing claims it starts anywhere but the start.
"""

from __future__ import annotations

import mimetypes
import shutil
import subprocess
from collections.abc import Callable

from PySide6.QtCore import QProcess

from nsfw_desktop.gui.system import open_file

# executable: (the start option of that player, given the seconds)
_START = {
    "mpv": lambda seconds: [f"--start={seconds:.3f}"],
    "vlc": lambda seconds: [f"--start-time={seconds:.3f}"],
    "mplayer": lambda seconds: ["-ss", f"{seconds:.3f}"],
}
_DESKTOP_IDS = {"mpv.desktop": "mpv", "vlc.desktop": "vlc", "org.videolan.vlc.desktop": "vlc",
                "mplayer.desktop": "mplayer"}


def default_app(path: str) -> str | None:
    """The desktop file id of the application that opens ``path``'s type (``xdg-mime``);
    None where the desktop does not say."""
    xdg_mime = shutil.which("xdg-mime")
    if xdg_mime is None:
        return None
    mime = mimetypes.guess_type(path)[0] or "video/mp4"  # a video without a known extension
    try:
        answer = subprocess.run([xdg_mime, "query", "default", mime], capture_output=True, text=True,
                                timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return answer.stdout.strip() or None


def player_command(path: str, seconds: float, *, default: str | None,
                   which: Callable[[str], str | None] | None = None) -> list[str] | None:
    """The command that plays ``path`` from ``seconds`` in, or None when no player that takes
    a start time is the one to use (``default``: the desktop's choice, see ``default_app``)."""
    if default is not None:
        candidates = [_DESKTOP_IDS[default]] if default in _DESKTOP_IDS else []
    else:
        candidates = list(_START)
    for name in candidates:
        executable = (which or shutil.which)(name)
        if executable is not None:
            # The path is absolute (stored so), never mistaken for an option.
            return [executable, *_START[name](max(seconds, 0.0)), path]
    return None


def open_video_at(path: str, seconds: float) -> tuple[bool, str | None]:
    """Start a player on ``path`` at ``seconds``, else open it normally. (started, the player's
    name when it starts at ``seconds``; None when it opened normally)."""
    command = player_command(path, seconds, default=default_app(path))
    if command is not None and QProcess.startDetached(command[0], command[1:])[0]:
        return True, command[0].rsplit("/", 1)[-1]
    return open_file(path), None
