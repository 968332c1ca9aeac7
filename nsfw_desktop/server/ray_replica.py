"""``serve --ray``: the Hugging Face image-classification contract as a Ray Serve replica.

Each replica builds the classifier once (``make_classifier``, the same pinned,
safetensors-only model as ``serve``), decodes request bodies in a pool of decode
threads and runs forward passes in batches with ``@serve.batch``. It answers with
the same ``Contract`` as ``serve``: same routes, same JSON, same errors and API key.
Admission (429 with Retry-After) happens before a request reaches a replica, in
Ray's proxy (``cluster/online.py``).

``/metrics`` is not served here: behind Ray's proxy it would show one replica of
many. Ray exports Serve's own series (requests and errors by status, latency,
queued and ongoing requests, replicas) from each node's metrics port.

Imported only with ``--ray``: it imports Ray Serve.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from ray import serve
from starlette.requests import Request
from starlette.responses import JSONResponse

from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.server.contract import (
    REFUSED,
    SERVED,
    UNAUTHORIZED,
    Contract,
    authorized,
    refusal,
    too_large,
    too_slow,
)
from nsfw_desktop.server.service import ServerConfig

log = logging.getLogger(__name__)

NO_METRICS = ("serve --ray has no /metrics of its own: scrape Ray's metrics port on each node "
              "(ray start --metrics-export-port), which carries Ray Serve's request, latency and "
              "queue series")


class Replica:
    """One copy of the model on the cluster. ``spec``: ``ModelSpec.portable()``;
    ``config``: ServerConfig's fields (its max_queue is Ray's proxy's business)."""

    def __init__(self, spec: dict, config: dict) -> None:
        from nsfw_desktop.classify import ModelSpec, make_classifier

        classifier = make_classifier(ModelSpec(**spec))
        if not isinstance(classifier, SERVED):
            raise ValueError(f"serve answers with a model on this computer, not {classifier.model_id}")
        self.config = ServerConfig(**config)
        self.contract = Contract(classifier, DecodeOptions(max_pixels=self.config.max_pixels))
        self._decode_pool = ThreadPoolExecutor(self.config.decode_workers, thread_name_prefix="decode")
        # One model thread: the event loop keeps accepting and decoding during a forward pass.
        self._model_thread = ThreadPoolExecutor(1, thread_name_prefix="model")
        # Ray's annotations give serve.batch's result as a plain callable; these setters are its
        # documented API all the same.
        self._forward.set_max_batch_size(self.config.max_batch)  # type: ignore[attr-defined]
        self._forward.set_batch_wait_timeout_s(self.config.max_wait)  # type: ignore[attr-defined]

    async def __call__(self, request: Request) -> JSONResponse:
        # The path under the application's route prefix (Ray sets it as the ASGI root_path).
        path = request.url.path[len(request.scope.get("root_path", "")):] or "/"
        if path == "/health" and request.method == "GET":
            return JSONResponse(self.contract.health())
        key = self.config.api_key
        if key and not authorized(request.headers.get("Authorization"), key):
            return _error(401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
        if path == "/metrics":
            return _error(404, NO_METRICS)
        if path not in ("/", "/predict"):
            return _error(404, f"no such route {path}: POST images to / or /predict")
        if request.method != "POST":
            return _error(405, "send images with POST", {"Allow": "POST"})
        try:
            # Ray's proxy hands the body on as it arrives: a slow upload is cut here, as in serve.
            body = await asyncio.wait_for(self._read_body(request), self.config.body_timeout)
        except asyncio.TimeoutError:
            return _error(408, too_slow(self.config.body_timeout))
        if body is None:
            return _error(413, too_large(self.config.max_body))
        loop = asyncio.get_running_loop()
        try:
            prepared, parameters = await loop.run_in_executor(self._decode_pool, self.contract.prepare,
                                                              body, request.headers.get("Content-Type"))
        except REFUSED as exc:
            status, _reason, message = refusal(exc)
            return _error(status, message)
        try:
            logits = await self._forward(prepared)
        except Exception as exc:  # the model failed on the batch: say so, keep serving
            log.exception("forward pass failed")
            return _error(500, f"the model failed: {exc}")
        return JSONResponse(self.contract.answer(logits, parameters))

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)  # set from the config in __init__
    async def _forward(self, prepared: list) -> list[list[float]]:
        return await asyncio.get_running_loop().run_in_executor(self._model_thread, self.contract.forward,
                                                                prepared)

    async def _read_body(self, request: Request) -> bytes | None:
        """The body, or None when it is larger than ``max_body`` (read no further than that)."""
        length = request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.config.max_body:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.config.max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
