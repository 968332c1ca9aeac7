"""A burst into a watched folder: N small photos copied at once with ``cp -r``, each classified once?

``nsfw-desktop watch --json`` runs in its own process on an empty folder, as a
user runs it. A folder of N photos (default 12,000: scikit-image's sample
pictures, shrunk to 64 px, under distinct names) is copied into it with
``cp -r``; the benchmark reads the results as they are printed and says how
long it took from the start of the copy to the last one, whether every file
came once (none missing, none twice, counted after a few quiet seconds), how
often the kernel's inotify queue overflowed on the way, and the process's
resident memory before the burst and at its peak (VmHWM). ``--stop`` stops the
watcher (SIGSTOP) for the whole copy and lets it go on after it, so every event
past the kernel's queue is lost. ``--flat`` copies the photos themselves
(``cp -r PHOTOS/. FOLDER``) rather than their folder: a folder copied in is
not watched until its creation is read, and watchdog lists it then, so a
stopped watcher loses no event of the files in it.

    python -m benchmarks.watch_burst [--files 12000]
        [--model open-nsfw | MODEL] [--stop] [--flat] [--dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from nsfw_desktop.media.sample_data import TINY_VIT, make_vit

try:
    import skimage.data
except ImportError as exc:
    raise SystemExit(f"{exc.name} is missing: pip install scikit-image") from None

PICTURES = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "clock", "cat", "horse",
            "moon", "brick", "grass", "gravel", "page", "text", "retina")  # shipped, no download
SIDE = 64  # pixels, the longer side
OVERFLOW_LOG = "Inotify queue overflowed; filesystem events were lost"  # watchdog's warning
QUIET = 8.0  # seconds without a result after the last expected one, to catch a file classified twice


def make_photos(folder: Path, count: int) -> None:
    """``count`` JPEGs of the sample pictures, each picture in many crops, under distinct names."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    pictures = [Image.fromarray(getattr(skimage.data, name)()).convert("RGB") for name in PICTURES]
    for i in range(count):
        picture = pictures[i % len(pictures)]
        width, height = picture.size
        w, h = int(width * rng.uniform(0.6, 1.0)), int(height * rng.uniform(0.6, 1.0))
        x, y = rng.integers(0, width - w + 1), rng.integers(0, height - h + 1)
        shot = picture.crop((x, y, x + w, y + h))
        shot.thumbnail((SIDE, SIDE))
        shot.save(folder / f"IMG_{i:05d}.jpg", "JPEG", quality=85)


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (resident now) or VmHWM (resident at its peak) of a process, in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


class Lines:
    """A process's output, one line at a time, with when it came."""

    def __init__(self, stream):
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.put((time.perf_counter(), line))

    def next(self, timeout: float) -> tuple[float, str] | None:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def rest(self) -> list[str]:
        self._reader.join(30)
        return [line for _, line in iter(lambda: self.next(0), None)]


def burst(source: Path, inbox: Path, model: str, db: Path, *, stop: bool, flat: bool,
          timeout: float) -> dict:
    process = subprocess.Popen(
        [sys.executable, "-m", "nsfw_desktop", "watch", str(inbox), "--model", model, "--db", str(db),
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = Lines(process.stdout), Lines(process.stderr)
    try:
        if err.next(timeout) is None:
            raise RuntimeError("the watcher did not start")
        time.sleep(2.0)  # the catch-up pass on the empty folder
        before = memory_mb(process.pid, "VmRSS")
        start = time.perf_counter()
        if stop:
            process.send_signal(signal.SIGSTOP)
        copy = [f"{source}/.", str(inbox)] if flat else [str(source), str(inbox / source.name)]
        subprocess.run(["cp", "-r", *copy], check=True)
        copied = time.perf_counter() - start
        if stop:
            process.send_signal(signal.SIGCONT)
        expected = len(os.listdir(source))
        results: Counter[str] = Counter()
        last = start
        while len(results) < expected:
            line = out.next(timeout)
            if line is None:
                break
            last, text = line
            results[json.loads(text)["path"]] += 1
        while (line := out.next(QUIET)) is not None:
            results[json.loads(line[1])["path"]] += 1
        peak = memory_mb(process.pid, "VmHWM")
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log = err.rest()
    return dict(files=expected, copied=copied, seconds=last - start, classified=len(results),
                twice=sum(n > 1 for n in results.values()), before=before, peak=peak,
                overflows=sum(OVERFLOW_LOG in line for line in log),
                advice=[line.strip() for line in log if "max_queued_events" in line])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12_000, help="photos copied in the burst")
    parser.add_argument("--model", default=None,
                        help="model to watch with (default: a tiny random ViT made in the work folder)")
    parser.add_argument("--stop", action="store_true", help="stop the watcher for the whole copy")
    parser.add_argument("--flat", action="store_true",
                        help="copy the photos into the watched folder itself, not in a folder of theirs")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for one result")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nsfw-watch-burst-"))
    source = work / f"photos-{args.files}"
    if not source.exists():
        make_photos(source, args.files)
    model = args.model or str(work / "tiny-vit")
    if args.model is None and not (work / "tiny-vit" / "model.safetensors").exists():
        make_vit(work / "tiny-vit", TINY_VIT)
    inbox, db = work / "inbox", work / "inbox.sqlite3"
    shutil.rmtree(inbox, ignore_errors=True)  # each run starts from an empty folder and database
    inbox.mkdir()
    db.unlink(missing_ok=True)
    r = burst(source, inbox, model, db, stop=args.stop, flat=args.flat, timeout=args.timeout)
    print(f"burst:        cp -r of {r['files']} photos of {SIDE} px into a watched folder"
          f"{' (the files, not their folder)' if args.flat else ''}, "
          f"{'watcher stopped during the copy' if args.stop else 'watcher running'}, model {model}")
    print(f"copy:         {r['copied']:.1f} s")
    print(f"classified:   {r['classified']} of {r['files']}, {r['twice']} twice; last result "
          f"{r['seconds']:.1f} s after the copy began ({r['classified'] / r['seconds']:.0f} files/s)")
    print(f"overflows:    {r['overflows']} of the kernel's inotify queue")
    for line in r["advice"]:
        print(f"advice:       {line}")
    print(f"memory (RSS): {r['before']:.0f} MB before the burst, {r['peak']:.0f} MB at its peak")


if __name__ == "__main__":
    main()
