"""A live terminal view of a running node (rich), or periodic plain lines off a terminal.

:func:`render` builds the view from the node's state: each match's truth state and score,
the top of book of every market (both outcomes), open orders, positions, intents and fills
per strategy and the PnL since start. :func:`run_view` refreshes it a few times a second
under :class:`rich.live.Live` on a terminal; when the output is not a terminal (CI, a
pipe) it prints one compact line every few seconds instead.
"""

from __future__ import annotations

import asyncio
from typing import Final

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from polyloly.bot.app import TradingNode
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import fmt
from polyloly.domain.orderbook import OrderBook

__all__ = ["plain_line", "render", "run_view"]

_MAX_ORDERS: Final = 8


def _price(book: OrderBook | None, ask: bool) -> str:
    if book is None or not book.in_sync:
        return "-"
    level = book.best_ask if ask else book.best_bid
    return "-" if level is None else fmt(level[0], 3)


def _market_name(mapping: MarketMapping) -> str:
    if mapping.kind is MarketKind.GAME:
        return f"{mapping.match_id} game {mapping.game_number}"
    return f"{mapping.match_id} match"


def _matches(node: TradingNode) -> Table:
    table = Table(title="matches (truth engine)", expand=True)
    for column in ("match", "state", "score", "leader", "confidence"):
        table.add_column(column)
    core = node.core
    if core is None or core.truth is None:
        return table
    for match_id in core.registry.match_ids():
        view = core.truth.view(match_id)
        if view is None:
            table.add_row(match_id, "waiting", "-", "-", "-")
            continue
        score = f"{view.team_a} {view.score_a}-{view.score_b} {view.team_b}"
        state = view.state.value + (" BLOCKED" if view.blocked else "")
        table.add_row(match_id, state, score, view.winner or "-", f"{view.confidence / 100:.0f}%")
    return table


def _markets(node: TradingNode) -> Table:
    table = Table(title="markets (bid / ask, team a | team b)", expand=True)
    for column in ("market", "team a", "team b", "position a", "position b"):
        table.add_column(column)
    core = node.core
    if core is None:
        return table
    state = core.engine.state if core.engine is not None else None
    for mapping in sorted(core.registry, key=_market_name):
        cells = []
        for token in (mapping.token_a, mapping.token_b):
            book = core.books.get(token)
            cells.append(f"{_price(book, False)} / {_price(book, True)}")
        held = ["-", "-"]
        if state is not None:
            held = [fmt(state.position(t).expected, 2) for t in (mapping.token_a, mapping.token_b)]
        table.add_row(_market_name(mapping), *cells, *held)
    return table


def _orders(node: TradingNode) -> Table:
    table = Table(title="open orders", expand=True)
    for column in ("strategy", "market", "side", "price", "size", "state"):
        table.add_column(column)
    core = node.core
    if core is None or core.engine is None:
        return table
    for order in core.engine.state.open_orders()[:_MAX_ORDERS]:
        mapping = core.registry.by_market(order.market)
        name = _market_name(mapping) if mapping is not None else order.market[:10]
        table.add_row(
            order.strategy,
            name,
            order.side.value,
            fmt(order.price, 3),
            fmt(order.size, 2),
            order.state.value,
        )
    return table


def _totals(node: TradingNode, start_equity: int) -> Text:
    core = node.core
    if core is None or core.engine is None:
        return Text("recording (no trading)")
    state = core.engine.state
    intents = ", ".join(f"{k} {v}" for k, v in sorted(core.intents.items())) or "none"
    fills = core.feedback.fills_by_strategy if core.feedback is not None else {}
    fill_text = ", ".join(f"{k} {v}" for k, v in sorted(fills.items())) or "none"
    equity = state.equity()
    halted = f"  KILL SWITCH: {state.halted}" if state.halted else ""
    return Text(
        f"intents: {intents} | fills: {fill_text} | equity {fmt(equity, 2)} pUSD | "
        f"PnL {fmt(equity - start_equity, 2)} pUSD{halted}"
    )


def render(node: TradingNode, start_equity: int = 0) -> RenderableType:
    """The whole view as one rich renderable."""
    return Group(
        _matches(node),
        _markets(node),
        _orders(node),
        _totals(node, start_equity),
    )


def plain_line(node: TradingNode, start_equity: int = 0) -> str:
    """One compact status line (for logs and CI)."""
    core = node.core
    parts: list[str] = []
    if core is not None and core.truth is not None:
        for match_id in core.registry.match_ids():
            view = core.truth.view(match_id)
            if view is not None:
                parts.append(f"{match_id} {view.state.value} {view.score_a}-{view.score_b}")
    return " | ".join([*parts, _totals(node, start_equity).plain])


async def run_view(
    node: TradingNode,
    console: Console,
    *,
    start_equity: int = 0,
    refresh_s: float = 0.25,
    plain_every_s: float = 5.0,
    live: bool | None = None,
) -> None:
    """Show the view until cancelled (``live=None``: live on a terminal, else plain lines)."""
    use_live = console.is_terminal if live is None else live
    if not use_live:
        while True:
            console.print(plain_line(node, start_equity), markup=False, highlight=False)
            await asyncio.sleep(plain_every_s)
    with Live(render(node, start_equity), console=console, auto_refresh=False) as screen:
        while True:
            await asyncio.sleep(refresh_s)
            screen.update(render(node, start_equity), refresh=True)
