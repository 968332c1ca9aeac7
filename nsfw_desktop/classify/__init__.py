"""Classifiers: the shared types, and ``make_classifier``, where every front end gets one.

- ``base``: ``Prediction``, the ``Classifier`` protocol, unsafe labels.
- ``local``: a transformers checkpoint run with PyTorch on this computer.
- ``remote``: Hugging Face Inference Endpoints or ``nsfw-desktop serve``; ``retries`` and
  ``endpoints``: what a failed request means, and which endpoint takes the next.
- ``onnx``: an ONNX model on ONNX Runtime (the fast precision's int8 export, an ONNX
  folder, open_nsfw); ``onnx_export`` builds and caches the int8 export.
- ``precision``: the precision modes (exact, balanced, fast).
- ``features`` and ``embedding``: embeddings and attention maps from a local ViT's forward pass;
  ``cam``: open_nsfw's pooled features and class activation maps, from its own pass.
- ``spec``: ``ModelSpec``, the one description of a model, and what it can do
  (``capabilities``: heatmaps, embeddings, and why not).

Nothing heavy is imported here: torch loads with a local model, not before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS, Classifier, Prediction, UnsafeLabels
from nsfw_desktop.classify.precision import DEFAULT_PRECISION, PRECISIONS
from nsfw_desktop.classify.spec import ModelSpec

if TYPE_CHECKING:
    from nsfw_desktop.classify.agreement import Agreement
    from nsfw_desktop.classify.onnx import OnnxClassifier

__all__ = ["DEFAULT_PRECISION", "DEFAULT_UNSAFE_LABELS", "PRECISIONS", "Classifier", "ModelSpec",
           "Prediction", "UnsafeLabels", "make_classifier"]

log = logging.getLogger(__name__)


def make_classifier(
    model: str | ModelSpec | None = None,
    *,
    notify: Callable[[str], None] = log.info,
    measure_agreement: Callable[[OnnxClassifier], Agreement | None] | None = None,
    **options: Any,
) -> Classifier:
    """The classifier ``model`` describes, not yet loaded. ``model`` is a ``ModelSpec``
    (what every front end passes: CLI, desktop app, watcher, Ray workers, server), or a
    ``--model`` value with ``ModelSpec``'s other fields as keywords (``options``), for
    scripts and tests.

    The spec's precision is one of PRECISIONS (see ``precision``): exact and balanced run
    the checkpoint with PyTorch, fast its int8 ONNX export; an ONNX model always runs on
    ONNX Runtime. ``notify`` receives what the user should read: a fast model being
    built, balanced falling back to fp32. With endpoints (Inference Endpoint or
    ``nsfw-desktop serve`` URLs) the images are classified remotely instead, whatever the
    precision; the token defaults to huggingface_hub's (HF_TOKEN). Raises ModelError with
    a message for the user when the model is unusable. A fast model states its agreement
    with exact at the spec's threshold; on its first use it is measured by
    ``measure_agreement`` (``scan.agreement.measurer``: the front ends pass it; without it
    nothing is measured).
    """
    from nsfw_desktop.classify import model_source
    from nsfw_desktop.classify.precision import check

    spec = model if isinstance(model, ModelSpec) else ModelSpec(model, **options)
    check(spec.precision)
    if spec.endpoints:
        from nsfw_desktop.classify.remote import RemoteClassifier

        return RemoteClassifier(spec.endpoints, token=spec.token, unsafe_labels=spec.unsafe_labels,
                                notify=notify)
    source = model_source.resolve(spec.model)
    if source.format != "transformers" or spec.precision == "fast":
        from nsfw_desktop.classify.onnx import OnnxClassifier

        if spec.device not in ("auto", "cpu"):
            notify(f"{source.model_id} runs on ONNX Runtime on the CPU, not on {spec.device}, in this "
                   "precision")
        return OnnxClassifier(source, precision=spec.precision, unsafe_labels=spec.unsafe_labels,
                              notify=notify, measure_agreement=measure_agreement,
                              threshold=spec.threshold)
    from nsfw_desktop.classify.local import LocalClassifier

    return LocalClassifier(source, device=spec.device, unsafe_labels=spec.unsafe_labels,
                           precision=spec.precision, notify=notify)
