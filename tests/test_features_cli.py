"""The explain, embed and similar commands, and scan --embeddings, end to end on the tiny model."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.cli import main
from tests.conftest import write_photos


def test_explain_writes_a_png_overlay_per_image_and_prints_scores(photos, tiny_model, tmp_path, capsys):
    images = sorted(photos.glob("*.png"))[:2]
    out = tmp_path / "overlays"
    (tmp_path / "bad.jpg").write_text("not a picture")
    argv = ["explain", *map(str, images), str(tmp_path / "bad.jpg"), "--out", str(out),
            "--model", str(tiny_model), "--method", "last", "--opacity", "0.7"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2] == f"{tmp_path / 'bad.jpg'}\terror: not an image, or an image format " \
                      "nsfw-desktop cannot read"
    for image, line in zip(images, lines, strict=False):
        path, label, score, target = line.split("\t")
        assert path == str(image) and label in ("normal", "nsfw") and 0.0 <= float(score) <= 1.0
        with Image.open(target) as written:
            assert written.format == "PNG"
            written.verify()  # checks the PNG's chunks and checksums
        with Image.open(target) as written, Image.open(image) as original:
            assert written.size == original.size


def test_explain_keeps_same_named_images_apart(tmp_path, tiny_model, capsys):
    first = write_photos(tmp_path / "a", 1)[0]
    second = write_photos(tmp_path / "b", 1)[0]
    assert main(["explain", str(first), str(second), "--out", str(tmp_path / "o"),
                 "--model", str(tiny_model)]) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "photo_0000-2.heatmap.png", "photo_0000.heatmap.png"]


def test_explain_rejects_a_bad_opacity(photos, tiny_model, tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["explain", str(photos), "--out", str(tmp_path), "--opacity", "2"])
    assert "opacity must be between 0 and 1" in capsys.readouterr().err


def test_embed_writes_paths_float32_embeddings_model_and_layer(photos, tiny_model, tmp_path, capsys):
    (photos / "broken.png").write_text("no")
    target = tmp_path / "out" / "vectors.npz"
    assert main(["embed", str(photos), "--out", str(target), "--model", str(tiny_model),
                 "--layer", "1", "--pool", "mean"]) == 0
    err = capsys.readouterr().err
    assert "broken.png" in err and "Wrote 5 embeddings (32 dimensions, layer 1, mean)" in err
    with np.load(target, allow_pickle=False) as data:
        assert data["embeddings"].dtype == np.float32 and data["embeddings"].shape == (5, 32)
        assert sorted(data["paths"]) == sorted(str(p) for p in photos.glob("photo_*.png"))
        assert int(data["layer"]) == 1 and str(data["pool"]) == "mean"
        assert str(data["model"]).startswith(str(tiny_model))
    assert [p.name for p in target.parent.iterdir()] == ["vectors.npz"]  # no temporary left


def test_embed_refuses_a_layer_the_model_lacks(photos, tiny_model, tmp_path, capsys):
    assert main(["embed", str(photos), "--out", str(tmp_path / "v.npz"), "--model", str(tiny_model),
                 "--layer", "7"]) == 1
    assert "layer 7 does not exist: this model has 2 layers" in capsys.readouterr().err
    assert not (tmp_path / "v.npz").exists()


def test_scan_with_embeddings_then_similar_ranks_the_copy_first(tmp_path, tiny_model, capsys):
    library = tmp_path / "library"
    photos = write_photos(library, 8)
    shutil.copyfile(photos[5], library / "duplicate.png")
    db = tmp_path / "results.db"
    assert main(["scan", str(library), "--model", str(tiny_model), "--db", str(db),
                 "--embeddings"]) == 0
    capsys.readouterr()
    query = tmp_path / "query.png"
    shutil.copyfile(photos[5], query)
    assert main(["similar", str(query), "--top", "3", "--db", str(db), "--model", str(tiny_model),
                 "--json"]) == 0
    matches = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(matches) == 3
    assert {matches[0]["path"], matches[1]["path"]} == {str(photos[5]), str(library / "duplicate.png")}
    assert matches[0]["similarity"] > 0.9999 and matches[1]["similarity"] > 0.9999
    assert matches[2]["similarity"] < matches[1]["similarity"]


def test_similar_without_embeddings_says_what_to_do(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "results.db"
    assert main(["scan", str(photos), "--model", str(tiny_model), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["similar", str(photos / "photo_0000.png"), "--db", str(db),
                 "--model", str(tiny_model)]) == 1
    assert "scan --embeddings" in capsys.readouterr().err


def test_similar_with_an_unreadable_query(photos, tiny_model, tmp_path, capsys):
    db = tmp_path / "results.db"
    assert main(["scan", str(photos), "--model", str(tiny_model), "--db", str(db),
                 "--embeddings"]) == 0
    capsys.readouterr()
    assert main(["similar", str(tmp_path / "missing.png"), "--db", str(db),
                 "--model", str(tiny_model)]) == 1
    assert "missing.png: no such file" in capsys.readouterr().err


def test_explain_and_embed_need_a_vit(photos, tmp_path, capsys):
    import torch
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessorPil

    folder = tmp_path / "convnext"
    torch.manual_seed(0)
    config = ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2,
                            id2label={0: "normal", 1: "nsfw"}, label2id={"normal": 0, "nsfw": 1})
    ConvNextForImageClassification(config).save_pretrained(folder)
    ConvNextImageProcessorPil(size={"shortest_edge": 32}).save_pretrained(folder)
    image = str(photos / "photo_0000.png")
    assert main(["explain", image, "--out", str(tmp_path / "o"), "--model", str(folder)]) == 1
    assert "need a ViT checkpoint" in capsys.readouterr().err
    assert main(["embed", image, "--out", str(tmp_path / "v.npz"), "--model", str(folder)]) == 1
    assert "need a ViT checkpoint" in capsys.readouterr().err
