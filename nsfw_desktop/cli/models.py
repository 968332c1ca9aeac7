"""``nsfw-desktop models pull|list``: manage downloaded models, list the known ones."""

from __future__ import annotations

from nsfw_desktop.classify.model_source import DEFAULT_MODEL, ModelError
from nsfw_desktop.cli.common import CliError


def register(subparsers) -> None:
    parser = subparsers.add_parser("models", help="download models or list the cached ones")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    pull = actions.add_parser("pull", help="download a model ahead of time")
    pull.add_argument("model", nargs="?", default=None, metavar="ID",
                      help=f"Hugging Face repo id[@revision] (default: {DEFAULT_MODEL})")
    pull.set_defaults(func=run_pull)
    listing = actions.add_parser("list", help="show the included model and those in the Hugging Face cache")
    listing.add_argument("--available", action="store_true",
                         help="show the models the app knows instead: architecture, size, licence, "
                              "where they come from, their recommended threshold, their speed "
                              "measured by scans on this computer, and how their fast version "
                              "agrees with exact once built")
    listing.set_defaults(func=run_list)


def run_pull(args) -> int:
    from nsfw_desktop.classify import model_source

    try:
        source = model_source.pull(args.model)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    print(f"{source.model_id} is ready in {source.folder}")
    return 0


def run_list(args) -> int:
    from nsfw_desktop.classify import model_source

    if args.available:
        return _print_catalogue()
    _print_included(model_source)
    models = model_source.list_cached()
    if not models:
        print("No models in the Hugging Face cache. Fetch one with `nsfw-desktop models pull`.")
    for model in models:
        usable = "" if model.has_safetensors else "  (no safetensors weights: not usable)"
        print(f"{model.repo_id}\t{', '.join(model.revisions)}\t"
              f"{model.size_bytes / 1e6:.0f} MB{usable}")
    return 0


def _print_included(model_source) -> None:
    """open-nsfw, installed with the app: always there, though in no cache."""
    try:
        source = model_source.open_nsfw()
    except ModelError as exc:
        print(f"{model_source.OPEN_NSFW}\tnot usable: {exc}")
        return
    size = sum(p.stat().st_size for p in source.folder.glob("*.onnx"))
    print(f"{model_source.OPEN_NSFW}\t{source.model_id.partition('@')[2]}\t{size / 1e6:.0f} MB"
          "  (installed with the app: works offline, --model open-nsfw)")


def _print_catalogue() -> int:
    from nsfw_desktop.classify import speeds
    from nsfw_desktop.classify.agreement import kept_agreement
    from nsfw_desktop.classify.catalogue import MODELS, is_example

    for entry in MODELS:
        print(entry.name)
        print(f"  architecture: {entry.architecture}")
        print(f"  size:         {entry.size}")
        print(f"  licence:      {entry.licence}")
        print(f"  source:       {entry.source}")
        print(f"  threshold:    {entry.threshold} ({entry.threshold_source})")
        if not is_example(entry):
            print(f"  speed:        {speeds.describe(entry.name, precisions=entry.precisions)}")
        agreement = None if is_example(entry) else kept_agreement(entry.name)
        if agreement is not None:
            print(f"  fast (int8):  {agreement.describe(entry.threshold)}")
        if entry.note:
            print(f"  note:         {entry.note}")
    return 0
