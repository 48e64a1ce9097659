"""Gamma discovery: find LoL and Dota 2 match and "Game N Winner" markets, fill the registry.

Discovery pages through Gamma's ``/events`` (each event is one match and embeds its
markets) filtered by the game's tag slug, keeps the events whose slug or title names the
game (the server-side filter is not trusted), and turns every match-winner and game-winner
market into a :class:`~polyloly.domain.markets.MarketMapping`:

* teams come from the title (``"LoL: T1 vs Gen.G (BO3) - LCK"``), the game number from
  ``"… - Game 2 Winner"``, the ``groupItemTitle`` or a ``-game2`` slug suffix;
* outcome tokens are matched to teams **by name** (``outcomes`` ↔ ``clobTokenIds`` are
  parallel JSON-encoded lists; their order says nothing about the title's order);
* ``orderPriceMinTickSize``, ``orderMinSize``, ``feeSchedule``, ``negRisk`` and
  ``secondsDelay`` become the mapping's tick, min size, fee rate, neg-risk flag and delay.

Props (handicaps, totals, first blood…) and markets whose outcomes are not the two teams
are skipped and counted by reason.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §6 (Gamma endpoints, fields,
esports discovery).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

import httpx
import msgspec
import structlog

from polyloly.adapters.polymarket.constants import (
    ESPORTS_GAMES,
    GAMMA_MAX_LIMIT,
    GAMMA_MAX_OFFSET,
    EsportsGame,
)
from polyloly.adapters.polymarket.errors import ParseError, error_for_status, translate_exception
from polyloly.adapters.polymarket.parsing import decimal_micros, tick_micros, time_to_ns
from polyloly.adapters.polymarket.schemas.gamma import GammaEvent, GammaMarket
from polyloly.domain.fees import ESPORTS_TAKER_RATE
from polyloly.domain.markets import (
    DEFAULT_MIN_SIZE,
    DEFAULT_TICK,
    MarketKind,
    MarketMapping,
    MarketMappingError,
    MarketRegistry,
    TeamAliases,
    map_outcomes_to_tokens,
)
from polyloly.execution.retry import RetryPolicy, call_with_retry
from polyloly.runtime.errors import RetryableError
from polyloly.runtime.sleep import Sleep, asyncio_sleep

__all__ = [
    "GAMMA_RETRY",
    "DiscoveredMarket",
    "DiscoveryReport",
    "GammaClient",
    "TitleInfo",
    "discover_esports",
    "game_number_of",
    "map_market",
    "match_id_of",
    "parse_title",
]

_log = structlog.get_logger(__name__)

_GAME_SUFFIX: Final = re.compile(r"\s*-\s*Game\s+(\d{1,2})\s+Winner\s*$", re.IGNORECASE)
_GROUP_GAME: Final = re.compile(r"^\s*(?:Game|Map)\s+(\d{1,2})\s+Winner\s*$", re.IGNORECASE)
_SLUG_GAME: Final = re.compile(r"-(?:game|map)(\d{1,2})$")
_VS: Final = re.compile(
    r"^(?P<a>.+?)\s+vs\.?\s+(?P<b>.+?)(?:\s*\((?P<bo>BO\d{1,2})\))?(?:\s+-\s+(?P<league>.+))?$",
    re.IGNORECASE,
)
_PROP_WORDS: Final = re.compile(
    r"handicap|total|o/u|over/under|\bover\b|\bunder\b|spread|first blood|first to|kills?\b|"
    r"tower|dragon|baron|roshan|inhibitor|barracks|duration|odd/even|correct score",
    re.IGNORECASE,
)
_WINNER_TYPES: Final = frozenset(
    {"", "moneyline", "child_moneyline", "match_winner", "game_winner", "map_winner"}
)


@dataclass(frozen=True, slots=True)
class TitleInfo:
    """What a Gamma title says: game code, the two teams in title order, format, game."""

    game: str
    team_a: str
    team_b: str
    best_of: int | None = None
    game_number: int | None = None
    league: str = ""


def _game_for_prefix(prefix: str) -> EsportsGame | None:
    norm = prefix.strip().casefold()
    for game in ESPORTS_GAMES.values():
        if any(norm == p.casefold() for p in game.title_prefixes):
            return game
    return None


def parse_title(title: str) -> TitleInfo | None:
    """Parse ``"LoL: T1 vs Gen.G (BO3) - LCK"`` (optionally ``"… - Game 2 Winner"``).

    Returns ``None`` when the title is not an esports "A vs B" title of a known game.
    """
    prefix, sep, rest = title.partition(":")
    if not sep:
        return None
    game = _game_for_prefix(prefix)
    if game is None:
        return None
    game_number: int | None = None
    suffix = _GAME_SUFFIX.search(rest)
    if suffix is not None:
        game_number = int(suffix.group(1))
        rest = rest[: suffix.start()]
    m = _VS.match(rest.strip())
    if m is None:
        return None
    team_a, team_b = m.group("a").strip(), m.group("b").strip()
    if not team_a or not team_b:
        return None
    bo = m.group("bo")
    return TitleInfo(
        game=game.code,
        team_a=team_a,
        team_b=team_b,
        best_of=int(bo[2:]) if bo else None,
        game_number=game_number,
        league=(m.group("league") or "").strip(),
    )


def game_number_of(market: GammaMarket) -> int | None:
    """The game (map) number of a "Game N Winner" market, from its title, group or slug."""
    info = parse_title(market.question)
    if info is not None and info.game_number is not None:
        return info.game_number
    if market.groupItemTitle:
        g = _GROUP_GAME.match(market.groupItemTitle)
        if g is not None:
            return int(g.group(1))
    s = _SLUG_GAME.search(market.slug)
    return int(s.group(1)) if s is not None else None


def match_id_of(market: GammaMarket, event: GammaEvent | None) -> str:
    """polyloly's match id for a market: its event's slug (``lol-t1-gen-2026-11-25``).

    Without an event, the market slug minus a ``-gameN`` suffix.
    """
    if event is not None and event.slug:
        return event.slug
    if market.events:
        first = market.events[0]
        if first.slug:
            return first.slug
    return _SLUG_GAME.sub("", market.slug)


@dataclass(frozen=True, slots=True)
class DiscoveredMarket:
    """A mapped market plus the Gamma facts the mapping does not carry."""

    mapping: MarketMapping
    game: str
    slug: str
    best_of: int | None
    game_start_ns: int | None
    accepting_orders: bool | None
    clear_book_on_start: bool | None


@dataclass
class DiscoveryReport:
    """What discovery added, and why the rest was skipped (reason → count)."""

    added: list[DiscoveredMarket] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    events_seen: int = 0
    markets_seen: int = 0


def _json_list(text: str | None, what: str) -> list[str]:
    if not text:
        raise ParseError(f"missing_{what}")
    try:
        return msgspec.json.decode(text, type=list[str])
    except msgspec.DecodeError as exc:
        raise ParseError(f"bad_{what}", text[:60]) from exc


def _fee_rate(market: GammaMarket) -> int:
    if market.feesEnabled is False:
        return 0
    schedule = market.feeSchedule
    if schedule is None:
        return ESPORTS_TAKER_RATE  # esports are sports markets: 0.03 unless told otherwise
    return decimal_micros(schedule.rate)


def _size(value: Decimal | None) -> int:
    return DEFAULT_MIN_SIZE if value is None else decimal_micros(value)


def _is_winner_market(market: GammaMarket) -> bool:
    kind = (market.sportsMarketType or "").strip().lower()
    if kind not in _WINNER_TYPES:
        return False
    text = f"{market.question} {market.groupItemTitle or ''}"
    return _PROP_WORDS.search(text) is None


def map_market(
    market: GammaMarket,
    event: GammaEvent | None,
    aliases: TeamAliases,
) -> DiscoveredMarket:
    """Turn one Gamma market into a :class:`DiscoveredMarket` (raises on anything unsafe).

    Raises
    ------
    ParseError
        The market is not a match/game winner market of a known game (``reason`` says why).
    MarketMappingError
        Its outcomes cannot be matched to the title's two teams by name.
    """
    if not _is_winner_market(market):
        raise ParseError("not_winner_market", market.slug)
    info = parse_title(market.question)
    if info is None and event is not None:
        info = parse_title(event.title)
    if info is None:
        raise ParseError("unparsed_title", market.question[:80])
    game_number = game_number_of(market)
    if game_number is None and info.game_number is not None:
        game_number = info.game_number
    outcomes = _json_list(market.outcomes, "outcomes")
    tokens = _json_list(market.clobTokenIds, "token_ids")
    token_a, token_b = map_outcomes_to_tokens(outcomes, tokens, info.team_a, info.team_b, aliases)
    if not market.conditionId:
        raise ParseError("missing_condition_id", market.slug)
    tick = (
        tick_micros(market.orderPriceMinTickSize)
        if market.orderPriceMinTickSize is not None
        else DEFAULT_TICK
    )
    mapping = MarketMapping(
        match_id=match_id_of(market, event),
        market_id=market.conditionId,
        question=market.question,
        kind=MarketKind.GAME if game_number is not None else MarketKind.MATCH,
        team_a=aliases.canonical(info.team_a),
        team_b=aliases.canonical(info.team_b),
        token_a=token_a,
        token_b=token_b,
        game_number=game_number,
        resolution_time_ns=time_to_ns(market.endDate),
        tick=tick,
        min_size=_size(market.orderMinSize),
        fee_rate=_fee_rate(market),
        neg_risk=bool(market.negRisk),
        seconds_delay=market.secondsDelay or 0,
    )
    return DiscoveredMarket(
        mapping=mapping,
        game=info.game,
        slug=market.slug,
        best_of=info.best_of,
        game_start_ns=time_to_ns(market.gameStartTime),
        accepting_orders=market.acceptingOrders,
        clear_book_on_start=market.clearBookOnStart,
    )


def _event_is_game(event: GammaEvent, game: EsportsGame) -> bool:
    if event.slug.startswith(game.slug_prefixes):
        return True
    info = parse_title(event.title)
    return info is not None and info.game == game.code


GAMMA_RETRY: Final = RetryPolicy(base_delay_ms=250, max_delay_ms=4_000, max_attempts=6)
"""Backoff of Gamma reads (about 8 s in all before giving up)."""


class _Wrapped(msgspec.Struct, frozen=True):
    data: list[GammaEvent] = []


class GammaClient:
    """Async Gamma reader (httpx).

    Parameters
    ----------
    base_url
        ``https://gamma-api.polymarket.com`` or the simulator's ``…/gamma``.
    http
        A shared ``httpx.AsyncClient`` (the caller owns and closes it).
    page_limit
        Page size (Gamma caps it at 100).
    retry, sleep
        Each page read is retried on transient failures (5xx, 425, 429, timeouts) with this
        backoff, as every other venue read is: a restart must not fail on one bad reply.
    """

    def __init__(
        self,
        base_url: str,
        http: httpx.AsyncClient,
        page_limit: int = GAMMA_MAX_LIMIT,
        *,
        retry: RetryPolicy = GAMMA_RETRY,
        sleep: Sleep = asyncio_sleep,
    ):
        self._base = base_url.rstrip("/")
        self._http = http
        self._limit = max(1, min(page_limit, GAMMA_MAX_LIMIT))
        self._retry = retry
        self._sleep = sleep

    async def _get(self, path: str, params: Mapping[str, str | int]) -> bytes:
        return await call_with_retry(lambda: self._get_once(path, params), self._retry, self._sleep)

    async def _get_once(self, path: str, params: Mapping[str, str | int]) -> bytes:
        try:
            resp = await self._http.get(f"{self._base}{path}", params=dict(params))
        except Exception as exc:  # translated at the boundary
            raise translate_exception(exc, op=f"gamma {path}", mutating=False) from exc
        if resp.status_code != 200:
            raise error_for_status(resp.status_code, resp.text[:200], mutating=False)
        return resp.content

    async def events(self, params: Mapping[str, str | int]) -> list[GammaEvent]:
        """Every event matching ``params``, across pages (offset paging, ≤ 10,000)."""
        out: list[GammaEvent] = []
        offset = 0
        while offset <= GAMMA_MAX_OFFSET:
            body = await self._get("/events", {**params, "limit": self._limit, "offset": offset})
            try:
                page = msgspec.json.decode(body, type=list[GammaEvent] | _Wrapped)
            except msgspec.DecodeError as exc:
                raise RetryableError(f"gamma /events: unexpected reply ({exc})") from exc
            items = page if isinstance(page, list) else page.data
            out.extend(items)
            if len(items) < self._limit:
                break
            offset += self._limit
        return out


async def discover_esports(
    gamma: GammaClient,
    registry: MarketRegistry,
    aliases: TeamAliases | None = None,
    games: Iterable[str] = ("lol", "dota2"),
    *,
    include_closed: bool = False,
) -> DiscoveryReport:
    """Find every open LoL / Dota 2 match and game-winner market and add it to ``registry``."""
    table = aliases if aliases is not None else TeamAliases()
    report = DiscoveryReport()
    seen_events: set[str] = set()
    for code in games:
        game = ESPORTS_GAMES[code]
        params: dict[str, str | int] = {"tag_slug": game.tag_slug}
        if not include_closed:
            params["closed"] = "false"
        for event in await gamma.events(params):
            key = str(event.id)
            if key in seen_events or not _event_is_game(event, game):
                continue
            seen_events.add(key)
            report.events_seen += 1
            _add_event(event, registry, table, report, include_closed=include_closed)
    return report


def _add_event(
    event: GammaEvent,
    registry: MarketRegistry,
    aliases: TeamAliases,
    report: DiscoveryReport,
    *,
    include_closed: bool,
) -> None:
    for market in event.markets:
        report.markets_seen += 1
        if market.closed and not include_closed:
            report.skipped["closed"] += 1
            continue
        try:
            found = map_market(market, event, aliases)
            registry.add(found.mapping)
        except ParseError as exc:
            report.skipped[exc.reason] += 1
            continue
        except MarketMappingError as exc:
            report.skipped["team_mapping"] += 1
            _log.warning("gamma.market_skipped", slug=market.slug, reason=str(exc))
            continue
        report.added.append(found)
