"""Validation before state: a frame wrong in meaning is refused, counted by reason, never
published; the books it names lose sync (a ``BookInvalidated``) until their next snapshot."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.bot.metrics import Metrics
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    MarketResolved,
    PriceChanges,
    TickSizeChange,
)
from polyloly.node.core import NodeKernel
from polyloly.runtime.clock import VirtualClock

A, B, FOREIGN = "111", "222", "999"
MKT, OTHER = "0xmarket", "0xother"
DATA = (BookSnapshot, PriceChanges, TickSizeChange, MarketResolved)


def _book(
    asset: str,
    bids: list[tuple[str, str]],
    asks: list[tuple[str, str]],
    *,
    market: str = MKT,
    tick: str | None = "0.01",
    ts: int = 1,
) -> str:
    msg: dict[str, object] = {
        "event_type": "book",
        "market": market,
        "asset_id": asset,
        "timestamp": str(ts),
        "bids": [{"price": p, "size": s} for p, s in bids],
        "asks": [{"price": p, "size": s} for p, s in asks],
    }
    if tick is not None:
        msg["tick_size"] = tick
    return json.dumps(msg)


def _pc(*changes: tuple[str, str, str, str], ts: int = 2) -> str:
    return json.dumps(
        {
            "event_type": "price_change",
            "market": MKT,
            "timestamp": str(ts),
            "price_changes": [
                {"asset_id": a, "side": side, "price": p, "size": s} for a, side, p, s in changes
            ],
        }
    )


def _tick(asset: str, old: str, new: str) -> str:
    return json.dumps(
        {
            "event_type": "tick_size_change",
            "market": MKT,
            "asset_id": asset,
            "old_tick_size": old,
            "new_tick_size": new,
            "timestamp": "3",
        }
    )


def _resolved(market: str, winner: str) -> str:
    return json.dumps(
        {
            "event_type": "market_resolved",
            "market": market,
            "winning_asset_id": winner,
            "assets_ids": [winner],  # the frame's own list proves nothing: a forged one agrees
            "timestamp": "9",
        }
    )


async def _synced() -> tuple[MarketWsClient, list[Event]]:
    out: list[Event] = []
    client = MarketWsClient("ws://127.0.0.1:1/ws/market", out.append, VirtualClock(10**18))
    await client.subscribe([A, B])
    client.handle_frame(_book(A, [("0.40", "10")], [("0.45", "10")]))
    client.handle_frame(_book(B, [("0.55", "10")], [("0.60", "10")]))
    assert client.in_sync(A)
    assert client.in_sync(B)
    out.clear()
    return client, out


def _refused_only(out: list[Event], *unsynced: str) -> None:
    """Nothing but ``BookInvalidated`` for exactly these tokens was published."""
    assert not [e for e in out if isinstance(e, DATA)]
    assert sorted(e.token_id for e in out if isinstance(e, BookInvalidated)) == sorted(unsynced)


BAD_SNAPSHOTS = [
    ("crossed_book", [("0.50", "10")], [("0.45", "10")]),
    ("crossed_book", [("0.45", "10")], [("0.45", "10")]),  # a locked book is crossed too
    ("bad_size", [("0.40", "0")], [("0.45", "10")]),
    ("bad_size", [("0.40", "")], [("0.45", "10")]),
    ("bad_size", [("0.40", "-1")], [("0.45", "10")]),
    ("bad_number", [("0.40", "NaN")], [("0.45", "10")]),
    ("bad_price", [("0", "10")], [("0.45", "10")]),
    ("bad_price", [("0.40", "10")], [("1", "10")]),
    ("off_tick", [("0.405", "10")], [("0.45", "10")]),
    ("duplicate_level", [("0.40", "10"), ("0.40", "5")], [("0.45", "10")]),
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reason", "bids", "asks"), BAD_SNAPSHOTS)
async def test_a_bad_snapshot_is_refused_and_unsyncs_its_book(
    reason: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]]
) -> None:
    client, out = await _synced()
    client.handle_frame(_book(A, bids, asks, ts=5))
    assert client.refused == {reason: 1}
    assert not client.in_sync(A)
    book = client.books.book(A)
    assert book.bid_size(500_000) == book.bid_size(405_000) == 0  # no refused level is in it
    _refused_only(out, A)
    # resynced from the next (valid) snapshot
    client.handle_frame(_book(A, [("0.41", "3")], [("0.44", "3")], ts=6))
    assert client.in_sync(A)
    assert isinstance(out[-1], BookSnapshot)


@pytest.mark.asyncio
async def test_an_off_tick_snapshot_inside_the_band_is_not_a_missed_tick_change() -> None:
    client, out = await _synced()
    client.handle_frame(_book(A, [("0.405", "10")], [("0.45", "10")], tick=None, ts=5))
    assert client.refused == {"off_tick": 1}
    assert not client.in_sync(A)
    _refused_only(out, A)


BAD_CHANGES = [
    ("bad_size", ("111", "BUY", "0.41", "")),
    ("bad_size", ("111", "BUY", "0.41", "-2")),
    ("bad_number", ("111", "BUY", "0.41", "NaN")),
    ("bad_price", ("111", "SELL", "1.01", "5")),
    ("off_tick", ("111", "SELL", "0.475", "5")),
    ("crossed_book", ("111", "BUY", "0.46", "5")),  # a bid above the best ask: a missed update
]


@pytest.mark.asyncio
@pytest.mark.parametrize(("reason", "change"), BAD_CHANGES)
async def test_a_frame_with_one_bad_change_is_refused_whole(
    reason: str, change: tuple[str, str, str, str]
) -> None:
    client, out = await _synced()
    client.handle_frame(_pc(("222", "BUY", "0.56", "4"), change))
    assert client.refused == {reason: 1}
    assert not client.in_sync(A)
    assert not client.in_sync(B)  # the frame was refused: B missed an update
    if reason not in ("crossed_book", "bad_size", "bad_number"):
        assert client.books.book(A).ask_size(475_000) == 0  # the bad level is nowhere
        assert client.books.book(A).ask_size(1_010_000) == 0
    _refused_only(out, A, B)


@pytest.mark.asyncio
async def test_size_zero_removes_a_level_and_is_legal() -> None:
    client, out = await _synced()
    client.handle_frame(_pc((A, "BUY", "0.40", "0")))
    assert client.refused == {}
    assert client.in_sync(A)
    assert client.books.book(A).best_bid is None
    assert isinstance(out[-1], PriceChanges)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reason", "old", "new"),
    [("bad_tick", "0.01", "0.02"), ("bad_tick", "0.01", "0"), ("tick_mismatch", "0.001", "0.0001")],
)
async def test_an_illegal_or_inconsistent_tick_change_is_refused(
    reason: str, old: str, new: str
) -> None:
    client, out = await _synced()
    client.handle_frame(_tick(A, old, new))
    assert client.refused == {reason: 1}
    assert not client.in_sync(A)
    assert client.books.book(A).tick == 10_000
    _refused_only(out, A)


@pytest.mark.asyncio
async def test_a_legal_tick_change_is_published() -> None:
    client, out = await _synced()
    client.handle_frame(_tick(A, "0.01", "0.001"))
    assert client.refused == {}
    assert [type(e) for e in out] == [TickSizeChange, BookInvalidated]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("reason", "market", "winner"),
    [("foreign_token", MKT, FOREIGN), ("unknown_market", OTHER, A)],
)
async def test_a_resolution_naming_no_token_of_its_market_is_never_published(
    reason: str, market: str, winner: str
) -> None:
    client, out = await _synced()
    client.handle_frame(_resolved(market, winner))
    assert client.refused == {reason: 1}
    assert out == []
    client.handle_frame(_resolved(MKT, B))
    assert isinstance(out[-1], MarketResolved)
    assert out[-1].winning_token_id == B


@pytest.mark.asyncio
async def test_refusals_are_exported_by_reason() -> None:
    client, _ = await _synced()
    client.handle_frame(_book(A, [("0.50", "10")], [("0.45", "10")]))
    client.handle_frame(_resolved(MKT, FOREIGN))
    client.handle_frame("not json")
    metrics = Metrics(VirtualClock(10**18))
    metrics.watch_refused_frames(client.refused.copy)
    samples = {
        s.labels["reason"]: s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == "polyloly_frames_refused_total"
    }
    assert samples == {"crossed_book": 1, "foreign_token": 1, "invalid_json": 1}
    assert client.malformed == {"invalid_json": 1}  # the other two parsed: wrong in meaning


def test_a_failing_kernel_handler_is_logged_not_raised() -> None:
    kernel = NodeKernel(VirtualClock(10**18))

    def boom(_event: Event) -> None:
        raise RuntimeError("handler broke")

    kernel.subscribe(BookInvalidated, boom)
    kernel.publish(BookInvalidated(ts_event=1, ts_init=1, token_id=A, reason="test"))
    assert kernel.handler_errors == 1
