"""Scanning MP4s of a few kilobytes whose sample tables claim 80 million samples.

The file is a real one-frame MP4 made with PyAV (16x16 H.264) whose tables are then
rewritten as a hostile file writes them: a constant-size ``stsz``, one ``stts`` run
and one ``stsc`` chunk, each of 80,000,000 samples. FFmpeg allocates its index from
these counts when it opens the file; ``media.video_tables`` refuses it before that.

Each round scans, as ``nsfw-desktop scan`` does (tiny ViT, its own database), in a
child process, a folder holding the real one-frame MP4 (for scale), one holding a
hostile copy and one holding ``--copies`` of them; it reports each scan's seconds
(the model loaded before) and the child's peak RSS (``os.wait4``: imports and model
included). Then how long ``load_video`` takes to refuse the file in this process,
and the error rows.

    python -m benchmarks.hostile_video [--copies 4] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nsfw_desktop.media.sample_data import TINY_VIT, camera_photo, make_vit
from nsfw_desktop.media.video import VideoError, load_video
from nsfw_desktop.store.results import Store

SAMPLES = 80_000_000


def one_frame_mp4(path: Path) -> bytes:
    import av

    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        output.mux(stream.encode(av.VideoFrame.from_image(camera_photo(0, (16, 16)))))
        output.mux(stream.encode())
    return path.read_bytes()


def claiming(data: bytes, samples: int) -> bytes:
    """``data`` with its tables claiming ``samples``: the count of the constant-size stsz,
    of the one stts run and of the one stsc entry (after each box's version and flags)."""
    changed = bytearray(data)
    for kind, offset in ((b"stsz", 8), (b"stts", 8), (b"stsc", 12)):
        struct.pack_into(">I", changed, data.index(kind) + 4 + offset, samples)
    return bytes(changed)


def timed_scan(folder: str, model: str, db: str) -> None:
    """In the child: scan ``folder`` as ``nsfw-desktop scan`` does and print its seconds, the
    model's loading (torch, transformers: seconds, whatever the files) left out."""
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.scan.engine import scan

    with Store(db) as store:
        classifier = make_classifier(model, device="cpu")
        classifier.load()
        start = time.perf_counter()
        for _ in scan([folder], classifier, store):
            pass
        print(time.perf_counter() - start)


def scan_in_child(folder: Path, model: Path, db: Path) -> tuple[float, float]:
    """Seconds of the scan of ``folder`` and the peak RSS (MB) of the child process that ran it,
    imports and model included."""
    db.unlink(missing_ok=True)
    code = (f"from benchmarks.hostile_video import timed_scan; "
            f"timed_scan({str(folder)!r}, {str(model)!r}, {str(db)!r})")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    printed = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    child.stdout.close()
    if child.returncode:
        raise RuntimeError(f"the scan of {folder} failed with exit code {child.returncode}")
    return float(printed), usage.ru_maxrss / 1024  # kilobytes on Linux


def refusal_seconds(path: Path, repeats: int = 20) -> float:
    """Median seconds for ``load_video`` to refuse ``path``, in this process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        try:
            load_video(path, min_side=64)
        except VideoError:
            times.append(time.perf_counter() - start)
        else:
            raise RuntimeError(f"{path} was not refused")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="hostile files in the larger folder")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nsfw-hostile-"))
    model = make_vit(work / "tiny-vit", TINY_VIT)
    real = one_frame_mp4(work / "real.mp4")
    folders = {"real one-frame MP4": work / "real", "one hostile MP4": work / "one",
               f"{args.copies} hostile MP4s": work / "several"}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    (folders["real one-frame MP4"] / "real.mp4").write_bytes(real)
    hostile = claiming(real, SAMPLES)
    (folders["one hostile MP4"] / "hostile.mp4").write_bytes(hostile)
    for copy in range(args.copies):
        (folders[f"{args.copies} hostile MP4s"] / f"hostile_{copy}.mp4").write_bytes(hostile)
    print(f"hostile MP4: {len(hostile)} bytes, tables claiming {SAMPLES} samples")
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in folders}
    for round_ in range(args.rounds):
        for name, folder in folders.items():
            figures[name].append(scan_in_child(folder, model, work / "results.db"))
        print(f"round {round_ + 1}: " + ", ".join(f"{name} {runs[-1][0]:.2f} s {runs[-1][1]:.0f} MB"
                                                  for name, runs in figures.items()))
    # Last: a child's peak RSS counts this process's peak before it started (its exec).
    refusal = refusal_seconds(folders["one hostile MP4"] / "hostile.mp4")
    print(f"load_video refuses it in {refusal * 1000:.2f} ms")
    with Store(work / "results.db", read_only=True) as store:
        errors = {row.error for row in store.results()}
    print(f"error rows of the last scan: {errors}")
    for name, runs in figures.items():
        print(f"{name}: {statistics.median(s for s, _ in runs):.2f} s, peak RSS "
              f"{max(m for _, m in runs):.0f} MB (median time, highest peak of {args.rounds})")


if __name__ == "__main__":
    main()
