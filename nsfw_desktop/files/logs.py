"""The app's log: a rotating file in the platformdirs log folder, and warnings on stderr.

Every entry point (the command line, which also starts the desktop app) calls
``setup_logging()`` once; library code only ever uses ``logging.getLogger``.
Access tokens never reach the file: every line is passed through ``redact``,
which hides Hugging Face tokens, Authorization credentials (Bearer, Basic...),
``token=...``/``HF_TOKEN=...`` values and the secrets this process knows
(``HF_TOKEN``, any given to ``setup_logging`` or ``hide_secret``, such as the
API key of ``serve``).
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from nsfw_desktop.files import paths

FILE_NAME = "nsfw-desktop.log"
MAX_BYTES = 1_000_000  # per file; with the backups the log never takes more than 4 MB
BACKUP_COUNT = 3
FILE_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
HIDDEN = "[hidden]"

_TOKEN_PATTERNS = [
    re.compile(r"\bhf_[A-Za-z0-9]{8,}"),  # Hugging Face user and org tokens
    re.compile(r"(?i)(\bbearer\s+)[^\s'\",]+"),
    # An Authorization header's credentials, whatever the scheme (Basic carries user:password).
    re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?(?:(?:basic|bearer|digest|negotiate|token)\s+)?)"
               r"[^\s'\",]+"),
    # token=..., HF_TOKEN=..., access_token: ..., api_key=..., password=..., however short.
    re.compile(r"(?i)(\b(?:\w*token|api[_-]?key|password)[\"']?\s*[:=]\s*[\"']?)[^\s'\",&]+"),
]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every token-like value replaced by ``[hidden]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, HIDDEN)
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + HIDDEN, text)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then hides tokens in the whole line, traceback included."""

    def __init__(self, fmt: str, secrets: Iterable[str] = ()):
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), [*self.secrets, os.environ.get("HF_TOKEN", "")])


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, as ``logging.lastResort``
    does, so a redirected or captured stderr gets the warnings."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass  # StreamHandler.__init__ assigns one; the property always answers sys.stderr


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Log files readable by their owner only (0600): the log names the files screened.
    Rotation renames the old files, so every new one is opened here."""

    def _open(self):
        return open(self.baseFilename, self.mode, encoding=self.encoding, errors=self.errors,
                    opener=lambda path, flags: os.open(path, flags, 0o600))


def hide_secret(secret: str) -> None:
    """Hide ``secret`` (a token typed during the session) in what the handlers of
    ``setup_logging`` write from now on."""
    for handler in logging.getLogger().handlers:
        formatter = handler.formatter
        if getattr(handler, "nsfw_desktop", False) and isinstance(formatter, RedactingFormatter) and secret:
            formatter.secrets.append(secret)


def log_file() -> Path:
    return paths.log_dir() / FILE_NAME


def setup_logging(*, level: int = logging.INFO, secrets: Iterable[str] = (),
                  console: bool = True) -> Path:
    """Send log records to the rotating log file (and warnings to stderr with ``console``).

    Safe to call again, for instance after the token or the app's folder changed:
    the handlers set up by an earlier call are replaced, never doubled. Returns the
    log file's path. A log file that cannot be opened costs only the file: the
    reason goes to stderr and the app keeps going.
    """
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "nsfw_desktop", False)]:
        root.removeHandler(handler)
        handler.close()
    secrets = list(secrets)
    path = log_file()
    handlers: list[logging.Handler] = []
    try:
        file_handler = _PrivateRotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8",
            errors="backslashreplace")  # a name that is not UTF-8 is logged as \udce9, not lost
    except OSError as exc:
        sys.stderr.write(f"nsfw-desktop: cannot write the log file {path}: {exc.strerror}\n")
    else:
        file_handler.setFormatter(RedactingFormatter(FILE_FORMAT, secrets))
        handlers.append(file_handler)
    if console:
        # What logging.lastResort printed before this file handler existed: warnings, bare.
        stderr_handler = _CurrentStderr()
        stderr_handler.setLevel(logging.WARNING)
        stderr_handler.setFormatter(RedactingFormatter("%(message)s", secrets))
        handlers.append(stderr_handler)
        _without_hub_console()
    for handler in handlers:
        # Marks the handlers a later call replaces: an attribute of ours, unknown to logging's types.
        handler.nsfw_desktop = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(level, logging.WARNING))
    return path


def _without_hub_console() -> None:
    """huggingface_hub gives its loggers a stderr handler of its own on import, so beside
    ours each of its lines (the retries while the Hub cannot be reached) was printed twice.
    Its records still reach ours, and the log file, through the root logger."""
    from huggingface_hub.utils import logging as hub_logging  # adds that handler: 15 ms

    hub_root = hub_logging.get_logger()
    for handler in [h for h in hub_root.handlers if type(h) is logging.StreamHandler]:
        hub_root.removeHandler(handler)
