"""Helpers shared by the server's tests: a server on a free loopback port, picture bodies."""

from __future__ import annotations

import io

from nsfw_desktop.server import InferenceService, ServerConfig, create_app
from nsfw_desktop.server.background import ServerThread
from tests.conftest import random_image


def start(classifier, *, shutdown_timeout: float = 30.0, **config) -> ServerThread:
    """serve ``classifier`` with ``config`` (ServerConfig fields) on a free loopback port."""
    app = create_app(InferenceService(classifier, ServerConfig(**config)))
    return ServerThread(app, shutdown_timeout=shutdown_timeout).start()


def png_bytes(seed: int, size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    random_image(seed, size).save(buffer, "PNG")
    return buffer.getvalue()
