"""Precision modes: scan throughput and agreement of exact, balanced and fast on a ViT-B/16.

A random ViT-B/16 (Falconsai's architecture and cost, its head spread so that
scores cover 0..1) screens 12-megapixel camera JPEGs. Each round runs the naive
loop (transformers' ``pipeline("image-classification")`` once per file) and our
scan in each precision, and the NudeNet detector (a peer users pick for speed: its own
``NudeDetector().detect(path)`` per file, as its users call it; the ``bench`` extra
installs it), one after the other (each round starting with the next), so that load
from other processes hits them alike. Printed: images/s of each, ratios to the naive
loop and to NudeNet, the largest score difference against exact and the labels that
flip at the threshold; how close the CLS embeddings of balanced and fast come to exact's (what
find similar stores); then where a picture's time goes (decoding, preparing, the
model alone), to show whether the decode side keeps up with the fast model.

    python -m benchmarks.precision [--photos 24] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from nsfw_desktop.classify import PRECISIONS, make_classifier
from nsfw_desktop.files import paths
from nsfw_desktop.media.imaging import load_image
from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16
from nsfw_desktop.scan.engine import BatchDone, scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.store.results import Store

HEAD_SCALE = 8.0  # random init leaves every score near 0.5; this spreads them over 0.05..1
THRESHOLD = 0.5


def timed(function) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def our_scan(folder: Path, classifier, batch_size: int) -> dict[str, float]:
    scores = {}
    with tempfile.TemporaryDirectory() as tmp, Store(os.path.join(tmp, "bench.db")) as store:
        options = DecodeOptions(batch_size=batch_size, decode_workers=2)
        for event in scan([str(folder)], classifier, store, options=options, threshold=THRESHOLD):
            if isinstance(event, BatchDone):
                scores.update((r.path, r.nsfw_score) for r in event.results if r.error is None)
    return scores


def naive_loop(files: list[Path], reference, unsafe: set[str]) -> dict[str, float]:
    return {str(f): sum(d["score"] for d in reference(str(f), top_k=None) if d["label"] in unsafe)
            for f in files}


def nudenet_loop(files: list[Path], detector) -> dict[str, float]:
    """NudeNet as its users call it: one ``detect(path)`` per file (it decodes with OpenCV at
    full size). Its score here is the highest of its detections, which are body parts, not a
    verdict: it is timed, not compared with ours."""
    return {str(f): max((d["score"] for d in detector.detect(str(f))), default=0.0) for f in files}


def load_nudenet():
    """NudeNet's detector, or None (and a note) when the bench extra is not installed."""
    try:
        from nudenet import NudeDetector
    except ImportError:
        print("NudeNet is not installed (pip install 'nsfw-desktop[bench]'): its round is left out.")
        return None
    return NudeDetector()


def embedding_agreement(files: list[Path], classifiers: dict, batch_size: int) -> list[str]:
    """Cosine similarity of each file's embedding in balanced and fast to its embedding in exact."""
    import numpy as np

    from nsfw_desktop.classify.embedding import EmbeddingClassifier

    frames = [load_image(str(f), min_side=2 * classifiers["exact"].input_size).frames[0] for f in files]
    vectors = {}
    for name, classifier in classifiers.items():
        embedder = EmbeddingClassifier(classifier)
        embedder.load()
        vectors[name] = np.stack([p.embedding for start in range(0, len(frames), batch_size)
                                  for p in embedder.predict([embedder.prepare(f) for f in
                                                             frames[start:start + batch_size]])])
    exact = vectors["exact"] / np.linalg.norm(vectors["exact"], axis=1, keepdims=True)
    lines = []
    for name in ("balanced", "fast"):
        other = vectors[name] / np.linalg.norm(vectors[name], axis=1, keepdims=True)
        cosines = (exact * other).sum(axis=1)
        lines.append(f"embeddings, {name:8s} vs exact: cosine min {cosines.min():.4f}, "
                     f"median {np.median(cosines):.4f} ({len(files)} files)")
    return lines


def where_time_goes(files: list[Path], classifiers: dict, batch_size: int) -> list[str]:
    """Per picture, on one thread: decoding, preparing (processor and direct); then the model alone."""
    exact, fast = classifiers["exact"], classifiers["fast"]
    sample = files[:batch_size]
    decode, frames = timed(lambda: [load_image(str(f), min_side=2 * exact.input_size).frames[0]
                                    for f in sample])
    processor, _ = timed(lambda: [exact.prepare(frame) for frame in frames])
    direct, prepared = timed(lambda: [fast.prepare(frame) for frame in frames])
    n = len(sample)
    lines = [f"decode (reduced JPEG, EXIF): {1000 * decode / n:6.1f} ms/picture ({frames[0].size[0]}x"
             f"{frames[0].size[1]} px)",
             f"prepare, processor (exact):  {1000 * processor / n:6.1f} ms/picture",
             f"prepare, direct (bal./fast): {1000 * direct / n:6.1f} ms/picture"]
    for name, classifier in classifiers.items():
        inputs = prepared if name == "fast" else [classifier.prepare(frame) for frame in frames]
        classifier.predict(inputs)  # warm
        # The best of three: the least disturbed by other processes.
        seconds = min(timed(lambda c=classifier, i=inputs: c.predict(i))[0] for _ in range(3))
        lines.append(f"model alone, {name:8s}:       {n / seconds:6.2f} images/s (batch of {n}, "
                     "best of 3)")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "nsfw-bench-precision")
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    # The fast model is built into (and found in) the benchmark's folder, not the user's cache.
    os.environ[paths.HOME_ENV] = str(args.dir / "home")

    model = make_vit_b16(args.dir / f"vit-b16-head{HEAD_SCALE:g}", head_scale=HEAD_SCALE)
    photos = args.dir / "camera"
    files = make_camera_jpegs(photos, args.photos)
    classifiers = {mode: make_classifier(str(model), device="cpu", precision=mode, notify=print)
                   for mode in PRECISIONS}
    for mode, classifier in classifiers.items():
        seconds, _ = timed(classifier.load)
        print(f"load {mode}: {seconds:.1f} s")
        our_scan(photos, classifier, args.batch_size)  # warm up: allocator, autocast, ORT's kernels

    from transformers import pipeline

    reference = pipeline("image-classification", model=str(model), device="cpu")
    exact = classifiers["exact"]
    unsafe = {exact.labels.labels[i] for i in exact.labels.unsafe_indices}
    naive_loop(files[:2], reference, unsafe)  # warm up
    runs = {"naive": lambda: naive_loop(files, reference, unsafe),
            **{mode: lambda m=mode: our_scan(photos, classifiers[m], args.batch_size)
               for mode in PRECISIONS}}
    detector = load_nudenet()
    if detector is not None:
        nudenet_loop(files[:2], detector)  # warm up
        runs["nudenet"] = lambda: nudenet_loop(files, detector)

    totals = dict.fromkeys(runs, 0.0)
    scores: dict[str, dict[str, float]] = {}
    order = list(runs)
    for round_number in range(args.rounds):
        # Each round starts with the next one, so none always runs in the same moment of a round.
        for name in order[round_number % len(order):] + order[:round_number % len(order)]:
            seconds, scores[name] = timed(runs[name])
            totals[name] += seconds
        print(f"round {round_number + 1}: " + ", ".join(
            f"{name} {len(files) * (round_number + 1) / total:.2f}" for name, total in totals.items()))

    exact_scores = scores["exact"]
    low, high = min(exact_scores.values()), max(exact_scores.values())
    print(f"\n{len(files)} camera JPEGs of 12 MP, {args.rounds} rounds, batch {args.batch_size}, "
          f"2 decode workers, {os.cpu_count()} CPUs; exact scores span {low:.3f}..{high:.3f}")
    naive_rate = len(files) * args.rounds / totals["naive"]
    for name, total in totals.items():
        rate = len(files) * args.rounds / total
        line = f"{name:9s} {rate:6.2f} images/s  {rate / naive_rate:5.2f}x naive"
        if name in PRECISIONS:
            diffs = [abs(scores[name][path] - exact_scores[path]) for path in exact_scores]
            flips = sum((scores[name][p] >= THRESHOLD) != (exact_scores[p] >= THRESHOLD)
                        for p in exact_scores)
            line += f"  max |score - exact| {max(diffs):.4f}, {flips} flips at {THRESHOLD}"
        elif name == "naive":
            diffs = [abs(scores["naive"][path] - exact_scores[path]) for path in exact_scores]
            line += f"  max |score - exact| {max(diffs):.4f} (full decode vs reduced)"
        else:
            line += "  (a detector: timed, not compared)"
        print(line)
    for mode in ("balanced", "fast"):
        print(f"{mode} / exact: {totals['exact'] / totals[mode]:.2f}x")
    if "nudenet" in totals:
        for mode in PRECISIONS:
            print(f"{mode} / NudeNet: {totals['nudenet'] / totals[mode]:.2f}x")
    print()
    for line in embedding_agreement(files, classifiers, args.batch_size):
        print(line)
    for line in where_time_goes(files, classifiers, args.batch_size):
        print(line)


if __name__ == "__main__":
    main()
