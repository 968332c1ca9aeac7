"""``nsfw-desktop serve``'s peak memory while many clients upload large bodies at once.

``serve`` runs in its own process on 127.0.0.1 with a tiny random ViT (the
model does not matter here: the bodies do) and its default limits. Once it has
answered one request, ``--clients`` clients each POST the same ``--body-mb``
body at the same moment: a camera-like 12 MP JPEG padded with zeros to that
size (a decoder stops at the picture's end). A client refused with 429 comes
back after its Retry-After, up to ``--attempts`` tries; every request has
``--seconds`` to be answered. With ``--expect`` the clients send
``Expect: 100-continue`` and their bodies only once told to. The server's resident memory is read from
``/proc`` (Linux): once idle after that first answer, and its peak (VmHWM) at
the end.

    python -m benchmarks.serve_memory [--clients 100] [--body-mb 32] [--expect]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.serve import free_port, wait_until_up
from nsfw_desktop.media.sample_data import TINY_VIT, camera_photo, make_vit


def memory_mb(pid: int, field: str) -> float:
    """A memory figure of process ``pid`` from /proc/PID/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1000  # kB
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def padded_jpeg(size: int) -> bytes:
    buffer = io.BytesIO()
    camera_photo(0).save(buffer, "JPEG", quality=90)
    picture = buffer.getvalue()
    return picture + bytes(size - len(picture))


async def upload(url: str, body: bytes, clients: int, attempts: int, seconds: float, expect: bool) -> dict:
    """Each client POSTs ``body`` until it is answered other than 429, waiting Retry-After in
    between: the count of each first status and of each final one, the refusals, and the time."""
    import aiohttp

    first: collections.Counter = collections.Counter()
    final: collections.Counter = collections.Counter()
    refusals = 0
    start = asyncio.Event()

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal refusals
        await start.wait()
        status = None
        for attempt in range(attempts):
            try:
                async with session.post(url, data=body, headers={"Content-Type": "image/jpeg"},
                                        expect100=expect,
                                        timeout=aiohttp.ClientTimeout(total=seconds)) as response:
                    await response.read()
                    status, retry_after = response.status, response.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                status, retry_after = type(exc).__name__, None
            if attempt == 0:
                first[status] += 1
            if status != 429:
                break
            refusals += 1
            await asyncio.sleep(float(retry_after or 1))
        final[status] += 1

    connector = aiohttp.TCPConnector(limit=clients, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        tasks = [asyncio.create_task(client(session)) for _ in range(clients)]
        began = time.perf_counter()
        start.set()  # every client at once
        await asyncio.gather(*tasks)
    return {"first": dict(first), "final": dict(final), "refusals": refusals,
            "seconds": time.perf_counter() - began}


async def first_answer(url: str, body: bytes, seconds: float) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(
            url, data=body, headers={"Content-Type": "image/jpeg"},
            timeout=aiohttp.ClientTimeout(total=seconds)) as response:
        if response.status != 200:
            raise RuntimeError(f"the first request got HTTP {response.status}: {await response.text()}")


def run(clients: int, body_mb: int, attempts: int, seconds: float, expect: bool) -> str:
    body = padded_jpeg(body_mb * 2**20)
    with tempfile.TemporaryDirectory(prefix="serve-memory-") as folder:
        model = make_vit(Path(folder) / "tiny-vit", TINY_VIT, seed=0)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "nsfw_desktop", "serve", "--model", str(model), "--device", "cpu",
             "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            asyncio.run(wait_until_up(url, server))
            asyncio.run(first_answer(url, body, seconds))
            idle = memory_mb(server.pid, "VmRSS")
            outcome = asyncio.run(upload(url + "/", body, clients, attempts, seconds, expect))
            peak = memory_mb(server.pid, "VmHWM")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return "\n".join([
        f"clients:          {clients}, each a {body_mb} MiB body at once, up to {attempts} tries"
        + (", Expect: 100-continue" if expect else ""),
        f"first answers:    {outcome['first']}",
        f"final answers:    {outcome['final']} after {outcome['refusals']} refusals, "
        f"{outcome['seconds']:.1f} s",
        f"server RSS:       {idle:.0f} MB idle, {peak:.0f} MB at its peak (VmHWM)",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--body-mb", type=int, default=32, help="MiB per body (serve takes 32 at most)")
    parser.add_argument("--attempts", type=int, default=10, help="tries per client, 429s included")
    parser.add_argument("--seconds", type=float, default=120.0, help="time each request has")
    parser.add_argument("--expect", action="store_true", help="send Expect: 100-continue")
    args = parser.parse_args()
    print(run(args.clients, args.body_mb, args.attempts, args.seconds, args.expect))


if __name__ == "__main__":
    main()
