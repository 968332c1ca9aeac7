"""``EmbeddingClassifier``: predictions that carry an embedding from the same forward pass.

The scan pipeline wraps the classifier in one when embeddings are kept for
"find similar"; ``embed`` uses one for its files. A local ViT gives any layer's CLS
or mean embedding; the fast precision's int8 graph gives the last layer's CLS token,
the default, which is what scans store; open_nsfw gives its pooled features (1024).
"""

from __future__ import annotations

from dataclasses import replace

from nsfw_desktop.classify.base import Classifier, Prediction
from nsfw_desktop.classify.capabilities import REMOTE
from nsfw_desktop.classify.features import NOT_IN_THIS_MODE, POOLS, extract, load_vit, resolve_layer
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.classify.onnx import OnnxClassifier

FAST_ONLY = ("the fast precision keeps the CLS embedding of the last layer only; for layer {layer} "
             "and pool {pool!r}, choose the exact (or balanced) precision")
POOLED_ONLY = ("{model} has one embedding, its pooled features: it has no layer {layer} or pool {pool!r} "
               "to choose")


class EmbeddingClassifier:
    """A LocalClassifier (or a fast ViT's or open_nsfw's OnnxClassifier) whose predictions also
    carry an embedding, from the same forward pass.

    Each ``Prediction.embedding`` is a float32 numpy vector of the model's hidden size.
    """

    def __init__(self, classifier: Classifier, *, layer: int = -1, pool: str = "cls"):
        if not isinstance(classifier, (LocalClassifier, OnnxClassifier)):
            raise ModelError(REMOTE)  # the other classifier make_classifier builds: scores only
        if not classifier.capabilities.embeddings:
            raise ModelError(classifier.capabilities.no_embeddings)
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
        if isinstance(classifier, OnnxClassifier) and (layer != -1 or pool != "cls"):
            raise ModelError((FAST_ONLY if classifier.exported else POOLED_ONLY).format(
                model=classifier.model_id, layer=layer, pool=pool))
        self.classifier = classifier
        self.model_id = classifier.model_id
        self.input_size = classifier.input_size
        self.layer = layer  # once loaded, a ViT's hidden-state index 0..L (-1: an ONNX model's one)
        self.pool = pool

    def load(self) -> None:
        if isinstance(self.classifier, OnnxClassifier):
            self.classifier.load()
            if not self.classifier.embeds:  # a fast model exported from a checkpoint that is not a ViT
                raise ModelError(NOT_IN_THIS_MODE.format(model=self.model_id))
            return
        load_vit(self.classifier)
        self.layer = resolve_layer(self.classifier, self.layer)  # a bad layer fails before any decoding

    def prepare(self, image):
        return self.classifier.prepare(image)

    def predict(self, prepared) -> list[Prediction]:
        if isinstance(self.classifier, OnnxClassifier):
            return self.classifier.predict_with_embeddings(prepared)
        features = extract(self.classifier, prepared, embeddings=True, layer=self.layer)
        vectors = features.embeddings(self.pool).numpy()
        predictions = self.classifier.predictions(features.logits)
        return [replace(p, embedding=v) for p, v in zip(predictions, vectors, strict=True)]
