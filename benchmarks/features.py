"""What embeddings and attention maps add to a forward pass of the ViT-B/16.

One batch of prepared camera photos runs through the loaded model, the three
ways interleaved round after round so that load from other processes hits them
alike: the plain ``predict`` a scan makes (reference, fused SDPA attention),
``predict`` with embeddings (what ``scan --embeddings`` makes), and a pass with
attention maps (the eager path heatmaps need), plus a whole heatmap (``explain``
of one 1024-pixel preview) beside a plain prediction of that one image.

    python -m benchmarks.features [--batch-size 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.classify.features import extract
from nsfw_desktop.explain.heatmap import PREVIEW_SIDE, explain
from nsfw_desktop.media.imaging import load_image
from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "nsfw-bench",
                        help="where the model and the photos are kept")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    classifier = make_classifier(str(make_vit_b16(args.dir / "vit-b16")), device="cpu")
    classifier.load()
    photos = make_camera_jpegs(args.dir / "camera", args.batch_size)
    images = [load_image(p, min_side=2 * classifier.input_size).frames[0] for p in photos]
    batch = [classifier.prepare(image) for image in images]
    preview = images[0].copy()
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    single = [classifier.prepare(preview)]
    embedder = EmbeddingClassifier(classifier)

    ways = {
        "plain predict (reference)": lambda: classifier.predict(batch),
        "predict with embeddings": lambda: embedder.predict(batch),
        "with attention maps": lambda: extract(classifier, batch, attentions=True),
        "one image: plain predict": lambda: classifier.predict(single),
        "one image: rollout heatmap": lambda: explain(classifier, preview, method="rollout"),
    }
    for way in ways.values():  # warm up: allocator, the eager twin, capture hooks
        way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            times[name].append(timed(way))
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}

    reference = median["plain predict (reference)"]
    print(f"batch of {args.batch_size} camera photos, ViT-B/16, median of {args.rounds} rounds")
    for name in ("plain predict (reference)", "predict with embeddings", "with attention maps"):
        print(f"{name:28s} {median[name]:8.0f} ms  {median[name] / reference:5.2f}x the reference")
    one = median["one image: plain predict"]
    for name in ("one image: plain predict", "one image: rollout heatmap"):
        print(f"{name:28s} {median[name]:8.0f} ms  {median[name] / one:5.2f}x the plain predict")


if __name__ == "__main__":
    main()
