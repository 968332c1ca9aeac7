"""The app's settings, through ``ModelSpec``, to a real scan: the two cases where the
settings and the classifiers once disagreed about embeddings."""

from __future__ import annotations

from nsfw_desktop.classify import ModelSpec, make_classifier
from nsfw_desktop.classify.capabilities import ONNX_FOLDER
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.scan.agreement import measurer
from nsfw_desktop.scan.engine import BatchDone, scan
from tests.test_open_nsfw_features import onnx_folder


def app_scan(settings: Settings, photos, store) -> list:
    """Scan ``photos`` as the app does with ``settings``; the results."""
    classifier = make_classifier(ModelSpec.of(settings), measure_agreement=measurer(store.path))
    events = scan([str(photos)], classifier, store, policy=settings.scan_policy(),
                  options=settings.decode_options())
    return [result for event in events if isinstance(event, BatchDone) for result in event.results]


def test_a_fast_scan_from_the_settings_keeps_embeddings(tiny_model, photos, store):
    settings = Settings(model=str(tiny_model), precision="fast", embeddings=True)
    assert ModelSpec.of(settings).embeddings
    results = app_scan(settings, photos, store)
    assert len(results) == 5 and not any(result.error for result in results)
    assert store.embedding_count() == 5


def test_an_onnx_folder_with_embeddings_on_scans_for_scores_and_says_why_no_embeddings(
        tiny_model, photos, store, tmp_path):
    settings = Settings(model=str(onnx_folder(tiny_model, tmp_path)), embeddings=True)
    assert ModelSpec.of(settings).no_embeddings == ONNX_FOLDER and not settings.scan_policy().embeddings
    results = app_scan(settings, photos, store)
    assert len(results) == 5 and all(result.error is None and result.nsfw_score is not None
                                     for result in results)
    assert store.embedding_count() == 0
