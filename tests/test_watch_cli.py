"""``nsfw-desktop watch`` as a user runs it: a real process, stopped with Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
from collections import Counter

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.watch.observers import QUEUE_SETTING, system_setting
from tests.conftest import random_image, write_photos

QUEUE_LIMIT = system_setting(QUEUE_SETTING)


class Watching:
    """``nsfw-desktop watch --json`` in a real process, its output read line by line as it comes."""

    def __init__(self, folder, model, tmp_path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nsfw_desktop", "watch", str(folder), "--model", str(model),
             "--db", str(tmp_path / "db.sqlite3"), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        streams = ((self.process.stdout, self.out), (self.process.stderr, self.err))
        self._readers = [threading.Thread(target=_lines, args=(stream, into), daemon=True)
                         for stream, into in streams]
        for reader in self._readers:
            reader.start()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join(10)  # they stop at the end of the output; then the pipes can close
        self.process.stdout.close()
        self.process.stderr.close()


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def _next_line(lines: queue.Queue, timeout: float = 60.0) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("the watcher printed nothing in time") from None


def _line_with(lines: queue.Queue, text: str) -> str:
    while text not in (line := _next_line(lines)):
        pass
    return line


def test_watch_prints_json_lines_at_once_and_exits_cleanly_on_ctrl_c(tiny_model, tmp_path):
    folder = tmp_path / "inbox"
    write_photos(folder, 1)  # caught up on start
    watching = Watching(folder, tiny_model, tmp_path)
    out, err = watching.out, watching.err
    try:
        assert _next_line(err).startswith(f"watching {folder}")
        caught_up = json.loads(_next_line(out))
        assert caught_up["path"] == str(folder / "photo_0000.png")
        random_image(3).save(folder / "new.png")
        # Read while the process still runs: the line was flushed at once.
        arrived = json.loads(_next_line(out))
        assert set(arrived) == {"path", "label", "nsfw_score", "policy_score", "error", "kind", "duration",
                                "worst_frame_time"}
        assert arrived["kind"] == "image"
        assert arrived["path"] == str(folder / "new.png")
        assert arrived["label"] in ("normal", "nsfw") and 0.0 <= arrived["nsfw_score"] <= 1.0
        assert arrived["error"] is None
        assert watching.process.poll() is None
        watching.process.send_signal(signal.SIGINT)
        assert watching.process.wait(timeout=30) == 0
    finally:
        watching.close()
    assert "Stopped watching." in _next_line(err)


@pytest.mark.skipif(not QUEUE_LIMIT or QUEUE_LIMIT > 100_000,
                    reason="needs Linux's inotify queue at a size a test can overflow")
def test_watch_classifies_once_the_files_whose_events_the_kernel_dropped(tiny_model, tmp_path):
    # The scenario, small: a stopped watcher reads no events, so the kernel
    # queues QUEUE_LIMIT of them and drops the rest (a real IN_Q_OVERFLOW). The
    # fillers' events fill the queue; the photos' events are dropped.
    folder = tmp_path / "inbox"
    write_photos(folder, 1)
    watching = Watching(folder, tiny_model, tmp_path)
    out, err, process = watching.out, watching.err, watching.process
    try:
        assert _next_line(err).startswith(f"watching {folder}")
        assert json.loads(_next_line(out))["path"] == str(folder / "photo_0000.png")
        process.send_signal(signal.SIGSTOP)
        fillers = [folder / f"filler_{i:05d}" for i in range(QUEUE_LIMIT // 2)]  # 3 events each
        for filler in fillers:
            filler.touch()
        for filler in fillers:
            filler.unlink()
        photos = write_photos(folder, 5, start=1)
        process.send_signal(signal.SIGCONT)
        classified = Counter(json.loads(_next_line(out))["path"] for _ in photos)
        assert classified == Counter(str(photo) for photo in photos)
        warning = _line_with(err, "fs.inotify.max_queued_events")  # after watchdog's own log lines
        assert "warning: So many files arrived at once" in warning and "sudo sysctl" in warning
        random_image(9).save(folder / "after.png")  # the watches still work after the overflow
        assert json.loads(_next_line(out))["path"] == str(folder / "after.png")
        assert out.empty()  # nothing classified twice
    finally:
        watching.close()


def test_watch_refuses_a_path_that_is_not_a_folder(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "missing")]) == 1
    assert "not a folder" in capsys.readouterr().err
