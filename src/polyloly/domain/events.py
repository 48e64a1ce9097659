"""Immutable kernel events with two integer-nanosecond stamps.

Every input the bot sees (a book frame, an esports report, a venue reply, a timer, an
operator command) and every decision it derives (truth updates, intents, risk decisions)
is an :class:`Event`. Events are frozen ``msgspec`` structs tagged by a ``type`` field so
the append-only event log can write and read them back exactly.

* ``ts_event`` — when the source says it happened (venue / provider time), int ns.
* ``ts_init`` — when polyloly received or created it (injected clock), int ns.

New event classes are registered with :func:`register_event`; the event log decodes any
registered class. Money fields are integer micro-units (see :mod:`polyloly.domain.money`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import msgspec

__all__ = [
    "BookInvalidated",
    "BookSnapshot",
    "Event",
    "FeedState",
    "FeedStatus",
    "LastTrade",
    "Level",
    "LevelChange",
    "MarketResolved",
    "MatchBound",
    "MatchEvent",
    "MatchEventKind",
    "OperatorCommand",
    "PriceChanges",
    "Side",
    "TickSizeChange",
    "TimerTick",
    "TruthAlert",
    "TruthDelta",
    "TruthFinal",
    "TruthState",
    "event_types",
    "register_event",
]


class Side(StrEnum):
    """Order or book side."""

    BUY = "BUY"
    SELL = "SELL"


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Base of every kernel event.

    ``derived`` events are produced by the core from other events (truth updates, intents,
    risk decisions). They are logged for audit, but replay regenerates them instead of
    feeding them back in.
    """

    ts_event: int
    ts_init: int

    derived: ClassVar[bool] = False


_E = TypeVar("_E", bound=type[Event])
_REGISTRY: dict[str, type[Event]] = {}


def register_event(cls: _E) -> _E:
    """Register an event class so the event log can decode it (use as a decorator)."""
    tag = cls.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{cls.__name__} needs a string tag: class X(Event, tag='x')")
    existing = _REGISTRY.get(tag)
    if existing is not None and existing is not cls:
        raise TypeError(f"event tag {tag!r} already used by {existing.__name__}")
    _REGISTRY[tag] = cls
    return cls


def event_types() -> tuple[type[Event], ...]:
    """Return every registered event class, in registration order."""
    return tuple(_REGISTRY.values())


# ---------------------------------------------------------------------------------------------
# Market data (Polymarket market channel, normalized). Prices and sizes are micro-units.
# ---------------------------------------------------------------------------------------------

Level = tuple[int, int]
"""One book level: ``(price_micros, size_micros)``."""


@register_event
class BookSnapshot(Event, frozen=True, tag="book_snapshot"):
    """Full L2 book of one token. Levels may arrive in any order (the venue sends worst→best)."""

    market: str
    token_id: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    tick: int | None = None
    hash: str = ""


class LevelChange(msgspec.Struct, frozen=True, array_like=True):
    """One changed level: the new aggregate ``size`` at ``price`` (0 removes the level)."""

    token_id: str
    side: Side
    price: int
    size: int


@register_event
class PriceChanges(Event, frozen=True, tag="price_changes"):
    """A ``price_change`` frame: one or more level updates, possibly across tokens."""

    market: str
    changes: tuple[LevelChange, ...]


@register_event
class LastTrade(Event, frozen=True, tag="last_trade"):
    """A trade printed on the market channel (``last_trade_price``)."""

    market: str
    token_id: str
    price: int
    size: int
    side: Side


@register_event
class TickSizeChange(Event, frozen=True, tag="tick_size_change"):
    """The token's tick size changed; its book must be rebuilt from a fresh snapshot."""

    market: str
    token_id: str
    old_tick: int
    new_tick: int


@register_event
class BookInvalidated(Event, frozen=True, tag="book_invalidated"):
    """A token's local book is no longer known to be in sync (disconnect, stall, tick change)."""

    token_id: str
    reason: str


@register_event
class MarketResolved(Event, frozen=True, tag="market_resolved"):
    """The market resolved; ``winning_token_id`` pays 1 pUSD per share."""

    market: str
    winning_token_id: str


# ---------------------------------------------------------------------------------------------
# Esports (normalized from every provider)
# ---------------------------------------------------------------------------------------------


class MatchEventKind(StrEnum):
    """What a provider reported about a match (series) or one of its games (maps)."""

    MATCH_SCHEDULED = "match_scheduled"
    MATCH_STARTED = "match_started"
    GAME_STARTED = "game_started"
    PAUSED = "paused"
    RESUMED = "resumed"
    GAME_ENDED = "game_ended"
    MATCH_ENDED = "match_ended"
    KILL = "kill"
    OBJECTIVE = "objective"
    MATCH_CANCELED = "match_canceled"


@register_event
class MatchEvent(Event, frozen=True, tag="match_event"):
    """One normalized provider report.

    ``match_id`` is polyloly's canonical id of the series (shared by every provider for the
    same match); ``provider_match_id`` is the provider's own id. Teams are normalized names
    (see :mod:`polyloly.domain.markets`). ``winner`` is set for GAME_ENDED / MATCH_ENDED.
    ``seq`` is the provider's own sequence number or update time when it has one, used to
    detect duplicates and out-of-order delivery.
    """

    source: str
    match_id: str
    provider_match_id: str
    kind: MatchEventKind
    team_a: str
    team_b: str
    game: str = ""  # "lol" | "dota2"
    best_of: int | None = None
    game_number: int | None = None
    winner: str | None = None
    score_a: int | None = None
    score_b: int | None = None
    seq: int | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


@register_event
class MatchBound(Event, frozen=True, tag="match_bound"):
    """A provider's match was bound to a canonical match (so a replay binds the same way).

    ``how``: ``"config"`` (an operator override, ``adapters.esports.bindings``), ``"search"``
    (the provider's own listing searched by teams and start time) or ``"names"`` (the
    provider reported it under the market's team names while polling).
    """

    match_id: str
    source: str
    provider_match_id: str
    how: str = "search"


class FeedState(StrEnum):
    """Health of one data feed."""

    OK = "ok"
    STALE = "stale"
    DOWN = "down"


@register_event
class FeedStatus(Event, frozen=True, tag="feed_status"):
    """A feed (esports provider or exchange socket) changed health."""

    source: str
    state: FeedState
    detail: str = ""


# ---------------------------------------------------------------------------------------------
# Truth engine outputs (derived)
# ---------------------------------------------------------------------------------------------


class TruthState(StrEnum):
    """States of one match (series) in the truth engine."""

    PRE_MATCH = "PRE_MATCH"
    LIVE = "LIVE"
    PAUSED = "PAUSED"
    POST_MATCH_PENDING = "POST_MATCH_PENDING"
    FINAL = "FINAL"


@register_event
class TruthDelta(Event, frozen=True, tag="truth_delta"):
    """The truth engine's view of a match changed (state, score, a map result, a pause)."""

    match_id: str
    state: TruthState
    change: str
    score_a: int
    score_b: int
    team_a: str
    team_b: str
    confidence: int  # basis points: 8000 = 0.80
    game_number: int | None = None
    game_winner: str | None = None
    game_confidence: int = 0  # basis points
    leader: str | None = None
    game_sources: tuple[str, ...] = ()  # the sources agreeing on ``game_winner``

    derived: ClassVar[bool] = True


@register_event
class TruthFinal(Event, frozen=True, tag="truth_final"):
    """A match result the engine has confirmed: trade on it, and stop pair-arb on it."""

    match_id: str
    winner: str
    score_a: int
    score_b: int
    team_a: str
    team_b: str
    confidence: int  # basis points
    sources: tuple[str, ...] = ()
    timed_out: bool = False  # FINAL by the engine's timeout, not by confirmation

    derived: ClassVar[bool] = True


@register_event
class TruthAlert(Event, frozen=True, tag="truth_alert"):
    """Sources contradict each other (or something else looks wrong) on a match."""

    match_id: str
    reason: str
    blocked: bool = True

    derived: ClassVar[bool] = True


# ---------------------------------------------------------------------------------------------
# Time and operator input
# ---------------------------------------------------------------------------------------------


@register_event
class TimerTick(Event, frozen=True, tag="timer_tick"):
    """A periodic clock tick (drives timeouts in the core deterministically)."""

    name: str = "tick"


@register_event
class OperatorCommand(Event, frozen=True, tag="operator_command"):
    """An operator said halt, resume or cancel-all (control API or CLI)."""

    command: str
    reason: str = ""
