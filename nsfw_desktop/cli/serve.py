"""``nsfw-desktop serve``: answer Hugging Face image-classification requests with a local model."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
import threading

from nsfw_desktop.classify.model_source import DEFAULT_MODEL
from nsfw_desktop.cli.cluster_options import add_ray_options, connect
from nsfw_desktop.cli.common import CliError, add_model_options, build_classifier, model_spec, positive_int
from nsfw_desktop.files.logs import hide_secret

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
                             "0.0.0.0 for the whole network, which needs an API key or --no-auth)")
    parser.add_argument("--port", type=port, default=8080, help="1 to 65535 (default: %(default)s)")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--api-key-file", default=None, metavar="FILE",
                      help="require 'Authorization: Bearer KEY' with the KEY in FILE (its first line)")
    auth.add_argument("--api-key", default=None, metavar="KEY",
                      help=f"the same with KEY given here, where other users see it in the process list "
                           f"and it stays in the shell history: prefer --api-key-file or the "
                           f"{API_KEY_VARIABLE} environment variable, which is the default")
    auth.add_argument("--no-auth", action="store_true",
                      help="serve a --host other than loopback without an API key, on purpose: "
                           "anyone who can reach it can use it")
    parser.add_argument("--max-batch", type=positive_int, default=8, help="images per forward pass")
    parser.add_argument("--max-wait-ms", type=float, default=10.0,
                        help="how long a batch waits for more images (default: %(default)s)")
    parser.add_argument("--max-queue", type=positive_int, default=64,
                        help="requests accepted at once; more are answered 429 (default: %(default)s)")
    parser.add_argument("--max-body-mb", type=positive_int, default=32,
                        help="largest request body in MiB; larger ones get 413 (default: %(default)s)")
    parser.add_argument("--max-body-budget-mb", type=positive_int, default=256,
                        help="MiB of request bodies held at once; a request whose body would go past "
                             "it gets 429 before its body is read (default: %(default)s)")
    parser.add_argument("--body-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="time for a whole request body to arrive; slower uploads get 408 "
                             "(default: %(default)s)")
    parser.add_argument("--decode-workers", type=positive_int, default=2)
    parser.add_argument("--shutdown-timeout", type=float, default=30.0,
                        help="seconds SIGTERM waits for requests in flight (default: %(default)s)")
    cluster = add_ray_options(parser, role="replica", ray_help=(
        "serve with Ray Serve on a Ray cluster: replicas of the model on its nodes, behind Ray's "
        "HTTP proxy on --host and --port; --max-queue requests wait at the proxy"))
    scaling = cluster.add_mutually_exclusive_group()
    scaling.add_argument("--replicas", type=positive_int, default=1, metavar="N",
                         help="replicas of the model, each with its own copy (default: %(default)s)")
    scaling.add_argument("--autoscale", type=replica_range, default=None, metavar="MIN:MAX",
                         help="let Ray's autoscaler run between MIN and MAX replicas")
    cluster.add_argument("--max-ongoing", type=positive_int, default=None, metavar="N",
                         help="requests one replica holds at once (default: twice --max-batch)")
    cluster.add_argument("--retry-after", type=float, default=1.0, metavar="SECONDS",
                         help="the Retry-After of a 429 when the queue is full (default: %(default)s)")
    parser.set_defaults(func=run)


def port(text: str) -> int:
    """--port: checked before anything loads (a port over 65535 was an OverflowError at listening)."""
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535, not {text}")
    return value


def replica_range(text: str) -> tuple[int, int]:
    """MIN:MAX replicas for --autoscale."""
    low, colon, high = text.partition(":")
    if not (colon and low.isdigit() and high.isdigit() and int(low) <= int(high) and int(high) >= 1):
        raise argparse.ArgumentTypeError(f"give MIN:MAX replicas with MIN <= MAX and MAX >= 1 "
                                         f"(like 1:4), not {text!r}")
    return int(low), int(high)


def run(args) -> int:
    from aiohttp import web

    from nsfw_desktop.server import InferenceService, ServerConfig, create_app
    from nsfw_desktop.server.contract import SERVED

    if args.max_wait_ms < 0:
        raise CliError("--max-wait-ms cannot be negative")
    if args.body_timeout <= 0:
        raise CliError("--body-timeout must be more than 0 seconds")
    if args.max_body_mb > args.max_body_budget_mb:
        raise CliError(f"--max-body-mb ({args.max_body_mb}) cannot be more than --max-body-budget-mb "
                       f"({args.max_body_budget_mb}): a body that large could never be admitted")
    config = ServerConfig(
        max_batch=args.max_batch, max_wait=args.max_wait_ms / 1000, max_queue=args.max_queue,
        max_body=args.max_body_mb * 2**20, max_body_budget=args.max_body_budget_mb * 2**20,
        body_timeout=args.body_timeout, decode_workers=args.decode_workers, api_key=_api_key(args),
    )
    if config.api_key:
        hide_secret(config.api_key)  # whatever logs it (a traceback, a library) writes [hidden]
    if args.retry_after < 0:
        raise CliError("--retry-after cannot be negative")
    if args.ray is not None:
        return _serve_on_ray(args, config)
    if args.replicas != 1 or args.autoscale or args.max_ongoing:
        raise CliError("--replicas, --autoscale and --max-ongoing are for serve --ray")
    classifier = build_classifier(args, fallback=False)
    if not isinstance(classifier, SERVED):
        raise CliError(f"serve answers with a model on this computer, not {classifier.model_id}")
    app = create_app(InferenceService(classifier, config))
    started = _started(classifier.model_id, args, config)
    try:
        # aiohttp calls print once it listens: our line replaces its banner.
        web.run_app(app, host=args.host, port=args.port, shutdown_timeout=args.shutdown_timeout,
                    print=lambda _banner: print(started, file=sys.stderr, flush=True),
                    access_log=None)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print("Stopped.", file=sys.stderr)
    return 0


def _api_key(args) -> str | None:
    """The API key from --api-key-file, --api-key or the environment; CliError for a network
    --host without one (unless --no-auth), and for --no-auth with one."""
    key = args.api_key
    if args.api_key_file:
        try:
            with open(args.api_key_file, encoding="utf-8") as file:
                key = file.readline().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the API key from {args.api_key_file}: "
                           f"{getattr(exc, 'strerror', None) or exc}") from None
        if not key:
            raise CliError(f"{args.api_key_file} is empty: put the API key on its first line")
    key = key or os.environ.get(API_KEY_VARIABLE) or None
    if args.no_auth and key:
        raise CliError(f"--no-auth asks for no API key, but {API_KEY_VARIABLE} gives one: unset it "
                       "to serve without a key, or leave out --no-auth")
    if not key and not args.no_auth and not _loopback(args.host):
        raise CliError(f"serving on {args.host} without an API key would let anyone who can reach "
                       "this computer use the model and its memory: give a key with --api-key-file "
                       f"FILE or the {API_KEY_VARIABLE} environment variable (clients send it as "
                       "--token), or add --no-auth to serve without one on purpose.")
    return key


def _loopback(host: str) -> bool:
    """Whether ``host`` reaches this computer only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: whatever it resolves to may be reached from the network


def _started(model: str, args, config) -> str:
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    return (f"Serving {model} on {where} "
            f"({'API key required' if config.api_key else 'no API key'}); Ctrl+C or SIGTERM stops.")


def _serve_on_ray(args, config) -> int:
    """serve --ray: replicas on the Ray cluster until SIGINT or SIGTERM, then a graceful stop."""
    from dataclasses import asdict

    from nsfw_desktop.cluster import ClusterError
    from nsfw_desktop.cluster.online import ServeOptions, import_serve, shutdown, start, stop

    options = ServeOptions(
        replicas=args.replicas, autoscale=args.autoscale, max_batch=config.max_batch,
        max_ongoing=args.max_ongoing or 2 * config.max_batch, max_queued=config.max_queue,
        retry_after=args.retry_after, num_cpus=args.ray_cpus, num_gpus=args.ray_gpus,
        shutdown_timeout=args.shutdown_timeout)
    spec = model_spec(args)
    try:
        import_serve()
    except ClusterError as exc:
        raise CliError(str(exc)) from None
    from nsfw_desktop.server.ray_replica import Replica

    requested = _stop_requests()
    connect(args)
    _stop_requests(requested)  # ray.init put its own SIGTERM handler in place: ours again
    joined = bool(args.ray)  # a cluster's Serve outlives this process; a Ray instance it started does not
    try:
        start(Replica, (spec.portable(), asdict(config)), options, host=args.host, port=args.port)
        print(_started(args.model or DEFAULT_MODEL, args, config), file=sys.stderr, flush=True)
        asyncio.run(_stop_signal(requested))
        print("Stopping: the replicas finish the requests they hold.", file=sys.stderr, flush=True)
        if not stop(timeout=args.shutdown_timeout + 10):
            print(f"Ray did not confirm the replicas' stop within {args.shutdown_timeout + 10:g} s: "
                  "check that the Ray processes are still running (ray status).", file=sys.stderr)
    except ClusterError as exc:
        raise CliError(str(exc)) from None
    finally:
        if not joined:
            shutdown()
    print("Stopped.", file=sys.stderr)
    return 0


def _stop_requests(requested: threading.Event | None = None) -> threading.Event:
    """An event set by SIGINT or SIGTERM while Ray and the replicas start: a stop asked for
    then is kept for when they are up (Ray's own handler ended the process, and the stop
    with it), so the start is never left half done."""
    requested = requested or threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: requested.set())
    return requested


async def _stop_signal(requested: threading.Event) -> None:
    """Until SIGINT or SIGTERM, or at once if one came during the start. The signal may reach
    one of Ray's threads rather than this one: asyncio's wakeup file hears it whichever
    thread does, where a plain Event.wait would not wake."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    if not requested.is_set():
        await stopping.wait()
