"""scan --ray on this computer against the local scan: the overhead of going through Ray.

The same camera-like JPEGs and the same random ViT-B/16 (Falconsai's architecture and
cost) are scanned into a fresh database by the local pipeline and by one Ray Data
worker given every CPU, in alternating rounds (a shared machine's load falls on
both); medians. Ray is started once, before the rounds (its start is printed on
its own: a ``scan --ray`` pays it once per run). Also printed, for sizing a cluster:
what stays on the driver per file, an unchanged rescan (walk and decision) and the
commit of a result.

    python -m benchmarks.ray_scan [--photos 32] [--rounds 3] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from nsfw_desktop.classify import ModelSpec, make_classifier
from nsfw_desktop.cluster import import_ray
from nsfw_desktop.cluster.batch import RayOptions, ray_classify
from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16
from nsfw_desktop.scan.engine import BatchDone, ScanFinished, scan
from nsfw_desktop.scan.types import DecodeOptions
from nsfw_desktop.store.results import Store


def timed_scan(library: Path, model: Path, db: Path, classify=None) -> tuple[float, float, list, object]:
    """(seconds, seconds to the first batch, results, summary) of a scan into a fresh ``db``."""
    db.unlink(missing_ok=True)
    results, summary, first = [], None, 0.0
    start = time.perf_counter()
    with Store(db) as store:
        for event in scan([str(library)], make_classifier(str(model), device="cpu"), store,
                          options=DecodeOptions(batch_size=8), classify=classify):
            if isinstance(event, BatchDone):
                first = first or time.perf_counter() - start
                results.extend(event.results)
            elif isinstance(event, ScanFinished):
                summary = event.summary
    return time.perf_counter() - start, first, results, summary


def driver_costs(library: Path, model: Path, db: Path, results: list) -> tuple[float, float]:
    """Seconds per file of an unchanged rescan, and of committing a result, on this computer."""
    seconds, summary = _rescan(library, model, db)
    per_rescan = seconds / summary.unchanged
    fresh = db.with_name("commit.db")
    fresh.unlink(missing_ok=True)
    with Store(fresh) as store:
        start = time.perf_counter()
        for i in range(0, len(results), 8):
            store.put_many(results[i:i + 8])
        per_commit = (time.perf_counter() - start) / len(results)
    return per_rescan, per_commit


def _rescan(library: Path, model: Path, db: Path):
    start = time.perf_counter()
    summary = None
    with Store(db) as store:
        for event in scan([str(library)], make_classifier(str(model), device="cpu"), store):
            if isinstance(event, ScanFinished):
                summary = event.summary
    return time.perf_counter() - start, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=32, help="camera-like 12 MP JPEGs")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each")
    parser.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="nsfw-ray-bench-"))
    library = work / "photos"
    make_camera_jpegs(library, args.photos)
    model = make_vit_b16(work / "vit-b16", head_scale=40.0)
    cpus = os.cpu_count() or 1

    ray = import_ray()
    start = time.perf_counter()
    # Workers import this copy of nsfw_desktop, whatever else is installed.
    package_root = str(Path(__file__).resolve().parents[1])
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": package_root}})
    ray_start = time.perf_counter() - start
    on_ray = ray_classify(ModelSpec(str(model), device="cpu"), RayOptions(num_cpus=cpus))
    try:
        local_times, local_firsts, ray_times, ray_firsts = [], [], [], []
        for _ in range(args.rounds):
            seconds, first, local_results, _ = timed_scan(library, model, work / "local.db")
            local_times.append(seconds)
            local_firsts.append(first)
            seconds, first, ray_results, summary = timed_scan(library, model, work / "ray.db", on_ray)
            ray_times.append(seconds)
            ray_firsts.append(first)
        per_rescan, per_commit = driver_costs(library, model, work / "ray.db", ray_results)
    finally:
        ray.shutdown()
    local, on_cluster = statistics.median(local_times), statistics.median(ray_times)
    local_first, first = statistics.median(local_firsts), statistics.median(ray_firsts)
    scores = {r.path: r.nsfw_score for r in local_results}
    worst = max(abs(scores[r.path] - r.nsfw_score) for r in ray_results)
    print(f"photos:               {summary.scanned} (12 MP JPEG), ViT-B/16 on {cpus} CPUs, batch 8")
    print(f"ray.init:             {ray_start:.1f} s (once per scan --ray run)")
    print(f"local scan:           {local:.2f} s median of {args.rounds} "
          f"({args.photos / local:.2f} img/s, {1000 * local / args.photos:.0f} ms per photo)")
    print(f"  first batch after:  {local_first:.2f} s (loading the model)")
    print(f"  then:               {(args.photos - 8) / (local - local_first):.2f} img/s")
    print(f"scan on Ray:          {on_cluster:.2f} s median of {args.rounds} "
          f"({args.photos / on_cluster:.2f} img/s)")
    print(f"  first batch after:  {first:.2f} s (the worker starting and loading the model)")
    print(f"  then:               {(args.photos - 8) / (on_cluster - first):.2f} img/s")
    print(f"ratio ray / local:    {on_cluster / local:.2f}x")
    print(f"largest score diff:   {worst:.2e}")
    print(f"driver, per file:     unchanged rescan {1e6 * per_rescan:.0f} us, "
          f"commit {1e6 * per_commit:.0f} us")


if __name__ == "__main__":
    main()
