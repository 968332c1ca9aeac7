"""Admission: how many requests the server works on at once, and when a refused one should come back.

A request counts from before its body is read until it is answered, and holds
the bytes its body may take (its Content-Length) from the ``budget``. One more
than ``limit``, or one whose body would take the budget past its end, is
refused, unread, with a Retry-After that says when its turn is likely to
come: the number of requests ahead of it (those accepted, and those refused
earlier and not yet back) times the measured time per answer, and no more
refused clients sent back in one second than there are places (for large
bodies, as many as the budget holds at once). So a burst is
spread over the time the server needs to drain it, instead of every refused
client coming back in the same second to find the server still full.

The places that free up just before refused clients are due back are kept for
them, so clients that send their next request the instant one is answered
cannot take every place for good. The server cannot tell clients apart: any
request that arrives once a refused client is due counts as that client.
"""

from __future__ import annotations

import math
import time
from collections import deque

RECENT_ANSWERS = 32  # busy intervals between answers that the rate estimate averages
# Refused requests remembered per place: clients that retry at once, without waiting, add
# one each time, and must not push everyone else's Retry-After far out.
RETURNS_PER_PLACE = 4
LATE = 5.0  # seconds after its Retry-After a refused client is no longer counted as coming back
MAX_RETRY_AFTER = 60


class Admission:
    def __init__(self, limit: int, budget: int) -> None:
        self.limit = limit
        self.budget = budget  # bytes of request bodies held at once
        self.in_flight = 0
        self.held = 0  # bytes of the budget the requests in flight hold
        # When refused requests were told to come back, in order.
        self._returns: deque[float] = deque()
        self._intervals: deque[float] = deque(maxlen=RECENT_ANSWERS)
        self._busy_since: float | None = None  # last answer, while more work was in flight

    def enter(self, size: int) -> int | None:
        """None when a request whose body takes ``size`` bytes is accepted (call ``leave(size)``
        once it is answered), else the Retry-After in seconds."""
        now = self._arrival()
        if self._returned(now):  # it may take any free place
            room = self.limit - self.in_flight
        else:
            # Places that will be free by the time clients sent back are due are kept for
            # them: otherwise the clients already in, sending their next request the moment
            # one is answered, would take every place and the others would never get one.
            soon = now + self.seconds_per_answer() * self.limit
            room = self.limit - self.in_flight - sum(1 for due in self._returns if due <= soon)
        if room <= 0 or self.held + size > self.budget:
            return self._refuse(now, size)
        if self.in_flight == 0:
            self._busy_since = now
        self.in_flight += 1
        self.held += size
        return None

    def leave(self, size: int) -> None:
        now = time.monotonic()
        self.in_flight -= 1
        self.held -= size
        if self._busy_since is not None:
            self._intervals.append(now - self._busy_since)
        # Idle time between answers says nothing about how fast the server answers.
        self._busy_since = now if self.in_flight else None

    def seconds_per_answer(self) -> float:
        """Mean time between answers while busy (decode and model together); 0 before any."""
        return sum(self._intervals) / len(self._intervals) if self._intervals else 0.0

    def _arrival(self) -> float:
        now = time.monotonic()
        while self._returns and self._returns[0] + LATE < now:
            self._returns.popleft()  # that client did not come back
        return now

    def _returned(self, now: float) -> bool:
        """Whether a client sent back is due: the arrival is most likely that client."""
        if self._returns and self._returns[0] <= now:
            self._returns.popleft()
            return True
        return False

    def _refuse(self, now: float, size: int) -> int:
        # Places for requests like this one: bodies this large may fit the budget fewer times.
        places = max(1, min(self.limit, self.budget // max(size, 1)))
        per_answer = self.seconds_per_answer()
        ahead = self.in_flight + len(self._returns) - places + 1  # answers before a free place
        # Retry-After counts whole seconds, so clients told the same number come back together
        # and at most ``places`` of them find one: the others are told a later second.
        rounds = 1 + len(self._returns) // places
        after_the_last = math.ceil(self._returns[-1] - now) if self._returns else 0  # keeps the order
        retry_after = min(MAX_RETRY_AFTER, max(rounds, after_the_last, math.ceil(ahead * per_answer)))
        if len(self._returns) < RETURNS_PER_PLACE * self.limit:
            self._returns.append(now + retry_after)
        return retry_after
