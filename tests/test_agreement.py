"""The fast model's agreement with exact: measured through the scan pipeline when it is built, on
the user's stored photos (or the sample pictures), kept beside it, and said again on every later use."""

from __future__ import annotations

import itertools
import tempfile

import numpy as np
import pytest

from nsfw_desktop.classify import make_classifier, onnx_export
from nsfw_desktop.classify.agreement import AGREEMENT_FILE, Agreement, kept_agreement
from nsfw_desktop.classify.base import Prediction
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import resolve
from nsfw_desktop.scan import agreement
from nsfw_desktop.scan.agreement import measure, measurer
from nsfw_desktop.scan.engine import scan
from nsfw_desktop.scan.types import DEFAULT_BATCH_SIZE
from tests.conftest import write_photos


def file_scores(classifier, paths) -> list[float]:
    from nsfw_desktop.media.imaging import load_image

    classifier.load()
    frames = [load_image(str(p), min_side=2 * classifier.input_size).frames[0] for p in paths]
    return [p.nsfw_score for p in classifier.predict([classifier.prepare(f) for f in frames])]


@pytest.fixture
def scanned(tiny_model, tmp_path):
    """Six photos scanned in exact into a database, one of them deleted since."""
    paths = write_photos(tmp_path / "photos", 6)
    db = tmp_path / "results.db"
    from nsfw_desktop.store.results import Store

    with Store(db) as store:
        list(scan([str(tmp_path / "photos")], make_classifier(str(tiny_model), device="cpu"), store))
    paths[-1].unlink()
    return db, paths[:-1]


def test_built_fast_model_measures_agreement_on_the_stored_photos(tiny_model, scanned):
    db, paths = scanned
    notes = []
    fast = make_classifier(str(tiny_model), precision="fast", threshold=0.5, notify=notes.append,
                           measure_agreement=measurer(db))
    fast.load()
    measured = fast.agreement
    assert measured.on_user_photos and measured.count == len(paths)  # the deleted file passed over
    # The figures are the two models' own scores of those files, in some order.
    exact_scores = file_scores(LocalClassifier(resolve(str(tiny_model)), device="cpu"), paths)
    fast_scores = file_scores(fast, paths)
    assert sorted(measured.exact) == pytest.approx(sorted(exact_scores), abs=1e-6)
    assert sorted(measured.fast) == pytest.approx(sorted(fast_scores), abs=1e-6)
    differences = np.abs(np.array(exact_scores) - np.array(fast_scores))
    assert measured.max_difference == pytest.approx(differences.max(), abs=1e-6)
    agreeing = sum((a >= 0.5) == (b >= 0.5) for a, b in zip(exact_scores, fast_scores, strict=True))
    said = f"agrees with exact on {agreeing}/{len(paths)} of your photos at threshold 0.5"
    assert any("Measuring how the fast model agrees" in n for n in notes)
    assert any(said in n for n in notes)

    # Kept beside the fast model: a later use says it again without measuring.
    folder = onnx_export.cache_folder(resolve(str(tiny_model)))
    assert (folder / AGREEMENT_FILE).is_file()
    notes.clear()
    again = make_classifier(str(tiny_model), precision="fast", threshold=0.5, notify=notes.append,
                            measure_agreement=measurer(db))
    again.load()
    assert again.agreement == measured
    assert not any("Measuring" in n for n in notes) and any(said in n for n in notes)
    assert kept_agreement(str(tiny_model)) == measured


def test_without_stored_photos_it_is_measured_on_sample_pictures(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    notes = []
    fast = make_classifier(str(tiny_model), precision="fast", notify=notes.append,
                           measure_agreement=measurer(tmp_path / "none.db"))
    fast.load()
    assert not fast.agreement.on_user_photos and fast.agreement.count == agreement.SAMPLE_PICTURES
    assert any("sample pictures (none of your photos" in n for n in notes)
    assert not list((tmp_path / "temp").iterdir())  # the sample pictures made for it are gone


def test_without_a_measurer_a_kept_agreement_is_stated_and_none_is_measured(tiny_model, tmp_path):
    notes = []
    fast = make_classifier(str(tiny_model), precision="fast", notify=notes.append)
    fast.load()
    assert fast.agreement is None and not any("agree" in n for n in notes)
    folder = onnx_export.cache_folder(resolve(str(tiny_model)))
    Agreement((0.1, 0.9), (0.2, 0.4), on_user_photos=True).save(folder)
    again = make_classifier(str(tiny_model), precision="fast", threshold=0.5, notify=notes.append)
    again.load()
    assert any("agrees with exact on 1/2 of your photos" in n for n in notes)


class _Inverted:
    """The fast classifier, with every score turned around: a model that disagrees."""

    def __init__(self, fast):
        self.fast = fast

    def __getattr__(self, name):
        return getattr(self.fast, name)

    def predict(self, prepared):
        return [Prediction(p.label, 1.0 - p.nsfw_score) for p in self.fast.predict(prepared)]


def test_a_disagreeing_model_is_counted_as_such(tiny_model, tmp_path):
    paths = [str(p) for p in write_photos(tmp_path / "photos", 10)]
    exact = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    fast = make_classifier(str(tiny_model), precision="fast")
    faithful = measure(exact, fast, paths)
    inverted = measure(exact, _Inverted(fast), paths)
    assert faithful.exact == inverted.exact
    threshold = float(np.median(faithful.exact))  # half the files on each side of it
    expected = sum((a >= threshold) == (1 - a >= threshold) for a in faithful.exact)
    assert inverted.agreeing(threshold) == expected < faithful.agreeing(threshold)
    assert inverted.max_difference > faithful.max_difference
    assert f"on {expected}/10 of your photos" in inverted.describe(threshold)


def test_the_sample_stops_when_its_time_is_up(tiny_model, tmp_path):
    paths = [str(p) for p in write_photos(tmp_path / "photos", 20)]
    exact = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    ticks = itertools.count(step=60.0)  # every look at the clock: a minute later
    measured = measure(exact, exact, paths, budget_s=90, clock=lambda: next(ticks))
    assert measured.count == 2 * DEFAULT_BATCH_SIZE and measured.on_user_photos


def test_an_unreadable_kept_agreement_is_measured_again(tmp_path):
    (tmp_path / AGREEMENT_FILE).write_text("{not json")
    assert Agreement.load(tmp_path) is None
    Agreement((0.1, 0.9), (0.2, 0.4), on_user_photos=True).save(tmp_path)
    kept = Agreement.load(tmp_path)
    assert kept.agreeing(0.5) == 1 and kept.max_difference == pytest.approx(0.5)
