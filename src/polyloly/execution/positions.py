"""Positions per outcome token, provisional and confirmed, with average-cost accounting.

A position is a fold over the token's fills (in first-seen order) and merges, starting
from the balances adopted at the last baseline. A fill counts while its trade is MATCHED,
MINED, RETRYING or CONFIRMED; when the trade FAILS the fold simply leaves it out, so a
failed trade reverses its provisional effect exactly, including the cost basis and any
realized PnL computed after it.

* ``confirmed`` — shares whose trades are CONFIRMED (plus the baseline and merges).
* ``pending`` — signed shares of trades not final yet.
* ``cost`` — pUSD-micro cost basis of ``confirmed + pending`` shares (buy fees included).
* ``realized`` — realized PnL of this token: sells and merges, fees included.

Merges turn ``s`` YES + ``s`` NO into ``s`` pUSD; the proceeds are split evenly between the
two tokens (the odd micro to the first token id), so a market's realized PnL is exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from polyloly.domain.events import Side
from polyloly.domain.money import SCALE
from polyloly.execution.lifecycle import Fill

__all__ = [
    "MergeEntry",
    "PositionFold",
    "PositionView",
    "fold_position",
    "merge_proceeds_share",
]


@dataclass(frozen=True, slots=True)
class MergeEntry:
    """``size`` of this token burned in a merge, receiving ``proceeds`` pUSD-micros."""

    seq: int
    size: int
    proceeds: int


@dataclass(frozen=True, slots=True)
class PositionView:
    """One token's position (all amounts in micro-units)."""

    market: str
    token_id: str
    confirmed: int = 0
    pending: int = 0
    cost: int = 0
    realized: int = 0
    fees: int = 0
    oversold: int = 0  # shares sold beyond the position (should stay 0; reconciliation flags it)

    @property
    def expected(self) -> int:
        """Shares held once every pending trade settles."""
        return self.confirmed + self.pending

    def avg_cost(self) -> int:
        """Average cost per share in micro-pUSD (rounded down; 0 when flat)."""
        qty = self.expected
        return self.cost * SCALE // qty if qty > 0 else 0


def merge_proceeds_share(size: int, token_id: str, token_ids: tuple[str, str]) -> int:
    """This token's share of ``size`` pUSD received for merging ``size`` pairs."""
    first = min(token_ids)
    half = size // 2
    return size - half if token_id == first else half


@dataclass(slots=True)
class _Acc:
    qty: int
    cost: int
    realized: int = 0
    fees: int = 0
    oversold: int = 0

    def buy(self, size: int, cash: int, fee: int) -> None:
        self.qty += size
        self.cost += cash + fee  # what the venue took, rounded as it rounds each fill
        self.fees += fee

    def dispose(self, size: int, proceeds: int) -> None:
        held = max(self.qty, 0)
        taken = min(size, held)
        removed = self.cost * taken // held if held > 0 else 0
        self.oversold += size - taken
        self.cost -= removed
        self.qty -= size
        self.realized += proceeds - removed


def fold_position(
    market: str,
    token_id: str,
    fills: Iterable[Fill],
    merges: Iterable[MergeEntry] = (),
    *,
    baseline_qty: int = 0,
    baseline_cost: int = 0,
) -> PositionView:
    """Fold fills (FAILED ones are skipped) and merges, in ``seq`` order, into a position:
    the whole history at once, with the steps :class:`PositionFold` takes one by one."""
    entries: list[tuple[int, int, Fill | MergeEntry]] = [
        (fill.seq, 0, fill) for fill in fills if fill.counts
    ]
    entries.extend((merge.seq, 1, merge) for merge in merges)
    entries.sort(key=lambda item: (item[0], item[1]))
    fold = PositionFold.start(baseline_qty, baseline_cost)
    for _, _, entry in entries:
        if isinstance(entry, MergeEntry):
            fold.add_merge(entry)
        else:
            fold.add_fill(entry)
    return fold.view(market, token_id)


@dataclass(slots=True)
class PositionFold:
    """:func:`fold_position` kept current as a token's fills and merges arrive.

    Entries reach a token in ``seq`` order (the ledger numbers every fill and merge from
    one counter), so a new one folds after everything folded before it, exactly where the
    full fold would put it: :meth:`add_fill` and :meth:`add_merge` cost one step each. The
    split between confirmed and pending shares is a sum, not a fold, and is moved by
    :meth:`confirm` when a folded fill's trade becomes (or stops being) final. A folded
    fill that starts or stops counting (FAILED, or corrected from FAILED) changes the
    fold's history: the owner drops the fold and starts a new one. ``seen`` is the highest
    ``seq`` handed in (counted or not).
    """

    acc: _Acc
    confirmed: int
    pending: int = 0
    seen: int = 0

    @classmethod
    def start(cls, baseline_qty: int = 0, baseline_cost: int = 0) -> PositionFold:
        """An empty fold from the balances adopted at the last baseline."""
        return cls(_Acc(qty=baseline_qty, cost=baseline_cost), confirmed=baseline_qty)

    def add_fill(self, fill: Fill) -> None:
        """Fold one more fill (a FAILED one is only noted as seen)."""
        self.seen = fill.seq
        if not fill.counts:
            return
        acc = self.acc
        if fill.side is Side.BUY:
            acc.buy(fill.size, fill.cash, fill.fee)
        else:
            acc.fees += fill.fee
            acc.dispose(fill.size, fill.cash - fill.fee)
        if fill.confirmed:
            self.confirmed += fill.signed_qty()
        else:
            self.pending += fill.signed_qty()

    def add_merge(self, merge: MergeEntry) -> None:
        """Fold one more merge (or redemption): its shares leave the confirmed ones."""
        self.seen = merge.seq
        self.acc.dispose(merge.size, merge.proceeds)
        self.confirmed -= merge.size

    def confirm(self, fill: Fill, confirmed: bool) -> None:
        """A folded, counted fill's trade became final (``True``) or stopped being so."""
        qty = fill.signed_qty() if confirmed else -fill.signed_qty()
        self.confirmed += qty
        self.pending -= qty

    def view(self, market: str, token_id: str) -> PositionView:
        """The position folded so far."""
        acc = self.acc
        return PositionView(
            market=market,
            token_id=token_id,
            confirmed=self.confirmed,
            pending=self.pending,
            cost=acc.cost,
            realized=acc.realized,
            fees=acc.fees,
            oversold=acc.oversold,
        )
