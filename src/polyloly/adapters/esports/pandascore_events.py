"""PandaScore live *events* socket (Pro plan): kills and objectives as they happen.

``{ws_url}/matches/{id}/events?token=`` sends ``{"type":"hello","payload":{}}`` and then one
message per in-game event, typed with the LoL event vocabulary (``player_kill``,
``tower_kill``, ``drake_kill``, ``baron_nashor_kill``, ``inhibitor_kill``,
``rift_herald_kill``, ``voidgrub_kill``, ``atakhan_kill``) and carrying ``game_id``,
``ingame_timestamp``, ``is_first`` and ``payload{killer, victim, assists}``. After a
reconnect the client sends ``{"type":"recover","payload":{"game_id":N}}`` and the server
replays every event of that game, so replays must be told apart from new events: an event
counts as new only when this connection has now seen it more often than any earlier one.

The live envelope is not public (reference §2: "exact live envelope unverified"); the killer's
team is read from ``payload.killer.object.team_id`` — an assumption the local feed follows.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

import msgspec

from polyloly.domain.events import MatchEventKind

__all__ = ["EVENT_KINDS", "EventKey", "LiveEventDeduper", "PsLiveEvent", "classify"]

EVENT_KINDS: Final[dict[str, tuple[MatchEventKind, str]]] = {
    "player_kill": (MatchEventKind.KILL, ""),
    "tower_kill": (MatchEventKind.OBJECTIVE, "towers"),
    "drake_kill": (MatchEventKind.OBJECTIVE, "drakes"),
    "baron_nashor_kill": (MatchEventKind.OBJECTIVE, "nashors"),
    "inhibitor_kill": (MatchEventKind.OBJECTIVE, "inhibitors"),
    "rift_herald_kill": (MatchEventKind.OBJECTIVE, "herald"),
    "voidgrub_kill": (MatchEventKind.OBJECTIVE, "voidgrubs"),
    "atakhan_kill": (MatchEventKind.OBJECTIVE, "atakhans"),
}
"""Event type -> (normalized kind, objective name); other types are ignored."""


class PsActorObject(msgspec.Struct, frozen=True, kw_only=True):
    """``payload.killer.object`` / ``payload.victim.object``."""

    id: int | None = None
    name: str | None = None
    team_id: int | None = None


class PsActor(msgspec.Struct, frozen=True, kw_only=True):
    """``payload.killer`` / ``payload.victim`` (``type``: player, tower, drake, minion...)."""

    type: str = ""
    object: PsActorObject | None = None


class PsEventPayload(msgspec.Struct, frozen=True, kw_only=True):
    """``payload``."""

    killer: PsActor | None = None
    victim: PsActor | None = None


class PsLiveEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One live event."""

    type: str
    game_id: int
    match_id: int | None = None
    ingame_timestamp: int = 0
    is_first: bool = False
    payload: PsEventPayload | None = None


EventKey = tuple[int, int, str, int | None, int | None, str]


def _key(event: PsLiveEvent) -> EventKey:
    killer = event.payload.killer if event.payload else None
    victim = event.payload.victim if event.payload else None
    return (
        event.game_id,
        event.ingame_timestamp,
        event.type,
        killer.object.id if killer and killer.object else None,
        victim.object.id if victim and victim.object else None,
        victim.object.name or "" if victim and victim.object else "",
    )


def classify(event: PsLiveEvent) -> tuple[MatchEventKind, str, int | None] | None:
    """``(kind, objective, killer team id)`` of an event, or ``None`` if not tracked."""
    found = EVENT_KINDS.get(event.type)
    if found is None:
        return None
    killer = event.payload.killer if event.payload else None
    team = killer.object.team_id if killer and killer.object else None
    return found[0], found[1], team


class LiveEventDeduper:
    """Tells replayed events (after ``recover``) from new ones, across connections."""

    def __init__(self) -> None:
        self._seen: Counter[EventKey] = Counter()
        self._connection: Counter[EventKey] = Counter()

    def new_connection(self) -> None:
        """A socket (re)opened: its replays start counting from zero."""
        self._connection = Counter()

    def is_new(self, event: PsLiveEvent) -> bool:
        """Count ``event`` on this connection; true if no connection saw it this often."""
        key = _key(event)
        self._connection[key] += 1
        if self._connection[key] > self._seen[key]:
            self._seen[key] = self._connection[key]
            return True
        return False
