"""``ModelSpec``: the one description of a model, which every front end builds and asks.

The settings, the command line, the window, the Ray workers and ``serve`` all build a
``ModelSpec`` and hand it to ``make_classifier``; what the model can do (embeddings,
heatmaps, the precisions, being served) is asked of the spec, before anything loads.
The answers and their reasons are ``capabilities``'s; this module gives them one home.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.classify.capabilities import Capabilities, format_of, of_format
from nsfw_desktop.classify.precision import DEFAULT_PRECISION, PRECISIONS


@dataclass(frozen=True)
class ModelSpec:
    """What a classifier is built from; a different spec means a different classifier."""

    model: str | None = None  # folder, Hub id[@revision] or open-nsfw; None: the default model
    endpoints: tuple[str, ...] = ()  # Inference Endpoint or ``serve`` URLs: classified remotely
    token: str | None = field(default=None, repr=False)  # the endpoints' token: never in a log line
    device: str = "auto"
    precision: str = DEFAULT_PRECISION
    unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS
    # The threshold a fast model states its agreement with exact at; not worth a new classifier.
    threshold: float = field(default=0.5, compare=False)

    def __post_init__(self) -> None:  # lists from settings or argparse: the spec stays hashable
        object.__setattr__(self, "endpoints", tuple(self.endpoints))
        object.__setattr__(self, "unsafe_labels", tuple(self.unsafe_labels))

    @classmethod
    def of(cls, settings: Any, unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS) -> ModelSpec:
        """The model the app's ``Settings`` choose (typed Any: config sits above classify)."""
        return cls(settings.model, tuple(settings.endpoints), settings.token, settings.device,
                   settings.precision, tuple(unsafe_labels), settings.threshold)

    def portable(self) -> dict:
        """The spec as plain values, for a Ray worker to rebuild with ``ModelSpec(**...)``;
        without the token, which no worker needs (workers run a model on their computer)."""
        return {**asdict(self), "token": None}

    @property
    def remote(self) -> bool:
        return bool(self.endpoints)

    @property
    def capabilities(self) -> Capabilities:
        """What the model gives beyond scores, known without loading or downloading it."""
        return of_format(format_of(self.model, self.endpoints), self.precision)

    @property
    def embeddings(self) -> bool:
        return self.capabilities.embeddings

    @property
    def no_embeddings(self) -> str:
        """Why the model gives no embeddings; empty when it does."""
        return self.capabilities.no_embeddings

    @property
    def heatmaps(self) -> bool:
        return self.capabilities.heatmaps

    @property
    def precisions(self) -> tuple[str, ...]:
        """The precisions that run this model differently: all three for a transformers
        checkpoint; an ONNX model runs as published, and endpoints run what they serve."""
        if format_of(self.model, self.endpoints) == "transformers":
            return PRECISIONS
        return (DEFAULT_PRECISION,)

    @property
    def served(self) -> bool:
        """Whether ``serve`` can serve it: a model on this computer, not other endpoints."""
        return not self.remote
