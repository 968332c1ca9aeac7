"""Beyond one machine: the classifying step of a scan on a Ray cluster (``batch``).

Optional: Ray comes with ``pip install 'nsfw-desktop[cluster]'`` and is imported
only when a front end asks for a cluster (``scan --ray``); nothing here is
imported by the desktop app or a plain scan.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from nsfw_desktop.classify.model_source import ModelError

INSTALL_HINT = "Install the cluster extra: pip install 'nsfw-desktop[cluster]'"
_CLUSTER_MODE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's single-computer mode


class ClusterError(ModelError):
    """Ray is missing, cannot be reached, or the workers' model differs: a message for the user."""


def import_ray():
    """The ``ray`` module, or ClusterError naming the extra to install."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray Data comes with the ray[data] extra)
    except ImportError as exc:
        raise ClusterError(f"Ray is not installed ({exc}).", INSTALL_HINT) from None
    return ray


def connect(address: str | None = None, **options) -> None:
    """Join the Ray cluster at ``address`` (``ray://host:10001``, ``host:6379`` or ``auto``),
    or start a Ray instance on this computer when ``address`` is None: one of its own (never
    one found running), reachable from this computer only, its token file readable by its
    owner only. Nothing when this process is already connected. ``options``: ``ray.init``'s
    keyword arguments for a Ray instance started here (the tests give it 2 CPUs)."""
    ray = import_ray()
    if ray.is_initialized():
        return
    if address is None:
        _this_computer_only()
        _private_token_file()
    try:
        ray.init(address=address or "local", include_dashboard=False, logging_level="WARNING", **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a Ray instance on this computer"
        raise ClusterError(f"Cannot connect to {where}: {exc}",
                           "Check the address (ray status on the head node shows it).") from None


def _this_computer_only() -> None:
    """Make the Ray instance about to start listen on 127.0.0.1 only. On Linux, Ray takes
    127.0.0.1 as "this node's network address" and its servers listen on every address;
    in its single-computer mode (the one it runs in on macOS and Windows) each listens on
    the loopback address. Ray's processes read the mode from the environment, and this
    process from ``ray_constants``, which read it when Ray was imported."""
    import ray._private.ray_constants as ray_constants

    os.environ[_CLUSTER_MODE] = "0"
    ray_constants.ENABLE_RAY_CLUSTER = False


def _private_token_file() -> None:
    """The token file of a Ray instance about to start, readable by its owner only: Ray writes
    a missing one with the usual permissions (0644), where other users of this computer could
    read the token and run code on the instance."""
    from importlib.util import find_spec

    tokens = os.environ.get("RAY_AUTH_MODE", "token").lower() == "token"
    if find_spec("ray._private.authentication") is None or not tokens or os.environ.get("RAY_AUTH_TOKEN"):
        return  # no token file is read: an older Ray, tokens off, or the token in the environment
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    try:
        if path.exists():
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                path.chmod(0o600)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        # Created 0600 from the start, with as many random bits as Ray's own tokens (256).
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as token:
            token.write(secrets.token_hex(32))
    except OSError as exc:
        raise ClusterError(f"Cannot keep Ray's token in {path}: {exc.strerror or exc}",
                           "Check that folder's permissions, or give Ray its token through "
                           "RAY_AUTH_TOKEN_PATH.") from None
