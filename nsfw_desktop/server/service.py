"""The HTTP side of ``nsfw-desktop serve``: one InferenceService answers every route.

A request goes through three stages: the body is read and decoded (with the
same safe decoder as scans, so bombs and non-images are refused) in a pool of
decode threads, then waits in the Batcher for a forward pass, then its logits
become the answer. The number of requests accepted at once is bounded: one
more gets 429 with a Retry-After estimate, never a hang.
"""

from __future__ import annotations

import asyncio
import hmac
import io
import logging
import math
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from nsfw_desktop.classify.local import LocalClassifier
from nsfw_desktop.imaging import DEFAULT_MAX_PIXELS, ImageError
from nsfw_desktop.prepare import DecodeOptions, decode_and_prepare
from nsfw_desktop.server import payload
from nsfw_desktop.server.batcher import Batcher
from nsfw_desktop.server.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    max_batch: int = 8  # images per forward pass
    max_wait: float = 0.01  # seconds a batch waits for more images once it has one
    max_queue: int = 64  # requests accepted at once (decoding, waiting or in the model)
    max_body: int = 32 * 1024 * 1024  # bytes; a larger body gets 413
    max_pixels: int = DEFAULT_MAX_PIXELS  # larger pictures are refused as bombs
    decode_workers: int = 2
    api_key: str | None = None  # when set, requests need "Authorization: Bearer <key>"

    def __post_init__(self) -> None:
        for name in ("max_batch", "max_queue", "max_body", "max_pixels", "decode_workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_wait < 0:
            raise ValueError(f"max_wait cannot be negative, not {self.max_wait}")


class InferenceService:
    def __init__(self, classifier: LocalClassifier, config: ServerConfig | None = None) -> None:
        self.config = config or ServerConfig()
        self._decode_options = DecodeOptions(max_pixels=self.config.max_pixels)
        classifier.load()
        self.classifier = classifier
        self.labels = classifier.labels.labels
        self.default_function = "sigmoid" if classifier.sigmoid else "softmax"
        self.in_flight = 0
        self.batcher: Batcher | None = None
        self._decode_pool: ThreadPoolExecutor | None = None
        self.metrics = Metrics(queue_size=lambda: self.batcher.waiting if self.batcher else 0,
                               in_flight=lambda: self.in_flight)

    async def running(self, app: web.Application) -> AsyncIterator[None]:
        """aiohttp cleanup context: the batcher outlives the draining of in-flight requests."""
        self._decode_pool = ThreadPoolExecutor(self.config.decode_workers, thread_name_prefix="decode")
        self.batcher = Batcher(self._forward, max_batch=self.config.max_batch,
                               max_wait=self.config.max_wait, on_batch=self.metrics.observe_batch)
        self.batcher.start()
        yield
        await self.batcher.stop()
        self._decode_pool.shutdown(wait=True)

    async def predict(self, request: web.Request) -> web.Response:
        start = time.monotonic()
        if self.in_flight >= self.config.max_queue:
            response = self._error(429, "queue_full", "the server is busy: try again shortly",
                                   {"Retry-After": str(self._retry_after())})
        else:
            self.in_flight += 1
            try:
                response = await self._classify(request)
            finally:
                self.in_flight -= 1
        self.metrics.requests.labels(str(response.status)).inc()
        self.metrics.latency.observe(time.monotonic() - start)
        return response

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "model": self.classifier.model_id,
                                  "labels": self.labels})

    async def metrics_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.exposition(),
                            headers={"Content-Type": self.metrics.content_type})

    async def _classify(self, request: web.Request) -> web.Response:
        # x-wait-for-model and x-use-cache are accepted and ignored: the model is always loaded
        # and nothing is cached.
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return self._error(413, "too_large", f"the request body is larger than the "
                                                 f"{self.config.max_body / 2**20:.0f} MiB limit")
        try:
            image, parameters = payload.parse(body, request.headers.get("Content-Type"))
        except payload.BadRequest as exc:
            return self._error(400, "bad_request", str(exc))
        loop = asyncio.get_running_loop()
        try:
            prepared = await loop.run_in_executor(self._decode_pool, self._prepare, image)
        except ImageError as exc:
            return self._error(400, "bad_image", f"bad image: {exc}")
        try:
            logits = await self.batcher.submit(prepared)
        except Exception as exc:  # the model failed on the batch: say so, keep serving
            log.exception("forward pass failed")
            return self._error(500, "model", f"the model failed: {exc}")
        function = parameters.function_to_apply or self.default_function
        return web.json_response(payload.answer(self.labels, logits, function, parameters.top_k))

    def _prepare(self, image: bytes):
        """Decode and prepare like a scan does (bombs refused from the header); the first frame."""
        return decode_and_prepare(io.BytesIO(image), self.classifier, self._decode_options,
                                  max_frames=1).inputs[0]

    def _forward(self, prepared: list) -> list[list[float]]:
        return self.classifier.logits(prepared).tolist()

    def _retry_after(self) -> int:
        """Whole seconds until the requests now accepted are likely answered."""
        batches = self.in_flight / self.config.max_batch + 1
        return max(1, math.ceil(batches * self.batcher.batch_seconds))

    def _error(self, status: int, reason: str, message: str, headers=None) -> web.Response:
        self.metrics.errors.labels(reason).inc()
        return web.json_response({"error": message}, status=status, headers=headers)


def bearer_auth(api_key: str):
    """Middleware: every route but /health needs ``Authorization: Bearer <api_key>``."""
    expected = f"Bearer {api_key}".encode()

    @web.middleware
    async def check(request: web.Request, handler):
        given = request.headers.get("Authorization", "").encode()
        if request.path != "/health" and not hmac.compare_digest(given, expected):
            return web.json_response({"error": "a valid API key is needed (Authorization: Bearer ...)"},
                                     status=401, headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    return check


def create_app(service: InferenceService) -> web.Application:
    middlewares = [bearer_auth(service.config.api_key)] if service.config.api_key else []
    app = web.Application(client_max_size=service.config.max_body, middlewares=middlewares)
    app.router.add_post("/", service.predict)
    app.router.add_post("/predict", service.predict)
    app.router.add_get("/health", service.health)
    app.router.add_get("/metrics", service.metrics_page)
    app.cleanup_ctx.append(service.running)
    return app
