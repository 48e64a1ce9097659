"""The sliding-window limiter and the jittered backoff run on the injected clock."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.adapters.esports.ratelimit import Backoff, SlidingWindowLimiter
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.runtime.sleep import VirtualSleeper


@pytest.mark.asyncio
async def test_limiter_spaces_requests_per_window_of_virtual_time() -> None:
    clock = VirtualClock(0)
    sleeper = VirtualSleeper(clock)
    limiter = SlidingWindowLimiter(clock, sleeper, max_requests=3, window_ns=10 * NS_PER_S)
    starts: list[int] = []

    async def client() -> None:
        for _ in range(10):
            await limiter.acquire()
            starts.append(clock.now_ns())

    task = asyncio.create_task(client())
    while not task.done():
        for _ in range(3):
            await asyncio.sleep(0)  # let the client run up to its next wait
        due = sleeper.next_due_ns()
        if due is not None:
            sleeper.advance_to(due)
    assert len(starts) == 10
    assert starts[:3] == [0, 0, 0]
    for i in range(len(starts) - 3):
        assert starts[i + 3] - starts[i] >= 10 * NS_PER_S
    assert limiter.waited_ns > 0


def test_limiter_rejects_nonsense() -> None:
    clock = VirtualClock(0)
    with pytest.raises(ValueError, match="rate limit"):
        SlidingWindowLimiter(clock, VirtualSleeper(clock), 0, NS_PER_S)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 5_000), st.integers(1, 10), st.integers(0, 2**32))
def test_backoff_stays_within_equal_jitter_bounds(
    attempt: int, base: int, mult: int, seed: int
) -> None:
    backoff = Backoff(base, base * mult, random.Random(seed))
    delay = backoff.delay_ns(attempt)
    ceiling = min(base * mult, base << min(attempt, 30)) * NS_PER_MS
    assert ceiling // 2 <= delay <= ceiling
    assert backoff.delay_ns(attempt, hint_ns=10**15) == 10**15  # the server's hint wins


def test_backoff_is_reproducible_with_a_seed() -> None:
    a = [Backoff(100, 5_000, random.Random(3)).delay_ns(n) for n in range(6)]
    b = [Backoff(100, 5_000, random.Random(3)).delay_ns(n) for n in range(6)]
    assert a == b
