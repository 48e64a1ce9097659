"""Market-channel client: books for many tokens over sharded, self-healing WebSockets.

Tokens are spread over connections of at most ``max_assets_per_connection`` (the venue
stops sending initial books past ~500 per connection). Each frame is decoded once into
typed structs (:mod:`.schemas.market`), translated into domain events (:mod:`.parsing`),
applied to this client's own :class:`~polyloly.domain.orderbook.BookSet` and handed to a
synchronous ``publish`` callback (the kernel's).

Sync rules — a book that is not in sync is never published as tradable:

* a token is out of sync until a ``book`` snapshot arrives for it;
* the moment sync is lost (disconnect, stall, tick-size change, a level the book refuses,
  a top-of-book hint that disagrees with the book) a ``BookInvalidated`` is published for
  every affected token that was in sync;
* level updates for a token that is out of sync are dropped (counted), never published;
* a token waiting longer than ``resync_timeout_s`` for its snapshot makes its connection
  reconnect, which brings fresh snapshots for every token on it.

Validation before state — every message is checked for what it means before it touches a
book (:mod:`polyloly.domain.book_rules`, applied by the book set, so a replay refuses
alike): a crossed snapshot, a size ≤ 0 or empty, a price outside ``(0, 1)`` or off the
book's tick, an illegal or inconsistent tick change, a resolution whose winner is not a
token of its market (as the snapshots taught this client). A refused message is never
published; every book it names loses sync (a ``BookInvalidated``) and waits for its next
snapshot.

Nothing raises: every refused message is counted under its reason in
:attr:`MarketWsClient.refused` (``polyloly_frames_refused_total{reason}``); the ones that
did not even parse are also in :attr:`MarketWsClient.malformed`.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §2 (subscribe, keepalive, framing,
limits, events), §8 (book pitfalls).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import Final

import msgspec
import structlog

from polyloly.adapters.polymarket.config import WsConfig
from polyloly.adapters.polymarket.constants import PONG_TEXT
from polyloly.adapters.polymarket.errors import ParseError
from polyloly.adapters.polymarket.parsing import (
    book_snapshot,
    last_trade,
    market_resolved,
    optional_price,
    price_changes,
    tick_change,
)
from polyloly.adapters.polymarket.schemas.market import (
    MarketMessage,
    WsBestBidAsk,
    WsBook,
    WsLastTradePrice,
    WsMarketResolved,
    WsNewMarket,
    WsPriceChange,
    WsPriceChangeMsg,
    WsTickSizeChange,
)
from polyloly.adapters.polymarket.ws_common import ReconnectingSocket, frame_payload
from polyloly.domain.book_rules import resolution_fault, tick_inference_plausible
from polyloly.domain.events import (
    BookInvalidated,
    BookSnapshot,
    Event,
    FeedState,
    FeedStatus,
    PriceChanges,
)
from polyloly.domain.money import ONE, VALID_TICKS, all_on_grid
from polyloly.domain.orderbook import BookSet, OrderBook
from polyloly.runtime.clock import Clock

__all__ = ["MarketWsClient", "decode_market_frame"]

_log = structlog.get_logger(__name__)
_NS_PER_S: Final = 1_000_000_000
_FRAME_DECODER: Final = msgspec.json.Decoder(MarketMessage | list[MarketMessage], strict=False)
_ONE_DECODER: Final = msgspec.json.Decoder(MarketMessage, strict=False)
_RAW_LIST: Final = msgspec.json.Decoder(list[msgspec.Raw])
_SOURCE: Final = "polymarket.market_ws"


def _reason_of(exc: msgspec.DecodeError) -> str:
    if not isinstance(exc, msgspec.ValidationError):
        return "invalid_json"
    return "unknown_event_type" if "event_type" in str(exc) else "schema"


def decode_market_frame(data: str | bytes) -> tuple[list[MarketMessage], list[str]]:
    """Decode one frame (an object or an array) into messages plus a reason per bad element.

    A frame that decodes as a whole takes the fast path; otherwise an array is decoded
    element by element so that one bad element does not drop the good ones.
    """
    try:
        msgs = _FRAME_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        return _salvage(data, exc)
    return (msgs if isinstance(msgs, list) else [msgs]), []


def _salvage(
    data: str | bytes, first_error: msgspec.DecodeError
) -> tuple[list[MarketMessage], list[str]]:
    """The good elements of a frame that did not decode whole, and a reason per bad one."""
    try:
        parts = _RAW_LIST.decode(data)
    except msgspec.DecodeError:
        return [], [_reason_of(first_error)]
    good: list[MarketMessage] = []
    bad: list[str] = []
    for part in parts:
        try:
            good.append(_ONE_DECODER.decode(part))
        except msgspec.DecodeError as exc:
            bad.append(_reason_of(exc))
    return good, bad


_LEVEL_PRICE: Final = itemgetter(0)


def _on_grid(snap: BookSnapshot, tick: int) -> bool:
    return all_on_grid(map(_LEVEL_PRICE, snap.bids), tick) and all_on_grid(
        map(_LEVEL_PRICE, snap.asks), tick
    )


def _infer_tick(snap: BookSnapshot, stale_tick: int) -> int | None:
    prices = [p for p, _ in snap.bids] + [p for p, _ in snap.asks]
    if not tick_inference_plausible(prices, stale_tick):
        return None  # off the tick inside [0.04, 0.96]: a wrong snapshot, not a re-ticked market
    for tick in sorted(VALID_TICKS, reverse=True):
        if tick < stale_tick and _on_grid(snap, tick):
            return tick
    return None


class _Shard:
    """One connection and the tokens it carries."""

    __slots__ = ("awaiting", "index", "sock", "tokens")

    def __init__(self, index: int) -> None:
        self.index = index
        self.tokens: set[str] = set()
        self.awaiting: dict[str, int] = {}  # token -> monotonic deadline (ns) for its snapshot
        self.sock: ReconnectingSocket | None = None


class MarketWsClient:
    """Follows books of many tokens on the market channel.

    Parameters
    ----------
    url
        Market channel endpoint (``…/ws/market``).
    publish
        Synchronous event sink (the kernel's ``publish``).
    clock
        Injected clock: ``now_ns`` stamps ``ts_init``, ``monotonic_ns`` times stalls.
    config
        WebSocket intervals and limits.
    rand
        ``[0, 1)`` source for reconnect jitter (seeded in tests).
    verify_top_of_book
        Check each ``price_change``'s ``best_bid``/``best_ask`` against the book and resync
        on disagreement.
    books
        The book set to keep (the trading core's, to share one set; see
        :class:`~polyloly.domain.orderbook.BookSet`); a new one by default.
    """

    def __init__(
        self,
        url: str,
        publish: Callable[[Event], None],
        clock: Clock,
        config: WsConfig | None = None,
        rand: Callable[[], float] | None = None,
        *,
        verify_top_of_book: bool = True,
        books: BookSet | None = None,
    ) -> None:
        self.url = url
        self.books = books if books is not None else BookSet()
        self.malformed: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        """Every message refused, by reason: the malformed ones and the ones wrong in meaning."""
        self.ignored: Counter[str] = Counter()
        self.invalidations: Counter[str] = Counter()
        self.frames = 0
        self.events = 0
        self._publish = publish
        self._clock = clock
        self._cfg = config if config is not None else WsConfig()
        self._rand = rand if rand is not None else random.Random().random  # noqa: S311 - jitter, not crypto
        self._verify = verify_top_of_book
        self._shards: list[_Shard] = []
        self._shard_of: dict[str, _Shard] = {}
        self._market_tokens: dict[str, set[str]] = {}  # market -> tokens its snapshots named
        self._running = False

    # -- subscription --------------------------------------------------------------------------

    @property
    def tokens(self) -> frozenset[str]:
        """Every token followed."""
        return frozenset(self._shard_of)

    @property
    def sockets(self) -> list[ReconnectingSocket]:
        """The connections (one per shard), for their stats."""
        return [s.sock for s in self._shards if s.sock is not None]

    def in_sync(self, token_id: str) -> bool:
        """Whether the token's book is in sync (safe to read, subject to ``tradable``)."""
        book = self.books.get(token_id)
        return book is not None and book.in_sync

    async def subscribe(self, token_ids: Iterable[str]) -> None:
        """Follow more tokens; running connections subscribe them at once."""
        cap = self._cfg.max_assets_per_connection
        added: dict[int, list[str]] = {}
        for token in token_ids:
            if not token or token in self._shard_of:
                continue
            shard = next((s for s in self._shards if len(s.tokens) < cap), None)
            if shard is None:
                shard = _Shard(len(self._shards))
                self._shards.append(shard)
            shard.tokens.add(token)
            self._shard_of[token] = shard
            self.books.book(token)
            added.setdefault(shard.index, []).append(token)
        for index, tokens in added.items():
            shard = self._shards[index]
            if shard.sock is None:
                if self._running:
                    self._start_shard(shard)
                continue
            deadline = self._deadline()
            for token in tokens:
                shard.awaiting[token] = deadline
            msg = {"operation": "subscribe", "assets_ids": tokens, "custom_feature_enabled": True}
            await shard.sock.send(msgspec.json.encode(msg).decode())

    async def unsubscribe(self, token_ids: Iterable[str]) -> None:
        """Stop following tokens (their in-sync books are invalidated)."""
        by_shard: dict[int, list[str]] = {}
        for token in token_ids:
            shard = self._shard_of.pop(token, None)
            if shard is None:
                continue
            shard.tokens.discard(token)
            shard.awaiting.pop(token, None)
            self._invalidate(token, "unsubscribed")
            by_shard.setdefault(shard.index, []).append(token)
        for index, tokens in by_shard.items():
            sock = self._shards[index].sock
            if sock is not None:
                msg = {"operation": "unsubscribe", "assets_ids": tokens}
                await sock.send(msgspec.json.encode(msg).decode())

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Open one connection per shard (call inside the event loop)."""
        self._running = True
        for shard in self._shards:
            if shard.sock is not None:
                shard.sock.start()
            elif shard.tokens:
                self._start_shard(shard)

    def _start_shard(self, shard: _Shard) -> None:
        sock = ReconnectingSocket(
            self.url,
            self,
            clock=self._clock,
            config=self._cfg,
            rand=self._rand,
            name=f"market-{shard.index}",
        )
        shard.sock = sock
        sock.start()

    async def stop(self) -> None:
        """Close every connection (all at once); books are invalidated."""
        self._running = False
        await asyncio.gather(*(s.sock.stop() for s in self._shards if s.sock is not None))

    def _shard_for_sock(self, sock: ReconnectingSocket) -> _Shard | None:
        for shard in self._shards:
            if shard.sock is sock:
                return shard
        return None

    def _deadline(self) -> int:
        return self._clock.monotonic_ns() + int(self._cfg.resync_timeout_s * _NS_PER_S)

    # -- SocketOwner ---------------------------------------------------------------------------

    async def on_open(self, sock: ReconnectingSocket) -> None:
        """Subscribe every token of the shard; each awaits its snapshot."""
        shard = self._shard_for_sock(sock)
        if shard is None:
            return
        tokens = sorted(shard.tokens)
        deadline = self._deadline()
        shard.awaiting = dict.fromkeys(tokens, deadline)
        msg = {
            "type": "market",
            "assets_ids": tokens,
            "custom_feature_enabled": True,
            "initial_dump": True,
        }
        await sock.send(msgspec.json.encode(msg).decode())
        self._emit(
            FeedStatus(
                ts_event=self._now(),
                ts_init=self._now(),
                source=_SOURCE,
                state=FeedState.OK,
                detail=sock.name,
            )
        )

    def on_close(self, sock: ReconnectingSocket, reason: str) -> None:
        """Every in-sync token of the shard loses sync now."""
        shard = self._shard_for_sock(sock)
        if shard is None:
            return
        for token in sorted(shard.tokens):
            self._invalidate(token, reason.split(":", 1)[0])
        shard.awaiting.clear()
        now = self._now()
        self._emit(
            FeedStatus(
                ts_event=now,
                ts_init=now,
                source=_SOURCE,
                state=FeedState.DOWN,
                detail=f"{sock.name}: {reason}",
            )
        )

    def watchdog(self, sock: ReconnectingSocket) -> str | None:
        """Reconnect if a token waited too long for its snapshot."""
        shard = self._shard_for_sock(sock)
        if shard is None or not shard.awaiting:
            return None
        now = self._clock.monotonic_ns()
        late = [t for t, deadline in shard.awaiting.items() if deadline <= now]
        if late:
            self.invalidations["resync_timeout"] += len(late)
            return "resync_timeout"
        return None

    def on_frame(self, sock: ReconnectingSocket, data: str | bytes) -> None:
        """Handle one frame from ``sock`` (``PONG`` feeds its keepalive)."""
        if data == PONG_TEXT:
            self.frames += 1
            sock.note_pong()
            return
        self.handle_frame(data)

    def handle_frame(self, data: str | bytes) -> None:
        """Handle one frame: keepalive text, or JSON (one object or an array). Never raises."""
        self.frames += 1
        payload = frame_payload(data, self.ignored)
        if payload is None:
            return
        try:
            decoded = _FRAME_DECODER.decode(payload)  # the common case: the frame decodes whole
        except msgspec.DecodeError as exc:
            msgs, bad = _salvage(payload, exc)  # the good elements of an array
            for reason in bad:
                self._malformed(reason, len(payload))
        else:
            if not isinstance(decoded, list):  # narrows the decoder's union for the checker
                self._handle(decoded, payload)
                return
            msgs = decoded
        for msg in msgs:
            self._handle(msg, payload)

    def _handle(self, msg: MarketMessage, payload: str | bytes) -> None:
        try:
            self._dispatch(msg)
        except ParseError as exc:
            self._malformed(exc.reason, len(payload))
            for token in _tokens_named(msg):  # a book update we could not read: they missed it
                self._unsync(token, exc.reason)
        except Exception:  # one bad message must not end the feed
            self.malformed["internal_error"] += 1
            self.refused["internal_error"] += 1
            _log.exception("market_ws.handler_failed", kind=type(msg).__name__)

    # -- dispatch ------------------------------------------------------------------------------

    def _now(self) -> int:
        return self._clock.now_ns()

    def _malformed(self, reason: str, size: int) -> None:
        self.malformed[reason] += 1
        self.refused[reason] += 1
        _log.warning("market_ws.malformed", reason=reason, frame_bytes=size)

    def _refuse(self, reason: str, token: str) -> None:
        """Count a message wrong in meaning (it is not published)."""
        self.refused[reason] += 1
        _log.warning("market_ws.refused", reason=reason, token=token[:20])

    def _unsync(self, token: str, reason: str) -> None:
        """A followed token's book lost sync: unsync it (if it was) and await its snapshot."""
        if token not in self._shard_of:
            return
        book = self.books.get(token)
        if book is not None and book.in_sync:
            book.invalidate()
            self._lost_sync(token, reason)

    def _emit(self, event: Event) -> None:
        self.events += 1
        try:
            self._publish(event)
        except Exception:  # a failing consumer must not stop the feed
            self.malformed["publish_error"] += 1
            _log.exception("market_ws.publish_failed", event_type=type(event).__name__)

    def _invalidate(self, token: str, reason: str) -> None:
        book = self.books.get(token)
        if book is None or not book.in_sync:
            return
        now = self._now()
        event = BookInvalidated(ts_event=now, ts_init=now, token_id=token, reason=reason)
        self.books.apply(event)
        self.invalidations[reason] += 1
        self._emit(event)

    def _dispatch(self, msg: MarketMessage) -> None:
        cls = type(msg)
        if cls is WsPriceChangeMsg:
            self._on_price_change(msg)  # type: ignore[arg-type]
        elif cls is WsBook:
            self._on_book(msg)  # type: ignore[arg-type]
        elif cls is WsLastTradePrice:
            m: WsLastTradePrice = msg  # type: ignore[assignment]
            if m.asset_id in self._shard_of:
                self._emit(last_trade(m, self._now()))
        elif cls is WsTickSizeChange:
            self._on_tick(msg)  # type: ignore[arg-type]
        elif cls is WsMarketResolved:
            self._on_resolved(msg)  # type: ignore[arg-type]
        elif cls in (WsBestBidAsk, WsNewMarket):
            self.ignored[cls.__name__] += 1

    def _on_resolved(self, msg: WsMarketResolved) -> None:
        event = market_resolved(msg, self._now())
        fault = resolution_fault(msg.winning_asset_id, self._market_tokens.get(msg.market, ()))
        if fault is not None:
            self._refuse(fault, msg.winning_asset_id)  # it must set no mark: never published
            return
        self._emit(event)

    def _on_book(self, msg: WsBook) -> None:
        token = msg.asset_id
        shard = self._shard_of.get(token)
        if shard is None:
            self.ignored["unsubscribed_asset"] += 1
            return
        snap = book_snapshot(msg, self._now())
        book = self.books.book(token)
        was_in_sync = book.in_sync
        if snap.tick is None and book.tick is not None and not _on_grid(snap, book.tick):
            # The book's tick is stale (a tick_size_change was missed while disconnected):
            # take the coarsest finer tick the snapshot fits and say so in the snapshot.
            tick = _infer_tick(snap, book.tick)
            if tick is None:
                self._refuse("off_tick", token)
                self._unsync(token, "off_tick")
                return
            self.invalidations["tick_inferred"] += 1
            snap = msgspec.structs.replace(snap, tick=tick)
        books = self.books
        refusals = books.refusals
        books.apply(snap)
        if books.refusals != refusals or not book.in_sync:
            reason = book.fault or "rejected_book"
            self._refuse(reason, token)
            if was_in_sync:
                self._lost_sync(token, reason)
            return
        shard.awaiting.pop(token, None)
        tokens = self._market_tokens.get(snap.market)
        if tokens is None:
            self._market_tokens[snap.market] = {token}
        elif token not in tokens:
            tokens.add(token)
        self._emit(snap)

    def _on_tick(self, msg: WsTickSizeChange) -> None:
        shard = self._shard_of.get(msg.asset_id)
        if shard is None:
            self.ignored["unsubscribed_asset"] += 1
            return
        event = tick_change(msg, self._now())
        book = self.books.book(msg.asset_id)
        was_in_sync = book.in_sync
        refusals = self.books.refusals
        self.books.apply(event)
        if self.books.refusals != refusals:  # an illegal tick, or not the book's old one
            reason = book.fault or "bad_tick"
            self._refuse(reason, msg.asset_id)
            if was_in_sync:
                self._lost_sync(msg.asset_id, reason)
            else:
                shard.awaiting[msg.asset_id] = self._deadline()
            return
        self._emit(event)
        if was_in_sync and not book.in_sync:
            self.invalidations["tick_size_change"] += 1
            now = self._now()
            self._emit(
                BookInvalidated(
                    ts_event=now, ts_init=now, token_id=msg.asset_id, reason="tick_size_change"
                )
            )
        if not book.in_sync:
            shard.awaiting[msg.asset_id] = self._deadline()

    def _on_price_change(self, msg: WsPriceChangeMsg) -> None:
        # Parsed before the sync filter: a malformed entry makes the frame malformed.
        event = price_changes(msg, self._clock.now_ns())
        books = self.books
        for ch in event.changes:
            book = books.get(ch.token_id)
            if book is None or not book.in_sync:
                synced = self._synced_only(event)
                if synced is None:
                    return
                event = synced
                break
        refusals = books.refusals
        touched = books.apply(event)
        if books.refusals != refusals:
            # Refused whole (a bad level) or it left a book crossed: never published; every
            # book it names has lost sync and awaits its snapshot.
            reason = books.last_fault or "rejected_level"
            self._refuse(reason, touched[0] if touched else "")
            for token in touched:
                book = books.get(token)
                if book is not None and not book.in_sync:
                    self._lost_sync(token, reason)
            return
        self._emit(event)
        self._check_synced(msg.price_changes)

    def _synced_only(self, event: PriceChanges) -> PriceChanges | None:
        """The event without the changes of tokens out of sync (counted), or ``None``."""
        books = self.books
        keep = [
            ch for ch in event.changes if (b := books.get(ch.token_id)) is not None and b.in_sync
        ]
        self.ignored["unsynced_change"] += len(event.changes) - len(keep)
        if not keep:
            return None
        return PriceChanges(
            ts_event=event.ts_event,
            ts_init=event.ts_init,
            market=event.market,
            changes=tuple(keep),
        )

    def _check_synced(self, entries: list[WsPriceChange]) -> None:
        """Resync each token whose top-of-book hint disagrees with its book after the frame.

        ``entries`` are the frame's ``price_changes`` (empty in the legacy shape, which
        carries no hints); each token's last entry holds its top of book after the frame.
        """
        if not self._verify or not entries:
            return
        get = self.books.get
        last: Iterable[WsPriceChange] = entries
        if len(entries) > 1 and (len(entries) > 2 or entries[0].asset_id == entries[1].asset_id):
            last = {ch.asset_id: ch for ch in entries}.values()
        for ch in last:
            book = get(ch.asset_id)
            if book is not None and book.in_sync and not _top_agrees(book, ch):
                book.invalidate()
                self._lost_sync(ch.asset_id, "top_of_book_mismatch")

    def _lost_sync(self, token: str, reason: str) -> None:
        now = self._now()
        self.invalidations[reason] += 1
        self._emit(BookInvalidated(ts_event=now, ts_init=now, token_id=token, reason=reason))
        shard = self._shard_of.get(token)
        if shard is not None:
            shard.awaiting[token] = self._deadline()


def _tokens_named(msg: MarketMessage) -> list[str]:
    """The tokens whose book a message updates (none for trades, resolutions, hints)."""
    if isinstance(msg, WsPriceChangeMsg):
        named = [ch.asset_id for ch in msg.price_changes]
        return named or ([msg.asset_id] if msg.asset_id else [])
    if isinstance(msg, WsBook | WsTickSizeChange):
        return [msg.asset_id]
    return []


def _top_agrees(book: OrderBook, ch: WsPriceChange) -> bool:
    """Whether the entry's ``best_bid``/``best_ask`` hints (when sent) match the book."""
    bid = optional_price(ch.best_bid)
    if bid is not None and (book.best_bid_price or 0) != bid:
        return False
    ask = optional_price(ch.best_ask)
    if ask is None:
        return True
    best_ask = book.best_ask_price
    return best_ask == ask if best_ask is not None else ask in (0, ONE)
