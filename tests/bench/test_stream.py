"""The stream generator: deterministic, venue-shaped, consistent, and the mix it promises."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from bench.floor import FLOOR_DECODER, ArrayPipeline
from bench.stream import (
    DECIDED_ASK_FLOOR,
    KIND_BOOK,
    KIND_NAMES,
    KIND_PRICE_CHANGE,
    KIND_TICK,
    LiveStream,
    StreamSpec,
    generate,
    load_stream,
    price_text,
    save_stream,
)

from polyloly.adapters.polymarket.ws_market import MarketWsClient, decode_market_frame
from polyloly.domain.events import Event
from polyloly.runtime.clock import VirtualClock

SPEC = StreamSpec(markets=12, messages=20_000, seed=3, tick_changes_per_million=600)


@pytest.fixture(scope="module")
def stream():  # type: ignore[no-untyped-def]
    return generate(SPEC)


def test_same_spec_same_bytes_and_another_seed_differs(stream) -> None:  # type: ignore[no-untyped-def]
    again = generate(SPEC)
    assert again.frames == stream.frames
    assert list(again.kinds) == list(stream.kinds)
    other = generate(StreamSpec(markets=12, messages=2_000, seed=4))
    assert other.frames[:50] != stream.frames[:50]


def test_mix_matches_the_spec(stream) -> None:  # type: ignore[no-untyped-def]
    n = len(stream)
    assert n >= SPEC.messages
    counts = stream.meta.counts
    assert abs(counts["book"] / n - 0.02) < 0.006
    assert abs(counts["last_trade_price"] / n - 0.05) < 0.006
    assert abs(counts["price_change"] / n - 0.93) < 0.01
    assert counts["tick_size_change"] >= 2
    assert sum(counts.values()) == n
    assert [KIND_NAMES[k] for k in stream.kinds[:2]] == ["book", "book"]


def test_frames_have_the_venue_shapes(stream) -> None:  # type: ignore[no-untyped-def]
    seen_removal = seen_pair = seen_split = False
    for frame, kind in zip(stream.frames, stream.kinds, strict=True):
        msg = msgspec.json.decode(frame)
        assert msg["event_type"] == KIND_NAMES[kind]
        assert msg["timestamp"].isdigit()
        if kind == KIND_BOOK:
            bids = [float(lv["price"]) for lv in msg["bids"]]
            asks = [float(lv["price"]) for lv in msg["asks"]]
            assert bids == sorted(bids), "bids run worst (lowest) to best"
            assert asks == sorted(asks, reverse=True), "asks run worst (highest) to best"
            assert bids[-1] < asks[-1]
        elif kind == KIND_PRICE_CHANGE:
            changes = msg["price_changes"]
            assert set(changes[0]) == {
                "asset_id",
                "price",
                "size",
                "side",
                "hash",
                "best_bid",
                "best_ask",
            }
            seen_removal |= any(c["size"] == "0" for c in changes)
            seen_pair |= len(changes) == 2
            seen_split |= len(changes) == 1
            if len(changes) == 2:  # a level and its mirror on the other token
                a, b = changes
                assert a["side"] != b["side"]
                assert round(float(a["price"]) + float(b["price"]), 6) == 1.0
    assert seen_removal
    assert seen_pair
    assert seen_split


def test_the_real_client_keeps_every_book_in_sync_with_the_ground_truth(stream) -> None:  # type: ignore[no-untyped-def]
    out: list[Event] = []
    client = MarketWsClient("ws://127.0.0.1:9/ws/market", out.append, VirtualClock(10**18))
    asyncio.run(client.subscribe(stream.meta.tokens))
    for frame in stream.frames:
        client.handle_frame(frame)
    assert dict(client.malformed) == {}
    # Only tick changes take a book out of sync (until the snapshot that follows them).
    assert set(client.invalidations) <= {"tick_size_change"}
    assert client.invalidations["tick_size_change"] == stream.meta.counts["tick_size_change"]
    for i, token in enumerate(stream.meta.tokens):
        book = client.books.get(token)
        assert book is not None
        assert book.in_sync
        top = (book.best_bid_price or 0, book.best_ask_price or 1_000_000)
        assert top == tuple(stream.meta.final_tops[i])
        assert book.tick in (None, stream.meta.final_ticks[i // 2])  # known after a change


def test_every_frame_decodes_with_the_project_decoder_and_the_floor(stream) -> None:  # type: ignore[no-untyped-def]
    for frame in stream.frames[:3_000]:
        msgs, bad = decode_market_frame(frame)
        assert len(msgs) == 1
        assert not bad
        FLOOR_DECODER.decode(frame)


def test_the_calibration_pipeline_agrees_with_the_ground_truth(stream) -> None:  # type: ignore[no-untyped-def]
    pipe = ArrayPipeline(stream.meta.tokens, [10_000] * stream.meta.markets)
    signals = sum(pipe.handle(f) for f in stream.frames)
    assert signals == 0  # mirrored books never offer YES + NO under 0.98
    for i, top in enumerate(stream.meta.final_tops):
        assert (pipe.bid_micros(i), pipe.ask_micros(i)) == tuple(top)


def test_tick_changes_move_to_the_finer_grid_and_back(stream) -> None:  # type: ignore[no-untyped-def]
    ticks = [
        msgspec.json.decode(f)["new_tick_size"]
        for f, k in zip(stream.frames, stream.kinds, strict=True)
        if k == KIND_TICK
    ]
    assert {"0.001", "0.01"} <= set(ticks)


@pytest.mark.parametrize(
    ("micros", "text"),
    [(480_000, "0.48"), (500_000, "0.5"), (1_000, "0.001"), (0, "0"), (1_000_000, "1")],
)
def test_prices_are_spelled_like_the_venue(micros: int, text: str) -> None:
    assert price_text(micros) == text


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    small = generate(StreamSpec(markets=3, messages=500, seed=9))
    path = tmp_path / "s.jsonl"
    save_stream(small, path)
    back = load_stream(path)
    assert back.frames == small.frames
    assert list(back.kinds) == list(small.kinds)
    assert list(back.market_of) == list(small.market_of)
    assert back.meta.final_tops == small.meta.final_tops


def test_the_live_stream_continues_exactly_like_the_generator() -> None:
    spec = StreamSpec(markets=5, messages=3_000, seed=5)
    whole = generate(spec)
    live = LiveStream(spec)
    frames, markets = live.initial()
    while len(frames) < len(whole):
        more, more_markets = live.next_batch(500)
        frames += more
        markets.extend(more_markets)
    assert frames[: len(whole)] == whole.frames
    assert list(markets[: len(whole)]) == list(whole.market_of)


def test_shares_that_leave_no_room_are_refused() -> None:
    with pytest.raises(ValueError, match="room"):
        StreamSpec(book_share=0.6, trade_share=0.5).draw_weights()


def test_decided_markets_keep_their_yes_ask_over_the_floor_and_stay_consistent() -> None:
    spec = StreamSpec(markets=10, messages=20_000, seed=11, decided_markets=3)
    stream = generate(spec)
    meta = stream.meta
    assert meta.decided == sorted(meta.activity[1:6:2])  # the 2nd, 4th, 6th most active
    assert meta.initial == 20
    yes = {meta.tokens[2 * m] for m in meta.decided}
    asks = []
    for frame, kind in zip(stream.frames, stream.kinds, strict=True):
        if kind == KIND_PRICE_CHANGE:
            msg = msgspec.json.decode(frame)
            asks += [
                round(float(c["best_ask"]) * 1e6)
                for c in msg["price_changes"]
                if c["asset_id"] in yes
            ]
    assert len(asks) > 1_000
    assert min(asks) >= DECIDED_ASK_FLOOR
    client = MarketWsClient("ws://127.0.0.1:9/ws/market", lambda _e: None, VirtualClock(10**18))
    asyncio.run(client.subscribe(meta.tokens))
    for frame in stream.frames:
        client.handle_frame(frame)
    assert dict(client.malformed) == {}
    for i, token in enumerate(meta.tokens):
        book = client.books.get(token)
        assert book is not None
        assert (book.best_bid_price or 0, book.best_ask_price or 1_000_000) == meta.final_tops[i]
    # Only the decided markets' books are drawn again: the others start as without any.
    plain = generate(StreamSpec(markets=10, messages=20_000, seed=11))
    assert plain.meta.decided == []
    assert plain.meta.activity == meta.activity
    for k in range(meta.initial):
        a, b = msgspec.json.decode(stream.frames[k]), msgspec.json.decode(plain.frames[k])
        same = (a["bids"], a["asks"]) == (b["bids"], b["asks"])
        assert same is (stream.market_of[k] not in meta.decided)
