"""What a model gives beyond its scores (heatmaps, embeddings), and why not where it does not.

One place answers for every front end: the command line refuses with the reason, the
window disables its controls with the reason as their tooltip, and the settings keep
embeddings only where there are some. It reads the model's format and the precision
only: nothing is loaded or downloaded, so the window may ask on its own thread. A
transformers checkpoint that is not a ViT is found out only when it loads
(``features.load_vit`` says so then).

The reasons are in words that fit the command line and the window alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.classify.model_source import OPEN_NSFW, ModelError, check_folder

REMOTE = "A remote endpoint sends back only scores: heatmaps and embeddings need a model on this computer."
ONNX_FOLDER = ("An ONNX model folder gives only scores: heatmaps and embeddings need a transformers "
               "model (a ViT) or open-nsfw.")
FAST_HEATMAPS = ("The fast precision's int8 model keeps no attention maps: heatmaps need the exact or "
                 "balanced precision.")
ONE_MAP = ("open-nsfw draws one heatmap, its class activation map: the choice of attention method is "
           "a ViT's.")


@dataclass(frozen=True)
class Capabilities:
    no_heatmaps: str = ""  # why the model draws no heatmaps; empty when it draws them
    no_embeddings: str = ""  # why it gives no embeddings (find similar, personal policy); empty when it does
    no_heatmap_methods: str = ""  # why the heatmap method (rollout, last) changes nothing; empty when it does

    @property
    def heatmaps(self) -> bool:
        return not self.no_heatmaps

    @property
    def embeddings(self) -> bool:
        return not self.no_embeddings


def of_format(model_format: str | None, precision: str) -> Capabilities:
    """What a model of ``model_format`` (a model_source format; None: remote endpoints) gives."""
    if model_format is None:
        return Capabilities(REMOTE, REMOTE, REMOTE)
    if model_format == "onnx":
        return Capabilities(ONNX_FOLDER, ONNX_FOLDER, ONNX_FOLDER)
    if model_format == "transformers" and precision == "fast":
        return Capabilities(no_heatmaps=FAST_HEATMAPS, no_heatmap_methods=FAST_HEATMAPS)
    if model_format == OPEN_NSFW:
        return Capabilities(no_heatmap_methods=ONE_MAP)  # its CAM, its pooled features
    return Capabilities()  # a ViT in exact or balanced precision


def format_of(model: str | None, endpoints: Sequence[str] = ()) -> str | None:
    """The model_source format of the model a user chose (None: remote endpoints), before
    it is built. A Hub id is taken for a transformers checkpoint, as ``model_source.resolve``
    takes it; a folder's files say what it holds."""
    if endpoints:
        return None
    if model == OPEN_NSFW:
        return OPEN_NSFW
    folder = Path(model).expanduser() if model else None
    if folder is not None and folder.is_dir():
        try:
            return check_folder(folder)
        except ModelError:
            pass  # an unusable folder: building the classifier says why, in its own words
    return "transformers"
