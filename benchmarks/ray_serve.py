"""``serve --ray`` against ``serve`` on this computer: what answering through Ray Serve costs.

The same random ViT-B/16 (Falconsai's architecture and cost), the same camera
JPEGs and the same concurrent clients (as ``benchmarks/serve.py``: POSTing the
original files, as huggingface_hub does), against two servers running side by
side: ``serve`` and ``serve --ray`` with one replica given every CPU (Ray then
gives its torch as many threads), both with the default batching. Rounds
alternate between the two, so a shared machine's load falls on both; medians
and the ratio of each round. The answers of the two must agree.

    python -m benchmarks.ray_serve [--count 48] [--clients 8] [--rounds 3]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.serve import arguments, free_port, post_all, wait_until_up
from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16


@dataclass
class RayServeResult:
    files: int
    clients: int
    cpus: int
    serve_per_second: list[float]  # each round
    ray_per_second: list[float]  # each round
    serve_p50_ms: float  # last round
    ray_p50_ms: float
    ray_start_seconds: float  # serve --ray from the command to its first answer (Ray, Serve, replica)
    max_difference: float  # between the two servers' NSFW scores

    def report(self) -> str:
        ratios = [r / s for r, s in zip(self.ray_per_second, self.serve_per_second, strict=True)]
        return "\n".join([
            f"files:                 {self.files} camera JPEGs (12 MP), ViT-B/16, {self.clients} clients, "
            f"{self.cpus} CPUs",
            f"serve:                 {statistics.median(self.serve_per_second):.2f} images/s (median), "
            f"p50 {self.serve_p50_ms:.0f} ms per request",
            f"serve --ray, 1 replica: {statistics.median(self.ray_per_second):.2f} images/s (median), "
            f"p50 {self.ray_p50_ms:.0f} ms per request",
            f"ratio ray/serve:       {statistics.median(ratios):.2f} (per round: "
            f"{', '.join(f'{r:.2f}' for r in ratios)})",
            f"serve --ray start:     {self.ray_start_seconds:.1f} s to the first answer "
            "(Ray, Serve, the replica and its model)",
            f"scores:                max difference {self.max_difference:.2e} between the two servers",
        ])


def run(model: Path, photos: Path, count: int, clients: int, rounds: int = 3) -> RayServeResult:
    make_vit_b16(model)
    files = [str(p) for p in make_camera_jpegs(photos, count)]
    cpus = os.cpu_count() or 1
    command = [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(model), "--device", "cpu"]
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    try:
        servers["serve"], _ = _start(command, files[0])
        servers["ray"], ray_start = _start([*command, "--ray", "--ray-cpus", str(cpus)], files[0])
        per_second: dict[str, list[float]] = {"serve": [], "ray": []}
        last: dict[str, tuple[dict[str, float], list[float]]] = {}  # scores and latencies
        for _ in range(rounds):
            for name, (_, url) in servers.items():
                scores, latencies, seconds = asyncio.run(post_all(url, files, clients))
                per_second[name].append(len(files) / seconds)
                last[name] = scores, sorted(latencies)
    finally:
        for server, _ in servers.values():
            server.terminate()  # SIGTERM: both stop gracefully
            server.wait(timeout=120)
    (serve_scores, serve_latencies), (ray_scores, ray_latencies) = last["serve"], last["ray"]
    return RayServeResult(
        files=len(files), clients=clients, cpus=cpus,
        serve_per_second=per_second["serve"], ray_per_second=per_second["ray"],
        serve_p50_ms=1000 * serve_latencies[len(serve_latencies) // 2],
        ray_p50_ms=1000 * ray_latencies[len(ray_latencies) // 2],
        ray_start_seconds=ray_start,
        max_difference=max(abs(serve_scores[path] - ray_scores[path]) for path in files),
    )


def _start(command: list[str], photo: str) -> tuple[tuple[subprocess.Popen, str], float]:
    """A server on a free port, and the seconds from the command to its first answer."""
    url = f"http://127.0.0.1:{free_port()}"
    start = time.perf_counter()
    server = subprocess.Popen([*command, "--port", url.rpartition(":")[2]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    asyncio.run(wait_until_up(url, server))
    asyncio.run(post_all(url, [photo], 1))  # loads the model's lazy parts, off the clock
    return (server, url), time.perf_counter() - start


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    print(run(args.model, args.photos, args.count, args.clients, args.rounds).report())


if __name__ == "__main__":
    main()
