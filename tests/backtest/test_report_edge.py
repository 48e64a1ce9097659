"""Edge survival: expected and realized edge count the shares the order really buys.

A marketable (FAK/FOK) BUY spends its pUSD amount, ``size × limit``: at an ask under the
limit it buys more than ``size`` shares. The demo's temporal entries (52.60 shares at the
0.95 cap, ask 0.57) bought 87.66 shares each; measuring the expected edge on 52.60 shares
and the realized one on 87.66 made "temporal edge survival" read 167 % (``0.95 / 0.57``).
Every expected value below is worked out by hand from the fee formula
``shares × 0.03 × p × (1 − p)`` floored to 5 decimals.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from tests.backtest.report_log import LogBuilder

from polyloly.backtest.plots import render_report
from polyloly.backtest.report_data import build_report_data
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.execution.ports import VenueOrderStatus
from polyloly.runtime.clock import NS_PER_S

M, YES = "0xm1", "111"


@pytest.mark.parametrize(
    ("ask", "size", "shares", "edge"),
    [
        # 50 x 0.95 = 47.50 pUSD buys 95 shares at 0.50: 95 x 0.50 - 0.71250 fee
        (500_000, 50 * SCALE, 95 * SCALE, 47_500_000 - 712_500),
        # the demo: 52.60 x 0.95 = 49.97 pUSD buys 87.666666 shares at 0.57;
        # 87.666666 x 0.43 = 37.696666 minus the fee 0.64461
        (570_000, 52_600_000, 87_666_666, 37_696_666 - 644_610),
    ],
)
def test_a_fak_buy_fills_its_pusd_amount_and_the_whole_edge_survives(
    ask: int, size: int, shares: int, edge: int
) -> None:
    log = LogBuilder()
    log.at(0).book(M, YES, ask - 10_000, ask)
    order = log.order("temporal_arb", M, YES, price=950_000, size=size, match="m1")
    log.at(1).fill(order, M, YES, price=ask, size=shares)  # what the venue fills
    data = build_report_data(log.events)
    (row,) = data.edges
    assert row.expected_size == shares
    assert row.expected_edge == edge
    assert row.filled_size == shares
    assert row.realized_edge == edge
    assert data.edge_survival == 1  # was 190 % and 166.7 %: limit / ask
    assert "100.0 % of the edge seen at decision time" in render_report(data)


def test_a_book_that_moved_during_the_taker_delay_keeps_part_of_the_edge() -> None:
    log = LogBuilder()
    log.at(0).book(M, YES, 490_000, 500_000)
    order = log.order(
        "temporal_arb",
        M,
        YES,
        price=950_000,
        size=50 * SCALE,
        match="m1",
        status=VenueOrderStatus.DELAYED,
    )
    log.at(3).book(M, YES, 615_000, 625_000)  # the market repriced during the 3 s delay
    log.fill(order, M, YES, price=625_000, size=76 * SCALE)  # 47.50 pUSD / 0.625
    data = build_report_data(log.events)
    (row,) = data.edges
    assert row.expected_edge == 46_787_500  # 95 x 0.50 - 0.71250
    assert row.realized_edge == 27_965_630  # 76 x 0.375 - 0.53437
    assert row.delay_ns == 3 * NS_PER_S
    assert data.edge_survival == Fraction(27_965_630, 46_787_500)  # 59.8 %
    assert row.survival == data.edge_survival


def test_the_expected_edge_walks_the_depth_at_decision_time() -> None:
    log = LogBuilder()
    # 20 shares at 0.50, then plenty at 0.60
    log.at(0).book(M, YES, 490_000, 500_000, 20 * SCALE, more_asks=((600_000, 1_000 * SCALE),))
    log.order("temporal_arb", M, YES, price=950_000, size=50 * SCALE, match="m1")
    (row,) = build_report_data(log.events).edges
    # 47.50 pUSD: 20 shares for 10.00, then 37.50 / 0.60 = 62.5 shares
    assert row.expected_size == 82_500_000
    # (20 x 0.50 - 0.15) + (62.5 x 0.40 - 0.45)
    assert row.expected_edge == 9_850_000 + 24_550_000
    assert row.realized_edge == 0  # nothing filled: the order was killed
    assert row.survival == 0


def test_a_resting_limit_buy_expects_at_most_its_size() -> None:
    log = LogBuilder()
    log.at(0).book(M, YES, 490_000, 500_000)
    log.order("temporal_arb", M, YES, price=550_000, size=50 * SCALE, order_type=OrderType.GTC)
    (row,) = build_report_data(log.events).edges
    assert row.expected_size == 50 * SCALE
    assert row.expected_edge == 25_000_000 - 375_000  # 50 x 0.50 - 0.37500
