"""The classifiers the engine drives, and how raw model outputs become NSFW scores.

A classifier works in two steps so the engine can overlap them:
``prepare(image)`` runs in decode worker threads (resize, normalise, or encode
for upload), ``predict(prepared)`` runs on a whole batch. ``LocalClassifier``
runs a transformers image-classification checkpoint with PyTorch; torch and
transformers are imported only when it loads, never at import time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from nsfw_desktop.model_source import ModelError, ModelSource

DEFAULT_UNSAFE_LABELS = ("nsfw", "porn", "hentai", "sexy", "explicit", "unsafe")


@dataclass(frozen=True)
class Prediction:
    label: str  # the model's top label
    nsfw_score: float  # summed probability of the unsafe labels, 0..1
    scores: dict[str, float] = field(default_factory=dict)  # every label's probability
    error: str | None = None  # set by remote classifiers when one input failed for good
    # float32 (hidden size,) vector when embeddings were asked for (features.EmbeddingClassifier)
    embedding: Any = field(default=None, repr=False, compare=False)


class Classifier(Protocol):
    model_id: str
    input_size: int  # longer side of the model input in pixels; decoding keeps >= 2x this

    def load(self) -> None:
        """Make ready for predict (idempotent); the engine calls it only when there is work."""

    def prepare(self, image: Image.Image) -> Any:
        """Turn one RGB image into model input. Thread-safe: runs in decode workers."""

    def predict(self, prepared: Sequence[Any]) -> list[Prediction]:
        """Classify a batch; one Prediction per prepared input, in order."""


class UnsafeLabels:
    """Which of a model's labels count as unsafe, matched case-insensitively."""

    def __init__(self, labels: Sequence[str], unsafe_names: Iterable[str] = DEFAULT_UNSAFE_LABELS):
        wanted = {name.strip().lower() for name in unsafe_names if name.strip()}
        self.labels = list(labels)
        self.unsafe_indices = [i for i, label in enumerate(self.labels) if label.lower() in wanted]
        if not self.unsafe_indices:
            raise ModelError(
                f"None of the model's labels ({', '.join(self.labels)}) is an unsafe label "
                f"({', '.join(sorted(wanted))}). Name the model's unsafe labels with "
                "--unsafe-labels."
            )

    def prediction(self, probabilities: Sequence[float], *, summed: bool = True) -> Prediction:
        """Prediction from one row of probabilities (softmax rows sum, sigmoid rows take the max)."""
        unsafe = [probabilities[i] for i in self.unsafe_indices]
        score = sum(unsafe) if summed else max(unsafe)
        top = max(range(len(probabilities)), key=probabilities.__getitem__)
        return Prediction(
            label=self.labels[top],
            nsfw_score=min(1.0, max(0.0, float(score))),
            scores={label: float(p) for label, p in zip(self.labels, probabilities, strict=True)},
        )


def labels_from_config(config: dict, num_labels: int) -> list[str]:
    """Label names in output order, from a raw config.json.

    Read from the file rather than from transformers' config object, which
    drops ``label2id`` when ``id2label`` is missing; ``label2id`` values may be strings.
    """
    if config.get("id2label"):
        by_index = {int(index): label for index, label in config["id2label"].items()}
    elif config.get("label2id"):
        by_index = {int(index): label for label, index in config["label2id"].items()}
    else:
        by_index = {}
    return [by_index.get(i, f"LABEL_{i}") for i in range(num_labels)]


def resolve_device(name: str = "auto") -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but PyTorch sees no CUDA GPU.")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ModelError("--device mps was asked for, but this PyTorch has no Apple GPU support.")
    if name not in ("cpu", "cuda", "mps"):
        raise ModelError(f"Unknown device {name!r}: use auto, cpu, cuda or mps.")
    return name


class LocalClassifier:
    """A transformers image-classification checkpoint run locally with PyTorch."""

    def __init__(
        self,
        source: ModelSource,
        *,
        device: str = "auto",
        unsafe_labels: Iterable[str] = DEFAULT_UNSAFE_LABELS,
    ):
        self.source = source
        self.model_id = source.model_id
        self.device_name = device
        self.unsafe_names = tuple(unsafe_labels)
        self.input_size = _input_size(source)
        self._lock = threading.Lock()
        self.model = None
        self.processor = None

    def load(self) -> None:
        with self._lock:
            if self.model is None:
                self._load()

    def _load(self) -> None:
        import torch
        import transformers
        from transformers import AutoImageProcessor, AutoModelForImageClassification

        transformers.logging.disable_progress_bar()
        self.device = resolve_device(self.device_name)
        try:
            # safetensors only, memory-mapped by safetensors; never remote code.
            model = AutoModelForImageClassification.from_pretrained(
                self.source.folder, use_safetensors=True, trust_remote_code=False,
                local_files_only=True,
            )
            # The PIL backend is what transformers' own pipeline uses without torchvision.
            processor = AutoImageProcessor.from_pretrained(
                self.source.folder, backend="pil", trust_remote_code=False, local_files_only=True,
            )
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(f"Cannot load the model in {self.source.folder}: {exc}") from None
        raw_config = json.loads((self.source.folder / "config.json").read_text())
        labels = labels_from_config(raw_config, model.config.num_labels)
        self.labels = UnsafeLabels(labels, self.unsafe_names)
        problem = getattr(model.config, "problem_type", None)
        self.sigmoid = problem == "multi_label_classification" or model.config.num_labels == 1
        self.model = model.to(self.device).eval()
        self.processor = processor
        self._torch = torch

    def prepare(self, image: Image.Image):
        """(3, H, W) float32 tensor, by the checkpoint's preprocessor_config."""
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def predict(self, prepared):
        return self.predictions(self.logits(prepared))

    def predictions(self, logits) -> list[Prediction]:
        """One Prediction per row of (B, num_labels) logits, from this forward pass or another."""
        return [self.labels.prediction(row, summed=not self.sigmoid)
                for row in self.to_probabilities(logits).tolist()]

    def probabilities(self, prepared):
        """(B, num_labels) probabilities on the CPU for a batch of prepared tensors."""
        return self.to_probabilities(self.logits(prepared))

    def to_probabilities(self, logits):
        """(B, num_labels) logits -> probabilities, by the checkpoint's problem type."""
        return logits.sigmoid() if self.sigmoid else logits.softmax(dim=-1)

    def logits(self, prepared):
        """(B, num_labels) float32 logits on the CPU; the server applies other functions to them."""
        torch = self._torch
        with torch.inference_mode():
            batch = torch.stack(list(prepared)).to(self.device)  # (B, 3, H, W)
            return self.model(pixel_values=batch).logits.float().cpu()  # (B, num_labels)


def _input_size(source: ModelSource) -> int:
    """Longer side of the model input, read from preprocessor_config.json without transformers."""
    config = json.loads((source.folder / "preprocessor_config.json").read_text())
    sizes = [config.get("crop_size"), config.get("size")]
    for size in sizes:
        if isinstance(size, int):
            return size
        if isinstance(size, dict):
            values = [v for k, v in size.items() if k in ("height", "width", "shortest_edge")]
            if values:
                return max(values)
    return 224


def make_classifier(
    model: str | None = None,
    *,
    device: str = "auto",
    unsafe_labels: Iterable[str] = DEFAULT_UNSAFE_LABELS,
    endpoints: Sequence[str] = (),
    token: str | None = None,
) -> Classifier:
    """The classifier for a ``--model`` value (folder or Hub id), not yet loaded.

    With ``endpoints`` (Inference Endpoint or ``nsfw-desktop serve`` URLs) the images
    are classified remotely instead; ``token`` defaults to huggingface_hub's (HF_TOKEN).
    Raises ModelError with a message for the user when the model is unusable.
    Every front end (CLI, desktop app, watcher, server) builds its classifier here.
    """
    from nsfw_desktop import model_source

    if endpoints:
        from nsfw_desktop.remote import RemoteClassifier

        return RemoteClassifier(endpoints, token=token, unsafe_labels=unsafe_labels)
    return LocalClassifier(model_source.resolve(model), device=device, unsafe_labels=unsafe_labels)
