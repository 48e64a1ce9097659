"""The sliding-window limiter and the jittered backoff run on the injected clock."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.adapters.esports.ratelimit import (
    NS_PER_DAY,
    Backoff,
    BudgetExhaustedError,
    ProviderLimiter,
    SlidingWindowLimiter,
    paced_interval_ns,
)
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


# -- ProviderLimiter: windows, spacing and a daily budget, exactly as written ---------------------


async def _drive(
    clock: VirtualClock, sleeper: VirtualSleeper, limiter: ProviderLimiter, gaps_ns: list[int]
) -> tuple[list[int], int]:
    """Ask for one request after each gap; return the start times and the refusals."""
    starts: list[int] = []
    refused = 0

    async def client() -> None:
        nonlocal refused
        for gap in gaps_ns:
            if gap:
                await sleeper.sleep_ns(gap)
            try:
                await limiter.acquire()
            except BudgetExhaustedError:
                refused += 1
                continue
            starts.append(clock.now_ns())

    task = asyncio.create_task(client())
    while not task.done():
        for _ in range(3):
            await asyncio.sleep(0)
        due = sleeper.next_due_ns()
        if due is not None:
            sleeper.advance_to(due)
    await task
    return starts, refused


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 5_000), min_size=1, max_size=60),  # ms between asks (bursts: 0)
    st.integers(0, 3_000),  # min spacing, ms
    st.integers(1, 6),  # window count
    st.integers(1, 20_000),  # window, ms
    st.integers(0, 40),  # daily budget (0 = none)
    st.integers(0, 86_399),  # start second of the UTC day
)
@pytest.mark.asyncio
async def test_provider_limiter_keeps_every_rule_at_once(  # noqa: PLR0917 - hypothesis
    gaps_ms: list[int], spacing_ms: int, count: int, window_ms: int, budget: int, start_s: int
) -> None:
    day0 = 20_000 * NS_PER_DAY
    clock = VirtualClock(day0 + start_s * NS_PER_S)
    sleeper = VirtualSleeper(clock)
    limiter = ProviderLimiter(
        clock,
        sleeper,
        windows=[(count, window_ms * NS_PER_MS)],
        min_spacing_ns=spacing_ms * NS_PER_MS,
        daily_budget=budget,
    )
    starts, refused = await _drive(clock, sleeper, limiter, [g * NS_PER_MS for g in gaps_ms])
    assert len(starts) + refused == len(gaps_ms)
    for a, b in itertools.pairwise(starts):
        assert b - a >= spacing_ms * NS_PER_MS  # a spacing, never a burst
    for i in range(len(starts) - count):
        assert starts[i + count] - starts[i] >= window_ms * NS_PER_MS
    if budget:
        per_day = Counter(t // NS_PER_DAY for t in starts)
        assert all(n <= budget for n in per_day.values())
        assert limiter.refused == refused
    else:
        assert refused == 0


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 600),  # base interval, s
    st.integers(0, 5_000),  # budget
    st.integers(1, 3),  # requests per poll
    st.integers(0, 86_399),  # second of the day the pacing starts
)
def test_paced_polling_never_spends_more_than_the_budget(
    base_s: int, budget: int, per_poll: int, start_s: int
) -> None:
    now = start_s * NS_PER_S
    end = NS_PER_DAY
    remaining = budget
    spent = 0
    while True:
        gap = paced_interval_ns(base_s * NS_PER_S, remaining, end - now, per_poll)
        assert gap >= min(base_s * NS_PER_S, end - now)
        now += gap
        if now >= end:
            break
        if remaining >= per_poll:
            remaining -= per_poll
            spent += per_poll
    assert spent <= budget
    # With room for the whole day at the base cadence, pacing never slows it.
    assert paced_interval_ns(base_s * NS_PER_S, 86_400, NS_PER_DAY, 1) == base_s * NS_PER_S
    assert paced_interval_ns(base_s * NS_PER_S, None, NS_PER_DAY) == base_s * NS_PER_S


def test_provider_limiter_rejects_nonsense() -> None:
    clock = VirtualClock(0)
    with pytest.raises(ValueError, match="rate window"):
        ProviderLimiter(clock, VirtualSleeper(clock), windows=[(0, NS_PER_S)])
    with pytest.raises(ValueError, match="daily_budget"):
        ProviderLimiter(clock, VirtualSleeper(clock), daily_budget=-1)
