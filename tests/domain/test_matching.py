"""Table tests of the pure matching engine: priority, cross-token matching, order rules."""

from __future__ import annotations

import pytest

from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching import (
    ERR_FAK_NO_MATCH,
    ERR_FOK_NOT_FILLED,
    ERR_INVALID_EXPIRATION,
    ERR_MARKET_NOT_READY,
    ERR_POST_ONLY_CROSSES,
    FillKind,
    MatchingEngine,
    OrderRequest,
    OrderState,
)
from polyloly.domain.matching_book import LevelChange

CID = "0xmarket"
A, B = "111", "222"
NOW = 1_800_000_000


def engine(tick: int = 10_000, min_size: int = 5_000_000, rate: int = 30_000) -> MatchingEngine:
    e = MatchingEngine()
    e.add_market(CID, A, B, tick=tick, min_size=min_size, fee_model=PolymarketFeeModel(rate))
    return e


_seq = iter(range(1, 1_000_000))


def order(
    token: str,
    side: Side,
    price: int,
    size: int,
    *,
    order_type: OrderType = OrderType.GTC,
    owner: str = "u",
    **kw: object,
) -> OrderRequest:
    return OrderRequest(
        order_id=f"o{next(_seq)}",
        owner=owner,
        maker=f"0x{owner}",
        token_id=token,
        side=side,
        price=price,
        size=size,
        order_type=order_type,
        **kw,  # type: ignore[arg-type]
    )


def test_resting_orders_aggregate_best_first() -> None:
    e = engine()
    for price, size in ((500_000, 10), (520_000, 5), (500_000, 7)):
        assert e.submit(order(A, Side.BUY, price, size * 1_000_000), NOW).state is OrderState.LIVE
    e.submit(order(A, Side.SELL, 600_000, 5_000_000), NOW)
    e.submit(order(A, Side.SELL, 550_000, 6_000_000), NOW)
    assert e.levels(A, Side.BUY) == [(520_000, 5_000_000), (500_000, 17_000_000)]
    assert e.levels(A, Side.SELL) == [(550_000, 6_000_000), (600_000, 5_000_000)]


def test_taker_trades_at_maker_prices_in_price_time_priority() -> None:
    e = engine()
    first = order(A, Side.SELL, 520_000, 5_000_000, owner="m1")
    second = order(A, Side.SELL, 520_000, 5_000_000, owner="m2")
    cheaper = order(A, Side.SELL, 510_000, 5_000_000, owner="m3")
    for o in (first, second, cheaper):
        e.submit(o, NOW)
    result = e.submit(order(A, Side.BUY, 530_000, 12_000_000, owner="t"), NOW)
    assert result.state is OrderState.MATCHED
    assert [(f.maker_order_id, f.price, f.size) for f in result.fills] == [
        (cheaper.order_id, 510_000, 5_000_000),
        (first.order_id, 520_000, 5_000_000),
        (second.order_id, 520_000, 2_000_000),
    ]
    assert all(f.kind is FillKind.COMPLEMENTARY for f in result.fills)
    assert e.levels(A, Side.SELL) == [(520_000, 3_000_000)]
    assert LevelChange(A, Side.SELL, 510_000, 0) in result.changes


def test_buy_matches_complement_buy_as_mint() -> None:
    e = engine()
    maker = order(B, Side.BUY, 450_000, 10_000_000, owner="m")
    e.submit(maker, NOW)
    result = e.submit(order(A, Side.BUY, 560_000, 10_000_000, owner="t"), NOW)
    (fill,) = result.fills
    assert fill.kind is FillKind.MINT
    assert fill.price == 550_000  # the taker pays 1 - 0.45, better than its 0.56 limit
    assert fill.taker_cash + fill.maker_cash == fill.size
    assert fill.maker_token == B
    assert e.levels(B, Side.BUY) == []


def test_sell_matches_complement_sell_as_merge() -> None:
    e = engine()
    e.submit(order(B, Side.SELL, 400_000, 10_000_000, owner="m"), NOW)
    result = e.submit(order(A, Side.SELL, 580_000, 6_000_000, owner="t"), NOW)
    (fill,) = result.fills
    assert fill.kind is FillKind.MERGE
    assert fill.price == 600_000
    assert fill.taker_cash + fill.maker_cash == 6_000_000
    assert e.levels(B, Side.SELL) == [(400_000, 4_000_000)]


def test_direct_and_cross_candidates_interleave_by_effective_price() -> None:
    e = engine()
    direct = order(A, Side.SELL, 530_000, 5_000_000)
    cross = order(B, Side.BUY, 480_000, 5_000_000)  # offers A at 0.52
    e.submit(direct, NOW)
    e.submit(cross, NOW)
    result = e.submit(order(A, Side.BUY, 540_000, 10_000_000), NOW)
    assert [f.maker_order_id for f in result.fills] == [cross.order_id, direct.order_id]


def test_taker_fee_is_charged_and_makers_pay_nothing() -> None:
    e = engine()
    e.submit(order(A, Side.SELL, 500_000, 100_000_000), NOW)
    (fill,) = e.submit(order(A, Side.BUY, 500_000, 100_000_000), NOW).fills
    assert fill.fee == PolymarketFeeModel(30_000).taker_fee(100_000_000, 500_000) == 750_000
    assert fill.taker_cash == 50_000_000


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (
            order(A, Side.BUY, 523_000, 10_000_000),
            "order {id} is invalid. Price (0.523) breaks minimum tick size rule: 0.01",
        ),
        (
            order(A, Side.BUY, 500_000, 4_000_000),
            "order {id} is invalid. Size (4) lower than the minimum: 5",
        ),
        (order(A, Side.BUY, 1_000_000, 10_000_000), "Price (1) breaks minimum tick size rule"),
        (order(A, Side.BUY, 500_000, 10_000_000, order_type=OrderType.GTD), ERR_INVALID_EXPIRATION),
        (order(A, Side.BUY, 500_000, 10_000_000, expiration_s=NOW + 3600), ERR_INVALID_EXPIRATION),
        (order("999", Side.BUY, 500_000, 10_000_000), ERR_MARKET_NOT_READY),
    ],
)
def test_order_rules_give_the_venue_error_strings(request_: OrderRequest, error: str) -> None:
    result = engine().submit(request_, NOW)
    assert result.state is OrderState.REJECTED
    assert error.format(id=request_.order_id) in result.error


def test_duplicate_order_ids_are_refused() -> None:
    e = engine()
    o = order(A, Side.BUY, 500_000, 10_000_000)
    assert e.submit(o, NOW).accepted
    assert e.submit(o, NOW).error == f"order {o.order_id} is invalid. Duplicated."


def test_marketable_buy_under_one_dollar_is_refused_but_resting_is_fine() -> None:
    e = engine()
    e.submit(order(A, Side.SELL, 100_000, 50_000_000), NOW)
    small = order(A, Side.BUY, 150_000, 5_000_000)  # $0.75, crosses
    result = e.submit(small, NOW)
    assert result.error == "invalid amount for a marketable BUY order ($0.75), min size: $1"
    assert e.submit(order(A, Side.BUY, 50_000, 5_000_000), NOW).state is OrderState.LIVE


def test_post_only_crossing_is_refused_and_changes_nothing() -> None:
    e = engine()
    e.submit(order(B, Side.BUY, 500_000, 10_000_000), NOW)  # offers A at 0.50
    result = e.submit(order(A, Side.BUY, 500_000, 10_000_000, post_only=True), NOW)
    assert result.error == ERR_POST_ONLY_CROSSES
    assert e.levels(B, Side.BUY) == [(500_000, 10_000_000)]
    assert e.submit(order(A, Side.BUY, 490_000, 10_000_000, post_only=True), NOW).accepted


def test_fok_is_all_or_nothing_and_fak_fills_what_is_there() -> None:
    e = engine()
    e.submit(order(A, Side.SELL, 500_000, 10_000_000), NOW)
    fok = e.submit(order(A, Side.BUY, 500_000, 12_000_000, order_type=OrderType.FOK), NOW)
    assert fok.error == ERR_FOK_NOT_FILLED
    assert e.levels(A, Side.SELL) == [(500_000, 10_000_000)]
    fak = e.submit(order(A, Side.BUY, 500_000, 12_000_000, order_type=OrderType.FAK), NOW)
    assert fak.state is OrderState.MATCHED
    assert (fak.filled, fak.resting) == (10_000_000, 0)
    empty = e.submit(order(A, Side.BUY, 500_000, 12_000_000, order_type=OrderType.FAK), NOW)
    assert empty.error == ERR_FAK_NO_MATCH


def test_market_buy_spends_its_amount_at_better_prices() -> None:
    e = engine()
    e.submit(order(A, Side.SELL, 400_000, 10_000_000), NOW)
    e.submit(order(A, Side.SELL, 500_000, 100_000_000), NOW)
    buy = order(
        A, Side.BUY, 500_000, 20_000_000, order_type=OrderType.FOK, notional=10_000_000
    )  # $10 at up to 0.50
    result = e.submit(buy, NOW)
    assert sum(f.taker_cash for f in result.fills) == 10_000_000
    assert result.filled == 10_000_000 + 12_000_000  # 10 at 0.40, then $6 buys 12 at 0.50


def test_gtd_orders_expire_a_threshold_before_their_expiration() -> None:
    e = engine()
    gtd = order(A, Side.BUY, 500_000, 10_000_000, order_type=OrderType.GTD, expiration_s=NOW + 120)
    assert e.submit(gtd, NOW).state is OrderState.LIVE
    assert e.expire(NOW + 59)[0] == []
    expired, changes = e.expire(NOW + 60)
    assert [o.order_id for o in expired] == [gtd.order_id]
    assert changes == (LevelChange(A, Side.BUY, 500_000, 0),)


def test_rest_skips_matching_but_refuses_a_same_token_cross() -> None:
    e = engine()
    assert e.rest(order(A, Side.SELL, 450_000, 10_000_000)).accepted
    assert e.rest(order(B, Side.SELL, 500_000, 10_000_000)).accepted  # asks sum to 0.95
    assert e.rest(order(A, Side.BUY, 460_000, 10_000_000)).error == ERR_POST_ONLY_CROSSES


def test_cancel_and_clear_market() -> None:
    e = engine()
    o = order(A, Side.BUY, 500_000, 10_000_000)
    e.submit(o, NOW)
    e.submit(order(B, Side.SELL, 700_000, 10_000_000), NOW)
    cancelled, changes = e.cancel(o.order_id)
    assert cancelled is not None
    assert changes == (LevelChange(A, Side.BUY, 500_000, 0),)
    assert e.cancel(o.order_id) == (None, ())
    orders, _ = e.clear_market(CID)
    assert len(orders) == 1
    assert e.resting() == []
