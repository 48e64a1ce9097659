"""Gamma API records (``/markets``, ``/events``), only the fields discovery uses.

``outcomes``, ``outcomePrices`` and ``clobTokenIds`` are JSON-encoded *strings*; numbers
such as ``orderPriceMinTickSize`` (``0.001``) and ``feeSchedule.rate`` (``0.03``) are JSON
numbers, decoded exactly as ``Decimal`` (never through a binary float).

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §6; nautilus_trader
``crates/adapters/polymarket/test_data/gamma_market_sports_market_money_line.json``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["GammaEvent", "GammaEventRef", "GammaFeeSchedule", "GammaMarket", "GammaTag"]


class GammaFeeSchedule(msgspec.Struct, frozen=True):
    """Per-market fee curve: ``fee = C × rate × (p(1 − p))^exponent``, takers only."""

    rate: Decimal = Decimal(0)
    exponent: Decimal = Decimal(1)
    takerOnly: bool = True  # noqa: N815 - venue field name
    rebateRate: Decimal | None = None  # noqa: N815 - venue field name


class GammaTag(msgspec.Struct, frozen=True):
    """A tag on an event (``league-of-legends``, ``dota-2``, ``esports``…)."""

    id: str | int | None = None
    slug: str = ""
    label: str = ""


class GammaEventRef(msgspec.Struct, frozen=True):
    """The parent event as embedded in a market record."""

    id: str | int | None = None
    slug: str = ""
    title: str = ""
    seriesSlug: str | None = None  # noqa: N815 - venue field name
    startTime: str | None = None  # noqa: N815 - venue field name


class GammaMarket(msgspec.Struct, frozen=True):
    """One market (a binary condition with two outcome tokens)."""

    id: str | int
    question: str = ""
    conditionId: str = ""  # noqa: N815 - venue field name
    slug: str = ""
    outcomes: str | None = None
    outcomePrices: str | None = None  # noqa: N815 - venue field name
    clobTokenIds: str | None = None  # noqa: N815 - venue field name
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    acceptingOrders: bool | None = None  # noqa: N815 - venue field name
    enableOrderBook: bool | None = None  # noqa: N815 - venue field name
    negRisk: bool | None = None  # noqa: N815 - venue field name
    orderMinSize: Decimal | None = None  # noqa: N815 - venue field name
    orderPriceMinTickSize: Decimal | None = None  # noqa: N815 - venue field name
    secondsDelay: int | None = None  # noqa: N815 - venue field name
    gameStartTime: str | None = None  # noqa: N815 - venue field name
    endDate: str | None = None  # noqa: N815 - venue field name
    feesEnabled: bool | None = None  # noqa: N815 - venue field name
    feeSchedule: GammaFeeSchedule | None = None  # noqa: N815 - venue field name
    sportsMarketType: str | None = None  # noqa: N815 - venue field name
    groupItemTitle: str | None = None  # noqa: N815 - venue field name
    gameId: str | int | None = None  # noqa: N815 - venue field name
    clearBookOnStart: bool | None = None  # noqa: N815 - venue field name
    events: list[GammaEventRef] | None = None


class GammaEvent(msgspec.Struct, frozen=True):
    """An event (one match) with its markets (match winner, Game N winner, props…)."""

    id: str | int
    slug: str = ""
    title: str = ""
    active: bool | None = None
    closed: bool | None = None
    negRisk: bool | None = None  # noqa: N815 - venue field name
    seriesSlug: str | None = None  # noqa: N815 - venue field name
    startTime: str | None = None  # noqa: N815 - venue field name
    tags: list[GammaTag] | None = None
    markets: list[GammaMarket] = []
