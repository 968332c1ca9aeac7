"""'Open' starts a video at its highest-scoring frame in a player that takes a start time."""

from __future__ import annotations

from nsfw_desktop.gui import video_player
from nsfw_desktop.gui.video_player import open_video_at, player_command

VIDEO = "/home/me/Downloads/clip one.mp4"


def on_path(*names):
    return lambda name: f"/usr/bin/{name}" if name in names else None


def test_the_desktops_player_starts_at_the_time_when_it_takes_one():
    assert player_command(VIDEO, 83.25, default="mpv.desktop", which=on_path("mpv", "vlc")) == [
        "/usr/bin/mpv", "--start=83.250", VIDEO]
    assert player_command(VIDEO, 83.25, default="org.videolan.vlc.desktop", which=on_path("mpv", "vlc")) == [
        "/usr/bin/vlc", "--start-time=83.250", VIDEO]
    assert player_command(VIDEO, 2, default="mplayer.desktop", which=on_path("mplayer")) == [
        "/usr/bin/mplayer", "-ss", "2.000", VIDEO]


def test_another_chosen_player_or_none_on_path_opens_normally():
    # The user chose Totem, which takes no start time: mpv on PATH is not forced on them.
    assert player_command(VIDEO, 10, default="org.gnome.Totem.desktop", which=on_path("mpv")) is None
    assert player_command(VIDEO, 10, default="vlc.desktop", which=on_path("mpv")) is None  # not installed
    assert player_command(VIDEO, 10, default=None, which=on_path()) is None


def test_with_no_word_from_the_desktop_the_first_known_player_on_path_is_used():
    assert player_command(VIDEO, 10, default=None, which=on_path("vlc", "mplayer")) == [
        "/usr/bin/vlc", "--start-time=10.000", VIDEO]


def test_open_says_which_player_starts_at_the_time_and_nothing_when_it_opens_normally(monkeypatch):
    started, opened = [], []
    monkeypatch.setattr(video_player, "default_app", lambda path: None)
    monkeypatch.setattr(video_player.shutil, "which", on_path("mpv"))
    monkeypatch.setattr(video_player.QProcess, "startDetached",
                        lambda program, arguments: (started.append([program, *arguments]) or True, 1))
    monkeypatch.setattr(video_player, "open_file", lambda path: opened.append(path) or True)
    assert open_video_at(VIDEO, 5) == (True, "mpv")
    assert started == [["/usr/bin/mpv", "--start=5.000", VIDEO]] and opened == []

    monkeypatch.setattr(video_player.shutil, "which", on_path())
    assert open_video_at(VIDEO, 5) == (True, None)
    assert opened == [VIDEO]
