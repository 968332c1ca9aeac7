"""The HTTP side of ``nsfw-desktop serve``: one InferenceService answers every route.

A request goes through three stages: the body is read and decoded (with the
same safe decoder as scans, so bombs and non-images are refused) in a pool of
decode threads, then waits in the Batcher for a forward pass, then its logits
become the answer. A request is admitted before its body is read, and the
requests accepted at once and the bytes their bodies hold are bounded: one more
gets 429 with a Retry-After estimate, never a hang, and its body is never read
(with ``Expect: 100-continue`` the client does not even send it). So memory is
bounded whatever the clients send. A body must arrive within ``body_timeout``
(408 otherwise): a slow upload holds its place that long at most.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.classify.onnx import OnnxClassifier
from nsfw_desktop.media.imaging import DEFAULT_MAX_PIXELS
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.server.admission import Admission
from nsfw_desktop.server.batcher import Batcher
from nsfw_desktop.server.contract import (
    BUSY,
    REFUSED,
    UNAUTHORIZED,
    Contract,
    authorized,
    refusal,
    too_large,
    too_slow,
)
from nsfw_desktop.server.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    max_batch: int = 8  # images per forward pass
    max_wait: float = 0.01  # seconds a batch waits for more images once it has one
    max_queue: int = 64  # requests accepted at once (decoding, waiting or in the model)
    body_timeout: float = 30.0  # seconds for a whole request body to arrive; slower gets 408
    max_body: int = 32 * 1024 * 1024  # bytes; a larger body gets 413
    # Bytes of request bodies held at once (their Content-Length, max_body when unknown); a
    # request whose body would go past it gets 429 before its body is read.
    max_body_budget: int = 256 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused as bombs
    decode_workers: int = 2
    # When set, requests need "Authorization: Bearer <key>"; never shown by repr (logs, tracebacks).
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body", "max_body_budget", "max_pixels",
                     "decode_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_body > self.max_body_budget:
            raise ValueError(f"max_body ({self.max_body} bytes) cannot be more than max_body_budget "
                             f"({self.max_body_budget}): a body that large could never be admitted")
        if self.max_wait < 0:
            raise ValueError(f"max_wait cannot be negative, not {self.max_wait}")
        if self.body_timeout <= 0:
            raise ValueError(f"body_timeout must be positive, not {self.body_timeout}")


class InferenceService:
    def __init__(self, classifier: LocalClassifier | OnnxClassifier,
                 config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self.contract = Contract(classifier, DecodeOptions(max_pixels=self.config.max_pixels))
        self.admission = Admission(self.config.max_queue, self.config.max_body_budget)
        self.batcher: Batcher | None = None
        self._decode_pool: ThreadPoolExecutor | None = None
        self.metrics = Metrics(queue_size=lambda: self.batcher.waiting if self.batcher else 0,
                               in_flight=lambda: self.admission.in_flight)

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: the batcher outlives the draining of in-flight requests."""
        self._decode_pool = ThreadPoolExecutor(self.config.decode_workers, thread_name_prefix="decode")
        self.batcher = Batcher(self.contract.forward, max_batch=self.config.max_batch,
                               max_wait=self.config.max_wait, on_batch=self.metrics.observe_batch)
        self.batcher.start()
        yield
        await self.batcher.stop()
        self._decode_pool.shutdown(wait=True)

    async def predict(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        response = await self._handle(request)
        self.metrics.requests.labels(str(response.status)).inc()
        self.metrics.latency.observe(time.monotonic() - start)
        return response

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response(self.contract.health())

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(),
                            headers={"Content-Type": self.metrics.content_type})

    async def _handle(self, request: web.Request) -> web.Response:
        # Admitted before its body is read, so a refused body is never held in memory.
        if request.content_length is not None and request.content_length > self.config.max_body:
            return refused(request, self._error(413, "too_large", too_large(self.config.max_body)))
        size = self._body_size(request)
        retry_after = self.admission.enter(size)
        if retry_after is not None:
            return refused(request, self._busy(retry_after))
        try:
            body = await self._read_body(request)
            if isinstance(body, web.Response):
                return body
            return await self._classify(body, request.headers.get("Content-Type"))
        finally:
            self.admission.leave(size)

    def _body_size(self, request: web.Request) -> int:
        """The bytes the body may take: its Content-Length, or the most a chunked one may."""
        if request.content_length is not None:
            return request.content_length
        return self.config.max_body if request.body_exists else 0

    async def _read_body(self, request: web.Request) -> bytes | web.Response:
        try:
            if _expects_continue(request):  # admitted: now the client may send its body
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # as aiohttp's own: the response has not begun
            return await asyncio.wait_for(request.read(), self.config.body_timeout)
        except web.HTTPRequestEntityTooLarge:
            return self._error(413, "too_large", too_large(self.config.max_body))
        except asyncio.TimeoutError:
            response = self._error(408, "timeout", too_slow(self.config.body_timeout))
            # Answer, then close: aiohttp would otherwise keep reading the slow body for a while.
            await response.prepare(request)
            await response.write_eof()
            request.protocol.force_close()
            return response
        except ConnectionResetError:
            # The client went away: nobody to answer and nothing to fix here, so one line at most.
            log.debug("client %s disconnected while sending its request", request.remote)
            return self._error(499, "disconnected", "the client disconnected")

    async def _classify(self, body: bytes, content_type: str | None) -> web.Response:
        # x-wait-for-model and x-use-cache are accepted and ignored: the model is always loaded
        # and nothing is cached.
        loop = asyncio.get_running_loop()
        try:
            # Parsing (JSON, base64) and decoding both run off the event loop.
            prepared, parameters = await loop.run_in_executor(self._decode_pool, self.contract.prepare,
                                                              body, content_type)
        except REFUSED as exc:
            return self._error(*refusal(exc))
        assert self.batcher is not None, "running() starts it before the app takes requests"
        try:
            logits = await self.batcher.submit(prepared)
        except Exception as exc:  # the model failed on the batch: say so, keep serving
            log.exception("forward pass failed")
            return self._error(500, "model", f"the model failed: {exc}")
        return web.json_response(self.contract.answer(logits, parameters))

    def _busy(self, retry_after: int) -> web.Response:
        return self._error(429, "queue_full", BUSY,
                           {"Retry-After": str(retry_after)})

    def _error(self, status: int, reason: str, message: str, headers=None) -> web.Response:
        self.metrics.errors.labels(reason).inc()
        return web.json_response({"error": message}, status=status, headers=headers)


def bearer_auth(api_key: str):
    """Middleware: every route but /health needs ``Authorization: Bearer <api_key>``; the
    scheme's case does not matter (RFC 7235)."""

    @web.middleware
    async def check(request: web.Request, handler):
        if request.path != "/health" and not authorized(request.headers.get("Authorization"), api_key):
            return refused(request, web.json_response({"error": UNAUTHORIZED}, status=401,
                                                      headers={"WWW-Authenticate": "Bearer"}))
        return await handler(request)

    return check


async def continue_when_admitted(request: web.Request) -> None:
    """aiohttp's Expect handler for the routes that take a body: "100 Continue" is left to
    the handler, which sends it once the request is admitted (and authorized: the middleware
    runs in between), so a refused client never sends its body."""
    if request.version == HttpVersion11 and not _expects_continue(request):
        raise web.HTTPExpectationFailed(text=f"Unknown Expect: {request.headers[hdrs.EXPECT]}")


def refused(request: web.Request, response: web.Response) -> web.Response:
    """``response`` to a request refused before its body was read. A client waiting for
    "100 Continue" will not send its body: the connection closes after the answer, where
    aiohttp would otherwise wait for that body before reading the next request."""
    if _expects_continue(request):
        response.force_close()
    return response


def _expects_continue(request: web.Request) -> bool:
    return request.version == HttpVersion11 and request.headers.get(hdrs.EXPECT, "").lower() == "100-continue"


def create_app(service: InferenceService) -> web.Application:
    middlewares = [bearer_auth(service.config.api_key)] if service.config.api_key else []
    app = web.Application(client_max_size=service.config.max_body, middlewares=middlewares)
    app.router.add_post("/", service.predict, expect_handler=continue_when_admitted)
    app.router.add_post("/predict", service.predict, expect_handler=continue_when_admitted)
    app.router.add_get("/health", service.health)
    app.router.add_get("/metrics", service.metrics_page)
    app.cleanup_ctx.append(service.running)
    return app
