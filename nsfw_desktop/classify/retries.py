"""A failed request to an endpoint: what went wrong, in words for the user, whether trying
again may help, and how long to wait first (``RetryPolicy``: exponential backoff with full
jitter, or what the endpoint asked for: ``estimated_time`` of a 503, ``Retry-After`` of a 429).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # requests per image before it is recorded as an error
    base_delay: float = 1.0  # seconds before the first retry, doubled for each further one
    max_delay: float = 60.0  # cap on any single wait, even when the endpoint asks for more
    timeout: float = 60.0  # seconds one request may take

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {self.attempts}")
        if min(self.base_delay, self.max_delay, self.timeout) < 0:
            raise ValueError("delays and the timeout cannot be negative")

    def longest_wait(self) -> float:
        """Seconds of waiting, at most, before an image is given up on (without Retry-After)."""
        return sum(min(self.base_delay * 2 ** n, self.max_delay) for n in range(self.attempts - 1))

    def delay(self, attempt: int, asked: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        if asked is None:
            # Full jitter keeps clients that failed together from retrying together.
            asked = self.base_delay * 2 ** attempt * random.uniform(0.5, 1.0)
        return min(max(asked, 0.0), self.max_delay)


@dataclass(frozen=True)
class Failure:
    reason: str  # for the user, without the token
    retry: bool
    wait: float | None = None  # seconds the endpoint asked us to wait


def failure_of(exc: Exception, url: str) -> Failure:
    """What went wrong with one request, and whether trying again may help."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        response = exc.response
        status = response.status_code
        said = _error_text(response)
        if status == 503:
            return Failure(f"{url} is unavailable (HTTP 503{said})", True, _estimated_time(response))
        if status == 429:
            return Failure(f"{url} is busy (HTTP 429{said})", True,
                            _retry_after(response.headers.get("Retry-After")))
        if status in (500, 502, 504):
            return Failure(f"{url} failed (HTTP {status}{said})", True)
        if status in (401, 403):
            return Failure(f"{url} refused the token (HTTP {status}): check the token you gave, or HF_TOKEN",
                            False)
        if status == 404:
            return Failure(f"there is no endpoint at {url} (HTTP 404)", False)
        return Failure(f"{url} refused the image (HTTP {status}{said})", False)
    if isinstance(exc, (TimeoutError, httpx2.TimeoutException)):
        return Failure(f"{url} did not answer in time", True)
    if isinstance(exc, httpx2.TransportError):
        return Failure(f"the connection to {url} failed ({type(exc).__name__}: {exc})", True)
    if isinstance(exc, (ValueError, TypeError, KeyError)):
        return Failure(f"{url} answered something other than a list of labels and scores ({exc})",
                        True)
    return Failure(f"the request to {url} failed ({type(exc).__name__}: {exc})", False)


def _error_text(response) -> str:
    """``: <message>`` from an ``{"error": ...}`` answer, or nothing."""
    try:
        message = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f": {str(message)[:200]}" if message else ""


def _estimated_time(response) -> float | None:
    try:
        value = response.json().get("estimated_time")
        return float(value) if value is not None else None
    except (ValueError, AttributeError, TypeError):
        return None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError):
        return None
