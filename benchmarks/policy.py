"""Rescoring 100,000 stored files with a newly adopted personal policy, without the ViT.

The database holds ``--count`` rows with random 768-dimensional float16
embeddings (made once, then reused). Rounds alternate, so load from other
processes weighs on both:

- ours: ``Store.save_policy``, which keeps the policy and rescores every row of
  its model from the stored embeddings (one matrix-vector product over blocks,
  one ``executemany``), in one commit;
- reference, per-row loop: read the rows, score each with its own NumPy dot
  product and write each score with its own UPDATE by path, in one commit.

The two must give the same scores (checked). Target: ours under 2 s.

    python -m benchmarks.policy [--count 100000] [--dir DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from nsfw_desktop.store.linear_policy import LinearPolicy, score_log_odds
from nsfw_desktop.store.result import Result
from nsfw_desktop.store.results import EMBEDDING_DTYPE, Store

DIMENSIONS = 768  # ViT-B/16 hidden size
MODEL = "benchmark-vit-b16"


def build_database(path: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    with Store(path) as store:
        for start in range(0, count, 10_000):
            store.put_many([
                Result(f"/photos/{i // 1000:03d}/IMG_{i:06d}.JPG", "normal", float(rng.uniform()), MODEL,
                       4000, 3000, 3_000_000 + i, i, 0.0,
                       embedding=rng.standard_normal(DIMENSIONS).astype(np.float32))
                for i in range(start, min(count, start + 10_000))])


def a_policy(seed: int) -> LinearPolicy:
    rng = np.random.default_rng(seed)
    return LinearPolicy(MODEL, (rng.standard_normal(DIMENSIONS + 1) * 0.05).astype(np.float32), -0.3)


def ours(store: Store, policy: LinearPolicy) -> float:
    start = time.perf_counter()
    scored = store.save_policy(policy)
    elapsed = time.perf_counter() - start
    if scored != store.count():
        raise RuntimeError(f"rescored {scored} of {store.count()} rows")
    return elapsed


def per_row_loop(store: Store, policy: LinearPolicy) -> float:
    start = time.perf_counter()
    db = store.db
    rows = db.execute("""SELECT r.path, r.nsfw_score, e.vector FROM results r JOIN embeddings e
        ON e.path = r.path AND e.model = r.model WHERE r.model=?""", (MODEL,)).fetchall()
    for path, nsfw_score, vector in rows:
        embedding = np.frombuffer(vector, dtype=EMBEDDING_DTYPE).astype(np.float32)
        logit = (float(np.dot(embedding, policy.weights[:-1]))
                 + float(score_log_odds([nsfw_score])[0]) * float(policy.weights[-1]) + policy.intercept)
        db.execute("UPDATE results SET policy_score=? WHERE path=?", (1 / (1 + np.exp(-logit)), path))
    db.commit()
    return time.perf_counter() - start


def stored_scores(store: Store) -> np.ndarray:
    return np.array(store.db.execute("SELECT policy_score FROM results ORDER BY path").fetchall(), float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="stored files with embeddings")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "nsfw-bench",
                        help="where the database is kept")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    db_path = args.dir / f"policy-{args.count}.sqlite3"
    with Store(db_path) as store:
        ready = store.embedding_count(MODEL) == args.count
    if not ready:
        db_path.unlink()
        start = time.perf_counter()
        build_database(db_path, args.count)
        print(f"built {db_path} in {time.perf_counter() - start:.1f} s")

    timings: dict[str, list[float]] = {"ours": [], "reference": []}
    with Store(db_path) as store:
        for round_ in range(args.rounds):
            policy = a_policy(round_)
            timings["ours"].append(ours(store, policy))
            mine = stored_scores(store)
            timings["reference"].append(per_row_loop(store, policy))
            theirs = stored_scores(store)
            if not np.allclose(mine, theirs, atol=1e-5):
                raise RuntimeError("ours and the per-row loop disagree on the policy scores")
    ours_s, reference_s = (statistics.median(timings[k]) for k in ("ours", "reference"))
    print(f"stored files:              {args.count} x {DIMENSIONS} (float16 embeddings in SQLite)")
    print(f"ours, Store.save_policy:   {ours_s:.2f} s (median of {args.rounds}: "
          f"{', '.join(f'{t:.2f}' for t in timings['ours'])})")
    print(f"reference, per-row loop:   {reference_s:.2f} s (median of {args.rounds}) "
          f"-> ours {reference_s / ours_s:.1f}x faster")
    print("same scores as the per-row loop: yes")


if __name__ == "__main__":
    main()
