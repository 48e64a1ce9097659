"""Telegram commands against a local stand-in of the Bot API, over loopback.

python-telegram-bot long-polls the stand-in (``telegram.api_url``); the commands drive a
recording target and read a fixed snapshot. Only the configured chats are answered;
every other chat is ignored and counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from tests.bot.telegram_standin import BotApiStandIn

from polyloly.bot.telegram import TelegramCommands

TOKEN = "123456:test-telegram-token-abcdefghij"  # a test token, not a real credential
OPERATOR = 4242
STRANGER = 9999

SNAPSHOT: dict[str, Any] = {
    "mode": "paper",
    "elapsed_s": 3725,
    "halted": False,
    "halt_reason": None,
    "matches": [
        {
            "match_id": "lol-t1-geng",
            "state": "LIVE",
            "team_a": "t1",
            "team_b": "geng",
            "score_a": 1,
            "score_b": 0,
            "confidence": "0%",
        }
    ],
    "markets": [
        {
            "name": "lol-t1-geng game 2",
            "outcomes": [
                {
                    "team": "t1",
                    "position": {
                        "shares": "46.00",
                        "confirmed": "40.00",
                        "pending": "6.00",
                        "avg_cost": "0.540",
                        "pnl": "-1.20",
                    },
                },
                {"team": "geng", "position": {"shares": "0.00", "pending": "0.00"}},
            ],
        }
    ],
    "trading": {
        "equity": "10012.50",
        "equity_start": "10000.00",
        "pnl": "12.50",
        "realized": "10.00",
        "unrealized": "4.00",
        "fees": "1.50",
        "open_orders": 1,
        "fills_by_strategy": {"pair_arb": 3},
        "markets_resolved": 0,
    },
}


class Target:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def status(self) -> Mapping[str, Any]:
        return {}

    def halt(self, reason: str) -> None:
        self.calls.append(f"halt:{reason}")

    async def resume(self) -> None:
        self.calls.append("resume")

    def cancel_all(self) -> None:
        self.calls.append("cancel_all")


@pytest_asyncio.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    standin = BotApiStandIn(TOKEN)
    await standin.start()
    yield standin
    await standin.stop()


@pytest_asyncio.fixture
async def bot(api: BotApiStandIn) -> AsyncIterator[tuple[TelegramCommands, Target]]:
    target = Target()
    commands = TelegramCommands(
        target, lambda: SNAPSHOT, TOKEN, (OPERATOR,), api_url=api.url, poll_timeout_s=2
    )
    await commands.start()
    yield commands, target
    await commands.stop()


@pytest.mark.asyncio
async def test_each_command_answers_the_operator(
    api: BotApiStandIn, bot: tuple[TelegramCommands, Target]
) -> None:
    commands, target = bot
    for text in (
        "/status",
        "/pnl",
        "/positions",
        "/halt spreads blew out",
        "/resume",
        "/cancelall",
    ):
        await api.say(OPERATOR, text)
    answers = await api.answers(6)
    assert {a.chat_id for a in answers} == {OPERATOR}
    status, pnl, positions, halt, resume, cancel = (a.text for a in answers)
    assert "polyloly paper, running 1h02m05s" in status
    assert "equity 10012.50 pUSD, PnL 12.50 pUSD since start" in status
    assert "lol-t1-geng: LIVE t1 1-0 geng" in status
    assert "realized 10.00, unrealized 4.00, fees 1.50" in pnl
    assert (
        positions == "lol-t1-geng game 2 t1: 40.00 (+6.00 pending) shares at 0.540, PnL -1.20 pUSD"
    )
    assert halt == "halt sent: spreads blew out"
    assert resume == "resume sent"
    assert cancel == "cancel-all sent"
    assert target.calls == ["halt:telegram: spreads blew out", "resume", "cancel_all"]
    assert commands.handled == {
        "status": 1, "pnl": 1, "positions": 1, "halt": 1, "resume": 1, "cancelall": 1,
    }  # fmt: skip
    assert commands.ignored == 0


@pytest.mark.asyncio
async def test_other_chats_are_ignored_and_counted(
    api: BotApiStandIn, bot: tuple[TelegramCommands, Target]
) -> None:
    commands, target = bot
    await api.say(STRANGER, "/halt let me in")
    await api.say(STRANGER, "/status")
    await api.say(STRANGER, "hello")
    await api.say(OPERATOR, "/status")  # answered after the three: they were seen and dropped
    (answer,) = await api.answers(1)
    assert answer.chat_id == OPERATOR
    assert commands.ignored == 3
    assert target.calls == []
    assert [a.chat_id for a in api.sent] == [OPERATOR]


@pytest.mark.asyncio
async def test_halt_needs_a_reason(
    api: BotApiStandIn, bot: tuple[TelegramCommands, Target]
) -> None:
    _, target = bot
    await api.say(OPERATOR, "/halt")
    (answer,) = await api.answers(1)
    assert answer.text == "usage: /halt <reason>"
    assert target.calls == []


@pytest.mark.asyncio
async def test_a_wrong_token_stops_start_up(api: BotApiStandIn) -> None:
    from telegram.error import InvalidToken

    commands = TelegramCommands(
        Target(), lambda: SNAPSHOT, "999:wrong-token-abcdefghijkl", (OPERATOR,), api_url=api.url
    )
    with pytest.raises(InvalidToken):
        await commands.start()
    await commands.stop()
    assert api.calls == ["getMe"]


@pytest.mark.asyncio
async def test_a_running_node_obeys_its_telegram_chat(api: BotApiStandIn, tmp_path: Path) -> None:
    from tests.bot.test_app import options, settings_for, until

    from polyloly.bot.app import TradingNode
    from polyloly.sim.exchange import ExchangeSimulator, SimConfig
    from polyloly.sim.exchange.scenarios import bo3_markets

    exchange = ExchangeSimulator(SimConfig(seed=3))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-test", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        exchange.add_market(spec)
    await exchange.start()
    settings = settings_for(
        exchange,
        tmp_path,
        **{
            "telegram.enabled": True,
            "telegram.bot_token": TOKEN,
            "telegram.chat_ids": [OPERATOR],
            "telegram.api_url": api.url,
            "telegram.poll_timeout_s": 2,
        },
    )
    node = TradingNode(settings, options(tmp_path))
    try:
        await node.start()
        assert node.telegram is not None
        await api.say(STRANGER, "/halt not yours")
        await api.say(OPERATOR, "/halt books look wrong")
        await api.answers(1)
        await until(lambda: node.engine.state.halted is not None)
        assert node.engine.state.halted == "manual_halt: manual halt (telegram: books look wrong)"
        assert node.telegram.ignored == 1
        assert node.metrics is not None
        exported = node.metrics.render().decode()
        assert 'polyloly_operator_refused_total{channel="telegram"} 1.0' in exported
        assert 'polyloly_operator_refused_total{channel="control"} 0.0' in exported
        await api.say(OPERATOR, "/status")
        status = (await api.answers(2))[1].text
        assert "HALTED: manual_halt: manual halt (telegram: books look wrong)" in status
        assert "polyloly live" in status
        await api.say(OPERATOR, "/resume")
        await api.answers(3)
        await until(lambda: node.engine.state.halted is None)
    finally:
        await node.stop()
        await exchange.stop()
    assert "getUpdates" in api.calls
