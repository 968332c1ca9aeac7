"""A guard against a reference-counting fault of PySide6 on Python 3.11.

PySide6 6.12's stable-ABI wheels return ``None``, ``True`` and ``False``
without taking a new reference to them (correct on Python 3.12+, where these
singletons are immortal, PEP 683). On Python 3.11 every call of a Qt method
that returns nothing or a bool (``update()``, ``setText()``, ``isVisible()``...)
then takes one reference away, and after some tens of thousands the
interpreter aborts with "Fatal Python error: none_dealloc" (or bool_dealloc).
These singletons are static objects that are never freed, so giving them a
practically endless supply of references makes them immortal as 3.12 does,
and stops the crash.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_REFERENCES = 1 << 48  # far more than any process can ever lose
_SINGLETONS = (None, True, False, NotImplemented, Ellipsis)  # immortal from Python 3.12 on
_done = False


def guard_singleton_refcounts() -> None:
    """Make the singletons immortal if, and only if, this PySide6 drops references to them."""
    global _done
    if _done or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(100):
        probe.setObjectName("probe")  # returns None
    if sys.getrefcount(None) < before - 50:
        log.info("PySide6 drops references to None and bools on this Python; making them immortal")
        for singleton in _SINGLETONS:
            # ob_refcnt is the first field of every CPython object.
            ctypes.c_ssize_t.from_address(id(singleton)).value += _REFERENCES
    _done = True
