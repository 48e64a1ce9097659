"""Which Polymarket market and token belongs to which esports match and team.

The registry maps a series (``match_id``) to its Polymarket markets: the match (series)
moneyline and the "Game N winner" map markets. Each :class:`MarketMapping` records which
outcome token pays when *team_a* wins and which pays when *team_b* wins.

Teams are matched to outcome tokens **by normalized name, never by list position**: the
venue's ``outcomes`` list and ``clobTokenIds`` list are parallel, but nothing promises that
outcome 0 is the team a provider calls "team A". Getting that wrong buys the loser's token,
so :func:`map_outcomes_to_tokens` refuses anything ambiguous.

Team names are compared through :func:`normalize_team` and an alias table
(:class:`TeamAliases`) loaded from configuration, e.g. ``{"t1": ["SK Telecom T1", "SKT"]}``.

References
----------
Seed plan §5.2 (market registry); Polymarket reference ``docs/reference/polymarket.md``
(Gamma market fields ``outcomes``, ``clobTokenIds``, ``orderPriceMinTickSize``,
``orderMinSize``, ``negRisk``, ``secondsDelay``).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import Final

import msgspec

from polyloly.domain.fees import ESPORTS_TAKER_RATE
from polyloly.domain.money import VALID_TICKS

__all__ = [
    "DEFAULT_MIN_SIZE",
    "DEFAULT_TICK",
    "MarketKind",
    "MarketMapping",
    "MarketMappingError",
    "MarketRegistry",
    "TeamAliases",
    "map_outcomes_to_tokens",
    "normalize_team",
]

DEFAULT_TICK: Final = 10_000
"""0.01, the usual tick of an esports market, in micros."""

DEFAULT_MIN_SIZE: Final = 5_000_000
"""5 shares, Polymarket's usual ``orderMinSize``, in share-micros."""

# Characters that separate words ("Team-Liquid", "fnatic_rising", "BLG/Bilibili") become
# spaces; every other punctuation or symbol is dropped ("Gen.G" -> "geng", "T1!" -> "t1").
_SEPARATORS: Final = frozenset("-_/\\|")


class MarketMappingError(ValueError):
    """A market cannot be mapped to a match safely (unknown team, ambiguous outcome...)."""


@functools.lru_cache(maxsize=4096)
def normalize_team(name: str) -> str:
    """Return the comparison form of a team name (cached: the same names recur).

    Rules, applied in order: Unicode NFKD decomposition with accents (combining marks)
    removed; casefold; ``- _ / \\ |`` become spaces; any other character that is not a
    letter, digit or whitespace is dropped; runs of whitespace collapse to one space and
    the ends are stripped.

    Examples
    --------
    >>> normalize_team("  Team   Liquid ")
    'team liquid'
    >>> normalize_team("Gen.G")
    'geng'
    >>> normalize_team("Fnatic-Rising")
    'fnatic rising'
    >>> normalize_team("Mouz Acad\u00e9my")
    'mouz academy'
    """
    decomposed = unicodedata.normalize("NFKD", name)
    out: list[str] = []
    for ch in decomposed.casefold():
        if unicodedata.combining(ch):
            continue
        if ch in _SEPARATORS or ch.isspace():
            out.append(" ")
        elif ch.isalnum():
            out.append(ch)
    return " ".join("".join(out).split())


class TeamAliases:
    """Alias table: canonical team name -> the other names providers and venues use.

    Every name (canonical or alias) is compared in :func:`normalize_team` form, and
    :meth:`canonical` returns the normalized canonical name. Names not in the table
    normalize to themselves, so an empty table still compares names sensibly.

    Parameters
    ----------
    mapping
        ``{canonical: [alias, ...]}`` as loaded from configuration.

    Raises
    ------
    MarketMappingError
        If one alias (after normalization) would point at two different canonical teams, or
        a name normalizes to the empty string.
    """

    __slots__ = ("_index",)

    def __init__(self, mapping: Mapping[str, Iterable[str]] | None = None) -> None:
        self._index: dict[str, str] = {}
        for canonical, aliases in (mapping or {}).items():
            canon = self._norm_nonempty(canonical)
            self._bind(canon, canon)
            for alias in aliases:
                self._bind(self._norm_nonempty(alias), canon)

    @staticmethod
    def _norm_nonempty(name: str) -> str:
        norm = normalize_team(name)
        if not norm:
            raise MarketMappingError(f"team name {name!r} is empty after normalization")
        return norm

    def _bind(self, key: str, canon: str) -> None:
        existing = self._index.get(key)
        if existing is not None and existing != canon:
            raise MarketMappingError(
                f"alias {key!r} points at both {existing!r} and {canon!r}; fix the alias table"
            )
        self._index[key] = canon

    def canonical(self, name: str) -> str:
        """Return the normalized canonical name for ``name`` (itself, normalized, if unknown)."""
        norm = normalize_team(name)
        return self._index.get(norm, norm)

    def same(self, a: str, b: str) -> bool:
        """Return whether two names denote the same team (empty names never match)."""
        ca = self.canonical(a)
        return bool(ca) and ca == self.canonical(b)

    def __len__(self) -> int:
        return len(self._index)


class MarketKind(StrEnum):
    """Whether a market resolves on the whole series or on one game (map)."""

    MATCH = "match"
    GAME = "game"


class MarketMapping(msgspec.Struct, frozen=True, kw_only=True):
    """One Polymarket binary market tied to one series (and, for a map market, one game).

    ``team_a`` / ``team_b`` are canonical (normalized) team names; ``token_a`` is the token
    that pays 1 pUSD if ``team_a`` wins, ``token_b`` the one that pays if ``team_b`` wins.
    Money fields are micros (``tick`` 10_000 = 0.01, ``min_size`` in share-micros,
    ``fee_rate`` 30_000 = 0.03). ``seconds_delay`` is the venue's taker delay on the market
    while the game is live (``secondsDelay``).
    """

    match_id: str
    market_id: str  # condition id
    question: str
    kind: MarketKind
    team_a: str
    team_b: str
    token_a: str
    token_b: str
    game_number: int | None = None
    resolution_time_ns: int | None = None
    tick: int = DEFAULT_TICK
    min_size: int = DEFAULT_MIN_SIZE
    fee_rate: int = ESPORTS_TAKER_RATE
    neg_risk: bool = False
    seconds_delay: int = 0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise MarketMappingError(f"market {self.market_id!r}: {problem}")

    def _problem(self) -> str:  # noqa: PLR0911 - one early return per validation rule
        if not self.match_id or not self.market_id:
            return "match_id and market_id are required"
        if not self.team_a or not self.team_b or self.team_a == self.team_b:
            return f"needs two different teams, got {self.team_a!r} / {self.team_b!r}"
        if not self.token_a or not self.token_b or self.token_a == self.token_b:
            return "needs two different token ids"
        if self.kind is MarketKind.GAME and (self.game_number is None or self.game_number < 1):
            return "a GAME market needs game_number >= 1"
        if self.kind is MarketKind.MATCH and self.game_number is not None:
            return "a MATCH market has no game_number"
        if self.tick not in VALID_TICKS:
            return f"unknown tick size {self.tick}"
        if self.min_size < 0 or self.fee_rate < 0 or self.seconds_delay < 0:
            return "min_size, fee_rate and seconds_delay must be non-negative"
        return ""

    # -- lookups -------------------------------------------------------------------------------

    def token_for(self, team: str) -> str:
        """Return the token that pays if ``team`` (canonical or raw name) wins."""
        norm = normalize_team(team)
        if norm == self.team_a:
            return self.token_a
        if norm == self.team_b:
            return self.token_b
        raise MarketMappingError(
            f"team {team!r} is neither {self.team_a!r} nor {self.team_b!r} "
            f"in market {self.market_id!r}"
        )

    def other_token(self, token: str) -> str:
        """Return the complementary token of ``token`` in this market."""
        if token == self.token_a:
            return self.token_b
        if token == self.token_b:
            return self.token_a
        raise MarketMappingError(f"token {token!r} is not in market {self.market_id!r}")

    def team_for(self, token: str) -> str:
        """Return the canonical team whose win makes ``token`` pay."""
        if token == self.token_a:
            return self.team_a
        if token == self.token_b:
            return self.team_b
        raise MarketMappingError(f"token {token!r} is not in market {self.market_id!r}")

    def has_team(self, team: str) -> bool:
        """Return whether ``team`` (canonical or raw) is one of this market's two teams."""
        return normalize_team(team) in (self.team_a, self.team_b)

    # -- the seed's names (seed §5.2) -----------------------------------------------------------

    @property
    def poly_market_id(self) -> str:
        """Seed name of :attr:`market_id`."""
        return self.market_id

    @property
    def poly_yes_token(self) -> str:
        """Seed name of :attr:`token_a` (the seed's "YES" pays if team A wins)."""
        return self.token_a

    @property
    def poly_no_token(self) -> str:
        """Seed name of :attr:`token_b` (the seed's "NO" pays if team B wins)."""
        return self.token_b

    @property
    def team_a_id(self) -> str:
        """Seed name of :attr:`team_a`."""
        return self.team_a

    @property
    def team_b_id(self) -> str:
        """Seed name of :attr:`team_b`."""
        return self.team_b


def map_outcomes_to_tokens(
    outcomes: list[str],
    token_ids: list[str],
    team_a: str,
    team_b: str,
    aliases: TeamAliases | None = None,
) -> tuple[str, str]:
    """Return ``(token_a, token_b)``: the tokens paying if ``team_a`` / ``team_b`` win.

    ``outcomes`` and ``token_ids`` are the market's parallel lists (Gamma ``outcomes`` and
    ``clobTokenIds``). Each team is matched to the outcome whose name denotes the same team
    (through ``aliases``), never by position.

    Raises
    ------
    MarketMappingError
        If the lists are not two parallel entries, the teams are the same team, or a team
        matches no outcome (e.g. a "Yes"/"No" market) or both outcomes.
    """
    table = aliases if aliases is not None else TeamAliases()
    if len(outcomes) != 2 or len(token_ids) != 2:
        raise MarketMappingError(
            f"expected 2 outcomes and 2 token ids, got {len(outcomes)} and {len(token_ids)}"
        )
    if token_ids[0] == token_ids[1] or not all(token_ids):
        raise MarketMappingError(f"token ids must be two different non-empty ids: {token_ids}")
    if table.same(team_a, team_b):
        raise MarketMappingError(f"teams {team_a!r} and {team_b!r} are the same team")

    def index_of(team: str) -> int:
        hits = [i for i, outcome in enumerate(outcomes) if table.same(team, outcome)]
        if not hits:
            raise MarketMappingError(f"team {team!r} matches no outcome of {outcomes}")
        if len(hits) > 1:
            raise MarketMappingError(f"team {team!r} matches both outcomes of {outcomes}")
        return hits[0]

    # Different canonical teams cannot match the same outcome, so the indexes differ.
    return token_ids[index_of(team_a)], token_ids[index_of(team_b)]


class MarketRegistry:
    """In-memory index of :class:`MarketMapping` by market id, token id and match id.

    Adding a mapping whose ``market_id`` is already known replaces the old one (metadata
    such as tick size or delay can change at run time). A token id or a (match, game) slot
    may belong to only one market; a conflicting mapping is rejected.
    """

    __slots__ = ("_by_market", "_by_match", "_by_token")

    def __init__(self, mappings: Iterable[MarketMapping] = ()) -> None:
        self._by_market: dict[str, MarketMapping] = {}
        self._by_token: dict[str, MarketMapping] = {}
        self._by_match: dict[str, dict[int | None, MarketMapping]] = {}
        for mapping in mappings:
            self.add(mapping)

    def add(self, mapping: MarketMapping) -> None:
        """Add ``mapping``, replacing any mapping with the same ``market_id``.

        Raises
        ------
        MarketMappingError
            If one of its tokens, or its (match, game) slot, belongs to another market.
        """
        for token in (mapping.token_a, mapping.token_b):
            owner = self._by_token.get(token)
            if owner is not None and owner.market_id != mapping.market_id:
                raise MarketMappingError(
                    f"token {token!r} already belongs to market {owner.market_id!r}"
                )
        slot_owner = self._by_match.get(mapping.match_id, {}).get(mapping.game_number)
        if slot_owner is not None and slot_owner.market_id != mapping.market_id:
            raise MarketMappingError(
                f"match {mapping.match_id!r} game {mapping.game_number} already has market "
                f"{slot_owner.market_id!r}"
            )
        self.remove(mapping.market_id)
        self._by_market[mapping.market_id] = mapping
        self._by_token[mapping.token_a] = mapping
        self._by_token[mapping.token_b] = mapping
        self._by_match.setdefault(mapping.match_id, {})[mapping.game_number] = mapping

    def remove(self, market_id: str) -> MarketMapping | None:
        """Forget a market; return the removed mapping (``None`` if it was unknown)."""
        old = self._by_market.pop(market_id, None)
        if old is None:
            return None
        self._by_token.pop(old.token_a, None)
        self._by_token.pop(old.token_b, None)
        slots = self._by_match.get(old.match_id)
        if slots is not None:
            slots.pop(old.game_number, None)
            if not slots:
                del self._by_match[old.match_id]
        return old

    def by_market(self, market_id: str) -> MarketMapping | None:
        """Return the mapping of a market (condition) id, if known."""
        return self._by_market.get(market_id)

    def by_token(self, token_id: str) -> MarketMapping | None:
        """Return the mapping that owns an outcome token id, if known."""
        return self._by_token.get(token_id)

    def match_market(self, match_id: str) -> MarketMapping | None:
        """Return the series (match winner) market of a match, if known."""
        return self._by_match.get(match_id, {}).get(None)

    def game_market(self, match_id: str, game_number: int) -> MarketMapping | None:
        """Return the "Game N winner" market of a match, if known."""
        return self._by_match.get(match_id, {}).get(game_number)

    def markets_for_match(self, match_id: str) -> list[MarketMapping]:
        """Return every market of a match: the match market first, then games by number."""
        slots = self._by_match.get(match_id, {})
        return sorted(slots.values(), key=lambda m: -1 if m.game_number is None else m.game_number)

    def match_ids(self) -> list[str]:
        """Return every known match id, sorted."""
        return sorted(self._by_match)

    def __len__(self) -> int:
        return len(self._by_market)

    def __iter__(self) -> Iterator[MarketMapping]:
        return iter(list(self._by_market.values()))

    def __contains__(self, market_id: object) -> bool:
        return market_id in self._by_market
