"""What every classifier shares: the Prediction it returns, the protocol the engine drives,
and how raw model outputs become an NSFW score.

A classifier works in two steps so the engine can overlap them:
``prepare(image)`` runs in decode worker threads (resize, normalise, or encode
for upload), ``predict(prepared)`` runs on a whole batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from nsfw_desktop.classify.model_source import ModelError

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

    # Local, ONNX and remote classifiers also say what they give beyond scores in their
    # ``capabilities`` (classify.capabilities).
    # Optional: ``prepare_file(path, decoded: DecodedImage) -> list`` prepares from the
    # file itself when it has one (RemoteClassifier sends a small file's own bytes);
    # decode_and_prepare calls it instead of ``prepare`` on each frame.


class UnsafeLabels:
    """Which of a model's labels count as unsafe, matched case-insensitively."""

    def __init__(self, labels: Sequence[str], unsafe_names: Iterable[str] = DEFAULT_UNSAFE_LABELS):
        wanted = {name.strip().lower() for name in unsafe_names if name.strip()}
        self.labels = list(labels)
        self.unsafe_indices = [i for i, label in enumerate(self.labels) if label.lower() in wanted]
        if not self.unsafe_indices:
            raise ModelError(
                f"None of the model's labels ({', '.join(self.labels)}) is an unsafe label "
                f"({', '.join(sorted(wanted))}).", "Name the model's unsafe labels with --unsafe-labels.",
                setting="model")

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
