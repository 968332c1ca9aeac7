"""Start the desktop app: settings, the QApplication and the main window.

Nothing here imports torch or transformers: the window shows first, and the
scan worker imports them in its own thread when a scan starts.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.config import settings as settings_file
from nsfw_desktop.files import paths
from nsfw_desktop.files.logs import setup_logging
from nsfw_desktop.files.resources import APP_ID

log = logging.getLogger(__name__)


@dataclass
class LaunchOptions:
    folders: list[str] = field(default_factory=list)  # added to the remembered folder list
    model: str | None = None  # saved as the model setting when given
    endpoints: list[str] = field(default_factory=list)  # saved as the endpoint setting when given
    device: str | None = None
    unsafe_labels: tuple[str, ...] = DEFAULT_UNSAFE_LABELS
    db_path: str | None = None
    scan: bool = False  # start a scan as soon as the stored results are shown
    screenshot: str | None = None  # save the window as a PNG once it has settled
    quit_after_scan: bool = False  # exit once settled: the scan is over and thumbnails drawn


def run(options: LaunchOptions) -> int:
    """Open the window and run until it closes. Exit status 1 when an automated
    run (``quit_after_scan``) hit a scan failure or could not save its screenshot."""
    from PySide6.QtWidgets import QApplication, QDialog

    from nsfw_desktop.gui.first_run import FirstRunDialog
    from nsfw_desktop.gui.icon import app_icon
    from nsfw_desktop.gui.main_window import MainWindow
    from nsfw_desktop.gui.qt_compat import guard_singleton_refcounts
    from nsfw_desktop.gui.theme import follow_system_theme

    guard_singleton_refcounts()

    settings, problem = settings_file.load_or_defaults()
    changes = {}
    if options.model is not None:
        changes.update(model=options.model, endpoints=[])
    if options.endpoints:
        changes.update(endpoints=list(options.endpoints), model=None)
    if options.device is not None:
        changes["device"] = options.device
    if changes:
        settings = settings.replace(**changes)
        settings_file.save(settings)

    setup_logging(secrets=[settings.token or ""])  # the saved token is hidden in the log too
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(paths.APP_NAME)
    app.setDesktopFileName(APP_ID)  # lets Wayland compositors find the icon
    app.setWindowIcon(app_icon())
    follow_system_theme(app)
    window = MainWindow(settings, db_path=options.db_path or paths.default_db_path(),
                        unsafe_labels=options.unsafe_labels, scan_on_load=options.scan)
    if problem:
        window.messages.show_message(problem)
    if options.folders:
        window.add_folders(options.folders)
    outcome = {"status": 0}

    def settled() -> None:
        if options.screenshot:
            if not window.grab().save(options.screenshot):
                log.error("could not save the screenshot to %s", options.screenshot)
                outcome["status"] = 1
            options.screenshot = None  # once
        if options.quit_after_scan:
            window.settled.disconnect(settled)
            if window.scan_error:
                log.error("%s", window.scan_error)
                outcome["status"] = 1
            window.close()

    if options.screenshot or options.quit_after_scan:
        window.settled.connect(settled)
    window.show()
    # After show(), so the window is up first; the check never imports torch.
    if not options.quit_after_scan and FirstRunDialog.needed(settings):
        first_run = FirstRunDialog(window)
        if first_run.exec() == QDialog.DialogCode.Accepted and first_run.model:
            window.first_model_chosen(first_run.model)
    app.exec()
    return outcome["status"]
