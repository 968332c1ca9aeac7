"""Shared fixtures: tiny ViT checkpoints built on the fly, and folders of test images."""

from __future__ import annotations

import atexit
import os
import shutil
import struct
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nsfw_desktop.media.sample_data import TINY_VIT, make_vit

# huggingface_hub reads these once, at import: set them before anything imports it,
# so no test touches the user's model cache or the network.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="nsfw-desktop-tests-hf-")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.pop("HF_TOKEN", None)
# What tests and the processes they start would keep in the home folder (Ray's token in
# ~/.ray, libraries' caches) goes to a temporary one: no test writes to the user's.
os.environ["HOME"] = tempfile.mkdtemp(prefix="nsfw-desktop-tests-home-")
for _folder in (os.environ["HF_HOME"], os.environ["HOME"]):
    atexit.register(shutil.rmtree, _folder, ignore_errors=True)  # gone with the test run


RAY_TEST_FILES = ("test_cluster.py", "test_cluster_serve.py")  # the tests marked ray, and only they


def pytest_xdist_make_scheduler(config, log):
    """The suite runs on two pytest-xdist workers (``-n 2 --dist loadfile``, pyproject.toml): a
    test file goes to one worker, so its module fixtures are built once, and the files of the
    tests marked ``ray`` go together, so they share one local Ray instance."""
    from xdist.scheduler import LoadFileScheduling

    class RayFilesTogether(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = super()._split_scope(nodeid)
            return "ray" if file.rpartition("/")[2] in RAY_TEST_FILES else file

    return RayFilesTogether(config, log)


def pytest_collection_modifyitems(items):
    """A test marked ``ray`` elsewhere would start a second Ray instance on the other worker."""
    strays = [item.nodeid for item in items
              if item.get_closest_marker("ray") and item.path.name not in RAY_TEST_FILES]
    if strays:
        raise pytest.UsageError(f"tests marked ray belong in {' or '.join(RAY_TEST_FILES)} "
                                f"(RAY_TEST_FILES in tests/conftest.py): {strays}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A worker sends its reports to pytest as UTF-8; a test's captured log or output may hold
    a file name that is not (the tests of names in other encodings), which would end the run.
    Such bytes are sent as escapes (``\\udce9``), as they print."""
    outcome = yield
    report = outcome.get_result()
    report.sections = [(title, text.encode("utf-8", "backslashreplace").decode("utf-8"))
                       for title, text in report.sections]


def build_tiny_vit(folder: Path, *, seed: int = 0, labels=("normal", "nsfw"),
                   label2id_as_strings: bool = False, safetensors: bool = True) -> Path:
    """Save a randomly initialised two-layer ViT in Hugging Face format."""
    import json

    import torch
    from safetensors.torch import load_file

    make_vit(folder, TINY_VIT, labels=labels, seed=seed, head_scale=40.0)
    if not safetensors:
        # What older checkpoints ship: pickle weights only.
        weights = load_file(folder / "model.safetensors")
        (folder / "model.safetensors").unlink()
        torch.save(weights, folder / "pytorch_model.bin")
    if label2id_as_strings:
        config_path = folder / "config.json"
        data = json.loads(config_path.read_text())
        data["label2id"] = {label: str(i) for label, i in data["label2id"].items()}
        data.pop("id2label")
        config_path.write_text(json.dumps(data))
    return folder


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Keep the app's config, data and cache folders inside the test's folder."""
    monkeypatch.setenv("NSFW_DESKTOP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(autouse=True)
def qt_deletes_done_in_the_test():
    """Delete the windows a test closed before the next test starts.

    pytest-qt closes a test's widgets and calls deleteLater(), which only an event loop carries
    out: the next test's first wait. Until then the garbage collector may free the Python side
    of such a window while Qt still holds its deferred delete, and PySide crashed (SIGSEGV in
    the next test's event loop, about one full run in three). Doing the deletes here, after
    pytest-qt's teardown, leaves nothing of one test for the next.
    """
    yield
    if "PySide6.QtCore" not in sys.modules:
        return
    from PySide6.QtCore import QCoreApplication, QEvent

    if QCoreApplication.instance() is not None:
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture(scope="session")
def ray_instance():
    """One local Ray instance (2 CPUs) for every test marked ``ray``: starting one takes seconds."""
    ray = pytest.importorskip("ray", reason="needs the cluster extra: pip install 'nsfw-desktop[cluster]'")
    from nsfw_desktop.cluster import connect

    # Workers import this checkout's nsfw_desktop, not another installed copy.
    root = str(Path(__file__).resolve().parent.parent)
    connect(num_cpus=2, runtime_env={"env_vars": {"PYTHONPATH": root}})  # as scan --ray starts one
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny normal/nsfw ViT checkpoint (safetensors)."""
    return build_tiny_vit(tmp_path_factory.mktemp("tiny-vit"))


@pytest.fixture(scope="module")
def local(tiny_model):
    """The tiny model as a LocalClassifier, loaded on the CPU."""
    from nsfw_desktop.classify.local import LocalClassifier
    from nsfw_desktop.classify.model_source import resolve

    classifier = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    classifier.load()
    return classifier


def random_image(seed: int, size=(64, 48), mode="RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    # Smooth blocks rather than pure noise, so JPEG and resizing behave as on photos.
    small = Image.fromarray(pixels).resize((max(1, size[0] // 8), max(1, size[1] // 8)))
    return small.resize(size, Image.BILINEAR).convert(mode)


def write_photos(folder: Path, count: int, *, size=(64, 48), fmt="PNG", start=0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + count):
        path = folder / f"photo_{i:04d}.{fmt.lower()}"
        random_image(i, size).save(path, fmt)
        paths.append(path)
    return paths


def png_bomb(path: Path, width=100_000, height=100_000) -> Path:
    """A tiny PNG whose header claims a huge picture (10 gigapixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def photos(tmp_path) -> Path:
    """A folder of five small PNG photos."""
    folder = tmp_path / "photos"
    write_photos(folder, 5)
    return folder


@pytest.fixture
def make_classifier(tiny_model):
    """Factory of fresh, unloaded classifiers for the tiny model (or another folder)."""
    from nsfw_desktop.classify import make_classifier as build

    def make(folder: Path | None = None):
        return build(str(folder or tiny_model), device="cpu")

    return make


@pytest.fixture
def store(tmp_path):
    """An empty results database."""
    from nsfw_desktop.store.results import Store

    with Store(tmp_path / "results.sqlite3") as db:
        yield db


def run_scan(roots, classifier, store, classify=None, **settings):
    """Run a scan to the end; returns (started event, summary, all results).

    ``settings`` are ScanPolicy or DecodeOptions fields (recursive=False, batch_size=2...);
    ``classify`` the engine's classifying step (a Ray cluster's), when not the local one.
    """
    from dataclasses import fields

    from nsfw_desktop.scan.engine import BatchDone, ScanFinished, ScanStarted, scan
    from nsfw_desktop.scan.types import DecodeOptions, ScanPolicy

    policy_fields = {f.name for f in fields(ScanPolicy)}
    policy = ScanPolicy(**{k: v for k, v in settings.items() if k in policy_fields})
    options = DecodeOptions(**{k: v for k, v in settings.items() if k not in policy_fields})
    started = summary = None
    results = []
    for event in scan([str(r) for r in roots], classifier, store, policy=policy, options=options,
                      classify=classify):
        if isinstance(event, ScanStarted):
            started = event
        elif isinstance(event, BatchDone):
            results.extend(event.results)
        elif isinstance(event, ScanFinished):
            summary = event.summary
    return started, summary, results
