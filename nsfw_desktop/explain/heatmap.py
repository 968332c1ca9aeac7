"""Heatmaps: where in the picture the model looked, drawn over the picture.

A ViT's attention maps say it; two methods turn a forward pass's attention maps into one weight per patch:

- ``rollout`` (Abnar & Zuidema 2020, "Quantifying Attention Flow in
  Transformers"): fuse each layer's heads (mean, or max), add the identity for
  the residual connection, renormalise the rows, and multiply the layers
  together; the CLS row of the product is how much each patch flowed into the
  token the classifier reads.
- ``last``: the CLS token's attention to the patches in the last layer, heads fused.

The patch grid is stretched over the whole picture, which matches processors
that resize to the model input without cropping (ViTImageProcessor, as the
default model uses).

open_nsfw, a ResNet, has its class activation map instead (``classify.cam``), the
method being no matter: its 7 x 7 grid covers the centre 224 x 224 crop of the picture
stretched to 256 x 256, so the picture's edges, which the model never saw, stay cold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from nsfw_desktop.classify.base import Prediction
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.classify.onnx import OPEN_NSFW_CROP, OPEN_NSFW_RESIZE, OnnxClassifier
from nsfw_desktop.scan.prepare import decode_and_prepare

METHODS = ("rollout", "last")
HEAD_FUSIONS = ("mean", "max")
# Longer side of the previews the command line draws on: enough to see detail,
# without 12-megapixel overlays.
PREVIEW_SIDE = 1024

# Google's Turbo colour map sampled at nine even steps (dark blue = low, dark red = high);
# interpolating these is close enough for a display and spares a matplotlib dependency.
_TURBO_STEPS = np.array([
    (48, 18, 59), (70, 107, 227), (40, 187, 236), (49, 242, 153), (162, 252, 60),
    (237, 208, 58), (251, 128, 34), (208, 47, 5), (122, 4, 3),
], dtype=np.float64)


def fuse_heads(attentions: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """(layers, heads, T, T) -> (layers, T, T), by the mean or the max over the heads."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head fusion must be one of {', '.join(HEAD_FUSIONS)}, not {head_fusion!r}")
    attentions = np.asarray(attentions, dtype=np.float64)
    return attentions.mean(axis=1) if head_fusion == "mean" else attentions.max(axis=1)


def rollout(attentions: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """Attention rollout of one image's (layers, heads, T, T) maps: a (T, T) matrix whose rows sum to 1.

    Row i tells how much each input token flowed into token i after the last layer.
    """
    fused = fuse_heads(attentions, head_fusion)  # (L, T, T)
    tokens = fused.shape[-1]
    result = np.eye(tokens)
    for layer in fused:
        mixed = 0.5 * layer + 0.5 * np.eye(tokens)  # the residual connection carries half
        mixed /= mixed.sum(axis=-1, keepdims=True)
        result = mixed @ result  # later layers act on what earlier ones produced
    return result


def cls_weights(attentions: np.ndarray, method: str = "rollout", head_fusion: str = "mean") -> np.ndarray:
    """(P,) weight of each patch for the CLS token, from one image's (layers, heads, T, T) maps."""
    if method == "rollout":
        return rollout(attentions, head_fusion)[0, 1:]
    if method == "last":
        return fuse_heads(np.asarray(attentions)[-1:], head_fusion)[0, 0, 1:]
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def patch_grid(weights: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(P,) patch weights -> (rows, columns) heatmap scaled to 0..1 (its own minimum to maximum)."""
    rows, columns = grid
    if weights.shape != (rows * columns,):
        raise ValueError(f"{weights.shape[0]} patch weights do not fill a {rows}x{columns} grid")
    heat = weights.reshape(rows, columns).astype(np.float32)
    span = float(heat.max() - heat.min())
    return (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)


def upsample(heat: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """(rows, columns) heatmap in 0..1 -> greyscale ("L") image of ``size`` (width, height), smoothed."""
    grey = Image.fromarray(np.clip(heat * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    return grey.resize(size, Image.Resampling.BICUBIC)


def colourise(grey: Image.Image) -> Image.Image:
    """Greyscale heatmap -> RGB by the Turbo colour map (a palette lookup: fast at any size)."""
    steps = np.linspace(0.0, 1.0, len(_TURBO_STEPS))
    levels = np.linspace(0.0, 1.0, 256)
    palette = np.stack([np.interp(levels, steps, _TURBO_STEPS[:, c]) for c in range(3)], axis=1)
    coloured = grey.copy()
    coloured.putpalette(np.rint(palette).astype(np.uint8).tobytes())  # "L" becomes "P"
    return coloured.convert("RGB")


def overlay(image: Image.Image, heat: np.ndarray, opacity: float = 0.5) -> Image.Image:
    """``image`` (any mode) with the colour-mapped ``heat`` laid over it, same size, RGB.

    ``opacity`` 0 shows only the picture, 1 only the heatmap.
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be between 0 and 1, not {opacity}")
    colour = colourise(upsample(heat, image.size))
    return Image.blend(image.convert("RGB"), colour, opacity)


@dataclass
class Explanation:
    prediction: Prediction  # the model's verdict on the image, from the same forward pass
    heat: np.ndarray  # (rows, columns) heatmap over the whole picture, in 0..1
    overlay: Image.Image  # RGB, the size of the image that was explained
    frame_time: float | None = None  # seconds into a video of the frame explained, its worst


def load_for_heatmaps(classifier) -> LocalClassifier | OnnxClassifier:
    """Load ``classifier`` and return it, as one that draws heatmaps; ModelError saying why when
    it draws none."""
    from nsfw_desktop.classify.features import load_vit

    reason = classifier.capabilities.no_heatmaps
    if reason:
        raise ModelError(reason)
    if isinstance(classifier, LocalClassifier):
        load_vit(classifier)  # a checkpoint that is not a ViT is told apart only once loaded
    else:
        classifier.load()
    return classifier


def explain(
    classifier: LocalClassifier | OnnxClassifier,
    image: Image.Image,
    *,
    method: str = "rollout",
    head_fusion: str = "mean",
    opacity: float = 0.5,
) -> Explanation:
    """Classify one RGB image and draw where the model looked, over that same image.

    Safe to call from a worker thread. The overlay has ``image``'s size, so pass the
    picture as it will be shown (a 1024-pixel preview costs far less than 12 MP).
    """
    return explain_frames(classifier, [image], method=method, head_fusion=head_fusion,
                          opacity=opacity)


def explain_frames(
    classifier: LocalClassifier | OnnxClassifier,
    frames: Sequence[Image.Image],
    *,
    method: str = "rollout",
    head_fusion: str = "mean",
    opacity: float = 0.5,
) -> Explanation:
    """Like ``explain`` for the frames of one animation: the highest-scoring frame is explained,
    the frame the scan flags the file on."""
    return _explain(classifier, frames, [classifier.prepare(frame) for frame in frames],
                    method=method, head_fusion=head_fusion, opacity=opacity)


def explain_file(
    classifier: LocalClassifier | OnnxClassifier,
    source: str | Path | BinaryIO,
    *,
    side: int = PREVIEW_SIDE,
    max_frames: int | None = None,
    method: str = "rollout",
    head_fusion: str = "mean",
    opacity: float = 0.5,
) -> Explanation:
    """Decode a picture file as a scan does (same limits, same messages) and explain it.

    The overlay is drawn on a preview whose longer side is at most ``side``;
    ``max_frames=1`` explains the first frame of an animation, the one a viewer shows.
    A video is sampled as a scan samples it, and its highest-scoring frame explained.
    Raises ImageError for a file that cannot be read.
    """
    prepared = decode_and_prepare(source, classifier, min_side=side, max_frames=max_frames)
    previews = []
    for frame in prepared.frames:
        frame.thumbnail((side, side), Image.Resampling.LANCZOS)  # keeps the aspect ratio; never enlarges
        previews.append(frame)
    return _explain(classifier, previews, prepared.inputs, method=method, head_fusion=head_fusion,
                    opacity=opacity, times=prepared.times)


def _explain(classifier: LocalClassifier | OnnxClassifier, pictures: Sequence[Image.Image], inputs: Sequence,
             *, method: str, head_fusion: str, opacity: float,
             times: Sequence[float] | None = None) -> Explanation:
    """Explain the highest-scoring of ``inputs`` (prepared ``pictures``), drawn over its picture."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if isinstance(classifier, OnnxClassifier):
        predictions, maps = classifier.predict_with_maps(inputs)
        best = max(range(len(inputs)), key=lambda i: predictions[i].nsfw_score)
        heat = _cropped_grid(maps[best])
    else:
        predictions, heat, best = _attention(classifier, inputs, method, head_fusion)
    return Explanation(predictions[best], heat, overlay(pictures[best], heat, opacity),
                       times[best] if times else None)


def _attention(classifier: LocalClassifier, inputs: Sequence, method: str,
               head_fusion: str) -> tuple[list[Prediction], np.ndarray, int]:
    """The ViT's predictions, and the heatmap of the highest-scoring input (its index last)."""
    from nsfw_desktop.classify.features import extract

    features = extract(classifier, inputs, attentions=True)
    predictions = classifier.predictions(features.logits)
    best = max(range(len(inputs)), key=lambda i: predictions[i].nsfw_score)
    patch = classifier.model.config.patch_size
    height, width = inputs[best].shape[-2:]
    weights = cls_weights(features.attentions[best].numpy(), method, head_fusion)
    return predictions, patch_grid(weights, (height // patch, width // patch)), best


def _cropped_grid(cam: np.ndarray) -> np.ndarray:
    """open_nsfw's (7, 7) map of its 224-pixel centre crop -> a heatmap over the whole picture.

    Each cell is 32 of the 256 pixels the picture is stretched to, and the crop starts 16
    in: on a grid of 16-pixel cells each map cell is 2 x 2, inside a ring of one unseen cell."""
    rows, columns = cam.shape
    cell = OPEN_NSFW_CROP // rows // 2  # 16 pixels: half a map cell, which is the crop's offset
    heat = np.kron(patch_grid(cam.reshape(-1), (rows, columns)), np.ones((2, 2), dtype=np.float32))
    return np.pad(heat, (OPEN_NSFW_RESIZE - OPEN_NSFW_CROP) // 2 // cell)
