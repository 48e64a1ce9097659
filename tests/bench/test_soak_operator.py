"""The soak's operator over a real control API: it resumes a halted bot after ``hold_s``,
and calls a feed stuck only once no injected fault can explain it being down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from bench.soak.chaos import FaultRecord
from bench.soak.operator import Operator, can_take_down

from polyloly.bot.control import ControlClient, ControlServer
from polyloly.runtime.clock import NS_PER_S, VirtualClock

TOKEN = "t" * 32


class Bot:
    """A control target whose status the test sets (the bot's side of the API)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"halted": None, "feeds": {}}
        self.resumed = 0

    def status(self) -> dict[str, Any]:
        return self.state

    def halt(self, reason: str) -> None:
        self.state["halted"] = reason

    def resume(self) -> None:
        self.resumed += 1
        self.state["halted"] = None

    def cancel_all(self) -> None:
        pass


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[Bot, ControlClient]]:
    bot = Bot()
    server = ControlServer(bot, TOKEN, "127.0.0.1", 0)
    await server.start()
    try:
        yield bot, ControlClient(server.url, TOKEN)
    finally:
        await server.stop()


def _fault(at_s: float, kind: str, **args: object) -> FaultRecord:
    return FaultRecord(int(at_s * NS_PER_S), kind, dict(args))


@pytest.mark.asyncio
async def test_a_halt_is_resumed_after_hold_s(served: tuple[Bot, ControlClient]) -> None:
    bot, client = served
    clock = VirtualClock(100 * NS_PER_S)
    op = Operator(client, clock, [], hold_s=2.0, stuck_s=45.0)
    bot.state["halted"] = "exchange_feed: down"
    assert await op.poll() is None
    clock.advance_ns(NS_PER_S)
    await op.poll()
    assert bot.resumed == 0  # one second: left alone
    clock.advance_ns(NS_PER_S)
    await op.poll()
    assert bot.resumed == 1
    assert (op.polls, op.halted_polls, op.resumes) == (3, 3, 1)


@pytest.mark.asyncio
async def test_a_feed_down_long_after_its_last_fault_is_stuck(
    served: tuple[Bot, ControlClient],
) -> None:
    bot, client = served
    clock = VirtualClock(100 * NS_PER_S)
    faults = [_fault(95.0, "heartbeat_reply_lost", count=1)]
    op = Operator(client, clock, faults, hold_s=2.0, stuck_s=45.0)
    bot.state["feeds"] = {"polymarket.heartbeat": "down", "grid": "ok"}
    assert await op.poll() is None
    clock.advance_ns(44 * NS_PER_S)
    assert await op.poll() is None  # 44 s down: not yet
    faults.append(_fault(144.0, "heartbeat_lost", count=2, status=0))  # a new fault
    clock.advance_ns(10 * NS_PER_S)
    assert await op.poll() is None  # explained again, for 45 s from 144 s
    clock.advance_ns(35 * NS_PER_S)
    stuck = await op.poll()
    assert stuck is not None
    assert (stuck.feed, stuck.state, stuck.down_s) == ("polymarket.heartbeat", "down", 89.0)


@pytest.mark.asyncio
async def test_a_feed_that_comes_back_is_not_stuck(served: tuple[Bot, ControlClient]) -> None:
    bot, client = served
    clock = VirtualClock(100 * NS_PER_S)
    op = Operator(client, clock, [], hold_s=2.0, stuck_s=45.0)
    bot.state["feeds"] = {"polymarket.market_ws": "down"}
    await op.poll()
    clock.advance_ns(30 * NS_PER_S)
    bot.state["feeds"] = {"polymarket.market_ws": "ok"}
    await op.poll()
    bot.state["feeds"] = {"polymarket.market_ws": "down"}
    clock.advance_ns(30 * NS_PER_S)
    assert await op.poll() is None  # down again only now


def test_which_faults_can_take_which_feed_down() -> None:
    drop = _fault(0, "drop_ws")
    order_500 = _fault(0, "http_500", count=1, path_prefix="/order")
    any_500 = _fault(0, "http_500", count=1, path_prefix=None)
    lost_beat = _fault(0, "heartbeat_reply_lost", count=1)
    assert can_take_down("polymarket.market_ws", drop)
    assert not can_take_down("polymarket.heartbeat", drop)
    assert can_take_down("polymarket.heartbeat", any_500)
    assert not can_take_down("polymarket.heartbeat", order_500)
    assert can_take_down("polymarket.heartbeat", lost_beat)
    assert not can_take_down("grid", drop)  # esports feeds are never faulted
    assert not can_take_down("polymarket.user_ws", _fault(0, "trade_failed", count=1))
