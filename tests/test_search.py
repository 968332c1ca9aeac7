"""Embeddings in the results database, the scan hook that stores them, and find similar."""

import os
import shutil
import sqlite3
import threading

import numpy as np
import pytest

from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.media.imaging import ImageError
from nsfw_desktop.similar.search import EmbeddingsError, find_similar, query_embedding
from nsfw_desktop.store.result import Result
from tests.conftest import run_scan, write_photos


def result(path, embedding=None, *, size=100, mtime=1, model="m"):
    return Result(path=path, label="normal", nsfw_score=0.1, model=model, width=10, height=10,
                  file_size=size, mtime_ns=mtime, scanned_at=0.0, embedding=embedding)


def test_embeddings_are_stored_as_float16(store):
    vector = np.array([0.1, -2.5, 3.0], dtype=np.float32)
    store.put_many([result("/a.jpg", vector), result("/b.jpg")])
    blob = store.db.execute("SELECT vector FROM embeddings").fetchone()[0]
    assert len(blob) == 3 * 2  # two bytes a value
    np.testing.assert_allclose(store.embedding("/a.jpg", "m"), vector, rtol=1e-3)
    assert store.embedding("/a.jpg", "other model") is None
    assert store.fingerprint("/a.jpg").has_embedding
    assert not store.fingerprint("/b.jpg").has_embedding


def test_embeddings_follow_their_results_rows(store):
    rows = [result(f"/{name}.jpg", np.ones(4, np.float32)) for name in "abcd"]
    store.put_many(rows)
    store.remove(["/a.jpg"])  # the file is gone
    store.move("/b.jpg", "/moved.jpg")  # the file was renamed
    store.put_many([result("/c.jpg", size=999)])  # the file changed: the old vector is stale
    store.put_many([result("/d.jpg")])  # classified again, unchanged: the vector still holds
    stored = {os.fsdecode(p) for (p,) in store.db.execute("SELECT path FROM embeddings")}
    assert stored == {"/moved.jpg", "/d.jpg"}


def test_scan_with_embeddings_stores_one_per_image(photos, make_classifier, store):
    (photos / "broken.jpg").write_text("not an image")
    classifier = make_classifier()
    _, summary, results = run_scan([photos], classifier, store, embeddings=True)
    assert summary.scanned == 6 and summary.errors == 1
    assert store.embedding_count(classifier.model_id) == 5
    # What was stored is what the model gives for that file, within float16 rounding.
    photo = str(photos / "photo_0002.png")
    np.testing.assert_allclose(store.embedding(photo, classifier.model_id),
                               query_embedding(photo, classifier), rtol=2e-3, atol=2e-3)
    plain = {r.path: r.nsfw_score for r in results}
    stored = {r.path: r.nsfw_score for r in store.results()}
    assert stored == plain


def test_turning_embeddings_on_later_fills_them_in(photos, make_classifier, store):
    classifier = make_classifier()
    run_scan([photos], classifier, store)
    assert store.embedding_count() == 0
    started, _, _ = run_scan([photos], classifier, store, embeddings=True)
    assert started.to_classify == 5
    assert store.embedding_count() == 5
    started, _, _ = run_scan([photos], classifier, store, embeddings=True)
    assert started.to_classify == 0  # complete now: nothing to do


def test_scan_without_embeddings_keeps_the_plain_classifier(photos, make_classifier, store):
    classifier = make_classifier()
    _, _, results = run_scan([photos], classifier, store)
    assert all(r.embedding is None for r in results)
    assert store.embedding_count() == 0


def test_find_similar_ranks_an_exact_copy_first(tmp_path, make_classifier, store):
    library = tmp_path / "library"
    originals = write_photos(library, 6)
    copy = library / "copy_of_photo_3.png"
    shutil.copyfile(originals[3], copy)
    classifier = make_classifier()
    run_scan([library], classifier, store, embeddings=True)

    # The query is in the database: its stored vector is used and it is not its own match.
    matches = find_similar(store.path, originals[3], classifier, top_k=3)
    assert matches[0].path == str(copy) and matches[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert str(originals[3]) not in [m.path for m in matches]
    assert len(matches) == 3

    # A query from outside the library is embedded on the fly.
    outside = tmp_path / "outside.png"
    shutil.copyfile(originals[1], outside)
    fresh = make_classifier()
    matches = find_similar(store.path, outside, fresh, top_k=2)
    assert fresh.model is not None  # it had to run the model
    assert matches[0].path == str(originals[1]) and matches[0].similarity > 0.999


def test_find_similar_by_vector_and_after_changes(tmp_path, make_classifier, store):
    library = tmp_path / "library"
    photos = write_photos(library, 4)
    classifier = make_classifier()
    run_scan([library], classifier, store, embeddings=True)
    vector = store.embedding(str(photos[2]), classifier.model_id)
    assert find_similar(store.path, vector, classifier, top_k=1)[0].path == str(photos[2])
    # The kept matrix must notice a file moved (same count of rows) and one removed.
    moved = library / "renamed.png"
    os.rename(photos[2], moved)
    store.move(str(photos[2]), str(moved))
    assert find_similar(store.path, vector, classifier, top_k=1)[0].path == str(moved)
    os.remove(moved)
    run_scan([library], classifier, store, embeddings=True)
    assert str(moved) not in [m.path for m in find_similar(store.path, vector, classifier, top_k=5)]


def test_find_similar_explains_what_is_missing(tmp_path, make_classifier, store, photos):
    classifier = make_classifier()
    with pytest.raises(EmbeddingsError, match="no results database"):
        find_similar(tmp_path / "nowhere.db", photos / "photo_0000.png", classifier)
    run_scan([photos], classifier, store)  # without embeddings
    with pytest.raises(EmbeddingsError, match="scan with embeddings turned on"):
        find_similar(store.path, photos / "photo_0000.png", classifier)
    run_scan([photos], classifier, store, embeddings=True)
    (tmp_path / "junk.jpg").write_text("junk")
    with pytest.raises(ImageError, match="not an image"):
        find_similar(store.path, tmp_path / "junk.jpg", classifier)


def test_find_similar_reads_while_a_scan_writes(tmp_path, make_classifier, store):
    library = tmp_path / "library"
    write_photos(library, 3)
    classifier = make_classifier()
    run_scan([library], classifier, store, embeddings=True)
    writer = sqlite3.connect(store.path)
    writer.execute("BEGIN IMMEDIATE")  # a scan holding the write lock
    try:
        done = []
        worker = threading.Thread(target=lambda: done.append(
            find_similar(store.path, library / "photo_0000.png", classifier, top_k=2)))
        worker.start()
        worker.join(20)
        assert done and len(done[0]) == 2
    finally:
        writer.rollback()
        writer.close()


def test_embedding_classifier_refuses_a_remote_classifier():
    from nsfw_desktop.classify.remote import RemoteClassifier

    with pytest.raises(ModelError, match="a model on this computer"):
        EmbeddingClassifier(RemoteClassifier(["https://example.org"]))
