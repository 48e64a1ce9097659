"""Pure translation of decoded Polymarket wire structs into polyloly events.

Nothing here does I/O or reads a clock: ``ts_init`` is passed in. Decimal strings become
integer micro-units exactly (a fast path for plain ``"0.52"``-style text, ``Decimal`` for
the rest); a value that cannot be used raises :class:`ParseError` whose ``reason`` is the
counter key the clients increment before skipping the message.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §2 (market events), §3 (user events,
lenient timestamps), §8 (cross-asset maker orders).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from operator import attrgetter
from typing import Final

from polyloly.adapters.polymarket.constants import normalize_order_status, normalize_trade_status
from polyloly.adapters.polymarket.errors import ParseError
from polyloly.adapters.polymarket.events import (
    MakerFill,
    OrderStatus,
    OrderUpdate,
    OrderUpdateKind,
    TraderSide,
    TradeUpdate,
    UpdateSource,
)
from polyloly.adapters.polymarket.schemas.http import BookReply
from polyloly.adapters.polymarket.schemas.market import (
    WsBook,
    WsLastTradePrice,
    WsLevel,
    WsMarketResolved,
    WsPriceChangeMsg,
    WsTickSizeChange,
)
from polyloly.adapters.polymarket.schemas.user import WsMakerOrder, WsUserOrder, WsUserTrade
from polyloly.domain.events import (
    BookSnapshot,
    LastTrade,
    Level,
    LevelChange,
    MarketResolved,
    PriceChanges,
    Side,
    TickSizeChange,
)
from polyloly.domain.intents import OrderType
from polyloly.domain.money import ONE, SCALE, VALID_TICKS, MoneyError, parse_micros

__all__ = [
    "book_levels",
    "book_snapshot",
    "decimal_micros",
    "last_trade",
    "level_size_micros",
    "market_resolved",
    "micros",
    "ms_to_ns",
    "optional_price",
    "order_update",
    "price_changes",
    "price_micros",
    "size_micros",
    "tick_change",
    "tick_micros",
    "time_to_ns",
    "trade_update",
]

_POW10: Final = tuple(10**i for i in range(7))
_MAX_ADJUSTED_EXP: Final = 12  # |value| < 1e13 units: far above any real price or size
_MAX_WHOLE_DIGITS: Final = _MAX_ADJUSTED_EXP + 1
_MICROS_CACHE: dict[str, int] = {}  # wire text -> micros: prices repeat on every frame
_MICROS_CACHE_MAX: Final = 1 << 13
_SIZES_MAX: Final = 1 << 16
# Validated hot fields, text -> micros, each bounded (emptied when full): one dict lookup
# per price or size on the hot path instead of a parse and range checks. Prices and hints
# take a few thousand spellings at most. Sizes are mostly new numbers, yet ~90 % of them
# repeat within the cache's reach (the mirrored size of the other token in the same frame,
# unchanged levels of the next snapshot): a miss costs a parse (~1 µs here), so the sizes'
# cache is the large one (~8 MB when full; it is emptied, not grown).
_PRICES: dict[str, int] = {}
_SIZES: dict[str, int] = {}
_HINTS: dict[str, int] = {}
_PRICE_TEXT: Final = attrgetter("price")
_SIZE_TEXT: Final = attrgetter("size")
_NS_PER_MS: Final = 1_000_000
_NS_PER_S: Final = 1_000_000_000
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_SECONDS_MAX: Final = 100_000_000_000  # below this an epoch number is seconds (until year 5138)
_MILLIS_MAX: Final = 100_000_000_000_000
_ORDER_TYPES: Final = {t.value: t for t in OrderType}
_KINDS: Final = {k.value: k for k in OrderUpdateKind}


def _plain_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def micros(text: str) -> int:
    """Convert a decimal string into integer micro-units exactly.

    Raises
    ------
    ParseError
        ``bad_number`` if it is not a finite decimal of modest size, ``too_precise`` if it
        has more than six significant decimals.
    """
    hit = _MICROS_CACHE.get(text)
    if hit is not None:
        return hit
    value = _micros(text)
    if len(_MICROS_CACHE) >= _MICROS_CACHE_MAX:
        _MICROS_CACHE.clear()  # bounded; the hot set (prices on a tick grid) refills at once
    _MICROS_CACHE[text] = value
    return value


def _micros(text: str) -> int:
    # The venue's spelling ("134.23", "0.5", "1180"): one digit check and one int().
    whole, _, frac = text.partition(".")
    places = len(frac)
    if places <= 6 and len(whole) <= _MAX_WHOLE_DIGITS:
        digits = whole + frac
        if digits.isdigit() and digits.isascii():
            scaled: int = int(digits) * _POW10[6 - places]
            return scaled
    return _general_micros(text)


def _general_micros(text: str) -> int:
    whole, dot, frac = text.partition(".")
    if (
        _plain_digits(whole)
        and len(whole) <= _MAX_WHOLE_DIGITS
        and (not dot or _plain_digits(frac))
    ):
        if len(frac) > 6:
            frac = frac.rstrip("0")
            if len(frac) > 6:
                raise ParseError("too_precise", text[:40])
        if not frac:
            return int(whole) * SCALE
        scaled: int = int(whole) * SCALE + int(frac) * _POW10[6 - len(frac)]
        return scaled
    return _slow_micros(text)


def _slow_micros(text: str) -> int:
    # Decimal() would also accept "1_000" and non-ASCII digits: the venue sends neither.
    if len(text) > 64 or not text.isascii() or "_" in text:
        raise ParseError("bad_number", text[:40])
    try:
        dec = Decimal(text.strip())
    except (InvalidOperation, ValueError) as exc:
        raise ParseError("bad_number", text[:40]) from exc
    return decimal_micros(dec, text)


def decimal_micros(dec: Decimal, text: str = "") -> int:
    """Convert a ``Decimal`` into micro-units exactly (rejecting NaN, inf, huge and too precise)."""
    if not dec.is_finite() or dec.adjusted() > _MAX_ADJUSTED_EXP:
        raise ParseError("bad_number", (text or str(dec))[:40])
    try:
        return parse_micros(dec)
    except MoneyError as exc:
        raise ParseError("too_precise", (text or str(dec))[:40]) from exc


def _remember(cache: dict[str, int], text: str, value: int, limit: int = _MICROS_CACHE_MAX) -> int:
    if len(cache) >= limit:
        cache.clear()
    cache[text] = value
    return value


def price_micros(text: str) -> int:
    """A book or trade price: strictly between 0 and 1."""
    value = _PRICES.get(text)
    if value is not None:
        return value
    value = _micros(text)
    if not 0 < value < ONE:
        raise ParseError("bad_price", text[:40])
    return _remember(_PRICES, text, value)


def optional_price(text: str | None) -> int | None:
    """A top-of-book hint (``best_bid``/``best_ask``): ``None`` if absent, within [0, 1]."""
    if text is None or text == "":
        return None
    value = _HINTS.get(text)
    if value is not None:
        return value
    value = _micros(text)
    if not 0 <= value <= ONE:
        raise ParseError("bad_price", text[:40])
    return _remember(_HINTS, text, value)


def size_micros(text: str) -> int:
    """A size or amount: non-negative (an empty string, as in a killed FOK, is 0)."""
    value = _SIZES.get(text)
    if value is not None:
        return value
    if text == "":
        return 0
    value = _micros(text)  # not through micros(): sizes would crowd out its cache
    if value < 0:
        raise ParseError("bad_size", text[:40])
    return _remember(_SIZES, text, value, _SIZES_MAX)


def level_size_micros(text: str) -> int:
    """A book level's size: non-negative, and never empty (a market frame always sends one)."""
    value = _SIZES.get(text)
    if value is not None:
        return value
    if text == "":
        raise ParseError("bad_size", "empty size")
    return size_micros(text)


def tick_micros(text: str | Decimal) -> int:
    """A tick size: one of Polymarket's six ticks."""
    value = decimal_micros(text) if isinstance(text, Decimal) else micros(text)
    if value not in VALID_TICKS:
        raise ParseError("bad_tick", str(text)[:40])
    return value


def ms_to_ns(ms: int, default_ns: int) -> int:
    """Epoch milliseconds to ns; ``default_ns`` when the venue sent none (0)."""
    if ms <= 0:
        return default_ns
    if ms >= _MILLIS_MAX:
        raise ParseError("bad_timestamp", str(ms))
    return ms * _NS_PER_MS


def time_to_ns(value: str | int | None) -> int | None:
    """Parse a venue time leniently: epoch s or ms (string or number), or ISO-8601.

    Empty or absent gives ``None``; anything else unparseable raises ``bad_timestamp``.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int):
        number = value
    elif _plain_digits(value):
        if len(value) > 20:
            raise ParseError("bad_timestamp", value[:40])
        number = int(value)
    else:
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ParseError("bad_timestamp", value[:40]) from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return ((when - _EPOCH) // dt.timedelta(microseconds=1)) * 1_000
    if number < 0:
        raise ParseError("bad_timestamp", str(value)[:40])
    if number < _SECONDS_MAX:
        return number * _NS_PER_S
    if number < _MILLIS_MAX:
        return number * _NS_PER_MS
    raise ParseError("bad_timestamp", str(value)[:40])


def _int_field(value: str | int | None, reason: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, int):
        return value
    if _plain_digits(value) and len(value) <= 20:
        return int(value)
    raise ParseError(reason, str(value)[:40])


# ---------------------------------------------------------------------------------------------
# Market channel
# ---------------------------------------------------------------------------------------------


def book_levels(levels: list[WsLevel], *, descending: bool) -> tuple[Level, ...]:
    """Convert one side to ``(price, size)`` micros, best first.

    Raises ``duplicate_level`` if a price appears twice (a snapshot lists each level once),
    ``bad_size`` if a size is empty, zero or negative (a snapshot lists only resting size;
    ``book_rules`` refuses a size ≤ 0 too, for events that come from elsewhere).
    """
    # The validated caches first, every loop in C (map): a snapshot's prices all repeat, and
    # most of its sizes did in the previous snapshot; any miss takes the checked path.
    price_texts = list(map(_PRICE_TEXT, levels))
    size_texts = list(map(_SIZE_TEXT, levels))
    prices: list[int | None] = list(map(_PRICES.get, price_texts))
    sizes: list[int | None] = list(map(_SIZES.get, size_texts))
    if None in prices:
        prices = list(map(price_micros, price_texts))
    if None in sizes:
        sizes = list(map(level_size_micros, size_texts))
    if 0 in sizes:
        raise ParseError("bad_size", "size 0 in a snapshot")
    out: dict[int, int] = dict(zip(prices, sizes, strict=True))  # type: ignore[arg-type]
    if len(out) != len(levels):
        seen: set[int] = set()
        for lv in levels:
            price = price_micros(lv.price)
            if price in seen:
                raise ParseError("duplicate_level", lv.price)
            seen.add(price)
    # Prices are unique, so the (price, size) pairs sort by price alone.
    return tuple(sorted(out.items(), reverse=descending))


def book_snapshot(msg: WsBook | BookReply, ts_init: int) -> BookSnapshot:
    """A ``book`` frame (or a REST ``/book`` reply) as a :class:`BookSnapshot`."""
    if not msg.asset_id:
        raise ParseError("missing_asset", "book")
    ts = msg.timestamp if isinstance(msg, WsBook) else _int_field(msg.timestamp, "bad_timestamp")
    # The shortest repr of a float tick ("0.001") is exact for every valid tick.
    tick_text = None if msg.tick_size in (None, "") else str(msg.tick_size)
    return BookSnapshot(
        ts_event=ms_to_ns(ts, ts_init),
        ts_init=ts_init,
        market=msg.market,
        token_id=msg.asset_id,
        bids=book_levels(msg.bids, descending=True),
        asks=book_levels(msg.asks, descending=False),
        tick=tick_micros(tick_text) if tick_text is not None else None,
        hash=msg.hash,
    )


def price_changes(msg: WsPriceChangeMsg, ts_init: int) -> PriceChanges:
    """A ``price_change`` frame (current or legacy shape) as :class:`PriceChanges`."""
    changes: list[LevelChange] = []
    for ch in msg.price_changes:
        if not ch.asset_id:
            raise ParseError("missing_asset", "price_change")
        changes.append(
            LevelChange(ch.asset_id, ch.side, price_micros(ch.price), level_size_micros(ch.size))
        )
    if not changes:
        if not msg.asset_id or msg.price is None or msg.size is None or msg.side is None:
            raise ParseError("empty_price_change")
        changes.append(
            LevelChange(
                msg.asset_id, msg.side, price_micros(msg.price), level_size_micros(msg.size)
            )
        )
    return PriceChanges(
        ts_event=ms_to_ns(msg.timestamp, ts_init),
        ts_init=ts_init,
        market=msg.market,
        changes=tuple(changes),
    )


def last_trade(msg: WsLastTradePrice, ts_init: int) -> LastTrade:
    """A ``last_trade_price`` frame as :class:`LastTrade`."""
    return LastTrade(
        ts_event=ms_to_ns(msg.timestamp, ts_init),
        ts_init=ts_init,
        market=msg.market,
        token_id=msg.asset_id,
        price=price_micros(msg.price),
        size=size_micros(msg.size),
        side=msg.side,
    )


def tick_change(msg: WsTickSizeChange, ts_init: int) -> TickSizeChange:
    """A ``tick_size_change`` frame as :class:`TickSizeChange`."""
    return TickSizeChange(
        ts_event=ms_to_ns(msg.timestamp, ts_init),
        ts_init=ts_init,
        market=msg.market,
        token_id=msg.asset_id,
        old_tick=tick_micros(msg.old_tick_size),
        new_tick=tick_micros(msg.new_tick_size),
    )


def market_resolved(msg: WsMarketResolved, ts_init: int) -> MarketResolved:
    """A ``market_resolved`` frame as :class:`MarketResolved`."""
    if not msg.winning_asset_id:
        raise ParseError("missing_asset", "market_resolved")
    return MarketResolved(
        ts_event=ms_to_ns(msg.timestamp, ts_init),
        ts_init=ts_init,
        market=msg.market,
        winning_token_id=msg.winning_asset_id,
    )


# ---------------------------------------------------------------------------------------------
# User channel and REST records
# ---------------------------------------------------------------------------------------------


def _event_ns(value: str | int | None, ts_init: int) -> int:
    ns = time_to_ns(value)
    return ts_init if ns is None else ns


def order_update(msg: WsUserOrder, ts_init: int, source: UpdateSource) -> OrderUpdate:
    """An ``order`` frame or a ``/data/orders`` row as :class:`OrderUpdate`."""
    if not msg.id:
        raise ParseError("missing_id", "order")
    status = normalize_order_status(msg.status)
    if source is UpdateSource.REST:
        kind = OrderUpdateKind.SNAPSHOT
    else:
        found = _KINDS.get(msg.type.upper())
        if found is None:
            # A missing type is inferred from the status: a cancel status is a cancellation.
            found = (
                OrderUpdateKind.CANCELLATION
                if status in (OrderStatus.CANCELED, OrderStatus.INVALID)
                else OrderUpdateKind.UPDATE
            )
        kind = found
    return OrderUpdate(
        ts_event=_event_ns(msg.timestamp, ts_init),
        ts_init=ts_init,
        order_id=msg.id,
        market=msg.market,
        token_id=msg.asset_id,
        side=msg.side,
        price=price_micros(msg.price),
        original_size=size_micros(msg.original_size),
        size_matched=size_micros(msg.size_matched),
        status=status,
        kind=kind,
        source=source,
        status_detail="" if status.value == msg.status else msg.status,
        order_type=_ORDER_TYPES.get(msg.order_type.upper()),
        outcome=msg.outcome,
        maker_address=msg.maker_address,
        associate_trades=tuple(msg.associate_trades or ()),
        created_at_ns=time_to_ns(msg.created_at),
        expiration_s=_int_field(msg.expiration, "bad_expiration"),
        metadata=msg.metadata or "",
    )


def _maker_fill(
    m: WsMakerOrder, taker_side: Side, taker_token: str, own_owner: str, own_address: str
) -> MakerFill:
    if m.side is not None:
        side = m.side
    elif m.asset_id == taker_token:
        side = Side.SELL if taker_side is Side.BUY else Side.BUY
    else:
        # Cross-asset match: BUY YES against BUY NO mints, SELL against SELL merges.
        side = taker_side
    ours = bool(own_owner) and m.owner == own_owner
    if not ours and own_address and not own_owner:
        ours = m.maker_address.lower() == own_address.lower()
    return MakerFill(
        order_id=m.order_id,
        token_id=m.asset_id,
        price=price_micros(m.price),
        matched_amount=size_micros(m.matched_amount),
        side=side,
        fee_rate_bps=_int_field(m.fee_rate_bps, "bad_fee"),
        outcome=m.outcome,
        maker_address=m.maker_address,
        is_ours=ours,
    )


def trade_update(
    msg: WsUserTrade,
    ts_init: int,
    source: UpdateSource,
    *,
    own_owner: str = "",
    own_address: str = "",
) -> TradeUpdate:
    """A ``trade`` frame or a ``/data/trades`` row as :class:`TradeUpdate`.

    ``own_owner`` (our API key) or, failing that, ``own_address`` (our funder) marks which
    maker orders are ours.
    """
    if not msg.id:
        raise ParseError("missing_id", "trade")
    status = normalize_trade_status(msg.status)
    trader = msg.trader_side.upper()
    if trader not in ("TAKER", "MAKER"):
        raise ParseError("bad_trader_side", msg.trader_side[:40])
    match_time = msg.match_time if msg.match_time not in (None, "") else msg.matchtime
    return TradeUpdate(
        ts_event=_event_ns(
            msg.timestamp if msg.timestamp not in (None, "") else msg.last_update, ts_init
        ),
        ts_init=ts_init,
        trade_id=msg.id,
        taker_order_id=msg.taker_order_id,
        market=msg.market,
        token_id=msg.asset_id,
        side=msg.side,
        price=price_micros(msg.price),
        size=size_micros(msg.size),
        status=status,
        trader_side=TraderSide(trader),
        source=source,
        status_detail="" if status.value == msg.status else msg.status,
        fee_rate_bps=_int_field(msg.fee_rate_bps, "bad_fee"),
        outcome=msg.outcome,
        maker_address=msg.maker_address,
        transaction_hash=msg.transaction_hash or "",
        match_time_ns=time_to_ns(match_time),
        last_update_ns=time_to_ns(msg.last_update),
        bucket_index=msg.bucket_index,
        maker_orders=tuple(
            _maker_fill(m, msg.side, msg.asset_id, own_owner, own_address)
            for m in (msg.maker_orders or ())
        ),
    )
