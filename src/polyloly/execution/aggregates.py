"""Running totals of the execution ledger, kept up to date from what changed.

The risk gate reads exposure per market, open orders per market, collateral and equity on
every intent and every exposure change. Summing them over every order, fill and position
each time costs time proportional to the session's history; these structures instead keep
the totals and are told what changed:

* :class:`Marks` — the mark of each token, a mapping that remembers which tokens' marks
  were written since the equity cache last looked;
* :class:`ExposureTotals` — per-market exposure (positions at cost plus open BUY orders'
  remaining notional) and open-order counts, from the orders and tokens marked dirty;
* :class:`ValueTotals` — the sum of every position valued at its mark, from the tokens
  whose position or mark changed.

Every total equals the full recomputation exactly (integer micros); the tests compare them
on random event sequences. :class:`~polyloly.execution.state.ExecutionState` marks what it
changes; nothing else writes orders or positions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TypeVar, overload

from polyloly.domain.events import Side
from polyloly.domain.money import SCALE
from polyloly.execution.lifecycle import OrderRecord
from polyloly.execution.pnl import market_value
from polyloly.execution.positions import PositionView

__all__ = ["ExposureSnapshot", "ExposureTotals", "Marks", "ValueTotals", "order_exposure"]

_T = TypeVar("_T")


class Marks(MutableMapping[str, int]):
    """Mark price (micros) per token; remembers the tokens written since :meth:`take_changed`.

    A mapping like a dict (reads, writes, deletes, ``update``, ``pop``, ``clear``…); every
    write or delete goes through ``__setitem__`` / ``__delitem__`` and is noted.
    """

    __slots__ = ("_changed", "_data", "writes")

    def __init__(self) -> None:
        self._data: dict[str, int] = {}
        self._changed: set[str] = set()
        self.writes = 0
        """Writes and deletes so far: a reader that keeps what it computed from the marks
        looks again only when this moved."""

    def __getitem__(self, token: str) -> int:
        return self._data[token]

    @overload
    def get(self, token: str, /) -> int | None: ...
    @overload
    def get(self, token: str, /, default: int | _T) -> int | _T: ...
    def get(self, token: str, /, default: object = None) -> object:
        """The token's mark, or ``default`` (a dict's lookup, without the mixin's ``try``)."""
        return self._data.get(token, default)

    def __setitem__(self, token: str, price: int) -> None:
        self._data[token] = price
        self._changed.add(token)
        self.writes += 1

    def __delitem__(self, token: str) -> None:
        del self._data[token]
        self._changed.add(token)
        self.writes += 1

    def __contains__(self, token: object) -> bool:
        return token in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Marks({self._data!r})"

    @property
    def written(self) -> bool:
        """Whether a mark was written or deleted since the last :meth:`take_changed`."""
        return bool(self._changed)

    def take_changed(self) -> set[str]:
        """The tokens written or deleted since the last call (then forgotten)."""
        changed, self._changed = self._changed, set()
        return changed


def order_exposure(order: OrderRecord) -> int:
    """pUSD micros an open order can still spend: a BUY's remaining notional, rounded up."""
    if order.side is not Side.BUY:
        return 0
    return -(-order.remaining * order.price // SCALE)


@dataclass(frozen=True, slots=True)
class ExposureSnapshot:
    """Exposure and open orders per market at one moment (never modified afterwards).

    ``exposure`` has a key for every market with a position held at a positive cost or an
    open BUY order; ``open_orders`` one for every market with an open order.
    """

    exposure: Mapping[str, int]
    open_orders: Mapping[str, int]
    total: int


class _Sums:
    """Per-key sums with a count of contributors (a key exists while it has one)."""

    __slots__ = ("_n", "sums")

    def __init__(self) -> None:
        self.sums: dict[str, int] = {}
        self._n: dict[str, int] = {}

    def add(self, key: str, amount: int) -> None:
        self.sums[key] = self.sums.get(key, 0) + amount
        self._n[key] = self._n.get(key, 0) + 1

    def remove(self, key: str, amount: int) -> None:
        left = self._n[key] - 1
        if left:
            self._n[key] = left
            self.sums[key] -= amount
        else:
            del self._n[key]
            del self.sums[key]


class ExposureTotals:
    """Exposure and open-order counts per market, updated from dirty orders and tokens.

    The owner calls :meth:`order_changed` / :meth:`position_changed` whenever it creates or
    mutates an order record or replaces a position view; :meth:`snapshot` folds the
    changes in and returns the totals.
    """

    __slots__ = (
        "_dirty_orders",
        "_dirty_tokens",
        "_exposure",
        "_open",
        "_orders",
        "_positions",
        "_sells",
        "_snapshot",
        "_sold",
        "_total",
    )

    def __init__(self) -> None:
        # open order -> (market, exposure); None for a SELL: an open order, but no exposure
        self._orders: dict[str, tuple[str, int | None]] = {}
        self._positions: dict[str, tuple[str, int]] = {}  # token -> (market, cost)
        self._exposure = _Sums()
        self._open = _Sums()
        self._sells = _Sums()  # token -> shares its open SELL orders still offer
        self._sold: dict[str, tuple[str, int]] = {}  # open SELL order -> (token, remaining)
        self._total = 0
        self._dirty_orders: set[str] = set()
        self._dirty_tokens: set[str] = set()
        self._snapshot: ExposureSnapshot | None = None

    def order_changed(self, order_hash: str) -> None:
        """An order record was created or may have changed (state, matched size)."""
        self._dirty_orders.add(order_hash)

    def position_changed(self, token_id: str) -> None:
        """A token's position view was replaced."""
        self._dirty_tokens.add(token_id)

    def open_sells(self, token_id: str, orders: Mapping[str, OrderRecord]) -> int:
        """Share-micros the open SELL orders of a token still offer (their remaining sizes)."""
        self._fold_orders(orders)
        return self._sells.sums.get(token_id, 0)

    def _fold_orders(self, orders: Mapping[str, OrderRecord]) -> None:
        if self._dirty_orders:
            for order_hash in self._dirty_orders:
                self._refresh_order(order_hash, orders.get(order_hash))
            self._dirty_orders.clear()
            self._snapshot = None

    def snapshot(
        self, orders: Mapping[str, OrderRecord], positions: Mapping[str, PositionView]
    ) -> ExposureSnapshot:
        """Fold the pending changes in and return the current totals."""
        self._fold_orders(orders)
        if self._dirty_tokens:
            for token in self._dirty_tokens:
                self._refresh_position(token, positions.get(token))
            self._dirty_tokens.clear()
            self._snapshot = None
        snap = self._snapshot
        if snap is None:
            snap = self._snapshot = ExposureSnapshot(
                exposure=dict(self._exposure.sums),
                open_orders=dict(self._open.sums),
                total=self._total,
            )
        return snap

    def _refresh_order(self, order_hash: str, order: OrderRecord | None) -> None:
        old = self._orders.pop(order_hash, None)
        if old is not None:
            market, amount = old
            self._open.remove(market, 1)
            if amount is not None:
                self._exposure.remove(market, amount)
                self._total -= amount
            else:
                token, shares = self._sold.pop(order_hash)
                self._sells.remove(token, shares)
        if order is None or not order.is_open:
            return
        market = order.market
        amount = order_exposure(order) if order.side is Side.BUY else None
        self._orders[order_hash] = (market, amount)
        self._open.add(market, 1)
        if amount is not None:
            self._exposure.add(market, amount)
            self._total += amount
        else:
            self._sold[order_hash] = (order.token_id, order.remaining)
            self._sells.add(order.token_id, order.remaining)

    def _refresh_position(self, token: str, view: PositionView | None) -> None:
        old = self._positions.pop(token, None)
        if old is not None:
            self._exposure.remove(old[0], old[1])
            self._total -= old[1]
        if view is None or view.expected <= 0 or view.cost <= 0:
            return
        self._positions[token] = (view.market, view.cost)
        self._exposure.add(view.market, view.cost)
        self._total += view.cost


class ValueTotals:
    """The sum of every position at its mark (:func:`~.pnl.market_value`), kept current.

    The owner calls :meth:`position_changed` when a token's view is replaced; mark writes
    are read from :meth:`Marks.take_changed`.
    """

    __slots__ = ("_dirty", "_total", "_values")

    def __init__(self) -> None:
        self._values: dict[str, int] = {}
        self._total = 0
        self._dirty: set[str] = set()

    def position_changed(self, token_id: str) -> None:
        """A token's position view was replaced."""
        self._dirty.add(token_id)

    def total(self, positions: Mapping[str, PositionView], marks: Marks) -> int:
        """Σ market value of every position at its mark (cost when unmarked)."""
        dirty = self._dirty
        if marks.written:
            dirty |= marks.take_changed()
        if dirty:
            values = self._values
            total = self._total
            for token in dirty:
                total -= values.pop(token, 0)
                view = positions.get(token)
                if view is not None:
                    value = values[token] = market_value(view, marks.get(token))
                    total += value
            self._total = total
            dirty.clear()
        return self._total
