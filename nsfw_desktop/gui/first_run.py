"""The first-run screen: what the app does, where the photos stay, and getting the model.

Shown at start while no model is usable (``FirstRunDialog.needed``). It offers
to download the default model into the Hugging Face cache, with a progress bar,
to use the model that comes with the app (open_nsfw, which never needs a
download), or a model folder already on this computer. The download runs in its own
thread; results come back to the dialog only by signal.
"""

from __future__ import annotations

import contextlib
import io
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from tqdm.std import tqdm

from nsfw_desktop.classify import model_source
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, OPEN_NSFW, ModelError, ModelSource
from nsfw_desktop.config.settings import Settings
from nsfw_desktop.gui.advice import for_window
from nsfw_desktop.gui.icon import app_icon
from nsfw_desktop.gui.window_fit import fit_to_screen

log = logging.getLogger(__name__)

WIDTH = 620  # pixels: the introduction's lines stay short enough to read
MODEL_SIZE_TEXT = "about 340 MB"  # ViT-B/16 in float32: 86 million parameters x 4 bytes
# After a failed download: what the window offers instead of the command line's advice.
DOWNLOAD_FAILED_ADVICE = ("Try again once connected, or use the included model (works offline) "
                          "or a model folder instead.")

INTRODUCTION = (
    "<p><b>nsfw-desktop looks through the photo folders you choose and points out pictures "
    "that may show nudity or other adult content</b>, so you can review them, keep them blurred "
    "or move them out of the way.</p>"
    "<p><b>Everything stays on this computer.</b> Your photos are never uploaded anywhere, unless "
    "you choose a remote classification endpoint in Settings yourself.</p>"
    f"<p>To recognise such pictures the app needs its model, a file of {MODEL_SIZE_TEXT}. "
    "It is downloaded once, from Hugging Face, and kept for later; after that the app works "
    "offline. You can also start at once with the model included with the app (open_nsfw, "
    "works offline), or use a model folder you already have.</p>"
)


def model_available(settings: Settings) -> bool:
    """True when scanning could start now: remote endpoints are set, or the chosen model
    (the default one when none is chosen) is on this computer. Never downloads."""
    if settings.endpoints:
        return True
    try:
        model_source.resolve(settings.model, download=False)
    except ModelError:
        return False
    return True


def progress_bar_class(report: Callable[[tqdm], None]) -> type[tqdm]:
    """A tqdm class for huggingface_hub's ``tqdm_class`` that prints nothing and calls
    ``report(bar)`` whenever a bar would have been redrawn."""

    class ReportingBar(tqdm):
        monitor_interval = 0  # no tqdm monitor thread per bar

        def __init__(self, *args, **kwargs):
            # Never written to (display is replaced), but tqdm needs a stream, and a
            # windowed app may have no sys.stderr.
            kwargs["file"] = io.StringIO()
            kwargs["disable"] = False
            super().__init__(*args, **kwargs)

        def display(self, msg=None, pos=None) -> bool:
            report(self)
            return True

    return ReportingBar


class ModelDownload(QObject):
    """Downloads a Hub model in a daemon thread, so closing the window never waits on it.
    A download stopped part-way resumes from where it stopped next time."""

    progress = Signal(int, int)  # bytes on disk so far, bytes in all (0 while not known yet)
    finished = Signal(object)  # the ModelSource, checked
    failed = Signal(object)  # why, in words for the user

    def __init__(self, spec: str | None = None, *,
                 pull: Callable[..., ModelSource] = model_source.pull):
        super().__init__()
        self.spec = spec
        self._pull = pull
        self._lock = threading.Lock()
        self._byte_bars: dict[int, tqdm] = {}  # id(bar) -> bar, for bars counting bytes

    def start(self) -> None:
        # A daemon thread rather than a QThread: a QThread must not outlive its dialog.
        threading.Thread(target=self._run, name="model-download", daemon=True).start()

    def _run(self) -> None:
        try:
            source = self._pull(self.spec, tqdm_class=progress_bar_class(self._report))
        except ModelError as exc:
            self.failed.emit(f"{exc.problem} {DOWNLOAD_FAILED_ADVICE}")
        except Exception as exc:  # the thread's last stop: the dialog must hear of any failure
            log.exception("model download failed")
            self.failed.emit(f"The download failed: {for_window(exc)}")
        else:
            self.finished.emit(source)

    def _report(self, bar: tqdm) -> None:
        # huggingface_hub draws a bar of files and bars of bytes (received, written);
        # the furthest bytes bar is what reaches the disk. Read live: a bar reports only
        # now and then, and the others have moved on since they last did.
        if bar.unit != "B":
            return
        with self._lock:
            self._byte_bars[id(bar)] = bar
            done, total = max((int(b.n), int(b.total or 0)) for b in self._byte_bars.values())
        # RuntimeError: a bar closed after the dialog and this object were deleted; nobody to tell.
        with contextlib.suppress(RuntimeError):
            self.progress.emit(done, total)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.0f} MB"


class FirstRunDialog(QDialog):
    """Accepted once a model is ready; then ``model`` is the value for ``Settings.model``
    (None for the downloaded default model, else open-nsfw or the chosen folder) and
    ``source`` its files.
    Rejected when the user chose "Not now"."""

    @staticmethod
    def needed(settings: Settings) -> bool:
        return not model_available(settings)

    def __init__(self, parent: QWidget | None = None, *,
                 pull: Callable[..., ModelSource] = model_source.pull):
        super().__init__(parent)
        self.setWindowTitle("Welcome to nsfw-desktop")
        self.setWindowIcon(app_icon())
        self.model: str | None = None
        self.source: ModelSource | None = None
        self._pull = pull
        self.download: ModelDownload | None = None

        self.introduction = QLabel(INTRODUCTION, wordWrap=True)
        self.introduction.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar(visible=False)
        self.progress.setFormat("%p%")
        self.status = QLabel(wordWrap=True, visible=False)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton(f"Download the model ({MODEL_SIZE_TEXT})", default=True)
        self.included_button = QPushButton("Use the included model (works offline)")
        self.folder_button = QPushButton("Use a model folder…")
        self.later_button = QPushButton("Not now")
        self.download_button.clicked.connect(self.start_download)
        self.included_button.clicked.connect(self.use_included)
        self.folder_button.clicked.connect(self.choose_folder)
        self.later_button.clicked.connect(self.reject)

        # The two ways to a model that works now side by side; the rest below them.
        choices = QHBoxLayout()
        choices.addStretch(1)
        choices.addWidget(self.included_button)
        choices.addWidget(self.download_button)
        others = QHBoxLayout()
        others.addWidget(self.later_button)
        others.addStretch(1)
        others.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.introduction)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addLayout(choices)
        layout.addLayout(others)
        # As wide as the buttons need and the text reads well, as tall as the text then needs.
        width = max(WIDTH, layout.minimumSize().width())
        fit_to_screen(self, width, layout.totalHeightForWidth(width))
        # Enter downloads; the other buttons need a click or Tab.
        for button in (self.folder_button, self.included_button, self.later_button):
            button.setAutoDefault(False)
        self.download_button.setFocus()

    def start_download(self) -> None:
        self._set_busy(True)
        self._say(f"Downloading {DEFAULT_MODEL}… You can keep this window open or come back later: "
                  "a stopped download resumes where it stopped.")
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.setVisible(True)
        self.download = ModelDownload(pull=self._pull)
        self.download.progress.connect(self._download_progress)
        self.download.finished.connect(self._model_ready)
        self.download.failed.connect(self._download_failed)
        self.download.start()

    def use_included(self) -> None:
        """Accept open_nsfw, which comes with the app: nothing to download."""
        self.use_model(OPEN_NSFW)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a model folder")
        if folder:
            self.use_folder(folder)

    def use_folder(self, folder: str) -> None:
        """Accept ``folder`` when it holds a usable model, else say why and stay open."""
        self.use_model(folder)

    def use_model(self, spec: str) -> None:
        """Accept the model ``spec`` names (open-nsfw or a folder) when it is usable here,
        else say why and stay open."""
        try:
            source = model_source.resolve(spec, download=False)
        except ModelError as exc:
            self._say(for_window(exc), problem=True)
            return
        self.model = spec if spec == OPEN_NSFW else str(source.folder)
        self.source = source
        self.accept()

    def _download_progress(self, done: int, total: int) -> None:
        if total <= 0:
            return
        # QProgressBar counts in int: kilobytes keep a multi-gigabyte model in range.
        self.progress.setRange(0, max(1, total // 1000))
        self.progress.setValue(min(done, total) // 1000)
        self.progress.setFormat(f"%p%  ({_megabytes(done)} of {_megabytes(total)})")

    def _model_ready(self, source: ModelSource) -> None:
        log.info("model ready in %s", source.folder)
        self.model = None  # the default model: the settings keep "none chosen"
        self.source = source
        self.accept()

    def _download_failed(self, message: str) -> None:
        log.warning("model download failed: %s", message)
        self.progress.setVisible(False)
        self._set_busy(False)
        self._say(message, problem=True)

    def _set_busy(self, busy: bool) -> None:
        for button in (self.download_button, self.included_button, self.folder_button):
            button.setEnabled(not busy)

    def _say(self, message: str, *, problem: bool = False) -> None:
        self.status.setText(message)
        self.status.setStyleSheet("font-weight: bold;" if problem else "")
        self.status.setVisible(True)
