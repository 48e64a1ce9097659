"""Client-side rate limits and retry backoff on the injected clock.

``aiolimiter`` (and ``limits``, ``pyrate-limiter``'s default clocks) read the loop's or the
system's time, which a virtual clock cannot move, and none of them expresses a minimum
spacing *and* a daily budget, so the limits here are small and exact over
:class:`~polyloly.runtime.clock.Clock` time. :class:`ProviderLimiter` expresses a provider's rule
as it is written, and one instance is shared by every call to that provider:

* windows: at most ``n`` requests start in any window of ``w`` (a sliding log, exact);
* a minimum spacing between two starts (Liquipedia: "at most one request every 2 s" is a
  spacing, not a window of 30 per minute, which would allow a burst of 30);
* a daily budget per UTC day (OpenDota unkeyed: 3,000 calls a day). Over budget a request
  is refused at once (:class:`BudgetExhaustedError`), counted, never queued until tomorrow;
  :func:`paced_interval_ns` lets a poller spread what is left over what is left of the day.

The provider limits they encode are tables in :mod:`polyloly.adapters.esports.config`.

Backoff is exponential with "equal jitter" (half fixed, half random) from an injected
``random.Random``, so a retry schedule is reproducible in tests.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from typing import Final

from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.runtime.errors import BackOffError
from polyloly.runtime.sleep import Sleeper

__all__ = [
    "NS_PER_DAY",
    "Backoff",
    "BudgetExhaustedError",
    "ProviderLimiter",
    "SlidingWindowLimiter",
    "paced_interval_ns",
]

_MAX_EXPONENT: Final = 30
NS_PER_DAY: Final = 86_400 * NS_PER_S


class BudgetExhaustedError(BackOffError):
    """The provider's daily budget is spent: no request until the next UTC day."""


class ProviderLimiter:
    """One provider's published limits, as written, over the injected clock.

    Parameters
    ----------
    clock, sleeper
        Time source and the way to wait (both injected).
    windows
        ``(max_requests, window_ns)`` rules: at most ``max_requests`` starts in any window.
    min_spacing_ns
        Least time between two starts (0 = none).
    daily_budget
        Starts allowed per UTC day (0 = no budget).

    Attributes
    ----------
    waited_ns, refused
        Time spent waiting for a window or the spacing; requests refused over budget.
    """

    def __init__(
        self,
        clock: Clock,
        sleeper: Sleeper,
        *,
        windows: Sequence[tuple[int, int]] = (),
        min_spacing_ns: int = 0,
        daily_budget: int = 0,
    ) -> None:
        if any(n < 1 or w <= 0 for n, w in windows):
            raise ValueError("a rate window needs max_requests >= 1 and window_ns > 0")
        if min_spacing_ns < 0 or daily_budget < 0:
            raise ValueError("min_spacing_ns and daily_budget must be >= 0")
        self._clock = clock
        self._sleeper = sleeper
        self.windows = tuple(windows)
        self.min_spacing_ns = min_spacing_ns
        self.daily_budget = daily_budget
        self._starts = [deque[int]() for _ in self.windows]
        self._last: int | None = None
        self._day = -1
        self.used_today = 0
        self.waited_ns = 0
        self.refused = 0

    def _roll_day(self, now: int) -> None:
        day = now // NS_PER_DAY
        if day != self._day:
            self._day, self.used_today = day, 0

    def remaining_today(self) -> int | None:
        """Requests left in today's budget (``None`` = no budget)."""
        if not self.daily_budget:
            return None
        self._roll_day(self._clock.now_ns())
        return max(self.daily_budget - self.used_today, 0)

    def ns_until_reset(self) -> int:
        """Time until the budget resets (the next UTC midnight)."""
        now = self._clock.now_ns()
        return (now // NS_PER_DAY + 1) * NS_PER_DAY - now

    def delay_ns(self) -> int:
        """How long the next start would have to wait now for the windows and the spacing."""
        now = self._clock.now_ns()
        wait = 0
        if self._last is not None and self.min_spacing_ns:
            wait = self._last + self.min_spacing_ns - now
        for (n, w), starts in zip(self.windows, self._starts, strict=True):
            while starts and starts[0] <= now - w:
                starts.popleft()
            if len(starts) >= n:
                wait = max(wait, starts[0] + w - now)
        return max(wait, 0)

    async def acquire(self) -> None:
        """Wait until a request may start, then record it.

        Raises
        ------
        BudgetExhaustedError
            Today's budget is spent (nothing is recorded; retry after the reset).
        """
        while True:
            remaining = self.remaining_today()
            if remaining is not None and remaining <= 0:
                self.refused += 1
                raise BudgetExhaustedError(
                    f"daily budget of {self.daily_budget} requests spent",
                    retry_after_s=self.ns_until_reset() / NS_PER_S,
                )
            wait = self.delay_ns()
            if wait <= 0:
                break
            self.waited_ns += wait
            await self._sleeper.sleep_ns(wait)
        now = self._clock.now_ns()
        self._roll_day(now)
        self._last = now
        self.used_today += 1
        for starts in self._starts:
            starts.append(now)


def paced_interval_ns(
    base_ns: int, remaining: int | None, ns_until_reset: int, requests_per_poll: int = 1
) -> int:
    """The polling interval that keeps a daily budget: never below ``base_ns``.

    With ``remaining`` requests left and ``ns_until_reset`` of the day to go, polling every
    ``max(base, ns_until_reset × requests_per_poll / remaining)`` spends at most what is
    left. With nothing left, wait for the reset. ``remaining=None`` means no budget.
    """
    if remaining is None:
        return base_ns
    if remaining < requests_per_poll:
        return max(ns_until_reset, 1)
    return max(base_ns, -(-ns_until_reset * requests_per_poll // remaining))


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
