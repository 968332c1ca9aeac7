"""``EmbeddingClassifier``: predictions that carry an embedding from the same forward pass.

The scan pipeline wraps the classifier in one when embeddings are kept for
"find similar"; ``embed`` uses one for its files.
"""

from __future__ import annotations

from dataclasses import replace

from nsfw_desktop.classify.base import Prediction
from nsfw_desktop.classify.features import NOT_IN_THIS_MODE, POOLS, extract, load_vit, resolve_layer
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.model_source import ModelError


class EmbeddingClassifier:
    """A LocalClassifier whose predictions also carry an embedding, from the same forward pass.

    Each ``Prediction.embedding`` is a float32 numpy vector of the model's hidden size.
    """

    def __init__(self, classifier: LocalClassifier, *, layer: int = -1, pool: str = "cls"):
        if not isinstance(classifier, LocalClassifier):
            raise ModelError(NOT_IN_THIS_MODE.format(model=classifier.model_id))
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
        self.classifier = classifier
        self.model_id = classifier.model_id
        self.input_size = classifier.input_size
        self.layer = layer
        self.pool = pool

    def load(self) -> None:
        load_vit(self.classifier)
        resolve_layer(self.classifier, self.layer)  # a bad layer fails before any decoding

    def prepare(self, image):
        return self.classifier.prepare(image)

    def predict(self, prepared) -> list[Prediction]:
        features = extract(self.classifier, prepared, embeddings=True, layer=self.layer)
        vectors = features.embeddings(self.pool).numpy()
        predictions = self.classifier.predictions(features.logits)
        return [replace(p, embedding=v) for p, v in zip(predictions, vectors, strict=True)]
