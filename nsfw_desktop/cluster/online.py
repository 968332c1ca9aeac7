"""Online classifying on a Ray cluster: run a Ray Serve deployment, scaled and bounded, then stop it.

This module knows Ray Serve, not HTTP: the deployment's class (the Hugging Face
contract, ``server/ray_replica.py``) comes from the front end. What it sets:

- replicas: a fixed number, or Ray's autoscaler between a minimum and a maximum,
  aiming at ``max_batch`` requests in each replica (one full batch waiting);
- admission: a replica works on at most ``max_ongoing`` requests (decoding,
  waiting for its batch, in the model); at most ``max_queued`` more wait at each
  Ray proxy for a replica. One more is refused by the proxy itself. Ray answers
  such a request 503 without Retry-After by default; Ray 2.60's
  ``BackpressureConfig`` makes it 429 with a fixed Retry-After, as ``serve`` answers;
- shutdown: the application is deleted (each replica finishes the requests it
  holds, up to ``shutdown_timeout``, and the proxy delivers the answers), then
  Serve and Ray stop when this process started them, and are left running for
  the others on a cluster it joined.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from nsfw_desktop.cluster import INSTALL_HINT, ClusterError

APP_NAME = "nsfw-desktop"


@dataclass(frozen=True)
class ServeOptions:
    replicas: int = 1  # replicas of the model, each with its own copy (ignored with autoscale)
    autoscale: tuple[int, int] | None = None  # (min, max) replicas: Ray's autoscaler decides
    max_batch: int = 8  # the replica's batch size; the autoscaler aims at this many requests a replica
    max_ongoing: int = 16  # requests one replica holds at once
    max_queued: int = 64  # requests waiting for a replica at each proxy; more are answered 429
    retry_after: float = 1.0  # seconds, the Retry-After of a 429
    num_cpus: float = 1  # CPUs each replica takes; Ray gives torch as many threads
    num_gpus: float = 0  # GPUs each replica takes
    shutdown_timeout: float = 30.0  # seconds a replica has to finish its requests when stopped

    def __post_init__(self) -> None:
        for name in ("replicas", "max_batch", "max_ongoing", "max_queued"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.autoscale is not None and not 0 <= self.autoscale[0] <= self.autoscale[1] >= 1:
            low, high = self.autoscale
            raise ValueError(f"autoscale needs 0 <= MIN <= MAX and MAX >= 1, not {low}:{high}")
        if self.retry_after < 0:
            raise ValueError(f"retry_after cannot be negative, not {self.retry_after}")

    def deployment(self) -> dict[str, Any]:
        """Keyword arguments of ``serve.deployment`` for these options."""
        from ray.serve.config import AutoscalingConfig, BackpressureConfig

        scaling: dict[str, Any]
        if self.autoscale is None:
            scaling = {"num_replicas": self.replicas}
        else:
            low, high = self.autoscale
            scaling = {"autoscaling_config": AutoscalingConfig(
                min_replicas=low, max_replicas=high, target_ongoing_requests=self.max_batch)}
        return {
            **scaling,
            "max_ongoing_requests": self.max_ongoing,
            "max_queued_requests": self.max_queued,
            "backpressure_config": BackpressureConfig(status_code=429, retry_after_s=self.retry_after),
            "graceful_shutdown_timeout_s": self.shutdown_timeout,
            "ray_actor_options": {"num_cpus": self.num_cpus, "num_gpus": self.num_gpus},
        }


def import_serve():
    """The ``ray.serve`` module, or ClusterError naming the extra to install."""
    try:
        from ray import serve
    except ImportError as exc:
        raise ClusterError(f"Ray Serve is not installed ({exc}).", INSTALL_HINT) from None
    return serve


def start(replica: type, init_args: tuple, options: ServeOptions, *, host: str = "127.0.0.1",
          port: int = 8000, name: str = APP_NAME, route_prefix: str = "/") -> None:
    """Deploy ``replica(*init_args)`` as the application ``name`` behind Ray's HTTP proxy on
    ``host:port`` and wait until every replica is up. The caller connects first
    (``cluster.connect``); a Serve instance already running on the cluster keeps its own
    host and port."""
    serve = import_serve()
    from ray.serve.config import HTTPOptions

    serve.start(http_options=HTTPOptions(host=host, port=port))
    deployment = serve.deployment(replica, name=name, **options.deployment())
    try:
        serve.run(deployment.bind(*init_args), name=name, route_prefix=route_prefix, blocking=False)
    except RuntimeError as exc:  # a replica failed to start: the model, most often
        raise ClusterError(f"The replicas of {name} did not start: {exc}",
                           "Check --model on the nodes (each loads it itself) and the Ray logs.") from None


def stop(name: str = APP_NAME, timeout: float = 60.0) -> bool:
    """Delete the application: its replicas finish the requests they hold, and Ray's proxy
    delivers their answers (``serve.shutdown`` alone stops the proxy with them unanswered).
    False when Ray has not confirmed it within ``timeout`` seconds: a Ray whose own
    processes were stopped too (a SIGTERM to the whole process group) never would."""
    deleting = threading.Thread(target=import_serve().delete, args=(name,), name="serve-delete", daemon=True)
    deleting.start()
    deleting.join(timeout)
    return not deleting.is_alive()


def shutdown() -> None:
    """Stop Serve and Ray on a Ray instance this process started (not on a cluster it joined):
    every application is deleted first, its replicas finishing the requests they hold."""
    import ray

    import_serve().shutdown()
    ray.shutdown()
