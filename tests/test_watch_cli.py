"""``nsfw-desktop watch`` as a user runs it: a real process, stopped with Ctrl-C."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading

from nsfw_desktop.cli import main
from tests.conftest import random_image, write_photos


def _lines(stream, into: queue.Queue) -> None:
    for line in stream:
        into.put(line)


def _next_line(lines: queue.Queue, timeout: float = 60.0) -> str:
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        raise AssertionError("the watcher printed nothing in time") from None


def test_watch_prints_json_lines_at_once_and_exits_cleanly_on_ctrl_c(tiny_model, tmp_path):
    folder = tmp_path / "inbox"
    write_photos(folder, 1)  # caught up on start
    process = subprocess.Popen(
        [sys.executable, "-m", "nsfw_desktop", "watch", str(folder), "--model", str(tiny_model),
         "--db", str(tmp_path / "db.sqlite3"), "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    out: queue.Queue = queue.Queue()
    err: queue.Queue = queue.Queue()
    readers = [threading.Thread(target=_lines, args=(stream, into), daemon=True)
               for stream, into in ((process.stdout, out), (process.stderr, err))]
    for reader in readers:
        reader.start()
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
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for reader in readers:
            reader.join(10)  # they stop at the end of the output; then the pipes can close
        process.stdout.close()
        process.stderr.close()
    assert "Stopped watching." in _next_line(err)


def test_watch_refuses_a_path_that_is_not_a_folder(tmp_path, capsys):
    assert main(["watch", str(tmp_path / "missing")]) == 1
    assert "not a folder" in capsys.readouterr().err
