"""What a market-data frame must mean before it may touch a book: the semantic rules.

Shape (JSON, field types, decimal text) is checked where frames are decoded; these rules
check *meaning*, on the decoded integers (micros), and each returns ``None`` for a frame it
accepts or the reason it refuses it — the key the refusal is counted under
(``polyloly_frames_refused_total{reason}``). Pure: no I/O, no clock, no allocation on the
accepting path of the per-level rule (it is called on the hot path).

* **snapshot** (``book``): every size > 0, every price strictly inside ``(0, 1)`` and on the
  tick (when the tick is known), no price listed twice on a side, and not crossed (best bid
  below best ask). A refused snapshot empties the book and leaves it out of sync.
* **level change** (``price_change``): price strictly inside ``(0, 1)`` and on the book's
  tick, size ≥ 0 (0 removes the level; an empty, negative or non-numeric size never gets
  this far: it is refused where the text is parsed). A frame with one bad change is refused
  whole: every book it names loses sync (it missed an update) until its next snapshot.
  A frame that leaves a book crossed took an update the book missed: the book loses sync.
* **tick change** (``tick_size_change``): both ticks legal (:data:`LEGAL_TICKS`), the old
  tick the book's current one (when known); a change to the same tick changes nothing.
* **resolution** (``market_resolved``): the winning token is a token of the resolved market
  (as the bot knows the market); otherwise the resolution is refused and sets no mark.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §2 (market events), §4 (ticks),
§8 (book pitfalls).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Final

from polyloly.domain.money import ONE, VALID_TICKS

__all__ = [
    "BAD_PRICE",
    "BAD_SIZE",
    "BAD_TICK",
    "CROSSED_BOOK",
    "DUPLICATE_LEVEL",
    "FOREIGN_TOKEN",
    "LEGAL_TICKS",
    "OFF_TICK",
    "SEMANTIC_REASONS",
    "TICK_MISMATCH",
    "UNKNOWN_MARKET",
    "level_fault",
    "resolution_fault",
    "side_fault",
    "snapshot_fault",
    "tick_change_fault",
    "tick_inference_plausible",
]

BAD_SIZE: Final = "bad_size"
BAD_PRICE: Final = "bad_price"
OFF_TICK: Final = "off_tick"
DUPLICATE_LEVEL: Final = "duplicate_level"
CROSSED_BOOK: Final = "crossed_book"
BAD_TICK: Final = "bad_tick"
TICK_MISMATCH: Final = "tick_mismatch"
FOREIGN_TOKEN: Final = "foreign_token"  # noqa: S105 - a reason, not a secret
UNKNOWN_MARKET: Final = "unknown_market"

SEMANTIC_REASONS: Final = frozenset(
    {
        BAD_SIZE,
        BAD_PRICE,
        OFF_TICK,
        DUPLICATE_LEVEL,
        CROSSED_BOOK,
        BAD_TICK,
        TICK_MISMATCH,
        FOREIGN_TOKEN,
        UNKNOWN_MARKET,
    }
)
"""Every reason these rules give (frames well formed but wrong in meaning)."""

LEGAL_TICKS: Final = VALID_TICKS
"""The ticks a market may have: 0.1, 0.01, 0.001, 0.0001, and V2's 0.005 and 0.0025."""

_EXTREME_LOW: Final = 40_000  # the venue moves to a finer tick below 0.04 …
_EXTREME_HIGH: Final = 960_000  # … and above 0.96


def level_fault(price: int, size: int, tick: int | None) -> str | None:
    """Why one level change is refused (``None``: it is valid; size 0 removes a level)."""
    if size < 0:
        return BAD_SIZE
    if not 0 < price < ONE:
        return BAD_PRICE
    if tick is not None and price % tick:
        return OFF_TICK
    return None


def side_fault(levels: Iterable[tuple[int, int]], tick: int | None) -> str | None:
    """Why one side of a snapshot is refused: a size ≤ 0, a bad or off-tick price, a repeat."""
    seen: set[int] = set()
    for price, size in levels:
        if size <= 0:
            return BAD_SIZE
        if not 0 < price < ONE:
            return BAD_PRICE
        if tick is not None and price % tick:
            return OFF_TICK
        if price in seen:
            return DUPLICATE_LEVEL
        seen.add(price)
    return None


def snapshot_fault(
    bids: Collection[tuple[int, int]], asks: Collection[tuple[int, int]], tick: int | None
) -> str | None:
    """Why a full book snapshot is refused (``None``: it may replace the book)."""
    fault = side_fault(bids, tick) or side_fault(asks, tick)
    if fault is not None:
        return fault
    if bids and asks and max(p for p, _ in bids) >= min(p for p, _ in asks):
        return CROSSED_BOOK
    return None


def tick_change_fault(old_tick: int, new_tick: int, current: int | None) -> str | None:
    """Why a tick change is refused: an illegal tick, an old tick that is not the book's."""
    if old_tick not in LEGAL_TICKS or new_tick not in LEGAL_TICKS:
        return BAD_TICK
    if current is not None and old_tick != current:
        return TICK_MISMATCH
    return None


def resolution_fault(winning_token: str, market_tokens: Collection[str]) -> str | None:
    """Why a resolution is refused: its winner is not one of the market's known tokens.

    ``market_tokens`` is what the bot knows of the market; when it knows none, the winner
    cannot be checked and the resolution is refused too (it must not set any mark).
    """
    if not market_tokens:
        return UNKNOWN_MARKET
    if winning_token not in market_tokens:
        return FOREIGN_TOKEN
    return None


def tick_inference_plausible(prices: Iterable[int], tick: int) -> bool:
    """Whether a snapshot off the book's tick can mean a missed tick change.

    The venue moves a market to a finer tick only when its price leaves ``[0.04, 0.96]``;
    a snapshot whose off-grid prices all lie inside that band is wrong, not re-ticked.
    """
    off = [p for p in prices if p % tick]
    return bool(off) and all(p < _EXTREME_LOW or p > _EXTREME_HIGH for p in off)
