"""The same stream through NautilusTrader's Python API: the peers the hot path is compared to.

Two peers, each timed over the frames after the subscription's initial dump (applied first,
untimed), as polyloly's variants are:

* **bare** (``nautilus``) — decode + deltas + ``OrderBook`` + pair check, at its best: frames
  decoded with the floor structs of :mod:`bench.floor` (only the used fields), a ``book``
  frame becomes a ``CLEAR`` delta plus one ``ADD`` per level, each ``price_changes`` entry an
  ``UPDATE`` (or ``DELETE`` for size 0) flagged ``F_LAST``, applied to an ``OrderBook``
  (``L2_MBP``) per token; ``Price`` objects cached per price text; after each frame the pair
  check reads both tokens' ``best_ask_price()``. Compared with polyloly's market-data layer.
* **same scope** (``nautilus_scope``) — books + sync checks + events + handlers, the way a
  NautilusTrader user runs a Polymarket strategy: per frame what NautilusTrader's own
  Polymarket data client does (``adapters/polymarket/data.py`` in 1.221: decode with the
  adapter's ``msgspec`` schemas — every field; per ``price_changes`` entry the instrument
  looked up in the ``Cache`` by its ``InstrumentId``, ``instrument.make_price`` /
  ``make_qty``, an ``OrderBookDeltas`` applied to the adapter's local ``OrderBook``; a
  ``book`` frame rebuilt into a fresh local book; a trade a ``TradeTick``; a tick-size change
  a new instrument), plus the top-of-book check against the frame's ``best_bid`` /
  ``best_ask`` that polyloly's client makes (NautilusTrader's adapter makes none), then the
  data handed to the ``DataEngine`` over the ``MessageBus`` (``DataEngine.process``): it
  applies the deltas to the managed order book in the ``Cache`` and publishes them on the
  bus to an ``Actor`` subscribed with ``subscribe_order_book_deltas``, whose
  ``on_order_book_deltas`` handler makes the pair check on both tokens' cached books.
  Compared with polyloly's node as it runs (``hot_path_logged``). The adapter's code is
  restated here (not imported): its package imports py-clob-client, which the peer's venv
  does not have; nothing is stored (NautilusTrader persists no data unless configured).

Runs in-process when ``nautilus_trader`` imports, or as a module in another interpreter
(NautilusTrader 1.221 is the last release for Python 3.11 and is not a polyloly
dependency)::

    /tmp/nt-venv/bin/python -m bench.nautilus_peer --stream FILE --repeats 1 --warm 200

which prints one JSON object: ns/msg of both peers and of the decode floor for each pass,
and how many final tops differ from the generator's ground truth. Only the standard library,
msgspec and NautilusTrader are imported.
"""

from __future__ import annotations

import argparse
import enum
import gc
import json
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from bench.floor import FLOOR_DECODER, FBook, FPriceChange, decode_floor
from bench.stream import Stream, load_stream

__all__ = ["SCOPE", "available", "main", "run_peer"]

SCOPE = (
    "NautilusTrader's Polymarket data-client path (adapter schemas, Cache instrument lookup, "
    "make_price/make_qty, local OrderBook) + top-of-book check + DataEngine via MessageBus "
    "(managed Cache OrderBook) + Actor.on_order_book_deltas pair check"
)
_VENUE = "POLYMARKET"


def available() -> bool:
    """Whether NautilusTrader imports in this interpreter."""
    try:
        import nautilus_trader  # noqa: F401
    except ImportError:
        return False
    return True


# -- the bare peer ----------------------------------------------------------------------------


class _Peer:
    """Books and delta builders for every token of a stream."""

    def __init__(self, condition_ids: Sequence[str], tokens: Sequence[str]) -> None:
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import BookOrder, OrderBookDelta
        from nautilus_trader.model.enums import BookAction, BookType, OrderSide, RecordFlag
        from nautilus_trader.model.identifiers import InstrumentId
        from nautilus_trader.model.objects import Price, Quantity

        self.index = {t: i for i, t in enumerate(tokens)}
        self.iids = [
            InstrumentId.from_str(f"{condition_ids[i // 2]}-{tok}.{_VENUE}")
            for i, tok in enumerate(tokens)
        ]
        self.books = [OrderBook(iid, BookType.L2_MBP) for iid in self.iids]
        self.apply = [b.apply_delta for b in self.books]
        self.delta = OrderBookDelta
        self.clear = OrderBookDelta.clear
        self.order = BookOrder
        self.qty = Quantity
        self.price_of: dict[str, Any] = {}
        self.price_cls = Price
        self.add, self.update, self.delete = BookAction.ADD, BookAction.UPDATE, BookAction.DELETE
        self.buy, self.sell = OrderSide.BUY, OrderSide.SELL
        self.f_last = int(RecordFlag.F_LAST)
        self.signals = 0

    def price(self, text: str) -> Any:
        p = self.price_of.get(text)
        if p is None:
            p = self.price_of[text] = self.price_cls(float(text), 3)
        return p

    def handle(self, frame: bytes) -> int:
        """Decode, build deltas, apply them, pair-check: one frame."""
        msg = FLOOR_DECODER.decode(frame)
        cls = type(msg)
        if cls is FPriceChange:
            ts = int(msg.timestamp) * 1_000_000
            i = 0
            for c in msg.price_changes:
                i = self.index[c.asset_id]
                size = float(c.size)
                order = self.order(
                    self.buy if c.side == "BUY" else self.sell,
                    self.price(c.price),
                    self.qty(size, 2),
                    0,
                )
                action = self.update if size > 0.0 else self.delete
                self.apply[i](self.delta(self.iids[i], action, order, self.f_last, 0, ts, ts))
        elif cls is FBook:
            book: FBook = msg
            ts = int(book.timestamp) * 1_000_000
            i = self.index[book.asset_id]
            iid, apply = self.iids[i], self.apply[i]
            apply(self.clear(iid, 0, ts, ts))
            for side, levels in ((self.buy, book.bids), (self.sell, book.asks)):
                for lv in levels:
                    order = self.order(side, self.price(lv.price), self.qty(float(lv.size), 2), 0)
                    apply(self.delta(iid, self.add, order, 0, 0, ts, ts))
        else:
            return 0  # trades and tick changes do not touch the book
        y = i & ~1
        a1 = self.books[y].best_ask_price()
        a2 = self.books[y + 1].best_ask_price()
        if a1 is not None and a2 is not None and a1.as_double() + a2.as_double() < 0.98:
            self.signals += 1
            return 1
        return 0

    def tops(self) -> list[tuple[int, int]]:
        return [_top(b) for b in self.books]


def _top(book: Any) -> tuple[int, int]:
    bid, ask = book.best_bid_price(), book.best_ask_price()
    return (
        round(bid.as_double() * 1_000_000) if bid is not None else 0,
        round(ask.as_double() * 1_000_000) if ask is not None else 1_000_000,
    )


# -- the same-scope peer ----------------------------------------------------------------------
# The Polymarket adapter's market-channel schemas (adapters/polymarket/schemas/book.py and
# websocket/types.py in 1.221), restated: every field is decoded, as the adapter does.


class _Side(enum.Enum):
    BUY = "BUY"
    SELL = "SELL"


class _Level(msgspec.Struct, frozen=True):
    price: str
    size: str


class _Snapshot(msgspec.Struct, tag="book", tag_field="event_type", frozen=True):
    market: str
    asset_id: str
    bids: list[_Level]
    asks: list[_Level]
    timestamp: str


class _Quote(msgspec.Struct, frozen=True):
    asset_id: str
    price: str
    side: _Side
    size: str
    hash: str
    best_bid: str
    best_ask: str


class _Quotes(msgspec.Struct, tag="price_change", tag_field="event_type", frozen=True):
    market: str
    price_changes: list[_Quote]
    timestamp: str


class _Trade(msgspec.Struct, tag="last_trade_price", tag_field="event_type", frozen=True):
    market: str
    asset_id: str
    fee_rate_bps: str
    price: str
    side: _Side
    size: str
    timestamp: str


class _TickSize(msgspec.Struct, tag="tick_size_change", tag_field="event_type", frozen=True):
    market: str
    asset_id: str
    new_tick_size: str
    old_tick_size: str
    timestamp: str


_SCOPE_DECODER = msgspec.json.Decoder(list[_Snapshot] | _Snapshot | _Quotes | _Trade | _TickSize)


class _ScopePeer:
    """NautilusTrader's components wired as a live node wires them, fed by the adapter path."""

    def __init__(self, condition_ids: Sequence[str], tokens: Sequence[str]) -> None:
        from nautilus_trader.backtest.data_client import BacktestMarketDataClient
        from nautilus_trader.cache.cache import Cache
        from nautilus_trader.common.actor import Actor
        from nautilus_trader.common.component import LiveClock, MessageBus
        from nautilus_trader.core.datetime import millis_to_nanos
        from nautilus_trader.data.config import DataEngineConfig
        from nautilus_trader.data.engine import DataEngine
        from nautilus_trader.model.book import OrderBook
        from nautilus_trader.model.data import (
            BookOrder,
            OrderBookDelta,
            OrderBookDeltas,
            TradeTick,
        )
        from nautilus_trader.model.enums import (
            AggressorSide,
            BookAction,
            BookType,
            OrderSide,
            RecordFlag,
        )
        from nautilus_trader.model.identifiers import ClientId, InstrumentId, TradeId, TraderId
        from nautilus_trader.portfolio.portfolio import Portfolio

        self.clock = clock = LiveClock()
        self.msgbus = msgbus = MessageBus(trader_id=TraderId("BENCH-001"), clock=clock)
        self.cache = cache = Cache()
        portfolio = Portfolio(msgbus=msgbus, cache=cache, clock=clock)
        self.engine = DataEngine(msgbus=msgbus, cache=cache, clock=clock, config=DataEngineConfig())
        client = BacktestMarketDataClient(
            client_id=ClientId(_VENUE), msgbus=msgbus, cache=cache, clock=clock
        )
        self.engine.register_client(client)
        self.iids = [
            InstrumentId.from_str(f"{condition_ids[i // 2]}-{tok}.{_VENUE}")
            for i, tok in enumerate(tokens)
        ]
        for iid in self.iids:
            self.engine.process(self.instrument(iid, 2))
        other = {iid: self.iids[i ^ 1] for i, iid in enumerate(self.iids)}

        class PairActor(Actor):  # type: ignore[misc]
            """The user's strategy side: a pair check on every book update."""

            def __init__(self) -> None:
                super().__init__()
                self.signals = 0

            def on_order_book_deltas(self, deltas: Any) -> None:
                iid = deltas.instrument_id
                a1 = self.cache.order_book(iid).best_ask_price()
                a2 = self.cache.order_book(other[iid]).best_ask_price()
                if a1 is not None and a2 is not None and a1.as_double() + a2.as_double() < 0.98:
                    self.signals += 1

        self.actor = PairActor()
        self.actor.register_base(portfolio, msgbus, cache, clock)
        self.engine.start()
        client.start()
        self.actor.start()
        self.local_books: dict[Any, Any] = {}
        for iid in self.iids:
            self.actor.subscribe_order_book_deltas(iid, BookType.L2_MBP)  # managed: in the Cache
            self.local_books[iid] = OrderBook(iid, book_type=BookType.L2_MBP)  # the adapter's
        self.book_cls, self.l2 = OrderBook, BookType.L2_MBP
        self.order, self.delta, self.deltas = BookOrder, OrderBookDelta, OrderBookDeltas
        self.trade_tick, self.trade_id = TradeTick, TradeId
        self.buyer, self.seller = AggressorSide.BUYER, AggressorSide.SELLER
        self.add, self.update, self.delete = BookAction.ADD, BookAction.UPDATE, BookAction.DELETE
        self.buy, self.sell = OrderSide.BUY, OrderSide.SELL
        self.f_last = RecordFlag.F_LAST
        self.iid_from = InstrumentId.from_str
        self.ms_to_ns = millis_to_nanos
        self.sync_mismatches = 0

    @staticmethod
    def instrument(iid: Any, precision: int) -> Any:
        """A Polymarket outcome token as NautilusTrader models it (a ``BinaryOption``)."""
        from decimal import Decimal

        from nautilus_trader.model.currencies import USDC_POS
        from nautilus_trader.model.enums import AssetClass
        from nautilus_trader.model.identifiers import Symbol
        from nautilus_trader.model.instruments import BinaryOption
        from nautilus_trader.model.objects import Price, Quantity

        return BinaryOption(
            instrument_id=iid,
            raw_symbol=Symbol(iid.symbol.value.split("-", 1)[1]),
            asset_class=AssetClass.ALTERNATIVE,
            currency=USDC_POS,
            price_precision=precision,
            price_increment=Price(10.0**-precision, precision),
            size_precision=2,
            size_increment=Quantity.from_str("0.01"),
            activation_ns=0,
            expiration_ns=0,
            ts_event=0,
            ts_init=0,
            maker_fee=Decimal(0),
            taker_fee=Decimal(0),
            outcome="Yes",
            description=str(iid),
        )

    @property
    def signals(self) -> int:
        return int(self.actor.signals)

    def _send(self, data: Any) -> None:
        self.msgbus.send("DataEngine.process", data)  # the data client's _handle_data

    @staticmethod
    def _agrees(book: Any, q: _Quote) -> bool:
        # ``Price.as_double()`` is the raw fixed-point integer over its scale, correctly
        # rounded: exactly ``float()`` of the same decimal text, so doubles compare exactly
        # (cheaper than building a ``Price`` from each hint).
        bid, ask = book.best_bid_price(), book.best_ask_price()
        return (bid.as_double() if bid is not None else 0.0) == float(q.best_bid) and (
            ask.as_double() if ask is not None else 1.0
        ) == float(q.best_ask)

    def handle(self, frame: bytes) -> None:
        """One frame: the adapter's handling, the top check, then the data engine and actor."""
        msg = _SCOPE_DECODER.decode(frame)
        cls = type(msg)
        if cls is _Quotes:
            ts_event = self.ms_to_ns(float(msg.timestamp))
            for q in msg.price_changes:
                iid = self.iid_from(f"{msg.market}-{q.asset_id}.{_VENUE}")
                instrument = self.cache.instrument(iid)
                order = self.order(
                    self.buy if q.side is _Side.BUY else self.sell,
                    instrument.make_price(float(q.price)),
                    instrument.make_qty(float(q.size)),
                    0,
                )
                delta = self.delta(
                    iid,
                    self.update if order.size > 0 else self.delete,
                    order,
                    self.f_last,
                    0,
                    ts_event,
                    self.clock.timestamp_ns(),
                )
                deltas = self.deltas(iid, [delta])
                local = self.local_books[iid]
                local.apply(deltas)
                if not self._agrees(local, q):
                    self.sync_mismatches += 1
                self._send(deltas)
        elif cls is _Snapshot:
            self._snapshot(msg)
        elif cls is _Trade:
            iid = self.iid_from(f"{msg.market}-{msg.asset_id}.{_VENUE}")
            instrument = self.cache.instrument(iid)
            self._send(
                self.trade_tick(
                    iid,
                    instrument.make_price(float(msg.price)),
                    instrument.make_qty(float(msg.size)),
                    self.buyer if msg.side is _Side.BUY else self.seller,
                    self.trade_id(str(uuid.uuid4())),
                    self.ms_to_ns(float(msg.timestamp)),
                    self.clock.timestamp_ns(),
                )
            )
        elif cls is _TickSize:
            # A new instrument with the new precision (the adapter's ``update_instrument``);
            # the book is rebuilt by the snapshot the venue sends next.
            iid = self.iid_from(f"{msg.market}-{msg.asset_id}.{_VENUE}")
            instrument = self.instrument(iid, len(msg.new_tick_size.partition(".")[2]))
            self.cache.add_instrument(instrument)
            self._send(instrument)
        else:  # a list of snapshots
            for snap in msg:
                self._snapshot(snap)

    def _snapshot(self, msg: _Snapshot) -> None:
        iid = self.iid_from(f"{msg.market}-{msg.asset_id}.{_VENUE}")
        instrument = self.cache.instrument(iid)
        nb, na = len(msg.bids), len(msg.asks)
        if nb == 0 and na == 0:
            return  # the adapter skips an empty snapshot (near resolution)
        ts_event, ts_init = self.ms_to_ns(float(msg.timestamp)), self.clock.timestamp_ns()
        out = [self.delta.clear(iid, 0, ts_event, ts_init)]
        for side, levels, last_side in ((self.buy, msg.bids, na == 0), (self.sell, msg.asks, True)):
            for k, lv in enumerate(levels):
                flags = self.f_last if last_side and k == len(levels) - 1 else 0
                order = self.order(
                    side,
                    instrument.make_price(float(lv.price)),
                    instrument.make_qty(float(lv.size)),
                    0,
                )
                out.append(self.delta(iid, self.add, order, flags, 0, ts_event, ts_init))
        deltas = self.deltas(iid, out)
        book = self.book_cls(iid, book_type=self.l2)
        book.apply_deltas(deltas)
        self.local_books[iid] = book
        self._send(deltas)

    def tops(self) -> list[tuple[int, int]]:
        return [_top(self.cache.order_book(iid)) for iid in self.iids]


# -- timing -----------------------------------------------------------------------------------


def _timed(handle: Callable[[bytes], object], frames: Sequence[bytes]) -> float:
    t0 = time.perf_counter()
    for frame in frames:
        handle(frame)
    return time.perf_counter() - t0


def run_peer(stream: Stream, repeats: int, *, warm: int = 0) -> dict[str, Any]:
    """Time both peers and the decode floor ``repeats`` times each (alternating).

    The first ``warm`` frames (the initial dump) are applied untimed; times are per frame of
    the rest.
    """
    meta = stream.meta
    frames = stream.frames
    dump, body = frames[:warm], frames[warm:]
    n = max(1, len(body))
    peer_ns: list[float] = []
    scope_ns: list[float] = []
    floor_ns: list[float] = []
    whole = len(frames) == sum(meta.counts.values())  # the whole stream: ground truth applies
    want = [tuple(t) for t in meta.final_tops]
    mismatches = {"bare": -1, "scope": -1}
    signals = {"bare": 0, "scope": 0}
    sync = 0
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        decode_floor(body)
        floor_ns.append((time.perf_counter() - t0) / n * 1e9)
        for name, make, out in (
            ("bare", _Peer, peer_ns),
            ("scope", _ScopePeer, scope_ns),
        ):
            peer: Any = make(meta.condition_ids, meta.tokens)
            for frame in dump:
                peer.handle(frame)
            gc.collect()
            out.append(_timed(peer.handle, body) / n * 1e9)
            signals[name] = peer.signals
            if whole:
                mismatches[name] = sum(1 for a, b in zip(peer.tops(), want, strict=True) if a != b)
            if name == "scope":
                sync = peer.sync_mismatches
    import nautilus_trader

    return {
        "nautilus_trader": nautilus_trader.__version__,
        "python": sys.version.split()[0],
        "msgspec": msgspec.__version__,
        "n": n,
        "peer_ns_per_msg": peer_ns,
        "scope_ns_per_msg": scope_ns,
        "floor_ns_per_msg": floor_ns,
        "top_mismatches": mismatches["bare"],
        "scope_top_mismatches": mismatches["scope"],
        "scope_sync_mismatches": sync,
        "signals": signals["bare"],
        "scope_signals": signals["scope"],
        "scope": SCOPE,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line for a peer interpreter: print one JSON result."""
    ap = argparse.ArgumentParser(prog="python -m bench.nautilus_peer")
    ap.add_argument("--stream", required=True, type=Path)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N frames")
    ap.add_argument("--warm", type=int, default=0, help="apply the first N frames untimed")
    args = ap.parse_args(argv)
    if not available():
        print(json.dumps({"error": "nautilus_trader is not installed in this interpreter"}))
        return 2
    stream = load_stream(args.stream)
    if args.limit:
        stream = stream.head(args.limit)
    gc.collect()
    gc.freeze()
    print(json.dumps(run_peer(stream, args.repeats, warm=args.warm)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
