"""Where ``export --csv`` writes: standard output for ``-``; through a FIFO or a link,
never replacing them; atomically only onto a regular file or a new name."""

from __future__ import annotations

import csv
import io
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from nsfw_desktop.cli import main
from nsfw_desktop.store.export import COLUMNS
from nsfw_desktop.store.results import Store

from .test_cli import scan_args

ROOT = Path(__file__).resolve().parents[1]


def scanned(photos, tiny_model, tmp_path) -> Path:
    db = tmp_path / "r.db"
    assert main(scan_args(tiny_model, db, photos)) == 0
    return db


def test_a_dash_writes_the_csv_to_standard_output(photos, tiny_model, tmp_path):
    db = scanned(photos, tiny_model, tmp_path)
    done = subprocess.run([sys.executable, "-m", "nsfw_desktop", "export", "--csv", "-", "--all",
                           "--db", str(db)], capture_output=True, timeout=120, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout.decode("utf-8"), newline="")))
    assert rows[0] == COLUMNS and len(rows) == 6
    assert b"Wrote 5 rows to standard output" in done.stderr
    assert not (tmp_path / "-").exists()


def test_a_fifo_is_written_through_and_stays_a_fifo(photos, tiny_model, tmp_path):
    db = scanned(photos, tiny_model, tmp_path)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text(encoding="utf-8")), daemon=True)
    reader.start()
    assert main(["export", "--csv", str(fifo), "--all", "--db", str(db)]) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received and received[0].splitlines()[0] == ",".join(COLUMNS)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".pipe")) == []


def test_a_link_is_written_through_and_stays_a_link(photos, tiny_model, tmp_path):
    """As /dev/stdout is: a link to where the output goes, which must stay a link."""
    db = scanned(photos, tiny_model, tmp_path)
    target = tmp_path / "elsewhere.csv"
    target.write_text("old")
    link = tmp_path / "stdout"
    link.symlink_to(target)
    assert main(["export", "--csv", str(link), "--all", "--db", str(db)]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(target.read_text(encoding="utf-8").splitlines()) == 6


def test_a_regular_file_is_replaced_whole(photos, tiny_model, tmp_path):
    db = scanned(photos, tiny_model, tmp_path)
    out = tmp_path / "flagged.csv"
    out.write_text("an older export that a reader may hold open\n")
    before = out.stat().st_ino
    assert main(["export", "--csv", str(out), "--all", "--db", str(db)]) == 0
    assert out.stat().st_ino != before  # renamed into place: a reader sees old or new, never half
    assert len(out.read_text(encoding="utf-8").splitlines()) == 6


def test_the_threshold_defaults_to_the_stored_models_recommended_one(photos, tmp_path, monkeypatch):
    """As scan flags by its model's recommended threshold, so does export of its results."""
    import dataclasses

    from nsfw_desktop.classify import catalogue

    db = tmp_path / "r.db"
    assert main(["scan", str(photos), "--model", "open-nsfw", "--db", str(db)]) == 0
    lowest = min(r.nsfw_score for r in Store(db).results())
    monkeypatch.setattr(catalogue, "MODELS", tuple(
        dataclasses.replace(m, threshold=lowest) if m.name == "open-nsfw" else m for m in catalogue.MODELS))
    out = tmp_path / "flagged.csv"
    assert main(["export", "--csv", str(out), "--db", str(db)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 5
