"""Timers on the virtual clock: heartbeats, GTD expiry, taker delay; merge and resolution."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from eth_account import Account
from py_clob_client_v2.clob_types import OrderArgsV2, OrderType
from tests.sim.exchange.conftest import KEY_1, Env

from polyloly.domain.events import Side
from polyloly.sim.exchange.accounts import COLLATERAL

pytestmark = pytest.mark.asyncio

ADDRESS_1 = Account.from_key(KEY_1).address


async def test_missing_heartbeat_cancels_every_order_of_the_key(env: Env) -> None:
    def place_and_beat() -> list[str]:
        c = env.client()
        ids = [
            str(
                c.create_and_post_order(
                    OrderArgsV2(token_id=env.yes, price=0.3 + n / 100, size=5, side="BUY")
                )["orderID"]
            )
            for n in range(2)
        ]
        c.post_heartbeat("")
        return ids

    ids = await asyncio.to_thread(place_and_beat)
    env.advance(9)
    assert all(env.sim.order(i).status == "LIVE" for i in ids)  # type: ignore[union-attr]
    env.advance(2)
    assert [env.sim.order(i).status for i in ids] == ["CANCELED", "CANCELED"]  # type: ignore[union-attr]
    assert env.sim.book(env.yes) == ([], [])
    assert env.sim.venue.accounts.reserved(ADDRESS_1, COLLATERAL) == 0


async def test_orders_without_heartbeats_are_left_alone(env: Env) -> None:
    await asyncio.to_thread(
        lambda: env.client().create_and_post_order(
            OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY")
        )
    )
    env.advance(60)
    assert env.sim.book(env.yes)[0] == [(300_000, 5_000_000)]


async def test_gtd_order_expires_a_minute_early(env: Env) -> None:
    expiration = env.clock.now_ns() // 1_000_000_000 + 180

    def place() -> str:
        c = env.client()
        order = c.create_order(
            OrderArgsV2(token_id=env.yes, price=0.3, size=5, side="BUY", expiration=expiration)
        )
        return str(c.post_order(order, OrderType.GTD)["orderID"])

    order_id = await asyncio.to_thread(place)
    env.advance(119)
    assert env.sim.order(order_id).status == "LIVE"  # type: ignore[union-attr]
    env.advance(1)
    assert env.sim.order(order_id).status == "CANCELED"  # type: ignore[union-attr]
    assert env.sim.book(env.yes)[0] == []


async def test_taker_delay_matches_against_the_book_as_it_stands_then(env: Env) -> None:
    sim = env.sim
    listing = sim.add_market(
        env.market.spec.__class__(
            question="LoL: T1 vs Gen.G - live",
            outcomes=("T1", "Gen.G"),
            seconds_delay=3,
            live=True,
            slug="live",
        )
    )
    token = listing.token_ids[0]
    cheap = sim.place_resting(token, Side.SELL, 500_000, 10_000_000)
    sim.place_resting(token, Side.SELL, 520_000, 10_000_000)

    def post() -> dict[str, object]:
        c = env.client()
        return dict(
            c.create_and_post_order(OrderArgsV2(token_id=token, price=0.52, size=10, side="BUY"))
        )

    reply = await asyncio.to_thread(post)
    assert reply["status"] == "delayed"
    assert reply["success"] is True
    order_id = str(reply["orderID"])
    assert sim.order(order_id).status == "DELAYED"  # type: ignore[union-attr]
    assert sim.cancel_resting(cheap)  # the maker pulls its quote during the delay
    env.advance(2.9)
    assert sim.order(order_id).status == "DELAYED"  # type: ignore[union-attr]
    env.advance(0.1)
    record = sim.order(order_id)
    assert record is not None
    assert record.status == "MATCHED"
    assert [t.price for t in sim.trades()] == [520_000]
    # A resting (non-marketable) order is never delayed.
    rest = await asyncio.to_thread(
        lambda: env.client().create_and_post_order(
            OrderArgsV2(token_id=token, price=0.4, size=10, side="BUY")
        )
    )
    assert rest["status"] == "live"


async def test_merge_split_resolution_and_redeem(env: Env) -> None:
    sim = env.sim
    sim.place_resting(env.yes, Side.SELL, 400_000, 20_000_000)
    sim.place_resting(env.no, Side.SELL, 550_000, 20_000_000)

    def buy_both() -> None:
        c = env.client()
        c.create_and_post_order(OrderArgsV2(token_id=env.yes, price=0.4, size=20, side="BUY"))
        c.create_and_post_order(OrderArgsV2(token_id=env.no, price=0.55, size=15, side="BUY"))

    await asyncio.to_thread(buy_both)
    start = sim.balances(ADDRESS_1)
    assert (start[env.yes], start[env.no]) == (20_000_000, 15_000_000)
    assert not sim.merge(ADDRESS_1, env.market.condition_id, 16_000_000)  # only 15 pairs
    assert sim.merge(ADDRESS_1, env.market.condition_id, 10_000_000)
    after_merge = sim.balances(ADDRESS_1)
    assert after_merge[COLLATERAL] == start[COLLATERAL] + 10_000_000
    async with aiohttp.ClientSession() as session:
        body = {"address": ADDRESS_1, "condition_id": env.market.condition_id, "size": "5"}
        async with session.post(f"{sim.http_url}/sim/merge", json=body) as resp:
            assert (await resp.json())["success"] is True
        sim.resolve(env.market.condition_id, env.yes)
        body = {"address": ADDRESS_1, "condition_id": env.market.condition_id}
        async with session.post(f"{sim.http_url}/sim/redeem", json=body) as resp:
            reply = await resp.json()
    assert reply["payout"] == "5"  # 20 - 15 merged YES pay 1 each; NO pays nothing
    final = sim.balances(ADDRESS_1)
    assert final[COLLATERAL] == start[COLLATERAL] + 20_000_000
    assert env.yes not in final
    assert env.no not in final
    status, error = sim.submit(env.yes, Side.BUY, 500_000, 5_000_000)
    assert (status, error["error"]) == (400, "the market is not yet ready to process new orders")


async def test_clear_book_on_start(env: Env) -> None:
    env.sim.place_resting(env.yes, Side.BUY, 400_000, 10_000_000)
    env.sim.set_live(env.market.condition_id, True)
    assert env.sim.book(env.yes) == ([], [])
