"""Wire order decoding: precision rules on signed amounts, implied prices."""

from __future__ import annotations

import pytest

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.sim.exchange.orders import (
    amount_decimals,
    check_amounts,
    decimals_of,
    decode_post_order,
    implied_price,
)


@pytest.mark.parametrize(
    ("side", "order_type", "maker", "taker", "error"),
    [
        (Side.BUY, OrderType.GTC, 5_230_000, 10_000_000, None),
        (Side.BUY, OrderType.GTC, 5_234_560, 10_000_000, "the buy orders maker amount supports"),
        (Side.BUY, OrderType.GTC, 5_230_000, 10_001_000, "a max of 2 decimals"),
        (Side.SELL, OrderType.GTC, 10_000_000, 5_230_000, None),
        (Side.BUY, OrderType.FOK, 10_000_000, 19_230_700, None),
        (Side.BUY, OrderType.FOK, 10_001_000, 19_230_700, "the market buy orders maker amount"),
        (Side.BUY, OrderType.FAK, 10_000_000, 19_230_770, "taker amount a max of 4 decimals"),
    ],
)
def test_wire_amount_precision(
    side: Side, order_type: OrderType, maker: int, taker: int, error: str | None
) -> None:
    found = check_amounts(side, order_type, maker, taker, 10_000)
    assert (found is None) if error is None else (found is not None and error in found)


def test_precision_helpers() -> None:
    assert [decimals_of(x) for x in (0, 1_000_000, 500_000, 10, 1)] == [0, 0, 1, 5, 6]
    assert [amount_decimals(t) for t in (100_000, 10_000, 1_000, 100)] == [3, 4, 5, 6]
    full_msg = (
        "invalid amounts, the market buy orders maker amount supports a max accuracy of 2 "
        "decimals, taker amount a max of 4 decimals"
    )
    assert check_amounts(Side.BUY, OrderType.FOK, 1, 1, 10_000) == full_msg
    # The venue bug [V2] #99: 4 decimals on a 0.001-tick market when strict.
    assert check_amounts(Side.BUY, OrderType.FOK, 10_000_000, 19_230_770, 1_000) is None
    assert check_amounts(
        Side.BUY, OrderType.FOK, 10_000_000, 19_230_770, 1_000, strict_market_precision=True
    )


def test_implied_prices() -> None:
    # limit BUY 10 @ 0.52: maker 5.2 pUSD, taker 10 shares
    assert implied_price(Side.BUY, 5_200_000, 10_000_000, OrderType.GTC, 10_000) == (
        520_000,
        10_000_000,
    )
    # market BUY $10 at 0.52: taker 19.2307 shares -> price snaps back onto the tick
    assert implied_price(Side.BUY, 10_000_000, 19_230_700, OrderType.FOK, 10_000) == (
        520_000,
        19_230_700,
    )
    # SELL 10 @ 0.523 on a 0.01 tick stays off-tick for the tick check to refuse
    assert implied_price(Side.SELL, 10_000_000, 5_230_000, OrderType.GTC, 10_000)[0] == 523_000


def test_malformed_bodies_decode_to_none() -> None:
    assert decode_post_order(b"{") is None
    assert decode_post_order(b'{"order": {}, "owner": "k"}') is None
