"""Fault injection over loopback: WebSocket drops, stalls, duplicates, reordering,
malformed frames; HTTP errors, hangs, lost order and heartbeat replies; the HTTP control API."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import httpx
import pytest
from py_clob_client_v2.clob_types import OrderArgsV2
from py_clob_client_v2.exceptions import PolyApiException
from tests.sim.exchange.conftest import Env
from tests.sim.exchange.wsutil import next_text

from polyloly.domain.events import Side

pytestmark = pytest.mark.asyncio


async def _subscribed(session: aiohttp.ClientSession, env: Env) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(env.sim.market_ws_url)
    await ws.send_str(json.dumps({"type": "market", "assets_ids": [env.yes]}))
    await next_text(ws)
    return ws


async def test_drop_closes_every_connection(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _subscribed(session, env)
        env.sim.faults.drop_ws_connections()
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_stall_silences_data_and_pongs_until_cleared(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _subscribed(session, env)
        env.sim.faults.stall_ws()
        env.sim.place_resting(env.yes, Side.BUY, 400_000, 10_000_000)
        await ws.send_str("PING")
        with pytest.raises(TimeoutError):
            await ws.receive(timeout=0.3)
        env.sim.faults.clear()
        assert json.loads(await next_text(ws))["event_type"] == "price_change"
        await ws.send_str("PING")
        assert await next_text(ws) == "PONG"
        await ws.close()


async def test_duplicate_reorder_and_malformed_frames(env: Env) -> None:
    async with aiohttp.ClientSession() as session:
        ws = await _subscribed(session, env)
        faults = env.sim.faults
        faults.duplicate_frames(1)
        env.sim.place_resting(env.yes, Side.BUY, 400_000, 10_000_000)
        first, second = await next_text(ws), await next_text(ws)
        assert first == second
        faults.reorder_frames(1)
        env.sim.place_resting(env.yes, Side.BUY, 410_000, 10_000_000)
        env.sim.place_resting(env.yes, Side.BUY, 420_000, 10_000_000)
        prices = [json.loads(await next_text(ws))["price_changes"][0]["price"] for _ in range(2)]
        assert prices == ["0.42", "0.41"]
        faults.malform_frames(1)
        env.sim.place_resting(env.yes, Side.BUY, 430_000, 10_000_000)
        with pytest.raises(ValueError, match=r"Expecting|Unterminated|delimiter"):
            json.loads(await next_text(ws))
        await ws.close()


async def test_http_errors_and_timeouts(env: Env) -> None:
    faults = env.sim.faults
    faults.http_errors(429, count=1, path_prefix="/book")
    faults.http_errors(503, count=1)
    faults.hang_s = 5.0
    async with httpx.AsyncClient(base_url=env.sim.http_url) as client:
        first = await client.get("/book", params={"token_id": env.yes})
        assert (first.status_code, first.json()) == (429, {"error": "Too Many Requests"})
        second = await client.get("/ok")
        assert second.status_code == 503
        assert second.json()["error"].startswith("Trading is currently cancel-only")
        assert (await client.get("/book", params={"token_id": env.yes})).status_code == 200
        faults.http_timeouts(1, path_prefix="/time")
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/time", timeout=0.3)
        assert (await client.get("/time")).status_code == 200


async def test_lost_order_reply_still_places_the_order(env: Env) -> None:
    env.sim.faults.lose_next_order_reply()

    def post() -> str:
        c = env.client()
        try:
            c.create_and_post_order(OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY"))
        except PolyApiException as exc:
            return str(exc.error_msg)
        return "replied"

    outcome = await asyncio.to_thread(post)
    assert outcome == "Request exception!"
    assert env.sim.book(env.yes)[0] == [(300_000, 5_000_000)]


async def test_lost_heartbeat_reply_rotates_the_id_and_the_next_beat_is_refused(
    env: Env,
) -> None:
    def flow() -> tuple[str, str, str]:
        c = env.client()
        first = str(c.post_heartbeat("")["heartbeat_id"])
        env.sim.faults.lose_next_heartbeat_reply()
        try:
            c.post_heartbeat(first)
            lost = "replied"
        except PolyApiException as exc:
            lost = str(exc.error_msg)
        try:
            c.post_heartbeat(first)
        except PolyApiException as exc:
            return first, lost, str(exc.error_msg)
        return first, lost, ""

    first, lost, stale = await asyncio.to_thread(flow)
    assert lost == "Request exception!"  # the connection was dropped, no reply
    assert "Invalid Heartbeat ID" in stale  # the venue took the lost beat: the id moved on
    assert first not in stale
    assert env.sim.faults.state()["lose_heartbeat_replies"] == 0


async def test_control_api(env: Env) -> None:
    url = env.sim.http_url
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{url}/sim/faults", json={"action": "http_errors", "status": 500, "count": 2}
        ) as resp:
            state = await resp.json()
            assert state["http"] == [{"status": 500, "count": 2, "path_prefix": None}]
        async with session.post(f"{url}/sim/faults", json={"action": "nope"}) as resp:
            assert resp.status == 400
        async with session.delete(f"{url}/sim/faults") as resp:
            assert (await resp.json())["http"] == []
        body = {"token_id": env.yes, "side": "SELL", "price": "0.6", "size": "10"}
        async with session.post(f"{url}/sim/resting", json=body) as resp:
            order_id = (await resp.json())["order_id"]
        assert env.sim.book(env.yes)[1] == [(600_000, 10_000_000)]
        async with session.delete(f"{url}/sim/resting", json={"order_id": order_id}) as resp:
            assert (await resp.json())["success"] is True
        body = {"token_id": env.yes, "tick_size": "0.001"}
        async with session.post(f"{url}/sim/tick-size", json=body) as resp:
            assert resp.status == 200
        assert env.market.tick == 1_000
        async with session.get(f"{url}/sim/markets") as resp:
            assert (await resp.json())[0]["token_ids"] == list(env.market.token_ids)


async def test_the_orders_a_client_placed_are_listed_in_arrival_order(env: Env) -> None:
    # The exchange's own record of a client's orders, for out-of-process crash and soak tests.
    def place() -> tuple[str, list[str]]:
        c = env.client()
        first = c.create_and_post_order(
            OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY")
        )
        second = c.create_and_post_order(
            OrderArgsV2(token_id=env.no, price=0.2, size=6, side="BUY")
        )
        return c.get_address(), [first["orderID"], second["orderID"]]

    address, ids = await asyncio.to_thread(place)
    async with aiohttp.ClientSession() as session:
        url = f"{env.sim.http_url}/sim/orders"
        async with session.get(url, params={"address": address.lower()}) as resp:
            listed = await resp.json()
        async with session.get(url, params={"address": "0x" + "00" * 20}) as resp:
            assert await resp.json() == []
    assert [o["id"] for o in listed] == ids
    assert [(o["asset_id"], o["side"], o["price"], o["original_size"]) for o in listed] == [
        (env.yes, "BUY", "0.3", "5"),
        (env.no, "BUY", "0.2", "6"),
    ]
