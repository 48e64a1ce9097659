"""REST port round trip against the local exchange: keys, orders, cancels, reads, errors."""

from __future__ import annotations

import asyncio

import pytest

from polyloly.adapters.polymarket.config import (
    SignatureType,
)
from polyloly.adapters.polymarket.events import OrderStatus, TradeStatus
from polyloly.adapters.polymarket.http import ClobRest, HeartbeatAck
from polyloly.adapters.polymarket.signing import OrderSpec
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.runtime.errors import BackOffError, RejectError, RetryableError, UnknownOutcomeError
from polyloly.sim.exchange import ExchangeSimulator, Listing, SimMarket

from .conftest import make_rest

KEY = "0x" + "59" * 32
FUNDER = "0x" + "5a" * 20


def _market(sim: ExchangeSimulator) -> Listing:
    return sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G (BO3) - LCK",
            outcomes=("T1", "Gen.G"),
            slug="lol-t1-gen-2026-11-25",
        )
    )


async def _rest(
    sim: ExchangeSimulator, sig_type: SignatureType = SignatureType.EOA, funder: str | None = None
) -> ClobRest:
    rest = await make_rest(sim, sig_type, funder)
    creds = await rest.derive_creds()
    assert creds.api_key.reveal()
    assert creds.api_secret.reveal()
    return rest


def _spec(
    token: str, side: Side, price: int, size: int, otype: OrderType = OrderType.GTC, **kw: object
) -> OrderSpec:
    return OrderSpec(
        token_id=token, side=side, price=price, size=size, tick=10_000, order_type=otype, **kw
    )  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_round_trip(sim: ExchangeSimulator) -> None:
    m = _market(sim)
    t1, gen = m.token_ids
    rest = await _rest(sim)
    # Deriving again returns the same key.
    again = await rest.derive_creds()
    assert again.api_key.reveal() == rest._client.creds.api_key
    bal = await rest.balances([t1])
    assert bal.collateral == sim.config.starting_balance
    assert bal.tokens == {t1: 0}
    assert await rest.tick_size(t1) == 10_000
    sim.set_tick_size(t1, 1_000)
    assert await rest.tick_size(t1) == 1_000  # not the library's forever-cache
    sim.set_tick_size(t1, 10_000)

    # A resting bid: the ack's id is the hash we computed before sending.
    signed, ack = await rest.create_and_post(_spec(t1, Side.BUY, 450_000, 10_000_000))
    assert ack.order_id == signed.order_hash
    assert ack.status == "live"
    open_orders = await rest.open_orders()
    assert [o.order_id for o in open_orders] == [ack.order_id]
    assert open_orders[0].status is OrderStatus.LIVE
    assert open_orders[0].price == 450_000
    got = await rest.get_order(ack.order_id)
    assert got is not None
    assert got.original_size == 10_000_000
    book = await rest.book(t1)
    assert book.bids[0] == (450_000, 10_000_000)
    assert await rest.get_order("0x" + "00" * 32) is None
    cancel = await rest.cancel([ack.order_id])
    assert cancel.canceled == (ack.order_id,)
    assert await rest.open_orders() == []
    again_cancel = await rest.cancel([ack.order_id])
    assert ack.order_id in again_cancel.not_canceled

    # A taker FOK against synthetic liquidity fills; the trade and balances follow.
    sim.place_resting(t1, Side.SELL, 520_000, 50_000_000, owner="mm-1")
    signed, ack = await rest.create_and_post(
        _spec(t1, Side.BUY, 520_000, 10_000_000, OrderType.FOK)
    )
    assert ack.status == "matched"
    assert ack.trade_ids
    trades = await rest.trades()
    assert [t.trade_id for t in trades] == list(ack.trade_ids)
    fill = trades[0].own_fills()[0]
    assert fill.order_id == ack.order_id
    assert fill.size == 10_000_000
    assert fill.price == 520_000
    assert trades[0].status in (TradeStatus.MATCHED, TradeStatus.MINED, TradeStatus.CONFIRMED)
    bal = await rest.balances([t1])
    assert bal.tokens[t1] == 10_000_000
    assert bal.collateral < sim.config.starting_balance - 5_200_000 + 1

    # cancel_all and a batch.
    a = await rest.sign_order(_spec(gen, Side.BUY, 100_000, 5_000_000))
    b = await rest.sign_order(_spec(gen, Side.BUY, 110_000, 5_000_000))
    bad = await rest.sign_order(_spec(gen, Side.BUY, 120_000, 1_000_000))  # under min size
    results = await rest.post_signed_batch([a, b, bad])
    assert [getattr(r, "order_id", None) for r in results[:2]] == [a.order_hash, b.order_hash]
    assert isinstance(results[2], RejectError)
    assert results[2].code == "min_size"
    done = await rest.cancel_all()
    assert set(done.canceled) == {a.order_hash, b.order_hash}


@pytest.mark.asyncio
async def test_venue_rejects_and_faults_are_translated(sim: ExchangeSimulator) -> None:
    m = _market(sim)
    t1 = m.token_ids[0]
    rest = await _rest(sim)
    with pytest.raises(RejectError) as err:
        await rest.create_and_post(_spec(t1, Side.BUY, 450_000, 1_000_000))
    assert err.value.code == "min_size"
    with pytest.raises(RejectError) as err:
        await rest.create_and_post(_spec(t1, Side.BUY, 450_000, 10_000_000, OrderType.FOK))
    assert err.value.code in ("fok_killed", "unmatched")
    sim.place_resting(t1, Side.SELL, 500_000, 10_000_000)
    with pytest.raises(RejectError) as err:
        await rest.create_and_post(_spec(t1, Side.BUY, 500_000, 5_000_000, post_only=True))
    assert err.value.code == "post_only_crosses"

    sim.faults.http_errors(429, 1, path_prefix="/order")
    with pytest.raises(BackOffError):
        await rest.create_and_post(_spec(t1, Side.BUY, 400_000, 5_000_000))
    sim.faults.http_errors(503, 1, path_prefix="/order")
    with pytest.raises(BackOffError, match="cancel-only"):
        await rest.create_and_post(_spec(t1, Side.BUY, 400_000, 5_000_000))
    sim.faults.http_errors(500, 1, path_prefix="/order")
    with pytest.raises(RetryableError) as retry:
        await rest.create_and_post(_spec(t1, Side.BUY, 400_000, 5_000_000))
    assert type(retry.value) is RetryableError

    # A lost reply: the order exists, and the locally computed hash finds it.
    sim.faults.lose_next_order_reply()
    signed = await rest.sign_order(_spec(t1, Side.BUY, 410_000, 5_000_000))
    with pytest.raises(UnknownOutcomeError):
        await rest.post_signed(signed)
    assert signed.order_hash in {o.order_id for o in await rest.open_orders()}

    # A hung request past the client timeout: outcome unknown for a write, retry for a read.
    sim.faults.http_timeouts(1, path_prefix="/order")
    with pytest.raises(UnknownOutcomeError):
        await rest.create_and_post(_spec(t1, Side.BUY, 420_000, 5_000_000))
    sim.faults.http_timeouts(1, path_prefix="/book")
    with pytest.raises(RetryableError) as read_err:
        await rest.book(t1)
    assert type(read_err.value) is RetryableError
    sim.faults.clear()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("sig_type", "funder"),
    [
        (SignatureType.EOA, None),
        (SignatureType.POLY_PROXY, FUNDER),
        (SignatureType.POLY_GNOSIS_SAFE, FUNDER),
        (SignatureType.POLY_1271, FUNDER),
    ],
)
async def test_every_wallet_type_trades(
    sim: ExchangeSimulator, sig_type: SignatureType, funder: str | None
) -> None:
    m = _market(sim)
    rest = await _rest(sim, sig_type, funder)
    signed, ack = await rest.create_and_post(_spec(m.token_ids[0], Side.BUY, 300_000, 5_000_000))
    assert ack.order_id == signed.order_hash
    maker = (funder or rest._signer.address).lower()
    assert signed.body.maker.lower() == maker
    balances = sim.balances(signed.body.maker)
    assert balances["collateral"] > 0


@pytest.mark.asyncio
async def test_heartbeat_chain(sim: ExchangeSimulator) -> None:
    rest = await _rest(sim)
    # No chain yet: a made-up id is refused with the id expected, "" (start a chain).
    assert await rest.heartbeat("made-up") == HeartbeatAck(heartbeat_id="", accepted=False)
    first = await rest.heartbeat("")
    assert first.accepted
    assert first.heartbeat_id
    second = await rest.heartbeat(first.heartbeat_id)
    assert second.accepted
    assert second.heartbeat_id not in ("", first.heartbeat_id)
    # A stale id is an answer, not an error: the id expected comes back to be adopted.
    stale = await rest.heartbeat(first.heartbeat_id)
    assert stale == HeartbeatAck(heartbeat_id=second.heartbeat_id, accepted=False)
    third = await rest.heartbeat(stale.heartbeat_id)
    assert third.accepted
    # Other failures are raised, translated: a 503 is retryable, never a refusal to adopt.
    sim.faults.http_errors(503, path_prefix="/v1/heartbeats")
    with pytest.raises(BackOffError):
        await rest.heartbeat(third.heartbeat_id)
    await asyncio.sleep(0)
