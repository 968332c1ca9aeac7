"""Beyond one machine: the classifying step of a scan on a Ray cluster (``batch``).

Optional: Ray comes with ``pip install 'nsfw-desktop[cluster]'`` and is imported
only when a front end asks for a cluster (``scan --ray``); nothing here is
imported by the desktop app or a plain scan.
"""

from __future__ import annotations

from nsfw_desktop.model_source import ModelError

INSTALL_HINT = "Install the cluster extra: pip install 'nsfw-desktop[cluster]'"


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


def connect(address: str | None = None) -> None:
    """Join the Ray cluster at ``address`` (``ray://host:10001``, ``host:6379`` or ``auto``),
    or start a Ray instance on this computer when ``address`` is None; nothing when this
    process is already connected."""
    ray = import_ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, include_dashboard=False, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a Ray instance on this computer"
        raise ClusterError(f"Cannot connect to {where}: {exc}",
                           "Check the address (ray status on the head node shows it).") from None
