"""``nsfw-desktop serve``: answer Hugging Face image-classification requests with a local model."""

from __future__ import annotations

import os
import sys

from nsfw_desktop.cli.common import CliError, add_model_options, build_classifier, positive_int
from nsfw_desktop.logs import hide_secret

API_KEY_VARIABLE = "NSFW_DESKTOP_API_KEY"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="classify images sent over HTTP (Hugging Face Inference Endpoint contract)",
        description="Serve the model over HTTP with the Hugging Face image-classification contract: "
                    "POST / or /predict with image bytes, or JSON {\"inputs\": base64, "
                    "\"parameters\": {...}}; GET /health and /metrics. Other computers can then scan "
                    "with --endpoint http://HOST:PORT. SIGTERM finishes the requests in flight, "
                    "then exits.")
    add_model_options(parser, remote=False)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: %(default)s, this computer only; "
                             "0.0.0.0 for the whole network, with an API key)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=None, metavar="KEY",
                        help=f"require 'Authorization: Bearer KEY' (default: the {API_KEY_VARIABLE} "
                             "environment variable; none: open to anyone who can connect)")
    parser.add_argument("--max-batch", type=positive_int, default=8, help="images per forward pass")
    parser.add_argument("--max-wait-ms", type=float, default=10.0,
                        help="how long a batch waits for more images (default: %(default)s)")
    parser.add_argument("--max-queue", type=positive_int, default=64,
                        help="requests accepted at once; more are answered 429 (default: %(default)s)")
    parser.add_argument("--max-body-mb", type=positive_int, default=32,
                        help="largest request body in MiB; larger ones get 413 (default: %(default)s)")
    parser.add_argument("--body-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="time for a whole request body to arrive; slower uploads get 408 "
                             "(default: %(default)s)")
    parser.add_argument("--decode-workers", type=positive_int, default=2)
    parser.add_argument("--shutdown-timeout", type=float, default=30.0,
                        help="seconds SIGTERM waits for requests in flight (default: %(default)s)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from aiohttp import web

    from nsfw_desktop.classify.local import LocalClassifier
    from nsfw_desktop.server import InferenceService, ServerConfig, create_app

    if args.max_wait_ms < 0:
        raise CliError("--max-wait-ms cannot be negative")
    if args.body_timeout <= 0:
        raise CliError("--body-timeout must be more than 0 seconds")
    config = ServerConfig(
        max_batch=args.max_batch, max_wait=args.max_wait_ms / 1000, max_queue=args.max_queue,
        max_body=args.max_body_mb * 2**20, body_timeout=args.body_timeout,
        decode_workers=args.decode_workers,
        api_key=args.api_key or os.environ.get(API_KEY_VARIABLE) or None,
    )
    if config.api_key:
        hide_secret(config.api_key)  # whatever logs it (a traceback, a library) writes [hidden]
    classifier = build_classifier(args)
    assert isinstance(classifier, LocalClassifier), "serve builds without --endpoint"
    app = create_app(InferenceService(classifier, config))
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    started = (f"Serving {classifier.model_id} on {where} "
               f"({'API key required' if config.api_key else 'no API key'}); Ctrl+C or SIGTERM stops.")
    try:
        # aiohttp calls print once it listens: our line replaces its banner.
        web.run_app(app, host=args.host, port=args.port, shutdown_timeout=args.shutdown_timeout,
                    print=lambda _banner: print(started, file=sys.stderr, flush=True),
                    access_log=None)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print("Stopped.", file=sys.stderr)
    return 0
