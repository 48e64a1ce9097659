"""The decode floor and the tick-array calibration pipeline (standard library + msgspec only).

* :data:`FLOOR_DECODER` decodes a market frame into typed structs that declare **only the
  fields a book and a pair check use** (msgspec skips the rest without building them):
  nothing cheaper can turn the frame into typed values, so it is the floor the hot path is
  measured against.
* :class:`ArrayPipeline` is the design the reference figures call "decode + tick-array L2
  book + pair check in pure Python": per token, one list indexed by price in ticks of the
  market's tick size, best bid/ask kept incrementally. It is not polyloly code; it calibrates
  this machine against the reference (same stream, same run) and shows what a minimal design
  costs next to the project's real path.

Both handle every frame the generator writes (books, level updates, trades, tick changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from bench.stream import price_text

__all__ = [
    "FLOOR_DECODER",
    "ArrayPipeline",
    "FBook",
    "FChange",
    "FLevel",
    "FPriceChange",
    "FTick",
    "FTrade",
    "decode_floor",
]

_ONE: Final = 1_000_000


class FLevel(msgspec.Struct, gc=False):
    """A snapshot level: only price and size."""

    price: str
    size: str


class FBook(msgspec.Struct, tag_field="event_type", tag="book", gc=False):
    """A ``book`` frame: token, levels, timestamp."""

    asset_id: str
    bids: list[FLevel]
    asks: list[FLevel]
    timestamp: str


class FChange(msgspec.Struct, gc=False):
    """One ``price_changes`` entry: token, price, size, side."""

    asset_id: str
    price: str
    size: str
    side: str


class FPriceChange(msgspec.Struct, tag_field="event_type", tag="price_change", gc=False):
    """A ``price_change`` frame."""

    price_changes: list[FChange]
    timestamp: str


class FTrade(msgspec.Struct, tag_field="event_type", tag="last_trade_price", gc=False):
    """A ``last_trade_price`` frame."""

    asset_id: str
    price: str
    size: str
    side: str
    timestamp: str


class FTick(msgspec.Struct, tag_field="event_type", tag="tick_size_change", gc=False):
    """A ``tick_size_change`` frame."""

    asset_id: str
    new_tick_size: str
    timestamp: str


FloorMessage = FBook | FPriceChange | FTrade | FTick
FLOOR_DECODER: Final = msgspec.json.Decoder(FloorMessage)


def decode_floor(frames: Sequence[bytes]) -> int:
    """Decode every frame (the floor's timed loop); return how many were decoded."""
    dec = FLOOR_DECODER.decode
    for frame in frames:
        dec(frame)
    return len(frames)


def _price_ticks(tick_micros: int) -> dict[str, int]:
    """Every spelling of a price on the grid (``"0.5"`` and ``"0.50"``) → its tick index."""
    steps = _ONE // tick_micros
    width = len(str(steps)) - 1
    out: dict[str, int] = {}
    for k in range(steps + 1):
        out[price_text(k * tick_micros)] = k
        if 0 < k < steps:
            out[f"0.{k:0{width}d}"] = k
    return out


_GRIDS: Final = {10_000: _price_ticks(10_000), 1_000: _price_ticks(1_000)}
_TICK_TEXT: Final = {"0.01": 10_000, "0.001": 1_000}


class ArrayPipeline:
    """Tick-array books for every token plus a YES+NO best-ask pair check.

    ``handle(frame)`` returns 1 when the pair check fires (the two best asks sum under
    ``cap_ticks``/100), else 0. Sizes are floats here: this is a calibration design, not
    polyloly's money path.
    """

    def __init__(self, tokens: Sequence[str], ticks: Sequence[int], cap: int = 980_000) -> None:
        n = len(tokens)
        self.index = {t: i for i, t in enumerate(tokens)}
        self.tick = [10_000] * n
        for m, tick in enumerate(ticks):
            self.tick[2 * m] = self.tick[2 * m + 1] = tick
        self.bids: list[list[float]] = [[0.0] * 101 for _ in range(n)]
        self.asks: list[list[float]] = [[0.0] * 101 for _ in range(n)]
        self.bb = [0] * n
        self.ba = [100] * n
        self.last = [0] * n
        self.cap = cap
        self.signals = 0

    def _grid(self, i: int) -> dict[str, int]:
        return _GRIDS[self.tick[i]]

    def _book(self, msg: FBook) -> int:
        i = self.index[msg.asset_id]
        grid = self._grid(i)
        top = _ONE // self.tick[i]
        lv = [0.0] * (top + 1)
        best = 0
        for level in msg.bids:
            t = grid[level.price]
            s = float(level.size)
            lv[t] = s
            if s > 0.0 and t > best:
                best = t
        self.bids[i], self.bb[i] = lv, best
        lv = [0.0] * (top + 1)
        best = top
        for level in msg.asks:
            t = grid[level.price]
            s = float(level.size)
            lv[t] = s
            if s > 0.0 and t < best:
                best = t
        self.asks[i], self.ba[i] = lv, best
        return i

    def _change(self, c: FChange) -> int:
        i = self.index[c.asset_id]
        t = self._grid(i)[c.price]
        s = float(c.size)
        if c.side == "BUY":
            lv = self.bids[i]
            lv[t] = s
            b = self.bb[i]
            if s > 0.0:
                if t > b:
                    self.bb[i] = t
            elif t == b:
                while b > 0 and lv[b] == 0.0:
                    b -= 1
                self.bb[i] = b
        else:
            lv = self.asks[i]
            lv[t] = s
            a = self.ba[i]
            top = len(lv) - 1
            if s > 0.0:
                if t < a:
                    self.ba[i] = t
            elif t == a:
                while a < top and lv[a] == 0.0:
                    a += 1
                self.ba[i] = a
        return i

    def _pair(self, i: int) -> int:
        y = i & ~1
        if self.ask_micros(y) + self.ask_micros(y + 1) < self.cap:
            self.signals += 1
            return 1
        return 0

    def ask_micros(self, i: int) -> int:
        """Best ask of token ``i`` in micros (1_000_000 when the side is empty)."""
        return self.ba[i] * self.tick[i]

    def bid_micros(self, i: int) -> int:
        """Best bid of token ``i`` in micros (0 when the side is empty)."""
        return self.bb[i] * self.tick[i]

    def handle(self, frame: bytes) -> int:
        """Decode one frame, update the books, run the pair check."""
        msg = FLOOR_DECODER.decode(frame)
        cls = type(msg)
        if cls is FPriceChange:
            i = 0
            for c in msg.price_changes:
                i = self._change(c)
            return self._pair(i)
        if cls is FBook:
            return self._pair(self._book(msg))
        if cls is FTrade:
            i = self.index[msg.asset_id]
            self.last[i] = self._grid(i)[msg.price]
            return 0
        # A new tick: the token's book is unknown until the snapshot that follows.
        i = self.index[msg.asset_id]
        tick = self.tick[i] = _TICK_TEXT[msg.new_tick_size]
        top = _ONE // tick
        self.bids[i], self.asks[i] = [0.0] * (top + 1), [0.0] * (top + 1)
        self.bb[i], self.ba[i] = 0, top
        return 0
