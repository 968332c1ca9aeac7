"""Prometheus metrics of one server, in a registry of its own (several servers may share a process)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_size: Callable[[], float], in_flight: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("nsfw_serve_requests", "Classification requests answered, by HTTP status",
                                ["status"], registry=self.registry)
        self.errors = Counter("nsfw_serve_errors", "Requests answered with an error, by reason",
                              ["reason"], registry=self.registry)
        self.latency = Histogram("nsfw_serve_request_seconds", "Time from request to answer",
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("nsfw_serve_batch_size", "Images per forward pass",
                                    buckets=_BATCH_BUCKETS, registry=self.registry)
        self.batch_seconds = Histogram("nsfw_serve_batch_seconds", "Time of one forward pass",
                                       buckets=_LATENCY_BUCKETS, registry=self.registry)
        Gauge("nsfw_serve_queue_size", "Images waiting for a forward pass",
              registry=self.registry).set_function(queue_size)
        Gauge("nsfw_serve_in_flight", "Requests accepted and not yet answered",
              registry=self.registry).set_function(in_flight)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.batch_seconds.observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
