"""The heartbeat loop on a virtual clock: chained ids, refusals adopted within the beat, lost
beats retried inside the window, health reported only when the window is really missed."""

from __future__ import annotations

import asyncio

import pytest

from polyloly.adapters.polymarket.heartbeat import HEARTBEAT_SOURCE, HeartbeatLoop
from polyloly.adapters.polymarket.heartbeat_chain import Health, HeartbeatTiming
from polyloly.adapters.polymarket.http import HeartbeatAck
from polyloly.domain.events import Event, FeedState, FeedStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import (
    BackOffError,
    PolylolyError,
    RejectError,
    RetryableError,
    UnknownOutcomeError,
)

START = 1_800_000_000 * NS_PER_S
TIMING = HeartbeatTiming()  # the venue's: beats every 5 s, a 10 s window
BACK_OFF = [5.0, 5.25, 5.75, 6.75]  # a valid beat at 0; lost at 5, retried 0.25, 0.5, 1 s on


class FakeVenue:
    """The venue's chain on the test's clock: rotation, the refusal with the id expected,
    the window; scripted failures (raised) and replies lost after the beat counted."""

    def __init__(self, clock: VirtualClock, window_s: float = 10) -> None:
        self.clock = clock
        self.window_ns = int(window_s * NS_PER_S)
        self.expected: str | None = None
        self.last_ns = 0
        self.seq = 0
        self.expired = 0
        self.seen: list[str] = []
        self.fail_with: list[PolylolyError] = []
        self.lose_replies = 0
        self.took_s = 0.0  # each call advances the clock this much (a slow reply)

    def rotate(self) -> str:
        self.seq += 1
        self.expected = f"hb-{self.seq}"
        self.last_ns = self.clock.now_ns()
        return self.expected

    async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
        self.seen.append(heartbeat_id)
        self.clock.advance_ns(int(self.took_s * NS_PER_S))
        if self.fail_with:
            raise self.fail_with.pop(0)
        if self.expected is not None and self.clock.now_ns() - self.last_ns > self.window_ns:
            self.expected, self.expired = None, self.expired + 1
        if heartbeat_id != (self.expected or ""):
            return HeartbeatAck(heartbeat_id=self.expected or "", accepted=False)
        next_id = self.rotate()
        if self.lose_replies:
            self.lose_replies -= 1
            raise UnknownOutcomeError("heartbeat: reply lost (ReadError)")
        return HeartbeatAck(heartbeat_id=next_id)


def make(window_s: float = 10) -> tuple[VirtualClock, FakeVenue, HeartbeatLoop, list[Event]]:
    clock = VirtualClock(START)
    venue = FakeVenue(clock, window_s)
    events: list[Event] = []
    return clock, venue, HeartbeatLoop(venue, events.append, clock, TIMING), events


def states(events: list[Event]) -> list[FeedState]:
    assert all(isinstance(e, FeedStatus) and e.source == HEARTBEAT_SOURCE for e in events)
    return [e.state for e in events if isinstance(e, FeedStatus)]


@pytest.mark.asyncio
async def test_the_chain_rotates_every_beat_and_reports_ok_once() -> None:
    clock, venue, loop, events = make()
    for _ in range(3):
        assert await loop.beat() == 5 * NS_PER_S
        clock.advance_ns(5 * NS_PER_S)
    assert venue.seen == ["", "hb-1", "hb-2"]
    assert loop.chain.heartbeat_id == "hb-3"
    assert states(events) == [FeedState.OK]
    assert loop.stats.as_dict() == {
        "sent": 3,
        "ok": 3,
        "retried": 0,
        "id_adopted": 0,
        "window_missed": 0,
        "chains_started": 1,
    }


@pytest.mark.asyncio
async def test_a_refused_id_is_adopted_and_sent_again_within_the_same_beat() -> None:
    clock, venue, loop, events = make()
    await loop.beat()
    clock.advance_ns(5 * NS_PER_S)
    venue.lose_replies = 1  # the beat counts, its reply is lost: our id is now stale
    assert await loop.beat() == TIMING.retry_initial_ns
    clock.advance_ns(TIMING.retry_initial_ns)
    assert await loop.beat() == 5 * NS_PER_S  # one beat: refused, adopted, accepted
    assert venue.seen == ["", "hb-1", "hb-1", "hb-2"]
    assert loop.chain.heartbeat_id == venue.expected == "hb-3"
    assert (loop.stats.retried, loop.stats.id_adopted, loop.stats.window_missed) == (1, 1, 0)
    assert states(events) == [FeedState.OK]  # the orders were protected all along


@pytest.mark.asyncio
async def test_a_chain_from_before_a_restart_is_adopted() -> None:
    _clock, venue, loop, events = make()
    venue.rotate()  # the previous process's chain, still inside its window
    assert await loop.beat() == 5 * NS_PER_S
    assert venue.seen == ["", "hb-1"]
    assert loop.stats.chains_started == 0
    assert states(events) == [FeedState.OK]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("failure", "schedule"),
    [
        (RetryableError("HTTP 500: Internal server error"), BACK_OFF),
        (BackOffError("HTTP 429: Too Many Requests", retry_after_s=1.0), [5.0, 6.0, 7.0, 8.0]),
        (RejectError("HTTP 425: Too Early", code="rejected"), BACK_OFF),
        (UnknownOutcomeError("heartbeat: reply lost (ReadTimeout)"), BACK_OFF),
        (RetryableError("heartbeat: request not sent (ConnectError)"), BACK_OFF),
    ],
)
async def test_lost_beats_are_retried_inside_the_window_without_a_health_change(
    failure: PolylolyError, schedule: list[float]
) -> None:
    clock, venue, loop, events = make()
    await loop.beat()
    clock.advance_ns(5 * NS_PER_S)
    venue.fail_with = [failure] * 3
    sent_s = []
    for _ in range(4):
        sent_s.append((clock.now_ns() - START) / NS_PER_S)
        delay = await loop.beat()
        clock.advance_ns(delay)
    assert sent_s == schedule
    assert delay == 5 * NS_PER_S  # the fourth was valid: the next beat 5 s after it
    assert venue.expired == 0
    assert loop.stats.retried == 3
    assert states(events) == [FeedState.OK]


@pytest.mark.asyncio
async def test_a_missed_window_is_reported_and_the_chain_restarts_by_itself() -> None:
    clock, venue, loop, events = make()
    await loop.beat()
    clock.advance_ns(5 * NS_PER_S)
    venue.took_s = 2.0  # every attempt now takes its whole timeout and is lost
    venue.fail_with = [UnknownOutcomeError("heartbeat: reply lost (ReadTimeout)")] * 50
    while loop.health is Health.OK:
        clock.advance_ns(await loop.beat())
    assert loop.health is Health.MISSED
    assert clock.now_ns() - START >= 10 * NS_PER_S  # not one moment before the window ended
    assert loop.stats.window_missed == 1
    assert states(events) == [FeedState.OK, FeedState.DOWN]
    down = events[-1]
    assert isinstance(down, FeedStatus)
    assert "cancelled every order" in down.detail
    # The network comes back: the stale id meets the refusal naming no chain; "" restarts it.
    venue.fail_with, venue.took_s = [], 0.0
    assert await loop.beat() == 5 * NS_PER_S
    assert venue.expired == 1
    assert venue.seen[-2:] == ["hb-1", ""]
    assert loop.stats.chains_started == 2
    assert states(events) == [FeedState.OK, FeedState.DOWN, FeedState.OK]


@pytest.mark.asyncio
async def test_the_venue_saying_no_chain_is_a_miss_even_before_our_clock_says_so() -> None:
    clock, _venue, loop, events = make(window_s=3)  # a venue stricter than we think
    await loop.beat()
    clock.advance_ns(5 * NS_PER_S)
    assert await loop.beat() == 5 * NS_PER_S
    assert states(events) == [FeedState.OK, FeedState.DOWN, FeedState.OK]
    assert loop.stats.window_missed == 1


@pytest.mark.asyncio
async def test_no_chain_within_one_window_is_reported_unarmed() -> None:
    clock, venue, loop, events = make()
    venue.fail_with = [RetryableError("HTTP 502: Bad Gateway")] * 100
    while loop.health is Health.STARTING:
        clock.advance_ns(await loop.beat())
    assert loop.health is Health.UNARMED
    assert states(events) == [FeedState.DOWN]
    assert loop.stats.window_missed == 0  # nothing was protected, nothing was cancelled


@pytest.mark.asyncio
async def test_a_hung_attempt_is_cut_at_its_timeout() -> None:
    clock = VirtualClock(START)

    class Hung:
        async def heartbeat(self, heartbeat_id: str) -> HeartbeatAck:
            await asyncio.Event().wait()
            raise AssertionError("never answered")  # pragma: no cover

    timing = HeartbeatTiming.from_seconds(interval_s=0.5, window_s=1.0, attempt_timeout_s=0.05)
    loop = HeartbeatLoop(Hung(), lambda _e: None, clock, timing)
    assert await loop.beat() == timing.retry_initial_ns
    assert loop.stats.retried == 1


@pytest.mark.asyncio
async def test_the_loop_keeps_its_schedule_on_the_injected_clock() -> None:
    clock, venue, _, events = make()
    beats = asyncio.Event()

    async def sleep(seconds: float) -> None:
        clock.advance_ns(round(seconds * NS_PER_S))
        if len(venue.seen) >= 10:
            beats.set()
        await asyncio.sleep(0)

    loop = HeartbeatLoop(venue, events.append, clock, TIMING, sleep=sleep)
    venue.fail_with = [RetryableError("HTTP 503")]
    loop.start()
    await asyncio.wait_for(beats.wait(), timeout=5)
    await loop.stop()
    # A lost first beat, retried a quarter-second later, then every 5 s from each send.
    assert venue.seen[:3] == ["", "", "hb-1"]
    assert clock.now_ns() - START >= 8 * 5 * NS_PER_S
    assert states(events) == [FeedState.OK]


@pytest.mark.asyncio
async def test_a_failing_subscriber_does_not_stop_the_beats() -> None:
    clock = VirtualClock(START)
    venue = FakeVenue(clock)

    def broken(_event: Event) -> None:
        raise RuntimeError("subscriber bug")

    loop = HeartbeatLoop(venue, broken, clock, TIMING)
    assert await loop.beat() == 5 * NS_PER_S
    assert loop.state is FeedState.OK
