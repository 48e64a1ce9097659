"""The SQL projection's tables (SQLAlchemy Core) and its ordered, versioned migrations.

The projection is rebuildable from the event log, so the schema only has to be correct,
never preserved across a bad migration: drop it and rebuild. It is still versioned — a
``schema_version`` table lists every migration applied, in order — so a database written
by an older build is upgraded in place, and a newer one is refused.

Every amount is an integer micro-unit (``BigInteger``); every time is integer ns. Table
names carry an optional prefix so several projections (tests running in parallel, a paper
and a live bot) can share one database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "Tables", "make_tables"]


@dataclass(frozen=True, slots=True)
class Tables:
    """Every projection table, bound to one metadata (and one name prefix)."""

    metadata: MetaData
    schema_version: Table
    orders: Table
    trades: Table
    positions: Table
    daily_pnl: Table
    projection_state: Table

    def data_tables(self) -> tuple[Table, ...]:
        """The tables a rebuild empties and refills (not the version table)."""
        return (self.orders, self.trades, self.positions, self.daily_pnl, self.projection_state)


def make_tables(prefix: str = "") -> Tables:
    """Build the table definitions, each name starting with ``prefix``."""
    md = MetaData()

    def name(base: str) -> str:
        return f"{prefix}{base}"

    return Tables(
        metadata=md,
        schema_version=Table(
            name("schema_version"),
            md,
            Column("version", Integer, primary_key=True, autoincrement=False),
            Column("description", Text, nullable=False),
        ),
        orders=Table(
            name("orders"),
            md,
            Column("order_hash", String(130), primary_key=True),
            Column("client_id", Text, nullable=False),
            Column("strategy", Text, nullable=False),
            Column("market", Text, nullable=False),
            Column("token_id", Text, nullable=False),
            Column("side", String(4), nullable=False),
            Column("price", BigInteger, nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("order_type", String(3), nullable=False),
            Column("state", String(20), nullable=False),
            Column("size_matched", BigInteger, nullable=False),
            Column("reason", Text, nullable=False),
            Column("created_ns", BigInteger, nullable=False),
            Column("updated_ns", BigInteger, nullable=False),
        ),
        trades=Table(
            name("trades"),
            md,
            Column("trade_id", String(130), primary_key=True),
            Column("order_hash", String(130), primary_key=True),
            Column("market", Text, nullable=False),
            Column("token_id", Text, nullable=False),
            Column("side", String(4), nullable=False),
            Column("price", BigInteger, nullable=False),
            Column("size", BigInteger, nullable=False),
            Column("fee", BigInteger, nullable=False),
            Column("liquidity", String(5), nullable=False),
            Column("status", String(10), nullable=False),
            Column("seq", BigInteger, nullable=False),
            Column("match_time_ns", BigInteger, nullable=False),
        ),
        positions=Table(
            name("positions"),
            md,
            Column("token_id", Text, primary_key=True),
            Column("market", Text, nullable=False),
            Column("confirmed", BigInteger, nullable=False),
            Column("pending", BigInteger, nullable=False),
            Column("cost", BigInteger, nullable=False),
            Column("realized", BigInteger, nullable=False),
            Column("fees", BigInteger, nullable=False),
        ),
        daily_pnl=Table(
            name("daily_pnl"),
            md,
            Column("day", Integer, primary_key=True, autoincrement=False),
            Column("start_equity", BigInteger, nullable=True),
            Column("realized", BigInteger, nullable=False),
            Column("fees", BigInteger, nullable=False),
            Column("fills", Integer, nullable=False),
            Column("volume", BigInteger, nullable=False),
        ),
        projection_state=Table(
            name("projection_state"),
            md,
            Column("key", String(40), primary_key=True),
            Column("value", BigInteger, nullable=False),
        ),
    )


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step: ``apply(connection, tables)`` inside the caller's transaction."""

    version: int
    description: str
    apply: Callable[[Connection, Tables], None]


def _v1_tables(conn: Connection, t: Tables) -> None:
    t.metadata.create_all(conn, tables=list(t.data_tables()))


def _v2_indexes(conn: Connection, t: Tables) -> None:
    prefix = t.orders.name.removesuffix("orders")
    Index(f"{prefix}ix_orders_market_state", t.orders.c.market, t.orders.c.state).create(conn)
    Index(f"{prefix}ix_trades_order", t.trades.c.order_hash).create(conn)
    Index(f"{prefix}ix_positions_market", t.positions.c.market).create(conn)


MIGRATIONS: Final = (
    Migration(1, "orders, trades, positions, daily_pnl, projection_state", _v1_tables),
    Migration(
        2, "indexes on orders(market, state), trades(order_hash), positions(market)", _v2_indexes
    ),
)
"""Every migration, in order; a database is at the highest version applied."""

SCHEMA_VERSION: Final = MIGRATIONS[-1].version
"""The version this build writes."""
