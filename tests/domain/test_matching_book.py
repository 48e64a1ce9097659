"""The book structure under the matching engine: levels, FIFO queues, and the module split."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from polyloly.domain import matching, matching_book
from polyloly.domain.events import Side
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import OrderType
from polyloly.domain.matching_book import BookOrder, BookSide, MarketBook, effective_price

# The public surface of polyloly.domain.matching before the book moved out of it (each name
# is now imported from its home, matching or matching_book).
_PUBLIC_BEFORE_SPLIT = {
    "ERR_DUPLICATED",
    "ERR_FAK_NO_MATCH",
    "ERR_FOK_NOT_FILLED",
    "ERR_INVALID_EXPIRATION",
    "ERR_MARKET_NOT_READY",
    "ERR_POST_ONLY_CROSSES",
    "MIN_MARKETABLE_BUY",
    "BookOrder",
    "Fill",
    "FillKind",
    "LevelChange",
    "MarketBook",
    "MatchResult",
    "MatchingEngine",
    "OrderRequest",
    "OrderState",
}


def _order(order_id: str, price: int, remaining: int, seq: int, asset: str = "A") -> BookOrder:
    return BookOrder(
        order_id=order_id,
        owner="o",
        maker="0xo",
        token_id=asset,
        side=Side.BUY,
        price=price,
        size=remaining,
        remaining=remaining,
        order_type=OrderType.GTC,
        seq=seq,
    )


def test_the_public_api_is_importable_from_its_home_and_declared_once() -> None:
    assert set(matching.__all__) | set(matching_book.__all__) >= _PUBLIC_BEFORE_SPLIT
    assert not set(matching.__all__) & set(matching_book.__all__)  # no re-exports
    for module in (matching, matching_book):
        for name in module.__all__:
            assert hasattr(module, name), name


def test_the_book_module_is_pure() -> None:
    spec = importlib.util.find_spec("polyloly.domain.matching_book")
    assert spec is not None
    assert spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            roots.add(node.module)
    allowed = ("__future__", "bisect", "collections", "dataclasses", "msgspec", "polyloly.domain")
    assert all(any(r == a or r.startswith(a + ".") for a in allowed) for r in roots), roots


def test_bid_side_walks_best_price_first_then_arrival() -> None:
    side = BookSide(Side.BUY)
    orders = [
        _order("low", 400_000, 5, 1),
        _order("high-1", 450_000, 7, 2),
        _order("high-2", 450_000, 3, 3),
    ]
    for order in orders:
        side.add(order)
    assert side.best() == 450_000
    assert [o.order_id for o in side.walk()] == ["high-1", "high-2", "low"]
    assert side.aggregated() == [(450_000, 10), (400_000, 5)]
    side.shrink(orders[1], 2)
    assert side.size_at(450_000) == 5
    assert [o.order_id for o in side.walk()] == ["high-1", "high-2", "low"]
    side.shrink(orders[1], 0)
    side.pop_head(450_000)
    assert side.best() == 400_000
    assert side.size_at(450_000) == 0
    with pytest.raises(ValueError, match="can only shrink"):
        side.shrink(orders[0], 6)


def test_ask_side_best_is_the_lowest_price() -> None:
    side = BookSide(Side.SELL)
    assert side.best() is None
    side.add(_order("a", 600_000, 1, 1))
    side.add(_order("b", 550_000, 1, 2))
    assert side.best() == 550_000
    assert [p for p, _ in side.aggregated()] == [550_000, 600_000]


def test_candidates_merge_both_tokens_by_effective_price() -> None:
    book = MarketBook("0xm", "A", "B", 10_000, 1, PolymarketFeeModel())
    ask_a = _order("ask-a", 470_000, 5, 1)
    ask_a.side = Side.SELL
    book.side_of(ask_a).add(ask_a)
    bid_b = _order("bid-b", 540_000, 5, 2, asset="B")  # offers A at 0.46
    book.side_of(bid_b).add(bid_b)
    assert effective_price("A", bid_b) == 460_000
    assert [o.order_id for o in book.candidates("A", Side.BUY, 470_000)] == ["bid-b", "ask-a"]
    assert [o.order_id for o in book.candidates("A", Side.BUY, 460_000)] == ["bid-b"]
    assert book.crosses("A", Side.BUY, 470_000)
    assert not book.crosses("A", Side.BUY, 460_000)  # a mint, not a same-token cross
