"""FeedHealth: STALE only while live, DOWN after repeated failures, recovery to OK."""

from __future__ import annotations

from polyloly.adapters.esports.base import FeedHealth
from polyloly.domain.events import Event, FeedState, FeedStatus
from polyloly.runtime.clock import NS_PER_S, VirtualClock


def _health() -> tuple[FeedHealth, VirtualClock, list[Event]]:
    clock = VirtualClock(0)
    out: list[Event] = []
    return FeedHealth("grid", clock, out.append, 30 * NS_PER_S, 3), clock, out


def _states(out: list[Event]) -> list[FeedState]:
    return [e.state for e in out if isinstance(e, FeedStatus)]


def test_stale_only_while_live_and_back_to_ok_on_fresh_data() -> None:
    h, clock, out = _health()
    h.fresh()
    clock.advance_ns(60 * NS_PER_S)
    h.check(live=False)  # between games: nothing should move
    assert _states(out) == [FeedState.OK]
    clock.advance_ns(31 * NS_PER_S)
    h.check(live=True)
    assert _states(out) == [FeedState.OK, FeedState.STALE]
    assert out[-1].ts_init == 91 * NS_PER_S
    assert "while live" in out[-1].detail
    h.check(live=True)  # no repeat
    h.fresh()
    assert _states(out) == [FeedState.OK, FeedState.STALE, FeedState.OK]


def test_down_after_failures_then_stale_until_data_moves() -> None:
    h, clock, out = _health()
    h.reachable()
    for _ in range(3):
        clock.advance_ns(10 * NS_PER_S)
        h.failure("HTTP 503")
    assert _states(out) == [FeedState.OK, FeedState.DOWN]
    clock.advance_ns(10 * NS_PER_S)
    h.reachable()  # answering again, but nothing fresh for 40 s
    assert _states(out)[-1] is FeedState.STALE
    h.check(live=False)
    assert _states(out)[-1] is FeedState.OK
