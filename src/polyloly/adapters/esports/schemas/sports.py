"""Polymarket Sports WebSocket payloads (``wss://sports-api.polymarket.com/ws``).

References
----------
``docs/reference/esports.md`` §6; docs.polymarket.com market-data/websocket/sports:
``sport_result`` messages ``{gameId, leagueAbbreviation, slug, homeTeam, awayTeam, status,
score, period, live, ended, finished_timestamp}``; esports ``score`` like
``"000-000|2-0|Bo3"``, ``period`` like ``"2/3"``. Every field has a default: the venue sends
what it has.
"""

from __future__ import annotations

import msgspec

__all__ = ["SportResult"]


class SportResult(msgspec.Struct, frozen=True, kw_only=True):
    """One ``sport_result`` message."""

    type: str = ""  # absent on the documented messages; a non-result type is skipped
    gameId: int | str | None = None  # noqa: N815 - the venue's field name
    leagueAbbreviation: str = ""  # noqa: N815
    slug: str = ""
    homeTeam: str = ""  # noqa: N815
    awayTeam: str = ""  # noqa: N815
    status: str = ""
    score: str = ""
    period: str = ""
    live: bool = False
    ended: bool = False
    finished_timestamp: str | int | None = None
