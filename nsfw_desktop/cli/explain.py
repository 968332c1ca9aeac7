"""``nsfw-desktop explain``: draw where the model looked, one PNG overlay per image."""

from __future__ import annotations

import argparse
from pathlib import Path

from nsfw_desktop.cli.common import CliError, add_model_options, build_classifier
from nsfw_desktop.files.displaypath import display_path


def opacity(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"opacity must be between 0 and 1, not {text}")
    return value


def register(subparsers) -> None:
    from nsfw_desktop.explain.heatmap import HEAD_FUSIONS, METHODS

    parser = subparsers.add_parser(
        "explain", help="write heatmap overlays of images",
        description="Classify images and write, for each, a PNG with where the model looked "
                    "drawn over the picture (red: most): a ViT's attention, open-nsfw's class "
                    "activation map; for a video, over its highest-scoring sampled frame, whose "
                    "time is printed last.")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--out", required=True, metavar="DIR", help="folder for the PNG overlays")
    parser.add_argument("--method", choices=METHODS, default="rollout",
                        help="attention rollout through all layers, or the last layer's CLS "
                             "attention (default: %(default)s; a ViT's only)")
    parser.add_argument("--head-fusion", choices=HEAD_FUSIONS, default="mean",
                        help="how the attention heads are combined (default: %(default)s)")
    parser.add_argument("--opacity", type=opacity, default=0.5,
                        help="heatmap opacity over the picture, 0..1 (default: %(default)s)")
    add_model_options(parser, remote=False)
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.classify.model_source import ModelError
    from nsfw_desktop.explain.heatmap import explain_file, load_for_heatmaps
    from nsfw_desktop.media.imaging import ImageError

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create the output folder {out}: {exc.strerror}") from None
    built = build_classifier(args)
    try:
        classifier = load_for_heatmaps(built)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    taken: set[str] = set()
    for path in args.images:
        try:
            explanation = explain_file(classifier, path, method=args.method,
                                       head_fusion=args.head_fusion, opacity=args.opacity)
        except ImageError as exc:
            print(display_path(f"{path}\terror: {exc}"), flush=True)
            continue
        target = _unique_name(out, path, taken)
        try:
            explanation.overlay.save(target, "PNG")
        except OSError as exc:
            raise CliError(f"cannot write {target}: {exc.strerror}") from None
        prediction = explanation.prediction
        at = "" if explanation.frame_time is None else f"\tat {explanation.frame_time:.1f} s"
        print(display_path(f"{path}\t{prediction.label}\t{prediction.nsfw_score:.4f}\t{target}{at}"),
              flush=True)
    return 0


def _unique_name(out: Path, path: str, taken: set[str]) -> Path:
    """OUT/<name>.heatmap.png; same-named images from different folders get -2, -3..."""
    stem = Path(path).stem
    name = f"{stem}.heatmap.png"
    number = 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}.heatmap.png"
    taken.add(name)
    return out / name
