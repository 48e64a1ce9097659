"""Gamma (market discovery) at ``/gamma``: esports match and "Game N Winner" markets.

Shapes follow the recorded ``gamma_market_sports_market_money_line.json`` and
``gamma_event.json``: camelCase keys; ``outcomes``, ``outcomePrices`` and
``clobTokenIds`` as JSON-encoded strings; ``gameStartTime`` as ``"YYYY-MM-DD HH:MM:SS+00"``;
``feeSchedule {rate, exponent, takerOnly, rebateRate}``; ``secondsDelay``; tags with
``league-of-legends`` / ``dota-2`` slugs. Events group the markets sharing an event slug.

Endpoints: ``/gamma/markets``, ``/gamma/markets/{id}``, ``/gamma/markets/slug/{slug}``,
``/gamma/events``, ``/gamma/events/{id}``, ``/gamma/events/slug/{slug}``, ``/gamma/tags``.
List filters: ``id``, ``slug`` (repeatable), ``condition_ids``, ``clob_token_ids``,
``tag_slug``, ``active``, ``closed``, ``archived``, ``offset``, ``limit`` (≤ 100 on
markets, ≤ 500 on events; offset > 10,000 answers 422).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web
from multidict import MultiMapping

from polyloly.domain.money import to_decimal
from polyloly.sim.exchange.config import Listing
from polyloly.sim.exchange.frames import Json, group_item_title
from polyloly.sim.exchange.venue import Venue
from polyloly.sim.exchange.views import token_price

__all__ = ["GAME_TAGS", "GammaApi", "gamma_event", "gamma_market"]

GAME_TAGS: Final = {
    "lol": {"id": "65", "label": "League of Legends", "slug": "league-of-legends"},
    "dota2": {"id": "102366", "label": "Dota 2", "slug": "dota-2"},
    "cs2": {"id": "100780", "label": "Counter-Strike 2", "slug": "counter-strike-2"},
}
_COMMON_TAGS: Final = (
    {"id": "1", "label": "Sports", "slug": "sports"},
    {"id": "64", "label": "Esports", "slug": "esports"},
)
_GAME_TITLES: Final = {"lol": "LoL", "dota2": "Dota 2", "cs2": "Counter-Strike"}
_MAX_OFFSET: Final = 10_000


def _float(micros: int) -> float:
    return float(to_decimal(micros))


def _space_time(iso: str) -> str:
    """``2026-04-05T15:10:00Z`` → ``2026-04-05 15:10:00+00`` (Gamma's ``gameStartTime``)."""
    if not iso:
        return ""
    return iso.replace("T", " ").replace("Z", "+00")


def _tags(listing: Listing) -> list[Json]:
    game = GAME_TAGS.get(listing.spec.game)
    tags = [dict(t) for t in _COMMON_TAGS]
    if game is not None:
        tags.append(dict(game))
    tags.extend({"id": f"x-{t}", "label": t, "slug": t} for t in listing.spec.tags)
    return tags


def gamma_market(listing: Listing, mids: dict[str, int], best: tuple[int, int] | None) -> Json:
    """One Gamma market object."""
    spec = listing.spec
    prices = [str(token_price(listing, t, mids)) for t in listing.token_ids]
    bid, ask = best if best is not None else (0, 1_000_000)
    last = listing.last_trade_price.get(listing.token_ids[0])
    return {
        "id": listing.gamma_id,
        "question": spec.question,
        "conditionId": listing.condition_id,
        "questionID": listing.question_id,
        "slug": spec.slug,
        "description": spec.question,
        "outcomes": json.dumps(list(spec.outcomes)),
        "outcomePrices": json.dumps(prices),
        "clobTokenIds": json.dumps(list(listing.token_ids)),
        "active": True,
        "closed": listing.closed,
        "archived": False,
        "acceptingOrders": listing.accepting_orders,
        "enableOrderBook": True,
        "negRisk": spec.neg_risk,
        "orderMinSize": _float(spec.min_size),
        "orderPriceMinTickSize": _float(listing.tick),
        "gameStartTime": _space_time(spec.game_start_time),
        "eventStartTime": spec.game_start_time,
        "endDate": spec.end_date,
        "sportsMarketType": "moneyline" if spec.game_number is None else "child_moneyline",
        "groupItemTitle": group_item_title(spec.game_number),
        "gameId": listing.event_id,
        "secondsDelay": spec.seconds_delay,
        "clearBookOnStart": spec.clear_book_on_start,
        "feesEnabled": spec.fee_rate > 0,
        "feeType": "sports_fees_v2" if spec.fee_rate else None,
        "feeSchedule": {
            "exponent": spec.fee_exponent,
            "rate": _float(spec.fee_rate),
            "takerOnly": True,
            "rebateRate": 0.25,
        },
        "makerBaseFee": 1000 if spec.fee_rate else 0,
        "takerBaseFee": 1000 if spec.fee_rate else 0,
        "bestBid": _float(bid),
        "bestAsk": _float(ask),
        "spread": _float(ask - bid),
        "lastTradePrice": _float(last) if last is not None else 0,
        "umaResolutionStatus": "resolved" if listing.winner else "",
        "tags": _tags(listing),
    }


def _event_fields(listing: Listing, live: bool, ended: bool) -> Json:
    spec = listing.spec
    title = spec.event_title or spec.question
    return {
        "id": listing.event_id,
        "ticker": spec.event_slug,
        "slug": spec.event_slug,
        "title": title,
        "description": title,
        "startTime": spec.game_start_time,
        "endDate": spec.end_date,
        "active": True,
        "closed": ended,
        "archived": False,
        "live": live,
        "ended": ended,
        "negRisk": False,
        "enableOrderBook": True,
        "seriesSlug": GAME_TAGS[spec.game]["slug"] if spec.game in GAME_TAGS else spec.game,
        "gameId": int(listing.event_id),
        "period": "",
        "score": "",
        "eventMetadata": {"league": spec.league, "tournament": spec.league},
        "tags": _tags(listing),
    }


def gamma_event(listings: list[Listing], markets: list[Json]) -> Json:
    """One Gamma event with its markets (the match market first)."""
    head = listings[0]
    live = any(m.live for m in listings)
    ended = all(m.closed for m in listings)
    event = _event_fields(head, live, ended)
    event["markets"] = markets
    return event


def _flag(query: MultiMapping[str], name: str) -> bool | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    return raw.lower() in ("true", "1", "yes")


@dataclass(frozen=True, slots=True)
class _Filters:
    slugs: frozenset[str]
    ids: frozenset[str]
    condition_ids: frozenset[str]
    token_ids: frozenset[str]
    tag: str
    active: bool | None
    closed: bool | None
    archived: bool | None
    by_event: bool

    @classmethod
    def of(cls, query: MultiMapping[str], *, by_event: bool) -> _Filters:
        def split(name: str) -> frozenset[str]:
            return frozenset(x for v in query.getall(name, []) for x in v.split(",") if x)

        return cls(
            slugs=frozenset(query.getall("slug", [])),
            ids=frozenset(query.getall("id", [])),
            condition_ids=split("condition_ids"),
            token_ids=split("clob_token_ids"),
            tag=query.get("tag_slug", ""),
            active=_flag(query, "active"),
            closed=_flag(query, "closed"),
            archived=_flag(query, "archived"),
            by_event=by_event,
        )

    def keep(self, listing: Listing) -> bool:
        spec = listing.spec
        checks = (
            not self.slugs or (spec.event_slug if self.by_event else spec.slug) in self.slugs,
            not self.ids or listing.gamma_id in self.ids,
            not self.condition_ids or listing.condition_id in self.condition_ids,
            not self.token_ids or not self.token_ids.isdisjoint(listing.token_ids),
            not self.tag or self.tag in {t["slug"] for t in _tags(listing)},
            self.closed is None or listing.closed == self.closed,
            self.active is not False and self.archived is not True,
        )
        return all(checks)


class GammaApi:
    """aiohttp handlers of the Gamma API around a :class:`Venue`."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def routes(self) -> list[web.RouteDef]:
        """Every route, for ``app.add_routes``."""
        return [
            web.get("/gamma/markets", self.markets),
            web.get("/gamma/markets/slug/{slug}", self.market_by_slug),
            web.get("/gamma/markets/{id}", self.market),
            web.get("/gamma/events", self.events),
            web.get("/gamma/events/slug/{slug}", self.event_by_slug),
            web.get("/gamma/events/{id}", self.event),
            web.get("/gamma/tags", self.tags),
        ]

    def _market(self, listing: Listing) -> Json:
        mids: dict[str, int] = {}
        best: tuple[int, int] | None = None
        for index, token in enumerate(listing.token_ids):
            bids, asks = self.venue.book(token)
            if bids and asks:
                mids[token] = (bids[0][0] + asks[0][0]) // 2
                if index == 0:
                    best = (bids[0][0], asks[0][0])
        return gamma_market(listing, mids, best)

    def _filtered(self, query: MultiMapping[str], *, by_event: bool = False) -> list[Listing]:
        filters = _Filters.of(query, by_event=by_event)
        return [m for m in self.venue.listings.values() if filters.keep(m)]

    @staticmethod
    def _window(query: MultiMapping[str], items: list[Any], max_limit: int) -> list[Any] | None:
        try:
            offset = int(query.get("offset", "0") or "0")
            limit = min(max_limit, int(query.get("limit", str(max_limit)) or max_limit))
        except ValueError:
            return None
        if offset > _MAX_OFFSET or offset < 0:
            return None
        return items[offset : offset + max(0, limit)]

    async def markets(self, request: web.Request) -> web.Response:
        """``GET /gamma/markets``."""
        listings = self._filtered(request.query)
        window = self._window(request.query, listings, 100)
        if window is None:
            return web.json_response({"error": "invalid offset or limit"}, status=422)
        return web.json_response([self._market(m) for m in window])

    async def market(self, request: web.Request) -> web.Response:
        """``GET /gamma/markets/{id}`` (Gamma id or condition id)."""
        key = request.match_info["id"]
        for listing in self.venue.listings.values():
            if key in (listing.gamma_id, listing.condition_id):
                return web.json_response(self._market(listing))
        return web.json_response({"error": "not found"}, status=404)

    async def market_by_slug(self, request: web.Request) -> web.Response:
        """``GET /gamma/markets/slug/{slug}``."""
        slug = request.match_info["slug"]
        for listing in self.venue.listings.values():
            if listing.spec.slug == slug:
                return web.json_response(self._market(listing))
        return web.json_response({"error": "not found"}, status=404)

    def _events(self, listings: Iterable[Listing]) -> list[Json]:
        groups: dict[str, list[Listing]] = {}
        for listing in listings:
            groups.setdefault(listing.event_id, []).append(listing)
        out = []
        for members in groups.values():
            members.sort(key=lambda m: m.spec.game_number or 0)
            out.append(gamma_event(members, [self._market(m) for m in members]))
        return out

    async def events(self, request: web.Request) -> web.Response:
        """``GET /gamma/events``: events whose markets pass the filters."""
        q = request.query
        events = self._events(self._filtered(q, by_event=True))
        live = _flag(q, "live")
        if live is not None:
            events = [e for e in events if e["live"] == live]
        window = self._window(q, events, 500)
        if window is None:
            return web.json_response({"error": "invalid offset or limit"}, status=422)
        return web.json_response(window)

    async def event(self, request: web.Request) -> web.Response:
        """``GET /gamma/events/{id}``."""
        key = request.match_info["id"]
        members = [m for m in self.venue.listings.values() if m.event_id == key]
        if not members:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(self._events(members)[0])

    async def event_by_slug(self, request: web.Request) -> web.Response:
        """``GET /gamma/events/slug/{slug}``."""
        slug = request.match_info["slug"]
        members = [m for m in self.venue.listings.values() if m.spec.event_slug == slug]
        if not members:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(self._events(members)[0])

    async def tags(self, _request: web.Request) -> web.Response:
        """``GET /gamma/tags``."""
        return web.json_response([*_COMMON_TAGS, *GAME_TAGS.values()])
