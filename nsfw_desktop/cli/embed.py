"""``nsfw-desktop embed``: write the embeddings of images to a NumPy .npz file."""

from __future__ import annotations

import sys
from pathlib import Path

from nsfw_desktop.cli.common import CliError, add_model_options, build_classifier, positive_int
from nsfw_desktop.files import atomic
from nsfw_desktop.scan.types import DEFAULT_BATCH_SIZE


def register(subparsers) -> None:
    from nsfw_desktop.classify.features import POOLS

    parser = subparsers.add_parser(
        "embed", help="write image embeddings to an .npz file",
        description="Compute the embedding of every image under the given paths and write them "
                    "to an .npz file: paths, embeddings (float32, one row per image), model, "
                    "layer and pool.")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="images or folders (recursive)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the .npz file to write")
    parser.add_argument("--layer", type=int, default=-1, metavar="N",
                        help="hidden state to take: 0 is the patch embeddings, 1..L the outputs "
                             "of the layers, -1 the last (default)")
    parser.add_argument("--pool", choices=POOLS, default="cls",
                        help="the CLS token, or the mean of the patch tokens (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    add_model_options(parser, remote=False)
    parser.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from nsfw_desktop.classify.embedding import EmbeddingClassifier
    from nsfw_desktop.classify.model_source import ModelError
    from nsfw_desktop.scan.pipeline import classify_entries
    from nsfw_desktop.scan.types import DecodeOptions
    from nsfw_desktop.scan.walker import WalkReport, walk

    classifier = build_classifier(args)
    try:
        embedder = EmbeddingClassifier(classifier, layer=args.layer, pool=args.pool)
        embedder.load()
    except (ModelError, ValueError) as exc:
        raise CliError(str(exc)) from None
    layer = embedder.layer
    report = WalkReport()
    entries = list(walk(args.paths, report))
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    paths, vectors = [], []
    for results in classify_entries(entries, embedder, DecodeOptions(batch_size=args.batch_size)):
        for result in results:
            if result.error:
                print(f"error: {result.path}: {result.error}", file=sys.stderr)
            else:
                paths.append(result.path)
                vectors.append(result.embedding)
    if not vectors:
        raise CliError("no image could be read, nothing written")
    embeddings = np.stack(vectors).astype(np.float32)  # (N, D)
    _save_npz(Path(args.out), paths=np.array(paths, dtype=str), embeddings=embeddings,
              model=np.array(classifier.model_id), layer=np.array(layer), pool=np.array(args.pool))
    print(f"Wrote {len(paths)} embeddings ({embeddings.shape[1]} dimensions, layer {layer}, "
          f"{args.pool}) to {args.out}", file=sys.stderr)
    return 0


def _save_npz(target: Path, **arrays) -> None:
    """Write the .npz next to its target, then rename: a reader never sees half a file."""
    import numpy as np

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic.replaced(target) as stream:
            np.savez(stream, **arrays)
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
