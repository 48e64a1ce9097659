"""A live terminal view of a running node (rich), or periodic plain lines off a terminal.

:func:`render` draws the same snapshot the web console shows
(:func:`~polyloly.bot.console.state.console_state`): a header with the mode, the time since
start, the kill switch's state and reason; each match's truth state, score and sources;
the top of book of every market with our positions in shares (confirmed + pending) and
their PnL; the orders (open first — the strategies send fill-and-kill orders, which rest
only while the venue's sports delay holds them — then the latest closed); PnL since start
split into realized, unrealized and fees, and how many markets have settled.
:func:`run_view` refreshes it a few times a second under :class:`rich.live.Live` on a
terminal; off a terminal (CI, a pipe) it prints one compact line every few seconds. When
it is stopped it draws one last frame, so the view's final PnL is the one the end-of-run
summary prints (a market's settlement moves PnL when it resolves, which is often after
the last periodic frame).
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from polyloly.bot.app import TradingNode
from polyloly.bot.console.state import console_state
from polyloly.domain.money import fmt

__all__ = ["plain_line", "render", "run_view"]

_MAX_ORDERS: Final = 8


def _duration(seconds: int) -> str:
    h, rest = divmod(max(seconds, 0), 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _header(snap: dict[str, Any]) -> Text:
    text = Text(f"{snap['mode']} · running {_duration(snap['elapsed_s'])} · ")
    if snap["halted"]:
        text.append(f"HALTED: {snap['halt_reason']}", style="bold red")
    else:
        text.append("trading", style="green")
    return text


def _matches(snap: dict[str, Any]) -> Table:
    table = Table(title="matches (truth engine)", expand=True)
    for column in ("match", "state", "score", "winner", "confidence", "sources"):
        table.add_column(column)
    for m in snap["matches"]:
        sources = ", ".join(s["name"] for s in m["sources"]) or "-"
        if "team_a" not in m:
            table.add_row(m["match_id"], "waiting", "-", "-", "-", sources)
            continue
        score = f"{m['team_a']} {m['score_a']}-{m['score_b']} {m['team_b']}"
        state = m["state"] + (" BLOCKED" if m["blocked"] else "")
        table.add_row(m["match_id"], state, score, m["winner"] or "-", m["confidence"], sources)
    return table


def _level(level: dict[str, str] | None) -> str:
    return "-" if level is None else level["price"]


def _held(outcome: dict[str, Any]) -> str:
    p = outcome.get("position")
    if p is None or not p["held"]:
        return "-"
    pending = f" (+{p['pending']} pending)" if p["pending"] != "0.00" else ""
    return f"{p['confirmed']}{pending} sh, PnL {p['pnl']}"


def _markets(snap: dict[str, Any]) -> Table:
    table = Table(title="markets (bid / ask; positions in shares, PnL in pUSD)", expand=True)
    for column in ("market", "team a", "team b", "position a", "position b"):
        table.add_column(column)
    for market in snap["markets"]:
        a, b = market["outcomes"]
        name = market["name"] + (" (resolved)" if market["resolved"] else "")
        table.add_row(
            name,
            f"{_level(a['bid'])} / {_level(a['ask'])}",
            f"{_level(b['bid'])} / {_level(b['ask'])}",
            _held(a),
            _held(b),
        )
    return table


def _orders(snap: dict[str, Any]) -> Table:
    trading = snap["trading"]
    shown = trading["open_orders"] if trading else 0
    table = Table(title=f"orders ({shown} open; then the latest closed)", expand=True)
    for column in ("strategy", "market", "side", "price", "size", "filled", "state"):
        table.add_column(column)
    for order in (trading["orders"] if trading else [])[:_MAX_ORDERS]:
        table.add_row(
            order["strategy"],
            order["market"],
            order["side"],
            order["price"],
            order["size"],
            order["filled"],
            order["state"],
        )
    return table


def _totals(snap: dict[str, Any]) -> Text:
    t = snap["trading"]
    if t is None:
        return Text("recording (no trading)")
    intents = ", ".join(f"{k} {v}" for k, v in sorted(t["intents"].items())) or "none"
    fills = ", ".join(f"{k} {v}" for k, v in sorted(t["fills_by_strategy"].items())) or "none"
    halted = f"  KILL SWITCH: {snap['halt_reason']}" if snap["halted"] else ""
    settled = f"{t['markets_resolved']}/{len(snap['markets'])} markets settled"
    return Text(
        f"intents: {intents} | fills: {fills} | equity {t['equity']} pUSD | "
        f"PnL {t['pnl']} pUSD (realized {t['realized']}, unrealized {t['unrealized']}, "
        f"fees {t['fees']}; {settled}){halted}"
    )


def _snapshot(node: TradingNode, start_equity: int | None) -> dict[str, Any]:
    snap = console_state(node, node.console_feed)
    if start_equity is not None and snap["trading"] is not None and node.core is not None:
        engine = node.core.engine
        if engine is not None:
            snap["trading"]["pnl"] = fmt(engine.state.equity() - start_equity, 2)
    return snap


def render(node: TradingNode, start_equity: int | None = None) -> RenderableType:
    """The whole view as one rich renderable (PnL since ``start_equity``, by default the
    equity the node started with)."""
    snap = _snapshot(node, start_equity)
    return Group(_header(snap), _matches(snap), _markets(snap), _orders(snap), _totals(snap))


def plain_line(node: TradingNode, start_equity: int | None = None) -> str:
    """One compact status line (for logs and CI)."""
    snap = _snapshot(node, start_equity)
    parts = [f"{_duration(snap['elapsed_s'])}"]
    parts += [
        f"{m['match_id']} {m['state']} {m['score_a']}-{m['score_b']}"
        for m in snap["matches"]
        if "team_a" in m
    ]
    return " | ".join([*parts, _totals(snap).plain])


async def run_view(
    node: TradingNode,
    console: Console,
    *,
    start_equity: int | None = None,
    refresh_s: float = 0.25,
    plain_every_s: float = 5.0,
    live: bool | None = None,
) -> None:
    """Show the view until cancelled (``live=None``: live on a terminal, else plain lines);
    a last frame is drawn when cancelled."""
    use_live = console.is_terminal if live is None else live
    if not use_live:
        try:
            while True:
                console.print(plain_line(node, start_equity), markup=False, highlight=False)
                await asyncio.sleep(plain_every_s)
        except asyncio.CancelledError:
            console.print(plain_line(node, start_equity), markup=False, highlight=False)
            raise
    with Live(render(node, start_equity), console=console, auto_refresh=False) as screen:
        try:
            while True:
                await asyncio.sleep(refresh_s)
                screen.update(render(node, start_equity), refresh=True)
        except asyncio.CancelledError:
            screen.update(render(node, start_equity), refresh=True)
            raise
