"""Classifiers: the shared types, and ``make_classifier``, where every front end gets one.

- ``base``: ``Prediction``, the ``Classifier`` protocol, unsafe labels.
- ``local``: a transformers checkpoint run with PyTorch on this computer.
- ``remote``: Hugging Face Inference Endpoints or ``nsfw-desktop serve``.
- ``features`` and ``embedding``: embeddings and attention maps from a local ViT's forward pass.

Nothing heavy is imported here: torch loads with a local model, not before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS, Classifier, Prediction, UnsafeLabels

__all__ = ["DEFAULT_UNSAFE_LABELS", "Classifier", "Prediction", "UnsafeLabels", "make_classifier"]


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
    from nsfw_desktop.classify.local import LocalClassifier

    if endpoints:
        from nsfw_desktop.classify.remote import RemoteClassifier

        return RemoteClassifier(endpoints, token=token, unsafe_labels=unsafe_labels)
    return LocalClassifier(model_source.resolve(model), device=device, unsafe_labels=unsafe_labels)
