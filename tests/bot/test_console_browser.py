"""The web console in a real browser (Playwright driving the system's Chromium).

A real bot process — ``polyloly demo --fast``: the local exchange and esports simulators
and the whole bot, live against them — serves the console on its control server. The
browser signs in with the control token, watches a match go LIVE and then FINAL and a
fill appear, halts trading from the page (with a reason, after a confirmation) and checks
on the exchange that no order arrives while halted, then resumes and cancels all.

Chromium is Debian's package (``make test`` installs it; Playwright's own browser
download is not used). Set ``POLYLOLY_CONSOLE_SCREENSHOT=path.png`` to save a screenshot
of the console (the README's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Page, async_playwright, expect
from tests.bot.cli_process import spawn
from tests.chromium import ARGS, CHROMIUM, needs_chromium

TOKEN = "browser-test-token-0123456789"  # a test token, not a real credential
REASON = "operator test: books look wrong"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120), needs_chromium]


@dataclass(slots=True)
class Bot:
    """The running demo process and what it printed."""

    proc: asyncio.subprocess.Process
    console: str = ""
    exchange: str = ""
    lines: list[str] = field(default_factory=list)


async def _read(bot: Bot, found: asyncio.Event) -> None:
    assert bot.proc.stderr is not None
    while raw := await bot.proc.stderr.readline():
        line = raw.decode()
        bot.lines.append(line)
        if m := re.search(r"web console on (http://\S+/console)", line):
            bot.console = m.group(1)
        if m := re.search(r"exchange simulator on (http://[^\s,]+)", line):
            bot.exchange = m.group(1)
        if bot.console and bot.exchange:
            found.set()


@pytest_asyncio.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    proc = await spawn(
        "demo", "--fast", "--view", "none", "--out", str(tmp_path / "run"),
        "--set", f"control.token={TOKEN}",
        cwd=tmp_path,
    )  # fmt: skip
    running = Bot(proc)
    found = asyncio.Event()
    reader = asyncio.get_running_loop().create_task(_read(running, found))
    try:
        async with asyncio.timeout(40):
            await found.wait()
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _get(url: str, **kwargs: Any) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url, **kwargs) as reply:
        assert reply.status == 200, (url, reply.status)
        return json.loads(await reply.text())


async def _exchange_orders(bot: Bot, address: str) -> list[dict[str, object]]:
    orders = await _get(f"{bot.exchange}/sim/orders", params={"address": address})
    assert isinstance(orders, list)
    return orders


async def _status(bot: Bot) -> dict[str, object]:
    base = bot.console.removesuffix("/console")
    reply = await _get(f"{base}/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert isinstance(reply, dict)
    status = reply["status"]
    assert isinstance(status, dict)
    return status


@pytest.mark.asyncio
async def test_the_console_follows_the_bot_and_halts_it(bot: Bot) -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await _sign_in(page, bot)
            await _watch(page, bot)
            await _halt_and_check_the_exchange(page, bot)
            await _resume_and_cancel_all(page)
            await expect(page.locator("#matches td.state-FINAL").first).to_be_visible(
                timeout=40_000
            )
            shot = os.environ.get("POLYLOLY_CONSOLE_SCREENSHOT")
            if shot:
                await page.screenshot(path=shot)
        finally:
            await browser.close()


async def _sign_in(page: Page, bot: Bot) -> None:
    answer = await page.goto(bot.console)
    assert answer.status == 401  # no data without the token: a sign-in form
    await page.fill("#token", "not-the-token-at-all")
    await page.click("button[type=submit]")
    await expect(page.locator(".err")).to_have_text("wrong token")
    await page.fill("#token", TOKEN)
    await page.click("button[type=submit]")
    await expect(page.locator("#link")).to_have_text("live", timeout=10_000)
    assert not re.search(TOKEN, page.url)


async def _watch(page: Page, bot: Bot) -> None:
    live = page.locator("#matches td.state-LIVE").first
    await expect(live).to_be_visible(timeout=30_000)
    fill = page.locator("#fills tr[data-trade]").first
    await expect(fill).to_be_visible(timeout=30_000)
    await expect(page.locator("#switch")).to_have_text("TRADING")
    await expect(page.locator("#feeds [data-feed]").first).to_be_visible()
    markets = page.locator("#markets tr[data-market]")
    assert await markets.count() >= 2


async def _halt_and_check_the_exchange(page: Page, bot: Bot) -> None:
    await page.click("#halt")
    dialog = page.locator("#confirm")
    await expect(dialog).to_be_visible()
    await expect(page.locator("#confirm-title")).to_have_text("Halt trading")
    await page.click("#confirm-ok")
    await expect(dialog).to_be_visible()  # a halt needs a reason: the form refuses to close
    await page.fill("#confirm-reason", REASON)
    await page.click("#confirm-ok")
    await expect(page.locator("#switch")).to_have_text("HALTED", timeout=10_000)
    await expect(page.locator("#halt-banner")).to_contain_text(REASON)
    status = await _status(bot)
    assert status["halt_reason"] == f"manual halt ({REASON})"
    address = status["account"]
    assert isinstance(address, str)
    await asyncio.sleep(0.5)  # an order already on its way when the halt landed
    before = await _exchange_orders(bot, address)
    assert before, "the bot placed no order before the halt"
    await asyncio.sleep(4.0)  # the games go on: the strategies would trade
    after = await _exchange_orders(bot, address)
    assert len(after) == len(before), "an order reached the exchange while halted"
    assert not [o for o in after if o.get("status") == "LIVE"], "the halt left an order resting"


async def _resume_and_cancel_all(page: Page) -> None:
    await page.click("#resume")
    await expect(page.locator("#confirm-reason")).to_be_hidden()
    await page.click("#confirm-ok")
    await expect(page.locator("#switch")).to_have_text("TRADING", timeout=10_000)
    await page.click("#cancel-all")
    await page.click("#confirm-ok")
    await expect(page.locator("#notice")).to_have_text("Cancel all orders: sent")
    alerts = page.locator("#alerts")
    await expect(alerts).to_contain_text("operator: cancel_all")
    await expect(alerts).to_contain_text("trading resumed")
