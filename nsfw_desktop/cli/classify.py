"""``nsfw-desktop classify``: label and score images, no database."""

from __future__ import annotations

from nsfw_desktop.cli.common import add_model_options, build_classifier, json_line, positive_int, result_json
from nsfw_desktop.displaypath import display_path
from nsfw_desktop.prepare import DEFAULT_BATCH_SIZE, DecodeOptions


def register(subparsers) -> None:
    parser = subparsers.add_parser("classify", help="print label and NSFW score of images and videos",
                                   description="Classify images and videos (on frames sampled over "
                                               "the whole film) and print the results; "
                                               "nothing is stored.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    add_model_options(parser)
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: path (and path_bytes for a name that "
                             "is not UTF-8), label, nsfw_score, error, kind, duration, "
                             "worst_frame_time")
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.pipeline import classify_entries, entries_for_paths

    classifier = build_classifier(args)
    readable = []
    for item in entries_for_paths(args.images):
        if isinstance(item, tuple):
            if args.json:
                print(json_line(item[0], None, None, item[1]), flush=True)
            else:
                print(f"{display_path(item[0])}\terror: {display_path(item[1])}", flush=True)
        else:
            readable.append(item)
    for results in classify_entries(readable, classifier, DecodeOptions(batch_size=args.batch_size)):
        for r in results:
            _print(args, r)
    return 0


def _print(args, result) -> None:
    if args.json:
        print(result_json(result), flush=True)
    elif result.error:
        print(f"{display_path(result.path)}\terror: {display_path(result.error)}", flush=True)
    else:
        worst = (f"\tat {result.worst_frame_time:.1f} s of {result.duration:.1f} s"
                 if result.worst_frame_time is not None else "")
        print(f"{display_path(result.path)}\t{result.label}\t{result.nsfw_score:.4f}{worst}", flush=True)
