"""Desktop app figures: launch time, event-loop stalls during a scan, memory with 20,000 items.

Each figure is printed beside a reference from the same run:

- launch: process start to main window shown, against a bare
  ``import torch`` plus the ViT model class (what a window that imported the
  model first would pay before anything else);
- stalls: the largest gaps between ticks of a 10 ms timer on the GUI thread
  while the app scans camera-like 12 MP JPEGs with a ViT-B/16, against the
  same engine driven from the GUI thread (a naive app) on a few of the files;
  scan throughput against the headless engine on the same files, in
  alternating rounds so that load from other work falls on both;
- memory: resident memory with 20,000 results in the grid after scrolling
  through all of it, against the same window with none.

    python -m benchmarks.gui [--count 500] [--items 20000]

Photos are generated once into the temporary folder's nsfw-bench (minutes for 500) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16

BENCH_DIR = Path(tempfile.gettempdir()) / "nsfw-bench"
TICK_MS = 10
NAIVE_COUNT = 16  # files scanned from the GUI thread: every batch freezes the window
THROUGHPUT_COUNT = 96  # files of each alternating throughput round, app against headless
THROUGHPUT_ROUNDS = 2
GRID_SOURCES = 100  # distinct photos behind the 20,000 grid items (hard links)
SCROLL_STEPS = 60  # places in the grid where we wait for every visible thumbnail


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmRSS not found in /proc/self/status")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def _linked_folder(sources: list[Path], count: int, folder: Path, name: str = "IMG_{:05d}.JPG") -> Path:
    """``count`` hard links cycling over ``sources``: many files for the price of a few."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        target = folder / name.format(i)
        if not target.exists():
            os.link(sources[i % len(sources)], target)
    return folder


def _application():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts

    guard_singleton_refcounts()
    return QApplication.instance() or QApplication([])


class _Ticks:
    """Timestamps of a 10 ms timer on the GUI thread: a gap is how long the loop was busy."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.times: list[float] = []
        self.timer = QTimer(interval=TICK_MS, timerType=Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(lambda: self.times.append(time.perf_counter()))

    def start(self) -> None:
        self.times = [time.perf_counter()]
        self.timer.start()

    def gaps_ms(self, since: float = 0.0) -> list[float]:
        self.timer.stop()
        times = [t for t in self.times if t >= since]
        return [1000 * (b - a) for a, b in zip(times, times[1:], strict=False)]


def _wait(condition, timeout: float = 600.0) -> None:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


# Stalls during a scan

def bench_scan(photos: Path, model: Path, batch_size: int) -> dict:
    from PySide6.QtCore import QEventLoop

    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.gui.main_window import MainWindow

    _application()
    with tempfile.TemporaryDirectory(prefix="nsfw-gui-bench-") as home:
        previous_home = os.environ.get("NSFW_DESKTOP_HOME")
        os.environ["NSFW_DESKTOP_HOME"] = home  # cold thumbnail cache, empty database
        window = MainWindow(Settings(folders=[str(photos)], model=str(model), batch_size=batch_size),
                            db_path=Path(home) / "results.sqlite3")
        window.show()
        _wait(lambda: window.loaded)
        first_batch: list[float] = []
        window.batch_shown.connect(lambda _: first_batch or first_batch.append(time.perf_counter()))
        ended: list = []
        loop = QEventLoop()
        window.scan_ended.connect(lambda summary: (ended.append(summary), loop.quit()))
        ticks = _Ticks()
        ticks.start()
        window.start_scan()
        loop.exec()
        all_gaps = ticks.gaps_ms()
        # From the first batch on: the model is loaded and only classification runs.
        classify_gaps = ticks.gaps_ms(since=first_batch[0]) if first_batch else all_gaps
        summary = ended[0]
        if summary is None:
            raise RuntimeError(f"the scan failed: {window.scan_error}")
        window.close()
        if previous_home is None:
            del os.environ["NSFW_DESKTOP_HOME"]
        else:
            os.environ["NSFW_DESKTOP_HOME"] = previous_home
    return {
        "files": summary.scanned, "images_per_second": summary.images_per_second,
        "p50_ms": statistics.median(all_gaps), "p99_ms": _percentile(all_gaps, 99), "worst_ms": max(all_gaps),
        "classify_p99_ms": _percentile(classify_gaps, 99), "classify_worst_ms": max(classify_gaps),
        "ticks": len(all_gaps),
    }


def bench_naive_scan(photos: Path, model: Path, batch_size: int) -> dict:
    """The engine driven from the GUI thread, events processed between batches."""
    from PySide6.QtWidgets import QApplication

    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.gui.results_model import ResultsModel
    from nsfw_desktop.gui.thumbnail_loader import ThumbnailLoader
    from nsfw_desktop.scan.engine import BatchDone, scan
    from nsfw_desktop.scan.types import DecodeOptions
    from nsfw_desktop.store.results import Store

    _application()
    with tempfile.TemporaryDirectory(prefix="nsfw-gui-naive-") as home:
        loader = ThumbnailLoader()
        model_ = ResultsModel(loader)
        ticks = _Ticks()
        ticks.start()
        with Store(Path(home) / "results.sqlite3") as store:
            for event in scan([str(photos)], make_classifier(str(model)), store,
                              options=DecodeOptions(batch_size=batch_size)):
                if isinstance(event, BatchDone):
                    model_.add_results(event.results)
                QApplication.processEvents()
        gaps = ticks.gaps_ms()
        loader.shutdown()
    return {"p99_ms": _percentile(gaps, 99), "worst_ms": max(gaps)}


def bench_headless(photos: Path, model: Path, batch_size: int) -> float:
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.scan.engine import ScanFinished, scan
    from nsfw_desktop.scan.types import DecodeOptions
    from nsfw_desktop.store.results import Store

    with tempfile.TemporaryDirectory(prefix="nsfw-gui-headless-") as home, \
            Store(Path(home) / "results.sqlite3") as store:
        for event in scan([str(photos)], make_classifier(str(model)), store,
                          options=DecodeOptions(batch_size=batch_size)):
            if isinstance(event, ScanFinished):
                return event.summary.images_per_second
    raise RuntimeError("the scan did not finish")


# Launch time (parent side: process start to the window's first show)

_LAUNCH_CHILD = """
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow

class Shown(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and isinstance(obj, QMainWindow):
            QTimer.singleShot(0, report)
        return False

def report():
    heavy = [m for m in ("torch", "transformers") if m in sys.modules]
    print(json.dumps({"shown": True, "heavy_imports": heavy}), flush=True)
    os._exit(0)

app = QApplication([])
shown = Shown()
app.installEventFilter(shown)
from nsfw_desktop.cli import main
main(["gui", "--db", sys.argv[1]])
"""

_IMPORT_MODEL = "import torch; from transformers import ViTForImageClassification"


def _time_process(args: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120, check=True)
    return time.perf_counter() - start, done.stdout


def bench_launch(db_path: Path, home: str, repeats: int = 3) -> dict:
    env = dict(os.environ, NSFW_DESKTOP_HOME=home, QT_QPA_PLATFORM="offscreen")
    launches, heavy = [], []
    for _ in range(repeats):
        seconds, out = _time_process([sys.executable, "-c", _LAUNCH_CHILD, str(db_path)], env)
        launches.append(seconds)
        heavy = json.loads(out.strip().splitlines()[-1])["heavy_imports"]
    imports = [_time_process([sys.executable, "-c", _IMPORT_MODEL], env)[0] for _ in range(repeats)]
    return {"launch_s": statistics.median(launches), "import_model_s": statistics.median(imports),
            "heavy_imports_at_show": heavy}


# Memory with many items (in a child process, so the scan's model is not counted)

def _fill_store(db_path: Path, folder: Path, items: int) -> None:
    from nsfw_desktop.store.result import Result
    from nsfw_desktop.store.results import Store

    rng = random.Random(0)
    rows = []
    for i in range(items):
        path = folder / f"IMG_{i:05d}.JPG"
        info = path.stat()
        rows.append(Result(path=str(path), label="nsfw", nsfw_score=rng.random(), model="bench",
                           width=1600, height=1200, file_size=info.st_size, mtime_ns=info.st_mtime_ns,
                           scanned_at=time.time()))
    with Store(db_path) as store:
        store.put_many(rows)


def memory_child(folder: Path, items: int) -> dict:
    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.gui.main_window import MainWindow

    _application()
    home = Path(os.environ["NSFW_DESKTOP_HOME"])
    empty = MainWindow(Settings(), db_path=home / "empty.sqlite3")
    empty.show()
    _wait(lambda: empty.loaded)
    baseline = _rss_mb()
    empty.close()

    db_path = home / "grid.sqlite3"
    _fill_store(db_path, folder, items)
    window = MainWindow(Settings(), db_path=db_path)
    window.show()
    start = time.perf_counter()
    _wait(lambda: window.loaded and window.model.rowCount() == items)
    load_seconds = time.perf_counter() - start
    loaded = _rss_mb()
    bar = window.grid.verticalScrollBar()
    peak = loaded
    scroll_start = time.perf_counter()
    for step in range(SCROLL_STEPS + 1):
        bar.setValue(round(bar.maximum() * step / SCROLL_STEPS))
        window.grid.request_visible()
        _wait(lambda: window.loader.is_idle)
        peak = max(peak, _rss_mb())
    scrolled = time.perf_counter() - scroll_start
    result = {"items": window.model.rowCount(), "baseline_mb": baseline, "loaded_mb": loaded,
              "after_scroll_mb": _rss_mb(), "peak_mb": peak, "pixmaps": window.loader.cached_count(),
              "capacity": window.loader.capacity, "load_s": load_seconds, "scroll_s": scrolled}
    window.close()
    return result


def bench_memory(items: int) -> dict:
    sources = make_camera_jpegs(BENCH_DIR / "grid-sources", GRID_SOURCES, size=(1600, 1200))
    folder = _linked_folder(sources, items, BENCH_DIR / f"grid{items}")
    with tempfile.TemporaryDirectory(prefix="nsfw-gui-memory-") as home:
        env = dict(os.environ, NSFW_DESKTOP_HOME=home, QT_QPA_PLATFORM="offscreen")
        done = subprocess.run([sys.executable, "-m", "benchmarks.gui", "--memory-child",
                               str(folder), "--items", str(items)],
                              env=env, capture_output=True, text=True, timeout=1800, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="photos scanned (default: %(default)s)")
    parser.add_argument("--items", type=int, default=20_000, help="grid items for the memory figure")
    parser.add_argument("--model", type=Path, default=BENCH_DIR / "vit-b16")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--memory-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.items)))
        return

    model = make_vit_b16(args.model)
    sources = make_camera_jpegs(BENCH_DIR / "camera500", args.count)
    photos = _linked_folder(sources, args.count, BENCH_DIR / f"gui-scan-{args.count}")
    naive_photos = _linked_folder(sources, NAIVE_COUNT, BENCH_DIR / f"gui-scan-{NAIVE_COUNT}")
    round_photos = _linked_folder(sources, min(THROUGHPUT_COUNT, args.count),
                                  BENCH_DIR / f"gui-scan-{min(THROUGHPUT_COUNT, args.count)}")

    with tempfile.TemporaryDirectory(prefix="nsfw-gui-launch-") as home:
        launch = bench_launch(Path(home) / "results.sqlite3", home)
    print(f"launch to window shown:   {launch['launch_s']:.2f} s (median of 3; target < 2 s)")
    print(f"  reference: import torch + ViT class alone: {launch['import_model_s']:.2f} s "
          f"(ratio {launch['launch_s'] / launch['import_model_s']:.2f}x)")
    print(f"  torch/transformers imported when shown: {launch['heavy_imports_at_show'] or 'none'}")

    memory = bench_memory(args.items)
    print(f"memory with {memory['items']} items:  {memory['after_scroll_mb']:.0f} MB resident after "
          f"scrolling the whole grid (peak {memory['peak_mb']:.0f} MB, {memory['pixmaps']} pixmap pairs "
          f"cached, capacity {memory['capacity']})")
    print(f"  reference: same window empty: {memory['baseline_mb']:.0f} MB "
          f"(+{memory['after_scroll_mb'] - memory['baseline_mb']:.0f} MB for {memory['items']} items; "
          f"{memory['loaded_mb'] - memory['baseline_mb']:.0f} MB before any thumbnail); "
          f"results shown in {memory['load_s']:.2f} s")

    ours = bench_scan(photos, model, args.batch_size)
    naive = bench_naive_scan(naive_photos, model, args.batch_size)
    app_rates, headless_rates = [], []
    for _ in range(THROUGHPUT_ROUNDS):
        app_rates.append(bench_scan(round_photos, model, args.batch_size)["images_per_second"])
        headless_rates.append(bench_headless(round_photos, model, args.batch_size))
    print(f"stalls during a scan of {ours['files']} 12 MP JPEGs (ViT-B/16, batch {args.batch_size}), "
          f"gaps between {TICK_MS} ms ticks:")
    print(f"  ours:  p50 {ours['p50_ms']:.0f} ms, p99 {ours['p99_ms']:.0f} ms, "
          f"worst {ours['worst_ms']:.0f} ms "
          f"(targets: p99 < 50, worst < 200); after the model loaded: p99 {ours['classify_p99_ms']:.0f} ms, "
          f"worst {ours['classify_worst_ms']:.0f} ms")
    print(f"  reference: engine on the GUI thread ({NAIVE_COUNT} files): p99 {naive['p99_ms']:.0f} ms, "
          f"worst {naive['worst_ms']:.0f} ms (worst-gap ratio {naive['worst_ms'] / ours['worst_ms']:.1f}x)")
    app_rate, headless_rate = statistics.mean(app_rates), statistics.mean(headless_rates)
    per_round = ", ".join(f"{a / h:.2f}" for a, h in zip(app_rates, headless_rates, strict=True))
    print(f"  throughput, {THROUGHPUT_ROUNDS} alternating rounds of {min(THROUGHPUT_COUNT, args.count)} "
          f"files: {app_rate:.2f} images/s in the app vs {headless_rate:.2f} headless "
          f"(ratio {app_rate / headless_rate:.2f}x; per round {per_round}); "
          f"the {ours['files']}-file scan above: {ours['images_per_second']:.2f} images/s")


if __name__ == "__main__":
    main()
