"""``nsfw-desktop classify``: label and score images, no database."""

from __future__ import annotations

from nsfw_desktop.cli.common import add_model_options, build_classifier, json_line, positive_int
from nsfw_desktop.displaypath import display_path
from nsfw_desktop.prepare import DEFAULT_BATCH_SIZE, DecodeOptions


def register(subparsers) -> None:
    parser = subparsers.add_parser("classify", help="print label and NSFW score of images",
                                   description="Classify images and print the results; "
                                               "nothing is stored.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    add_model_options(parser, precision=True)
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: path (and path_bytes for a name that "
                             "is not UTF-8), label, nsfw_score, error")
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.pipeline import classify_entries, entries_for_paths

    classifier = build_classifier(args)
    readable = []
    for item in entries_for_paths(args.images):
        if isinstance(item, tuple):
            _print(args, item[0], None, None, item[1])
        else:
            readable.append(item)
    for results in classify_entries(readable, classifier, DecodeOptions(batch_size=args.batch_size)):
        for r in results:
            _print(args, r.path, r.label, r.nsfw_score, r.error)
    return 0


def _print(args, path: str, label: str | None, score: float | None, error: str | None) -> None:
    if args.json:
        print(json_line(path, label, score, error), flush=True)
    elif error:
        print(f"{display_path(path)}\terror: {display_path(error)}", flush=True)
    else:
        print(f"{display_path(path)}\t{label}\t{score:.4f}", flush=True)
