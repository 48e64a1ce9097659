"""The unmodified py-clob-client-v2 trades against the simulator over loopback.

The client is synchronous, so each scenario runs it in a thread (``asyncio.to_thread``)
while the simulator serves on the test's event loop.
"""

from __future__ import annotations

import asyncio

import pytest
from eth_account import Account
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import (
    ApiCreds,
    AssetType,
    BalanceAllowanceParams,
    BookParams,
    MarketOrderArgsV2,
    OpenOrderParams,
    OrderArgsV2,
    OrderMarketCancelParams,
    OrderPayload,
    OrderType,
    PartialCreateOrderOptions,
    PostOrdersV2Args,
    TradeParams,
)
from py_clob_client_v2.exceptions import PolyApiException
from tests.sim.exchange.conftest import KEY_1, KEY_2, Env

from polyloly.domain.events import Side
from polyloly.sim.exchange.accounts import COLLATERAL

pytestmark = pytest.mark.asyncio

ADDRESS_1 = Account.from_key(KEY_1).address


def _error(exc: PolyApiException) -> str:
    message = exc.error_msg
    return message.get("error", "") if isinstance(message, dict) else str(message)


async def test_create_and_derive_api_key(env: Env) -> None:
    def flow() -> tuple[ApiCreds, ApiCreds, ApiCreds]:
        client = ClobClient(env.sim.http_url, 137, key=KEY_1)
        created = client.create_api_key()
        derived = client.derive_api_key()
        again = client.create_or_derive_api_key()  # create fails, derive answers
        return created, derived, again

    created, derived, again = await asyncio.to_thread(flow)
    assert created == derived == again
    assert len(created.api_key) == 36
    assert env.sim.balances(ADDRESS_1)[COLLATERAL] == env.sim.config.starting_balance


async def test_gtc_gtd_post_only_orders_books_and_queries(env: Env) -> None:
    env.sim.place_resting(env.yes, Side.SELL, 600_000, 50_000_000)
    expiration = env.clock.now_ns() // 1_000_000_000 + 3_600

    def flow() -> dict[str, object]:
        c = env.client()
        out: dict[str, object] = {}
        out["gtc"] = c.create_and_post_order(
            OrderArgsV2(token_id=env.yes, price=0.55, size=10, side="BUY")
        )
        gtd_order = c.create_order(
            OrderArgsV2(token_id=env.yes, price=0.54, size=20, side="BUY", expiration=expiration)
        )
        out["gtd"] = c.post_order(gtd_order, OrderType.GTD)
        try:
            c.post_order(
                c.create_order(OrderArgsV2(token_id=env.yes, price=0.6, size=5, side="BUY")),
                OrderType.GTC,
                post_only=True,
            )
        except PolyApiException as exc:
            out["post_only"] = _error(exc)
        out["maker"] = c.post_order(
            c.create_order(OrderArgsV2(token_id=env.yes, price=0.53, size=5, side="BUY")),
            OrderType.GTC,
            post_only=True,
        )
        out["book"] = c.get_order_book(env.yes)
        out["books"] = c.get_order_books([BookParams(token_id=env.yes)])
        out["open"] = c.get_open_orders(OpenOrderParams(asset_id=env.yes))
        out["one"] = c.get_order(out["gtc"]["orderID"])  # type: ignore[index]
        out["mid"] = c.get_midpoint(env.yes)
        out["price"] = c.get_price(env.yes, "BUY")
        out["tick"] = c.get_tick_size(env.yes)
        out["neg"] = c.get_neg_risk(env.yes)
        out["hash"] = c.get_order_book_hash(dict(out["book"]))  # type: ignore[call-overload]
        return out

    out = await asyncio.to_thread(flow)
    assert out["gtc"]["status"] == "live"  # type: ignore[index]
    assert out["gtd"]["status"] == "live"  # type: ignore[index]
    assert out["post_only"] == "invalid post-only order: order crosses book"
    assert out["maker"]["success"] is True  # type: ignore[index]
    book = out["book"]
    assert book["bids"][-1] == {"price": "0.55", "size": "10"}  # type: ignore[index]
    assert [b["price"] for b in book["bids"]] == ["0.53", "0.54", "0.55"]  # type: ignore[index]
    assert book["asks"] == [{"price": "0.6", "size": "50"}]  # type: ignore[index]
    assert out["hash"] == book["hash"]  # type: ignore[index]
    assert out["books"] == [book] or out["books"][0]["bids"] == book["bids"]  # type: ignore[index]
    assert {o["order_type"] for o in out["open"]} == {"GTC", "GTD"}  # type: ignore[attr-defined]
    assert out["one"]["status"] == "LIVE"  # type: ignore[index]
    assert out["mid"] == {"mid": "0.575"}
    assert out["price"] == {"price": "0.55"}
    assert out["tick"] == "0.01"
    assert out["neg"] is False


async def test_fok_fak_and_market_orders(env: Env) -> None:
    env.sim.place_resting(env.yes, Side.SELL, 500_000, 20_000_000)
    env.sim.place_resting(env.yes, Side.SELL, 520_000, 20_000_000)

    def flow() -> dict[str, object]:
        c = env.client()
        out: dict[str, object] = {}
        try:
            c.create_and_post_market_order(
                MarketOrderArgsV2(token_id=env.yes, amount=100, side="BUY", price=0.52),
                order_type=OrderType.FOK,
            )
        except PolyApiException as exc:
            out["killed"] = _error(exc)
        out["fok"] = c.create_and_post_market_order(
            MarketOrderArgsV2(token_id=env.yes, amount=5, side="BUY"), order_type=OrderType.FOK
        )
        out["fak"] = c.post_order(
            c.create_order(OrderArgsV2(token_id=env.yes, price=0.52, size=100, side="BUY")),
            OrderType.FAK,
        )
        out["trades"] = c.get_trades()
        return out

    out = await asyncio.to_thread(flow)
    assert out["killed"] == (
        "order couldn't be fully filled. FOK orders are fully filled or killed."
    )
    fok = out["fok"]
    assert fok["status"] == "matched"  # type: ignore[index]
    assert fok["makingAmount"] == "5"  # type: ignore[index]
    assert fok["takingAmount"] == "10"  # type: ignore[index]
    assert fok["transactionsHashes"]  # type: ignore[index]
    fak = out["fak"]
    assert fak["status"] == "matched"  # type: ignore[index]
    assert fak["takingAmount"] == "30"  # type: ignore[index]
    assert env.sim.book(env.yes)[1] == []
    assert len(out["trades"]) == 3  # type: ignore[arg-type]
    assert env.sim.balances(ADDRESS_1)[env.yes] == 40_000_000


async def test_batch_orders_and_every_cancel(env: Env) -> None:
    def flow() -> dict[str, object]:
        c = env.client()
        orders = [
            PostOrdersV2Args(
                order=c.create_order(
                    OrderArgsV2(token_id=env.yes, price=0.4 + n / 100, size=5, side="BUY")
                ),
                orderType=OrderType.GTC,
            )
            for n in range(4)
        ]
        out: dict[str, object] = {"batch": c.post_orders(orders)}
        ids = [r["orderID"] for r in out["batch"]]  # type: ignore[attr-defined]
        out["one"] = c.cancel_order(OrderPayload(orderID=ids[0]))
        out["again"] = c.cancel_order(OrderPayload(orderID=ids[0]))
        out["many"] = c.cancel_orders(ids[1:2])
        out["market"] = c.cancel_market_orders(OrderMarketCancelParams(asset_id=env.yes))
        c.create_and_post_order(OrderArgsV2(token_id=env.no, price=0.3, size=5, side="BUY"))
        out["all"] = c.cancel_all()
        out["open"] = c.get_open_orders()
        too_many = [orders[0]] * 16
        try:
            c.post_orders(too_many)
        except PolyApiException as exc:
            out["too_many"] = _error(exc)
        return out

    out = await asyncio.to_thread(flow)
    batch = out["batch"]
    assert [r["status"] for r in batch] == ["live"] * 4  # type: ignore[attr-defined]
    ids = [r["orderID"] for r in batch]  # type: ignore[attr-defined]
    assert out["one"] == {"canceled": [ids[0]], "not_canceled": {}}
    assert out["again"] == {"canceled": [], "not_canceled": {ids[0]: "already canceled or matched"}}
    assert out["many"] == {"canceled": [ids[1]], "not_canceled": {}}
    assert sorted(out["market"]["canceled"]) == sorted(ids[2:])  # type: ignore[index]
    assert len(out["all"]["canceled"]) == 1  # type: ignore[index]
    assert out["open"] == []
    assert out["too_many"] == "Too many orders in payload: 16, max allowed: 15"


async def test_rejections_carry_the_real_messages(env: Env, fresh_key: str) -> None:
    def flow() -> dict[str, str]:
        out: dict[str, str] = {}
        mine = env.client(KEY_1)
        other = env.client(KEY_2)
        # An order signed by KEY_2's wallet, posted with KEY_1's API key.
        stranger = ClobClient(env.sim.http_url, 137, key=KEY_2)
        foreign = stranger.create_order(
            OrderArgsV2(token_id=env.yes, price=0.5, size=10, side="BUY")
        )
        try:
            mine.post_order(foreign)
        except PolyApiException as exc:
            out["signer"] = _error(exc)
        twice = mine.create_order(OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY"))
        mine.post_order(twice)
        try:
            mine.post_order(twice)
        except PolyApiException as exc:
            out["duplicate"] = _error(exc)
        env.sim.set_allowance(ADDRESS_1, 0)
        try:
            mine.create_and_post_order(OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY"))
        except PolyApiException as exc:
            out["allowance"] = _error(exc)
        env.sim.set_allowance(ADDRESS_1, 10**30)
        try:
            mine.create_and_post_order(OrderArgsV2(token_id=env.yes, price=0.5, size=2, side="BUY"))
        except PolyApiException as exc:
            out["size"] = _error(exc)
        fine = mine.create_order(
            OrderArgsV2(token_id=env.yes, price=0.505, size=10, side="BUY"),
            PartialCreateOrderOptions(tick_size="0.01"),
        )
        out["fine_price"] = str(fine.makerAmount)
        env.sim.set_tick_size(env.yes, 100_000)  # 0.1: the client's cached 0.01 is now wrong
        try:
            mine.create_and_post_order(
                OrderArgsV2(token_id=env.yes, price=0.55, size=10, side="BUY")
            )
        except PolyApiException as exc:
            out["tick"] = _error(exc)
        try:
            mine.create_and_post_order(
                OrderArgsV2(token_id=env.yes, price=0.5, size=30_000, side="BUY")
            )
        except PolyApiException as exc:
            out["balance"] = _error(exc)
        bad_creds = ClobClient(
            env.sim.http_url,
            137,
            key=KEY_1,
            creds=ApiCreds(other.creds.api_key, other.creds.api_secret, other.creds.api_passphrase),
        )
        try:
            bad_creds.get_open_orders()
        except PolyApiException as exc:
            out["l2"] = f"{exc.status_code} {_error(exc)}"
        unknown = ClobClient(env.sim.http_url, 137, key=fresh_key)
        try:
            unknown.derive_api_key()
        except PolyApiException as exc:
            out["derive"] = _error(exc)
        return out

    out = await asyncio.to_thread(flow)
    assert out["signer"] == "the order signer address has to be the address of the API KEY"
    assert out["duplicate"].endswith("is invalid. Duplicated.")
    assert out["allowance"] == "not enough balance / allowance"
    assert out["size"].endswith("is invalid. Size (2) lower than the minimum: 5")
    assert out["tick"].endswith("is invalid. Price (0.55) breaks minimum tick size rule: 0.1")
    assert out["balance"] == "not enough balance / allowance"
    assert out["l2"] == "401 Unauthorized/Invalid api key"
    assert out["derive"] == "Could not derive api key!"


async def test_wrong_l1_signature_is_refused(env: Env) -> None:
    import aiohttp

    headers = {
        "POLY_ADDRESS": ADDRESS_1,
        "POLY_SIGNATURE": "0x" + "11" * 65,
        "POLY_TIMESTAMP": str(env.clock.now_ns() // 1_000_000_000),
        "POLY_NONCE": "0",
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{env.sim.http_url}/auth/api-key", headers=headers) as resp,
    ):
        assert resp.status == 401
        assert await resp.json() == {"error": "Invalid L1 Request headers"}


async def test_trades_pages_balances_and_fees(env: Env) -> None:
    def rest_order() -> str:
        c = env.client()
        reply = c.create_and_post_order(
            OrderArgsV2(token_id=env.yes, price=0.5, size=1_000, side="BUY")
        )
        return str(reply["orderID"])

    order_id = await asyncio.to_thread(rest_order)
    before = env.sim.balances(ADDRESS_1)[COLLATERAL]
    for _ in range(120):  # synthetic takers hit the resting order: 120 maker trades
        status, _reply = env.sim.submit(env.yes, Side.SELL, 500_000, 5_000_000)
        assert status == 200

    def read() -> tuple[list[dict[str, object]], dict[str, object], dict[str, object]]:
        c = env.client()
        trades = c.get_trades(TradeParams(asset_id=env.yes))
        first = c.get_trades_paginated()
        balance = c.get_balance_allowance(BalanceAllowanceParams(asset_type=AssetType.COLLATERAL))
        return trades, first, balance

    trades, first, balance = await asyncio.to_thread(read)
    assert len(trades) == 120
    assert {t["trader_side"] for t in trades} == {"MAKER"}
    assert first["next_cursor"] == "MTAw"
    assert len(first["trades"]) == 100  # type: ignore[arg-type]
    record = env.sim.order(order_id)
    assert record is not None
    assert record.size_matched == 600_000_000
    # The maker paid exactly 0.5 per share and no fee; the 500 unfilled shares stay reserved.
    assert before == env.sim.config.starting_balance
    assert int(str(balance["balance"])) == before - 300_000_000
    assert env.sim.balances(ADDRESS_1)[env.yes] == 600_000_000


@pytest.mark.parametrize("signature_type", [1, 2, 3])
async def test_signature_types_with_a_separate_funder(
    env: Env, fresh_key: str, signature_type: int
) -> None:
    funder = Account.create().address
    env.sim.place_resting(env.yes, Side.SELL, 500_000, 20_000_000)

    def flow() -> tuple[dict[str, object], dict[str, object]]:
        c = env.client(fresh_key, signature_type=signature_type, funder=funder)
        reply = c.create_and_post_order(
            OrderArgsV2(token_id=env.yes, price=0.5, size=10, side="BUY")
        )
        balance = c.get_balance_allowance(
            BalanceAllowanceParams(asset_type=AssetType.CONDITIONAL, token_id=env.yes)
        )
        return reply, balance

    reply, balance = await asyncio.to_thread(flow)
    assert reply["status"] == "matched"
    assert env.sim.balances(funder)[env.yes] == 10_000_000
    assert balance["balance"] == "10000000"
    signer = Account.from_key(fresh_key).address
    assert env.yes not in env.sim.balances(signer)


async def test_heartbeats_rotate_and_refuse_stale_ids(env: Env) -> None:
    def flow() -> tuple[dict[str, object], dict[str, object], str]:
        c = env.client()
        first = c.post_heartbeat("")
        second = c.post_heartbeat(str(first["heartbeat_id"]))
        try:
            c.post_heartbeat(str(first["heartbeat_id"]))
        except PolyApiException as exc:
            return first, second, str(exc.error_msg)
        return first, second, ""

    first, second, stale = await asyncio.to_thread(flow)
    assert first["heartbeat_id"] != second["heartbeat_id"]
    assert "Invalid Heartbeat ID" in stale
    assert str(second["heartbeat_id"]) in stale
