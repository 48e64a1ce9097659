"""The paper venue's taker delay follows the public's view of a game, never the bot's truth.

The real venue keeps a delayed market's taker delay until the public (Polymarket's own
sports data) knows the game is over; the bot's truth is ahead of the public. So the bot's
truth (or any provider) may start the delay, and only the public's result (the
``polymarket_sports`` feed) or the market's resolution ends it.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from polyloly.domain.events import (
    BookSnapshot,
    Event,
    MarketResolved,
    MatchEvent,
    MatchEventKind,
    Side,
    TimerTick,
    TruthDelta,
    TruthState,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.execution.events import TradeUpdate
from polyloly.execution.paper import PUBLIC_SOURCE, PaperConfig, PaperVenue
from polyloly.execution.ports import OrderSpec, VenueOrderStatus
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner

pytestmark = pytest.mark.asyncio

MATCH_ID = "lol-t1-gen"
GAME1, G1A, G1B = "0xgame1", "g1a", "g1b"
GAME2, G2A, G2B = "0xgame2", "g2a", "g2b"
SERIES, SA, SB = "0xmatch", "ma", "mb"
TOKENS = {GAME1: (G1A, G1B), GAME2: (G2A, G2B), SERIES: (SA, SB)}
K = MatchEventKind


class Venue:
    """A paper venue on a kernel with three delayed (3 s) markets of one Bo3."""

    def __init__(self) -> None:
        self.clock = VirtualClock(1_800_000_000 * NS_PER_S)
        self.kernel = Kernel(self.clock)
        self.trades: list[TradeUpdate] = []
        self.kernel.subscribe(TradeUpdate, self.trades.append)
        self.venue = PaperVenue(self.clock, PaperConfig(starting_collateral=1_000 * SCALE))
        for market, game in ((GAME1, 1), (GAME2, 2), (SERIES, None)):
            self.venue.add_market(
                market, TOKENS[market], tick=10_000, min_size=5 * SCALE,
                seconds_delay=3, match_id=MATCH_ID, game_number=game,
            )  # fmt: skip
        self.venue.attach(self.kernel)
        self.signer = FakeSigner()
        self.n = 0
        for market, (a, b) in TOKENS.items():
            for token in (a, b):
                self.publish(
                    BookSnapshot(
                        ts_event=0, ts_init=0, market=market, token_id=token,
                        bids=((400_000, 100 * SCALE),), asks=((600_000, 100 * SCALE),),
                        tick=10_000,
                    )
                )  # fmt: skip

    def publish(self, event: Event) -> None:
        now = self.clock.now_ns()
        self.kernel.publish(stamped(event, now))

    def later(self, ms: int) -> None:
        self.clock.advance_ns(ms * NS_PER_MS)
        self.publish(TimerTick(ts_event=0, ts_init=0))

    def truth(self, state: TruthState, score_a: int, score_b: int = 0) -> None:
        self.publish(
            TruthDelta(
                ts_event=0, ts_init=0, match_id=MATCH_ID, state=state, change="test",
                score_a=score_a, score_b=score_b, team_a="t1", team_b="geng", confidence=9_500,
            )
        )  # fmt: skip

    def report(self, source: str, kind: MatchEventKind, **kw: Any) -> None:
        self.publish(
            MatchEvent(
                ts_event=0, ts_init=0, source=source, match_id=MATCH_ID, provider_match_id="x",
                kind=kind, team_a="t1", team_b="geng", best_of=3, **kw,
            )
        )  # fmt: skip

    async def take(self, token: str) -> VenueOrderStatus:
        """A marketable FAK buy of 10 shares at 0.60 (the ask)."""
        self.n += 1
        spec = OrderSpec(
            client_id=f"c{self.n}", market="", token_id=token, side=Side.BUY, price=600_000,
            size=10 * SCALE, order_type=OrderType.FAK, salt=self.n, timestamp_ms=self.n,
        )  # fmt: skip
        return (await self.venue.submit(self.signer.sign(spec))).status

    def filled(self) -> int:
        return len({t.report.trade_id for t in self.trades})


def stamped(event: Event, now: int) -> Event:
    return msgspec.structs.replace(event, ts_event=now, ts_init=now)


async def test_the_bots_truth_seeing_the_end_first_does_not_lift_the_delay() -> None:
    v = Venue()
    v.truth(TruthState.LIVE, 0)  # game 1 in play
    v.later(60_000)
    v.truth(TruthState.LIVE, 1)  # the bot's truth: game 1 won by t1, game 2 next
    assert v.venue.is_live(GAME1)
    assert await v.take(G1A) is VenueOrderStatus.DELAYED
    v.later(2_900)
    assert v.filled() == 0  # held: the public does not know yet
    v.later(200)
    assert v.filled() == 1  # matched when the full 3 s ended


async def test_the_publics_game_end_before_the_order_means_no_delay() -> None:
    v = Venue()
    v.truth(TruthState.LIVE, 0)
    v.later(60_000)
    v.truth(TruthState.LIVE, 1)
    v.report(PUBLIC_SOURCE, K.GAME_ENDED, game_number=1, winner="t1", score_a=1, score_b=0)
    v.report(PUBLIC_SOURCE, K.GAME_STARTED, game_number=2)
    assert not v.venue.is_live(GAME1)
    assert await v.take(G1A) is VenueOrderStatus.MATCHED
    assert v.filled() == 1
    assert v.venue.is_live(GAME2)  # the next game is in play: its delay applies
    assert v.venue.is_live(SERIES)  # the series goes on
    assert await v.take(G2A) is VenueOrderStatus.DELAYED


async def test_without_the_public_feed_the_delay_holds_until_resolution() -> None:
    v = Venue()
    v.truth(TruthState.LIVE, 0)
    v.truth(TruthState.LIVE, 1)
    v.truth(TruthState.FINAL, 2)  # the bot's truth: t1 won 2-0
    v.report("grid", K.MATCH_ENDED, winner="t1", score_a=2, score_b=0)  # a private source
    v.later(600_000)  # ten minutes on: still no public word
    assert v.venue.is_live(GAME1)
    assert v.venue.is_live(GAME2)
    assert v.venue.is_live(SERIES)
    assert await v.take(SA) is VenueOrderStatus.DELAYED
    v.later(3_100)
    assert v.filled() == 1
    v.publish(MarketResolved(ts_event=0, ts_init=0, market=SERIES, winning_token_id=SA))
    assert not v.venue.is_live(SERIES)
    assert v.venue.is_live(GAME1)  # not resolved yet


async def test_a_private_source_starts_the_delay_and_only_the_public_ends_it() -> None:
    """The bot never saw game 1 in play: a private source's result is the first sign."""
    v = Venue()
    assert not v.venue.is_live(GAME1)
    assert await v.take(G1A) is VenueOrderStatus.MATCHED  # before the game: no delay
    v.report("grid", K.GAME_ENDED, game_number=1, winner="t1", score_a=1, score_b=0)
    assert v.venue.is_live(GAME1)
    assert v.venue.is_live(SERIES)
    assert not v.venue.is_live(GAME2)
    v.report("grid", K.MATCH_CANCELED)  # a private source cannot end it either
    assert v.venue.is_live(GAME1)
    v.report(PUBLIC_SOURCE, K.MATCH_ENDED, winner="t1", score_a=2, score_b=0)
    assert not any(v.venue.is_live(m) for m in TOKENS)
    v.truth(TruthState.LIVE, 1)  # the truth, behind the public, cannot bring it back
    assert not any(v.venue.is_live(m) for m in TOKENS)


async def test_forcing_a_market_live_only_adds_delay() -> None:
    v = Venue()
    v.venue.set_live(GAME2, True)
    assert v.venue.is_live(GAME2)
    v.report(PUBLIC_SOURCE, K.GAME_ENDED, game_number=2, winner="t1")
    assert v.venue.is_live(GAME2)  # forced
    v.venue.set_live(GAME2, False)
    assert not v.venue.is_live(GAME2)
    v.truth(TruthState.LIVE, 0)
    v.venue.set_live(GAME1, False)  # un-forcing does not end what the truth started
    assert v.venue.is_live(GAME1)
