"""``nsfw-desktop export``: write stored results to CSV."""

from __future__ import annotations

from nsfw_desktop.cli.common import add_db_option, export_csv, open_store, threshold


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export stored results to CSV")
    parser.add_argument("--csv", required=True, metavar="FILE",
                        help="where to write the CSV; - writes it to standard output")
    parser.add_argument("--all", action="store_true", help="every file, not only flagged ones")
    parser.add_argument("--threshold", type=threshold, default=0.5,
                        help="NSFW score from which a file counts as flagged (default: %(default)s)")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    # Read-only: works on read-only media and while a scan writes to the same database.
    with open_store(args, read_only=True) as store:
        export_csv(args, store)
    return 0
