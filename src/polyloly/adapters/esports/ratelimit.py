"""Client-side rate limits and retry backoff on the injected clock.

``aiolimiter`` reads ``loop.time()``, which a virtual clock cannot move, so the limits here
are a small sliding-window log over :class:`~polyloly.runtime.clock.Clock` time: at most
``max_requests`` start in any window of ``window_ns``. The provider limits they encode are
tables in :mod:`polyloly.adapters.esports.config` (OpenDota 60/min unkeyed, Liquipedia one
request per 2 s, PandaScore 1k-10k/hour...).

Backoff is exponential with "equal jitter" (half fixed, half random) from an injected
``random.Random``, so a retry schedule is reproducible in tests.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Final

from polyloly.runtime.clock import NS_PER_MS, Clock
from polyloly.runtime.sleep import Sleeper

__all__ = ["Backoff", "SlidingWindowLimiter"]

_MAX_EXPONENT: Final = 30


class SlidingWindowLimiter:
    """At most ``max_requests`` acquisitions in any ``window_ns`` of clock time.

    Parameters
    ----------
    clock, sleeper
        Time source and the way to wait (both injected).
    max_requests
        Requests allowed per window (>= 1).
    window_ns
        Window length in ns (> 0).
    """

    def __init__(self, clock: Clock, sleeper: Sleeper, max_requests: int, window_ns: int) -> None:
        if max_requests < 1 or window_ns <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and window_ns > 0")
        self._clock = clock
        self._sleeper = sleeper
        self.max_requests = max_requests
        self.window_ns = window_ns
        self._starts: deque[int] = deque()
        self.waited_ns = 0

    def delay_ns(self) -> int:
        """How long the next acquisition would have to wait now (0 = go)."""
        now = self._clock.now_ns()
        starts = self._starts
        while starts and starts[0] <= now - self.window_ns:
            starts.popleft()
        if len(starts) < self.max_requests:
            return 0
        return starts[0] + self.window_ns - now

    async def acquire(self) -> None:
        """Wait (on the injected sleeper) until a request may start, then record it."""
        while True:
            wait = self.delay_ns()
            if wait <= 0:
                break
            self.waited_ns += wait
            await self._sleeper.sleep_ns(wait)
        self._starts.append(self._clock.now_ns())


class Backoff:
    """Exponential backoff with equal jitter: ``d/2 + U(0, d/2)``, ``d = min(cap, base·2^n)``.

    Parameters
    ----------
    base_ms, max_ms
        First delay and cap, in milliseconds.
    rng
        Injected randomness (a seeded ``random.Random`` in tests).
    """

    def __init__(self, base_ms: int, max_ms: int, rng: random.Random) -> None:
        if base_ms <= 0 or max_ms < base_ms:
            raise ValueError("backoff needs 0 < base_ms <= max_ms")
        self._base_ns = base_ms * NS_PER_MS
        self._max_ns = max_ms * NS_PER_MS
        self._rng = rng

    def delay_ns(self, attempt: int, hint_ns: int | None = None) -> int:
        """Delay before retry number ``attempt`` (0-based); never below the server's hint."""
        ceiling = min(self._max_ns, self._base_ns << min(max(attempt, 0), _MAX_EXPONENT))
        half = ceiling // 2
        delay = half + self._rng.randint(0, ceiling - half)
        if hint_ns is not None:
            delay = max(delay, hint_ns)
        return delay
