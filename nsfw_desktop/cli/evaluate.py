"""``nsfw-desktop evaluate``: how well models separate labelled photos, in figures and plots."""

from __future__ import annotations

import argparse
import json
import sys

from nsfw_desktop.classify import DEFAULT_UNSAFE_LABELS
from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.cli.common import (
    CliError,
    add_db_option,
    model_spec,
    open_store,
    positive_int,
    share,
    threshold,
)
from nsfw_desktop.files.displaypath import display_path
from nsfw_desktop.scan.types import DEFAULT_BATCH_SIZE, DecodeOptions


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure models on labelled photos",
        description="Score labelled photos with one or more models and print, per model: files per "
                    "class, ROC AUC and average precision with bootstrap 95% intervals, the "
                    "confusion matrix, recall and false-positive rate at the threshold, the threshold "
                    "for a target, and calibration. LABELLED is a folder with one sub-folder per label "
                    "(nsfw/, normal/...; a sub-folder named like an unsafe label counts as unsafe) or "
                    "a CSV of path,label rows. Scores are kept in the results database: evaluating "
                    "the same files with the same model again classifies nothing.")
    parser.add_argument("labelled", nargs="?", metavar="LABELLED")
    parser.add_argument("--from-reviews", action="store_true",
                        help="use the review marks in the results database instead of LABELLED")
    parser.add_argument("--model", action="append", default=[], metavar="M",
                        help="model folder, Hugging Face repo id[@revision] or open-nsfw; repeat to compare "
                             "several on the same files (default: the default model)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--unsafe-labels", default=",".join(DEFAULT_UNSAFE_LABELS), metavar="L,L",
                        help="labels (model outputs and sub-folder names) that count as unsafe "
                             "(default: %(default)s)")
    parser.add_argument("--threshold", type=threshold, default=0.5,
                        help="NSFW score from which a photo is flagged (default: %(default)s)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--target-recall", type=share, metavar="R",
                        help="also print the threshold that flags this share of the unsafe photos")
    target.add_argument("--target-fpr", type=share, metavar="F",
                        help="also print the threshold whose false-positive rate stays within F")
    parser.add_argument("--plots", metavar="DIR", help="write ROC, precision-recall and score "
                                                        "histogram PNGs per model into DIR")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    add_db_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.learn.labelled import LabelledError, from_reviews, read_labelled

    if bool(args.labelled) == args.from_reviews:
        raise CliError("give either LABELLED (a folder or CSV) or --from-reviews")
    unsafe_labels = args.unsafe_labels.split(",")
    problems: list[str] = []  # met reading the labelled files
    with open_store(args) as store:
        if args.from_reviews:
            items = from_reviews(store)
        else:
            try:
                items, problems = read_labelled(args.labelled, unsafe_labels)
            except LabelledError as exc:
                raise CliError(str(exc)) from None
        for problem in problems:
            print(f"warning: {display_path(problem)}", file=sys.stderr)
        if not items:
            raise CliError("there are no reviewed files to evaluate on: mark some with "
                           "`nsfw-desktop review`" if args.from_reviews else
                           f"no images found under {args.labelled}")
        for model in args.model or [None]:
            try:
                # one --model of several: the spec of these options with that one
                classifier = make_classifier(model_spec(argparse.Namespace(**{**vars(args), "model": model})))
            except ModelError as exc:
                raise CliError(str(exc)) from None
            _evaluate_one(args, store, items, classifier)
    return 0


def _evaluate_one(args, store, items, classifier) -> None:
    from tqdm import tqdm

    from nsfw_desktop.learn.evaluation import evaluate
    from nsfw_desktop.learn.labelled import score_labelled

    with tqdm(total=len(items), unit="img", file=sys.stderr, desc=f"Scoring with {classifier.model_id}",
              dynamic_ncols=True, disable=args.json or None) as bar:
        try:
            scored = score_labelled(items, classifier, store, on_batch=bar.update,
                                    options=DecodeOptions(batch_size=args.batch_size))
        except ModelError as exc:
            raise CliError(str(exc)) from None
    for path, reason in scored.failed:
        print(f"warning: not scored: {display_path(path)}: {display_path(reason)}", file=sys.stderr)
    try:
        report = evaluate(scored.marks, scored.scores, args.threshold, target_recall=args.target_recall,
                          target_false_positive_rate=args.target_fpr)
    except ValueError as exc:
        raise CliError(f"{classifier.model_id}: {exc}") from None
    plots = []
    if args.plots:
        from nsfw_desktop.learn.evaluation_plots import write_plots

        try:
            plots = write_plots(args.plots, classifier.model_id, scored.marks, scored.scores,
                                args.threshold)
        except (ImportError, OSError) as exc:
            raise CliError(f"cannot write the plots into {args.plots}: {exc}") from None
    if args.json:
        print(json.dumps({"model": classifier.model_id, "classified": scored.classified,
                          "from_database": scored.from_database, "not_scored": len(scored.failed),
                          "plots": [str(p) for p in plots], **report.as_dict()}))
    else:
        _print_report(classifier.model_id, scored, report, plots)


def _print_report(model: str, scored, report, plots) -> None:
    t = report.at_threshold
    print(f"Model {display_path(model)}")
    print(f"  photos:             {report.unsafe} unsafe, {report.safe} safe"
          + (f" ({len(scored.failed)} could not be scored)" if scored.failed else ""))
    print(f"  classified now:     {scored.classified} ({scored.from_database} scores from the database)")
    print(f"  ROC AUC:            {report.roc_auc:.3f} (95% interval {_interval(report.roc_auc_interval)})")
    print(f"  average precision:  {report.average_precision:.3f} "
          f"(95% interval {_interval(report.average_precision_interval)})")
    print(f"  at threshold {t.threshold:g}:   {_rates(t)}")
    print("  confusion matrix:   flagged  not flagged")
    print(f"    unsafe photos     {t.true_positives:7d}  {t.false_negatives:11d}")
    print(f"    safe photos       {t.false_positives:7d}  {t.true_negatives:11d}")
    if report.target is not None:
        print(f"  for {report.target}: threshold {report.target_threshold:.4f}: {_rates(report.at_target)}")
    print(f"  calibration:        expected calibration error {report.expected_calibration_error:.3f}")
    for path in plots:
        print(f"  plot:               {display_path(str(path))}")


def _rates(t) -> str:
    return (f"recall {_share(t.recall)}, false-positive rate {_share(t.false_positive_rate)}, "
            f"accuracy {t.accuracy:.3f}")


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(bounds: tuple[float, float]) -> str:
    return f"{bounds[0]:.3f}-{bounds[1]:.3f}"
