"""Heatmaps and "find similar" in the desktop app: how long they take, and whether the window stalls.

Each figure is printed beside a reference from the same run:

- heatmap of the detail preview (a 12 MP photo shown at 1024 px): toggle to
  overlay drawn, against decoding the photo at preview size and calling
  ``heatmap.explain`` directly (the app's overhead: threads, signals, the
  tile that may be in the worker when the toggle is pressed);
- heatmaps of every tile on screen, per tile, against the same direct call
  on a thumbnail;
- GUI event-loop gaps (10 ms timer) while they are made, against the direct
  preview call's duration, which is what a window computing it on the GUI
  thread would freeze for;
- find similar: action to matches in the grid, against ``find_similar``
  called directly.

    python -m benchmarks.gui_features [--count 24]

Runs offscreen with the random ViT-B/16 and camera-like JPEGs in the temporary folder's nsfw-bench.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from nsfw_desktop.media.sample_data import make_camera_jpegs, make_vit_b16

BENCH_DIR = Path(tempfile.gettempdir()) / "nsfw-bench"
TICK_MS = 10


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="camera-like photos in the folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="nsfw-gui-features-"))
    os.environ["NSFW_DESKTOP_HOME"] = str(home)

    from PIL import Image
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.explain.heatmap import explain
    from nsfw_desktop.gui.feature_worker import HeatmapKey
    from nsfw_desktop.gui.main_window import MainWindow
    from nsfw_desktop.gui.thumbnail_loader import PREVIEW_SIZE
    from nsfw_desktop.media.imaging import load_image
    from nsfw_desktop.similar.search import find_similar

    model = make_vit_b16(BENCH_DIR / "vit-b16")
    photos = BENCH_DIR / f"camera{args.count}"
    make_camera_jpegs(photos, args.count)
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("nsfw-desktop")

    def spin(done, timeout=900.0, signal=None):
        """Run the event loop until ``done()``, checked every 20 ms or when ``signal`` comes;
        it sleeps between checks, leaving the CPU to the workers."""
        end = time.monotonic() + timeout
        loop = QEventLoop()
        if signal is not None:
            signal.connect(loop.quit)
        check = QTimer(interval=20)
        check.timeout.connect(lambda: (done() or time.monotonic() > end) and loop.quit())
        check.start()
        if not done():
            loop.exec()
        check.stop()
        if signal is not None:
            signal.disconnect(loop.quit)
        if not done():
            raise TimeoutError("the app did not finish in time")

    settings = Settings(folders=[str(photos)], model=str(model), device="cpu", threshold=1.0, embeddings=True)
    window = MainWindow(settings, db_path=home / "results.sqlite3")
    window.show()
    spin(lambda: window.loaded)
    ended = []
    window.scan_ended.connect(ended.append)
    window.start_scan()
    spin(lambda: ended)
    spin(lambda: (window.grid.request_visible(), window.loader.is_idle)[1])

    gaps: list[float] = []
    clock = QElapsedTimer()
    ticker = QTimer(interval=TICK_MS)
    ticker.timeout.connect(lambda: (gaps.append(clock.restart()) if clock.isValid() else clock.start()))

    # A first heatmap loads the model in the worker: made before timing, on another photo.
    window.grid.setCurrentIndex(window.model.index(window.model.rowCount() - 1))
    window.heatmap_action.setChecked(True)
    spin(lambda: len(window.heatmaps._pixmaps) >= 1)
    window.heatmap_action.setChecked(False)

    result = window.model.result(0)
    ticker.start()
    started = time.perf_counter()
    window.grid.setCurrentIndex(window.model.index(0))
    window.heatmap_action.setChecked(True)
    spin(lambda: HeatmapKey(result.path, result.mtime_ns, "rollout", "preview") in window.heatmaps._pixmaps)
    preview_s = time.perf_counter() - started
    visible = list(window.grid.visible_rows())
    tile_keys = [HeatmapKey(window.model.result(r).path, window.model.result(r).mtime_ns, "rollout", "tile")
                 for r in visible]

    def tiles_done() -> bool:
        # What painting a tile does; the rows just below the viewport are not painted yet.
        return all(window.heatmaps.overlay(window.model.result(r), "tile") is not None for r in visible)

    spin(tiles_done)
    tiles_s = time.perf_counter() - started - preview_s
    ticker.stop()

    classifier = make_classifier(str(model), device="cpu")
    classifier.load()
    explain(classifier, Image.new("RGB", (64, 64)))  # the eager twin is made on the first call
    t = time.perf_counter()
    # What the app does for a preview: decode the 12 MP JPEG at preview size, then explain it.
    preview = load_image(result.path, min_side=PREVIEW_SIZE, max_frames=1).frames[0]
    preview.thumbnail((PREVIEW_SIZE, PREVIEW_SIZE), Image.Resampling.LANCZOS)
    explain(classifier, preview)
    direct_preview_s = time.perf_counter() - t
    with Image.open(window.loader.cache.thumbnail(result.path)) as thumb:
        small = thumb.convert("RGB")
    t = time.perf_counter()
    explain(classifier, small)
    direct_tile_s = time.perf_counter() - t

    window.heatmap_action.setChecked(False)
    shown = []
    window.similar_shown.connect(shown.append)
    for row in (2, 1):  # the first search loads the stored embeddings: the second is timed
        query = window.model.result(row).path
        window.show_all_results()
        window.select_rows([row])
        shown.clear()
        t = time.perf_counter()
        window.similar_action.trigger()
        spin(lambda: shown, signal=window.similar_shown)
        similar_s = time.perf_counter() - t
    t = time.perf_counter()
    find_similar(home / "results.sqlite3", query, classifier, top_k=50)
    direct_similar_s = time.perf_counter() - t
    window.close()

    print(f"{args.count} camera-like 12 MP JPEGs, random ViT-B/16, CPU, {os.cpu_count()} cores")
    print(f"preview heatmap: {preview_s:.2f} s in the app | explain() direct: {direct_preview_s:.2f} s "
          f"| ratio {preview_s / direct_preview_s:.2f}x")
    per_tile = tiles_s / max(len(tile_keys), 1)
    print(f"tile heatmaps: {len(tile_keys)} tiles, {per_tile:.3f} s each in the app | explain() direct: "
          f"{direct_tile_s:.3f} s | ratio {per_tile / direct_tile_s:.2f}x")
    print(f"GUI gaps while heatmaps were made: p50 {_percentile(gaps, 50):.0f} ms, "
          f"p99 {_percentile(gaps, 99):.0f} ms, worst {max(gaps):.0f} ms | explain() on the GUI thread "
          f"would freeze it {direct_preview_s * 1000:.0f} ms per preview")
    print(f"find similar: {similar_s * 1000:.0f} ms to the grid | find_similar() direct: "
          f"{direct_similar_s * 1000:.0f} ms | ratio {similar_s / direct_similar_s:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
