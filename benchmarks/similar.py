"""Find similar over 100,000 or 1,000,000 stored embeddings: ours, an earlier revision, exact float32.

The database holds ``--count`` random 768-dimensional float16 embeddings of the
ViT-B/16 benchmark model (made once, then reused), one of them belonging to a
real file, so a query by file uses the stored vector as the desktop app's "Find
similar" does. Every measurement runs in a fresh process, so "first query"
means the first after start, and resident memory is that process's own:

- ours, first build: the first query ever, which writes the int8 matrix file;
- ours: the first query after start (the file is there), further queries by vector
  and by stored file, then the query after a scan batch of 1,000 new embeddings and
  after their removal (the matrix follows the database's log);
- previous (with ``--previous DIR``, a source tree of an earlier revision, e.g.
  ``git archive REV | tar -x -C DIR``): that revision's own measurement of "ours",
  run from DIR on the same database (its own matrix file is made before the rounds);
- reference: the find similar before the matrix file, every vector read from SQLite
  into a float32 matrix kept in memory (an exact float32 search), first query and
  further queries.

They alternate, ``--rounds`` each. The top 10 of ours (and of previous) must equal
the reference's (exact float32) on the timed queries.

    python -m benchmarks.similar [--count 100000] [--dir DIR] [--previous DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nsfw_desktop.files.paths import HOME_ENV
from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import EMBEDDING_DTYPE, Store

DIMENSIONS = 768  # ViT-B/16 hidden size
TOP_K = 10
BATCH = 1_000  # new embeddings of one scan batch, generously large


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


def memory() -> dict[str, int]:
    """This process's resident memory (bytes): all of it, anonymous, file-backed, and peak."""
    fields = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in fields:
            found[fields[name]] = int(value.split()[0]) * 1024
    return found


class ReferenceIndex:
    """The previous find similar: all vectors read from SQLite into a unit float32 matrix kept
    in memory; each query opened the database to read its generation counter (is the kept
    matrix current?) and multiplied the whole matrix."""

    def __init__(self, db_path: Path, model: str):
        self.db_path = db_path
        with Store(db_path, read_only=True) as store:
            rows = store.db.execute("SELECT path, vector FROM embeddings WHERE model=?",
                                    (model,)).fetchall()
        self.paths = [os.fsdecode(path) for path, _ in rows]
        matrix = np.frombuffer(b"".join(v for _, v in rows), EMBEDDING_DTYPE).reshape(len(rows), -1)
        matrix = matrix.astype(np.float32)
        matrix /= np.maximum(np.sqrt(np.einsum("ij,ij->i", matrix, matrix)),
                             np.finfo(np.float32).tiny)[:, None]
        self.matrix = matrix

    def search(self, query: np.ndarray) -> list[str]:
        db = sqlite3.connect(f"{self.db_path.as_uri()}?mode=ro", uri=True)
        try:
            db.execute("SELECT generation FROM embeddings_generation").fetchone()
        finally:
            db.close()
        query = query.astype(np.float32) / np.linalg.norm(query)
        similarities = self.matrix @ query
        best = np.argpartition(-similarities, TOP_K - 1)[:TOP_K]
        return [self.paths[i] for i in best[np.argsort(-similarities[best], kind="stable")]]


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    value = function()
    return time.perf_counter() - start, value


def child(args: argparse.Namespace) -> dict:
    """One measurement in this fresh process; printed as JSON for the parent."""
    queries = np.random.default_rng(1).standard_normal((args.queries, DIMENSIONS)).astype(np.float32)
    if args.child == "reference":
        first_s, index = timed(lambda: ReferenceIndex(args.db, args.model))
        first_s += timed(lambda: index.search(queries[0]))[0]
        times, tops = zip(*(timed(lambda q=q: index.search(q)) for q in queries), strict=True)
        return {"first_s": first_s, "query_ms": 1000 * statistics.median(times), "tops": tops,
                **memory()}

    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.similar.search import find_similar

    classifier = make_classifier(args.model_path)  # names the model; never loaded here

    def query(vector) -> list[str]:
        return [m.path for m in find_similar(args.db, vector, classifier, top_k=TOP_K)]

    first_s = timed(lambda: query(queries[0]))[0]
    times, tops = zip(*(timed(lambda q=q: query(q)) for q in queries), strict=True)
    measured = {"first_s": first_s, "query_ms": 1000 * statistics.median(times), "tops": tops}
    by_file = [timed(lambda: find_similar(args.db, args.query_file, classifier, top_k=TOP_K))[0]
               for _ in range(5)]
    if classifier.model is not None:
        raise RuntimeError("the query by file ran the model instead of using its stored embedding")
    measured.update(by_file_ms=1000 * statistics.median(by_file), **memory())
    if args.child == "ours":
        rng = np.random.default_rng(2)
        new = [f"/photos/new/IMG_{i:06d}.JPG" for i in range(BATCH)]
        with Store(args.db) as store:
            store.put_many(Result(path, "normal", 0.01, classifier.model_id, 4000, 3000, 1, 1, 0.0,
                                  embedding=rng.standard_normal(DIMENSIONS).astype(np.float32))
                           for path in new)
            measured["after_batch_ms"] = 1000 * timed(lambda: query(queries[1]))[0]
            store.remove(new)
            measured["after_removal_ms"] = 1000 * timed(lambda: query(queries[1]))[0]
    return measured


def run_child(args: argparse.Namespace, kind: str) -> dict:
    """``kind``: ours, reference, or previous (the revision in ``--previous``, its ours)."""
    command = [sys.executable, "-m", "benchmarks.similar",
               "--child", "ours" if kind == "previous" else kind,
               "--db", str(args.db), "--model", args.model, "--model-path", args.model_path,
               "--query-file", str(args.query_file), "--queries", str(args.queries)]
    # python -m finds the package in its working folder first: the previous revision's, there.
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600,
                          cwd=args.previous if kind == "previous" else None)
    if done.returncode:
        raise RuntimeError(f"the {kind} measurement failed:\n{done.stderr}")
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="stored embeddings")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "nsfw-bench",
                        help="where the model, the photo and the database are kept")
    parser.add_argument("--queries", type=int, default=30, help="timed queries a measurement")
    parser.add_argument("--rounds", type=int, default=2, help="of each version, alternating")
    parser.add_argument("--previous", type=Path, help="source tree of an earlier revision to compare")
    for internal in ("--child", "--db", "--model", "--model-path", "--query-file"):
        parser.add_argument(internal, help=argparse.SUPPRESS)
    args = parser.parse_args()
    # The matrix files go to a cache folder of the benchmark's own, not the user's.
    os.environ[HOME_ENV] = str(args.dir / "home")
    if args.child:
        args.db, args.query_file = Path(args.db), Path(args.query_file)
        print(json.dumps(child(args)))
        return

    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.similar.search import find_similar

    args.model_path = str(make_vit_b16(args.dir / "vit-b16"))
    args.model = make_classifier(args.model_path).model_id
    args.query_file = make_camera_jpegs(args.dir / "similar-query", 1)[0]
    args.db = (args.dir / f"similar-{args.count}.sqlite3").resolve()
    if stored_count(args.db, args.model) != args.count:
        args.db.unlink(missing_ok=True)
        build = timed(lambda: build_database(args.db, args.count, args.model, args.query_file))[0]
        print(f"built {args.db} in {build:.0f} s")
    # No matrix file yet: the first query ever builds it (in this process, not timed here).
    from nsfw_desktop.similar import matrix_file, search

    matrix_file.matrix_path(matrix_file.owner_key(args.db, args.model)).unlink(missing_ok=True)
    build_s = timed(lambda: find_similar(args.db, np.ones(DIMENSIONS), make_classifier(args.model_path)))[0]
    search._kept.clear()

    kinds = ("ours", "previous", "reference") if args.previous else ("ours", "reference")
    if args.previous:
        run_child(args, "previous")  # makes its matrix file, if its format differs from ours
    measured = {kind: [] for kind in kinds}
    for _ in range(args.rounds):
        for kind in kinds:
            measured[kind].append(run_child(args, kind))
    ours, reference = measured["ours"], measured["reference"]

    def equal(rounds):
        exact = reference[0]["tops"]
        return [a == b for round_ in rounds for a, b in zip(round_["tops"], exact, strict=True)]

    def rounds_s(rounds):
        return ", ".join(f"{r['first_s']:.2f}" for r in rounds)

    def median(rounds, key):
        return statistics.median(r[key] for r in rounds)

    gb = 1e9
    versions = tuple(measured.items())

    def compared(key, unit, form):
        mine = median(ours, key)
        return f"ours {mine:{form}} {unit}" + "".join(
            f" | {name} {median(rounds, key):{form}} {unit} ({median(rounds, key) / mine:.2f}x)"
            for name, rounds in versions[1:])

    print(f"stored embeddings:           {args.count:,} x {DIMENSIONS} (float16 in SQLite)")
    print(f"first query ever (builds the matrix file): {build_s:.1f} s")
    print(f"first query after start:     {compared('first_s', 's', '.2f')}")
    print("  each round:                " + "; ".join(f"{name} {rounds_s(r)}" for name, r in versions))
    print(f"further query, by vector:    {compared('query_ms', 'ms', '.1f')}")
    print(f"further query, stored file:  ours {median(ours, 'by_file_ms'):.1f} ms")
    print(f"query after a batch of {BATCH:,} new: {median(ours, 'after_batch_ms'):.0f} ms | after their "
          f"removal: {median(ours, 'after_removal_ms'):.0f} ms")
    for name, rounds in versions:
        rss, anon, file, peak = (max(r[key] for r in rounds) / gb for key in ("rss", "anon", "file", "peak"))
        print(f"resident memory, {name:9}   {rss:.2f} GB (anonymous {anon:.2f}, mapped files {file:.2f}), "
              f"peak {peak:.2f} GB")
    for name, rounds in versions[:-1]:
        same = equal(rounds)
        print(f"top {TOP_K} of {name} equal to the exact float32 search: {sum(same)}/{len(same)} queries")
    print(f"rounds: {args.rounds} of each, alternating; {args.queries} queries a measurement; "
          f"load average before the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
