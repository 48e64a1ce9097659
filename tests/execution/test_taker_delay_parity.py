"""The taker delay, applied the same way by the paper venue and the exchange simulator.

The same book, the same marketable order on a live market carrying ``secondsDelay`` = 3,
the same maker moving its quote during the delay: both venues answer ``delayed``, match
the order when the delay ends against the book as it stands *then*, and produce the same
fills (price, size, fee). Before the delay ends nothing has filled.
"""

from __future__ import annotations

import pytest

from polyloly.domain.events import BookSnapshot, LevelChange, PriceChanges, Side, TimerTick
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE
from polyloly.execution.events import TradeUpdate
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import OrderSpec, VenueOrderStatus
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket
from polyloly.testing.fakes import FakeSigner

START = 1_800_000_000 * NS_PER_S
TICK = 10_000
ASKS = ((550_000, 50 * ONE), (570_000, 100 * ONE))  # the book when our order arrives
MOVED = ((550_000, 0), (560_000, 30 * ONE))  # the maker's move during the delay
ORDER = (Side.BUY, 570_000, 120 * ONE)  # marketable GTC: 0.57 for 120 shares

Fills = list[tuple[int, int, int]]


def _exchange_fills(delay_s: int, live: bool) -> tuple[str, Fills, Fills]:
    clock = VirtualClock(START)
    sim = ExchangeSimulator(SimConfig(seed=3), clock=clock)
    listing = sim.add_market(
        SimMarket(
            question="LoL: A vs B (BO3)", outcomes=("A", "B"), tick=TICK,
            min_size=5 * ONE, seconds_delay=delay_s,
        )
    )  # fmt: skip
    token = listing.token_ids[0]
    sim.set_live(listing.condition_id, live)
    resting = {p: sim.place_resting(token, Side.SELL, p, s, owner="mm") for p, s in ASKS}
    side, price, size = ORDER
    status, reply = sim.submit(token, side, price, size, owner="us", order_type=OrderType.GTC)
    assert status == 200

    def ours() -> Fills:
        return [(f.price, f.size, f.fee) for t in sim.trades() if t.owner == "us" for f in t.fills]

    clock.advance_ns(1_000 * NS_PER_MS)
    sim.run_due()
    early = ours()
    for p, s in MOVED:
        if s == 0:
            sim.venue.cancel(None, [resting[p]])
        else:
            sim.place_resting(token, Side.SELL, p, s, owner="mm")
    clock.advance_ns((delay_s * 1_000 + 50) * NS_PER_MS)
    sim.run_due()
    return str(reply.get("status", "")), early, ours()


async def _paper_fills(delay_s: int, live: bool) -> tuple[str, Fills, Fills]:
    clock = VirtualClock(START)
    kernel = Kernel(clock)
    trades: Fills = []
    seen: set[str] = set()

    def on_trade(event: TradeUpdate) -> None:
        report = event.report
        if report.trade_id not in seen:
            seen.add(report.trade_id)
            trades.append((report.price, report.size, report.fee))

    kernel.subscribe(TradeUpdate, on_trade)
    venue = PaperVenue(clock, PaperConfig(starting_collateral=10_000 * ONE))
    venue.add_market("0xm", ("ta", "tb"), tick=TICK, min_size=5 * ONE, seconds_delay=delay_s)
    venue.attach(kernel)
    venue.set_live("0xm", live)
    now = clock.now_ns()
    kernel.publish(
        BookSnapshot(
            ts_event=now, ts_init=now, market="0xm", token_id="ta",
            bids=(), asks=ASKS, tick=TICK,
        )
    )  # fmt: skip
    side, price, size = ORDER
    spec = OrderSpec(
        client_id="c1", market="0xm", token_id="ta", side=side, price=price, size=size,
        order_type=OrderType.GTC, salt=1, timestamp_ms=1,
    )  # fmt: skip
    result = await venue.submit(FakeSigner().sign(spec))
    clock.advance_ns(1_000 * NS_PER_MS)
    kernel.publish(TimerTick(ts_event=clock.now_ns(), ts_init=clock.now_ns()))
    early = list(trades)
    changes = tuple(LevelChange("ta", Side.SELL, p, s) for p, s in MOVED)
    now = clock.now_ns()
    kernel.publish(PriceChanges(ts_event=now, ts_init=now, market="0xm", changes=changes))
    clock.advance_ns((delay_s * 1_000 + 50) * NS_PER_MS)
    kernel.publish(TimerTick(ts_event=clock.now_ns(), ts_init=clock.now_ns()))
    return result.status.value, early, trades


@pytest.mark.asyncio
async def test_paper_and_exchange_fill_a_delayed_order_identically() -> None:
    ex_status, ex_early, ex_fills = _exchange_fills(3, live=True)
    paper_status, paper_early, paper_fills = await _paper_fills(3, live=True)
    assert ex_status == "delayed"
    assert paper_status == VenueOrderStatus.DELAYED.value
    assert ex_early == paper_early == []  # nothing fills during the delay
    # matched against the book as it stood when the delay ended: the maker's move counts
    assert sorted(ex_fills) == sorted(paper_fills)
    assert sorted((p, s) for p, s, _ in ex_fills) == [(560_000, 30 * ONE), (570_000, 90 * ONE)]


@pytest.mark.asyncio
async def test_without_the_delay_both_fill_at_once_against_the_first_book() -> None:
    ex_status, ex_early, _ = _exchange_fills(3, live=False)
    paper_status, paper_early, _ = await _paper_fills(3, live=False)
    assert ex_status == "matched"
    assert paper_status == VenueOrderStatus.MATCHED.value
    assert sorted(ex_early) == sorted(paper_early)
    assert sorted((p, s) for p, s, _ in ex_early) == [(550_000, 50 * ONE), (570_000, 70 * ONE)]
