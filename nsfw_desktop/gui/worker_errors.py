"""The last stop of an error nobody expected in a worker's thread.

A slot that runs in a worker's thread has no caller to hand an exception to: Qt
would print its traceback on stderr, the window would wait for an answer that
never comes ("Looking for photos like…" forever), and the user would see
nothing. ``reported`` wraps such a slot: the traceback goes to the log, the
window gets a message by the worker's own failure signal, and the thread lives
on for the next request.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from nsfw_desktop.gui.advice import for_window

log = logging.getLogger(__name__)


def unexpected(what: str, exc: BaseException) -> str:
    """The message bar's line for ``exc``, which stopped ``what``."""
    reason = for_window(exc) or type(exc).__name__
    return (f"{what} stopped on an unexpected error: {reason.rstrip('.')}. The log has the details "
            "(Help > Open log folder).")


def reported(what: str, tell: Callable[..., None]):
    """Decorate a worker's slot: an exception it did not expect is logged, and
    ``tell(worker, message, *the slot's arguments)`` sends the window its message."""
    def decorate(method):
        @functools.wraps(method)
        def slot(self, *args):
            try:
                return method(self, *args)
            except Exception as exc:  # the thread's last stop: the user must hear of any failure
                log.exception("%s failed", what)
                tell(self, unexpected(what, exc), *args)
                return None
        return slot
    return decorate


def on_failed(worker: Any, message: str, *_args: Any) -> None:
    """``tell`` for a worker whose ``failed`` signal carries a message for the user."""
    worker.failed.emit(message)
