"""Find similar over 100,000 stored embeddings: our kept-matrix query against two references.

The database holds ``--count`` random 768-dimensional float16 embeddings of
the ViT-B/16 benchmark model (made once, then reused), one of them belonging to
a real file, so a query by file uses the stored vector as the desktop app's
"Find similar" does. Measured in one run:

- ours: ``find_similar`` by vector and by stored file (median of many queries,
  after the matrix was loaded once; the one-off load time is printed too);
- reference 1, SQLite scan: every query reads all vectors from the database and
  ranks them with the same NumPy code (what a search without a kept matrix costs);
- reference 2, per-row loop: cosine similarity row by row in Python over vectors
  already in memory, keeping the best with ``heapq``.

    python -m nsfw_desktop.benchmarks.similar [--count 100000] [--dir /tmp/nsfw-bench]
"""

from __future__ import annotations

import argparse
import heapq
import os
import sqlite3
import statistics
import time
from pathlib import Path

import numpy as np

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.sample_data import make_camera_jpegs, make_vit_b16
from nsfw_desktop.search import SimilarityIndex, find_similar
from nsfw_desktop.store import EMBEDDING_DTYPE, Result, Store

DIMENSIONS = 768  # ViT-B/16 hidden size
TOP_K = 10


def build_database(path: Path, count: int, model: str, query_file: Path) -> None:
    """``count`` results rows with random float16 embeddings; row 0 is ``query_file``."""
    rng = np.random.default_rng(0)
    info = query_file.stat()
    with Store(path) as store:
        for start in range(0, count, 10_000):
            rows = []
            for i in range(start, min(count, start + 10_000)):
                file = str(query_file) if i == 0 else f"/photos/{i // 1000:03d}/IMG_{i:06d}.JPG"
                size, mtime = (info.st_size, info.st_mtime_ns) if i == 0 else (3_000_000 + i, i)
                rows.append(Result(file, "normal", 0.01, model, 4000, 3000, size, mtime, 0.0,
                                   embedding=rng.standard_normal(DIMENSIONS).astype(np.float32)))
            store.put_many(rows)


def stored_count(path: Path, model: str) -> int:
    if not path.exists():
        return 0
    with Store(path) as store:
        return store.embedding_count(model)


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def sqlite_scan(db_path: Path, model: str, query: np.ndarray) -> list:
    db = sqlite3.connect(db_path)
    try:
        return SimilarityIndex.load(db, model).search(query, TOP_K)
    finally:
        db.close()


def per_row_loop(paths: list[str], rows: list[np.ndarray], query: np.ndarray) -> list:
    query = query.astype(np.float32)
    query_norm = float(np.linalg.norm(query))
    scored = ((float(np.dot(row, query)) / (float(np.linalg.norm(row)) * query_norm), path)
              for path, row in zip(paths, rows, strict=True))
    return heapq.nlargest(TOP_K, scored)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="stored embeddings")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/nsfw-bench"),
                        help="where the model, the photo and the database are kept")
    parser.add_argument("--queries", type=int, default=30, help="timed queries of ours")
    args = parser.parse_args()

    classifier = make_classifier(str(make_vit_b16(args.dir / "vit-b16")))  # never loaded here
    model = classifier.model_id
    query_file = make_camera_jpegs(args.dir / "similar-query", 1)[0]
    db_path = args.dir / f"similar-{args.count}.sqlite3"
    if stored_count(db_path, model) != args.count:
        db_path.unlink(missing_ok=True)
        start = time.perf_counter()
        build_database(db_path, args.count, model, query_file)
        print(f"built {db_path} in {time.perf_counter() - start:.1f} s")

    rng = np.random.default_rng(1)
    queries = [rng.standard_normal(DIMENSIONS).astype(np.float32) for _ in range(args.queries)]
    start = time.perf_counter()
    find_similar(db_path, queries[0], classifier, top_k=TOP_K)  # loads and keeps the matrix
    load_s = time.perf_counter() - start

    pending = iter(queries * 2)
    ours_vector_ms = median_ms(lambda: find_similar(db_path, next(pending), classifier, top_k=TOP_K),
                               args.queries)
    ours_file_ms = median_ms(lambda: find_similar(db_path, query_file, classifier, top_k=TOP_K),
                             args.queries)
    if classifier.model is not None:
        raise RuntimeError("the query by file ran the model instead of using its stored embedding")

    with Store(db_path) as store:
        stored = store.db.execute("SELECT path, vector FROM embeddings WHERE model=?", (model,)).fetchall()
    paths = [os.fsdecode(path) for path, _ in stored]
    rows = [np.frombuffer(vector, dtype=EMBEDDING_DTYPE).astype(np.float32) for _, vector in stored]
    query = queries[0]
    sqlite_ms = median_ms(lambda: sqlite_scan(db_path, model, query), 3)
    loop_ms = median_ms(lambda: per_row_loop(paths, rows, query), 3)

    ours = [m.path for m in find_similar(db_path, query, classifier, top_k=TOP_K)]
    naive = [path for _, path in per_row_loop(paths, rows, query)]
    agree = "yes" if ours == naive else "NO"

    print(f"stored embeddings:          {args.count} x {DIMENSIONS} (float16 in SQLite)")
    print(f"matrix load (once):         {load_s * 1000:.0f} ms")
    print(f"ours, query by vector:      {ours_vector_ms:.1f} ms (median of {args.queries})")
    print(f"ours, query by stored file: {ours_file_ms:.1f} ms (median of {args.queries})")
    print(f"reference, SQLite scan:     {sqlite_ms:.1f} ms  -> ours {sqlite_ms / ours_vector_ms:.1f}x faster")
    print(f"reference, per-row loop:    {loop_ms:.1f} ms  -> ours {loop_ms / ours_vector_ms:.1f}x faster")
    print(f"same top {TOP_K} as the per-row loop: {agree}")


if __name__ == "__main__":
    main()
