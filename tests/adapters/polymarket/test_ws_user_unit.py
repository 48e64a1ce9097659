"""User-channel frame handling without sockets: de-duplication, REST ordering, fuzzing."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyloly.adapters.polymarket.config import ApiCredentials
from polyloly.adapters.polymarket.events import (
    OrderUpdate,
    TradeStatus,
    TradeUpdate,
    UpdateSource,
)
from polyloly.adapters.polymarket.ws_user import UserWsClient, decode_user_frame
from polyloly.domain.events import Event
from polyloly.runtime.clock import VirtualClock

OWNER = "00000000-0000-0000-0000-000000000001"


class NoRecovery:
    async def open_orders(self) -> list[OrderUpdate]:
        return []

    async def trades(self, after_s: int | None = None) -> list[TradeUpdate]:
        return []


def _client() -> tuple[UserWsClient, list[Event]]:
    out: list[Event] = []
    client = UserWsClient(
        "ws://127.0.0.1:1/ws/user",
        ApiCredentials.of(OWNER, "c2VjcmV0", "p"),
        NoRecovery(),
        out.append,
        VirtualClock(10**18),
    )
    return client, out


def _order(status: str, matched: str, kind: str = "UPDATE") -> dict[str, object]:
    return {
        "event_type": "order",
        "id": "0xo1",
        "market": "0xm",
        "asset_id": "7",
        "side": "BUY",
        "price": "0.5",
        "original_size": "10",
        "size_matched": matched,
        "status": status,
        "type": kind,
        "owner": OWNER,
        "timestamp": "1703875200000",
    }


def _trade(status: str, trade_id: str = "t1") -> dict[str, object]:
    return {
        "event_type": "trade",
        "id": trade_id,
        "market": "0xm",
        "asset_id": "7",
        "side": "BUY",
        "price": "0.5",
        "size": "10",
        "status": status,
        "taker_order_id": "0xo1",
        "trader_side": "TAKER",
        "owner": OWNER,
        "match_time": "1703875260",
        "maker_orders": [],
    }


def test_dedup_and_rest_never_regresses() -> None:
    client, out = _client()
    client.handle_frame(json.dumps(_order("LIVE", "0", "PLACEMENT")))
    client.handle_frame(json.dumps(_order("LIVE", "0", "PLACEMENT")))  # duplicate frame
    client.handle_frame(json.dumps([_trade("MATCHED"), _trade("MINED")]))
    client.handle_frame(json.dumps(_trade("MINED")))
    client.handle_frame(json.dumps(_order("MATCHED", "10")))
    assert [type(e).__name__ for e in out] == [
        "OrderUpdate",
        "TradeUpdate",
        "TradeUpdate",
        "OrderUpdate",
    ]
    assert client.ignored["duplicate_order"] == 1
    assert client.ignored["duplicate_trade"] == 1
    # A REST read that lags behind the socket must not move anything back.
    stale_trade = out[1]
    assert isinstance(stale_trade, TradeUpdate)
    rest_trade = TradeUpdate(
        **{
            f: getattr(stale_trade, f)
            for f in stale_trade.__struct_fields__
            if f not in ("source",)
        },
        source=UpdateSource.REST,
    )
    assert not client.offer_trade(rest_trade)
    live = out[0]
    assert isinstance(live, OrderUpdate)
    rest_order = OrderUpdate(
        **{f: getattr(live, f) for f in live.__struct_fields__ if f not in ("source",)},
        source=UpdateSource.REST,
    )
    assert not client.offer_order(rest_order)
    # A newer status from REST goes through.
    confirmed = TradeUpdate(
        **{
            f: getattr(stale_trade, f)
            for f in stale_trade.__struct_fields__
            if f not in ("source", "status")
        },
        source=UpdateSource.REST,
        status=TradeStatus.CONFIRMED,
    )
    assert client.offer_trade(confirmed)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**20),
    st.text(max_size=10),
    st.sampled_from(
        [
            "0.5",
            "",
            "LIVE",
            "MATCHED",
            "FAILED",
            "TAKER",
            "MAKER",
            "BUY",
            "SELL",
            "abc",
            "-1",
            "2024-01-01T00:00:00Z",
        ]
    ),
)
_FIELDS = [
    "id",
    "market",
    "asset_id",
    "side",
    "price",
    "size",
    "original_size",
    "size_matched",
    "status",
    "type",
    "trader_side",
    "match_time",
    "created_at",
    "expiration",
    "maker_orders",
    "associate_trades",
    "fee_rate_bps",
    "timestamp",
]
_message = st.builds(
    lambda et, base, extra: {"event_type": et, **base, **extra},
    st.sampled_from(["order", "trade", "book", "x"]),
    st.sampled_from([_order("LIVE", "0"), _trade("MATCHED"), {}]),
    st.dictionaries(
        st.sampled_from(_FIELDS),
        st.one_of(
            _scalars,
            st.lists(
                st.dictionaries(
                    st.sampled_from(
                        ["order_id", "asset_id", "price", "matched_amount", "side", "owner"]
                    ),
                    _scalars,
                    max_size=6,
                ),
                max_size=2,
            ),
        ),
        max_size=5,
    ),
)
_frames = st.one_of(
    st.binary(max_size=48),
    st.text(max_size=48),
    _message.map(json.dumps),
    st.lists(_message, max_size=3).map(json.dumps),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames=st.lists(_frames, min_size=1, max_size=5))
def test_fuzzed_user_frames(frames: list[str | bytes]) -> None:
    client, out = _client()
    for frame in frames:
        before_events = len(out)
        before_bad = sum(client.malformed.values())
        if frame in ("PONG", "PING", "NO NEW ASSETS"):  # keepalive text, not JSON
            client.handle_frame(frame)
            continue
        data = frame.encode() if isinstance(frame, str) else frame
        good, bad = decode_user_frame(data)
        client.handle_frame(frame)
        new_bad = sum(client.malformed.values()) - before_bad
        assert new_bad >= len(bad)
        if not good:
            assert len(out) == before_events
            assert new_bad == len(bad)
            if data.strip() != b"[]":
                assert new_bad >= 1
    assert client.malformed["internal_error"] == 0
