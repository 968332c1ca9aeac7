"""A library reached through a symbolic link (~/Pictures -> /data/photos): scanned by the
link, then searched, reviewed, tagged and quarantined by the real path or by a name typed inside
the folder (whose working directory is the real one). Every command finds the stored
file and its review mark follows it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nsfw_desktop.store.results import Store

from ..conftest import write_photos

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nsfw_desktop", *map(str, args)], capture_output=True,
                          text=True, timeout=180, cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_similar_review_tag_and_quarantine_find_files_scanned_through_a_link(tmp_path, tiny_model):
    real = tmp_path / "data" / "photos"
    photos = write_photos(real, 3)
    link = tmp_path / "Pictures"
    link.symlink_to(real, target_is_directory=True)
    db = tmp_path / "r.db"
    assert cli("scan", link, "--model", tiny_model, "--db", db, "--embeddings").returncode == 0

    similar = cli("similar", photos[0], "--model", tiny_model, "--db", db, "--top", "5")
    assert similar.returncode == 0, similar.stderr
    listed = [line.split("\t")[1] for line in similar.stdout.splitlines()]
    assert sorted(listed) == sorted(str(link / p.name) for p in photos[1:])  # not the query itself

    by_real_path = cli("review", "--safe", photos[0], "--db", db)
    assert by_real_path.returncode == 0, by_real_path.stderr
    typed_inside = cli("review", "--nsfw", photos[1].name, "--db", db, cwd=link)
    assert typed_inside.returncode == 0, typed_inside.stderr
    with Store(db, read_only=True) as store:
        assert store.get(str(link / photos[0].name)).review == "safe"
        assert store.get(str(link / photos[1].name)).review == "nsfw"

    tagged = cli("tag", real, "--db", db, "--dry-run", "--threshold", "0.99")
    assert tagged.returncode == 0, tagged.stderr
    assert "Would change 2 sidecar(s)" in tagged.stderr  # the two reviewed files

    folder = tmp_path / "quarantine"
    moved = cli("quarantine", photos[1], "--to", folder, "--db", db)
    assert moved.returncode == 0, moved.stderr
    with Store(db, read_only=True) as store:
        (row,) = [r for r in store.results() if r.path.startswith(str(folder))]
        assert row.review == "nsfw" and store.get(str(link / photos[1].name)) is None
