"""``nsfw-desktop similar``: the stored images most like a given one."""

from __future__ import annotations

import json

from nsfw_desktop.cli.common import (
    CliError,
    add_db_option,
    add_model_options,
    build_classifier,
    positive_int,
)
from nsfw_desktop.files.displaypath import display_path, path_fields


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "similar", help="find stored images similar to an image",
        description="Rank the images of the results database by cosine similarity of their "
                    "embeddings to IMAGE: other copies and near-duplicates come first. Needs a "
                    "scan with --embeddings, by the same model and precision.")
    parser.add_argument("image", metavar="IMAGE")
    parser.add_argument("--top", type=positive_int, default=10, metavar="K",
                        help="how many images to list (default: %(default)s)")
    add_db_option(parser)
    add_model_options(parser, remote=False, precision=True)
    parser.add_argument("--json", action="store_true",
                        help="one JSON object per line: path (and path_bytes for a name that "
                             "is not UTF-8), similarity")
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.classify.model_source import ModelError
    from nsfw_desktop.files.paths import default_db_path
    from nsfw_desktop.media.imaging import ImageError
    from nsfw_desktop.similar.search import EmbeddingsError, find_similar

    # Not loaded: the model is needed only when the image has no stored embedding.
    classifier = build_classifier(args, load=False)
    try:
        matches = find_similar(args.db or default_db_path(), args.image, classifier, top_k=args.top)
    except (EmbeddingsError, ModelError) as exc:
        raise CliError(str(exc)) from None
    except ImageError as exc:
        raise CliError(f"{args.image}: {exc}") from None
    for match in matches:
        if args.json:
            print(json.dumps({**path_fields(match.path), "similarity": round(match.similarity, 6)}))
        else:
            print(f"{match.similarity:.4f}\t{display_path(match.path)}")
    return 0
