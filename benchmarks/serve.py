"""``nsfw-desktop serve`` throughput against the offline scan, and what the 512 px upload costs in scores.

One run, same files, same model:

1. offline: ``engine.scan`` over the photos (weights loaded before the clock);
2. serve: ``nsfw-desktop serve`` in its own process, default batching, and
   ``--clients`` concurrent clients POSTing the original files (as
   huggingface_hub does); throughput, p50 and p99 latency per request.
   Steps 1 and 2 alternate for ``--rounds`` rounds; the best of each counts;
3. remote scan: ``engine.scan`` through ``RemoteClassifier`` to the same server,
   which uploads each photo shrunk to 512 px JPEG. Its scores against those of
   the originals say how much the downscale changes them.

The benchmark model has random weights, so its scores sit near 0.5 and hide
differences; the downscale is therefore also measured (in-process, same
decode and encode) on a copy with a 20x larger head, whose scores spread over 0..1.

    python -m benchmarks.serve [--model DIR] [--photos DIR] [--count N] [--clients N]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from nsfw_desktop.media.sample_data import VIT_B16, make_camera_jpegs, make_vit, make_vit_b16

BENCH_DIR = Path(tempfile.gettempdir()) / "nsfw-bench"


@dataclass
class ServeResult:
    files: int
    clients: int
    rounds: int
    offline_per_second: float  # best round
    serve_per_second: float  # best round
    round_ratios: list[float]  # serve/offline throughput in each round
    p50_ms: float
    p99_ms: float
    mean_batch: float  # images per forward pass in serve, from its /metrics
    remote_scan_per_second: float
    parity_max_diff: float  # serve (original upload) against offline scan: should be ~0
    downscale: ScoreShift  # benchmark model: originals against 512 px JPEG uploads
    downscale_spread: ScoreShift  # same with scores spread over 0..1

    def report(self) -> str:
        return "\n".join([
            f"files:                       {self.files} camera JPEGs (12 MP), ViT-B/16",
            f"offline engine.scan:         {self.offline_per_second:.2f} images/s",
            f"serve, {self.clients} clients:            {self.serve_per_second:.2f} images/s",
            f"ratio serve/offline:         {self.serve_per_second / self.offline_per_second:.2f} "
            f"(best of {self.rounds} alternating rounds each; per round: "
            f"{', '.join(f'{r:.2f}' for r in self.round_ratios)})",
            f"latency per request:         p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms (last round)",
            f"serve batches:               {self.mean_batch:.1f} images per forward pass on average",
            f"remote scan (512 px JPEG):   {self.remote_scan_per_second:.2f} images/s (client and "
            "server on this machine)",
            f"serve vs offline scores:     max difference {self.parity_max_diff:.2e}",
            f"512 px JPEG vs original:     {self.downscale} (benchmark model)",
            f"                             {self.downscale_spread} (head x20, scores spread)",
        ])


@dataclass
class ScoreShift:
    mean: float
    max: float
    flips: int  # files on the other side of 0.5
    count: int

    @classmethod
    def between(cls, a: dict[str, float], b: dict[str, float]) -> ScoreShift:
        diffs = [abs(a[key] - b[key]) for key in a]
        flips = sum((a[key] >= 0.5) != (b[key] >= 0.5) for key in a)
        return cls(statistics.fmean(diffs), max(diffs), flips, len(diffs))

    def __str__(self) -> str:
        return (f"NSFW score |difference| mean {self.mean:.4f}, max {self.max:.4f}; "
                f"{self.flips} of {self.count} flagged differently at 0.5")


def run(model: Path, photos: Path, count: int, clients: int, rounds: int = 3) -> ServeResult:
    from nsfw_desktop.classify import make_classifier

    make_vit_b16(model)
    files = [str(p) for p in make_camera_jpegs(photos, count)]
    classifier = make_classifier(str(model))
    classifier.load()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(model), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        asyncio.run(wait_until_up(url, server))
        # Rounds alternate offline and serve, so load from other work on a shared
        # machine hits both alike; the best round of each is compared.
        offline_seconds, serve_seconds = [], []
        for _ in range(rounds):
            offline, seconds = _scan([str(photos)], classifier)
            offline_seconds.append(seconds)
            served, latencies, seconds = asyncio.run(post_all(url, files, clients))
            serve_seconds.append(seconds)
        mean_batch = asyncio.run(_mean_batch(url))
        remote = make_classifier(endpoints=[url])
        downscaled, remote_seconds = _scan([str(photos)], remote)
        remote.close()
    finally:
        server.terminate()
        server.wait(timeout=60)

    latencies.sort()
    return ServeResult(
        files=len(files), clients=clients, rounds=rounds,
        offline_per_second=len(files) / min(offline_seconds),
        serve_per_second=len(files) / min(serve_seconds),
        round_ratios=[o / s for o, s in zip(offline_seconds, serve_seconds, strict=True)],
        p50_ms=1000 * latencies[len(latencies) // 2],
        p99_ms=1000 * latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))],
        mean_batch=mean_batch,
        remote_scan_per_second=len(files) / remote_seconds,
        parity_max_diff=ScoreShift.between(offline, served).max,
        downscale=ScoreShift.between(served, downscaled),
        downscale_spread=_downscale_shift(model.parent / "vit-b16-head20", files),
    )


def _scan(roots: list[str], classifier) -> tuple[dict[str, float], float]:
    from nsfw_desktop.scan.engine import BatchDone, scan
    from nsfw_desktop.store.results import Store

    scores = {}
    with tempfile.TemporaryDirectory() as tmp, Store(os.path.join(tmp, "bench.db")) as store:
        start = time.perf_counter()
        for event in scan(roots, classifier, store):
            if isinstance(event, BatchDone):
                for result in event.results:
                    if result.error:
                        raise RuntimeError(f"{result.path}: {result.error}")
                    scores[result.path] = result.nsfw_score
        return scores, time.perf_counter() - start


async def wait_until_up(url: str, server: subprocess.Popen) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            if server.poll() is not None:
                raise RuntimeError(f"serve exited: {server.stderr.read()}")
            try:
                async with session.get(url + "/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("serve did not start within 2 minutes")


async def post_all(url: str, files: list[str], clients: int):
    """POST every file once from ``clients`` concurrent clients: scores, latencies, seconds."""
    import aiohttp

    bodies = {path: Path(path).read_bytes() for path in files}  # read before the clock
    todo = list(files)
    scores: dict[str, float] = {}
    latencies: list[float] = []

    async def client(session: aiohttp.ClientSession) -> None:
        while todo:
            path = todo.pop()
            start = time.perf_counter()
            async with session.post(url, data=bodies[path],
                                    headers={"Content-Type": "image/jpeg"}) as response:
                answer = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status}: {answer}")
            latencies.append(time.perf_counter() - start)
            scores[path] = sum(item["score"] for item in answer if item["label"] == "nsfw")

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(clients)))
        seconds = time.perf_counter() - start
    return scores, latencies, seconds


async def _mean_batch(url: str) -> float:
    import aiohttp
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession() as session, session.get(url + "/metrics") as response:
        text = await response.text()
    samples = {sample.name: sample.value for family in text_string_to_metric_families(text)
               for sample in family.samples}
    return samples["nsfw_serve_batch_size_sum"] / samples["nsfw_serve_batch_size_count"]


def _downscale_shift(folder: Path, files: list[str]) -> ScoreShift:
    """Original decode against the server's decode of the 512 px JPEG upload, in-process."""
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.classify.remote import RemoteClassifier
    from nsfw_desktop.media.imaging import load_image

    make_vit(folder, VIT_B16, head_scale=20.0)
    local = make_classifier(str(folder))
    local.load()
    upload = RemoteClassifier(["http://127.0.0.1:9"])  # only its prepare() is used
    original, downscaled = {}, {}
    for path in files:
        frame = load_image(path, min_side=2 * local.input_size).frames[0]
        small = load_image(io.BytesIO(upload.prepare(frame)), min_side=2 * local.input_size).frames[0]
        a, b = local.predict([local.prepare(frame), local.prepare(small)])
        original[path], downscaled[path] = a.nsfw_score, b.nsfw_score
    return ScoreShift.between(original, downscaled)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def arguments(description: str) -> argparse.Namespace:
    """The command line of this benchmark and of ``ray_serve``: model, photos, clients, rounds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--model", type=Path, default=BENCH_DIR / "vit-b16")
    parser.add_argument("--photos", type=Path, default=None,
                        help="folder of camera JPEGs, made if missing "
                             "(default: nsfw-bench/serveN in the temporary folder)")
    parser.add_argument("--count", type=int, default=48)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    args.photos = args.photos or BENCH_DIR / f"serve{args.count}"
    return args


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    print(run(args.model, args.photos, args.count, args.clients, args.rounds).report())


if __name__ == "__main__":
    main()
