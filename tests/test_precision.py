"""Precision modes: balanced and fast agree with exact within their stated tolerances, the fast
model is exported faithfully, cached and rebuilt, and ONNX folders never open pickle files."""

from __future__ import annotations

import json
import os
import pickle
import shutil

import numpy as np
import pytest

from nsfw_desktop.classify import make_classifier, onnx_export, precision
from nsfw_desktop.classify.agreement import AGREEMENT_FILE
from nsfw_desktop.classify.embedding import EmbeddingClassifier
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError, resolve
from nsfw_desktop.classify.onnx import OnnxClassifier
from nsfw_desktop.scan.agreement import measurer
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from tests.conftest import build_tiny_vit, random_image, write_photos

# What docs/models.md and --help promise, on the tiny ViT whose head spreads scores over 0..1.
BALANCED_TOLERANCE = 0.01
FAST_TOLERANCE = 0.05
FAST_EMBEDDING_COSINE = 0.99  # int8 CLS embeddings against fp32's


def scores(classifier, images) -> np.ndarray:
    classifier.load()
    return np.array([p.nsfw_score for p in classifier.predict([classifier.prepare(i) for i in images])])


@pytest.fixture(scope="module")
def images():
    return [random_image(seed, size=(96, 64)) for seed in range(24)]


@pytest.fixture
def native_bf16(monkeypatch):
    """Balanced takes the bf16 path whatever this CPU is (emulated bf16 gives the same numbers)."""
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda cpuinfo=None: True)


def test_native_bf16_is_read_from_the_cpu_flags(tmp_path):
    with_bf16 = tmp_path / "bf16"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "plain"
    without.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert precision.cpu_has_native_bf16(with_bf16)
    assert not precision.cpu_has_native_bf16(without)
    assert not precision.cpu_has_native_bf16(tmp_path / "missing")


def test_balanced_falls_back_to_fp32_and_says_so(tiny_model, images, monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda cpuinfo=None: False)
    notes = []
    balanced = make_classifier(str(tiny_model), device="cpu", precision="balanced", notify=notes.append)
    exact = make_classifier(str(tiny_model), device="cpu")
    # fp32 as exact; only the direct preparation's float rounding differs.
    assert np.abs(scores(balanced, images) - scores(exact, images)).max() <= 1e-5
    assert balanced.autocast_dtype is None and len(notes) == 1 and "no native bf16" in notes[0]
    assert balanced.model_id == exact.model_id + "+balanced"


def test_balanced_agrees_with_exact(tiny_model, images, native_bf16):
    balanced = make_classifier(str(tiny_model), device="cpu", precision="balanced")
    exact_scores = scores(make_classifier(str(tiny_model), device="cpu"), images)
    balanced_scores = scores(balanced, images)
    assert isinstance(balanced, LocalClassifier) and balanced.autocast_dtype is not None
    assert exact_scores.max() - exact_scores.min() > 0.15  # a spread head: the comparison means something
    assert np.abs(balanced_scores - exact_scores).max() <= BALANCED_TOLERANCE
    assert not np.array_equal(balanced_scores, exact_scores)  # bf16 did run


def test_balanced_embeddings_come_from_the_same_pass(tiny_model, images, native_bf16):
    balanced = make_classifier(str(tiny_model), device="cpu", precision="balanced")
    exact = make_classifier(str(tiny_model), device="cpu")
    exact.load()
    prepared = [exact.prepare(i) for i in images[:4]]
    with_bf16 = EmbeddingClassifier(balanced)
    with_bf16.load()
    fp32 = EmbeddingClassifier(exact)
    fp32.load()
    for a, b in zip(with_bf16.predict(prepared), fp32.predict(prepared), strict=True):
        cosine = float(a.embedding @ b.embedding / np.linalg.norm(a.embedding) / np.linalg.norm(b.embedding))
        assert cosine > 0.99


def test_fast_agrees_with_exact(tiny_model, images):
    fast = make_classifier(str(tiny_model), device="cpu", precision="fast")
    exact_scores = scores(make_classifier(str(tiny_model), device="cpu"), images)
    fast_scores = scores(fast, images)
    assert isinstance(fast, OnnxClassifier) and fast.model_id.endswith("+int8")
    assert np.abs(fast_scores - exact_scores).max() <= FAST_TOLERANCE


def test_a_fast_score_does_not_depend_on_the_batch(tiny_model, images):
    """Dynamic int8 quantization scales activations by the largest in the tensor it is given,
    so a batched run would score a photo by its batch-mates too."""
    fast = make_classifier(str(tiny_model), device="cpu", precision="fast")
    alone = [scores(fast, [image])[0] for image in images[:4]]
    together = scores(fast, images[:4])
    assert together.tolist() == alone


def test_onnx_export_equals_torch_in_fp32(tiny_model, images, tmp_path):
    import onnxruntime as ort
    import torch

    target = tmp_path / "model.onnx"
    onnx_export.export_fp32(resolve(str(tiny_model)), target)
    exact = make_classifier(str(tiny_model), device="cpu")
    exact.load()
    batch = torch.stack([exact.prepare(i) for i in images[:5]])  # not the export's example batch of 2
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    onnx_logits, onnx_embeddings = session.run(["logits", "embedding"], {"pixel_values": batch.numpy()})
    torch_logits = exact.logits(list(batch)).numpy()
    assert np.abs(onnx_logits - torch_logits).max() <= 1e-4
    torch_embeddings = EmbeddingClassifier(exact).predict(list(batch))
    assert np.abs(onnx_embeddings - np.stack([p.embedding for p in torch_embeddings])).max() <= 1e-4


def test_onnx_export_has_plain_attention(tiny_model, tmp_path):
    """Eager attention: torch's scaled_dot_product_attention exports with a NaN guard (IsNaN,
    Where) over every attention matrix, 8% of the int8 ViT-B/16's time."""
    import onnx

    target = tmp_path / "model.onnx"
    onnx_export.export_fp32(resolve(str(tiny_model)), target)
    operators = {node.op_type for node in onnx.load(target).graph.node}
    assert "Softmax" in operators
    assert "IsNaN" not in operators


def test_fast_model_is_built_once_and_rebuilt_when_the_model_changes(tmp_path, images, monkeypatch):
    model = build_tiny_vit(tmp_path / "model")
    notes = []
    first = make_classifier(str(model), precision="fast", notify=notes.append)
    first.load()
    built = onnx_export.cache_folder(resolve(str(model))) / onnx_export.INT8_FILE
    assert built.is_file() and any("Building the fast" in note for note in notes)
    assert json.loads((built.parent / onnx_export.INFO_FILE).read_text())["model_id"] == resolve(
        str(model)).model_id
    stamp = built.stat().st_mtime_ns
    notes.clear()
    second = make_classifier(str(model), precision="fast", notify=notes.append)
    assert np.array_equal(scores(second, images), scores(first, images))
    assert not any("Building" in n or "Measuring" in n for n in notes)  # reused, not rebuilt
    assert built.stat().st_mtime_ns == stamp

    # Other weights in the same folder: another fingerprint, another fast model.
    shutil.rmtree(model)
    build_tiny_vit(model, seed=1)
    changed = make_classifier(str(model), precision="fast", notify=notes.append)
    changed.load()
    assert any("Building the fast" in note for note in notes)
    assert not np.allclose(scores(changed, images), scores(first, images))

    # A new exporter or runtime version is another key too.
    notes.clear()
    older = onnx_export.cache_folder(resolve(str(model)))
    monkeypatch.setattr(onnx_export, "EXPORT_FORMAT", onnx_export.EXPORT_FORMAT + 1)
    make_classifier(str(model), precision="fast", notify=notes.append,
                    measure_agreement=measurer(tmp_path / "none.db")).load()
    assert any("Building the fast" in note for note in notes)
    newer = onnx_export.cache_folder(resolve(str(model)))
    assert newer != older and not older.exists()  # the build it replaces is deleted
    assert sorted(p.name for p in newer.iterdir()) == sorted(
        [AGREEMENT_FILE, onnx_export.INFO_FILE, onnx_export.INT8_FILE])


class _Trap:
    """Unpickling this runs code: it creates a file, which the test looks for."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_onnx_folder_runs_on_onnx_runtime_and_never_opens_pickle(tiny_model, tmp_path, images):
    folder = tmp_path / "onnx-model"
    folder.mkdir()
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copy(tiny_model / name, folder / name)
    onnx_export.export_fp32(resolve(str(tiny_model)), folder / "model.onnx")
    sprung = tmp_path / "pickle-was-loaded"
    for name in ("pytorch_model.bin", "model.pt", "weights.pkl"):
        (folder / name).write_bytes(pickle.dumps(_Trap(str(sprung))))
    classifier = make_classifier(str(folder))
    assert isinstance(classifier, OnnxClassifier)
    exact_scores = scores(make_classifier(str(tiny_model), device="cpu"), images)
    assert np.abs(scores(classifier, images) - exact_scores).max() <= 1e-4
    assert not sprung.exists()
    # Without model.onnx the folder is refused, naming the pickle files, and still nothing is unpickled.
    os.unlink(folder / "model.onnx")
    with pytest.raises(ModelError, match="only pickle weights"):
        make_classifier(str(folder))
    assert not sprung.exists()


def test_fast_embeddings_agree_with_exact(tiny_model, images):
    fast = EmbeddingClassifier(make_classifier(str(tiny_model), precision="fast"))
    exact = EmbeddingClassifier(make_classifier(str(tiny_model), device="cpu"))
    fast.load()
    exact.load()
    by_fast = fast.predict([fast.prepare(i) for i in images])
    by_exact = exact.predict([exact.prepare(i) for i in images])
    for f, e in zip(by_fast, by_exact, strict=True):
        assert f.embedding.dtype == np.float32 and f.embedding.shape == e.embedding.shape
        cosine = f.embedding @ e.embedding / np.linalg.norm(f.embedding) / np.linalg.norm(e.embedding)
        assert cosine >= FAST_EMBEDDING_COSINE
        assert abs(f.nsfw_score - e.nsfw_score) <= FAST_TOLERANCE
    # The scores of the pass with embeddings are the scores of the plain pass.
    plain = fast.classifier.predict([fast.prepare(i) for i in images])
    assert [p.nsfw_score for p in plain] == [p.nsfw_score for p in by_fast]
    with pytest.raises(ModelError, match="CLS embedding of the last layer only"):
        EmbeddingClassifier(fast.classifier, layer=3)


def test_a_fast_scan_classifies_files(tiny_model, tmp_path):
    paths = write_photos(tmp_path / "photos", 5)
    fast = make_classifier(str(tiny_model), precision="fast")
    results = [r for batch in classify_entries(list(entries_for_paths(paths)), fast) for r in batch]
    assert len(results) == 5 and all(r.error is None and 0 <= r.nsfw_score <= 1 for r in results)
