"""The on-chain port against a real chain: merge, redeem, allowances, a lost reply.

Every balance is read from the chain. The pair is bought at the exchange stand-in
(``SimExchange.settle``), the contract the local exchange simulator settles through, with
the same allowances the CTF Exchange V2 needs.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp import web

from polyloly.adapters.polymarket.ctf import EoaSender, OnChainCtf, connect
from polyloly.runtime.errors import RejectError, RetryableError, UnknownOutcomeError
from polyloly.sim.chain.deploy import LocalChain, Market

from .conftest import ONE, Wallet, chain_config, new_wallet

pytestmark = pytest.mark.asyncio


def port_of(
    chain: LocalChain, wallet: Wallet, market: Market, rpc_url: str | None = None, **kw: Any
) -> OnChainCtf:
    config = chain_config(chain, rpc_url, **kw)
    w3 = connect(config)
    sender = EoaSender.of(w3, wallet.key, config)
    return OnChainCtf(w3, config, sender, tokens_of=lambda cid: (market.yes_token, market.no_token))


async def buy_pair(chain: LocalChain, wallet: Wallet, market: Market, size: int) -> None:
    """Buy ``size`` YES at 0.47 and ``size`` NO at 0.50 at the exchange stand-in."""
    await chain.stock(market, 10_000 * ONE)
    await chain.settle(
        wallet.address, market.yes_token, buy=True, shares=size, cash=size * 47 // 100
    )
    await chain.settle(
        wallet.address, market.no_token, buy=True, shares=size, cash=size * 50 // 100
    )


async def test_merge_a_bought_pair_on_chain(chain: LocalChain) -> None:
    wallet = await new_wallet(chain)
    market = await chain.new_market("T1 vs GEN, game 1")
    ctf = port_of(chain, wallet, market)
    assert await ctf.approve_missing()  # pUSD and CTF approvals for the exchanges and adapters
    assert all(s.ok for s in await ctf.read())
    size = 25 * ONE
    await buy_pair(chain, wallet, market, size)
    before = await ctf.balances([market.yes_token, market.no_token])
    assert before.tokens == {market.yes_token: size, market.no_token: size}
    started = time.perf_counter()
    result = await ctf.merge(market.condition_id, size)
    elapsed = time.perf_counter() - started
    after = await ctf.balances([market.yes_token, market.no_token])
    assert after.collateral == before.collateral + size
    assert after.tokens == {market.yes_token: 0, market.no_token: 0}
    receipt = await chain.w3.eth.get_transaction_receipt(result.transaction_hash)  # type: ignore[arg-type]
    assert receipt["status"] == 1
    assert receipt["from"] == wallet.address
    assert ctf.last is not None
    assert ctf.last.gas_used == receipt["gasUsed"]
    print(f"merge: gas {ctf.last.gas_used}, {elapsed * 1000:.0f} ms")  # noqa: T201


async def test_redeem_a_resolved_winner(chain: LocalChain) -> None:
    wallet = await new_wallet(chain)
    market = await chain.new_market("Spirit vs Falcons, map 2")
    ctf = port_of(chain, wallet, market)
    await ctf.approve_missing()
    await chain.stock(market, 1_000 * ONE)
    await chain.settle(wallet.address, market.yes_token, buy=True, shares=40 * ONE, cash=20 * ONE)
    await chain.settle(wallet.address, market.no_token, buy=True, shares=10 * ONE, cash=5 * ONE)
    with pytest.raises(RetryableError, match="not resolved"):
        await ctf.redeem(market.condition_id)
    await chain.resolve(market, winner_index=0)  # YES wins
    before = await ctf.balances([])
    result = await ctf.redeem(market.condition_id)
    after = await ctf.balances([market.yes_token, market.no_token])
    assert result.payout == 40 * ONE == after.collateral - before.collateral
    assert result.burned == {market.yes_token: 40 * ONE, market.no_token: 10 * ONE}
    assert after.tokens == {market.yes_token: 0, market.no_token: 0}
    assert result.transaction_hash.startswith("0x")
    assert ctf.last is not None
    print(f"redeem: gas {ctf.last.gas_used}")  # noqa: T201


async def test_missing_allowance_is_named(chain: LocalChain) -> None:
    wallet = await new_wallet(chain)
    market = await chain.new_market("G2 vs FNC")
    ctf = port_of(chain, wallet, market)
    missing = [s.label for s in await ctf.read() if not s.ok]
    assert "CTF setApprovalForAll → adapter" in missing
    assert "pUSD approve → exchange" in missing
    assert len(missing) == 8
    # a buy at the exchange needs the pUSD allowance: the chain refuses it
    await chain.stock(market, 100 * ONE)
    with pytest.raises(Exception, match="insufficient allowance"):
        await chain.settle(wallet.address, market.yes_token, buy=True, shares=ONE, cash=ONE // 2)
    # a merge without the CTF operator approval is refused before anything is sent
    nonce = await chain.w3.eth.get_transaction_count(wallet.address)
    with pytest.raises(RejectError, match=r"missing allowance CTF setApprovalForAll → adapter"):
        await ctf.merge(market.condition_id, ONE)
    assert await chain.w3.eth.get_transaction_count(wallet.address) == nonce


class LossyRpc:
    """A loopback JSON-RPC proxy in front of anvil that loses the reply to a send.

    ``mode`` "reply": the transaction is forwarded, the reply dropped (the connection is cut);
    "request": the transaction is dropped before it reaches the node, and so is the reply.
    Counts every ``eth_sendRawTransaction`` that reached the node.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode = ""
        self.forwarded_sends = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/", self.handle)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        is_send = json.loads(body).get("method") == "eth_sendRawTransaction"
        if is_send and self.mode == "request":
            self.mode = ""
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        reader, writer = await asyncio.open_connection(
            *self.upstream.removeprefix("http://").split(":")
        )
        head = (
            f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        writer.write(head + body)
        await writer.drain()
        raw = await reader.read()
        writer.close()
        if is_send:
            self.forwarded_sends += 1
        if is_send and self.mode == "reply":
            self.mode = ""
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        payload = raw.split(b"\r\n\r\n", 1)[1]
        return web.Response(body=payload, content_type="application/json")


async def test_lost_reply_is_looked_up_not_resent(chain: LocalChain) -> None:
    wallet = await new_wallet(chain)
    market = await chain.new_market("NaVi vs Vitality")
    proxy = LossyRpc(chain.deployment.rpc_url)
    await proxy.start()
    try:
        ctf = port_of(chain, wallet, market, rpc_url=proxy.url)
        await ctf.approve_missing()
        size = 10 * ONE
        await buy_pair(chain, wallet, market, size)
        before = await ctf.balances([market.yes_token, market.no_token])
        sends = proxy.forwarded_sends
        proxy.mode = "reply"
        result = await ctf.merge(market.condition_id, size)
        assert proxy.forwarded_sends == sends + 1  # sent once, never again
        assert ctf.last is not None
        assert ctf.last.looked_up
        after = await ctf.balances([market.yes_token, market.no_token])
        assert after.collateral == before.collateral + size
        assert after.tokens == {market.yes_token: 0, market.no_token: 0}
        receipt = await chain.w3.eth.get_transaction_receipt(result.transaction_hash)  # type: ignore[arg-type]
        assert receipt["status"] == 1
    finally:
        await proxy.stop()


async def test_lost_request_is_unknown_and_not_resent(chain: LocalChain) -> None:
    wallet = await new_wallet(chain)
    market = await chain.new_market("Liquid vs Tundra")
    proxy = LossyRpc(chain.deployment.rpc_url)
    await proxy.start()
    try:
        ctf = port_of(chain, wallet, market, rpc_url=proxy.url)
        await ctf.approve_missing()
        size = 10 * ONE
        await buy_pair(chain, wallet, market, size)
        before = await ctf.balances([market.yes_token, market.no_token])
        sends = proxy.forwarded_sends
        nonce = await chain.w3.eth.get_transaction_count(wallet.address)
        proxy.mode = "request"
        with pytest.raises(UnknownOutcomeError, match="not found by its hash"):
            await ctf.merge(market.condition_id, size)
        assert proxy.forwarded_sends == sends  # never reached the node, and not resent
        assert await chain.w3.eth.get_transaction_count(wallet.address) == nonce
        # reconciliation reads the chain: nothing happened, the pairs are still held
        assert await ctf.balances([market.yes_token, market.no_token]) == before
        # the next merge re-reads the nonce from the chain and goes through
        await ctf.merge(market.condition_id, size)
        after = await ctf.balances([market.yes_token, market.no_token])
        assert after.collateral == before.collateral + size
    finally:
        await proxy.stop()
