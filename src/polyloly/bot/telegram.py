"""Operator commands from a phone: a Telegram bot (python-telegram-bot, long polling).

Commands, answered in plain text:

* ``/status`` — mode, time running, kill switch (and its reason), equity and PnL, open
  orders, fills, feeds;
* ``/pnl`` — PnL since start split into realized, unrealized and fees, today's PnL;
* ``/positions`` — every position held, per market and outcome, in shares with its PnL;
* ``/halt <reason>`` — stop trading (the kill switch's manual latch, with the reason);
* ``/resume`` — clear the latch;
* ``/cancelall`` — cancel every open order;
* ``/help`` — the list.

Only the chats in ``telegram.chat_ids`` (else ``alerts.telegram_chat_id``) are answered;
a message from any other chat is ignored, counted (:attr:`TelegramCommands.ignored`) and
logged with its chat id. The Bot API's address is ``telegram.api_url`` (Telegram's by
default), so the tests run against a local stand-in of the Bot API on loopback.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Final

import structlog
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes, filters
from telegram.ext import MessageHandler as _MessageHandler

from polyloly.bot.logging import register_secret
from polyloly.runtime.errors import ConfigError

if TYPE_CHECKING:
    from polyloly.bot.control import ControlTarget
    from polyloly.bot.settings import Settings

__all__ = ["TELEGRAM_API", "TelegramCommands", "start_telegram"]

TELEGRAM_API: Final = "https://api.telegram.org"
_MAX_REASON: Final = 500
_MAX_LINES: Final = 40
_HELP: Final = (
    "/status — mode, kill switch, equity, PnL, orders\n"
    "/pnl — PnL since start: realized, unrealized, fees\n"
    "/positions — positions held, in shares, with PnL\n"
    "/halt <reason> — stop trading (cancels everything)\n"
    "/resume — clear the halt\n"
    "/cancelall — cancel every open order"
)

_log = structlog.get_logger(__name__)

Snapshot = Callable[[], Mapping[str, Any]]


def _duration(seconds: int) -> str:
    h, rest = divmod(max(int(seconds), 0), 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def status_text(snap: Mapping[str, Any]) -> str:
    """``/status``: one fact a line."""
    lines = [f"polyloly {snap.get('mode', '?')}, running {_duration(snap.get('elapsed_s', 0))}"]
    if snap.get("halted"):
        lines.append(f"HALTED: {snap.get('halt_reason')}")
    else:
        lines.append("trading")
    t = snap.get("trading")
    if t:
        lines.append(f"equity {t['equity']} pUSD, PnL {t['pnl']} pUSD since start")
        fills = ", ".join(f"{k} {v}" for k, v in sorted(t["fills_by_strategy"].items()))
        lines.append(f"open orders {t['open_orders']}; fills {fills or 'none'}")
        lines.append(f"markets settled {t['markets_resolved']}/{len(snap.get('markets', []))}")
    lines += [
        f"{m['match_id']}: {m['state']} {m['team_a']} {m['score_a']}-{m['score_b']} "
        f"{m['team_b']} ({m['confidence']})"
        for m in snap.get("matches", [])
        if "team_a" in m
    ]
    return "\n".join(lines[:_MAX_LINES])


def pnl_text(snap: Mapping[str, Any]) -> str:
    """``/pnl``."""
    t = snap.get("trading")
    if not t:
        return "not trading (recording)"
    return (
        f"PnL since start {t['pnl']} pUSD\n"
        f"realized {t['realized']}, unrealized {t['unrealized']}, fees {t['fees']}\n"
        f"equity {t['equity']} pUSD (at start {t['equity_start']})\n"
        f"markets settled {t['markets_resolved']}/{len(snap.get('markets', []))}"
    )


def positions_text(snap: Mapping[str, Any]) -> str:
    """``/positions``: every outcome held (shares, confirmed + pending) with its PnL."""
    lines = []
    for market in snap.get("markets", []):
        for outcome in market.get("outcomes", []):
            p = outcome.get("position")
            if not p or p["shares"] == "0.00":
                continue
            pending = f" (+{p['pending']} pending)" if p["pending"] != "0.00" else ""
            lines.append(
                f"{market['name']} {outcome['team']}: {p['confirmed']}{pending} shares "
                f"at {p['avg_cost']}, PnL {p['pnl']} pUSD"
            )
    return "\n".join(lines[:_MAX_LINES]) or "no position"


class TelegramCommands:
    """The Telegram bot that takes the operator's commands (see the module docstring).

    Parameters
    ----------
    target
        What the commands drive (the node: ``halt``, ``resume``, ``cancel_all``).
    snapshot
        The state the answers read (the web console's snapshot).
    token
        The bot's token.
    chat_ids
        The chats allowed to command.
    api_url
        The Bot API's root (``https://api.telegram.org``, or a local stand-in).
    poll_timeout_s
        How long one ``getUpdates`` waits for news.
    """

    def __init__(
        self,
        target: ControlTarget,
        snapshot: Snapshot,
        token: str,
        chat_ids: tuple[int, ...],
        *,
        api_url: str = TELEGRAM_API,
        poll_timeout_s: float = 10.0,
    ) -> None:
        if not chat_ids:
            raise ValueError("telegram.chat_ids: needs at least one chat id")
        register_secret(token)
        self.target = target
        self.snapshot = snapshot
        self.chat_ids = chat_ids
        self.poll_timeout_s = poll_timeout_s
        self.ignored = 0
        """Messages from chats that may not command the bot."""
        self.handled: dict[str, int] = {}
        """Commands answered, by name."""
        root = api_url.rstrip("/")
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(token)
            .base_url(f"{root}/bot")
            .base_file_url(f"{root}/file/bot")
            .get_updates_read_timeout(poll_timeout_s + 5)
            .build()
        )
        allowed = filters.Chat(chat_id=list(chat_ids))
        commands: dict[str, Callable[[Update, list[str]], Awaitable[str]]] = {
            "start": self._help,
            "help": self._help,
            "status": self._status,
            "pnl": self._pnl,
            "positions": self._positions,
            "halt": self._halt,
            "resume": self._resume,
            "cancelall": self._cancel_all,
        }
        for name, answer in commands.items():
            self.app.add_handler(CommandHandler(name, self._answering(name, answer), allowed))
        self.app.add_handler(_MessageHandler(~allowed, self._ignore), group=1)

    def _answering(
        self, name: str, answer: Callable[[Update, list[str]], Awaitable[str]]
    ) -> Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
        async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            message = update.effective_message
            if message is None:
                return
            try:
                text = await answer(update, list(context.args or []))
            except Exception as exc:  # the operator gets the failure, the bot keeps running
                _log.error("telegram.failed", command=name, error=f"{type(exc).__name__}: {exc}")
                text = f"/{name} failed: {type(exc).__name__}"
            self.handled[name] = self.handled.get(name, 0) + 1
            await message.reply_text(text)

        return handle

    async def _ignore(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        self.ignored += 1
        _log.warning("telegram.ignored", chat_id=chat.id if chat is not None else None)

    @staticmethod
    async def _done(result: Awaitable[None] | None) -> None:
        if inspect.isawaitable(result):
            await result

    async def _help(self, _update: Update, _args: list[str]) -> str:
        return _HELP

    async def _status(self, _update: Update, _args: list[str]) -> str:
        return status_text(self.snapshot())

    async def _pnl(self, _update: Update, _args: list[str]) -> str:
        return pnl_text(self.snapshot())

    async def _positions(self, _update: Update, _args: list[str]) -> str:
        return positions_text(self.snapshot())

    async def _halt(self, update: Update, args: list[str]) -> str:
        reason = " ".join(args).strip()[:_MAX_REASON]
        if not reason:
            return "usage: /halt <reason>"
        chat = update.effective_chat
        _log.info("telegram.halt", reason=reason, chat_id=chat.id if chat else None)
        await self._done(self.target.halt(f"telegram: {reason}"))
        return f"halt sent: {reason}"

    async def _resume(self, update: Update, _args: list[str]) -> str:
        chat = update.effective_chat
        _log.info("telegram.resume", chat_id=chat.id if chat else None)
        await self._done(self.target.resume())
        return "resume sent"

    async def _cancel_all(self, update: Update, _args: list[str]) -> str:
        chat = update.effective_chat
        _log.info("telegram.cancel_all", chat_id=chat.id if chat else None)
        await self._done(self.target.cancel_all())
        return "cancel-all sent"

    async def start(self) -> None:
        """Reach the Bot API (``getMe``) and start polling; raises if it is unreachable."""
        await self.app.initialize()
        await self.app.start()
        updater = self.app.updater
        assert updater is not None  # noqa: S101  (the builder makes one)
        await updater.start_polling(
            timeout=int(self.poll_timeout_s), allowed_updates=["message"], bootstrap_retries=0
        )

    async def stop(self) -> None:
        """Stop polling (an open ``getUpdates`` is cancelled) and close the client."""
        updater = self.app.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()


async def start_telegram(
    settings: Settings,
    target: ControlTarget,
    snapshot: Snapshot,
    say: Callable[[str], None],
) -> TelegramCommands | None:
    """Start the Telegram commands when ``telegram.enabled`` (else ``None``)."""
    cfg = settings.telegram
    token = cfg.token(settings.alerts)
    if not cfg.enabled or token is None:
        return None
    bot = TelegramCommands(
        target,
        snapshot,
        token,
        cfg.chats(settings.alerts),
        api_url=cfg.api_url or TELEGRAM_API,
        poll_timeout_s=cfg.poll_timeout_s,
    )
    say(f"telegram commands for chats {', '.join(map(str, bot.chat_ids))}")
    try:
        await bot.start()
    except InvalidToken as exc:
        await bot.stop()
        raise ConfigError("telegram.bot_token: refused by the Bot API") from exc
    except TelegramError as exc:  # the Bot API is down: trade on, say so
        await bot.stop()
        _log.warning("telegram.unavailable", error=f"{type(exc).__name__}: {exc}")
        say(f"warning: telegram commands unavailable ({type(exc).__name__}: {exc})")
        return None
    return bot
