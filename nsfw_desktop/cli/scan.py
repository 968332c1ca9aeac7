"""``nsfw-desktop scan``: screen folders and keep the results."""

from __future__ import annotations

import json
import os
import sys

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.cli.cluster_options import add_ray_options, connect
from nsfw_desktop.cli.common import (
    CliError,
    add_db_option,
    add_model_options,
    add_threshold_option,
    build_classifier,
    export_csv,
    model_spec,
    open_store,
    positive_int,
    resolve_threshold,
    result_json,
)
from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.scan.engine import BatchDone, ScanFinished, ScanStarted
from nsfw_desktop.scan.types import DEFAULT_BATCH_SIZE, DecodeOptions, ScanPolicy


def register(subparsers) -> None:
    parser = subparsers.add_parser("scan", help="screen folders and store the results",
                                   description="Screen folders (recursively) for NSFW images. "
                                               "Unchanged files are not classified again.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="folders or files to screen")
    add_model_options(parser, precision=True)
    add_threshold_option(parser)
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE,
                        help="images per forward pass (default: %(default)s)")
    parser.add_argument("--workers", type=positive_int, default=2,
                        help="decoding threads (default: %(default)s)")
    parser.add_argument("--no-recursive", action="store_true", help="do not descend into folders")
    parser.add_argument("--include-hidden", action="store_true",
                        help="also screen hidden folders and files")
    parser.add_argument("--embeddings", action="store_true",
                        help="also store each image's embedding, for `nsfw-desktop similar`")
    parser.add_argument("--retry-errors", action="store_true",
                        help="classify again the files stored as errors (say, after an endpoint "
                             "was down); otherwise only new and changed files are classified")
    cluster = add_ray_options(parser, role="worker", ray_help=(
        "classify on a Ray cluster, after the paths; the walk and the database stay here, the "
        "workers read the files from the same paths"))
    cluster.add_argument("--ray-workers", type=positive_int, default=1, metavar="N",
                         help="Ray workers, each with its own copy of the model (default: %(default)s)")
    cluster.add_argument("--ray-ship-bytes", action="store_true",
                         help="send the files' contents from this computer, for workers that do "
                              "not see the same paths")
    add_db_option(parser)
    parser.add_argument("--csv", metavar="FILE", help="also export flagged files to this CSV")
    parser.add_argument("--all", action="store_true", help="with --csv: export every file")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per classified file, then the summary")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from nsfw_desktop.scan.engine import scan

    classifier = build_classifier(args, load=False)  # first: it may fall back to open-nsfw
    resolve_threshold(args)
    policy = ScanPolicy(recursive=not args.no_recursive, include_hidden=args.include_hidden,
                        embeddings=args.embeddings, retry_errors=args.retry_errors)
    options = DecodeOptions(batch_size=args.batch_size, decode_workers=args.workers)
    classify = _ray_classify(args) if args.ray is not None else None
    bar = None
    summary = None
    with open_store(args) as store:
        try:
            for event in scan(args.paths, classifier, store, policy=policy, options=options,
                              threshold=args.threshold, classify=classify):
                if isinstance(event, ScanStarted):
                    for problem in event.problems:
                        print(f"warning: {display_path(problem)}", file=sys.stderr)
                    bar = tqdm(total=event.to_classify, unit="img", file=sys.stderr,
                               desc="Screening", dynamic_ncols=True,
                               disable=True if event.to_classify == 0 else None)
                elif isinstance(event, BatchDone):
                    assert bar is not None, "a scan starts with ScanStarted"
                    for result in event.results:
                        if args.json:
                            bar.write(result_json(result), file=sys.stdout)
                        elif result.error:
                            bar.write(display_path(f"error: {result.path}: {result.error}"),
                                      file=sys.stderr)
                    bar.update(len(event.results))
                elif isinstance(event, ScanFinished):
                    summary = event.summary
        except ModelError as exc:
            raise CliError(str(exc)) from None
        finally:
            if bar is not None:
                bar.close()
        assert summary is not None, "a scan ends with ScanFinished"
        if summary.problems and summary.scanned + summary.unchanged == 0 and len(
                summary.problems) >= len(args.paths):
            raise CliError("none of the given paths could be read")
        if args.csv:
            export_csv(args, store)
    _print_summary(summary, args)
    return 0


def _ray_classify(args):
    """The classifying step on the Ray cluster of ``--ray``: the one place a scan picks Ray."""
    from nsfw_desktop.cluster.batch import RayOptions, ray_classify

    if args.endpoint:
        raise CliError("give either --ray or --endpoint, not both")
    if args.ray and os.path.exists(args.ray):
        raise CliError(f"--ray took {display_path(args.ray)} for the cluster's address: put --ray "
                       "after the paths, or write --ray=ADDRESS")
    connect(args)
    return ray_classify(model_spec(args), RayOptions(concurrency=args.ray_workers, num_cpus=args.ray_cpus,
                                         num_gpus=args.ray_gpus, ship_bytes=args.ray_ship_bytes))


def _print_summary(summary, args) -> None:
    figures = {
        "scanned": summary.scanned,
        "unchanged": summary.unchanged,
        "flagged": summary.flagged,
        "errors": summary.errors,
        "pruned": summary.pruned,
        "missing": summary.missing,
        "images_per_second": round(summary.images_per_second, 2),
        "seconds": round(summary.seconds, 2),
        "threshold": args.threshold,
    }
    if args.json:
        print(json.dumps({"summary": figures}))
        return
    print(f"scanned:   {summary.scanned}")
    print(f"unchanged: {summary.unchanged}")
    print(f"flagged:   {summary.flagged} (score >= {args.threshold}, or reviewed nsfw)")
    print(f"errors:    {summary.errors}")
    if summary.pruned:
        print(f"pruned:    {summary.pruned} (files gone since the last scan)")
    if summary.missing:
        print(f"missing:   {summary.missing} (reviewed files not found; kept with their review marks)")
    print(f"files/s:   {summary.images_per_second:.2f} (photos and videos classified per second)")
