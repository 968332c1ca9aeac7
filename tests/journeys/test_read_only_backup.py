"""A results database kept as a read-only backup: a read-only file in a folder the user
may not write (read-only by permissions, not by the mount). Export and find similar read
it as they read it anywhere else, and nothing is written beside it."""

from __future__ import annotations

import csv
import io
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ..conftest import write_photos

ROOT = Path(__file__).resolve().parents[2]


def as_a_user(*args: str) -> subprocess.CompletedProcess:
    """The CLI under the file permissions a user has: root keeps its uid but loses the
    capabilities that override them, so a 0444 file and a 0555 folder stay read-only."""
    command = [sys.executable, "-m", "nsfw_desktop", *args]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("dropping root's permission override needs setpriv (util-linux)")
        command = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                   "--bounding-set=-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)


def test_export_and_similar_read_a_read_only_backup(tmp_path, tiny_model):
    from nsfw_desktop.cli import main

    photos = tmp_path / "photos"
    paths = write_photos(photos, 4)
    db = tmp_path / "results.db"
    assert main(["scan", str(photos), "--model", str(tiny_model), "--db", str(db), "--embeddings"]) == 0
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copyfile(db, backup / "results.db")
    (backup / "results.db").chmod(0o444)
    backup.chmod(0o555)
    try:
        exported = as_a_user("export", "--db", str(backup / "results.db"), "--csv", "-", "--all")
        assert exported.returncode == 0, exported.stderr
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        assert sorted(r["path"] for r in rows) == sorted(map(str, paths))

        similar = as_a_user("similar", str(paths[0]), "--db", str(backup / "results.db"),
                            "--model", str(tiny_model), "--top", "2")
        assert similar.returncode == 0, similar.stderr
        listed = [line.split("\t")[1] for line in similar.stdout.splitlines()]
        assert len(listed) == 2 and set(listed) <= set(map(str, paths[1:]))
        assert sorted(p.name for p in backup.iterdir()) == ["results.db"]
    finally:
        backup.chmod(stat.S_IRWXU)
