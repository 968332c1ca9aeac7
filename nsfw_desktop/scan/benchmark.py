"""Scan throughput: our pipeline against a naive loop over transformers' pipeline.

Both run on the same files with the same model in one process, weights loaded
before the clock starts, in alternating rounds (a shared machine's load falls on
both). The naive loop is what a script would do: ``pipeline("image-classification")``
called once per file path. Also printed:
peak memory of our scan, and how far our scores (reduced-size JPEG decoding)
are from the naive loop's (full decode).

    nsfw-desktop bench PATH [--model M] [--batch-size N]
    python -m nsfw_desktop.scan.benchmark PATH [--model M]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from dataclasses import dataclass

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.scan.engine import BatchDone, scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.scan.walker import WalkReport, walk
from nsfw_desktop.store.results import Store


@dataclass
class BenchResult:
    files: int
    ours_per_second: float
    naive_per_second: float
    peak_rss_mb: float  # of the process after our scan, before the naive loop ran
    mean_score_diff: float
    max_score_diff: float

    @property
    def ratio(self) -> float:
        return self.ours_per_second / self.naive_per_second

    def report(self) -> str:
        return "\n".join([
            f"files:                 {self.files}",
            f"ours (nsfw-desktop):   {self.ours_per_second:.2f} images/s",
            f"naive pipeline loop:   {self.naive_per_second:.2f} images/s",
            f"ratio:                 {self.ratio:.2f}x",
            f"peak memory (ours):    {self.peak_rss_mb:.0f} MB",
            f"score difference:      mean {self.mean_score_diff:.4f}, max {self.max_score_diff:.4f} "
            "(ours vs naive)",
        ])


def run(path: str, model: str | None = None, *, batch_size: int = 8, workers: int = 2,
        rounds: int = 3) -> BenchResult:
    """``rounds`` alternating rounds of our scan and the naive loop, so that load from
    other work on a shared machine falls on both; throughput over all rounds."""
    from transformers import pipeline

    from nsfw_desktop.classify.local import LocalClassifier

    files = [entry.path for entry in walk([path], WalkReport())]
    if not files:
        raise ValueError(f"no images found under {path}")
    classifier = make_classifier(model)
    if not isinstance(classifier, LocalClassifier):
        raise ValueError(f"bench compares our scan with transformers' pipeline, so it needs a transformers "
                         f"checkpoint; {classifier.model_id} is not one")
    classifier.load()
    ours: dict[str, float | None] = {}
    ours_seconds = naive_seconds = 0.0
    peak_rss_mb = 0.0
    reference = None
    unsafe = {classifier.labels.labels[i] for i in classifier.labels.unsafe_indices}
    diffs = []
    for round_number in range(rounds):
        with tempfile.TemporaryDirectory() as tmp, Store(os.path.join(tmp, "bench.db")) as store:
            start = time.perf_counter()
            options = DecodeOptions(batch_size=batch_size, decode_workers=workers)
            for event in scan([path], classifier, store, options=options):
                if isinstance(event, BatchDone):
                    ours.update((r.path, r.nsfw_score) for r in event.results)
            ours_seconds += time.perf_counter() - start
        if reference is None:
            # Before the reference loads its own copy of the model.
            peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            reference = pipeline("image-classification", model=str(classifier.source.folder),
                                 device="cpu")
        start = time.perf_counter()
        for file in files:
            scores = reference(file, top_k=None)
            naive_score = sum(d["score"] for d in scores if d["label"] in unsafe)
            if round_number == 0 and ours.get(file) is not None:
                diffs.append(abs(naive_score - ours[file]))
        naive_seconds += time.perf_counter() - start
    return BenchResult(
        files=len(files),
        ours_per_second=rounds * len(files) / ours_seconds,
        naive_per_second=rounds * len(files) / naive_seconds,
        peak_rss_mb=peak_rss_mb,
        mean_score_diff=sum(diffs) / len(diffs) if diffs else 0.0,
        max_score_diff=max(diffs, default=0.0),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Scan throughput against a naive pipeline loop.")
    parser.add_argument("path")
    parser.add_argument("--model", default=None)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    args = parser.parse_args()
    print(run(args.path, args.model, batch_size=args.batch_size, rounds=args.rounds).report())


if __name__ == "__main__":
    main()
