"""The Ray options that ``scan --ray`` and ``serve --ray`` share, and joining the cluster."""

from __future__ import annotations

import argparse

from nsfw_desktop.classify.model_source import ModelError
from nsfw_desktop.cli.common import CliError


def add_ray_options(parser: argparse.ArgumentParser, *, ray_help: str, role: str):
    """A "Ray cluster" group with --ray [ADDRESS], --ray-cpus and --ray-gpus per ``role``
    (worker, replica); the caller adds its own options to the group it returns."""
    cluster = parser.add_argument_group("Ray cluster (pip install 'nsfw-desktop[cluster]')")
    cluster.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                         help=f"{ray_help} (ray://host:10001, host:6379 or auto; alone: a Ray instance "
                              "on this computer)")
    cluster.add_argument("--ray-cpus", type=float, default=1, metavar="C",
                         help=f"CPUs per Ray {role}; its model runs on as many threads "
                              "(default: %(default)s)")
    cluster.add_argument("--ray-gpus", type=float, default=0, metavar="G",
                         help=f"GPUs per Ray {role} (default: %(default)s)")
    return cluster


def connect(args: argparse.Namespace) -> None:
    """Join the cluster of ``--ray ADDRESS`` (or start Ray here), or CliError naming what to do."""
    from nsfw_desktop.cluster import connect as join

    try:
        join(args.ray or None)
    except ModelError as exc:
        raise CliError(str(exc)) from None
