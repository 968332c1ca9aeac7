"""``nsfw-desktop classify``: label and score images; nothing is stored."""

from __future__ import annotations

import sys
from pathlib import Path

from nsfw_desktop.cli.common import (
    add_db_option,
    add_model_options,
    build_classifier,
    json_line,
    positive_int,
    result_json,
)
from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.scan.types import DEFAULT_BATCH_SIZE, DecodeOptions


def register(subparsers) -> None:
    parser = subparsers.add_parser("classify", help="print label and NSFW score of images and videos",
                                   description="Classify images and videos (on frames sampled over "
                                               "the whole film) and print the results; nothing "
                                               "is stored. A personal policy adopted for the model "
                                               "in the results database (--db) gives its policy "
                                               "score too. Exit status 1 when a named file could "
                                               "not be classified (each is reported).")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    add_model_options(parser, precision=True)
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: path (and path_bytes for a name that "
                             "is not UTF-8), label, nsfw_score, policy_score, error, kind, duration, "
                             "worst_frame_time")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from nsfw_desktop.files.paths import default_db_path
    from nsfw_desktop.scan.pipeline import classify_entries, entries_for_paths
    from nsfw_desktop.store.linear_policy import DamagedPolicy

    classifier = build_classifier(args)
    policy = _adopted_policy(args, classifier.model_id)
    if policy is not None:
        from nsfw_desktop.classify.embedding import EmbeddingClassifier

        classifier = EmbeddingClassifier(classifier)  # the policy reads the embedding
    readable = []
    failed = False  # like cat: exit status 1 when a named file could not be classified
    for item in entries_for_paths(args.images):
        if isinstance(item, tuple):
            failed = True
            if args.json:
                print(json_line(item[0], None, None, item[1]), flush=True)
            else:
                print(f"{display_path(item[0])}\terror: {display_path(item[1])}", flush=True)
        else:
            readable.append(item)
    for results in classify_entries(readable, classifier, DecodeOptions(batch_size=args.batch_size)):
        scored = [r for r in results if r.embedding is not None and r.nsfw_score is not None]
        if policy is not None and scored:
            try:
                values = policy.scores(np.stack([r.embedding for r in scored]),
                                       [r.nsfw_score for r in scored])
            except DamagedPolicy as exc:  # weights for embeddings of another length
                print(f"{args.db or default_db_path()}: {exc}", file=sys.stderr)
                policy = None
            else:
                for r, value in zip(scored, values.tolist(), strict=True):
                    r.policy_score = value
        for r in results:
            failed = failed or r.error is not None
            _print(args, r)
    return 1 if failed else 0


def _adopted_policy(args, model: str):
    """The personal policy adopted for ``model`` in the results database, if there is one;
    nothing is created or written."""
    from nsfw_desktop.files.paths import default_db_path
    from nsfw_desktop.store.results import Store, StoreError

    path = Path(args.db) if args.db else default_db_path()
    if not path.is_file():
        return None
    try:
        with Store(path, read_only=True) as store:
            return store.policy(model)
    except StoreError as exc:
        print(f"warning: no personal policy applied: {exc}", file=sys.stderr)
        return None


def _print(args, result) -> None:
    if args.json:
        print(result_json(result), flush=True)
    elif result.error:
        print(f"{display_path(result.path)}\terror: {display_path(result.error)}", flush=True)
    else:
        worst = (f"\tat {result.worst_frame_time:.1f} s of {result.duration:.1f} s"
                 if result.worst_frame_time is not None else "")
        policy = "" if result.policy_score is None else f"\tpolicy {result.policy_score:.4f}"
        print(f"{display_path(result.path)}\t{result.label}\t{result.nsfw_score:.4f}{policy}{worst}",
              flush=True)
