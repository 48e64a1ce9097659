"""The venue's heartbeat chain, exactly: rotation, the mismatch reply, the window, the faults.

The unmodified py-clob-client-v2 beats over loopback (in a thread: it is synchronous); the
simulator runs on a virtual clock, so the window is crossed by advancing it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from py_clob_client_v2.client import ClobClient
from py_clob_client_v2.clob_types import OrderArgsV2
from py_clob_client_v2.exceptions import PolyApiException
from py_clob_client_v2.http_helpers import helpers as lib_http
from tests.sim.exchange.conftest import KEY_1, KEY_2, Env, lol_market

from polyloly.runtime.clock import NS_PER_MS, LiveClock, VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.heartbeats import ERR_HEARTBEAT

pytestmark = pytest.mark.asyncio

Reply = tuple[int | None, Any]


def _beat(client: ClobClient, heartbeat_id: str) -> Reply:
    """``(status, body)`` of one beat; ``status`` None when no reply came back."""
    try:
        return 200, client.post_heartbeat(heartbeat_id)
    except PolyApiException as exc:
        return exc.status_code, exc.error_msg


async def beat(client: ClobClient, heartbeat_id: str) -> Reply:
    return await asyncio.to_thread(_beat, client, heartbeat_id)


def _mismatch(expected: str) -> Reply:
    return 400, {"error_msg": ERR_HEARTBEAT, "heartbeat_id": expected}


async def _rest(env: Env, client: ClobClient, price: float = 0.3) -> str:
    def post() -> str:
        args = OrderArgsV2(token_id=env.yes, price=price, size=5, side="BUY")
        return str(client.create_and_post_order(args)["orderID"])

    return await asyncio.to_thread(post)


async def test_every_valid_beat_rotates_and_any_other_id_is_refused_with_the_expected_one(
    env: Env,
) -> None:
    client = await asyncio.to_thread(env.client)
    chains = env.sim.venue.heartbeats
    owner = client.creds.api_key  # type: ignore[union-attr]
    assert chains.expected(owner) is None
    assert await beat(client, "made-up") == _mismatch("")  # no chain yet: start with ""
    status, first = await beat(client, "")
    assert status == 200
    status, second = await beat(client, first["heartbeat_id"])
    assert status == 200
    assert first["heartbeat_id"] != second["heartbeat_id"]
    assert chains.expected(owner) == second["heartbeat_id"]
    # A stale id, an empty one or a made-up one: refused, with the id expected; nothing rotates.
    for wrong in (first["heartbeat_id"], "", "made-up"):
        assert await beat(client, wrong) == _mismatch(second["heartbeat_id"])
    assert (await beat(client, second["heartbeat_id"]))[0] == 200
    assert chains.counts == {"ok": 3, "mismatch": 4}


async def test_the_window_cancels_every_resting_order_of_the_key_and_drops_the_chain() -> None:
    clock = VirtualClock(LiveClock().now_ns())
    sim = ExchangeSimulator(SimConfig(seed=5, heartbeat_timeout_s=2.5), clock=clock)
    market = sim.add_market(lol_market())
    await sim.start("127.0.0.1", 0)
    try:
        env = Env(sim, clock, market)
        ours, theirs = await asyncio.gather(
            asyncio.to_thread(env.client, KEY_1), asyncio.to_thread(env.client, KEY_2)
        )
        mine = [await _rest(env, ours, 0.3), await _rest(env, ours, 0.31)]
        other = await _rest(env, theirs, 0.32)  # a key that never beat: left alone
        _, reply = await beat(ours, "")
        env.advance(2.5)  # exactly the window: still in time
        assert [sim.order(i).status for i in mine] == ["LIVE", "LIVE"]  # type: ignore[union-attr]
        clock.advance_ns(NS_PER_MS)
        assert sim.run_due() >= 1
        assert [sim.order(i).status for i in mine] == ["CANCELED", "CANCELED"]  # type: ignore[union-attr]
        assert sim.order(other).status == "LIVE"  # type: ignore[union-attr]
        assert sim.venue.heartbeats.counts["expired"] == 1
        # The chain is gone: the old id meets the mismatch carrying "", and "" starts anew.
        assert await beat(ours, reply["heartbeat_id"]) == _mismatch("")
        status, restarted = await beat(ours, "")
        assert status == 200
        assert restarted["heartbeat_id"] != reply["heartbeat_id"]
    finally:
        await sim.stop()


async def test_a_late_beat_is_refused_even_before_the_timer_loop_runs(env: Env) -> None:
    client = await asyncio.to_thread(env.client)
    order = await _rest(env, client)
    _, reply = await beat(client, "")
    env.clock.advance_ns(int(10.001 * 1_000_000_000))  # past the window; run_due not called
    assert await beat(client, reply["heartbeat_id"]) == _mismatch("")
    assert env.sim.order(order).status == "CANCELED"  # type: ignore[union-attr]


async def test_beats_inside_the_window_keep_orders_for_ever(env: Env) -> None:
    client = await asyncio.to_thread(env.client)
    order = await _rest(env, client)
    heartbeat_id = ""
    for _ in range(5):
        status, reply = await beat(client, heartbeat_id)
        assert status == 200
        heartbeat_id = reply["heartbeat_id"]
        env.advance(9.9)
    assert env.sim.order(order).status == "LIVE"  # type: ignore[union-attr]


async def test_a_lost_reply_rotates_the_chain_and_the_next_beat_learns_the_new_id(
    env: Env,
) -> None:
    client = await asyncio.to_thread(env.client)
    owner = client.creds.api_key  # type: ignore[union-attr]
    _, first = await beat(client, "")
    env.sim.faults.lose_next_heartbeat_reply(1)
    status, _ = await beat(client, first["heartbeat_id"])
    assert status is None  # connection dropped: no reply
    rotated = env.sim.venue.heartbeats.expected(owner)
    assert rotated not in (None, first["heartbeat_id"])  # the beat counted
    assert await beat(client, first["heartbeat_id"]) == _mismatch(str(rotated))
    assert (await beat(client, str(rotated)))[0] == 200


async def test_a_delayed_reply_arrives_late_and_the_beat_counted(env: Env) -> None:
    client = await asyncio.to_thread(env.client)
    owner = client.creds.api_key  # type: ignore[union-attr]
    _, first = await beat(client, "")
    env.sim.faults.delay_next_heartbeat_reply(1, seconds=0.5)
    previous = lib_http._http_client
    lib_http._http_client = httpx.Client(timeout=0.1)  # the client gives up first
    try:
        status, _ = await beat(client, first["heartbeat_id"])
    finally:
        lib_http._http_client.close()
        lib_http._http_client = previous
    assert status is None
    assert env.sim.venue.heartbeats.expected(owner) != first["heartbeat_id"]
    env.sim.faults.delay_next_heartbeat_reply(1, seconds=0.05)
    status, reply = await beat(client, str(env.sim.venue.heartbeats.expected(owner)))
    assert status == 200  # a patient client gets the late reply
    assert reply["heartbeat_id"] == env.sim.venue.heartbeats.expected(owner)


async def test_injected_mismatch_carries_the_new_expected_id(env: Env) -> None:
    client = await asyncio.to_thread(env.client)
    owner = client.creds.api_key  # type: ignore[union-attr]
    env.sim.faults.heartbeat_mismatch(1)
    assert (await beat(client, ""))[0] == 200  # no live chain yet: the fault waits
    assert env.sim.faults.heartbeat_mismatches == 1
    heartbeat_id = str(env.sim.venue.heartbeats.expected(owner))
    status, body = await beat(client, heartbeat_id)
    expected = env.sim.venue.heartbeats.expected(owner)
    assert (status, body) == _mismatch(str(expected))
    assert expected != heartbeat_id
    assert (await beat(client, str(expected)))[0] == 200
    assert env.sim.faults.heartbeat_mismatches == 0


async def test_heartbeat_faults_over_the_control_api(env: Env) -> None:
    async with httpx.AsyncClient(base_url=env.sim.http_url) as http:
        for action in (
            {"action": "lose_next_heartbeat_reply", "count": 2},
            {"action": "delay_next_heartbeat_reply", "count": 1, "seconds": 0.2},
            {"action": "heartbeat_mismatch", "count": 3},
        ):
            assert (await http.post("/sim/faults", json=action)).status_code == 200
        state = (await http.get("/sim/faults")).json()
        assert state["lose_heartbeat_replies"] == 2
        assert state["delay_heartbeat_replies"] == 1
        assert state["heartbeat_mismatches"] == 3
        state = (await http.delete("/sim/faults")).json()
        assert state["lose_heartbeat_replies"] == state["heartbeat_mismatches"] == 0
