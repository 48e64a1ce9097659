"""PnL from positions: unrealized at marks, account equity, daily PnL, pair guaranteed PnL.

All amounts are integer micro-units. Marks are prices in micros (a resolved market marks
its winner at 1 and the other outcomes at 0). A token without a mark is valued at its cost
basis (unrealized 0): no price, no opinion.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from polyloly.domain.fees import FeeModel, PolymarketFeeModel
from polyloly.domain.money import SCALE
from polyloly.domain.pairs import PairPosition
from polyloly.execution.positions import PositionView

__all__ = [
    "NS_PER_DAY",
    "DailyPnl",
    "PnlSummary",
    "day_of",
    "equity",
    "market_value",
    "pair_guaranteed_pnl",
    "unrealized",
]

NS_PER_DAY: Final = 86_400 * 1_000_000_000


def day_of(ts_ns: int) -> int:
    """UTC day number (days since the Unix epoch) of a timestamp."""
    return ts_ns // NS_PER_DAY


def market_value(view: PositionView, mark: int | None) -> int:
    """Value of the expected shares at ``mark`` (cost basis when there is no mark)."""
    if mark is None:
        return view.cost
    return view.expected * mark // SCALE


def unrealized(view: PositionView, mark: int | None) -> int:
    """Unrealized PnL of the position at ``mark``."""
    return market_value(view, mark) - view.cost


def equity(collateral: int, views: Iterable[PositionView], marks: Mapping[str, int]) -> int:
    """Collateral plus every position valued at its mark."""
    return collateral + sum(market_value(v, marks.get(v.token_id)) for v in views)


def pair_guaranteed_pnl(
    yes: PositionView, no: PositionView, fee_model: FeeModel | None = None
) -> int:
    """PnL locked in by a YES+NO pair whatever the outcome (pair-arb's own math).

    ``min(yes, no)`` complete pairs pay out (or merge into pUSD); the unpaired excess may be
    worth nothing. The cost basis includes the buy fees paid, and earlier realized PnL
    (sells, merges) counts too.
    """
    pair = PairPosition(
        q_yes=max(yes.expected, 0),
        q_no=max(no.expected, 0),
        cost_yes=max(yes.cost, 0),
        cost_no=max(no.cost, 0),
        realized=yes.realized + no.realized,
    )
    return pair.guaranteed_pnl(fee_model or PolymarketFeeModel())


@dataclass(slots=True)
class DailyPnl:
    """Equity change since the start of the current UTC day.

    ``start_equity`` is set from a logged ``DayStarted``-style record (see
    :class:`~polyloly.execution.state.ExecutionState`), so a restart does not reset the
    day's losses.
    """

    day: int = -1
    start_equity: int = 0

    def roll(self, ts_ns: int, current_equity: int) -> bool:
        """Start a new day if ``ts_ns`` is past the current one; return whether it did."""
        today = day_of(ts_ns)
        if today == self.day:
            return False
        self.day = today
        self.start_equity = current_equity
        return True

    def pnl(self, current_equity: int) -> int:
        """Today's PnL at ``current_equity``."""
        return current_equity - self.start_equity if self.day >= 0 else 0


@dataclass(frozen=True, slots=True)
class PnlSummary:
    """Account PnL in micro-pUSD: realized (fees included), unrealized at marks, today's."""

    realized: int
    unrealized: int
    fees: int
    daily: int
    equity: int
