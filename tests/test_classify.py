import json

import pytest
from PIL import Image

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from tests.conftest import build_tiny_vit, random_image, write_photos

# Our batched pipeline and transformers' per-image pipeline differ only by float
# summation order inside batched matmuls.
PARITY_TOLERANCE = 1e-5


def test_scores_match_transformers_pipeline(tmp_path, tiny_model):
    from transformers import pipeline

    paths = write_photos(tmp_path / "p", 6, size=(50, 70))
    random_image(9, (40, 40), mode="L").save(tmp_path / "p" / "gray.png")
    paths.append(tmp_path / "p" / "gray.png")
    classifier = make_classifier(str(tiny_model), device="cpu")
    ours = [r for batch in classify_entries(entries_for_paths(map(str, paths)), classifier)
            for r in batch]
    reference = pipeline("image-classification", model=str(tiny_model), device="cpu")
    for path, result in zip(paths, ours, strict=True):
        with Image.open(path) as img:
            expected = {d["label"]: d["score"] for d in reference(img.convert("RGB"), top_k=None)}
        assert result.nsfw_score == pytest.approx(expected["nsfw"], abs=PARITY_TOLERANCE)
        assert result.label == max(expected, key=expected.get)


def test_several_unsafe_labels_add_up(tmp_path):
    folder = build_tiny_vit(tmp_path / "m", labels=("drawings", "Hentai", "neutral", "Porn", "SEXY"))
    classifier = make_classifier(str(folder), device="cpu")
    classifier.load()
    image = random_image(0, (32, 32))
    prediction = classifier.predict([classifier.prepare(image)])[0]
    expected = sum(prediction.scores[k] for k in ("Hentai", "Porn", "SEXY"))
    assert prediction.nsfw_score == pytest.approx(expected)
    assert sum(prediction.scores.values()) == pytest.approx(1.0)


def test_label2id_values_may_be_strings(tmp_path):
    folder = build_tiny_vit(tmp_path / "m", label2id_as_strings=True)
    assert "id2label" not in json.loads((folder / "config.json").read_text())
    classifier = make_classifier(str(folder), device="cpu")
    classifier.load()
    prediction = classifier.predict([classifier.prepare(random_image(1, (32, 32)))])[0]
    assert set(prediction.scores) == {"normal", "nsfw"}


def test_model_without_unsafe_labels_is_refused(tmp_path):
    folder = build_tiny_vit(tmp_path / "m", labels=("cat", "dog"))
    with pytest.raises(ModelError, match="--unsafe-labels"):
        make_classifier(str(folder), device="cpu").load()
    classifier = make_classifier(str(folder), device="cpu", unsafe_labels=["DOG"])
    classifier.load()
    prediction = classifier.predict([classifier.prepare(random_image(2, (32, 32)))])[0]
    assert prediction.nsfw_score == pytest.approx(prediction.scores["dog"])
