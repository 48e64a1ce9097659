"""Seeded generator of realistic Polymarket market-channel streams for N binary markets.

The stream is what the market WebSocket sends for the two outcome tokens (YES/NO) of each
market, byte for byte in the venue's shapes (``docs/reference/polymarket.md`` §2):

* ``book`` snapshots with both sides listed **worst → best** (best last), first one per
  token (the subscription's initial dump), then at random;
* ``price_change`` frames in the ``price_changes`` array format: a level set on one token is
  mirrored on the other (a YES bid at ``p`` is a NO ask at ``1 − p``), usually both changes
  in one frame, sometimes split over two consecutive frames; each change carries the token's
  ``best_bid``/``best_ask`` after it; size ``"0"`` removes a level;
* ``last_trade_price`` prints at the top of the book, each followed by the ``price_change``
  that shrinks or removes the level it took;
* ``tick_size_change`` (0.01 ↔ 0.001, both tokens) followed by fresh snapshots on the new grid;
  most fine-tick markets go back to 0.01 later, so the stream stays stationary for hours.

``decided_markets`` of the markets (the 2nd, 4th, 6th… most active) are *decided*: their match
is over and the YES token trades near 1 — its best ask starts at 0.98–0.99 and never goes
below :data:`DECIDED_ASK_FLOOR` (0.96), above temporal arbitrage's default entry cap (0.95).
A benchmark that tells the node team a (YES) won such a market keeps temporal arbitrage's
signal armed for the whole stream: every book change of the token re-plans the entry and
finds the ask over the cap, as a live node does after the market has priced the result in.
With ``decided_markets=0`` (the default) the frames are those of generator v2, byte for byte.

Levels per side hover around a per-market target (20–50), changes are top-heavy (most hit the
best few levels), market activity is Zipf-like, sizes are log-normal. The generator keeps each
market's YES book (prices in integer micros, sizes as the wire strings), so the stream is
always consistent: books never cross, every hint matches, and :attr:`StreamMeta.final_tops`
is the top of every book at the end (for cross-checks).

Only the standard library and msgspec are imported: a peer interpreter (NautilusTrader's
venv) reads the same stream files.
"""

from __future__ import annotations

import array
import bisect
import hashlib
import json
import os
import random
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec

__all__ = [
    "DECIDED_ASK_FLOOR",
    "KIND_BOOK",
    "KIND_NAMES",
    "KIND_PRICE_CHANGE",
    "KIND_TICK",
    "KIND_TRADE",
    "LiveStream",
    "Stream",
    "StreamMeta",
    "StreamSpec",
    "cached_stream",
    "generate",
    "load_stream",
    "price_text",
    "save_stream",
]

ONE: Final = 1_000_000
KIND_BOOK: Final = 0
KIND_PRICE_CHANGE: Final = 1
KIND_TRADE: Final = 2
KIND_TICK: Final = 3
KIND_NAMES: Final = ("book", "price_change", "last_trade_price", "tick_size_change")
_COARSE: Final = 10_000  # 0.01
_FINE: Final = 1_000  # 0.001
_START_MS: Final = 1_767_225_600_000  # 2026-01-01T00:00:00Z
_VERSION: Final = 3  # part of the cache key: bump when the generator's output changes
DECIDED_ASK_FLOOR: Final = 960_000
"""The lowest best ask of a decided market's YES token (price micros)."""


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """What to generate; message shares are of the whole stream (after the initial dump).

    ``split_share`` of the mirrored level updates are sent as two consecutive frames (one per
    token) instead of one frame with both changes. ``tick_changes_per_million`` frames start a
    tick change (each adds two ``tick_size_change`` and two ``book`` frames).
    ``decided_markets`` markets trade near 1 (see the module docstring).
    """

    markets: int = 100
    messages: int = 1_000_000
    seed: int = 7
    book_share: float = 0.02
    trade_share: float = 0.05
    split_share: float = 0.25
    tick_changes_per_million: int = 20
    min_levels: int = 20
    max_levels: int = 50
    decided_markets: int = 0

    def draw_weights(self) -> tuple[float, float, float]:
        """Per-draw probabilities (book, trade, level update) that give the target shares.

        A level-update draw yields ``1 + s`` frames on average (``s`` = ``split_share``), a
        trade draw ``2 + s`` (the print, then its level update), a book draw one. With ``F``
        frames per draw, ``b = B·F`` and ``t = T·F`` for the target shares ``B``, ``T``:
        ``F = (1 + s) / (1 − B − (2 + s)·T + (1 + s)·(B + T))``.
        """
        big_b, big_t, s = self.book_share, self.trade_share, self.split_share
        if not (big_b >= 0.0 and big_t >= 0.0 and big_b + big_t < 1.0 and 0.0 <= s <= 1.0):
            raise ValueError("book_share + trade_share must leave room for price changes")
        frames = (1.0 + s) / (1.0 - big_b - (2.0 + s) * big_t + (1.0 + s) * (big_b + big_t))
        b, t = big_b * frames, big_t * frames
        return b, t, 1.0 - b - t


@dataclass(slots=True)
class StreamMeta:
    """Ids and ground truth of a generated stream.

    ``tokens[2m]`` is market ``m``'s YES token, ``tokens[2m + 1]`` its NO token;
    ``final_tops[i]`` is token ``i``'s ``(best_bid, best_ask)`` in micros at the end
    (0 / 1_000_000 when a side is empty); ``final_ticks[m]`` each market's tick.
    ``extra`` holds ``activity`` (market indices, most active first), ``decided`` (the decided
    markets) and ``initial`` (how many frames the subscription's initial dump has).
    """

    spec: dict[str, Any]
    condition_ids: list[str]
    tokens: list[str]
    counts: dict[str, int]
    price_change_entries: int
    snapshot_levels: int
    final_tops: list[tuple[int, int]]
    final_ticks: list[int]
    bytes_total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def markets(self) -> int:
        """Number of binary markets."""
        return len(self.condition_ids)

    @property
    def activity(self) -> list[int]:
        """Market indices, most active first."""
        return list(self.extra.get("activity", range(self.markets)))

    @property
    def decided(self) -> list[int]:
        """Markets whose YES token trades near 1 (never under :data:`DECIDED_ASK_FLOOR`)."""
        return list(self.extra.get("decided", []))

    @property
    def initial(self) -> int:
        """Frames of the initial dump (one snapshot per token) at the head of the stream."""
        return int(self.extra.get("initial", 2 * self.markets))


@dataclass(slots=True)
class Stream:
    """Frames (one JSON object each, as received), their kind and their market index."""

    frames: list[bytes]
    kinds: array.array[int]
    market_of: array.array[int]
    meta: StreamMeta

    def __len__(self) -> int:
        return len(self.frames)

    def head(self, n: int) -> Stream:
        """The first ``n`` frames (the metadata's ground truth then no longer applies)."""
        return Stream(self.frames[:n], self.kinds[:n], self.market_of[:n], self.meta)


def price_text(micros: int) -> str:
    """The venue's spelling of a price: ``"0.48"``, ``"0.5"``, ``"0.001"``, ``"0"``, ``"1"``."""
    if micros <= 0:
        return "0"
    if micros >= ONE:
        return "1"
    return "0." + f"{micros:06d}".rstrip("0")


class _Book:
    """The YES book of one market: price micros → size string (the NO book is its mirror)."""

    __slots__ = ("ask_floor", "asks", "bids", "target", "tick")

    def __init__(self, tick: int, target: int, ask_floor: int = 0) -> None:
        self.tick = tick
        self.target = target
        self.ask_floor = ask_floor  # the YES best ask never goes below it (decided markets)
        self.bids: dict[int, str] = {}
        self.asks: dict[int, str] = {}

    def best_bid(self) -> int:
        return max(self.bids) if self.bids else 0

    def best_ask(self) -> int:
        return min(self.asks) if self.asks else ONE

    def top(self, yes: bool) -> tuple[int, int]:
        """``(best_bid, best_ask)`` of the YES token, or of the NO token (mirrored)."""
        bb, ba = self.best_bid(), self.best_ask()
        return (bb, ba) if yes else (ONE - ba, ONE - bb)


class _Gen:
    """Generator state: books, ids, clock and the frame being written."""

    def __init__(self, spec: StreamSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        rng = self.rng
        self.enc = msgspec.json.Encoder()
        self.conds = ["0x" + f"{rng.getrandbits(256):064x}" for _ in range(spec.markets)]
        self.tokens: list[str] = []
        for _ in range(2 * spec.markets):
            self.tokens.append(str(rng.randrange(10**76, 10**77)))
        self.books = [self._new_book() for _ in range(spec.markets)]
        weights = [1.0 / (k + 1) ** 0.8 for k in range(spec.markets)]
        rng.shuffle(weights)
        self.cum: list[float] = []
        acc = 0.0
        for w in weights:
            acc += w
            self.cum.append(acc)
        self.activity = sorted(range(spec.markets), key=lambda m: (-weights[m], m))
        # Decided markets: the 2nd, 4th, … most active. Their books are drawn again, after
        # everything else, so that with none the random draws (and frames) are v2's.
        self.decided = sorted(self.activity[1::2][: max(0, spec.decided_markets)])
        for m in self.decided:
            self.books[m] = self._new_book(decided=True)
        self.ts_ms = _START_MS
        self.frames: list[bytes] = []
        self.kinds = array.array("B")
        self.market_of = array.array("I")
        self.counts = dict.fromkeys(KIND_NAMES, 0)
        self.entries = 0
        self.levels = 0
        self.pending: list[tuple[int, list[dict[str, str]]]] = []
        self.fine: set[int] = set()  # markets on the 0.001 tick
        self._weights = spec.draw_weights()

    # -- set-up ----------------------------------------------------------------------------

    def _size(self) -> str:
        rng = self.rng
        cents = max(100, int(rng.lognormvariate(5.3, 1.4) * 100))  # median ~200 shares
        whole, frac = divmod(cents, 100)
        r = rng.random()
        if r < 0.4:
            return str(whole)
        if r < 0.55:
            return f"{whole}.0"
        return f"{whole}.{frac:02d}".rstrip("0").rstrip(".")

    def _new_book(self, *, decided: bool = False) -> _Book:
        rng, spec = self.rng, self.spec
        floor = DECIDED_ASK_FLOOR if decided else 0
        book = _Book(_COARSE, rng.randint(spec.min_levels, spec.max_levels), floor)
        # a decided market: best ask 0.98-0.99, best bid 0.96-0.98
        mid = rng.randint(97, 98) if decided else min(95, max(5, int(rng.betavariate(2, 2) * 100)))
        spread = rng.choice((1, 1, 1, 2, 2, 3))
        bb = max(1, mid - spread // 2)
        ba = min(99, bb + spread)
        # Start at the equilibrium depth, with gaps, so the stream is stationary from its
        # first frame: above ``target`` the updates drift down only weakly, so a side
        # settles about five levels deeper than its target (where the prices allow).
        depth = book.target + 5
        span = int(depth / rng.uniform(0.6, 1.0)) + 1
        for best, ticks, side in (
            (bb, range(max(1, bb - span), bb), book.bids),
            (ba, range(ba + 1, min(100, ba + span)), book.asks),
        ):
            chosen = [best, *rng.sample(list(ticks), min(depth - 1, len(ticks)))]
            for t in sorted(chosen):
                side[t * _COARSE] = self._size()
        return book

    # -- output ----------------------------------------------------------------------------

    def _emit(self, kind: int, market: int, msg: dict[str, Any]) -> None:
        self.frames.append(self.enc.encode(msg))
        self.kinds.append(kind)
        self.market_of.append(market)
        self.counts[KIND_NAMES[kind]] += 1

    def _tick_clock(self) -> str:
        self.ts_ms += int(self.rng.expovariate(1 / 3.0))
        return str(self.ts_ms)

    def _hash(self) -> str:
        return f"{self.rng.getrandbits(160):040x}"

    def snapshot(self, market: int, yes: bool) -> None:
        book = self.books[market]
        if yes:
            bids = sorted(book.bids.items())
            asks = sorted(book.asks.items(), reverse=True)
        else:
            bids = sorted(((ONE - p, s) for p, s in book.asks.items()))
            asks = sorted(((ONE - p, s) for p, s in book.bids.items()), reverse=True)
        self.levels += len(bids) + len(asks)
        msg = {
            "event_type": "book",
            "asset_id": self.tokens[2 * market + (0 if yes else 1)],
            "market": self.conds[market],
            "bids": [{"price": price_text(p), "size": s} for p, s in bids],
            "asks": [{"price": price_text(p), "size": s} for p, s in asks],
            "timestamp": self._tick_clock(),
            "hash": "0x" + self._hash(),
        }
        self._emit(KIND_BOOK, market, msg)

    def _change(self, market: int, yes: bool, buy: bool, price: int, size: str) -> dict[str, str]:
        bb, ba = self.books[market].top(yes)
        return {
            "asset_id": self.tokens[2 * market + (0 if yes else 1)],
            "price": price_text(price),
            "size": size,
            "side": "BUY" if buy else "SELL",
            "hash": self._hash(),
            "best_bid": price_text(bb),
            "best_ask": price_text(ba),
        }

    def _price_change(self, market: int, changes: list[dict[str, str]]) -> None:
        self.entries += len(changes)
        msg = {
            "event_type": "price_change",
            "market": self.conds[market],
            "price_changes": changes,
            "timestamp": self._tick_clock(),
        }
        self._emit(KIND_PRICE_CHANGE, market, msg)

    def _set_yes(self, market: int, bid_side: bool, price: int, size: str) -> None:
        """Set a YES level and emit it with its NO mirror (one frame, or two in a row)."""
        book = self.books[market]
        side = book.bids if bid_side else book.asks
        if size == "0":
            side.pop(price, None)
        else:
            side[price] = size
        pair = [
            self._change(market, True, bid_side, price, size),
            self._change(market, False, not bid_side, ONE - price, size),
        ]
        if self.rng.random() < 0.5:
            pair.reverse()
        if self.rng.random() < self.spec.split_share:
            self._price_change(market, pair[:1])
            self.pending.append((market, pair[1:]))
        else:
            self._price_change(market, pair)

    # -- level updates ---------------------------------------------------------------------

    def _depth_pick(self, prices: list[int]) -> int:
        return prices[min(len(prices) - 1, int(self.rng.expovariate(0.45)))]

    def level_update(self, market: int) -> None:
        rng = self.rng
        book = self.books[market]
        bid_side = rng.random() < 0.5
        side = book.bids if bid_side else book.asks
        r = rng.random()
        if len(side) <= 3:
            op = "insert"
        elif len(side) < book.target:
            op = "remove" if r < 0.10 else "modify" if r < 0.55 else "insert"
        else:
            op = "remove" if r < 0.30 else "modify" if r < 0.75 else "insert"
        if op != "insert":
            best_first = sorted(side, reverse=bid_side)
            price = self._depth_pick(best_first)
            self._set_yes(market, bid_side, price, "0" if op == "remove" else self._size())
            return
        self._set_yes(market, bid_side, self._insert_price(book, bid_side), self._size())

    def _insert_price(self, book: _Book, bid_side: bool) -> int:
        rng, tick = self.rng, book.tick
        bb, ba = book.best_bid(), book.best_ask()
        side = book.bids if bid_side else book.asks
        if ba - bb > tick and rng.random() < 0.5:
            price = bb + tick * rng.randint(1, (ba - bb) // tick - 1)  # improves the top
            if not bid_side and price < book.ask_floor:
                return book.ask_floor  # a decided market's ask stays over the floor
            return price
        for _ in range(8):
            away = tick * (1 + int(rng.expovariate(0.25)))
            price = (bb - away) if bid_side else (ba + away)
            if tick <= price <= ONE - tick and price not in side:
                return price
        return bb if bid_side else ba  # nothing free nearby: resize the top

    # -- trades ----------------------------------------------------------------------------

    def trade(self, market: int) -> None:
        rng = self.rng
        book = self.books[market]
        yes = rng.random() < 0.5
        buy = rng.random() < 0.5
        # A BUY of YES lifts the YES best ask; a BUY of NO lifts the NO best ask, which is
        # the YES best bid mirrored. A SELL hits the other side.
        takes_yes_ask = buy == yes
        side = book.asks if takes_yes_ask else book.bids
        level = book.best_ask() if takes_yes_ask else book.best_bid()
        have = side[level]
        whole, _, frac = have.partition(".")
        have_cents = int(whole) * 100 + int((frac + "00")[:2])
        take = min(have_cents, max(100, int(rng.lognormvariate(3.5, 1.2) * 100)))
        left = have_cents - take
        token_price = level if yes else ONE - level
        msg = {
            "event_type": "last_trade_price",
            "asset_id": self.tokens[2 * market + (0 if yes else 1)],
            "market": self.conds[market],
            "price": price_text(token_price),
            "size": f"{take // 100}.{take % 100:02d}".rstrip("0").rstrip("."),
            "side": "BUY" if buy else "SELL",
            "fee_rate_bps": "0",
            "timestamp": self._tick_clock(),
        }
        self._emit(KIND_TRADE, market, msg)
        remaining = "0" if left <= 0 else f"{left // 100}.{left % 100:02d}".rstrip("0").rstrip(".")
        if remaining == "0" and len(side) <= 1:
            remaining = self._size()  # the last level refills at once (keeps both sides quoted)
        self._set_yes(market, not takes_yes_ask, level, remaining)

    # -- tick changes ----------------------------------------------------------------------

    def tick_change(self, market: int) -> None:
        book = self.books[market]
        old = book.tick
        book.tick = _FINE if old == _COARSE else _COARSE
        if book.tick == _FINE:
            self.fine.add(market)
        else:
            self.fine.discard(market)
        if book.tick == _COARSE:  # levels off the coarse grid are gone with the old tick
            book.bids = {p: s for p, s in book.bids.items() if p % _COARSE == 0}
            book.asks = {p: s for p, s in book.asks.items() if p % _COARSE == 0}
            if not book.bids:
                book.bids[max(_COARSE, book.best_ask() - _COARSE)] = self._size()
            if not book.asks:
                ask = max(book.ask_floor, book.best_bid() + _COARSE)
                book.asks[min(ONE - _COARSE, ask)] = self._size()
        for yes in (True, False):
            msg = {
                "event_type": "tick_size_change",
                "asset_id": self.tokens[2 * market + (0 if yes else 1)],
                "market": self.conds[market],
                "old_tick_size": price_text(old),
                "new_tick_size": price_text(book.tick),
                "timestamp": self._tick_clock(),
            }
            self._emit(KIND_TICK, market, msg)
        self.snapshot(market, True)
        self.snapshot(market, False)

    # -- driver ----------------------------------------------------------------------------

    def pick_market(self) -> int:
        return bisect.bisect_left(self.cum, self.rng.random() * self.cum[-1])

    def initial(self) -> None:
        """The subscription's initial dump: one snapshot per token."""
        for m in range(self.spec.markets):
            self.snapshot(m, True)
            self.snapshot(m, False)
        self._weights = self.spec.draw_weights()

    def draw(self) -> None:
        """One step: the second half of a split pair, or a new event on a random market."""
        if self.pending:
            market, changes = self.pending.pop()
            self._price_change(market, changes)
            return
        p_book, p_trade, _ = self._weights
        p_tick = self.spec.tick_changes_per_million / 1_000_000
        market = self.pick_market()
        r = self.rng.random()
        if r < p_tick:
            # Markets on the fine tick mostly go back (a price leaves the extremes), so the
            # share of fine-tick books stays small and the stream stays stationary.
            if self.fine and self.rng.random() < 0.9:
                market = self.rng.choice(sorted(self.fine))
            self.tick_change(market)
        elif r < p_tick + p_book:
            self.snapshot(market, self.rng.random() < 0.5)
        elif r < p_tick + p_book + p_trade:
            self.trade(market)
        else:
            self.level_update(market)

    def take(self) -> tuple[list[bytes], array.array[int], array.array[int]]:
        """Hand over the frames written so far (and forget them)."""
        out = (self.frames, self.kinds, self.market_of)
        self.frames, self.kinds, self.market_of = [], array.array("B"), array.array("I")
        return out

    def run(self) -> None:
        self.initial()
        while len(self.frames) < self.spec.messages:
            self.draw()
        while self.pending:  # never end on half of a mirrored pair
            self.draw()


class LiveStream:
    """An endless stream, generated as it is consumed (the scale run's feeder).

    ``initial()`` returns the snapshot of every token; each ``next_batch(n)`` at least ``n``
    more frames. Memory stays flat: consumed frames are not kept.
    """

    def __init__(self, spec: StreamSpec) -> None:
        self._gen = _Gen(spec)
        self.tokens = self._gen.tokens
        self.condition_ids = self._gen.conds

    def initial(self) -> tuple[list[bytes], array.array[int]]:
        """Snapshots of every token, in token order (frames, market of each)."""
        self._gen.initial()
        frames, _, markets = self._gen.take()
        return frames, markets

    def next_batch(self, n: int) -> tuple[list[bytes], array.array[int]]:
        """At least ``n`` more frames and the market of each."""
        gen = self._gen
        while len(gen.frames) < n or gen.pending:
            gen.draw()
        frames, _, markets = gen.take()
        return frames, markets


def generate(spec: StreamSpec) -> Stream:
    """Generate a stream (deterministic for a given spec)."""
    gen = _Gen(spec)
    gen.run()
    tops: list[tuple[int, int]] = []
    for book in gen.books:
        tops.append(book.top(True))
        tops.append(book.top(False))
    meta = StreamMeta(
        spec=asdict(spec),
        condition_ids=gen.conds,
        tokens=gen.tokens,
        counts=gen.counts,
        price_change_entries=gen.entries,
        snapshot_levels=gen.levels,
        final_tops=tops,
        final_ticks=[b.tick for b in gen.books],
        bytes_total=sum(len(f) for f in gen.frames),
        extra={"activity": gen.activity, "decided": gen.decided, "initial": 2 * spec.markets},
    )
    return Stream(gen.frames, gen.kinds, gen.market_of, meta)


# ---------------------------------------------------------------------------------------------
# Files: one JSON line per frame, plus <name>.meta.json and <name>.idx (kinds, markets)
# ---------------------------------------------------------------------------------------------


def save_stream(stream: Stream, path: Path) -> None:
    """Write the frames as JSONL with the metadata and frame index next to it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with tmp.open("wb") as fh:
        for frame in stream.frames:
            fh.write(frame)
            fh.write(b"\n")
    idx = Path(str(path) + ".idx")
    idx.write_bytes(stream.kinds.tobytes() + stream.market_of.tobytes())
    Path(str(path) + ".meta.json").write_text(json.dumps(asdict(stream.meta)))
    tmp.replace(path)  # last: a present stream file means a complete set


def load_stream(path: Path) -> Stream:
    """Read a stream written by :func:`save_stream`."""
    frames = path.read_bytes().splitlines()
    raw = json.loads(Path(str(path) + ".meta.json").read_text())
    raw["final_tops"] = [tuple(t) for t in raw["final_tops"]]
    meta = StreamMeta(**raw)
    idx = Path(str(path) + ".idx").read_bytes()
    n = len(frames)
    kinds = array.array("B", idx[:n])
    market_of = array.array("I")
    market_of.frombytes(idx[n:])
    return Stream(frames, kinds, market_of, meta)


def _cache_dir() -> Path:
    base = os.environ.get("POLYLOLY_BENCH_CACHE")
    return Path(base) if base else Path(tempfile.gettempdir()) / "polyloly-bench"


def cached_stream(spec: StreamSpec) -> tuple[Stream, Path]:
    """Generate ``spec`` once and keep it in the cache folder; return it and its file."""
    text = json.dumps({"v": _VERSION, **asdict(spec)}, sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    path = _cache_dir() / f"stream-{spec.markets}m-{spec.messages}-{key}.jsonl"
    if path.exists():
        return load_stream(path), path
    stream = generate(spec)
    save_stream(stream, path)
    return stream, path
