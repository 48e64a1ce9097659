"""Which provider match is which polyloly match, and which provider team is which side.

Every provider has its own ids (PandaScore ``1000450``, GRID series ``2578928``, an
OpenDota ``series_id``, an LPDB ``match2id``...). polyloly's canonical ``match_id`` is shared
by all of them, so the truth engine can add up independent reports about one series.

Resolution order in :meth:`MatchDirectory.resolve`:

1. an explicit binding from configuration (``esports.matches[].provider_ids``);
2. an id this directory already resolved;
3. a known match of the same game whose two teams are the same *normalized* teams (via the
   alias table) and whose scheduled start lies within ``window_ns`` of the report's;
4. otherwise (only for adapters with ``discover: true``) a new canonical id, derived from
   the game, the two team names and the start date, so two providers that report a match
   nobody configured still meet on one id.

``team_a`` is the side the binding (or the first provider to report the match) lists
first; for a bound match it is the team whose win pays the market's first token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from polyloly.adapters.esports.config import MatchBindingSettings
from polyloly.domain.markets import TeamAliases
from polyloly.runtime.clock import NS_PER_S

__all__ = ["MatchDirectory", "MatchRef", "Side"]

Side = str
"""``"a"`` or ``"b"``."""


@dataclass(frozen=True, slots=True)
class MatchRef:
    """A provider's match resolved onto a canonical match."""

    source: str
    match_id: str
    provider_match_id: str
    game: str
    team_a: str
    team_b: str
    best_of: int | None = None

    def side_of(self, canonical_team: str) -> Side | None:
        """Return ``"a"``/``"b"`` for a canonical team name, ``None`` if neither."""
        if canonical_team == self.team_a:
            return "a"
        if canonical_team == self.team_b:
            return "b"
        return None

    def team(self, side: Side) -> str:
        """Return the canonical name of a side."""
        return self.team_a if side == "a" else self.team_b


@dataclass
class _Known:
    match_id: str
    game: str
    team_a: str
    team_b: str
    best_of: int | None
    start_ns: int | None
    provider_ids: dict[str, str] = field(default_factory=dict)


def _slug(name: str) -> str:
    return name.replace(" ", "-")


class MatchDirectory:
    """Maps ``(source, provider id)`` to canonical matches; compares teams through aliases.

    Parameters
    ----------
    aliases
        The alias table (canonical team -> other spellings).
    bindings
        Matches configured in advance.
    window_ns
        How far apart two reports' start times may be and still be the same match.
    """

    def __init__(
        self,
        aliases: TeamAliases,
        bindings: list[MatchBindingSettings] | None = None,
        window_ns: int = 6 * 3600 * NS_PER_S,
    ) -> None:
        self.aliases = aliases
        self.window_ns = window_ns
        self.on_learn: Callable[[str, str, str], None] | None = None
        """Called ``(match_id, source, provider id)`` when a poll binds a known match by
        its team names (the node publishes it as a ``MatchBound``)."""
        self._matches: dict[str, _Known] = {}
        self._by_provider: dict[tuple[str, str], str] = {}
        for b in bindings or []:
            self.bind(b)

    def bind(self, b: MatchBindingSettings) -> None:
        """Add one configured match."""
        known = _Known(
            match_id=b.match_id,
            game=b.game,
            team_a=self.canonical(b.team_a),
            team_b=self.canonical(b.team_b),
            best_of=b.best_of,
            start_ns=None if b.scheduled_at_s is None else b.scheduled_at_s * NS_PER_S,
            provider_ids={k: str(v) for k, v in b.provider_ids.items()},
        )
        self._matches[b.match_id] = known
        for source, pid in known.provider_ids.items():
            self._by_provider[(source, pid)] = b.match_id

    def attach(self, match_id: str, source: str, provider_match_id: str) -> bool:
        """Bind ``source``'s id to a known match; False if the match is unknown, the source is
        bound already, or the id already belongs to another match."""
        known = self._matches.get(match_id)
        if known is None or source in known.provider_ids:
            return False
        owner = self._by_provider.get((source, provider_match_id))
        if owner is not None and owner != match_id:
            return False
        known.provider_ids[source] = provider_match_id
        self._by_provider[(source, provider_match_id)] = match_id
        return True

    def sources(self, match_id: str) -> list[str]:
        """The providers bound to ``match_id`` (configured, searched or learned)."""
        known = self._matches.get(match_id)
        return sorted(known.provider_ids) if known is not None else []

    def canonical(self, name: str) -> str:
        """Normalized canonical team name (empty for an empty or symbol-only name)."""
        return self.aliases.canonical(name)

    def provider_id(self, match_id: str, source: str) -> str | None:
        """The provider's id of a canonical match, if bound or learned."""
        known = self._matches.get(match_id)
        return None if known is None else known.provider_ids.get(source)

    def bound_ids(self, source: str) -> list[str]:
        """Every provider id of ``source`` that is bound to a match (configured or learned)."""
        return sorted(pid for (src, pid) in self._by_provider if src == source)

    def lookup(self, source: str, provider_match_id: str) -> MatchRef | None:
        """Resolve an id that is already bound, without team names."""
        match_id = self._by_provider.get((source, provider_match_id))
        if match_id is None:
            return None
        return self._ref(self._matches[match_id], source, provider_match_id)

    def resolve(
        self,
        source: str,
        provider_match_id: str,
        *,
        game: str,
        team_x: str,
        team_y: str,
        start_ns: int | None = None,
        best_of: int | None = None,
        create: bool = True,
    ) -> MatchRef | None:
        """Resolve a provider's match onto a canonical match (see the module doc).

        Returns ``None`` when a team name is empty or both names are the same team (such a
        report cannot be attributed safely), or when no known match fits and ``create`` is
        false (the adapter follows configured matches only).
        """
        bound = self.lookup(source, provider_match_id)
        if bound is not None:
            return bound
        cx, cy = self.canonical(team_x), self.canonical(team_y)
        if not cx or not cy or cx == cy:
            return None
        known = self._find(game, {cx, cy}, start_ns)
        if known is None and not create:
            return None
        if known is None:
            known = self._create(
                game=game,
                team_a=cx,
                team_b=cy,
                start_ns=start_ns,
                best_of=best_of,
                source=source,
                provider_match_id=provider_match_id,
            )
        learned = source not in known.provider_ids
        known.provider_ids.setdefault(source, provider_match_id)
        self._by_provider[(source, provider_match_id)] = known.match_id
        if learned and self.on_learn is not None:
            self.on_learn(known.match_id, source, provider_match_id)
        if known.best_of is None and best_of is not None:
            known.best_of = best_of
        return self._ref(known, source, provider_match_id)

    def _find(self, game: str, teams: set[str], start_ns: int | None) -> _Known | None:
        best: tuple[int, _Known] | None = None
        for known in self._matches.values():
            if known.game != game or {known.team_a, known.team_b} != teams:
                continue
            if start_ns is None or known.start_ns is None:
                distance = self.window_ns
            else:
                distance = abs(start_ns - known.start_ns)
                if distance > self.window_ns:
                    continue
            if best is None or distance < best[0]:
                best = (distance, known)
        return None if best is None else best[1]

    def _create(
        self,
        *,
        game: str,
        team_a: str,
        team_b: str,
        start_ns: int | None,
        best_of: int | None,
        source: str,
        provider_match_id: str,
    ) -> _Known:
        if start_ns is not None:
            day = datetime.fromtimestamp(start_ns // NS_PER_S, tz=UTC).strftime("%Y%m%d")
            base = f"{game}-{day}-{_slug(min(team_a, team_b))}-vs-{_slug(max(team_a, team_b))}"
        else:
            base = f"{game}-{source}-{provider_match_id}"
        match_id, n = base, 1
        while match_id in self._matches:
            n += 1
            match_id = f"{base}-{n}"
        known = _Known(match_id, game, team_a, team_b, best_of, start_ns)
        self._matches[match_id] = known
        return known

    @staticmethod
    def _ref(known: _Known, source: str, provider_match_id: str) -> MatchRef:
        return MatchRef(
            source=source,
            match_id=known.match_id,
            provider_match_id=provider_match_id,
            game=known.game,
            team_a=known.team_a,
            team_b=known.team_b,
            best_of=known.best_of,
        )
