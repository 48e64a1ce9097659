"""Every recorded Polymarket payload parses with the adapter's schemas and parsers."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from polyloly.adapters.polymarket import schemas
from polyloly.adapters.polymarket.events import (
    OrderStatus,
    OrderUpdateKind,
    TraderSide,
    TradeStatus,
    UpdateSource,
)
from polyloly.adapters.polymarket.gamma import map_market
from polyloly.adapters.polymarket.http import order_ack
from polyloly.adapters.polymarket.parsing import (
    book_snapshot,
    last_trade,
    market_resolved,
    order_update,
    price_changes,
    tick_change,
    trade_update,
)
from polyloly.adapters.polymarket.ws_market import decode_market_frame
from polyloly.adapters.polymarket.ws_user import decode_user_frame
from polyloly.domain.events import BookSnapshot, PriceChanges, Side
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.errors import RejectError

TS = 1_800_000_000_000_000_000

# Untagged recordings (no ``event_type``): which struct each file is.
UNTAGGED: dict[str, type] = {
    "ws_book_snapshot.json": schemas.WsBook,
    "ws_last_trade.json": schemas.WsLastTradePrice,
    "ws_quotes.json": schemas.WsPriceChangeMsg,
    "ws_tick_size_change.json": schemas.WsTickSizeChange,
    "ws_user_order_cancellation.json": schemas.WsUserOrder,
    "ws_user_order_matched.json": schemas.WsUserOrder,
    "ws_user_order_placement.json": schemas.WsUserOrder,
    "ws_user_order_update.json": schemas.WsUserOrder,
    "ws_user_order_venue_cancel.json": schemas.WsUserOrder,
    "ws_user_trade.json": schemas.WsUserTrade,
    "py_ws_trades.json": schemas.WsUserTrade,
}

HTTP: dict[str, object] = {
    "http_balance_allowance_collateral.json": schemas.BalanceAllowanceReply,
    "http_balance_allowance_no_allowance.json": schemas.BalanceAllowanceReply,
    "http_batch_cancel_response.json": schemas.CancelReply,
    "http_cancel_response_failed.json": schemas.CancelReply,
    "http_cancel_response_ok.json": schemas.CancelReply,
    "http_open_order.json": schemas.WsUserOrder,
    "http_open_order_sell_fok.json": schemas.WsUserOrder,
    "http_open_orders_page.json": schemas.Page[schemas.WsUserOrder],
    "http_order_response_error_500.json": schemas.ErrorReply,
    "http_order_response_failed.json": schemas.OrderReply,
    "http_order_response_ok.json": schemas.OrderReply,
    "http_signed_order.json": schemas.SignedOrderBody,
    "http_trade_report.json": schemas.WsUserTrade,
    "http_trades_page.json": schemas.Page[schemas.WsUserTrade],
}


def _files(folder: Path, *patterns: str) -> list[Path]:
    out: list[Path] = []
    for pattern in patterns:
        out.extend(sorted(folder.glob(pattern)))
    return out


def _trade(msg: schemas.WsUserTrade, ts: int) -> object:
    return trade_update(msg, ts, UpdateSource.WS, own_owner="00000000-0000-0000-0000-000000000001")


_PARSERS: dict[type, object] = {
    schemas.WsBook: book_snapshot,
    schemas.WsPriceChangeMsg: price_changes,
    schemas.WsLastTradePrice: last_trade,
    schemas.WsTickSizeChange: tick_change,
    schemas.WsMarketResolved: market_resolved,
    schemas.WsUserOrder: lambda m, ts: order_update(m, ts, UpdateSource.WS),
    schemas.WsUserTrade: _trade,
}


def _to_event(msg: object) -> object:
    parse = _PARSERS.get(type(msg))
    return msg if parse is None else parse(msg, TS)  # type: ignore[operator]


def test_every_ws_fixture_parses(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    files = _files(folder, "ws_*.json", "py_ws_*.json")
    assert len(files) >= 29
    for path in files:
        data = path.read_bytes()
        typ = UNTAGGED.get(path.name)
        if typ is not None:
            msgs = [msgspec.json.decode(data, type=typ, strict=False)]
        else:
            market, bad_m = decode_market_frame(data)
            user, bad_u = decode_user_frame(data)
            msgs = [*market, *user]
            assert msgs, f"{path.name}: {bad_m} {bad_u}"
        for msg in msgs:
            assert _to_event(msg) is not None, path.name


def test_every_http_fixture_parses(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    files = _files(folder, "http_*.json")
    assert {p.name for p in files} == set(HTTP)
    for path in files:
        decoded = msgspec.json.decode(path.read_bytes(), type=HTTP[path.name], strict=False)
        for row in getattr(decoded, "data", None) or [decoded]:
            _to_event(row)


def test_every_gamma_fixture_parses(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    files = _files(folder, "gamma_*.json")
    assert len(files) >= 8
    for path in files:
        data = path.read_bytes()
        if path.name == "gamma_event.json":
            events = msgspec.json.decode(data, type=list[schemas.GammaEvent])
            assert events[0].markets
        else:
            market = msgspec.json.decode(data, type=schemas.GammaMarket)
            assert market.conditionId


def test_book_fixture_values(real_fixtures: Path) -> None:
    data = (real_fixtures / "polymarket" / "ws_market_book_msg.json").read_bytes()
    [msg], bad = decode_market_frame(data)
    assert not bad
    snap = _to_event(msg)
    assert isinstance(snap, BookSnapshot)
    assert snap.bids == ((500_000, 200_000_000), (490_000, 350_000_000))
    assert snap.asks == ((510_000, 150_000_000), (520_000, 250_000_000))
    assert snap.ts_event == 1_703_875_200_000 * 1_000_000


def test_py_ws_book_is_sorted_best_first(real_fixtures: Path) -> None:
    data = (real_fixtures / "polymarket" / "py_ws_book.json").read_bytes()
    [msg], _ = decode_market_frame(data)
    snap = _to_event(msg)
    assert isinstance(snap, BookSnapshot)
    bids = [p for p, _ in snap.bids]
    asks = [p for p, _ in snap.asks]
    assert bids == sorted(bids, reverse=True)
    assert asks == sorted(asks)
    assert bids[0] < asks[0]


def test_legacy_and_multi_asset_price_change(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    [legacy], _ = decode_market_frame((folder / "py_ws_price_change.json").read_bytes())
    ev = _to_event(legacy)
    assert isinstance(ev, PriceChanges)
    assert len(ev.changes) == 1
    assert ev.changes[0].price == 514_000
    assert ev.changes[0].size == 21_574_080_000
    quotes = msgspec.json.decode(
        (folder / "ws_quotes.json").read_bytes(), type=schemas.WsPriceChangeMsg, strict=False
    )
    ev2 = _to_event(quotes)
    assert isinstance(ev2, PriceChanges)
    assert {c.token_id for c in ev2.changes} == {
        "71321045679252212594626385532706912750332728571942532289631379312455583992563",
        "52114319501245915516055106046884209969926127482827954674443846427813813222426",
    }


def test_user_order_fixtures(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    fok = msgspec.json.decode(
        (folder / "ws_user_order_fok_killed.json").read_bytes(),
        type=schemas.WsUserOrder,
        strict=False,
    )
    upd = order_update(fok, TS, UpdateSource.WS)
    assert upd.status is OrderStatus.CANCELED
    assert upd.kind is OrderUpdateKind.CANCELLATION
    assert "FOK" in upd.status_detail
    assert upd.size_matched == 0
    assert upd.created_at_ns is None
    venue_cancel = msgspec.json.decode(
        (folder / "ws_user_order_venue_cancel.json").read_bytes(),
        type=schemas.WsUserOrder,
        strict=False,
    )
    assert order_update(venue_cancel, TS, UpdateSource.WS).status is OrderStatus.INVALID
    placement = msgspec.json.decode(
        (folder / "py_ws_order_placement.json").read_bytes(), type=schemas.WsUserOrder, strict=False
    )
    p = order_update(placement, TS, UpdateSource.WS)
    assert p.created_at_ns == 1_725_842_520 * 1_000_000_000
    assert p.price == 513_000
    assert p.original_size == 5_000_000


def test_user_trade_fixture_maker_side(real_fixtures: Path) -> None:
    data = (real_fixtures / "polymarket" / "py_ws_user_trade1.json").read_bytes()
    [msg], _ = decode_user_frame(data)
    assert isinstance(msg, schemas.WsUserTrade)
    trade = trade_update(msg, TS, UpdateSource.WS, own_owner="3e2c94ca-8124-c4c1-c7ea-be1ea21b71fe")
    assert trade.status is TradeStatus.MINED
    assert trade.trader_side is TraderSide.MAKER
    mine = trade.own_fills()
    assert len(mine) == 1
    assert mine[0].order_id.startswith("0xab679e56")
    assert mine[0].size == 5_000_000
    assert mine[0].side is Side.SELL  # same token as the BUY taker
    cross = [m for m in trade.maker_orders if m.outcome == "No"]
    assert cross[0].side is Side.BUY  # complementary token: BUY against BUY mints
    iso = msgspec.json.decode(
        (real_fixtures / "polymarket" / "ws_user_trade.json").read_bytes(),
        type=schemas.WsUserTrade,
        strict=False,
    )
    t2 = trade_update(iso, TS, UpdateSource.WS)
    assert t2.match_time_ns == 1_704_067_200 * 1_000_000_000


def test_order_reply_fixtures(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    ok = order_ack(msgspec.json.decode((folder / "http_order_response_ok.json").read_bytes()))
    assert ok.order_id.startswith("0x1234")
    with pytest.raises(RejectError, match="Insufficient balance"):
        order_ack(msgspec.json.decode((folder / "http_order_response_failed.json").read_bytes()))


def test_gamma_sports_market_maps_by_team(real_fixtures: Path) -> None:
    """The CS2 moneyline parses; a LoL copy of it maps teams to tokens by name."""
    raw = (real_fixtures / "polymarket" / "gamma_market_sports_market_money_line.json").read_bytes()
    market = msgspec.json.decode(raw, type=schemas.GammaMarket)
    assert market.feeSchedule is not None
    assert market.secondsDelay == 3
    lol = msgspec.structs.replace(
        market,
        question="LoL: illwill vs FaZe (BO3) - HLC",  # title order opposite to outcomes
        slug="lol-faze-ill-2026-04-05",
    )
    found = map_market(lol, None, TeamAliases())
    m = found.mapping
    assert (m.team_a, m.team_b) == ("illwill", "faze")
    assert m.token_b.startswith("8997")  # FaZe is outcome 0
    assert m.token_a.startswith("9051")
    assert m.tick == 1_000
    assert m.min_size == 5_000_000
    assert m.fee_rate == 30_000
    assert m.seconds_delay == 3
    assert found.game_start_ns == 1_775_401_800 * 1_000_000_000
