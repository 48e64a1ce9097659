"""Clocks: virtual timers fire in due order, deterministically."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock, LiveClock, VirtualClock


def test_timers_fire_in_due_order_not_registration_order() -> None:
    clock = VirtualClock(100)
    fired: list[tuple[str, int, int]] = []

    def timer(name: str) -> Callable[[int], None]:
        return lambda due: fired.append((name, due, clock.now_ns()))

    clock.call_at(300, timer("c"))
    clock.call_at(200, timer("a"))
    clock.call_at(250, timer("b"))
    clock.call_at(900, timer("later"))
    clock.set_ns(500)
    # each callback sees the clock at its own due time
    assert fired == [("a", 200, 200), ("b", 250, 250), ("c", 300, 300)]
    assert clock.now_ns() == 500
    clock.advance_ns(400)
    assert fired[-1] == ("later", 900, 900)


def test_timers_due_at_the_same_time_fire_in_registration_order() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    for n in range(5):
        clock.call_at(10, lambda due, n=n: fired.append(n))
    clock.advance_ns(10)
    assert fired == [0, 1, 2, 3, 4]


def test_a_timer_set_by_a_timer_fires_in_the_same_advance_when_due() -> None:
    clock = VirtualClock()
    fired: list[int] = []

    def first(due: int) -> None:
        fired.append(due)
        clock.call_at(due + 5, fired.append)
        clock.call_at(due + 500, fired.append)

    clock.call_at(10, first)
    clock.set_ns(100)
    assert fired == [10, 15]
    clock.set_ns(510)
    assert fired == [10, 15, 510]


def test_a_timer_already_overdue_fires_on_the_next_move_without_rewinding() -> None:
    clock = VirtualClock(1_000)
    fired: list[tuple[int, int]] = []
    clock.call_at(10, lambda due: fired.append((due, clock.now_ns())))
    clock.advance_ns(0)
    assert fired == [(10, 1_000)]
    assert clock.now_ns() == 1_000


def test_the_clock_never_goes_backwards() -> None:
    clock = VirtualClock(50)
    clock.set_ns(20)
    assert clock.now_ns() == 50
    assert clock.monotonic_ns() == 50
    with pytest.raises(ValueError, match="backwards"):
        clock.advance_ns(-1)


def test_live_clock_reads_real_time() -> None:
    live: Clock = LiveClock()
    first = live.monotonic_ns()
    assert isinstance(live.now_ns(), int)
    assert live.now_ns() > 1_700_000_000 * NS_PER_S  # after 2023
    assert live.monotonic_ns() >= first
    assert NS_PER_S == 1_000 * NS_PER_MS


@settings(max_examples=60, deadline=None)
@given(
    dues=st.lists(st.integers(0, 1_000), max_size=25),
    steps=st.lists(st.integers(0, 200), max_size=12),
)
def test_timers_fire_once_each_in_due_then_registration_order(
    dues: list[int], steps: list[int]
) -> None:
    clock = VirtualClock()
    fired: list[tuple[int, int]] = []
    for seq, due in enumerate(dues):
        clock.call_at(due, lambda d, seq=seq: fired.append((d, seq)))
    for step in steps:
        clock.advance_ns(step)
        assert all(due <= clock.now_ns() for due, _ in fired)
    clock.advance_ns(0)  # a move of zero still fires what is due now
    expected = sorted((due, seq) for seq, due in enumerate(dues) if due <= clock.now_ns())
    assert fired == expected
