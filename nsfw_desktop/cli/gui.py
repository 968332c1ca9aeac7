"""``nsfw-desktop gui``: open the desktop app (also what ``nsfw-desktop`` alone does)."""

from __future__ import annotations

import logging
import os
import sys
from typing import NoReturn

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.classify.model_source import DEFAULT_MODEL
from nsfw_desktop.cli.common import CliError, add_db_option
from nsfw_desktop.files.displaypath import display_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "gui", help="open the desktop app",
        description="Open the desktop app. Folders given here are added to the remembered list; "
                    "--model, --endpoint and --device are saved as settings.")
    parser.add_argument("folders", nargs="*", metavar="FOLDER", help="folders to screen")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", metavar="M",
                       help=f"local model folder, Hugging Face repo id[@revision], or open-nsfw "
                            f"(Yahoo open_nsfw, installed with the app: works offline) "
                            f"(default: {DEFAULT_MODEL})")
    model.add_argument("--endpoint", action="append", default=[], metavar="URL",
                       help="classify on a remote nsfw-desktop server instead (repeatable)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default=None)
    parser.add_argument("--unsafe-labels", default=",".join(DEFAULT_UNSAFE_LABELS), metavar="L,L",
                        help="labels whose probabilities add up to the NSFW score (default: %(default)s)")
    add_db_option(parser)
    parser.add_argument("--scan", action="store_true", help="start scanning the folders at once")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="save the window to this PNG once the results (and the scan) are shown")
    parser.add_argument("--quit-after-scan", action="store_true",
                        help="close the app once the scan is over (with --scan: for automation)")
    parser.set_defaults(func=run)


def run(args) -> int:
    _check_folders(args.folders)
    _check_display()
    from nsfw_desktop.config.settings import SettingsError
    from nsfw_desktop.gui.app import LaunchOptions
    from nsfw_desktop.gui.app import run as run_app

    options = LaunchOptions(
        folders=args.folders, model=args.model, endpoints=args.endpoint, device=args.device,
        unsafe_labels=tuple(label for label in args.unsafe_labels.split(",") if label),
        db_path=args.db, scan=args.scan, screenshot=args.screenshot, quit_after_scan=args.quit_after_scan)
    try:
        status = run_app(options)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    _exit_now(status)


def _exit_now(status: int) -> NoReturn:
    """End the process at once. The window has saved and closed everything by now
    (results, settings, the view, every worker thread); what is left is the
    interpreter's teardown of torch and transformers, a second or more spent on
    nothing after the window has gone."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(status)


def _check_folders(folders: list[str]) -> None:
    """A file or a missing folder would be remembered as a folder to screen: refuse it."""
    for folder in folders:
        if not os.path.exists(folder):
            raise CliError(f"{display_path(folder)}: no such folder")
        if not os.path.isdir(folder):
            raise CliError(f"{display_path(folder)} is a file, not a folder: give the folder that "
                           f"holds it ({display_path(os.path.dirname(os.path.abspath(folder)))})")


def _check_display() -> None:
    """Qt aborts the whole process when it finds no display, or the libraries of its X11
    plugin; say so in words instead."""
    from nsfw_desktop.gui import x11_libraries

    if x11_libraries.uses_xcb():
        missing = x11_libraries.missing_packages()
        if missing:
            raise CliError(x11_libraries.problem(missing))
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise CliError("no graphical display found (DISPLAY and WAYLAND_DISPLAY are not set): the desktop "
                       "app needs one. Without a display, use the command line: nsfw-desktop scan FOLDER")
