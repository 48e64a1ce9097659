"""The user channel: authenticated order and trade events, the trade timeline, failures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from eth_account import Account
from py_clob_client_v2.clob_types import ApiCreds, OrderArgsV2, OrderPayload, OrderType
from tests.sim.exchange import wire_shapes
from tests.sim.exchange.conftest import KEY_1, Env
from tests.sim.exchange.wsutil import collect, of_type

from polyloly.domain.events import Side
from polyloly.sim.exchange.accounts import COLLATERAL

pytestmark = pytest.mark.asyncio

ADDRESS_1 = Account.from_key(KEY_1).address


def _auth(creds: ApiCreds, markets: list[str] | None = None) -> str:
    return json.dumps(
        {
            "auth": {
                "apiKey": creds.api_key,
                "secret": creds.api_secret,
                "passphrase": creds.api_passphrase,
            },
            "type": "user",
            "markets": markets or [],
        }
    )


async def _creds(env: Env) -> ApiCreds:
    client = await asyncio.to_thread(env.client)
    assert client.creds is not None
    return client.creds


def _statuses(events: list[dict[str, Any]]) -> list[str]:
    return [e["status"] for e in of_type(events, "trade")]


async def test_bad_credentials_close_the_socket(env: Env) -> None:
    creds = await _creds(env)
    wrong = ApiCreds(creds.api_key, creds.api_secret, "not-the-passphrase")
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.user_ws_url) as ws:
        await ws.send_str(_auth(wrong))
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1008


async def test_order_and_trade_events_through_the_timeline(env: Env) -> None:
    creds = await _creds(env)
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.user_ws_url) as ws:
        await ws.send_str(_auth(creds))
        await ws.send_str("PING")
        await collect(ws, lambda seen: bool(of_type(seen, "PONG")))  # subscribed by now

        def place() -> str:
            c = env.client()
            reply = c.create_and_post_order(
                OrderArgsV2(token_id=env.yes, price=0.5, size=20, side="BUY")
            )
            return str(reply["orderID"])

        order_id = await asyncio.to_thread(place)
        placement = (await collect(ws, lambda seen: bool(of_type(seen, "order"))))[0]
        assert (placement["type"], placement["status"], placement["id"]) == (
            "PLACEMENT",
            "LIVE",
            order_id,
        )
        wire_shapes.check(placement)

        env.sim.submit(env.yes, Side.SELL, 500_000, 5_000_000)
        events = await collect(ws, lambda seen: bool(of_type(seen, "trade")))
        update = of_type(events, "order")[0]
        assert (update["type"], update["size_matched"]) == ("UPDATE", "5")
        trade = of_type(events, "trade")[0]
        assert (trade["status"], trade["trader_side"]) == ("MATCHED", "MAKER")
        assert trade["match_time"] == trade["matchtime"]
        assert trade["maker_orders"][0]["order_id"] == order_id
        wire_shapes.check(trade)

        env.advance(2)
        events = await collect(ws, lambda seen: "MINED" in _statuses(seen))
        env.advance(3)
        events = await collect(ws, lambda seen: "CONFIRMED" in _statuses(seen))
        assert env.sim.trades()[0].history == ["MATCHED", "MINED", "CONFIRMED"]

        await asyncio.to_thread(lambda: env.client().cancel_order(OrderPayload(orderID=order_id)))
        events = await collect(ws, lambda seen: bool(of_type(seen, "order")))
        cancel = of_type(events, "order")[0]
        assert (cancel["type"], cancel["status"], cancel["size_matched"]) == (
            "CANCELLATION",
            "CANCELED",
            "5",
        )
        wire_shapes.check(cancel)


async def test_failed_trade_reaches_the_subscriber_and_is_reversed(env: Env) -> None:
    env.sim.place_resting(env.yes, Side.SELL, 400_000, 50_000_000, owner="mm")
    creds = await _creds(env)
    before = env.sim.balances(ADDRESS_1)
    mm_before = env.sim.balances(env.sim.venue.house_address("mm"))
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.user_ws_url) as ws:
        await ws.send_str(_auth(creds, [env.market.condition_id]))
        await ws.send_str("PING")
        await collect(ws, lambda seen: bool(of_type(seen, "PONG")))

        def take() -> dict[str, Any]:
            c = env.client()
            order = c.create_order(OrderArgsV2(token_id=env.yes, price=0.4, size=10, side="BUY"))
            return dict(c.post_order(order, OrderType.FOK))

        reply = await asyncio.to_thread(take)
        (trade_id,) = reply["tradeIDs"]
        after_match = env.sim.balances(ADDRESS_1)
        assert after_match[env.yes] == 10_000_000
        assert env.sim.faults.fail_trade(trade_id)
        events = await collect(ws, lambda seen: "FAILED" in _statuses(seen))
        assert _statuses(events) == ["MATCHED", "FAILED"]
        for event in of_type(events, "trade"):
            wire_shapes.check(event)
    assert env.sim.balances(ADDRESS_1) == before
    mm_after = env.sim.balances(env.sim.venue.house_address("mm"))
    assert mm_after[COLLATERAL] == mm_before[COLLATERAL]
    assert env.advance(10) >= 0  # a failed trade is never mined afterwards
    assert env.sim.trades()[0].history == ["MATCHED", "FAILED"]


async def test_injected_failures_and_retries_follow_the_timeline(env: Env) -> None:
    env.sim.place_resting(env.yes, Side.SELL, 400_000, 50_000_000, owner="mm")
    env.sim.faults.fail_next_trades(1)
    env.sim.faults.retry_next_trades(1)
    first = env.sim.submit(env.yes, Side.BUY, 400_000, 5_000_000, owner="t1")
    second = env.sim.submit(env.yes, Side.BUY, 400_000, 5_000_000, owner="t2")
    assert first[0] == second[0] == 200
    env.advance(2)
    env.advance(2)
    env.advance(3)
    histories = [t.history for t in env.sim.trades()]
    assert histories == [
        ["MATCHED", "FAILED"],
        ["MATCHED", "RETRYING", "MINED", "CONFIRMED"],
    ]
    t1 = env.sim.venue.house_address("t1")
    assert env.sim.balances(t1).get(env.yes, 0) == 0


async def test_user_channel_filters_by_market(env: Env) -> None:
    creds = await _creds(env)
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.user_ws_url) as ws:
        await ws.send_str(_auth(creds, ["0xsomewhere-else"]))
        await asyncio.to_thread(
            lambda: env.client().create_and_post_order(
                OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY")
            )
        )
        await ws.send_str("PING")
        events = await collect(ws, lambda seen: bool(of_type(seen, "PONG")))
        assert of_type(events, "order") == []
        await ws.send_str(
            json.dumps({"operation": "subscribe", "markets": [env.market.condition_id]})
        )
        await asyncio.to_thread(
            lambda: env.client().create_and_post_order(
                OrderArgsV2(token_id=env.yes, price=0.31, size=5, side="BUY")
            )
        )
        events = await collect(ws, lambda seen: bool(of_type(seen, "order")))
        assert of_type(events, "order")[0]["price"] == "0.31"
