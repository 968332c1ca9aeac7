"""Unchanged rescan of a large library: our incremental scan against a bare walk.

Builds a tree of N small photos (default 10,000) in 100 folders, scans it once
with a tiny model to fill the database, then times a second, unchanged scan
beside the floor any rescan must pay: ``os.walk`` plus ``os.stat`` of every file.
With ``--documents``, the tree is mostly other files instead (a photo in 29:
documents, data and files without extension, which the walk tells from
pictures by their first bytes), in folders of 1,000.

    python -m benchmarks.rescan [--files 10000] [--documents] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from nsfw_desktop.classify import make_classifier
from nsfw_desktop.media.sample_data import TINY_VIT, camera_photo, make_vit
from nsfw_desktop.scan.engine import ScanFinished, scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.store.results import Store


def build_library(root: Path, files: int, per_folder: int = 100) -> None:
    sample = root / "sample.jpg"
    camera_photo(0, (64, 48)).save(sample, "JPEG")
    for i in range(files):
        folder = root / f"album_{i // per_folder:03d}"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(sample, folder / f"IMG_{i:05d}.jpg")
    sample.unlink()


# What a home folder or Downloads holds beside photos: name and first bytes.
DOCUMENTS = [("report.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), ("notes.txt", b"Meeting notes\n"),
             ("table.csv", b"date,amount\n2024-01-01,12.50\n"), ("data.json", b'{"rows": []}\n'),
             ("letter.docx", b"PK\x03\x04\x14\x00\x06\x00"), ("README", b"Build with make.\n"),
             ("core", b"\x7fELF\x02\x01\x01\x00"), ("archive.zip", b"PK\x03\x04\x0a\x00\x00\x00")]


def build_documents(root: Path, files: int, per_folder: int = 1000, photo_every: int = 29) -> None:
    sample = root / "sample.jpg"
    camera_photo(0, (64, 48)).save(sample, "JPEG")
    for i in range(files):
        folder = root / f"folder_{i // per_folder:03d}"
        folder.mkdir(exist_ok=True)
        if i % photo_every == 0:
            shutil.copyfile(sample, folder / f"IMG_{i:06d}.jpg")
        else:
            name, content = DOCUMENTS[i % len(DOCUMENTS)]
            stem, dot, suffix = name.partition(".")
            (folder / f"{stem}_{i:06d}{dot}{suffix}").write_bytes(content)
    sample.unlink()


def bare_walk(root: Path) -> int:
    count = 0
    for folder, _, names in os.walk(root):
        for name in names:
            os.stat(os.path.join(folder, name))
            count += 1
    return count


def timed_scan(root: Path, classifier, store: Store) -> tuple[float, object]:
    start = time.perf_counter()
    summary = None
    for event in scan([str(root)], classifier, store, options=DecodeOptions(batch_size=64)):
        if isinstance(event, ScanFinished):
            summary = event.summary
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--documents", action="store_true",
                        help="a tree of mostly documents and data, one photo in 29")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of rescan and walk")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nsfw-rescan-"))
    library = work / ("documents" if args.documents else "library")
    if not library.exists():
        library.mkdir(parents=True)
        (build_documents if args.documents else build_library)(library, args.files)
    classifier = make_classifier(str(make_vit(work / "tiny-vit", TINY_VIT)), device="cpu")
    with Store(work / "results.db") as store:
        first, _ = timed_scan(library, classifier, store)
        # Alternating rounds, medians: load from other work on a shared machine falls on both.
        rescans, walks = [], []
        for _ in range(args.rounds):
            rescan, summary = timed_scan(library, make_classifier(str(work / "tiny-vit"), device="cpu"),
                                         store)
            rescans.append(rescan)
            walk_start = time.perf_counter()
            walked = bare_walk(library)
            walks.append(time.perf_counter() - walk_start)
    rescan, walk_seconds = statistics.median(rescans), statistics.median(walks)
    print(f"files:                 {walked}")
    print(f"first scan (tiny ViT): {first:.2f} s")
    print(f"unchanged rescan:      {rescan:.3f} s median of {args.rounds} ({summary.unchanged} unchanged, "
          f"{summary.scanned} classified)")
    print(f"bare os.walk + stat:   {walk_seconds:.3f} s median of {args.rounds}")
    print(f"ratio rescan / walk:   {rescan / walk_seconds:.1f}x")


if __name__ == "__main__":
    main()
