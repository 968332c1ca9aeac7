"""Find similar between scans, as a newcomer runs it: first without embeddings (a plain
message), then after a file changed and the folder was scanned again (the same message,
not a traceback), then with embeddings (answers)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nsfw_desktop.cli import main

from ..conftest import random_image, write_photos

ROOT = Path(__file__).resolve().parents[2]


def similar(*args) -> subprocess.CompletedProcess:
    """``similar`` in a process of its own, as a user runs it after a scan: the traceback this
    journey found came only from a fresh process, reading the search matrix the scan left."""
    return subprocess.run([sys.executable, "-m", "nsfw_desktop", "similar", *map(str, args)],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)


def scan(*args) -> int:
    """A scan, in this process: what it leaves on disk is what a scan's own process leaves."""
    return main(["scan", *map(str, args)])


def test_similar_after_a_rescan_says_what_to_do_then_answers(tmp_path, tiny_model):
    photos = write_photos(tmp_path / "photos", 4)
    db = tmp_path / "r.db"
    model = ["--model", tiny_model, "--db", db]
    assert scan(tmp_path / "photos", *model) == 0
    for _ in range(2):
        asked = similar(photos[0], *model)
        assert asked.returncode == 1 and "Traceback" not in asked.stderr
        assert "scan with embeddings turned on first" in asked.stderr
        random_image(99).save(photos[1])  # the file changes, and is scanned again
        assert scan(tmp_path / "photos", *model) == 0
    assert scan(tmp_path / "photos", *model, "--embeddings") == 0
    answered = similar(photos[0], *model, "--top", "3")
    assert answered.returncode == 0, answered.stderr
    assert len(answered.stdout.splitlines()) == 3
