"""The SQL projection: orders, trades, positions and daily PnL, derived from the event log.

The event log stays the source of truth. :class:`Projection` applies events to the same
:class:`~polyloly.execution.state.ExecutionState` the live engine uses, then writes the
rows those events touched. :meth:`Projection.rebuild` empties the tables and replays a log
from the start; :meth:`Projection.apply` appends newer events incrementally. Both end in
identical tables, on SQLite and PostgreSQL alike.

``daily_pnl`` has one row per UTC day (of ``ts_init``): the equity logged when the day
started (``DayStarted``), and the realized PnL, fees, fills and traded notional of fills
first seen that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from polyloly.domain.events import Event
from polyloly.domain.money import SCALE
from polyloly.execution.engine import LEDGER_EVENTS, Translate
from polyloly.execution.events import DayStarted, OrderUpdate, TradeUpdate
from polyloly.execution.lifecycle import Fill, OrderRecord
from polyloly.execution.pnl import day_of
from polyloly.execution.positions import PositionView
from polyloly.execution.state import ExecutionState
from polyloly.storage.db import Database

__all__ = ["Projection"]

_EVENTS_APPLIED = "events_applied"


@dataclass(slots=True)
class _Day:
    start_equity: int | None = None
    realized: int = 0
    fees: int = 0
    fills: int = 0
    volume: int = 0


@dataclass(slots=True)
class _Dirty:
    orders: set[str] = field(default_factory=set)
    fills: set[tuple[str, str]] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    days: set[int] = field(default_factory=set)

    def any(self) -> bool:
        return bool(self.orders or self.fills or self.tokens or self.days)


class Projection:
    """Keeps the SQL tables in step with the event log.

    Parameters
    ----------
    db
        The (migrated) database to write.
    translators
        Adapter event types and their translation into execution events (as given to
        :meth:`~polyloly.execution.engine.ExecutionEngine.add_venue_events`).
    """

    def __init__(self, db: Database, translators: dict[type[Event], Translate] | None = None):
        self.db = db
        self.translators = dict(translators or {})
        self.state = ExecutionState()
        self.days: dict[int, _Day] = {}
        self.applied = 0
        self._ledger = frozenset(LEDGER_EVENTS)

    async def rebuild(self, events: Iterable[Event]) -> int:
        """Empty the tables and project ``events`` from scratch; return events applied."""
        self.state = ExecutionState()
        self.days = {}
        self.applied = 0
        dirty = _Dirty()
        for event in events:
            self._apply_one(event, dirty)
        async with self.db.engine.begin() as conn:
            for table in self.db.tables.data_tables():
                await conn.execute(delete(table))
            await self._write(conn, dirty)
        return self.applied

    async def apply(self, events: Iterable[Event]) -> int:
        """Project events that follow those already applied; return how many applied."""
        before = self.applied
        dirty = _Dirty()
        for event in events:
            self._apply_one(event, dirty)
        if dirty.any() or self.applied != before:
            async with self.db.engine.begin() as conn:
                await self._write(conn, dirty)
        return self.applied - before

    # -- applying ---------------------------------------------------------------------------

    def _apply_one(self, event: Event, dirty: _Dirty) -> None:
        translate = self.translators.get(type(event))
        if translate is not None:
            translated = translate(event)
            if translated is None:
                return
            event = translated
        elif type(event) not in self._ledger:
            return
        state = self.state
        before_fills = set(state.fills)
        before_tokens = {t: state.position(t) for t in state.positions}
        fx = state.apply(event)
        self.applied += 1
        day = self.days.setdefault(day_of(event.ts_init), _Day())
        dirty.days.add(day_of(event.ts_init))
        if isinstance(event, DayStarted):
            self.days.setdefault(event.day, _Day()).start_equity = event.equity
            dirty.days.add(event.day)
        dirty.orders.update(h for h, _, _ in fx.orders)
        if isinstance(event, OrderUpdate):
            dirty.orders.add(event.order.order_hash)
        dirty.orders.update(fx.adopted)
        for key, fill in state.fills.items():
            if key not in before_fills:
                day.fills += 1
                day.volume += fill.size * fill.price // SCALE
                dirty.fills.add(key)
        if isinstance(event, TradeUpdate):
            dirty.fills.update(k for k in state.fills if k[0] == event.report.trade_id)
        for token in fx.tokens:
            old = before_tokens.get(token, PositionView(market="", token_id=token))
            new = state.position(token)
            day.realized += new.realized - old.realized
            day.fees += new.fees - old.fees
            dirty.tokens.add(token)
            dirty.fills.update(f.key for f in state.fills_by_token.get(token, ()))
            dirty.orders.update(f.order_hash for f in state.fills_by_token.get(token, ()))

    # -- writing ----------------------------------------------------------------------------

    async def _write(self, conn: AsyncConnection, dirty: _Dirty) -> None:
        t = self.db.tables
        state = self.state
        orders = [_order_row(state.orders[h]) for h in sorted(dirty.orders) if h in state.orders]
        await _replace(conn, t.orders, [("order_hash",)], orders)
        fills = [_fill_row(state.fills[k]) for k in sorted(dirty.fills) if k in state.fills]
        await _replace(conn, t.trades, [("trade_id", "order_hash")], fills)
        positions = [_position_row(state.position(tok)) for tok in sorted(dirty.tokens)]
        await _replace(conn, t.positions, [("token_id",)], positions)
        days = [_day_row(d, self.days[d]) for d in sorted(dirty.days) if d in self.days]
        await _replace(conn, t.daily_pnl, [("day",)], days)
        await _replace(
            conn, t.projection_state, [("key",)], [{"key": _EVENTS_APPLIED, "value": self.applied}]
        )

    async def rows(self, table: str) -> list[tuple[Any, ...]]:
        """Every row of one table, ordered by primary key (for comparisons and reports)."""
        tab: Table = getattr(self.db.tables, table)
        order = list(tab.primary_key.columns)
        async with self.db.engine.connect() as conn:
            result = await conn.execute(select(tab).order_by(*order))
            return [tuple(r) for r in result.all()]


async def _replace(
    conn: AsyncConnection, table: Table, keys: list[tuple[str, ...]], rows: list[dict[str, Any]]
) -> None:
    """Upsert by primary key, portably: delete the rows' keys, then insert the rows."""
    if not rows:
        return
    (key_cols,) = keys
    for row in rows:
        condition = [table.c[k] == row[k] for k in key_cols]
        await conn.execute(delete(table).where(*condition))
    await conn.execute(table.insert(), rows)


def _order_row(o: OrderRecord) -> dict[str, Any]:
    return {
        "order_hash": o.order_hash,
        "client_id": o.client_id,
        "strategy": o.strategy,
        "market": o.market,
        "token_id": o.token_id,
        "side": o.side.value,
        "price": o.price,
        "size": o.size,
        "order_type": o.order_type.value,
        "state": o.state.value,
        "size_matched": o.size_matched,
        "reason": o.reason,
        "created_ns": o.created_ns,
        "updated_ns": o.updated_ns,
    }


def _fill_row(f: Fill) -> dict[str, Any]:
    return {
        "trade_id": f.trade_id,
        "order_hash": f.order_hash,
        "market": f.market,
        "token_id": f.token_id,
        "side": f.side.value,
        "price": f.price,
        "size": f.size,
        "fee": f.fee,
        "liquidity": f.liquidity.value,
        "status": f.status.value,
        "seq": f.seq,
        "match_time_ns": f.match_time_ns,
    }


def _position_row(v: PositionView) -> dict[str, Any]:
    return {
        "token_id": v.token_id,
        "market": v.market,
        "confirmed": v.confirmed,
        "pending": v.pending,
        "cost": v.cost,
        "realized": v.realized,
        "fees": v.fees,
    }


def _day_row(day: int, d: _Day) -> dict[str, Any]:
    return {
        "day": day,
        "start_equity": d.start_equity,
        "realized": d.realized,
        "fees": d.fees,
        "fills": d.fills,
        "volume": d.volume,
    }
