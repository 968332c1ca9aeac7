"""``nsfw-desktop watch``: classify new images in folders as they arrive, until Ctrl-C."""

from __future__ import annotations

import os
import sys

from nsfw_desktop.cli.common import (
    CliError,
    add_db_option,
    add_model_options,
    add_threshold_option,
    build_classifier,
    resolve_threshold,
    result_json,
)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "watch", help="classify new images in folders as they arrive",
        description="Watch folders (recursively) and classify every image that appears or changes, "
                    "once it is completely written. Files changed since the last run are caught up "
                    "first. Runs until Ctrl-C.")
    parser.add_argument("folders", nargs="+", metavar="FOLDER", help="folders to watch")
    add_model_options(parser, precision=True)
    add_db_option(parser)
    add_threshold_option(parser)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per classified file: path, label, nsfw_score, error")
    parser.add_argument("--poll", action="store_true",
                        help="look at the folders every 2 s instead of waiting for the system's "
                             "change events: for network shares, whose changes those events miss")
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.files.paths import default_db_path
    from nsfw_desktop.watch import Watcher

    folders = [os.path.abspath(folder) for folder in args.folders]
    for folder in folders:
        if not os.path.isdir(folder):
            raise CliError(f"not a folder: {folder}")
    classifier = build_classifier(args)  # first: it may fall back to open-nsfw
    resolve_threshold(args)
    printer = _Printer(args)
    watcher = Watcher(folders, classifier, args.db or default_db_path(), on_event=printer,
                      threshold=args.threshold, poll=args.poll)
    watcher.start()
    try:
        watcher.wait()
    except KeyboardInterrupt:
        watcher.stop()
        print("Stopped watching.", file=sys.stderr, flush=True)
        return 0
    if printer.error:
        raise CliError(printer.error)
    return 0


class _Printer:
    """Prints the watcher's events: results on stdout, everything else on stderr."""

    def __init__(self, args):
        self.json = args.json
        self.error: str | None = None

    def __call__(self, event) -> None:
        from nsfw_desktop.watch import FileClassified, FolderOffline, FolderOnline, WatchStopped, WatchWarning

        if isinstance(event, FileClassified):
            r = event.result
            if self.json:
                line = result_json(r)
            elif r.error:
                line = f"{r.path}\terror: {r.error}"
            else:
                line = f"{r.path}\t{r.label}\t{r.nsfw_score:.4f}" + ("\tflagged" if event.flagged else "")
            print(line, flush=True)
        elif isinstance(event, FolderOnline):
            print(f"watching {event.folder}", file=sys.stderr, flush=True)
        elif isinstance(event, FolderOffline):
            print(f"warning: not watching {event.folder}: {event.reason}", file=sys.stderr, flush=True)
        elif isinstance(event, WatchWarning):
            print(f"warning: {event.message}", file=sys.stderr, flush=True)
        elif isinstance(event, WatchStopped):
            self.error = event.error
