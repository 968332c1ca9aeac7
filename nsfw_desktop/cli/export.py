"""``nsfw-desktop export``: write stored results to CSV."""

from __future__ import annotations

from collections import Counter

from nsfw_desktop.cli.common import add_db_option, export_csv, open_store, threshold


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="export stored results to CSV")
    parser.add_argument("--csv", required=True, metavar="FILE",
                        help="where to write the CSV; - writes it to standard output")
    parser.add_argument("--all", action="store_true", help="every file, not only flagged ones")
    parser.add_argument("--threshold", type=threshold, default=None,
                        help="NSFW score from which a file counts as flagged (default: the recommended "
                             "threshold of the model most results come from, as scan uses it)")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    # Read-only: works on read-only media and while a scan writes to the same database.
    with open_store(args, read_only=True) as store:
        if args.threshold is None:
            args.threshold = _recommended(store)
        export_csv(args, store)
    return 0


def _recommended(store) -> float:
    """The recommended threshold of the model that classified most stored files: what a scan
    with that model flagged by."""
    from nsfw_desktop.classify.catalogue import recommended_threshold

    models = Counter(result.model for result in store.results())
    return recommended_threshold(models.most_common(1)[0][0] if models else None)
