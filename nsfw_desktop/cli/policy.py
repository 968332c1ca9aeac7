"""``nsfw-desktop policy fit|show|reset``: a personal policy learnt from review marks."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.cli.common import (
    CliError,
    add_db_option,
    add_model_options,
    build_classifier,
    open_store,
    threshold,
)
from nsfw_desktop.files.displaypath import display_path


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "policy", help="learn your own line from your review marks",
        description="Fit a personal policy on the review marks (logistic regression on the stored "
                    "embeddings and the model's score), compare it with the model on held-out marks, "
                    "and adopt it only when it decides them better. An adopted policy scores every "
                    "stored file of its model from the stored embeddings, and every new one as it is "
                    "classified; flagged files follow it. A review mark always wins.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    fit = actions.add_parser("fit", help="fit a policy on the review marks; adopt it if better")
    fit.add_argument("--threshold", type=threshold, default=0.5,
                     help="the threshold both are compared at (default: %(default)s)")
    fit.add_argument("--no-fill", action="store_true",
                     help="do not fill in the missing embeddings of reviewed files (which classifies "
                          "those files again); fit on the marks that have one")
    fit.set_defaults(func=run_fit)
    show = actions.add_parser("show", help="print the adopted policy's figures (without --model: "
                                           "every adopted policy, read from the database alone)")
    show.set_defaults(func=run_show)
    reset = actions.add_parser("reset", help="forget the policy: back to the model's scores")
    reset.set_defaults(func=run_reset)
    for action in (fit, show, reset):
        add_model_options(action, remote=False)
        add_db_option(action)
        action.add_argument("--json", action="store_true", help="print one JSON object")


def run_fit(args) -> int:
    from nsfw_desktop.learn.policy import fit_policy, reviewed_without_embedding

    classifier = build_classifier(args, load=False)
    model = classifier.model_id
    with open_store(args) as store:
        missing = reviewed_without_embedding(store, model)
        if missing and args.no_fill:
            print(f"{len(missing)} reviewed file(s) have no stored embedding of {display_path(model)} "
                  "and are left out; run without --no-fill to fill them in (the model classifies "
                  "each of them again).", file=sys.stderr)
        elif missing:
            _fill(store, classifier, missing)
        previous = store.policy(model)
        outcome = fit_policy(store, model, threshold=args.threshold)
        without = store.count() - store.embedding_count(model)
    if args.json:
        print(json.dumps({"model": model, "adopted": outcome.adopted, "reasons": outcome.reasons,
                          "more_marks_needed": outcome.more_marks_needed, "rescored": outcome.rescored,
                          "comparison": outcome.comparison.as_dict() if outcome.comparison else None}))
        return 0
    if outcome.comparison is not None:
        _print_comparison(outcome.comparison.as_dict())
    if outcome.adopted:
        assert outcome.policy is not None, "an adopted outcome carries its policy"
        print(f"Adopted: {outcome.rescored} stored file(s) rescored from their embeddings "
              f"(fitted in {outcome.policy.fit_seconds:.1f} s).")
        if without:
            print(f"{without} stored file(s) have no embedding of this model and keep the model's "
                  "score: scan them with --embeddings to give them a policy score.")
        return 0
    print("Not adopted: " + "; ".join(outcome.reasons) + ".")
    if previous is not None:
        print(f"The policy fitted on {_when(previous.fitted_at)} stays in use; "
              "`nsfw-desktop policy reset` returns to the model's scores.")
    return 0


def _fill(store, classifier, paths: list[str]) -> None:
    from tqdm import tqdm

    from nsfw_desktop.learn.policy import fill_embeddings

    print(f"{len(paths)} reviewed file(s) have no stored embedding of {display_path(classifier.model_id)}: "
          "filling them in, which classifies each of them once more.", file=sys.stderr)
    started = time.monotonic()
    try:
        with tqdm(total=len(paths), unit="img", file=sys.stderr, desc="Embeddings",
                  dynamic_ncols=True) as bar:
            for batch in fill_embeddings(store, classifier, paths):
                if isinstance(batch, tuple):
                    bar.write(f"warning: {display_path(batch[0])}: {batch[1]}", file=sys.stderr)
                    bar.update(1)
                    continue
                for result in batch:
                    if result.error:
                        bar.write(f"warning: {display_path(result.path)}: {result.error}", file=sys.stderr)
                bar.update(len(batch))
    except ModelError as exc:
        raise CliError(f"cannot fill in the embeddings: {exc}") from None
    print(f"Filled in {len(paths)} embedding(s) in {time.monotonic() - started:.1f} s.", file=sys.stderr)


def run_show(args) -> int:
    """The policy of --model; without --model, every adopted policy, read from the database
    alone (no model is looked for, so nothing is downloaded)."""
    with open_store(args, read_only=True) as store:
        models = store.policy_models() if args.model is None else [
            build_classifier(args, load=False).model_id]
        policies = {model: store.policy(model) for model in models}
        if any(model in store.damaged_policies for model in models):
            return 1  # the store said why, and what to do, in one line
    if args.json:
        for model, policy in policies.items():
            print(json.dumps(None if policy is None else {
                "model": model, "fitted_at": policy.fitted_at, "fit_seconds": policy.fit_seconds,
                "comparison": policy.figures}))
        return 0
    if not any(policies.values()):
        subject = "any model" if args.model is None else display_path(models[0])
        print(f"No policy for {subject}: flagged files follow the model's scores. "
              "`nsfw-desktop policy fit` learns one from your review marks.")
        return 0
    for model, policy in policies.items():
        print(f"Policy for {display_path(model)}, fitted on {_when(policy.fitted_at)} "
              f"in {policy.fit_seconds:.1f} s")
        _print_comparison(policy.figures)
    return 0


def run_reset(args) -> int:
    model = build_classifier(args, load=False).model_id
    with open_store(args) as store:
        removed = store.reset_policy(model)
    if args.json:
        print(json.dumps({"model": model, "removed": removed}))
    elif removed:
        print(f"Policy for {display_path(model)} removed: flagged files follow the model's scores again.")
    else:
        print(f"There was no policy for {display_path(model)}.")
    return 0


def _print_comparison(figures: dict) -> None:
    print(f"Held-out marks: {figures['nsfw_marks']} nsfw, {figures['safe_marks']} safe "
          f"({figures['folds']}-fold cross-validation), threshold {figures['threshold']:g}")
    print("                        policy    model")
    for key, title in (("accuracy", "accuracy"), ("balanced_accuracy", "balanced accuracy"),
                       ("false_positive_rate", "false-positive rate"), ("recall", "recall"),
                       ("roc_auc", "ROC AUC")):
        print(f"  {title:<20}  {figures['policy'][key]:6.3f}   {figures['model'][key]:6.3f}")


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds).astimezone().isoformat(timespec="seconds")
