"""The find-similar matrix file: exact float32 results, kept in step with the database,
rebuilt when it cannot be trusted, never shared between databases or models."""

import os
import shutil
import sqlite3
import stat

import numpy as np
import pytest

from nsfw_desktop.similar import search
from nsfw_desktop.similar.int8_rows import BLOCK
from nsfw_desktop.similar.matrix_file import HEADER_BYTES, matrix_path, owner_key
from nsfw_desktop.similar.search import find_similar
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import Store

DIM = 32


class Model:
    """What find_similar needs of a classifier to search by vector: the model's id."""

    def __init__(self, model_id="m"):
        self.model_id = model_id


def result(path, embedding, model="m", size=100):
    return Result(path=path, label="normal", nsfw_score=0.1, model=model, width=10, height=10,
                  file_size=size, mtime_ns=1, scanned_at=0.0, embedding=embedding)


def clustered(rng, count, centres=None):
    """Vectors in clusters along a few strong directions, like image embeddings (not isotropic
    noise): near neighbours are close, so float16 rounding could swap them."""
    centres = rng.standard_normal((12, DIM)) * 3 if centres is None else centres
    picked = centres[rng.integers(0, len(centres), count)]
    return (picked + rng.standard_normal((count, DIM)) * 0.3).astype(np.float32), centres


def exact_top(db_path, model, query, top_k=10):
    """Reference: every stored vector as float32, unit length, ranked by dot product."""
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT path, vector FROM embeddings WHERE model=?", (model,)).fetchall()
    db.close()
    vectors = np.array([np.frombuffer(v, "<f2") for _, v in rows], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = vectors @ (query / np.linalg.norm(query)).astype(np.float32)
    return [os.fsdecode(rows[i][0]) for i in np.argsort(-scores, kind="stable")[:top_k]]


def paths_of(db_path, query, model="m", top_k=10):
    return [m.path for m in find_similar(db_path, query, Model(model), top_k=top_k)]


def matrix_file(db_path, model="m"):
    return matrix_path(owner_key(db_path.resolve(), model))


@pytest.fixture
def library(store):
    rng = np.random.default_rng(7)
    vectors, centres = clustered(rng, 400)
    store.put_many([result(f"/photos/{i:04d}.jpg", v) for i, v in enumerate(vectors)])
    return store, rng, centres


def test_ranks_by_cosine_best_first(store):
    vectors = np.array([[2, 0, 0], [0, 1, 0], [-1, 0, 0], [1, 0.1, 0]], dtype=np.float32)
    names = ["/same-direction", "/orthogonal", "/opposite", "/close"]
    store.put_many([result(n, v) for n, v in zip(names, vectors, strict=True)])
    matches = find_similar(store.path, np.array([1.0, 0, 0]), Model(), top_k=3)
    assert [m.path for m in matches] == ["/same-direction", "/close", "/orthogonal"]
    assert matches[0].similarity == pytest.approx(1.0)
    assert matches[2].similarity == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="dimensions"):
        find_similar(store.path, np.ones(4), Model())


def test_top_10_equals_an_exact_float32_search(library):
    store, rng, centres = library
    queries, _ = clustered(rng, 50, centres)
    for query in queries:
        assert paths_of(store.path, query) == exact_top(store.path, "m", query)


def test_changes_update_the_matrix_as_a_rebuild_would(library):
    store, rng, centres = library
    queries, _ = clustered(rng, 20, centres)
    paths_of(store.path, queries[0])  # builds the file
    built = os.stat(matrix_file(store.path)).st_ino

    new, _ = clustered(rng, 60, centres)
    store.put_many([result(f"/new/{i}.jpg", v) for i, v in enumerate(new)])  # a scan batch
    store.move("/photos/0003.jpg", "/moved/0003.jpg")
    store.remove([f"/photos/{i:04d}.jpg" for i in range(10, 30)])
    changed, _ = clustered(rng, 5, centres)  # files that changed, classified again
    store.put_many([result(f"/photos/{i:04d}.jpg", v, size=999) for i, v in zip(range(40, 45), changed,
                                                                                 strict=True)])
    followed = [paths_of(store.path, q) for q in queries]
    assert os.stat(matrix_file(store.path)).st_ino == built  # updated in place, not rebuilt
    assert followed[0] == exact_top(store.path, "m", queries[0])

    search._kept.clear()
    matrix_file(store.path).unlink()
    assert [paths_of(store.path, q) for q in queries] == followed  # a rebuild agrees
    assert paths_of(store.path, store.embedding("/moved/0003.jpg", "m"), top_k=1) == ["/moved/0003.jpg"]
    gone = {f"/photos/{i:04d}.jpg" for i in range(10, 30)}
    assert not gone & {p for top in followed for p in top}


def test_a_log_that_no_longer_reaches_back_rebuilds(library):
    store, rng, centres = library
    query = clustered(rng, 1, centres)[0][0]
    paths_of(store.path, query)
    more, _ = clustered(rng, 30, centres)
    store.put_many([result(f"/more/{i}.jpg", v) for i, v in enumerate(more)])
    store.db.execute("DELETE FROM embeddings_log")  # what trimming does to a long-unused file
    store.db.commit()
    assert paths_of(store.path, query) == exact_top(store.path, "m", query)


@pytest.mark.parametrize("damage", ["header", "truncated"])
def test_a_damaged_matrix_file_is_rebuilt(library, damage):
    store, rng, centres = library
    query = clustered(rng, 1, centres)[0][0]
    expected = paths_of(store.path, query)
    search._kept.clear()  # as after a restart
    with open(matrix_file(store.path), "r+b") as file:
        if damage == "header":
            file.seek(20)
            file.write(b"garbage")
        else:
            file.truncate(HEADER_BYTES + 1000)
    assert paths_of(store.path, query) == expected


def test_rows_renumbered_behind_its_back_are_noticed(library):
    store, rng, centres = library
    queries, _ = clustered(rng, 10, centres)
    paths_of(store.path, queries[0])
    # What SQLite allows VACUUM to do: renumber the rows (here 1..400 to 400..1), logging nothing.
    store.db.execute("UPDATE embeddings SET rowid = -rowid")
    store.db.execute("UPDATE embeddings SET rowid = 401 + rowid")
    store.db.commit()
    for query in queries:
        assert paths_of(store.path, query) == exact_top(store.path, "m", query)


def test_another_database_or_model_never_uses_the_matrix(library, tmp_path):
    store, rng, centres = library
    query = clustered(rng, 1, centres)[0][0]
    paths_of(store.path, query)

    # Another model's vectors in the same database: a file of its own, only its rows.
    other, _ = clustered(rng, 5, centres)
    store.put_many([result(f"/other/{i}.jpg", v, model="other") for i, v in enumerate(other)])
    shutil.copyfile(matrix_file(store.path), matrix_file(store.path, "other"))
    assert set(paths_of(store.path, query, "other")) == {f"/other/{i}.jpg" for i in range(5)}

    # A new database at the same path, with as many rows: its own identity, so a new file.
    store.close()
    for suffix in ("", "-wal", "-shm"):
        store.path.with_name(store.path.name + suffix).unlink(missing_ok=True)
    with Store(store.path) as fresh:
        vectors, _ = clustered(rng, 400, centres)
        fresh.put_many([result(f"/fresh/{i:04d}.jpg", v) for i, v in enumerate(vectors)])
    assert paths_of(store.path, query) == exact_top(store.path, "m", query)
    assert all(p.startswith("/fresh/") for p in paths_of(store.path, query))


def test_the_matrix_file_is_private(library):
    store, rng, centres = library
    paths_of(store.path, clustered(rng, 1, centres)[0][0])
    path = matrix_file(store.path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_schema_2_database_with_embeddings_is_upgraded_and_followed(tmp_path):
    path = tmp_path / "old.sqlite3"
    with Store(path) as store:  # then taken back to schema 2, as the previous version left it
        store.db.executescript("""
            DROP TRIGGER embeddings_log_insert; DROP TRIGGER embeddings_log_change;
            DROP TRIGGER embeddings_log_delete; DROP TRIGGER embeddings_log_trim;
            DROP TABLE embeddings_log; DROP TABLE database_identity; PRAGMA user_version = 2;""")
    rng = np.random.default_rng(3)
    vectors, centres = clustered(rng, 50)
    with sqlite3.connect(path) as db:
        for i, vector in enumerate(vectors):
            name = os.fsencode(f"/old/{i}.jpg")
            db.execute("INSERT INTO results (path, model, file_size, mtime_ns, scanned_at) "
                       "VALUES (?, 'm', 1, 1, 0)", (name,))
            db.execute("INSERT OR REPLACE INTO embeddings VALUES (?, 'm', ?)",
                       (name, vector.astype("<f2").tobytes()))
    with Store(path) as store:  # upgraded on opening
        query = clustered(rng, 1, centres)[0][0]
        assert paths_of(path, query) == exact_top(path, "m", query)
        store.put_many([result("/new.jpg", query)])
        assert paths_of(path, query, top_k=1) == ["/new.jpg"]


def test_a_float16_matrix_of_version_1_is_replaced(library):
    """Version 1 kept float16 rows in ``*.f16``; its layout cannot be read as int8 rows."""
    store, rng, centres = library
    query = clustered(rng, 1, centres)[0][0]
    expected = paths_of(store.path, query)
    search._kept.clear()  # as after a restart with the new version
    path = matrix_file(store.path)
    old = path.with_suffix(".f16")
    shutil.copyfile(path, old)
    built = os.stat(path).st_ino
    with open(path, "r+b") as file:  # the magic of version 1, the header otherwise whole
        file.write(b"NSFWSIM1")
    assert paths_of(store.path, query) == expected == exact_top(store.path, "m", query)
    assert os.stat(path).st_ino != built  # rebuilt, not read as int8
    assert not old.exists()  # and version 1's file, 1.5 KB a photo, is gone


def test_rows_on_both_sides_of_a_block_boundary_are_found_and_followed(store):
    """Rows are columns of transposed 4,096-row blocks: a batch across the boundary is split."""
    rng = np.random.default_rng(11)
    vectors, centres = clustered(rng, BLOCK - 10)
    store.put_many([result(f"/a/{i:05d}.jpg", v) for i, v in enumerate(vectors)])
    queries, _ = clustered(rng, 10, centres)
    paths_of(store.path, queries[0])  # builds the file
    more, _ = clustered(rng, 30, centres)
    store.put_many([result(f"/b/{i}.jpg", v) for i, v in enumerate(more)])  # rows 4086..4115
    store.remove([f"/a/{i:05d}.jpg" for i in range(0, BLOCK - 10, 7)])
    for i in (0, 9, 10, 29):  # each new row finds itself first, on either side
        assert paths_of(store.path, more[i], top_k=1) == [f"/b/{i}.jpg"]
    for query in queries:
        assert paths_of(store.path, query) == exact_top(store.path, "m", query)


def test_a_crowd_of_near_duplicates_larger_than_the_candidate_cap_still_fills_top_k(store):
    rng = np.random.default_rng(5)
    crowd = (np.ones(DIM) + rng.standard_normal((1200, DIM)) * 1e-2).astype(np.float32)  # one burst
    store.put_many([result(f"/burst/{i:04d}.jpg", v) for i, v in enumerate(crowd)])
    query = np.ones(DIM, np.float32)
    found = paths_of(store.path, query, top_k=1100)
    # All 1,200 are within rounding error of each other: which 1,100 is the cap's choice.
    assert len(set(found)) == 1100
