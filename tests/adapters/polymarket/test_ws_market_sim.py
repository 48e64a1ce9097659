"""Market WebSocket client against the local exchange over real loopback sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import random

import pytest

from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    FeedStatus,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.orderbook import BookSet
from polyloly.runtime.clock import LiveClock
from polyloly.sim.exchange import ExchangeSimulator, SimMarket

from .conftest import FAST_WS, wait_for

TEAMS = [
    ("T1", "Gen.G"),
    ("G2", "Fnatic"),
    ("BLG", "JDG"),
    ("Team Liquid", "Tundra"),
    ("Aurora", "BetBoom"),
    ("HLE", "KT"),
    ("MAD", "KOI"),
    ("TES", "WBG"),
    ("Spirit", "Falcons"),
    ("OG", "Gaimin"),
]


def _list_markets(sim: ExchangeSimulator) -> list[str]:
    tokens: list[str] = []
    for i, (a, b) in enumerate(TEAMS):
        game = "lol" if i % 2 == 0 else "dota2"
        prefix = "LoL" if game == "lol" else "Dota 2"
        listing = sim.add_market(
            SimMarket(
                question=f"{prefix}: {a} vs {b} (BO3) - Test",
                outcomes=(a, b),
                game=game,
                slug=f"{game}-m{i}-2026-11-25",
            )
        )
        tokens.extend(listing.token_ids)
    return tokens


def _books_equal(client: MarketWsClient, sim: ExchangeSimulator, tokens: list[str]) -> bool:
    for token in tokens:
        book = client.books.get(token)
        if book is None or not book.in_sync:
            return False
        bids, asks = sim.book(token)
        if book.bids() != list(bids) or book.asks() != list(asks):
            return False
    return True


def _check_stream(events: list[Event], tokens: list[str]) -> BookSet:
    """Replay the published stream like the kernel would; no delta may hit an unsynced book."""
    books = BookSet()
    for event in events:
        if isinstance(event, PriceChanges):
            for ch in event.changes:
                assert books.book(ch.token_id).in_sync, (
                    "a change was published for an unsynced book"
                )
        books.apply(event)
    return books


def _random_change(
    sim: ExchangeSimulator,
    rng: random.Random,
    tokens: list[str],
    resting: dict[str, list[str]],
    tick: dict[str, int],
) -> None:
    """Cancel a random resting order or rest a new one (never crossing: bids < 0.5 < asks)."""
    token = rng.choice(tokens)
    if resting[token] and rng.random() < 0.45:
        sim.cancel_resting(resting[token].pop(rng.randrange(len(resting[token]))))
        return
    side = rng.choice([Side.BUY, Side.SELL])
    t = tick[token]
    if side is Side.BUY:
        price = rng.randrange(10_000 // t, 490_000 // t + 1) * t
    else:
        price = rng.randrange(510_000 // t, 990_000 // t + 1) * t
    size = rng.randrange(1, 500) * 1_000_000
    resting[token].append(sim.place_resting(token, side, price, size))


@pytest.mark.asyncio
@pytest.mark.timeout(120)
async def test_books_match_after_10k_changes_with_faults(sim: ExchangeSimulator) -> None:
    tokens = _list_markets(sim)
    assert len(tokens) == 20
    rng = random.Random(42)
    resting: dict[str, list[str]] = {t: [] for t in tokens}
    # Some initial depth so every book has levels on both sides.
    for token in tokens:
        for k in range(3):
            resting[token].append(
                sim.place_resting(token, Side.BUY, 400_000 - k * 10_000, 10_000_000)
            )
            resting[token].append(
                sim.place_resting(token, Side.SELL, 600_000 + k * 10_000, 10_000_000)
            )

    events: list[Event] = []
    client = MarketWsClient(
        sim.market_ws_url, events.append, LiveClock(), FAST_WS, rand=random.Random(3).random
    )
    await client.subscribe(tokens)
    client.start()
    try:
        await wait_for(lambda: _books_equal(client, sim, tokens), what="initial books")
        tick_token = tokens[5]
        tick = {t: 10_000 for t in tokens}
        for step in range(10_000):
            _random_change(sim, rng, tokens, resting, tick)
            if step % 2_000 == 1_000:
                sim.faults.drop_ws_connections()
            if step == 5_500:
                # Stall a connection whose books are in sync: they must be invalidated.
                await wait_for(lambda: _books_equal(client, sim, tokens), what="sync before stall")
                sim.faults.stall_ws(None)
                # No data and no PONG: the client must notice by itself and drop its books.
                await wait_for(lambda: not any(client.in_sync(t) for t in tokens), what="stall")
                sim.faults.clear()
            if step == 7_500:
                await wait_for(lambda: _books_equal(client, sim, tokens), what="sync before tick")
                sim.set_tick_size(tick_token, 1_000)
                tick[tick_token] = 1_000
            if step % 25 == 0:
                await asyncio.sleep(0)
        await wait_for(
            lambda: _books_equal(client, sim, tokens), timeout_s=20, what="books converge"
        )
    finally:
        await client.stop()

    socks = client.sockets
    assert sum(s.stats.disconnects for s in socks) >= 5
    assert sum(s.stats.stalls for s in socks) >= 1
    assert client.invalidations["stalled"] >= 1
    assert client.invalidations["tick_size_change"] >= 1
    assert any(isinstance(e, TickSizeChange) and e.token_id == tick_token for e in events)
    assert sum(isinstance(e, BookInvalidated) for e in events) >= 5 * len(tokens)
    assert any(isinstance(e, FeedStatus) for e in events)
    assert sum(client.malformed.values()) == 0
    replayed = _check_stream(events, tokens)
    for token in tokens:
        assert replayed.book(token).bids() == client.books.book(token).bids()
        assert replayed.book(token).asks() == client.books.book(token).asks()
    assert sum(isinstance(e, PriceChanges) for e in events) > 1_000  # timing-dependent
    assert sum(isinstance(e, BookSnapshot) for e in events) >= 6 * len(tokens)


@pytest.mark.asyncio
async def test_malformed_duplicated_and_reordered_frames(sim: ExchangeSimulator) -> None:
    tokens = _list_markets(sim)[:2]
    events: list[Event] = []
    client = MarketWsClient(
        sim.market_ws_url, events.append, LiveClock(), FAST_WS, rand=random.Random(5).random
    )
    await client.subscribe(tokens)
    client.start()
    try:
        await wait_for(lambda: _books_equal(client, sim, tokens), what="initial books")
        sim.faults.malform_frames(3)
        sim.faults.duplicate_frames(5)
        sim.faults.reorder_frames(5)
        rng = random.Random(1)
        for _ in range(200):
            token = rng.choice(tokens)
            side = rng.choice([Side.BUY, Side.SELL])
            price = (
                rng.randrange(1, 49) * 10_000
                if side is Side.BUY
                else rng.randrange(51, 99) * 10_000
            )
            sim.place_resting(token, side, price, rng.randrange(1, 50) * 1_000_000)
            await asyncio.sleep(0)
        # Whatever the faults did, the client either holds the venue's book or knows it
        # does not (and resyncs): it converges to the venue's books.
        await wait_for(lambda: _books_equal(client, sim, tokens), timeout_s=15, what="convergence")
    finally:
        await client.stop()
    assert sum(client.malformed.values()) >= 3
    _check_stream(events, tokens)


@pytest.mark.asyncio
async def test_sim_frames_parse_with_the_adapter_schemas(sim: ExchangeSimulator) -> None:
    """Every frame the simulator sends decodes with the same schemas as the real payloads."""
    tokens = _list_markets(sim)[:2]
    events: list[Event] = []
    client = MarketWsClient(sim.market_ws_url, events.append, LiveClock(), FAST_WS)
    await client.subscribe(tokens)
    client.start()
    try:
        await wait_for(lambda: all(client.in_sync(t) for t in tokens), what="books")
        sim.place_resting(tokens[0], Side.SELL, 550_000, 20_000_000, owner="mm-2")
        sim.submit(tokens[0], Side.BUY, 550_000, 5_000_000)
        sim.set_tick_size(tokens[1], 1_000)
        listing = sim.markets()[0]
        sim.resolve(listing.condition_id, listing.token_ids[0])
        await wait_for(
            lambda: any(type(e).__name__ == "MarketResolved" for e in events), what="resolution"
        )
    finally:
        await client.stop()
    kinds = {type(e).__name__ for e in events}
    assert {
        "BookSnapshot",
        "PriceChanges",
        "LastTrade",
        "TickSizeChange",
        "MarketResolved",
    } <= kinds
    assert sum(client.malformed.values()) == 0, client.malformed


@pytest.mark.asyncio
async def test_tokens_are_sharded_and_subscribed_live(sim: ExchangeSimulator) -> None:
    tokens = _list_markets(sim)
    for token in tokens:
        sim.place_resting(token, Side.BUY, 300_000, 5_000_000)
    events: list[Event] = []
    config = dataclasses.replace(FAST_WS, max_assets_per_connection=3)
    client = MarketWsClient(sim.market_ws_url, events.append, LiveClock(), config)
    await client.subscribe(tokens[:10])
    client.start()
    try:
        await wait_for(lambda: _books_equal(client, sim, tokens[:10]), what="first ten")
        assert len(client.sockets) == 4  # 3 + 3 + 3 + 1
        # More tokens while running: the last shard fills up, then new connections open.
        await client.subscribe(tokens[10:])
        await wait_for(lambda: _books_equal(client, sim, tokens), what="all twenty")
        assert len(client.sockets) == 7
        assert client.tokens == frozenset(tokens)
        await client.unsubscribe(tokens[:2])
        assert not client.in_sync(tokens[0])
        invalidated = {e.token_id for e in events if isinstance(e, BookInvalidated)}
        assert set(tokens[:2]) <= invalidated
        n = len(events)
        sim.place_resting(tokens[0], Side.BUY, 310_000, 5_000_000)
        sim.place_resting(tokens[5], Side.BUY, 310_000, 5_000_000)
        await wait_for(lambda: _books_equal(client, sim, tokens[2:]), what="others still live")
        assert not any(
            isinstance(e, PriceChanges) and any(c.token_id == tokens[0] for c in e.changes)
            for e in events[n:]
        )
    finally:
        await client.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize("compression", [False, True])
async def test_permessage_deflate_is_offered_only_when_configured(compression: bool) -> None:
    """Compression off by default (CPU on the hot path); on when the settings ask for it."""
    from websockets.asyncio.server import ServerConnection, serve

    offered: list[str | None] = []

    async def handler(ws: ServerConnection) -> None:
        offered.append(ws.request.headers.get("Sec-WebSocket-Extensions") if ws.request else None)
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        config = dataclasses.replace(FAST_WS, compression=compression)
        client = MarketWsClient(f"ws://127.0.0.1:{port}", lambda _e: None, LiveClock(), config)
        await client.subscribe(["1"])
        client.start()
        try:
            await wait_for(lambda: bool(offered))
        finally:
            await client.stop()
    assert (offered[0] is not None and "permessage-deflate" in offered[0]) is compression
