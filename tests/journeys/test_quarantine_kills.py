"""Quarantine from the command line, killed at random moments: afterwards ``--restore``
puts every file back byte for byte, and the journal and the database agree."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nsfw_desktop.quarantine.journal import Journal
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store

from ..conftest import write_photos

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "nsfw_desktop", "quarantine", *args]


def _killed_at_random(command: list[str], delay: float) -> int:
    """Run ``command``, SIGKILL it after ``delay`` seconds unless it ended; its exit status."""
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    return process.wait()


def _restore_all(q: Path, db: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_cli("--restore", str(q), "--db", str(db)), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def _start_up(q: Path, db: Path) -> float:
    """How long the command takes here before it moves anything (a restore with nothing to
    put back), so that the kills land while files move."""
    started = time.monotonic()
    _restore_all(q, db)
    return time.monotonic() - started


def _assert_all_back(originals: dict[Path, bytes], q: Path, db: Path, seed: int) -> None:
    for path, content in originals.items():
        assert path.read_bytes() == content, f"{path} (seed {seed})"
    left = os.listdir(q) if q.exists() else []  # a kill before the folder was made leaves none
    assert [n for n in left if not n.startswith(".")] == [], f"seed {seed}"
    assert [i for i in Journal(q).read() if i.state == "open"] == [], f"seed {seed}"
    with Store(db, read_only=True) as store:
        assert sorted(r.path for r in store.results()) == sorted(map(str, originals)), f"seed {seed}"


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    originals: dict[Path, bytes] = {}
    for folder in ("a", "b"):  # the same names in both, so the quarantine renames half of them
        (tmp_path / folder).mkdir()
        for i in range(100):
            path = tmp_path / folder / f"photo_{i:03d}.jpg"
            path.write_bytes(rng.randbytes(rng.randrange(1, 4000)))
            originals[path] = path.read_bytes()
    db, q = tmp_path / "results.db", tmp_path / "q"
    with Store(db) as store:
        store.put_many([Result(path=str(p), label="nsfw", nsfw_score=0.9, model="m", width=4, height=3,
                               file_size=len(c), mtime_ns=1, scanned_at=0.0) for p, c in originals.items()])
    start_up = _start_up(q, db)
    for run in range(20):
        in_place = [str(p) for p in originals if p.exists()]
        if run % 2 == 0 and in_place:
            command = _cli(*in_place, "--to", str(q), "--db", str(db))
        else:
            command = _cli("--restore", str(q), "--db", str(db))
        _killed_at_random(command, rng.uniform(0.9 * start_up, start_up + 0.4))
    done = _restore_all(q, db)
    assert done.returncode == 0, f"{done.stderr} (seed {seed})"
    _assert_all_back(originals, q, db, seed)


@pytest.mark.slow
def test_scan_quarantine_flagged_killed_then_restore(tmp_path, tiny_model):
    """A user's sequence: scan, quarantine the flagged files (killed part-way), put back."""
    from nsfw_desktop.cli import main

    photos = tmp_path / "photos"
    write_photos(photos, 12)
    originals = {p: p.read_bytes() for p in sorted(photos.iterdir())}
    db, q = tmp_path / "results.db", tmp_path / "q"
    assert main(["scan", str(photos), "--model", str(tiny_model), "--db", str(db)]) == 0
    with Store(db, read_only=True) as store:
        scores = {r.path: r.nsfw_score for r in store.results()}
    threshold = sorted(scores.values())[len(scores) // 2]  # about half of them flagged
    seed = random.randrange(2**32)
    start_up = _start_up(q, db)
    _killed_at_random(_cli("--flagged", str(photos), "--threshold", str(threshold), "--to", str(q),
                           "--db", str(db)), random.Random(seed).uniform(0.9 * start_up, start_up + 0.2))
    done = _restore_all(q, db)
    assert done.returncode == 0, f"{done.stderr} (seed {seed})"
    _assert_all_back(originals, q, db, seed)
    with Store(db, read_only=True) as store:
        assert {r.path: r.nsfw_score for r in store.results()} == scores  # each kept its score
