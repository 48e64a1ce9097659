"""Table tests for the pair-arbitrage math (real fee model and the seed's flat model)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from polyloly.domain.fees import FlatPayoutFeeModel, PolymarketFeeModel
from polyloly.domain.money import MoneyError
from polyloly.domain.pairs import Leg, LegFill, PairPosition
from polyloly.strategies.pair_arb.math import (
    APPROVED,
    buy_fill,
    fee_per_share,
    max_price_under,
    order_lot,
    pair_edge,
    sell_fill,
    should_buy_more,
    should_buy_pair,
)
from polyloly.strategies.pair_arb.params import PairArbParams

SH = 1_000_000
C = 10_000
REAL = PolymarketFeeModel()
FLAT = FlatPayoutFeeModel()
P = PairArbParams()


def fill(
    shares: int, price: int, fee_model: PolymarketFeeModel | FlatPayoutFeeModel = REAL
) -> LegFill:
    return buy_fill([(price, shares)], fee_model)


# -- the worked example of docs/03 -----------------------------------------------------------------


def test_worked_example_real_fees() -> None:
    # 100 YES at 0.45 and 100 NO at 0.48, takers both times, esports rate 0.03
    y, n = fill(100 * SH, 45 * C), fill(100 * SH, 48 * C)
    assert (y.cost, y.fee) == (45_000_000, 742_500)  # 100 × 0.03 × 0.45 × 0.55
    assert (n.cost, n.fee) == (48_000_000, 748_800)  # 100 × 0.03 × 0.48 × 0.52
    pos = PairPosition().with_fill(Leg.YES, y).with_fill(Leg.NO, n)
    assert pos.q_min == 100 * SH
    assert pos.total_cost == 94_491_300
    assert pos.guaranteed_pnl(REAL) == 100 * SH - 94_491_300 == 5_508_700
    assert pos.pair_cost_avg() == Fraction(944_913, 1_000_000)
    assert pos.pair_cost_avg_micros() == 944_913
    assert pos.pair_cost_below(975_000)
    assert pair_edge(45 * C, 48 * C, REAL, 100 * SH) == 5_508_700


def test_worked_example_flat_fees() -> None:
    y, n = fill(100 * SH, 45 * C, FLAT), fill(100 * SH, 48 * C, FLAT)
    assert y.fee == n.fee == 0
    pos = PairPosition().with_fill(Leg.YES, y).with_fill(Leg.NO, n)
    assert pos.guaranteed_pnl(FLAT) == 98 * SH - 93 * SH == 5 * SH
    assert pos.pair_cost_avg() == Fraction(93, 100)


def test_the_fee_eats_the_one_cent_edge() -> None:
    # asks 0.49 + 0.50 = 0.99: one cent before fees, about half a cent lost after them
    assert pair_edge(49 * C, 50 * C, PolymarketFeeModel(rate=0)) == 10_000
    assert pair_edge(49 * C, 50 * C, REAL) == 10_000 - 7_490 - 7_500 == -4_990
    assert pair_edge(49 * C, 50 * C, REAL, 1_000 * SH) == 10 * SH - 7_497_000 - 7_500_000
    # the seed's flat model: 0.98 payout - 0.99 cost
    assert pair_edge(49 * C, 50 * C, FLAT) == -10_000


# -- position numbers ------------------------------------------------------------------------------


def test_empty_and_one_legged_positions() -> None:
    empty = PairPosition()
    assert empty.q_min == 0
    assert empty.pair_cost_avg() is None
    assert empty.pair_cost_avg_micros() is None
    assert not empty.pair_cost_below(1_000_000)
    assert empty.guaranteed_pnl(REAL) == 0
    assert empty.lagging is None
    one = PairPosition(q_yes=10 * SH, cost_yes=4_500_000, fees_yes=74_250)
    assert one.pair_cost_avg() is None
    assert one.lagging is Leg.NO
    assert one.gap == 10 * SH
    assert one.unpaired_usdc() == 4_574_250
    assert one.guaranteed_pnl(REAL) == -4_574_250
    assert one.avg(Leg.YES) == Fraction(4_574_250, 10 * SH)
    assert one.avg(Leg.NO) is None


def test_pair_cost_boundary_is_strict() -> None:
    pos = PairPosition(q_yes=SH, q_no=SH, cost_yes=475_000, cost_no=500_000)
    assert pos.pair_cost_avg_micros() == 975_000
    assert not pos.pair_cost_below(975_000)
    assert pos.pair_cost_below(975_001)


def test_pair_cost_micros_rounds_up() -> None:
    pos = PairPosition(q_yes=3 * SH, q_no=SH, cost_yes=SH, cost_no=SH // 2)  # 1/3 + 1/2
    assert pos.pair_cost_avg() == Fraction(5, 6)
    assert pos.pair_cost_avg_micros() == 833_334


def test_unpaired_usdc_rounds_up_on_either_leg() -> None:
    pos = PairPosition(q_yes=3 * SH, q_no=4 * SH, cost_yes=SH, cost_no=SH, fees_no=1)
    assert pos.lagging is Leg.YES
    assert pos.unpaired_usdc() == -(-(SH + 1) // 4)  # 1 of 4 NO shares unpaired


def test_negative_fields_and_buys_rejected() -> None:
    with pytest.raises(MoneyError):
        PairPosition(q_yes=-1)
    with pytest.raises(MoneyError):
        PairPosition().hypo_buy(Leg.YES, 1, -1, 0)


def test_merge_keeps_guaranteed_pnl_and_retires_basis() -> None:
    pos = PairPosition(
        q_yes=150 * SH,
        q_no=100 * SH,
        cost_yes=67_000_000,
        cost_no=48_000_000,
        fees_yes=1_111,
        fees_no=749_000,
    )
    merged = pos.merged(40 * SH)
    assert merged.q_yes == 110 * SH
    assert merged.q_no == 60 * SH
    assert merged.guaranteed_pnl(REAL) == pos.guaranteed_pnl(REAL)
    # retired basis: YES 67/150 × 40, NO 48/100 × 40, fees pro rata, each rounded down
    assert merged.cost_yes == 67_000_000 - 17_866_666
    assert merged.cost_no == 48_000_000 - 19_200_000
    assert merged.realized == 40 * SH - (17_866_666 + 19_200_000 + 296 + 299_600)
    everything = pos.merged(100 * SH)
    assert everything.q_no == 0
    assert everything.cost_no == 0
    assert everything.fees_no == 0
    assert pos.merged(0) is pos
    with pytest.raises(MoneyError):
        pos.merged(101 * SH)


# -- decisions -------------------------------------------------------------------------------------

# Balanced 100/100 at 0.45 / 0.48 (real fees): pair cost 0.944913, guaranteed 5.5087
BAL = (
    PairPosition()
    .with_fill(Leg.YES, fill(100 * SH, 45 * C))
    .with_fill(Leg.NO, fill(100 * SH, 48 * C))
)
# 100 YES, 60 NO: NO lags by 40
LAG = (
    PairPosition()
    .with_fill(Leg.YES, fill(100 * SH, 45 * C))
    .with_fill(Leg.NO, fill(60 * SH, 48 * C))
)

LAG2 = (
    PairPosition()
    .with_fill(Leg.YES, fill(100 * SH, 45 * C))
    .with_fill(Leg.NO, fill(95 * SH, 48 * C))
)


@pytest.mark.parametrize(
    ("pos", "leg", "leg_fill", "params", "reason"),
    [
        (LAG, Leg.NO, fill(40 * SH, 48 * C), P, APPROVED),  # closes the gap under the cap
        (LAG, Leg.NO, fill(20 * SH, 50 * C), P, APPROVED),
        (LAG, Leg.NO, fill(40 * SH, 60 * C), P, "pair_cost_cap"),  # NO avg 0.528 + fees
        (LAG, Leg.YES, fill(10 * SH, 40 * C), P, "pnl_not_improved"),  # the leading leg
        (BAL, Leg.YES, fill(10 * SH, 30 * C), P, "pnl_not_improved"),  # balanced: no lone leg
        (PairPosition(), Leg.YES, fill(10 * SH, 30 * C), P, "one_legged"),
        (LAG, Leg.NO, LegFill(0, 0, 0), P, "empty_fill"),
        (
            LAG,
            Leg.NO,
            fill(40 * SH, 48 * C),
            PairArbParams(max_total_cost_usdc=90 * SH, step_usdc=SH),
            "max_total_cost",
        ),
        # 100 YES / 95 NO: 20 NO at 0.20 gains 5 pairs for ~4.1 (PnL +0.904) but overshoots
        # by 15 NO, ~$6.57 one-legged, over a $3 cap and more than the $2.29 before
        (
            LAG2,
            Leg.NO,
            fill(20 * SH, 20 * C),
            PairArbParams(max_unpaired_usdc=3 * SH),
            "max_unpaired",
        ),
        (LAG2, Leg.NO, fill(20 * SH, 20 * C), P, APPROVED),
    ],
)
def test_should_buy_more_table(
    pos: PairPosition, leg: Leg, leg_fill: LegFill, params: PairArbParams, reason: str
) -> None:
    ok, why = should_buy_more(pos, leg, leg_fill, params, REAL)
    assert (ok, why) == (reason == APPROVED, reason)


def test_should_buy_pair_table() -> None:
    y, n = fill(50 * SH, 45 * C), fill(50 * SH, 48 * C)
    assert should_buy_pair(PairPosition(), y, n, first=Leg.NO, params=P, fee_model=REAL) == (
        True,
        APPROVED,
    )
    # 0.49 / 0.50: the fee takes the edge, even with the cap at break-even
    y99, n99 = fill(50 * SH, 49 * C), fill(50 * SH, 50 * C)
    at_par = PairArbParams(pair_cost_cap=1_000_000)
    assert (
        should_buy_pair(PairPosition(), y99, n99, first=Leg.YES, params=at_par, fee_model=REAL)[1]
        == "pair_cost_cap"
    )
    # without fees the same pair would pass at par
    free = PolymarketFeeModel(rate=0)
    y0, n0 = fill(50 * SH, 49 * C, free), fill(50 * SH, 50 * C, free)
    assert should_buy_pair(PairPosition(), y0, n0, first=Leg.YES, params=at_par, fee_model=free)[0]
    # leg risk: the first leg alone is $22.5 + fee, over a $20 unpaired cap
    tight = PairArbParams(max_unpaired_usdc=20 * SH)
    assert should_buy_pair(PairPosition(), y, n, first=Leg.YES, params=tight, fee_model=REAL) == (
        False,
        "max_unpaired",
    )
    assert (
        should_buy_pair(
            PairPosition(), LegFill(0, 0, 0), n, first=Leg.NO, params=P, fee_model=REAL
        )[1]
        == "empty_fill"
    )
    small = PairArbParams(max_total_cost_usdc=40 * SH, step_usdc=SH)
    assert (
        should_buy_pair(PairPosition(), y, n, first=Leg.NO, params=small, fee_model=REAL)[1]
        == "max_total_cost"
    )


def test_flat_model_uses_the_seed_threshold() -> None:
    # seed: profitable when pair cost < 0.98; with the 0.975 cap, 0.47 + 0.50 = 0.97 passes
    y, n = fill(10 * SH, 47 * C, FLAT), fill(10 * SH, 50 * C, FLAT)
    assert should_buy_pair(PairPosition(), y, n, first=Leg.YES, params=P, fee_model=FLAT)[0]
    # 0.975 <= pair < 0.98 is profitable under the flat model but over the cap
    y2, n2 = fill(10 * SH, 475 * 1000, FLAT), fill(10 * SH, 502 * 1000, FLAT)
    assert (
        should_buy_pair(PairPosition(), y2, n2, first=Leg.YES, params=P, fee_model=FLAT)[1]
        == "pair_cost_cap"
    )


# -- prices, fees, sizes ---------------------------------------------------------------------------


def test_fee_per_share_and_max_price_under() -> None:
    assert fee_per_share(REAL, 50 * C) == 7_500
    assert fee_per_share(REAL, 49 * C) == 7_497  # unfloored, rounded up
    assert fee_per_share(FLAT, 49 * C) == 0
    # highest cent price with p + fee(p) <= 0.5: 0.49 + 0.007497 ok, 0.50 + 0.0075 not
    assert max_price_under(500_000, REAL, C) == 49 * C
    assert max_price_under(497_497, REAL, C) == 49 * C
    assert max_price_under(497_496, REAL, C) == 48 * C
    assert max_price_under(500_000, FLAT, C) == 50 * C
    assert max_price_under(5_000, REAL, C) is None
    assert max_price_under(2_000_000, REAL, C) == 99 * C
    assert max_price_under(500_000, REAL, 1) == 492_501  # micro grid: 0.492501 + 0.0074983


def test_buy_fill_charges_fee_per_level() -> None:
    f = buy_fill([(45 * C, 10 * SH), (46 * C, 5 * SH)], REAL)
    assert f == LegFill(15 * SH, 6_800_000, 74_250 + 37_260, 46 * C)
    assert buy_fill([], REAL) == LegFill(0, 0, 0, 0)


@pytest.mark.parametrize(
    ("price", "lot"),
    [
        (45 * C, 200_000),  # 0.2 share × 0.45 = 0.09
        (50 * C, 20_000),  # 0.02 × 0.5 = 0.01
        (10 * C, 100_000),
        (451_000, 10 * SH),  # tick 0.001 prices: 10 shares
        (965_000, 2 * SH),
        (25 * C, 40_000),
    ],
)
def test_order_lot(price: int, lot: int) -> None:
    got = order_lot(price, P)
    assert got == lot
    assert got % P.size_lot_shares == 0
    assert got * price % (P.amount_quantum_usdc * SH) == 0


def test_leg_other() -> None:
    assert Leg.YES.other is Leg.NO
    assert Leg.NO.other is Leg.YES


def test_sell_fill_and_hypo_sell() -> None:
    f = sell_fill([(44 * C, 10 * SH), (43 * C, 5 * SH)], REAL)
    assert f == LegFill(15 * SH, 6_550_000, 73_920 + 36_760, 43 * C)
    assert sell_fill([], REAL) == LegFill(0, 0, 0, 0)
    # 100 YES @ 0.45 (+fees), 60 NO: sell the 40 unpaired YES at 0.44
    sold = LAG.hypo_sell(Leg.YES, 40 * SH, 17_600_000, 176_000)
    assert sold.q_yes == sold.q_no == 60 * SH
    assert sold.cost_yes == 45_000_000 - 18_000_000
    assert sold.fees_yes == 742_500 - 297_000
    assert sold.guaranteed_pnl(REAL) == LAG.guaranteed_pnl(REAL) + 17_600_000 - 176_000
    assert sold.unpaired_usdc() == 0
    assert LAG.hypo_sell(Leg.NO, 0, 0, 0) is LAG
    with pytest.raises(MoneyError):
        LAG.hypo_sell(Leg.NO, 61 * SH, 1, 0)
    with pytest.raises(MoneyError):
        LAG.hypo_sell(Leg.NO, SH, -1, 0)
