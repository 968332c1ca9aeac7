"""The fast precision's model: a checkpoint exported to ONNX on this computer, quantized to int8.

The export reads the checkpoint's safetensors weights (never pickle, nothing is
downloaded), ``torch.onnx.export`` traces the fp32 model with its plain (eager) attention
(a ViT with a second output, its CLS embedding, so fast scans keep embeddings for find
similar), and ONNX Runtime's dynamic quantization stores the weights of every matrix
product in int8. The result lives in the app's cache folder, keyed by the model id (a
Hub revision, or a fingerprint of a folder's weights) and the versions of the exporter
and the runtime: it is built once, and again when any of them changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from nsfw_desktop.classify.model_source import ModelError, ModelSource
from nsfw_desktop.files import paths

log = logging.getLogger(__name__)

CACHE_FOLDER = "fast-models"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INFO_FILE = "build.json"
# Bump when the export itself changes (inputs, outputs, options): the cached models are rebuilt.
EXPORT_FORMAT = 3  # 2: a ViT's CLS embedding as a second output; 3: eager attention
LOGITS, EMBEDDING = "logits", "embedding"  # the outputs' names
VERSIONED = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime")
EXPORTER_LOGGERS = ("torch.onnx", "torch.export", "torch._dynamo", "onnx_ir", "onnxscript")

_build_lock = threading.Lock()  # one build at a time in this process


def cache_key(source: ModelSource) -> dict:
    """What the cached model depends on: the weights, the export, and the library versions."""
    return {"model_id": source.model_id, "export_format": EXPORT_FORMAT,
            **{name: version(name) for name in VERSIONED}}


def cache_folder(source: ModelSource) -> Path:
    key = json.dumps(cache_key(source), sort_keys=True)
    return paths.cache_dir() / CACHE_FOLDER / hashlib.sha256(key.encode()).hexdigest()[:20]


def fast_model(source: ModelSource, notify: Callable[[str], None] = log.info) -> Path:
    """The int8 ONNX model of ``source``: from the cache, or built now (a minute for a
    ViT-B/16; ``notify`` says so first). Raises ModelError when the export fails."""
    folder = cache_folder(source)
    with _build_lock:
        if (folder / INT8_FILE).is_file():
            return folder / INT8_FILE
        notify(f"Building the fast (int8) version of {source.model_id} once; this takes a minute "
               f"or two and is kept in {folder.parent}.")
        started = time.monotonic()
        folder.parent.mkdir(parents=True, exist_ok=True)
        # Built beside its final place and renamed into it, so a crash never leaves half a model.
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
        try:
            export_fp32(source, work / FP32_FILE)
            quantize(work / FP32_FILE, work / INT8_FILE)
            os.unlink(work / FP32_FILE)  # four times the int8 model's size, and never run
            (work / INFO_FILE).write_text(json.dumps(cache_key(source), indent=2) + "\n")
            if folder.exists():  # an unfinished folder of an older build: replaced
                shutil.rmtree(folder)
            os.replace(work, folder)
        finally:
            if work.exists():
                shutil.rmtree(work)
        _drop_older_builds(source, keep=folder)
        notify(f"The fast model is ready ({time.monotonic() - started:.0f} s).")
        return folder / INT8_FILE


def _drop_older_builds(source: ModelSource, keep: Path) -> None:
    """Delete the fast models of ``source`` built with other library versions: never used again."""
    for info in keep.parent.glob(f"*/{INFO_FILE}"):
        if info.parent == keep:
            continue
        try:
            built_from = json.loads(info.read_text()).get("model_id")
        except (OSError, ValueError) as exc:
            log.info("cannot read %s: %s", info, exc)
            continue
        if built_from == source.model_id:
            shutil.rmtree(info.parent, ignore_errors=True)


def export_fp32(source: ModelSource, target: Path) -> None:
    """Export the checkpoint's fp32 classifier to ``target``: pixel_values (B, 3, H, W) in,
    logits (B, num_labels) out, any batch size; a ViT also gives ``embedding`` (B, D), the CLS
    token of its last layer after the final layer norm, as a scan in exact stores it."""
    import torch
    from transformers import AutoModelForImageClassification

    class Logits(torch.nn.Module):
        """The classifier with a plain tensor out, which is what the exporter takes."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, pixel_values):
            return self.model(pixel_values=pixel_values).logits

    class LogitsAndEmbedding(Logits):
        """A ViT's own forward (head on the normed CLS token), with that token out too."""

        def forward(self, pixel_values):
            cls = self.model.vit(pixel_values).last_hidden_state[:, 0]
            return self.model.classifier(cls), cls

    try:
        # Eager attention, not torch's scaled_dot_product_attention: the exporter writes the
        # latter with a NaN guard (IsNaN and Where over every attention matrix) that took 8% of
        # the int8 ViT-B/16's time; without it the int8 model runs 1.12x faster (CPU time).
        model = AutoModelForImageClassification.from_pretrained(
            source.folder, use_safetensors=True, trust_remote_code=False, local_files_only=True,
            attn_implementation="eager",
        ).eval()
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"Cannot load the model in {source.folder}: {exc}") from None
    vit = hasattr(model, "vit") and hasattr(model, "classifier")
    wrapped = LogitsAndEmbedding(model) if vit else Logits(model)
    outputs = [LOGITS, EMBEDDING] if vit else [LOGITS]
    size = getattr(model.config, "image_size", 224)
    example = torch.zeros(2, getattr(model.config, "num_channels", 3), size, size)
    # The exporter's notes (torchvision absent, one line per merged initializer...) and the
    # deprecation warnings raised inside torch are not the user's business; a failure still raises.
    with warnings.catch_warnings(), _quiet(*EXPORTER_LOGGERS):
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            torch.onnx.export(wrapped.eval(), (example,), target, input_names=["pixel_values"],
                              output_names=outputs, dynamic_shapes=({0: torch.export.Dim("batch")},),
                              dynamo=True, external_data=False, verbose=False)
        except Exception as exc:  # the exporter raises many kinds; the message names the model
            raise ModelError(f"Cannot export {source.model_id} to ONNX for the fast precision "
                             f"({type(exc).__name__}: {exc}).", "Use --precision exact or balanced.",
                             setting="precision") from None


def quantize(fp32: Path, int8: Path) -> None:
    """Dynamic int8 quantization: int8 weights, activations quantized per batch at run time."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    root.addFilter(_quantizer_chatter)
    try:
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    finally:
        root.removeFilter(_quantizer_chatter)


def _quantizer_chatter(record: logging.LogRecord) -> bool:
    """The quantizer logs on the root logger itself: a line per tensor, and a suggestion to
    pre-process the model that dynamic quantization of a transformer does not need. A filter
    on the root logger sees only what is logged on it directly, not what other loggers pass up."""
    return record.levelno >= logging.WARNING and not record.getMessage().startswith(
        "Please consider to run pre-processing")


@contextlib.contextmanager
def _quiet(*names: str):
    """Only errors from these loggers while the block runs."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
