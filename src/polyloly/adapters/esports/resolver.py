"""Provider bindings for markets found through Gamma: every provider bound in production.

A market discovered through Gamma knows its match only by the two team names and the start
time. Providers that list live matches by team (OpenDota, PandaScore, lolesports) bind
themselves while polling, through the match directory; GRID and Liquipedia poll only the ids
bound to them, so each needs its own search:

* GRID: the Central Data series listing (``allSeries``) by title and scheduled time, then
  the two teams;
* Liquipedia: LPDB ``/match`` by date (``[[date::>A]] AND [[date::<B]]``), then the two
  opponents.

:class:`Binder` runs those searches for each wanted match, (re)trying the ones not found
yet, binds what it finds in the directory and publishes a
:class:`~polyloly.domain.events.MatchBound` for each binding (so a log shows, and a replay
repeats, how every match was bound). Operator overrides (``adapters.esports.bindings``) are
bound before any search and win over it.

Names are compared through the alias table (canonical names); the nearest scheduled start
within the directory's window wins, and a listing with two equally near candidates binds
neither (ambiguous).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from polyloly.adapters.esports.identity import MatchDirectory
from polyloly.domain.events import Event, MatchBound
from polyloly.runtime.clock import NS_PER_S, Clock
from polyloly.runtime.errors import RejectError, RetryableError
from polyloly.runtime.sleep import Sleeper

__all__ = ["Binder", "Finder", "WantedMatch", "iso_utc", "pick_match"]

_log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class WantedMatch:
    """A match a market needs bound: canonical id, game, teams, scheduled start."""

    match_id: str
    game: str
    team_a: str
    team_b: str
    start_ns: int | None = None
    best_of: int | None = None


class Finder(Protocol):
    """A provider that can search its own listing for a match."""

    source: str

    async def find_match(self, want: WantedMatch) -> str | None:
        """The provider's id of ``want``, or None if its listing has no such match (yet)."""
        ...


def iso_utc(ts_ns: int) -> str:
    """``2026-01-01T10:00:00Z``."""
    return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pick_match(
    candidates: Iterable[tuple[str, str, str, int | None]],
    want: WantedMatch,
    canonical: Callable[[str], str],
    window_ns: int,
) -> str | None:
    """The id among ``(id, team, team, start_ns)`` that is ``want``: same two teams, nearest
    start within ``window_ns``; None if there is none or two are equally near."""
    teams = {canonical(want.team_a), canonical(want.team_b)}
    found: list[tuple[int, str]] = []
    for pid, x, y, start in candidates:
        if {canonical(x), canonical(y)} != teams:
            continue
        if start is None or want.start_ns is None:
            distance = window_ns
        else:
            distance = abs(start - want.start_ns)
            if distance > window_ns:
                continue
        found.append((distance, pid))
    found.sort()
    if not found or (len(found) > 1 and found[0][0] == found[1][0] and found[0][1] != found[1][1]):
        return None
    return found[0][1]


class Binder:
    """Binds wanted matches in every searchable provider, retrying until each is found.

    Parameters
    ----------
    finders
        The enabled providers that search their listing (GRID, Liquipedia).
    directory
        The shared match directory the feeds poll from.
    publish, clock, sleeper
        The kernel's publish and injected time.
    retry_ns
        How long to wait before searching again for what was not found.
    """

    def __init__(
        self,
        finders: Sequence[Finder],
        directory: MatchDirectory,
        *,
        publish: Callable[[Event], None],
        clock: Clock,
        sleeper: Sleeper,
        retry_ns: int = 60 * NS_PER_S,
    ) -> None:
        self.finders = list(finders)
        self.directory = directory
        self._publish = publish
        self._clock = clock
        self._sleeper = sleeper
        self.retry_ns = retry_ns
        self.wanted: list[WantedMatch] = []
        self.searches = 0

    def want(self, match: WantedMatch) -> None:
        """Add a match to bind."""
        self.wanted.append(match)

    def pending(self) -> list[tuple[WantedMatch, Finder]]:
        """The (match, provider) pairs not bound yet."""
        return [
            (w, f)
            for w in self.wanted
            for f in self.finders
            if self.directory.provider_id(w.match_id, f.source) is None
        ]

    def bound(self, match_id: str, source: str, provider_id: str, how: str) -> None:
        """Bind one provider id (an override or a search result) and publish it."""
        if not self.directory.attach(match_id, source, provider_id):
            return
        now = self._clock.now_ns()
        self._publish(
            MatchBound(
                ts_event=now, ts_init=now, match_id=match_id, source=source,
                provider_match_id=provider_id, how=how,
            )
        )  # fmt: skip

    async def bind_once(self) -> int:
        """Search once for every pending pair; return how many were bound."""
        done = 0
        for want, finder in self.pending():
            self.searches += 1
            try:
                pid = await finder.find_match(want)
            except (RetryableError, RejectError) as exc:
                _log.warning(
                    "esports_binding_search_failed",
                    source=finder.source,
                    match_id=want.match_id,
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            if pid is not None:
                self.bound(want.match_id, finder.source, pid, "search")
                done += 1
        return done

    async def run(self) -> None:
        """Search until every wanted match is bound in every searchable provider."""
        while True:
            await self.bind_once()
            if not self.pending():
                return
            await self._sleeper.sleep_ns(self.retry_ns)
