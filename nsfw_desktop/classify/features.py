"""What one forward pass of the ViT tells beyond the label: embeddings and attention maps.

``extract(classifier, prepared, ...)`` runs a batch through a loaded
``LocalClassifier`` once and returns the logits plus, on request, embeddings of
one layer and the attention maps of every layer.

Attention maps exist only on transformers' explicit ("eager") attention path:
the fused SDPA kernel never materialises them. Maps therefore come from an eager
twin of the model that shares its weights (no copy of the parameters) but has a
configuration of its own, so asking for maps never moves the classifier's own
model off SDPA, not even for one call: a scan in another thread keeps the fast path.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError

POOLS = ("cls", "mean")
NOT_IN_THIS_MODE = ("embeddings and heatmaps are not available with {model}: they need a ViT (in the exact "
                    "or balanced precision for heatmaps) or open-nsfw. Choose one of them.")

_twins: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its eager twin
_twins_lock = threading.Lock()


@dataclass
class Features:
    """Outputs of one forward pass over B images, as float32 CPU torch tensors.

    T = 1 + P tokens: the CLS token, then the P image patches in row-major order.
    """

    logits: Any  # (B, num_labels)
    layer: int  # hidden-state index the embeddings come from: 0 = patch embeddings, L = last layer
    cls: Any = None  # (B, D): CLS token of ``layer`` after the model's final layer norm
    mean: Any = None  # (B, D): the P patch tokens of ``layer`` after the final layer norm, averaged
    attentions: Any = None  # (B, L, heads, T, T): softmax attention weights of every layer

    def embeddings(self, pool: str) -> Any:
        """(B, D) embeddings pooled by ``pool`` ('cls' or 'mean')."""
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, not {pool!r}")
        return self.cls if pool == "cls" else self.mean


def load_vit(classifier) -> None:
    """Load ``classifier``; ModelError unless it is a local ViT, whose layers these features read."""
    if not isinstance(classifier, LocalClassifier):
        raise ModelError(NOT_IN_THIS_MODE.format(model=classifier.model_id))
    classifier.load()
    if not hasattr(classifier.model, "vit"):
        raise ModelError(f"embeddings and heatmaps need a ViT checkpoint; {classifier.model_id} is a "
                         f"{type(classifier.model).__name__}")


def resolve_layer(classifier: LocalClassifier, layer: int) -> int:
    """``layer`` as a hidden-state index 0..L; negative values count from the last layer."""
    count = classifier.model.config.num_hidden_layers
    if not -(count + 1) <= layer <= count:
        raise ValueError(f"layer {layer} does not exist: this model has {count} layers "
                         f"(0 is the patch embeddings, {count} the last layer, -1 also the last)")
    return layer % (count + 1)


def extract(
    classifier: LocalClassifier,
    prepared: Sequence[Any],
    *,
    embeddings: bool = False,
    layer: int = -1,
    attentions: bool = False,
) -> Features:
    """Logits of a batch of prepared (3, H, W) tensors, plus what is asked for, in one pass.

    ``embeddings`` adds ``cls`` and ``mean`` of hidden state ``layer`` (see
    ``resolve_layer``); ``attentions`` adds the attention maps of every layer.
    """
    import torch

    load_vit(classifier)
    index = resolve_layer(classifier, layer)
    model = _eager_twin(classifier.model) if attentions else classifier.model
    with torch.inference_mode(), classifier.forward_context():
        batch = classifier.on_device(prepared)
        # Selecting one hidden state keeps the others from being held in memory.
        outputs = model(pixel_values=batch, output_hidden_states=[index] if embeddings else False,
                        output_attentions=attentions)
        features = Features(logits=outputs.logits.float().cpu(), layer=index)
        if embeddings:
            tokens = classifier.model.vit.layernorm(outputs.hidden_states[index])  # (B, T, D)
            features.cls = tokens[:, 0].float().cpu()
            features.mean = tokens[:, 1:].mean(dim=1).float().cpu()
        if attentions:
            features.attentions = torch.stack(outputs.attentions, dim=1).float().cpu()  # (B, L, h, T, T)
    return features


def _eager_twin(model):
    """The model with eager attention, sharing every parameter and buffer with ``model``."""
    with _twins_lock:
        twin = _twins.get(model)
        if twin is None:
            # deepcopy with the tensors in its memo copies the modules and the config, not the weights.
            shared = {id(tensor): tensor for tensor in [*model.parameters(), *model.buffers()]}
            twin = copy.deepcopy(model, shared)
            twin.set_attn_implementation("eager")
            _twins[model] = twin
    return twin
