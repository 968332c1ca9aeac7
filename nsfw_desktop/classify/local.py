"""``LocalClassifier``: a transformers image-classification checkpoint run with PyTorch.

torch and transformers are imported only when it loads, never at import time,
so the window appears (and an unchanged rescan finishes) without them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from PIL import Image

from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS, Prediction, UnsafeLabels, labels_from_config
from nsfw_desktop.classify.capabilities import Capabilities, of_format
from nsfw_desktop.classify.model_source import ModelError, ModelSource
from nsfw_desktop.classify.precision import MODEL_ID_SUFFIX, autocast_dtype, check
from nsfw_desktop.classify.preprocess import direct_preparer

log = logging.getLogger(__name__)


def resolve_device(name: str = "auto") -> str:
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelError("The device cuda was asked for, but PyTorch sees no CUDA GPU.",
                         "Use --device auto or cpu.", setting="device")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ModelError("The device mps was asked for, but this PyTorch has no Apple GPU support.",
                         "Use --device auto or cpu.", setting="device")
    if name not in ("cpu", "cuda", "mps"):
        raise ModelError(f"Unknown device {name!r}: use auto, cpu, cuda or mps.")
    return name


class LocalClassifier:
    """A transformers image-classification checkpoint run locally with PyTorch.

    ``precision`` is ``exact`` (fp32) or ``balanced`` (bf16/fp16 autocast where native,
    see ``precision.autocast_dtype``); ``notify`` receives a note for the user when
    balanced falls back to fp32.
    """

    def __init__(
        self,
        source: ModelSource,
        *,
        device: str = "auto",
        unsafe_labels: Iterable[str] = DEFAULT_UNSAFE_LABELS,
        precision: str = "exact",
        notify: Callable[[str], None] = log.info,
    ):
        if check(precision) == "fast":
            raise ValueError("the fast precision runs on ONNX Runtime: use OnnxClassifier")
        self.source = source
        self.precision = precision
        self.notify = notify
        self.model_id = source.model_id + MODEL_ID_SUFFIX[precision]
        self.device_name = device
        self.unsafe_names = tuple(unsafe_labels)
        self.input_size = input_size_of(source)
        self._lock = threading.Lock()
        # transformers' model and processor once loaded; Any, as torch is imported only then
        self.model: Any = None
        self.processor: Any = None

    @property
    def capabilities(self) -> Capabilities:
        return of_format(self.source.format, self.precision)

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
        # Exact prepares with the processor itself, as the reference pipeline does.
        self._direct = None if self.precision == "exact" else direct_preparer(
            json.loads((self.source.folder / "preprocessor_config.json").read_text()))
        self._torch = torch
        self.autocast_dtype, note = autocast_dtype(self.precision, self.device)
        if note:
            self.notify(note)

    def forward_context(self):
        """Where a forward pass runs: autocast in balanced precision, plain fp32 otherwise."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return self._torch.autocast(self.device, dtype=self.autocast_dtype)

    def prepare(self, image: Image.Image):
        """(3, H, W) float32 tensor, by the checkpoint's preprocessor_config."""
        if self._direct is not None:
            return self._torch.from_numpy(self._direct(image))
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
        with torch.inference_mode(), self.forward_context():
            return self.model(pixel_values=self.on_device(prepared)).logits.float().cpu()  # (B, labels)

    def on_device(self, prepared):
        """The prepared inputs as one (B, 3, H, W) batch on the model's device. To a CUDA GPU
        they go from pinned memory without waiting, so the copy overlaps the work queued before."""
        batch = self._torch.stack(list(prepared))
        if self.device == "cuda":
            return batch.pin_memory().to(self.device, non_blocking=True)
        return batch.to(self.device)


def input_size_of(source: ModelSource) -> int:
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
