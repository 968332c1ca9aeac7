"""Which of several endpoints takes the next request: the least busy, weighted by its recent
failures, among those not resting after one."""

from __future__ import annotations

import threading
import time


class Endpoint:
    def __init__(self, url: str, clients: dict) -> None:
        self.url = url
        self.clients = clients  # one InferenceClient per Content-Type, see RemoteClassifier.load
        self.in_flight = 0
        self.failures = 0  # in a row; each one halves the share of new work it gets
        self.resting_until = 0.0  # time.monotonic() before which it gets no work


class Endpoints:
    """Hands each request to the endpoint that should take it.

    The pick is the endpoint with the least work in flight, weighted by its
    recent failures, among those not resting after a failure; a slow endpoint
    holds its requests longer and so gets fewer new ones. When every endpoint
    rests, ``acquire`` waits for the first to wake.
    """

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self._endpoints = endpoints
        self._changed = threading.Condition()

    def acquire(self) -> Endpoint:
        with self._changed:
            while True:
                now = time.monotonic()
                ready = [e for e in self._endpoints if e.resting_until <= now]
                if ready:
                    best = min(ready, key=lambda e: (e.in_flight + 1) * 2 ** min(e.failures, 8))
                    best.in_flight += 1
                    return best
                self._changed.wait(min(e.resting_until for e in self._endpoints) - now)

    def release(self, endpoint: Endpoint, *, failed: bool = False, rest: float = 0.0) -> None:
        """Take back an endpoint after a request; a failed one rests ``rest`` seconds."""
        with self._changed:
            endpoint.in_flight -= 1
            endpoint.failures = endpoint.failures + 1 if failed else 0
            endpoint.resting_until = max(endpoint.resting_until, time.monotonic() + rest)
            self._changed.notify_all()
