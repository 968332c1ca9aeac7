"""The command line's --precision, open-nsfw and `models list --available`."""

import json

from nsfw_desktop.cli import main
from nsfw_desktop.store.results import Store


def test_models_list_available_shows_the_catalogue(capsys):
    assert main(["models", "list", "--available"]) == 0
    out = capsys.readouterr().out
    for words in ("Falconsai/nsfw_image_detection", "open-nsfw", "ResNet-50", "BSD-2-Clause",
                  "threshold:", "works offline", "owner/name"):
        assert words in out


def test_scan_in_fast_precision_stores_int8_results(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    args = ["scan", str(photos), "--model", str(tiny_model), "--db", str(db), "--precision", "fast"]
    assert main(args) == 0
    out, err = capsys.readouterr()
    assert "scanned:   5" in out and "note: Building the fast (int8) version" in err
    said = "note: The fast (int8) model agrees with exact on "
    assert said in err and "sample pictures" in err  # nothing of this model stored before
    with Store(db) as store:
        assert all(r.model.endswith("+int8") for r in store.results())
    assert main(args) == 0  # built once: the second scan neither builds nor classifies again
    out, err = capsys.readouterr()
    assert "unchanged: 5" in out and "Building" not in err
    # Said again, from what was kept beside the fast model: nothing measured a second time.
    assert main(["classify", str(next(photos.iterdir())), "--model", str(tiny_model), "--db", str(db),
                 "--precision", "fast"]) == 0
    err = capsys.readouterr().err
    assert said in err and "Measuring" not in err


def test_classify_with_open_nsfw_and_its_threshold(photos, capsys):
    assert main(["classify", *map(str, sorted(photos.iterdir())), "--model", "open-nsfw", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5 and all(line["label"] in ("sfw", "nsfw") for line in lines)


def test_a_fast_scan_keeps_embeddings_for_find_similar(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "r.db"
    common = ["--model", str(tiny_model), "--db", str(db), "--precision", "fast"]
    assert main(["scan", str(photos), *common, "--embeddings"]) == 0
    with Store(db) as store:
        [model] = {r.model for r in store.results()}
        assert model.endswith("+int8") and store.embedding_count(model) == 5
    capsys.readouterr()
    # An outside copy of a stored picture finds that picture first (its embedding from the fast model).
    first = sorted(photos.iterdir())[0]
    copy = tmp_path / "copy.png"
    copy.write_bytes(first.read_bytes())
    assert main(["similar", str(copy), *common, "--json", "--top", "2"]) == 0
    best = json.loads(capsys.readouterr().out.splitlines()[0])
    assert best["path"] == str(first) and best["similarity"] > 0.999


def test_models_list_names_the_included_model(capsys):
    assert main(["models", "list"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("open-nsfw\t") and "works offline" in first
