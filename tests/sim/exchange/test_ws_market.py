"""The market channel over loopback: snapshots, level updates, trades, ticks, keepalive."""

from __future__ import annotations

import json

import aiohttp
import pytest
from py_clob_client_v2.utilities import (
    generate_orderbook_summary_hash,
    parse_raw_orderbook_summary,
)
from tests.sim.exchange import wire_shapes
from tests.sim.exchange.conftest import Env, lol_market
from tests.sim.exchange.wsutil import collect, next_text, of_type

from polyloly.domain.events import Side
from polyloly.runtime.clock import VirtualClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig

pytestmark = pytest.mark.asyncio


def _subscribe(assets: list[str], custom: bool = True) -> str:
    return json.dumps({"type": "market", "assets_ids": assets, "custom_feature_enabled": custom})


async def test_snapshot_then_level_changes_then_trades(env: Env) -> None:
    sim = env.sim
    sim.place_resting(env.yes, Side.BUY, 480_000, 10_000_000)
    sim.place_resting(env.yes, Side.BUY, 490_000, 20_000_000)
    sim.place_resting(env.yes, Side.SELL, 520_000, 30_000_000)
    sim.place_resting(env.yes, Side.SELL, 530_000, 40_000_000)
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.market_ws_url) as ws:
        await ws.send_str(_subscribe([env.yes, env.no]))
        dump = json.loads(await next_text(ws))
        assert isinstance(dump, list)
        assert len(dump) == 2
        book = next(b for b in dump if b["asset_id"] == env.yes)
        assert [b["price"] for b in book["bids"]] == ["0.48", "0.49"]  # worst -> best
        assert [a["price"] for a in book["asks"]] == ["0.53", "0.52"]
        summary = parse_raw_orderbook_summary(book)
        assert generate_orderbook_summary_hash(summary) == book["hash"]
        for frame in dump:
            wire_shapes.check(frame)

        sim.place_resting(env.yes, Side.BUY, 490_000, 5_000_000)
        events = await collect(ws, lambda seen: bool(of_type(seen, "best_bid_ask")))
        (change,) = of_type(events, "price_change")
        assert change["price_changes"][0] | {"hash": ""} == {
            "asset_id": env.yes,
            "price": "0.49",
            "size": "25",
            "side": "BUY",
            "hash": "",
            "best_bid": "0.49",
            "best_ask": "0.52",
        }
        wire_shapes.check(change)
        wire_shapes.check(of_type(events, "best_bid_ask")[0])

        status, reply = sim.submit(env.yes, Side.BUY, 520_000, 10_000_000)
        assert status == 200, reply
        events = await collect(ws, lambda seen: len(of_type(seen, "book")) >= 2)
        (trade,) = of_type(events, "last_trade_price")
        assert (trade["price"], trade["size"], trade["side"]) == ("0.52", "10", "BUY")
        wire_shapes.check(trade)
        fresh = next(b for b in of_type(events, "book") if b["asset_id"] == env.yes)
        assert fresh["asks"][-1] == {"price": "0.52", "size": "20"}
        assert fresh["last_trade_price"] == "0.52"


async def test_tick_change_new_market_and_resolution(env: Env) -> None:
    sim = env.sim
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.market_ws_url) as ws:
        await ws.send_str(_subscribe([env.yes]))
        await next_text(ws)
        sim.set_tick_size(env.yes, 1_000)
        events = await collect(ws, lambda seen: bool(of_type(seen, "book")))
        (tick,) = of_type(events, "tick_size_change")
        assert (tick["old_tick_size"], tick["new_tick_size"]) == ("0.01", "0.001")
        wire_shapes.check(tick)
        assert of_type(events, "book")[0]["tick_size"] == "0.001"

        other = sim.add_market(lol_market(slug="lol-t1-gen-2026-11-25-game1", game_number=1))
        events = await collect(ws, lambda seen: bool(of_type(seen, "new_market")))
        announced = wire_shapes.check(of_type(events, "new_market")[0])
        assert announced.assets_ids == list(other.token_ids)  # type: ignore[attr-defined]

        sim.resolve(env.market.condition_id, env.yes)
        events = await collect(ws, lambda seen: bool(of_type(seen, "market_resolved")))
        resolved = of_type(events, "market_resolved")[0]
        assert (resolved["winning_asset_id"], resolved["winning_outcome"]) == (env.yes, "T1")
        wire_shapes.check(resolved)


async def test_custom_events_need_the_custom_feature(env: Env) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(env.sim.market_ws_url) as ws:
        await ws.send_str(_subscribe([env.yes], custom=False))
        await next_text(ws)
        env.sim.place_resting(env.yes, Side.BUY, 400_000, 10_000_000)
        env.sim.place_resting(env.yes, Side.BUY, 410_000, 10_000_000)
        events = await collect(ws, lambda seen: len(seen) >= 2)
        assert {e["event_type"] for e in events} == {"price_change"}


async def test_keepalive_resubscribe_and_unsubscribe(env: Env) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(env.sim.market_ws_url, autoping=False) as ws,
    ):
        await ws.send_str(_subscribe([env.yes]))
        await next_text(ws)
        await ws.send_str("PING")
        assert await next_text(ws) == "PONG"
        await ws.ping(b"hi")
        msg = await ws.receive(timeout=5)
        assert (msg.type, msg.data) == (aiohttp.WSMsgType.PONG, b"hi")
        await ws.send_str(json.dumps({"operation": "subscribe", "assets_ids": [env.yes]}))
        assert await next_text(ws) == "NO NEW ASSETS"
        await ws.send_str(json.dumps({"operation": "subscribe", "assets_ids": [env.no]}))
        assert json.loads(await next_text(ws))[0]["asset_id"] == env.no
        await ws.send_str(json.dumps({"operation": "unsubscribe", "assets_ids": [env.yes]}))
        await ws.send_str("PING")
        assert await next_text(ws) == "PONG"  # the unsubscribe was handled before it
        env.sim.place_resting(env.yes, Side.BUY, 400_000, 10_000_000)
        env.sim.place_resting(env.no, Side.BUY, 400_000, 10_000_000)
        text = await next_text(ws)
        assert json.loads(text)["price_changes"][0]["asset_id"] == env.no


async def test_no_initial_book_past_500_assets() -> None:
    sim = ExchangeSimulator(SimConfig(seed=3), clock=VirtualClock(1_800_000_000_000_000_000))
    tokens = [t for n in range(251) for t in sim.add_market(lol_market(slug=f"m{n}")).token_ids]
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(sim.market_ws_url) as ws:
            await ws.send_str(_subscribe(tokens))
            dump = json.loads(await next_text(ws))
            assert len(tokens) == 502
            assert [b["asset_id"] for b in dump] == tokens[:500]
    finally:
        await sim.stop()
