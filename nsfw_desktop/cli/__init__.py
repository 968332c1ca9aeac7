"""The ``nsfw-desktop`` command line: one module per sub-command.

Each module in COMMANDS has ``register(subparsers)``, which adds its parser and
sets ``func`` to a function taking the parsed arguments and returning the exit
status. Exit status: 0 when the run completed (files that failed are reported,
not fatal), 2 for usage errors, 1 for fatal errors such as an unusable model.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from nsfw_desktop import __version__
from nsfw_desktop.cli.common import CliError
from nsfw_desktop.files.logs import setup_logging

COMMANDS = ["scan", "classify", "export", "models", "bench", "serve", "watch", "explain", "embed", "similar",
            "tag", "quarantine", "evaluate", "review", "policy", "gui"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nsfw-desktop",
        description="Screen photo folders for NSFW images, locally and privately. "
                    "With no command, the desktop app opens.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"nsfw_desktop.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Paths that are not valid UTF-8 are printed with escapes instead of crashing print().
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        argv = ["gui"]
    args = parser.parse_args(argv)
    setup_logging(secrets=[getattr(args, "token", None) or ""])
    try:
        return args.func(args)
    except CliError as exc:
        print(f"nsfw-desktop: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nInterrupted. Everything classified so far is saved; run the same command "
              "again to resume.", file=sys.stderr)
        return 130
