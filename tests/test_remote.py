"""RemoteClassifier against endpoints on loopback: parity with local scans, and faults."""

import asyncio
import hashlib
import io
import logging
import threading
import time
from collections import defaultdict

import pytest
from aiohttp import web
from PIL import Image

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import ModelError, resolve
from nsfw_desktop.classify.remote import RemoteClassifier
from nsfw_desktop.classify.retries import RetryPolicy
from nsfw_desktop.media.imaging import load_image
from nsfw_desktop.scan.engine import scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.server import InferenceService, ServerConfig, create_app
from nsfw_desktop.server.background import ServerThread
from nsfw_desktop.store.results import Store
from tests.conftest import png_bomb, random_image, write_photos

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=3.0, timeout=0.5)


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch):
    """huggingface_hub refuses every request in offline mode; these go to 127.0.0.1 only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def run_scan(roots, classifier, store, batch_size=8):
    events = list(scan(roots, classifier, store, options=DecodeOptions(batch_size=batch_size)))
    return events[0], events[-1].summary


def remote(urls, **options) -> RemoteClassifier:
    return RemoteClassifier(urls, retry=options.pop("retry", FAST_RETRY), **options)


def test_scan_through_the_endpoint_equals_the_local_scan(tiny_model, tmp_path):
    photos = tmp_path / "photos"
    write_photos(photos, 10)
    write_photos(photos / "sub", 3, fmt="JPEG", size=(300, 200))
    png_bomb(photos / "bomb.png")
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    local = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    local_store = Store(tmp_path / "local.db")
    run_scan([photos], local, local_store)

    with ServerThread(create_app(InferenceService(local, ServerConfig()))) as server:
        # PNG uploads of pictures under 512 px: the server sees exactly what a local scan sees.
        classifier = remote([server.url], upload_format="PNG")
        remote_store = Store(tmp_path / "remote.db")
        started, summary = run_scan([photos], classifier, remote_store, batch_size=4)
        assert started.to_classify == 15 and summary.errors == 2
        again, _ = run_scan([photos], classifier, remote_store)
        assert again.to_classify == 0  # same endpoint: nothing to redo
        classifier.close()
    back_to_local, _ = run_scan([photos], local, remote_store)
    assert back_to_local.to_classify == 15  # another model id: classified again

    by_path = {r.path: r for r in Store(tmp_path / "remote.db").results()}
    for want in local_store.results():
        got = by_path.pop(want.path)
        assert got.error == want.error
        assert got.label == want.label
        if want.error is None:
            assert got.nsfw_score == pytest.approx(want.nsfw_score, abs=1e-5)
    assert not by_path
    assert classifier.model_id == server.url


def test_prepare_shrinks_and_encodes_jpeg():
    classifier = RemoteClassifier(["http://127.0.0.1:9"])
    data = classifier.prepare(random_image(1, (2000, 1500)))
    with Image.open(io.BytesIO(data)) as image:
        # Towards 512 px on the longest side, but never under 448 px on the shorter one.
        assert image.format == "JPEG" and image.size == (597, 448)
    small = classifier.prepare(random_image(1, (100, 80)))
    with Image.open(io.BytesIO(small)) as image:
        assert image.size == (100, 80)


def test_bad_endpoint_settings_are_refused_clearly(monkeypatch):
    with pytest.raises(ModelError, match="not a URL"):
        RemoteClassifier(["example.com/model"])
    with pytest.raises(ModelError, match="No endpoint"):
        RemoteClassifier([" "])
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelError, match="HF_HUB_OFFLINE"):
        make_classifier(endpoints=["http://127.0.0.1:9"]).load()


class FaultServer:
    """An endpoint whose answers follow a script per uploaded image: faults, then a real answer.

    ``scripts`` maps the upload bytes to the fates of its requests, one per request; the
    last fate repeats. Every request is recorded with its time and fate.
    """

    def __init__(self, scripts: dict[bytes, list[str]], delay: float = 0.0):
        self.delay = delay  # seconds before every answer
        self.scripts = {hashlib.sha256(data).hexdigest(): list(script) for data, script in scripts.items()}
        self.requests = defaultdict(list)  # image hash -> [(monotonic time, fate)]
        self.headers = []
        self.uploads = []  # every request body, in order
        self.lock = threading.Lock()
        app = web.Application(client_max_size=2**24)
        app.router.add_post("/", self.handle)
        self.thread = ServerThread(app, shutdown_timeout=1)

    @staticmethod
    def score(data: bytes) -> float:
        return int(hashlib.sha256(data).hexdigest()[:4], 16) / 0xFFFF

    async def handle(self, request: web.Request) -> web.StreamResponse:
        data = await request.read()
        await asyncio.sleep(self.delay)
        key = hashlib.sha256(data).hexdigest()
        with self.lock:
            script = self.scripts.get(key, [])
            fate = script.pop(0) if len(script) > 1 else (script[0] if script else "ok")
            self.requests[key].append((time.monotonic(), fate))
            self.headers.append(dict(request.headers))
            self.uploads.append(data)
        if fate == "503":
            return web.json_response({"error": "Model is loading", "estimated_time": 0.4}, status=503)
        if fate == "503-forever":
            return web.json_response({"error": "Service Unavailable"}, status=503)
        if fate == "429":
            return web.json_response({"error": "Too many requests"}, status=429,
                                     headers={"Retry-After": "1"})
        if fate == "slow":
            await asyncio.sleep(2.0)
        if fate == "drop":
            request.transport.close()
            return web.Response()
        if fate == "garbage":
            return web.Response(body=b"<html>502 Bad Gateway", content_type="application/json")
        if fate == "400":
            return web.json_response({"error": "bad image"}, status=400)
        score = self.score(data)
        return web.json_response([{"label": "nsfw", "score": score},
                                  {"label": "normal", "score": 1 - score}])


def test_faults_end_with_every_file_classified_or_recorded(tmp_path, caplog):
    photos = tmp_path / "photos"
    paths = write_photos(photos, 14)
    plans = [["503", "ok"], ["429", "ok"], ["slow", "ok"], ["drop", "ok"], ["garbage", "ok"],
             ["503-forever"], ["400"], ["drop", "503", "garbage", "ok"]]
    probe = RemoteClassifier(["http://127.0.0.1:9"])
    uploads = [probe.prepare_file(str(path), load_image(path, min_side=2 * probe.input_size))[0]
               for path in paths]
    fault = FaultServer({data: plans[i] for i, data in enumerate(uploads) if i < len(plans)})
    caplog.set_level(logging.DEBUG)
    with fault.thread:
        classifier = remote([fault.thread.url], token="hf_SECRET_never_shown", in_flight=4)
        store = Store(tmp_path / "results.db")
        started, summary = run_scan([photos], classifier, store, batch_size=5)
        classifier.close()

    rows = {r.path: r for r in store.results()}
    assert started.to_classify == 14 and len(rows) == 14 and store.count() == 14
    assert summary.scanned == 14 and summary.errors == 2
    for i, (path, data) in enumerate(zip(paths, uploads, strict=True)):
        row = rows[str(path)]
        fates = [fate for _, fate in fault.requests[hashlib.sha256(data).hexdigest()]]
        if i == 5:
            assert fates == ["503-forever"] * FAST_RETRY.attempts
            assert row.error.startswith("gave up after 4 tries") and "503" in row.error
        elif i == 6:
            assert fates == ["400"] and "refused the image (HTTP 400: bad image)" in row.error
        else:
            assert row.error is None
            assert row.nsfw_score == pytest.approx(FaultServer.score(data))
            assert fates.count("ok") == 1  # answered once: nothing classified twice
            assert fates[-1] == "ok"
    times = {i: [t for t, _ in fault.requests[hashlib.sha256(uploads[i]).hexdigest()]] for i in (0, 1)}
    assert times[0][1] - times[0][0] >= 0.4  # estimated_time honoured, not the 10 ms backoff
    assert times[1][1] - times[1][0] >= 1.0  # Retry-After honoured
    # The Content-Type that Hugging Face's endpoints insist on (the small PNGs go as they are),
    # and the token only in its header.
    assert all(h.get("Content-Type") == "image/png" for h in fault.headers)
    assert all(h.get("Authorization") == "Bearer hf_SECRET_never_shown" for h in fault.headers)
    assert "SECRET" not in caplog.text and "SECRET" not in repr(classifier)
    assert not any("SECRET" in (row.error or "") for row in rows.values())


def test_failing_or_slow_endpoint_gets_less_work(tmp_path):
    photos = tmp_path / "photos"
    paths = write_photos(photos, 24)
    probe = RemoteClassifier(["http://127.0.0.1:9"])
    uploads = [probe.prepare_file(str(path), load_image(path, min_side=2 * probe.input_size))[0]
               for path in paths]
    failing = FaultServer({data: ["503-forever"] for data in uploads})
    healthy = FaultServer({})
    with failing.thread, healthy.thread:
        classifier = remote([failing.thread.url, healthy.thread.url], in_flight=4,
                            retry=RetryPolicy(attempts=8, base_delay=0.2, max_delay=1, timeout=5))
        _, summary = run_scan([photos], classifier, Store(tmp_path / "a.db"))
        classifier.close()
    assert summary.errors == 0 and summary.scanned == 24
    failed = sum(len(v) for v in failing.requests.values())
    assert failed < 8, failed
    assert sum(len(v) for v in healthy.requests.values()) == 24

    slow = FaultServer({}, delay=0.3)
    fast = FaultServer({})
    with slow.thread, fast.thread:
        classifier = remote([slow.thread.url, fast.thread.url], in_flight=4)
        _, summary = run_scan([photos], classifier, Store(tmp_path / "b.db"))
        classifier.close()
    assert summary.errors == 0
    slow_count = sum(len(v) for v in slow.requests.values())
    fast_count = sum(len(v) for v in fast.requests.values())
    assert slow_count + fast_count == 24 and fast_count > 2 * slow_count, (slow_count, fast_count)


def test_cli_classify_and_scan_take_endpoint_and_token(tiny_model, tmp_path, capsys):
    from nsfw_desktop.cli import main

    photos = tmp_path / "photos"
    paths = write_photos(photos, 3)
    local = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    config = ServerConfig(api_key="hf_SECRET_key")
    with ServerThread(create_app(InferenceService(local, config))) as server:
        status = main(["classify", "--json", "--endpoint", server.url, "--token", "hf_SECRET_key",
                       *map(str, paths)])
        out = capsys.readouterr()
        assert status == 0
        lines = [line for line in out.out.splitlines() if line]
        assert len(lines) == 3 and all('"error": null' in line for line in lines)
        status = main(["scan", "--db", str(tmp_path / "r.db"), "--endpoint", server.url,
                       "--token", "wrong-key", str(photos)])
        out = capsys.readouterr()
        assert status == 0
        assert out.err.count("refused the token (HTTP 401)") == 3
    assert "SECRET" not in out.out + out.err
    assert main(["classify", "--model", str(tiny_model), "--endpoint", server.url, str(paths[0])]) == 1
    assert "not both" in capsys.readouterr().err


def test_small_files_go_as_they_are_and_panoramas_keep_their_detail(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    files = {"small.jpg": ((64, 48), "JPEG"), "small.webp": ((300, 200), "WEBP"),
             "panorama.jpg": ((12000, 400), "JPEG"), "tall-panorama.png": ((900, 12000), "PNG"),
             "photo.jpg": ((2000, 1500), "JPEG")}
    for seed, (name, (size, fmt)) in enumerate(files.items()):
        random_image(seed, size).save(photos / name, fmt)
    endpoint = FaultServer({})
    with endpoint.thread:
        classifier = remote([endpoint.thread.url])
        _, summary = run_scan([photos], classifier, Store(tmp_path / "r.db"))
        classifier.close()
    assert summary.errors == 0 and len(endpoint.uploads) == len(files)
    received = {}
    for data, headers in zip(endpoint.uploads, endpoint.headers, strict=True):
        with Image.open(io.BytesIO(data)) as image:
            received[image.size] = (data, image.format, headers["Content-Type"])
    # Within size and in a format endpoints read: the file's own bytes, byte for byte.
    for name in ("small.jpg", "small.webp", "panorama.jpg"):
        size = files[name][0]
        assert received[size][0] == (photos / name).read_bytes(), name
    assert received[(300, 200)][2] == "image/webp"
    # Shrunk, but the shorter side stays at 448 px (twice the model input): before, 512 px on
    # the longest side made the panorama 512x17.
    assert received[(448, 5973)][1:] == ("JPEG", "image/jpeg")
    assert received[(597, 448)][1] == "JPEG"


def test_panorama_scores_as_in_a_local_scan(tiny_model, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    random_image(7, (12000, 400)).save(photos / "panorama.jpg", "JPEG")
    random_image(8, (900, 12000)).save(photos / "tall-panorama.png", "PNG")
    local = LocalClassifier(resolve(str(tiny_model)), device="cpu")
    local_store = Store(tmp_path / "local.db")
    run_scan([photos], local, local_store)
    with ServerThread(create_app(InferenceService(local, ServerConfig()))) as server:
        classifier = remote([server.url])
        remote_store = Store(tmp_path / "remote.db")
        run_scan([photos], classifier, remote_store)
        classifier.close()
    by_path = {r.path: r.nsfw_score for r in remote_store.results()}
    for want in local_store.results():
        same = 1e-5 if want.path.endswith(".jpg") else 0.05  # sent as is, or shrunk to 448 px
        assert by_path[want.path] == pytest.approx(want.nsfw_score, abs=same), want.path


def test_an_endpoint_that_is_down_is_retried_aloud_once(tmp_path):
    """A command against a stopped server used to sit silent for the whole retry budget."""
    told = []
    classifier = remote(["http://127.0.0.1:9"], notify=told.append)
    data = classifier.prepare(random_image(1))
    predictions = classifier.predict([data, data, data])
    classifier.close()
    assert all("gave up after 4 tries" in p.error for p in predictions)
    assert len(told) == 1
    assert "http://127.0.0.1:9" in told[0] and "retrying, for up to 0 s and 4 tries per file" in told[0]
    assert FAST_RETRY.longest_wait() == pytest.approx(0.07)
    assert RetryPolicy().longest_wait() == 31
