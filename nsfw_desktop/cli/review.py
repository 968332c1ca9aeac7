"""``nsfw-desktop review``: set review marks, or list the files whose marks would teach most."""

from __future__ import annotations

import json
import os
import sys

from nsfw_desktop.cli.common import CliError, add_db_option, open_store, positive_int, threshold
from nsfw_desktop.files.canonical import StoredNames
from nsfw_desktop.files.displaypath import display_path, path_fields


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "review", help="mark scanned files as reviewed safe or nsfw",
        description="Set a person's verdict on scanned files. A review mark always wins over the "
                    "model's score and the personal policy's, and `nsfw-desktop policy fit` learns "
                    "from the marks. --next lists the unreviewed files whose scores are nearest the "
                    "threshold: marking those teaches a policy most.")
    marks = parser.add_mutually_exclusive_group(required=True)
    marks.add_argument("--nsfw", nargs="+", metavar="PATH", help="mark these files as NSFW")
    marks.add_argument("--safe", nargs="+", metavar="PATH", help="mark these files as safe")
    marks.add_argument("--clear", nargs="+", metavar="PATH", help="remove the marks of these files")
    marks.add_argument("--next", type=positive_int, metavar="N",
                       help="list the N unreviewed files nearest the threshold")
    parser.add_argument("--threshold", type=threshold, default=0.5,
                        help="with --next: the decision line (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="with --next: one JSON object per file")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.next:
        return _list_next(args)
    review, paths = next((kind, paths) for kind, paths in
                         (("nsfw", args.nsfw), ("safe", args.safe), (None, args.clear)) if paths)
    paths = [os.path.abspath(path) for path in paths]
    with open_store(args) as store:
        names = StoredNames(store.results())
        stored = {path: path if store.get(path) is not None else names.find(path) for path in paths}
        known = [found for found in stored.values() if found is not None]
        store.set_review(known, review)
    for path, found in stored.items():
        if found is None:
            print(f"warning: {display_path(path)} is not in the results database: scan it first "
                  "(nsfw-desktop scan), then review it", file=sys.stderr)
    verb = f"marked {review}" if review else "cleared"
    print(f"{len(known)} file(s) {verb}", file=sys.stderr)
    if not known:
        raise CliError("none of the given files is in the results database")
    return 0


def _list_next(args) -> int:
    from nsfw_desktop.learn.policy import review_next

    with open_store(args, read_only=True) as store:
        results = review_next(store, args.threshold, args.next)
    for r in results:
        if args.json:
            print(json.dumps({**path_fields(r.path), "nsfw_score": r.nsfw_score,
                              "policy_score": r.policy_score}))
        else:
            policy = "" if r.policy_score is None else f"\tpolicy {r.policy_score:.4f}"
            print(f"{r.nsfw_score:.4f}{policy}\t{display_path(r.path)}")
    return 0
