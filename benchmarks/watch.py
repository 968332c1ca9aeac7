"""Folder watching: CPU while idle, and the delay from a burst of copies to the last result.

Idle: a watcher on a library of N small photos in 100 folders (default 10,000),
all classified already, is left alone for S seconds (default 30). The process
CPU time it used is printed beside that of the same watcher polling the same
folders (``--poll``, and what watching would cost without the kernel's events).

Arrival: K camera-like 12 MP JPEGs (default 16) are copied at once into a
watched folder, with a full-size random ViT-B/16. The time from the first copy
to the last result is printed beside copying the same files and then running
``engine.scan`` on them, in the same run and with the same loaded model.

    python -m benchmarks.watch [--files 10000] [--idle 30] [--photos 16] [--dir DIR]
        [--model VIT_B16_FOLDER] [--camera JPEG_FOLDER]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.rescan import build_library, timed_scan
from nsfw_desktop.classify import make_classifier
from nsfw_desktop.media.sample_data import TINY_VIT, make_camera_jpegs, make_vit, make_vit_b16
from nsfw_desktop.scan.engine import ScanFinished, scan
from nsfw_desktop.store.results import Store
from nsfw_desktop.watch import CaughtUp, FileClassified, Watcher


class Events:
    """Counts a watcher's results and wakes the benchmark when enough arrived."""

    def __init__(self):
        self.classified = 0
        self.caught_up = False
        self._cond = threading.Condition()

    def __call__(self, event) -> None:
        with self._cond:
            self.classified += isinstance(event, FileClassified)
            self.caught_up |= isinstance(event, CaughtUp)
            self._cond.notify_all()

    def wait_for(self, condition, timeout: float = 600.0) -> None:
        with self._cond:
            if not self._cond.wait_for(condition, timeout):
                raise RuntimeError("the watcher did not deliver in time")


def idle_cpu(library: Path, classifier, db: Path, seconds: float, *, poll: bool) -> float:
    events = Events()
    watcher = Watcher([library], classifier, db, on_event=events, poll=poll)
    watcher.start()
    try:
        events.wait_for(lambda: events.caught_up)
        start = time.process_time()
        time.sleep(seconds)
        used = time.process_time() - start
    finally:
        watcher.stop()
    if events.classified:
        raise RuntimeError(f"an idle watcher classified {events.classified} files")
    return used


def arrival(photos: list[Path], inbox: Path, classifier, db: Path) -> float:
    events = Events()
    watcher = Watcher([inbox], classifier, db, on_event=events)
    watcher.start()
    try:
        events.wait_for(lambda: events.caught_up)
        start = time.perf_counter()
        for photo in photos:
            shutil.copyfile(photo, inbox / photo.name)
        events.wait_for(lambda: events.classified >= len(photos))
        return time.perf_counter() - start
    finally:
        watcher.stop()


def copy_then_scan(photos: list[Path], folder: Path, classifier, db: Path) -> float:
    start = time.perf_counter()
    for photo in photos:
        shutil.copyfile(photo, folder / photo.name)
    with Store(db) as store:
        for event in scan([str(folder)], classifier, store):
            if isinstance(event, ScanFinished) and event.summary.scanned != len(photos):
                raise RuntimeError(f"scan classified {event.summary.scanned} of {len(photos)}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000, help="photos in the idle library")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle watching")
    parser.add_argument("--photos", type=int, default=16, help="12 MP JPEGs copied in a burst")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--model", type=Path, default=None,
                        help="a ViT-B/16 folder to reuse (default: a random one made in the work folder)")
    parser.add_argument("--camera", type=Path, default=None,
                        help="folder of camera JPEGs to reuse or fill (default: in the work folder)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nsfw-watch-"))

    library = work / "library"
    if not library.exists():
        library.mkdir(parents=True)
        build_library(library, args.files)
    tiny = make_classifier(str(make_vit(work / "tiny-vit", TINY_VIT)), device="cpu")
    with Store(work / "library.db") as store:
        timed_scan(library, tiny, store)  # the library is classified before anyone watches it
    watched = idle_cpu(library, tiny, work / "library.db", args.idle, poll=False)
    polled = idle_cpu(library, tiny, work / "library.db", args.idle, poll=True)
    print(f"idle library:          {args.files} photos in {len(list(library.iterdir()))} folders")
    print(f"idle CPU, watching:    {watched:.3f} s in {args.idle:g} s "
          f"({100 * watched / args.idle:.2f}% of one core)")
    print(f"idle CPU, polling:     {polled:.3f} s in {args.idle:g} s "
          f"({100 * polled / args.idle:.2f}% of one core)")
    print(f"ratio watching / poll: {watched / polled:.3f}")

    vit = args.model or work / "vit-b16"
    if not (vit / "model.safetensors").exists():
        make_vit_b16(vit)
    photos = make_camera_jpegs(args.camera or work / "camera", args.photos)
    classifier = make_classifier(str(vit), device="cpu")
    classifier.load()
    for name in ("inbox", "scanned"):  # each run starts from empty folders and databases
        shutil.rmtree(work / name, ignore_errors=True)
        (work / name).mkdir()
        (work / f"{name}.db").unlink(missing_ok=True)
    watch_seconds = arrival(photos, work / "inbox", classifier, work / "inbox.db")
    scan_seconds = copy_then_scan(photos, work / "scanned", classifier, work / "scanned.db")
    print(f"burst of {len(photos)} 12 MP JPEGs (random ViT-B/16):")
    print(f"  watcher, first copy to last result: {watch_seconds:.2f} s")
    print(f"  copy, then engine.scan:             {scan_seconds:.2f} s")
    print(f"  ratio watcher / scan:               {watch_seconds / scan_seconds:.2f}")


if __name__ == "__main__":
    main()
