"""Options and set-up shared by several sub-commands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nsfw_desktop.classify import DEFAULT_PRECISION, DEFAULT_UNSAFE_LABELS, PRECISIONS, Classifier, ModelSpec
from nsfw_desktop.classify.model_source import DEFAULT_MODEL, ModelError
from nsfw_desktop.files.displaypath import display_path, path_fields


class CliError(Exception):
    """A fatal error: printed as one line, exit status 1, no traceback."""


def threshold(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"threshold must be between 0 and 1, not {text}")
    return value


def share(text: str) -> float:
    """A share between 0 and 1 (a target recall or false-positive rate); argparse names the option."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share between 0 and 1 (0.95 for 95%), not {text}")
    return value


def add_threshold_option(parser: argparse.ArgumentParser) -> None:
    """--threshold, whose default is the model's recommended threshold (see ``resolve_threshold``)."""
    parser.add_argument("--threshold", type=threshold, default=None,
                        help="NSFW score from which a file is flagged (default: the model's "
                             "recommended threshold, see `models list --available`; 0.5 for a "
                             "model not listed there)")


def resolve_threshold(args: argparse.Namespace) -> float:
    """``--threshold``, or the recommended threshold of ``--model``; stored back into ``args``."""
    from nsfw_desktop.classify.catalogue import recommended_threshold

    if args.threshold is None:
        args.threshold = recommended_threshold(None if getattr(args, "endpoint", None) else args.model)
    return args.threshold


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def add_model_options(parser: argparse.ArgumentParser, *, remote: bool = True,
                      precision: bool = False) -> None:
    """--model, --device, --unsafe-labels, with ``precision`` --precision, and with ``remote``
    --endpoint and --token."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", default=None, metavar="M",
                       help=f"local model folder (a transformers checkpoint, or model.onnx with its "
                            f"config.json and preprocessor_config.json), Hugging Face repo "
                            f"id[@revision], or open-nsfw (Yahoo open_nsfw, installed with the app) "
                            f"(default: {DEFAULT_MODEL} at a pinned revision; see `models list "
                            f"--available`)")
    group.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    if precision:
        group.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISIONS,
                           help="exact: fp32, the reference scores; balanced: bf16 where the CPU "
                                "has it natively (AVX-512 BF16 or AMX) or fp16 on a CUDA GPU, "
                                "2-3x faster, scores within about 0.02 of exact; fast: the model "
                                "exported to ONNX and quantized to int8 on this computer (built "
                                "once, then cached), 3-4x faster, scores within about 0.07, "
                                "embeddings (the last layer's CLS token) but no heatmaps "
                                "(default: %(default)s)")
    group.add_argument("--unsafe-labels", default=",".join(DEFAULT_UNSAFE_LABELS), metavar="L,L",
                       help="labels whose probabilities add up to the NSFW score "
                            "(case-insensitive; default: %(default)s)")
    if remote:
        group.add_argument("--endpoint", action="append", default=[], metavar="URL",
                           help="classify through this Hugging Face Inference Endpoint or "
                                "'nsfw-desktop serve' URL instead of a local model; repeat it to "
                                "share the work between several")
        group.add_argument("--token", default=None, metavar="T",
                           help="access token for the endpoints (default: the HF_TOKEN environment "
                                "variable, which other users of this computer cannot see)")


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, metavar="F",
                        help="results database (default: in the app's data folder)")


def build_classifier(args: argparse.Namespace, *, load: bool = True, fallback: bool = True) -> Classifier:
    """The classifier the options ask for, checked (and loaded), or CliError.

    ``load=False`` leaves the weights for the engine to load only if a file
    needs classifying, so an unchanged rescan never pays for it. Without --model
    or --endpoint, when the default model is not here and cannot be downloaded
    (offline), open-nsfw, installed with the app, is used instead and the user
    told so (``fallback``); an explicit --model never falls back."""
    from nsfw_desktop.classify.model_source import DEFAULT_MODEL, OPEN_NSFW, ModelUnavailable

    endpoints = getattr(args, "endpoint", None) or []
    if endpoints and args.model:
        raise CliError("give either --model or --endpoint, not both")
    try:
        try:
            classifier = _make(args)
        except ModelUnavailable as exc:
            if not fallback or args.model or endpoints:
                raise
            _note(f"{exc.problem} Using open-nsfw instead, installed with the app (works offline); "
                  f"`nsfw-desktop models pull` fetches {DEFAULT_MODEL}, --model chooses another.")
            args.model = OPEN_NSFW
            classifier = _make(args)
        if load:
            classifier.load()
    except ModelError as exc:
        raise CliError(str(exc)) from None
    return classifier


def model_spec(args: argparse.Namespace) -> ModelSpec:
    """The ``ModelSpec`` the model options ask for (``add_model_options``): every command
    builds its model here."""
    from nsfw_desktop.classify.catalogue import recommended_threshold

    model = args.model
    threshold = getattr(args, "threshold", None)
    return ModelSpec(model, endpoints=tuple(getattr(args, "endpoint", None) or ()),
                     token=getattr(args, "token", None), device=args.device,
                     precision=getattr(args, "precision", DEFAULT_PRECISION),
                     unsafe_labels=tuple(args.unsafe_labels.split(",")),
                     threshold=recommended_threshold(model) if threshold is None else threshold)


def _make(args: argparse.Namespace) -> Classifier:
    from nsfw_desktop.classify import make_classifier
    from nsfw_desktop.scan.agreement import measurer

    db = getattr(args, "db", None)
    return make_classifier(model_spec(args), notify=_note,
                           measure_agreement=measurer(Path(db) if db else None))


def _note(message: str) -> None:
    """What the classifier tells the user (a fast model being built, a fallback to fp32)."""
    print(f"note: {message}", file=sys.stderr, flush=True)


@contextmanager
def open_store(args: argparse.Namespace, *, read_only: bool = False) -> Iterator:
    """The results database of ``--db`` (or the default one), as a context. A StoreError, on
    opening or inside the ``with`` block, becomes a CliError: one line, exit status 1."""
    from nsfw_desktop.files.paths import default_db_path
    from nsfw_desktop.store.results import Store, StoreError

    try:
        with Store(args.db or default_db_path(), read_only=read_only) as store:
            yield store
    except StoreError as exc:
        raise CliError(str(exc)) from None


def export_csv(args: argparse.Namespace, store) -> None:
    """Write ``--csv`` from ``store``: the flagged files (``--threshold``), or all with ``--all``.
    A CSV that cannot be written is a CliError."""
    from nsfw_desktop.store.export import describe, select, write_csv

    try:
        rows = write_csv(args.csv, select(store.results(), args.threshold, everything=args.all))
    except OSError as exc:
        raise CliError(f"cannot write {describe(args.csv)}: {exc.strerror or exc}. Choose another "
                       "file with --csv.") from None
    print(f"Wrote {rows} rows to {describe(args.csv)}", file=sys.stderr)


def json_line(path: str, label: str | None, score: float | None, error: str | None,
              policy_score: float | None = None, *, kind: str | None = None,
              duration: float | None = None, worst_frame_time: float | None = None) -> str:
    """One result as a JSON object: path (and path_bytes when the name is not valid UTF-8),
    label, nsfw_score (the model's), policy_score (the personal policy's, or null), error,
    kind ('image' or 'video', null when the file could not be opened), duration and
    worst_frame_time (seconds; null for pictures)."""
    return json.dumps({**path_fields(path), "label": label, "nsfw_score": score,
                       "policy_score": policy_score,
                       "error": None if error is None else display_path(error), "kind": kind,
                       "duration": duration, "worst_frame_time": worst_frame_time})


def result_json(result) -> str:
    """json_line for a stored or classified Result."""
    return json_line(result.path, result.label, result.nsfw_score, result.error, result.policy_score,
                     kind=result.kind, duration=result.duration,
                     worst_frame_time=result.worst_frame_time)
