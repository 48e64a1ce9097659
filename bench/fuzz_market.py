"""``python -m bench.fuzz_market --frames N --seed S``: bad market frames never reach a book.

Seeded market-channel frames — valid ones interleaved with frames that are well-formed JSON
but wrong in meaning, of every class :mod:`polyloly.domain.book_rules` refuses, plus
malformed JSON and shape errors — are fed one by one through the node's own market-data
path: :meth:`MarketWsClient.handle_frame` (decode → parse → validate → the shared book set)
→ ``NodeKernel.publish`` → the node's :class:`~polyloly.node.core.Core` (the books the
strategies read, pair and temporal arbitrage, the execution engine's ledger and risk gate,
which keep the marks). No socket: the frames are handed to the client as its socket would.

After every frame it checks:

* a bad frame is **refused**: counted once, under a reason of its class, in
  ``MarketWsClient.refused`` (what ``polyloly_frames_refused_total{reason}`` exports);
  no market-data event of it is published; every followed book it names is out of sync;
* a resolution naming no token of its market changes **no mark** (the ledger's);
* no book a strategy can read (in sync) is **crossed** or holds a level that breaks the
  rules (the tokens the frame named after each frame, every book every 4,096 frames);
* a valid frame is never refused, and a valid snapshot always resyncs its book.

A bad frame that breaks any of its checks is *accepted-bad*. It prints one table (per
class: generated, refused, accepted-bad; refusals by reason; the invariants; frames/s) and
a last line ``accepted-bad: <n>``; the exit status is 1 if ``n > 0`` or an invariant
failed. ``make soak`` runs it (:mod:`bench.soak.fuzz`).

The frames are synthetic: 16 markets of two tokens, a fixed mid per market (the second
token mirrors the first, so the books never offer a pair arbitrage), up to eight levels a
side, ticks 0.01 and 0.001; about one frame in five is bad.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from bench.wiring import build_bot
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.bot.logging import configure_logging
from polyloly.domain.events import (
    BookSnapshot,
    Event,
    LastTrade,
    MarketResolved,
    PriceChanges,
    TickSizeChange,
)
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import ONE, to_decimal
from polyloly.domain.orderbook import OrderBook
from polyloly.execution.engine import ExecutionPorts
from polyloly.runtime.clock import LiveClock
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts

__all__ = ["BAD_CLASSES", "FuzzReport", "main", "run"]

C: Final = 10_000  # 0.01
MILLI: Final = 1_000  # 0.001
_DEPTH: Final = 8
_MARKETS: Final = 16
_BAD_SHARE: Final = 0.2
_SWEEP_EVERY: Final = 4_096
_DATA_EVENTS: Final = (BookSnapshot, PriceChanges, TickSizeChange, MarketResolved, LastTrade)

BAD_CLASSES: Final[dict[str, frozenset[str]]] = {
    # class -> the reasons a refusal of it may be counted under
    "crossed_snapshot": frozenset({"crossed_book"}),
    "snapshot_bad_size": frozenset({"bad_size", "bad_number"}),
    "snapshot_bad_price": frozenset({"bad_price", "bad_number", "too_precise"}),
    "snapshot_off_tick": frozenset({"off_tick"}),
    "change_bad_size": frozenset({"bad_size", "bad_number"}),
    "change_bad_price": frozenset({"bad_price", "bad_number"}),
    "change_off_tick": frozenset({"off_tick"}),
    "change_crosses_book": frozenset({"crossed_book"}),
    "foreign_resolution": frozenset({"foreign_token", "unknown_market"}),
    "illegal_tick": frozenset({"bad_tick", "bad_number", "too_precise", "tick_mismatch"}),
    "malformed": frozenset({"invalid_json", "schema", "unknown_event_type"}),
}
"""Every class of bad frame generated, and the reasons its refusal may be counted under."""

_BAD_SIZES: Final = ("0", "-3", "", "NaN", "abc", "-0.5", "1e999", "0.00")
_BAD_CHANGE_SIZES: Final = ("", "-1", "NaN", "abc", "inf", "-0.01", "1e999")
_BAD_PRICES: Final = ("0", "1", "1.5", "-0.2", "0.0000001", "1e999")
_BAD_CHANGE_PRICES: Final = ("0", "1", "1.01", "-0.5", "abc", "NaN")
_BAD_TICKS: Final = ("0.02", "0.5", "0", "abc", "0.00001", "1", "-0.01")
_MALFORMED: Final = (
    b'{"event_type":"book","market":"0x1","asset_id":',
    b"not json at all",
    b'{"event_type":"price_change","market":"0x1","price_changes":"oops"}',
    b'{"event_type":"mystery","market":"0x1"}',
    b'{"event_type":"book","asset_id":"1"}',
    b'{"event_type":"tick_size_change","market":"0x1","asset_id":"1","old_tick_size":5}',
    b"[1, 2",
)


def _price_text(price: int, cache: dict[int, str] = {}) -> str:  # noqa: B006 - a memo
    text = cache.get(price)
    if text is None:
        text = cache[price] = str(to_decimal(price))
    return text


@dataclass(slots=True)
class _Token:
    """The generator's model of one token's book (always valid)."""

    token: str
    market: str
    mid: int
    tick: int = C
    bids: dict[int, str] = field(default_factory=dict)
    asks: dict[int, str] = field(default_factory=dict)

    def bid_price(self, k: int) -> int:
        return self.mid - k * self.tick

    def ask_price(self, k: int) -> int:
        return self.mid + k * self.tick


@dataclass(slots=True)
class FuzzReport:
    """What one run found."""

    frames: int = 0
    seconds: float = 0.0
    generated: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)
    accepted_bad: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    invariants: dict[str, int] = field(default_factory=dict)

    @property
    def total_accepted_bad(self) -> int:
        """Bad frames that were not refused cleanly."""
        return sum(self.accepted_bad.values())

    @property
    def failed(self) -> bool:
        """Whether any bad frame was accepted or any invariant broke."""
        return self.total_accepted_bad > 0 or any(self.invariants.values())


class _Fuzzer:
    """Generates frames from its model and checks the node after each one."""

    def __init__(self, seed: int, markets: int = _MARKETS) -> None:
        self.rng = random.Random(seed)
        rng = self.rng
        self.tokens: list[_Token] = []
        self.by_market: dict[str, tuple[str, str]] = {}
        mappings: list[MarketMapping] = []
        for m in range(markets):
            market = f"0x{rng.getrandbits(256):064x}"
            mid = rng.randrange(25, 76) * C
            a, b = (str(rng.getrandbits(250)) for _ in range(2))
            self.tokens.append(_Token(a, market, mid))
            self.tokens.append(_Token(b, market, ONE - mid))
            self.by_market[market] = (a, b)
            mappings.append(
                MarketMapping(
                    match_id=f"fuzz-{m}",
                    market_id=market,
                    question=f"LoL: alpha {m} vs beta {m} (BO3)",
                    kind=MarketKind.MATCH,
                    team_a=f"alpha {m}",
                    team_b=f"beta {m}",
                    token_a=a,
                    token_b=b,
                    tick=C,
                )
            )
        for tok in self.tokens:
            self._fill(tok)
        venue = FakeVenue(self.by_market)
        ports = ExecutionPorts(
            signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
        )
        self.bot = build_bot(mappings, LiveClock(), ports=ports, market_ws_url=None)
        self.published: list[type[Event]] = []
        publish = self.bot.kernel.publish
        seen = self.published.append

        def tap(event: Event) -> None:
            seen(type(event))
            publish(event)

        # The node's client shares the core's book set (see bot/app.py).
        self.client = MarketWsClient(
            "ws://127.0.0.1:9/ws/market", tap, self.bot.clock, books=self.bot.core.books
        )
        asyncio.run(self.client.subscribe([t.token for t in self.tokens]))
        self.stale: set[int] = set()  # model tokens whose next frame should be a snapshot
        self.ts_ms = 1_700_000_000_000
        self.report = FuzzReport()
        self.report.invariants = dict.fromkeys(
            (
                "crossed books readable",
                "books breaking the rules readable",
                "marks set by foreign resolutions",
                "bad frames uncounted",
                "bad frames published",
                "bad frames leaving a book in sync",
                "valid frames refused",
                "snapshots that did not resync",
                "handler errors",
            ),
            0,
        )
        self._bad: list[tuple[str, Callable[[], tuple[bytes, Sequence[str]]]]] = [
            ("crossed_snapshot", self._crossed_snapshot),
            ("snapshot_bad_size", self._snapshot_bad_size),
            ("snapshot_bad_price", self._snapshot_bad_price),
            ("snapshot_off_tick", self._snapshot_off_tick),
            ("change_bad_size", self._change_bad_size),
            ("change_bad_price", self._change_bad_price),
            ("change_off_tick", self._change_off_tick),
            ("change_crosses_book", self._change_crosses_book),
            ("foreign_resolution", self._foreign_resolution),
            ("illegal_tick", self._illegal_tick),
            ("malformed", self._malformed),
        ]

    # -- the model --------------------------------------------------------------------------

    def _size(self) -> str:
        r = self.rng.randrange(1, 100_000)
        return f"{r // 100}.{r % 100:02d}"

    def _fill(self, tok: _Token) -> None:
        rng = self.rng
        tok.bids = {
            tok.bid_price(k): self._size() for k in range(1, _DEPTH + 1) if rng.random() < 0.7
        }
        tok.asks = {tok.ask_price(k): self._size() for k in range(_DEPTH) if rng.random() < 0.7}

    def _ts(self) -> int:
        self.ts_ms += 1
        return self.ts_ms

    def _book_frame(
        self,
        tok: _Token,
        bids: dict[int, str] | dict[str, str],
        asks: dict[int, str] | dict[str, str],
        tick: str | None = None,
    ) -> bytes:
        def side(levels: dict[int, str] | dict[str, str]) -> str:
            return ",".join(
                f'{{"price":"{p if isinstance(p, str) else _price_text(p)}","size":"{s}"}}'
                for p, s in levels.items()
            )

        tick_text = _price_text(tok.tick) if tick is None else tick
        return (
            f'{{"event_type":"book","market":"{tok.market}","asset_id":"{tok.token}",'
            f'"timestamp":"{self._ts()}","hash":"0x0","bids":[{side(bids)}],'
            f'"asks":[{side(asks)}],"tick_size":"{tick_text}"}}'
        ).encode()

    def _change_frame(self, tok: _Token, entries: Sequence[tuple[str, str, str, str]]) -> bytes:
        body = ",".join(
            f'{{"asset_id":"{t}","price":"{p}","size":"{s}","side":"{side}"}}'
            for t, p, s, side in entries
        )
        return (
            f'{{"event_type":"price_change","market":"{tok.market}",'
            f'"timestamp":"{self._ts()}","price_changes":[{body}]}}'
        ).encode()

    def _pick(self) -> int:
        return self.rng.randrange(len(self.tokens))

    def _pick_in_sync(self) -> int | None:
        get = self.client.books.get
        for _ in range(8):
            i = self._pick()
            book = get(self.tokens[i].token)
            if book is not None and book.in_sync:
                return i
        return None

    # -- valid frames -----------------------------------------------------------------------

    def _valid(self) -> tuple[str, bytes, Sequence[str]]:
        rng = self.rng
        if self.stale and rng.random() < 0.5:
            return self._snapshot(self.stale.pop())
        r = rng.random()
        if r < 0.05:
            return self._snapshot(self._pick())
        if r < 0.85:
            return self._valid_change()
        if r < 0.98:
            return self._valid_tick_change() if r >= 0.96 else self._valid_other(r)
        return self._valid_rare(rng.random())

    def _valid_other(self, r: float) -> tuple[str, bytes, Sequence[str]]:
        tok = self.tokens[self._pick()]
        if r < 0.93:
            price = self.rng.choice(list(tok.asks) or [tok.mid])
            frame = (
                f'{{"event_type":"last_trade_price","market":"{tok.market}",'
                f'"asset_id":"{tok.token}","price":"{_price_text(price)}",'
                f'"size":"{self._size()}","side":"BUY","timestamp":"{self._ts()}"}}'
            )
            return "last_trade_price", frame.encode(), ()
        frame = (
            f'{{"event_type":"best_bid_ask","market":"{tok.market}",'
            f'"asset_id":"{tok.token}","best_bid":"0.4","best_ask":"0.6",'
            f'"timestamp":"{self._ts()}"}}'
        )
        return "best_bid_ask", frame.encode(), ()

    def _valid_rare(self, r: float) -> tuple[str, bytes, Sequence[str]]:
        if r < 0.975:
            frame = (
                f'{{"event_type":"new_market","market":"0x{self.rng.getrandbits(64):x}",'
                f'"question":"q","assets_ids":["1","2"],"timestamp":"{self._ts()}"}}'
            )
            return "new_market", frame.encode(), ()
        tok = self.tokens[self._pick()]  # a market resolves (rarely: 1 frame in 2,000)
        frame = (
            f'{{"event_type":"market_resolved","market":"{tok.market}",'
            f'"winning_asset_id":"{tok.token}","assets_ids":[],"timestamp":"{self._ts()}"}}'
        )
        return "market_resolved", frame.encode(), ()

    def _snapshot(self, i: int) -> tuple[str, bytes, Sequence[str]]:
        tok = self.tokens[i]
        self._fill(tok)
        self.stale.discard(i)
        return "book", self._book_frame(tok, tok.bids, tok.asks), (tok.token,)

    def _valid_change(self) -> tuple[str, bytes, Sequence[str]]:
        rng = self.rng
        i = self._pick()
        tok = self.tokens[i]
        entries = [self._one_change(tok)]
        if rng.random() < 0.3:  # the mirrored token of the same market, in the same frame
            j = i + 1 if i % 2 == 0 else i - 1
            entries.append(self._one_change(self.tokens[j]))
        return "price_change", self._change_frame(tok, entries), tuple({e[0] for e in entries})

    def _one_change(self, tok: _Token) -> tuple[str, str, str, str]:
        rng = self.rng
        k = rng.randrange(_DEPTH)
        size = "0" if rng.random() < 0.2 else self._size()
        if rng.random() < 0.5:
            price = tok.bid_price(k + 1)
            side, levels = "BUY", tok.bids
        else:
            price = tok.ask_price(k)
            side, levels = "SELL", tok.asks
        if size == "0":
            levels.pop(price, None)
        else:
            levels[price] = size
        return tok.token, _price_text(price), size, side

    def _valid_tick_change(self) -> tuple[str, bytes, Sequence[str]]:
        i = self._pick()
        tok = self.tokens[i]
        old = tok.tick
        tok.tick = MILLI if old == C else C
        self._fill(tok)
        self.stale.add(i)
        frame = (
            f'{{"event_type":"tick_size_change","market":"{tok.market}",'
            f'"asset_id":"{tok.token}","old_tick_size":"{_price_text(old)}",'
            f'"new_tick_size":"{_price_text(tok.tick)}","timestamp":"{self._ts()}"}}'
        ).encode()
        return "tick_size_change", frame, (tok.token,)

    # -- bad frames -------------------------------------------------------------------------

    def _bad_snapshot(
        self, mutate: Callable[[_Token, dict[str, str], dict[str, str]], None]
    ) -> tuple[bytes, Sequence[str]]:
        i = self._pick()
        tok = self.tokens[i]
        self.stale.add(i)
        bids = {_price_text(p): s for p, s in tok.bids.items()}
        asks = {_price_text(p): s for p, s in tok.asks.items()}
        mutate(tok, bids, asks)
        return self._book_frame(tok, bids, asks), (tok.token,)

    def _crossed_snapshot(self) -> tuple[bytes, Sequence[str]]:
        def cross(tok: _Token, bids: dict[str, str], asks: dict[str, str]) -> None:
            k = self.rng.randrange(_DEPTH)
            asks.setdefault(_price_text(tok.ask_price(k)), self._size())
            bids[_price_text(tok.ask_price(k + self.rng.randrange(3)))] = self._size()

        return self._bad_snapshot(cross)

    def _snapshot_bad_size(self) -> tuple[bytes, Sequence[str]]:
        def bad(tok: _Token, bids: dict[str, str], asks: dict[str, str]) -> None:
            side = bids if self.rng.random() < 0.5 else asks
            price = tok.bid_price(1) if side is bids else tok.ask_price(0)
            side[_price_text(price)] = self.rng.choice(_BAD_SIZES)

        return self._bad_snapshot(bad)

    def _snapshot_bad_price(self) -> tuple[bytes, Sequence[str]]:
        def bad(_tok: _Token, bids: dict[str, str], asks: dict[str, str]) -> None:
            side = bids if self.rng.random() < 0.5 else asks
            side[self.rng.choice(_BAD_PRICES)] = self._size()

        return self._bad_snapshot(bad)

    def _snapshot_off_tick(self) -> tuple[bytes, Sequence[str]]:
        def bad(tok: _Token, bids: dict[str, str], asks: dict[str, str]) -> None:
            half = tok.tick // 2
            if self.rng.random() < 0.5:
                bids[_price_text(tok.bid_price(2) + half)] = self._size()
            else:
                asks[_price_text(tok.ask_price(2) + half)] = self._size()

        return self._bad_snapshot(bad)

    def _bad_change(
        self, price_of: Callable[[_Token], str] | None, size: str | None
    ) -> tuple[bytes, Sequence[str]] | None:
        i = self._pick_in_sync()
        if i is None:
            return None
        tok = self.tokens[i]
        self.stale.add(i)
        good = self._one_change(tok)  # the model keeps its own (valid) view of the level
        price = good[1] if price_of is None else price_of(tok)
        entries = [(tok.token, price, good[2] if size is None else size, good[3])]
        if self.rng.random() < 0.3:  # a good change of the mirrored token in the same frame
            j = i + 1 if i % 2 == 0 else i - 1
            entries.insert(self.rng.randrange(2), self._one_change(self.tokens[j]))
            self.stale.add(j)
        return self._change_frame(tok, entries), tuple({e[0] for e in entries})

    def _change_bad_size(self) -> tuple[bytes, Sequence[str]] | None:
        return self._bad_change(None, self.rng.choice(_BAD_CHANGE_SIZES))

    def _change_bad_price(self) -> tuple[bytes, Sequence[str]] | None:
        bad = self.rng.choice(_BAD_CHANGE_PRICES)
        return self._bad_change(lambda _tok: bad, None)

    def _change_off_tick(self) -> tuple[bytes, Sequence[str]] | None:
        shift = self.rng.randrange(-5, 5)

        def off_tick(tok: _Token) -> str:
            return _price_text(tok.mid + shift * tok.tick + tok.tick // 2)

        return self._bad_change(off_tick, self._size())

    def _change_crosses_book(self) -> tuple[bytes, Sequence[str]] | None:
        i = self._pick_in_sync()
        if i is None:
            return None
        book = self.client.books.book(self.tokens[i].token)
        ask, bid = book.best_ask_price, book.best_bid_price
        tok = self.tokens[i]
        self.stale.add(i)
        if ask is not None and (bid is None or self.rng.random() < 0.5):
            entry = (tok.token, _price_text(ask + tok.tick * self.rng.randrange(2)), "5", "BUY")
        elif bid is not None:
            entry = (tok.token, _price_text(bid - tok.tick * self.rng.randrange(2)), "5", "SELL")
        else:
            return None
        return self._change_frame(tok, [entry]), (tok.token,)

    def _foreign_resolution(self) -> tuple[bytes, Sequence[str]]:
        tok = self.tokens[self._pick()]
        rng = self.rng
        r = rng.random()
        if r < 0.6:  # a token of another market
            others = [t for t in self.tokens if t.market != tok.market]
            winner = rng.choice(others).token
            market = tok.market
        elif r < 0.9:  # a token nobody knows
            winner, market = str(rng.getrandbits(250)), tok.market
        else:  # a market nobody follows
            winner, market = tok.token, f"0x{rng.getrandbits(256):064x}"
        frame = (
            f'{{"event_type":"market_resolved","market":"{market}",'
            f'"winning_asset_id":"{winner}","assets_ids":["{winner}"],'
            f'"timestamp":"{self._ts()}"}}'
        ).encode()
        return frame, ()

    def _illegal_tick(self) -> tuple[bytes, Sequence[str]]:
        i = self._pick()
        tok = self.tokens[i]
        self.stale.add(i)
        old, new = _price_text(tok.tick), self.rng.choice(_BAD_TICKS)
        if self.rng.random() < 0.3:  # legal ticks, but the old one is not the book's
            old = _price_text(MILLI if tok.tick == C else C)
            new = "0.0001"
        frame = (
            f'{{"event_type":"tick_size_change","market":"{tok.market}",'
            f'"asset_id":"{tok.token}","old_tick_size":"{old}","new_tick_size":"{new}",'
            f'"timestamp":"{self._ts()}"}}'
        ).encode()
        return frame, (tok.token,)

    def _malformed(self) -> tuple[bytes, Sequence[str]]:
        return self.rng.choice(_MALFORMED), ()

    # -- the run ----------------------------------------------------------------------------

    def run(self, frames: int) -> FuzzReport:
        rep = self.report
        inv = rep.invariants
        client = self.client
        books = client.books
        refused = client.refused
        handle = client.handle_frame
        published = self.published
        rng = self.rng
        clock = LiveClock()
        t0 = clock.monotonic_ns()
        n = 0
        for i in range(len(self.tokens)):  # every book starts from a snapshot
            _, frame, _ = self._snapshot(i)
            handle(frame)
            n += 1
        while n < frames:
            n += 1
            cls = ""
            make: Callable[[], tuple[bytes, Sequence[str]] | None] | None = None
            if rng.random() < _BAD_SHARE:
                cls, make = self._bad[rng.randrange(len(self._bad))]
                made = make()
                if made is None:
                    cls = ""
            if not cls:
                kind, frame, named = self._valid()
                before = refused.total()
                handle(frame)
                if refused.total() != before:
                    inv["valid frames refused"] += 1
                if kind == "book" and not books.book(named[0]).in_sync:
                    inv["snapshots that did not resync"] += 1
            else:
                assert made is not None
                frame, named = made
                self._bad_frame(cls, frame, named)
            for token in named:
                self._check_book(books.book(token))
            if n % _SWEEP_EVERY == 0:
                for tok in self.tokens:
                    self._check_book(books.book(tok.token))
        for tok in self.tokens:
            self._check_book(books.book(tok.token))
        rep.frames = n
        rep.seconds = (clock.monotonic_ns() - t0) / 1e9
        rep.reasons = dict(refused)
        inv["handler errors"] = self.bot.kernel.handler_errors + client.malformed["internal_error"]
        del published[:]
        return rep

    def _bad_frame(self, cls: str, frame: bytes, named: Sequence[str]) -> None:
        rep = self.report
        inv = rep.invariants
        client = self.client
        refused = client.refused
        allowed = BAD_CLASSES[cls]
        rep.generated[cls] = rep.generated.get(cls, 0) + 1
        counted_before = sum(refused[r] for r in allowed)
        total_before = refused.total()
        published = self.published
        del published[:]
        watched: dict[str, int | None] = {}
        if cls == "foreign_resolution":
            state_marks = self.bot.engine.state.marks
            watched = {t.token: state_marks.get(t.token) for t in self.tokens}
        client.handle_frame(frame)
        ok = True
        if (
            refused.total() - total_before != 1
            or sum(refused[r] for r in allowed) - counted_before != 1
        ):
            inv["bad frames uncounted"] += 1
            ok = False
        if any(t in _DATA_EVENTS for t in published):
            inv["bad frames published"] += 1
            ok = False
        books = client.books
        for token in named:
            if books.book(token).in_sync:
                inv["bad frames leaving a book in sync"] += 1
                ok = False
        if watched:
            state_marks = self.bot.engine.state.marks
            if any(state_marks.get(t) != v for t, v in watched.items()):
                inv["marks set by foreign resolutions"] += 1
                ok = False
        if ok:
            rep.refused[cls] = rep.refused.get(cls, 0) + 1
        else:
            rep.accepted_bad[cls] = rep.accepted_bad.get(cls, 0) + 1

    def _check_book(self, book: OrderBook) -> None:
        if not book.in_sync:
            return
        inv = self.report.invariants
        if book.crossed:
            inv["crossed books readable"] += 1
        tick = book.tick
        for price, size in book.bids() + book.asks():
            if size <= 0 or not 0 < price < ONE or (tick is not None and price % tick):
                inv["books breaking the rules readable"] += 1
                return


def run(frames: int, seed: int) -> FuzzReport:
    """Fuzz ``frames`` frames with ``seed``; the report says what was accepted."""
    return _Fuzzer(seed).run(frames)


def render(rep: FuzzReport, seed: int) -> str:
    """The one table a run prints (ends with the ``accepted-bad: <n>`` line)."""
    rate = rep.frames / rep.seconds if rep.seconds else 0.0
    bad_total = sum(rep.generated.values())
    lines = [
        f"fuzz_market: {rep.frames:,} frames (seed {seed}), {bad_total:,} bad, "
        f"{rep.seconds:.1f} s, {rate:,.0f} frames/s",
        "",
        "| class | generated | refused | accepted-bad |",
        "|---|---:|---:|---:|",
    ]
    lines.extend(
        f"| {cls} | {rep.generated.get(cls, 0):,} | {rep.refused.get(cls, 0):,} | "
        f"{rep.accepted_bad.get(cls, 0):,} |"
        for cls in BAD_CLASSES
    )
    lines.append(
        f"| **all bad frames** | {bad_total:,} | {sum(rep.refused.values()):,} | "
        f"{rep.total_accepted_bad:,} |"
    )
    lines.append("")
    reasons = " · ".join(f"{r} {v:,}" for r, v in sorted(rep.reasons.items()))
    lines.append(f"refused by reason (polyloly_frames_refused_total): {reasons}")
    lines.append("invariants: " + " · ".join(f"{k} {v:,}" for k, v in rep.invariants.items()))
    lines.append(f"accepted-bad: {rep.total_accepted_bad}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the fuzzer; exit 1 on any accepted-bad frame or broken invariant."""
    ap = argparse.ArgumentParser(
        prog="python -m bench.fuzz_market", description=__doc__.splitlines()[0]
    )
    ap.add_argument("--frames", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if args.frames < 1:
        ap.error("--frames must be at least 1")
    configure_logging(level="ERROR", fmt="console")  # each refusal logs a warning: not here
    rep = run(args.frames, args.seed)
    print(render(rep, args.seed))
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
