"""Market-channel frame handling without sockets: sync rules, and fuzzed frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyloly.adapters.polymarket.ws_market import MarketWsClient, decode_market_frame
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    PriceChanges,
    TickSizeChange,
)
from polyloly.runtime.clock import VirtualClock

A = "111"
B = "222"
MKT = "0xmarket"


def _client() -> tuple[MarketWsClient, list[Event]]:
    out: list[Event] = []
    client = MarketWsClient("ws://127.0.0.1:1/ws/market", out.append, VirtualClock(10**18))
    return client, out


def _book(asset: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ts: int = 1) -> str:
    return json.dumps(
        {
            "event_type": "book",
            "market": MKT,
            "asset_id": asset,
            "timestamp": str(ts),
            "bids": [{"price": p, "size": s} for p, s in bids],
            "asks": [{"price": p, "size": s} for p, s in asks],
        }
    )


def _change(
    asset: str, side: str, price: str, size: str, ts: int = 2, **hint: str
) -> dict[str, Any]:
    return {"asset_id": asset, "price": price, "size": size, "side": side, **hint}


def _pc(*changes: dict[str, Any], ts: int = 2) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": MKT,
            "timestamp": str(ts),
            "price_changes": list(changes),
        }
    )


@pytest.mark.asyncio
async def test_sync_rules() -> None:
    client, out = _client()
    await client.subscribe([A, B])
    # A change before any snapshot is dropped: the book is not in sync.
    client.handle_frame(_pc(_change(A, "BUY", "0.50", "10")))
    assert out == []
    assert client.ignored["unsynced_change"] == 1
    # An array frame with both books.
    client.handle_frame(
        "["
        + _book(A, [("0.49", "5"), ("0.50", "7")], [("0.52", "3")])
        + ","
        + _book(B, [("0.47", "1")], [("0.53", "2")])
        + "]"
    )
    assert [type(e) for e in out] == [BookSnapshot, BookSnapshot]
    assert client.in_sync(A)
    assert client.in_sync(B)
    book = client.books.book(A)
    assert book.bids() == [(500_000, 7_000_000), (490_000, 5_000_000)]
    # A multi-asset change with correct top-of-book hints.
    client.handle_frame(
        _pc(
            _change(A, "SELL", "0.51", "4", best_bid="0.5", best_ask="0.51"),
            _change(B, "BUY", "0.47", "0", best_bid="0", best_ask="0.53"),
        )
    )
    assert isinstance(out[-1], PriceChanges)
    assert len(out[-1].changes) == 2
    assert book.best_ask == (510_000, 4_000_000)
    assert client.books.book(B).best_bid is None
    # A wrong hint means a missed update: the book is invalidated at once.
    client.handle_frame(_pc(_change(A, "BUY", "0.48", "1", best_bid="0.49", best_ask="0.51")))
    assert isinstance(out[-1], BookInvalidated)
    assert out[-1].token_id == A
    assert not client.in_sync(A)
    # A tick change invalidates, later changes are dropped until a fresh snapshot.
    client.handle_frame(
        json.dumps(
            {
                "event_type": "tick_size_change",
                "market": MKT,
                "asset_id": B,
                "old_tick_size": "0.01",
                "new_tick_size": "0.001",
                "timestamp": "3",
            }
        )
    )
    assert [type(e) for e in out[-2:]] == [TickSizeChange, BookInvalidated]
    n = len(out)
    client.handle_frame(_pc(_change(B, "BUY", "0.471", "9")))
    assert len(out) == n
    client.handle_frame(_book(B, [("0.471", "9")], [("0.529", "1")], ts=4))
    assert client.in_sync(B)
    assert client.books.book(B).tick == 1_000
    # Trades and resolution pass through for followed tokens only.
    client.handle_frame(
        json.dumps(
            {
                "event_type": "last_trade_price",
                "market": MKT,
                "asset_id": B,
                "price": "0.5",
                "size": "1",
                "side": "BUY",
                "timestamp": "5",
            }
        )
    )
    client.handle_frame(
        json.dumps(
            {
                "event_type": "last_trade_price",
                "market": MKT,
                "asset_id": "999",
                "price": "0.5",
                "size": "1",
                "side": "BUY",
                "timestamp": "5",
            }
        )
    )
    client.handle_frame(
        json.dumps(
            {
                "event_type": "market_resolved",
                "market": MKT,
                "winning_asset_id": B,
                "assets_ids": [A, B],
                "timestamp": "6",
            }
        )
    )
    assert [type(e) for e in out[-2:]] == [LastTrade, MarketResolved]
    for text in ("PONG", "NO NEW ASSETS"):
        client.handle_frame(text)
    assert sum(client.malformed.values()) == 0


@pytest.mark.asyncio
async def test_stale_tick_snapshot_infers_a_finer_tick() -> None:
    client, out = _client()
    await client.subscribe([A])
    client.handle_frame(_book(A, [("0.95", "1")], [("0.97", "1")]))
    client.handle_frame(
        json.dumps(
            {
                "event_type": "tick_size_change",
                "market": MKT,
                "asset_id": A,
                "old_tick_size": "0.001",
                "new_tick_size": "0.01",
                "timestamp": "3",
            }
        )
    )
    # The book now believes 0.01, but a snapshot on 0.001 arrives (a missed change back).
    client.handle_frame(_book(A, [("0.965", "1")], [("0.971", "1")], ts=4))
    snap = out[-1]
    assert isinstance(snap, BookSnapshot)
    assert snap.tick == 1_000
    assert client.in_sync(A)


@pytest.mark.asyncio
async def test_bad_messages_are_counted_not_raised() -> None:
    client, out = _client()
    await client.subscribe(["1"])
    client.handle_frame("not json")
    client.handle_frame('{"event_type": "mystery", "market": "x"}')
    client.handle_frame('[{"event_type": "book", "market": "m"}, 5]')
    client.handle_frame(
        b'{"event_type": "book", "market": "m", "asset_id": "1",'
        b' "bids": [{"price": "abc", "size": "1"}]}'
    )
    assert out == []
    assert client.malformed == {
        "invalid_json": 1,
        "unknown_event_type": 1,
        "schema": 2,
        "bad_number": 1,
    }


# ---------------------------------------------------------------------------------------------
# Fuzzing
# ---------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["0.5", "0", "1", "-1", "1e999", "0.0000001", "NaN", "", A, B, "BUY", "SELL"]),
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_EVENT_TYPES = [
    "book",
    "price_change",
    "last_trade_price",
    "tick_size_change",
    "best_bid_ask",
    "new_market",
    "market_resolved",
    "order",
    "trade",
    "bogus",
]
_FIELDS = [
    "market",
    "asset_id",
    "timestamp",
    "bids",
    "asks",
    "price_changes",
    "price",
    "size",
    "side",
    "old_tick_size",
    "new_tick_size",
    "winning_asset_id",
    "best_bid",
    "best_ask",
    "hash",
    "tick_size",
]
_level = st.fixed_dictionaries({"price": _scalars, "size": _scalars})
_message = st.builds(
    lambda et, base, extra: {"event_type": et, **base, **extra},
    st.sampled_from(_EVENT_TYPES),
    st.fixed_dictionaries({"market": st.just(MKT), "asset_id": st.sampled_from([A, B, "9"])}),
    st.dictionaries(
        st.sampled_from(_FIELDS),
        st.one_of(
            _scalars,
            st.lists(_level, max_size=3),
            st.lists(
                st.fixed_dictionaries(
                    {
                        "asset_id": st.sampled_from([A, B]),
                        "price": _scalars,
                        "size": _scalars,
                        "side": _scalars,
                    }
                ),
                max_size=3,
            ),
        ),
        max_size=6,
    ),
)
_frames = st.one_of(
    st.binary(max_size=64),
    st.text(max_size=64),
    _json.map(json.dumps),
    _message.map(json.dumps),
    st.lists(_message, max_size=4).map(json.dumps),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(_frames, min_size=1, max_size=6))
def test_fuzzed_frames_never_crash_and_are_counted(frames: list[str | bytes]) -> None:
    client, out = _client()
    asyncio.run(client.subscribe([A, B]))
    client.handle_frame(_book(A, [("0.40", "1")], [("0.60", "1")]))
    client.handle_frame(_book(B, [("0.40", "1")], [("0.60", "1")]))
    for frame in frames:
        before_events = len(out)
        before_bad = sum(client.malformed.values())
        if frame in ("PONG", "PING", "NO NEW ASSETS"):  # keepalive text, not JSON
            client.handle_frame(frame)
            continue
        data = frame.encode() if isinstance(frame, str) else frame
        good, bad = decode_market_frame(data)
        client.handle_frame(frame)
        new_bad = sum(client.malformed.values()) - before_bad
        assert new_bad >= len(bad)
        if not good:
            assert len(out) == before_events, "an unparsable frame produced an event"
            assert new_bad == len(bad)
            if data.strip() != b"[]":  # an empty array is valid JSON with nothing in it
                assert new_bad >= 1
        for event in out[before_events:]:
            assert isinstance(event, Event)
    assert client.malformed["internal_error"] == 0
    for token in (A, B):
        book = client.books.book(token)
        if book.in_sync:
            assert all(0 < p < 1_000_000 and s > 0 for p, s in book.bids() + book.asks())
