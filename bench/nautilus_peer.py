"""The same stream through NautilusTrader's Python API: the peer the hot path is compared to.

What NautilusTrader's own Polymarket adapter does per frame, on its public Python API
(``nautilus_trader.model``): a ``book`` frame becomes a ``CLEAR`` delta plus one ``ADD`` per
level, each ``price_changes`` entry an ``UPDATE`` (or ``DELETE`` for size 0) flagged
``F_LAST``; every delta is applied to an ``OrderBook`` (``L2_MBP``) per token; after each
frame the pair check reads both tokens' ``best_ask_price()``. Frames are decoded with the
same floor structs as :mod:`bench.floor` (only the used fields), and ``Price`` objects are
cached per price text, so the peer is measured at its best.

Runs in-process when ``nautilus_trader`` imports, or as a module in another interpreter
(NautilusTrader 1.221 is the last release for Python 3.11 and is not a polyloly
dependency)::

    /tmp/nt-venv/bin/python -m bench.nautilus_peer --stream FILE --repeats 1

which prints one JSON object: ns/msg of the peer and of the decode floor, each pass, and
how many final tops differ from the generator's ground truth. Only the standard library,
msgspec and NautilusTrader are imported.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.floor import FLOOR_DECODER, FBook, FPriceChange, decode_floor
from bench.stream import Stream, load_stream

__all__ = ["available", "main", "run_peer"]


def available() -> bool:
    """Whether NautilusTrader imports in this interpreter."""
    try:
        import nautilus_trader  # noqa: F401
    except ImportError:
        return False
    return True


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
            InstrumentId.from_str(f"{condition_ids[i // 2]}-{tok}.POLYMARKET")
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
        out = []
        for b in self.books:
            bid, ask = b.best_bid_price(), b.best_ask_price()
            out.append(
                (
                    round(bid.as_double() * 1_000_000) if bid is not None else 0,
                    round(ask.as_double() * 1_000_000) if ask is not None else 1_000_000,
                )
            )
        return out


def _timed(handle: Callable[[bytes], int], frames: Sequence[bytes]) -> float:
    t0 = time.perf_counter()
    for frame in frames:
        handle(frame)
    return time.perf_counter() - t0


def run_peer(stream: Stream, repeats: int) -> dict[str, Any]:
    """Time the peer and the decode floor ``repeats`` times each (alternating)."""
    meta = stream.meta
    frames = stream.frames
    n = len(frames)
    peer_ns: list[float] = []
    floor_ns: list[float] = []
    mismatches = -1
    signals = 0
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        decode_floor(frames)
        floor_ns.append((time.perf_counter() - t0) / n * 1e9)
        peer = _Peer(meta.condition_ids, meta.tokens)
        gc.collect()
        peer_ns.append(_timed(peer.handle, frames) / n * 1e9)
        signals = peer.signals
        if n == sum(meta.counts.values()):  # the whole stream: ground truth applies
            want = [tuple(t) for t in meta.final_tops]
            mismatches = sum(1 for a, b in zip(peer.tops(), want, strict=True) if a != b)
    import nautilus_trader

    return {
        "nautilus_trader": nautilus_trader.__version__,
        "python": sys.version.split()[0],
        "n": n,
        "peer_ns_per_msg": peer_ns,
        "floor_ns_per_msg": floor_ns,
        "top_mismatches": mismatches,
        "signals": signals,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Command line for a peer interpreter: print one JSON result."""
    ap = argparse.ArgumentParser(prog="python -m bench.nautilus_peer")
    ap.add_argument("--stream", required=True, type=Path)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N frames")
    args = ap.parse_args(argv)
    if not available():
        print(json.dumps({"error": "nautilus_trader is not installed in this interpreter"}))
        return 2
    stream = load_stream(args.stream)
    if args.limit:
        stream = stream.head(args.limit)
    gc.collect()
    gc.freeze()
    print(json.dumps(run_peer(stream, args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
