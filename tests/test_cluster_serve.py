"""serve --ray: the Hugging Face contract from Ray Serve replicas on the local Ray instance.

The tests marked ``ray`` share the local Ray instance; one fixture, for the session,
deploys two applications behind one Ray proxy: ``main`` (API key, batching) and ``tiny``
(one request at a time and one waiting, each batch waiting 2 s for company),
whose queue three requests sent together fill for sure. The others need no Ray.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict

import httpx2
import pytest
from huggingface_hub import InferenceClient

from nsfw_desktop.classify.remote import RemoteClassifier
from nsfw_desktop.cli import main
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.scan.prepare import decode_and_prepare
from nsfw_desktop.server.contract import Contract
from nsfw_desktop.server.service import ServerConfig
from nsfw_desktop.store.results import Store
from tests.conftest import run_scan, write_photos
from tests.serving import png_bytes

API_KEY = "cluster-secret"
RETRY_AFTER = 3
BODY_TIMEOUT = 3.0
TOLERANCE = 1e-5  # the same fp32 model on the same decoded pixels, another process and batch


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch):
    """huggingface_hub refuses every request in offline mode; these go to 127.0.0.1 only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")  # not module: under xdist other Ray tests may run between these
def on_ray(ray_instance, tiny_model):
    """Two applications on Ray Serve, at /main and /tiny; the URL of its proxy."""
    from nsfw_desktop.classify import ModelSpec
    from nsfw_desktop.cluster.online import ServeOptions, import_serve, start, stop
    from nsfw_desktop.server.ray_replica import Replica

    spec = ModelSpec(str(tiny_model), device="cpu").portable()
    port = free_port()
    apps = {
        "main": (ServerConfig(max_batch=4, api_key=API_KEY, body_timeout=BODY_TIMEOUT),
                 ServeOptions(max_batch=4, num_cpus=0.5)),
        "tiny": (ServerConfig(max_batch=4, max_wait=2.0),
                 ServeOptions(max_batch=4, max_ongoing=1, max_queued=1, retry_after=RETRY_AFTER,
                              num_cpus=0.5)),
    }
    for name, (config, options) in apps.items():
        start(Replica, (spec, asdict(config)), options, port=port, name=name, route_prefix=f"/{name}")
    yield f"http://127.0.0.1:{port}"
    for name in apps:
        stop(name)
    import_serve().shutdown()


@pytest.mark.ray
@pytest.mark.slow
def test_inference_client_gets_the_local_scores(on_ray, local, tmp_path):
    paths = write_photos(tmp_path / "photos", 6)
    expected = {r.path: r.nsfw_score for batch in classify_entries(entries_for_paths(map(str, paths)), local)
                for r in batch}
    client = InferenceClient(model=on_ray + "/main", token=API_KEY)
    answers = [client.image_classification(path.read_bytes()) for path in paths]
    for path, answer in zip(paths, answers, strict=True):
        scores = {item.label: item.score for item in answer}
        assert scores.keys() == {"normal", "nsfw"}
        assert scores["nsfw"] == pytest.approx(expected[str(path)], abs=TOLERANCE)
    [top] = client.image_classification(paths[0].read_bytes(), top_k=1, function_to_apply="none")
    logits = local.logits(decode_and_prepare(paths[0], local, max_frames=1).inputs)[0].tolist()
    assert top.score == pytest.approx(max(logits), abs=TOLERANCE)  # JSON parameters: the raw logit
    assert len({round(s, 4) for s in expected.values()}) > 1  # the images really differ


@pytest.mark.ray
@pytest.mark.slow
def test_the_api_key_is_needed_except_for_health(on_ray, local):
    image = png_bytes(1)
    refused = httpx2.post(on_ray + "/main/predict", content=image)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert "API key" in refused.json()["error"]
    wrong = httpx2.post(on_ray + "/main/", content=image, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    health = httpx2.get(on_ray + "/main/health")
    assert health.status_code == 200
    assert health.json() == Contract(local).health()  # serve's: the model without its folder
    bad = httpx2.post(on_ray + "/main", content=b"not a picture",
                      headers={"Authorization": f"bearer {API_KEY}"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("bad image")
    metrics = httpx2.get(on_ray + "/main/metrics", headers={"Authorization": f"Bearer {API_KEY}"})
    assert metrics.status_code == 404 and "metrics-export-port" in metrics.json()["error"]


@pytest.mark.ray
@pytest.mark.slow
def test_a_slow_upload_gets_408_as_from_serve(on_ray):
    host, _, port = on_ray.removeprefix("http://").partition(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST /main/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                     "Content-Type: image/png\r\nContent-Length: 1000\r\n\r\n".encode())
        deadline = time.monotonic() + 6 * BODY_TIMEOUT
        while not select.select([sock], [], [], 0.2)[0] and time.monotonic() < deadline:
            sock.send(b"x")  # one byte every 0.2 s: 1000 bytes would take 200 s
        answer = http.client.HTTPResponse(sock)
        answer.begin()  # before, the replica waited for the whole body, however slow: no answer
        assert answer.status == 408
        assert f"longer than {BODY_TIMEOUT:g} s" in json.loads(answer.read())["error"]


@pytest.mark.ray
@pytest.mark.slow
def test_a_full_queue_answers_429_with_retry_after(on_ray):
    # One request in the replica (its batch waits 2 s) and one waiting at the proxy fill the
    # queue: of three sent together, at least one is refused, and nobody waits for long.
    image = png_bytes(2)
    answers: list[httpx2.Response] = []
    threads = [threading.Thread(target=lambda: answers.append(httpx2.post(on_ray + "/tiny", content=image,
                                                                           timeout=30)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses[0] == 200 and statuses[-1] == 429, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert answer.headers["Retry-After"] == str(RETRY_AFTER)
        else:
            assert {item["label"] for item in answer.json()} == {"normal", "nsfw"}


@pytest.mark.ray
@pytest.mark.slow
def test_remote_classifier_scans_through_it_like_a_local_scan(on_ray, local, tmp_path):
    photos = tmp_path / "photos"
    write_photos(photos, 5)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with Store(tmp_path / "local.db") as store:
        run_scan([photos], local, store)
        expected = {r.path: r for r in store.results()}
    # PNG uploads of pictures under 512 px: the replica sees exactly what a local scan sees.
    remote = RemoteClassifier([on_ray + "/main"], token=API_KEY, upload_format="PNG")
    with Store(tmp_path / "remote.db") as store:
        started, summary, _ = run_scan([photos], remote, store)
        got = {r.path: r for r in store.results()}
    remote.close()
    assert (started.to_classify, summary.errors) == (6, 1)
    assert got.keys() == expected.keys()
    for path, want in expected.items():
        assert (got[path].label, got[path].error) == (want.label, want.error)
        if want.error is None:
            assert got[path].nsfw_score == pytest.approx(want.nsfw_score, abs=TOLERANCE)


@pytest.mark.ray
@pytest.mark.slow
def test_sigterm_answers_the_request_in_flight_and_leaves_serve_running(on_ray, ray_instance, tiny_model):
    # serve --ray joins the tests' Ray instance, so its replica and Ray's proxy are the tests'.
    address = ray_instance.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(tiny_model), "--device", "cpu",
               f"--ray={address}", "--port", on_ray.rpartition(":")[2], "--ray-cpus", "0.25",
               "--max-wait-ms", "2000"]  # a lone request waits 2 s in its batch: in flight at SIGTERM
    answers: list[httpx2.Response] = []

    def classify() -> None:
        answers.append(httpx2.post(on_ray + "/", content=png_bytes(4), timeout=30))

    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as server:
        try:
            for line in server.stderr:
                if line.startswith("Serving"):
                    break
            request = threading.Thread(target=classify)
            request.start()
            time.sleep(0.5)  # the request reaches the replica, then waits for its batch
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=60) == 0
            request.join()
            assert "Stopped." in server.stderr.read()
        finally:
            server.kill()
    assert answers[0].status_code == 200
    assert {item["label"] for item in answers[0].json()} == {"normal", "nsfw"}
    assert httpx2.get(on_ray + "/main/health").status_code == 200  # the cluster's Serve runs on


def test_without_ray_the_message_names_the_extra(tiny_model, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert main(["serve", "--model", str(tiny_model), "--ray", "--replicas", "2"]) == 1
    assert "pip install 'nsfw-desktop[cluster]'" in capsys.readouterr().err


@pytest.mark.parametrize(("arguments", "message"), [
    (["--replicas", "2"], "are for serve --ray"),
    (["--ray", "--autoscale", "3:1"], "MIN:MAX replicas with MIN <= MAX"),
    (["--ray", "--autoscale", "0:0"], "MIN:MAX replicas with MIN <= MAX"),
    (["--ray", "--replicas", "2", "--autoscale", "1:2"], "not allowed with argument"),
    (["--ray", "--retry-after", "-1"], "--retry-after cannot be negative"),
])
def test_replica_options_are_checked_before_ray_starts(tiny_model, capsys, arguments, message):
    with contextlib.suppress(SystemExit):  # argparse exits on a bad value
        assert main(["serve", "--model", str(tiny_model), *arguments]) == 1
    assert message in capsys.readouterr().err


def test_the_deployment_bounds_its_queue_and_scales():
    pytest.importorskip("ray.serve", reason="needs the cluster extra: pip install 'nsfw-desktop[cluster]'")
    from nsfw_desktop.cluster.online import ServeOptions

    fixed = ServeOptions(replicas=3, max_ongoing=16, max_queued=32, retry_after=2).deployment()
    assert fixed["num_replicas"] == 3 and "autoscaling_config" not in fixed
    assert (fixed["max_ongoing_requests"], fixed["max_queued_requests"]) == (16, 32)
    assert (fixed["backpressure_config"].status_code, fixed["backpressure_config"].retry_after_s) == (429, 2)
    scaled = ServeOptions(autoscale=(1, 4), max_batch=8).deployment()["autoscaling_config"]
    assert (scaled.min_replicas, scaled.max_replicas, scaled.target_ongoing_requests) == (1, 4, 8)


@pytest.mark.ray
@pytest.mark.slow
def test_sigterm_while_the_replicas_start_stops_gracefully(on_ray, ray_instance, tiny_model):
    """Between joining Ray and listening, Ray's own SIGTERM handler ended the process
    (exit 15, no stop); the stop now waits for the start, then stops as usual."""
    address = ray_instance.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(tiny_model), "--device", "cpu",
               f"--ray={address}", "--port", on_ray.rpartition(":")[2], "--ray-cpus", "0.25"]
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True) as server:
        try:
            for line in server.stderr:
                if "Serve" in line and "namespace" in line:  # Ray joined, Serve found or started
                    break
            time.sleep(0.5)  # the replica is being deployed
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=90) == 0
            assert "Stopped." in server.stderr.read()
        finally:
            server.kill()
    assert httpx2.get(on_ray + "/main/health").status_code == 200  # the cluster's Serve runs on
