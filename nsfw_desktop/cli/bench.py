"""``nsfw-desktop bench``: our scan pipeline against a naive transformers loop."""

from __future__ import annotations

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.cli.common import CliError, positive_int


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure scan throughput against a naive pipeline loop",
        description="Classify the images under PATH with our scan pipeline and with a naive "
                    "loop over transformers' pipeline('image-classification'), in alternating "
                    "rounds, and print images/s of each and the ratio. Nothing is stored.")
    parser.add_argument("path", metavar="PATH")
    parser.add_argument("--model", default=None, metavar="M")
    parser.add_argument("--batch-size", type=positive_int, default=8)
    parser.add_argument("--rounds", type=positive_int, default=3,
                        help="alternating rounds of each (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from nsfw_desktop.scan import benchmark as bench

    try:
        result = bench.run(args.path, args.model, batch_size=args.batch_size, rounds=args.rounds)
    except ModelError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    print(result.report())
    return 0
