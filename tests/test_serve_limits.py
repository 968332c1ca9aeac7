"""``serve`` under abuse, on loopback: slow uploads, bursts, hostile bodies, disconnects, auth, logs."""

import asyncio
import logging
import select
import socket
import time
from collections import Counter

import aiohttp
import httpx2
import pytest

from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.model_source import resolve
from nsfw_desktop.server.admission import Admission
from nsfw_desktop.server.background import ServerThread
from tests import serving
from tests.serving import png_bytes


def start(classifier, **config) -> ServerThread:
    return serving.start(classifier, shutdown_timeout=2, **config)



def post_head(length: int, *extra: str) -> bytes:
    """The head of a POST whose body of ``length`` bytes is to follow."""
    lines = ["POST / HTTP/1.1", "Host: x", "Content-Type: image/png", f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer_to(sock: socket.socket, seconds: float = 5) -> bytes:
    """What the server sends first: its interim or final answer's first bytes."""
    sock.settimeout(seconds)
    return sock.recv(65536)


def test_slow_uploads_hold_their_place_until_the_body_timeout(local):
    thread = start(local, max_queue=2, body_timeout=1.5)
    dribblers = []
    try:
        for _ in range(4):  # twice the queue: two get in, two are refused at once
            sock = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
            sock.sendall(post_head(1000))
            dribblers.append(sock)
        answers = {}
        deadline = time.monotonic() + 5
        busy = None
        while len(answers) < len(dribblers) and time.monotonic() < deadline:
            for sock in dribblers:
                if sock in answers:
                    continue
                if select.select([sock], [], [], 0)[0]:
                    answers[sock] = sock.recv(65536)
                else:
                    sock.send(b"x")  # one byte every 0.2 s: 1000 bytes would take 200 s
            if busy is None and len(answers) == 2:
                busy = httpx2.post(thread.url, content=png_bytes(1), timeout=5)  # both places held
            time.sleep(0.2)
        statuses = sorted(answer[:12] for answer in answers.values())
        # Before, the bodies were read before admission: four dribblers held four bodies.
        assert statuses == [b"HTTP/1.1 408", b"HTTP/1.1 408", b"HTTP/1.1 429", b"HTTP/1.1 429"], answers
        assert all(b"longer than 1.5 s" in a for a in answers.values() if a.startswith(b"HTTP/1.1 408"))
        assert busy.status_code == 429 and int(busy.headers["Retry-After"]) >= 1
        assert httpx2.post(thread.url, content=png_bytes(1), timeout=5).status_code == 200  # places freed
    finally:
        for sock in dribblers:
            sock.close()
        thread.stop()


def test_bodies_are_admitted_before_they_are_sent_and_within_a_budget(local):
    # Room for two bodies of 1 MiB at once, whatever the number of places.
    thread = start(local, max_body=2**20, max_body_budget=2 * 2**20)
    socks = [socket.create_connection(("127.0.0.1", thread.port), timeout=5) for _ in range(4)]
    try:
        for sock in socks[:3]:
            sock.sendall(post_head(2**20, "Expect: 100-continue"))
        first, second, third = (answer_to(sock) for sock in socks[:3])
        assert first.startswith(b"HTTP/1.1 100 Continue") and second.startswith(b"HTTP/1.1 100 Continue")
        # The third is refused before it sends its body (before, every client was told to
        # send it, and every body was read), and the connection is closed.
        assert third.startswith(b"HTTP/1.1 429"), third
        assert b"Retry-After: " in third and b"Connection: close" in third
        # Without Expect the answer comes as soon as the head has arrived, body unread.
        socks[3].sendall(post_head(2**20))
        assert answer_to(socks[3]).startswith(b"HTTP/1.1 429")
        # Once a body is in and answered (not a picture: 400), its bytes are free again.
        socks[0].sendall(b"x" * 2**20)
        assert answer_to(socks[0]).startswith(b"HTTP/1.1 400")
        assert httpx2.post(thread.url, content=png_bytes(1), timeout=5).status_code == 200
        # A body larger than the limit is refused before it is sent, too.
        too_big = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
        socks.append(too_big)
        too_big.sendall(post_head(2**20 + 1, "Expect: 100-continue"))
        assert answer_to(too_big).startswith(b"HTTP/1.1 413")
    finally:
        for sock in socks:
            sock.close()
        thread.stop()


def test_large_bodies_refused_by_the_budget_are_sent_back_as_many_a_second_as_it_holds():
    admission = Admission(limit=64, budget=8 * 2**20)
    assert all(admission.enter(2**20) is None for _ in range(8))  # the budget is full
    retry_afters = [admission.enter(2**20) for _ in range(40)]
    assert None not in retry_afters
    # Before, all 40 were told the same second, as if 64 places were free for them.
    assert max(Counter(retry_afters).values()) <= 8, retry_afters


def test_a_chunked_body_holds_the_largest_body_of_the_budget(local):
    thread = start(local, max_body=2**20, max_body_budget=2**20)
    held = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
    try:
        held.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        assert answer_to(held).startswith(b"HTTP/1.1 100 Continue")
        # Its length is unknown: it may take the whole budget, and nothing else gets in meanwhile.
        assert httpx2.post(thread.url, content=png_bytes(1), timeout=5).status_code == 429
        body = png_bytes(1)
        held.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        assert answer_to(held).startswith(b"HTTP/1.1 200")
    finally:
        held.close()
        thread.stop()


class SlowDecode(LocalClassifier):
    """The tiny model, with the preparation time of a large photo, so a queue takes a while."""

    def prepare(self, image):
        time.sleep(0.25)
        return super().prepare(image)


async def send(url: str, session, body: bytes, refusals: list[int], attempts: int = 8) -> int:
    """POST ``body`` until it is answered, waiting Retry-After after each 429 (as
    huggingface_hub users and RemoteClassifier do); each Retry-After goes to ``refusals``."""
    for _ in range(attempts):
        async with session.post(url, data=body) as response:
            await response.read()
            if response.status != 429:
                return response.status
            retry_after = int(response.headers["Retry-After"])
            assert 1 <= retry_after <= 10
            refusals.append(retry_after)
            await asyncio.sleep(retry_after)
    return 429


async def clients(url: str, count: int, requests: int) -> list[list[list[int]]]:
    """``count`` clients sending ``requests`` pictures each, one after the other: the
    Retry-Afters each request got."""
    body = png_bytes(2)
    refusals = [[[] for _ in range(requests)] for _ in range(count)]

    async def client(session, mine):
        return [await send(url, session, body, mine[i]) for i in range(requests)]

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=count)) as session:
        statuses = await asyncio.gather(*(client(session, refusals[i]) for i in range(count)))
    assert statuses == [[200] * requests] * count  # accepted requests completed, retries were served
    return refusals


@pytest.fixture
def slow_server(tiny_model):
    """Three places, one decode thread, a quarter of a second per picture."""
    thread = start(SlowDecode(resolve(str(tiny_model)), device="cpu"), max_queue=3, decode_workers=1)
    # A first few requests: the server learns how long an answer takes.
    assert asyncio.run(clients(thread.url, 3, 1)) == [[[]]] * 3
    yield thread
    thread.stop()


def test_a_burst_is_refused_with_a_retry_after_that_spreads_the_retries(slow_server):
    refusals = [r for client in asyncio.run(clients(slow_server.url, 15, 1)) for r in client]
    # 3 places: 12 refused at first; each was told a second when a place would be free,
    # so it got in when it came back (before, all came back after 1 s and most were
    # refused again, some four times).
    assert sum(map(len, refusals)) >= 12
    assert max(map(len, refusals)) <= 2, refusals
    assert len({r[0] for r in refusals if r}) > 1  # not all sent back for the same second


def test_clients_sent_back_get_their_turn_before_busy_clients_send_more(slow_server):
    # 6 clients, 3 places, 5 pictures each. Before, the 3 clients that got in sent their
    # next picture the moment one was answered and kept every place; the 3 sent back were
    # refused each time they came back until the others had sent all of theirs.
    refusals = asyncio.run(clients(slow_server.url, 6, 5))
    assert max(len(request) for client in refusals for request in client) <= 2, refusals


def test_deeply_nested_json_is_a_plain_400(local):
    thread = start(local)
    try:
        answer = httpx2.post(thread.url, content=b"[" * 100_000,
                             headers={"Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 400
        assert answer.json() == {"error": 'the JSON body is nested too deeply: send {"inputs": "<base64>"}'}
    finally:
        thread.stop()


def test_client_disconnects_log_a_line_at_most(local, caplog):
    thread = start(local, max_wait=0.3)
    caplog.set_level(logging.DEBUG)
    try:
        body = png_bytes(3)
        for cut in (100, len(body)):  # gone while sending, and while waiting for the answer
            for _ in range(3):
                sock = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
                sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                             + body[:cut])
                time.sleep(0.1)
                sock.close()
        time.sleep(0.5)
        assert httpx2.post(thread.url, content=body, timeout=5).status_code == 200
    finally:
        thread.stop()
    assert "Traceback" not in caplog.text
    server_lines = [r for r in caplog.records if r.name.startswith(("aiohttp", "nsfw_desktop"))]
    assert len(server_lines) <= 6, [r.getMessage() for r in server_lines]  # one per disconnect at most
    assert all(r.levelno < logging.INFO for r in server_lines)


def test_the_api_key_is_checked_before_the_body_is_sent(local):
    thread = start(local, api_key="s3cret")
    sock = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
    try:
        sock.sendall(post_head(2**20, "Expect: 100-continue"))
        answer = answer_to(sock)
        assert answer.startswith(b"HTTP/1.1 401"), answer  # not "100 Continue", then 401
    finally:
        sock.close()
        thread.stop()


def test_an_authorization_header_that_is_not_ascii_is_a_401(local, caplog):
    thread = start(local, api_key="s3cret")
    sock = socket.create_connection(("127.0.0.1", thread.port), timeout=5)
    try:
        body = png_bytes(1)
        head = post_head(len(body)).replace(b"\r\n\r\n", b"\r\nAuthorization: Bearer \xff\r\n\r\n")
        sock.sendall(head + body)
        answer = answer_to(sock)
    finally:
        sock.close()
        thread.stop()
    assert answer.startswith(b"HTTP/1.1 401"), answer  # a 500 and a traceback before
    assert "Traceback" not in caplog.text


def test_bearer_scheme_is_case_insensitive(local):
    thread = start(local, api_key="s3cret")
    try:
        for scheme in ("bearer", "BEARER", "Bearer"):
            answer = httpx2.post(thread.url, content=png_bytes(1),
                                 headers={"Authorization": f"{scheme} s3cret"})
            assert answer.status_code == 200, scheme
        for wrong in ("Basic s3cret", "bearer s3cre", "bearers3cret", "s3cret"):
            answer = httpx2.post(thread.url, content=png_bytes(1), headers={"Authorization": wrong})
            assert answer.status_code == 401, wrong
    finally:
        thread.stop()


def test_health_does_not_reveal_the_model_folder(local, tiny_model):
    thread = start(local)
    try:
        health = httpx2.get(thread.url + "/health").json()
    finally:
        thread.stop()
    assert str(tiny_model) not in str(health) and str(tiny_model.parent) not in str(health)
    assert health["model"].startswith(tiny_model.name + "#")  # the name and the weights' fingerprint
