"""The shared classify-and-commit path: when a stored row is current, and what a batch commits."""

from __future__ import annotations

import pytest

from nsfw_desktop.scan.pipeline import ScanControl, classify_and_commit, entries_for_paths, is_current
from nsfw_desktop.scan.types import DecodeOptions, FileEntry, ScanPolicy
from nsfw_desktop.store.result import Fingerprint
from tests.conftest import write_photos

ENTRY = FileEntry("/photos/a.jpg", size=100, mtime_ns=5)


def stored(*, size=100, mtime=5, model="m", failed=False, has_embedding=False) -> Fingerprint:
    return Fingerprint(size, mtime, model, None if failed else 0.2, failed, has_embedding,
                       policy_score=None, review=None)


@pytest.mark.parametrize(("row", "policy", "current"), [
    (None, ScanPolicy(), False),  # never classified
    (stored(), ScanPolicy(), True),
    (stored(size=101), ScanPolicy(), False),  # the file changed
    (stored(mtime=6), ScanPolicy(), False),
    (stored(model="other"), ScanPolicy(), False),  # another model classified it
    (stored(failed=True), ScanPolicy(), True),  # errors wait until the file changes...
    (stored(failed=True), ScanPolicy(retry_errors=True), False),  # ...unless a retry is asked for
    (stored(), ScanPolicy(embeddings=True), False),  # embeddings asked for, none stored
    (stored(has_embedding=True), ScanPolicy(embeddings=True), True),
    (stored(failed=True), ScanPolicy(embeddings=True), True),  # an error has no embedding to fill in
])
def test_is_current(row, policy, current):
    assert is_current(row, ENTRY, "m", policy) is current


def test_each_batch_is_committed_with_its_embeddings_before_it_is_yielded(tmp_path, local, store):
    photos = write_photos(tmp_path / "photos", 3)
    entries = list(entries_for_paths(map(str, photos)))
    batches = classify_and_commit(entries, local, store, ScanPolicy(embeddings=True),
                                  DecodeOptions(batch_size=2))
    first = next(batches)
    assert len(first) == 2 and store.count() == 2  # committed before we saw it
    assert all(store.fingerprint(r.path).has_embedding for r in first)
    rest = list(batches)
    assert [len(batch) for batch in rest] == [1] and store.embedding_count() == 3


def test_a_cancelled_control_stops_between_batches(tmp_path, local, store):
    photos = write_photos(tmp_path / "photos", 4)
    control = ScanControl()
    batches = classify_and_commit(entries_for_paths(map(str, photos)), local, store, ScanPolicy(),
                                  DecodeOptions(batch_size=2), control)
    next(batches)
    control.cancel()
    assert list(batches) == [] and store.count() == 2
