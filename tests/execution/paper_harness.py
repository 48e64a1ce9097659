"""Drives a :class:`PaperVenue` directly on a kernel: books, level updates, prints, orders.

Shared by the paper venue's queue and mirror tests (one market ``M`` with tokens ``YES`` and
``NO``, 0.01 tick, 5-share minimum, 1,000 pUSD of collateral).
"""

from __future__ import annotations

from polyloly.domain.events import BookSnapshot, Event, LastTrade, LevelChange, PriceChanges, Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.domain.orderbook import BookSet
from polyloly.execution.paper import PaperConfig, PaperVenue
from polyloly.execution.ports import OrderSpec, SubmitResult
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner

M, YES, NO = "0xpaper", "1", "2"
Levels = tuple[tuple[int, int], ...]


class PaperHarness:
    """The venue, its kernel (every event kept in ``events``) and a signer."""

    def __init__(self, books: BookSet | None = None) -> None:
        self.clock = VirtualClock(1_800_000_000 * NS_PER_S)
        self.kernel = Kernel(self.clock)
        self.events: list[Event] = []
        self.kernel.subscribe_all(self.events.append)
        self.venue = PaperVenue(
            self.clock, PaperConfig(starting_collateral=1_000 * SCALE), books=books
        )
        self.venue.add_market(M, (YES, NO), tick=10_000, min_size=5 * SCALE)
        self.venue.attach(self.kernel)
        self.signer = FakeSigner()
        self.n = 0

    def book(self, token: str, bids: Levels, asks: Levels) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            BookSnapshot(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=token,
                bids=bids,
                asks=asks,
                tick=10_000,
            )
        )

    def level(self, side: Side, price: int, size: int, token: str = YES) -> None:
        self.clock.advance_ns(1)
        now = self.clock.now_ns()
        change = LevelChange(token, side, price, size)
        self.kernel.publish(PriceChanges(ts_event=now, ts_init=now, market=M, changes=(change,)))

    def trade(self, side: Side, price: int, size: int) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(
            LastTrade(
                ts_event=now,
                ts_init=now,
                market=M,
                token_id=YES,
                price=price,
                size=size,
                side=side,
            )
        )

    async def order(
        self,
        side: Side,
        price: int,
        size: int,
        *,
        token: str = YES,
        order_type: OrderType = OrderType.GTC,
    ) -> tuple[str, SubmitResult]:
        self.n += 1
        spec = OrderSpec(
            client_id=f"c{self.n}",
            market=M,
            token_id=token,
            side=side,
            price=price,
            size=size,
            order_type=order_type,
            salt=self.n,
            timestamp_ms=1,
        )
        signed = self.signer.sign(spec)
        return signed.order_hash, await self.venue.submit(signed)

    def matched(self, order_hash: str) -> int:
        return self.venue.orders[order_hash].size_matched
