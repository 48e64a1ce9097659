"""``PolymarketVenue``: the ``POST`` body is made once, when the order is signed.

The signer hands every order it signs to :meth:`PolymarketVenue.prepare` (for a pre-signed
order that happens in the presigner's thread); ``submit`` then posts those exact bytes, so
the event loop only makes the L2 headers. A body is reused only for the payload it was made
from and the current API key.
"""

from __future__ import annotations

import msgspec
import pytest
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import ApiCreds

from polyloly.adapters.polymarket.execution import OrderBodies, PolymarketSigner, PolymarketVenue
from polyloly.adapters.polymarket.http import ClobRest
from polyloly.adapters.polymarket.order_request import json_body
from polyloly.adapters.polymarket.signing import SignedOrder as PmSignedOrder
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.execution.ports import OrderSpec, SignedOrder, VenueOrderStatus
from polyloly.execution.retry import RetryPolicy, SubmitKind, submit_with_retry
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.errors import ConfigError
from polyloly.runtime.sleep import asyncio_sleep
from polyloly.sim.exchange import ExchangeSimulator, SimMarket

from .conftest import TEST_KEY, make_rest

CREDS = ApiCreds(api_key="key-1", api_secret="c2VjcmV0LXNlY3JldA==", api_passphrase="pp")


def _spec(client_id: str = "intent-1", order_type: OrderType = OrderType.FAK) -> OrderSpec:
    return OrderSpec(
        client_id=client_id,
        market="0xm",
        token_id="123",
        side=Side.BUY,
        price=520_000,
        size=10_000_000,
        order_type=order_type,
        salt=42,
        timestamp_ms=1_795_577_955_000,
    )


def _offline_rest(creds: ApiCreds | None = CREDS) -> ClobRest:
    client = ClobClient("http://127.0.0.1:9", chain_id=137, key=TEST_KEY, creds=creds)
    return ClobRest(client, None, LiveClock())


def _relabelled(order: SignedOrder, client_id: str) -> SignedOrder:
    """What the pre-signed pool hands out: a new spec, the very same payload."""
    spec = msgspec.structs.replace(order.spec, client_id=client_id)
    return SignedOrder(order_hash=order.order_hash, spec=spec, payload=order.payload)


@pytest.mark.asyncio
async def test_the_signer_makes_the_body_and_submit_posts_it(sim: ExchangeSimulator) -> None:
    listing = sim.add_market(SimMarket(question="LoL: A vs B", outcomes=("A", "B"), slug="a-b"))
    token = listing.token_ids[0]
    sim.place_resting(token, Side.SELL, 500_000, 50_000_000, owner="mm-1")
    rest = await make_rest(sim)
    venue = PolymarketVenue(rest, LiveClock())
    signer = PolymarketSigner(TEST_KEY, 137, tick_of=lambda _t: 10_000, prepare=venue.prepare)
    spec = msgspec.structs.replace(_spec(), token_id=token)
    try:
        signed = signer.sign(spec)
        assert venue.bodies.made == 1  # made while signing
        expected = rest.order_body(msgspec.convert(signed.payload, PmSignedOrder))
        assert venue.bodies.body(signed) == expected
        result = await venue.submit(_relabelled(signed, "intent-2"))
    finally:
        await rest.aclose()
    assert venue.bodies.made == 1  # the send made no body
    assert len(venue.bodies) == 0  # answered: forgotten
    assert result.order_hash == signed.order_hash
    assert result.status is VenueOrderStatus.MATCHED
    record = sim.order(signed.order_hash)  # the venue verified the signature and the HMAC
    assert record is not None


def test_a_body_is_reused_only_for_its_own_payload_and_key() -> None:
    rest = _offline_rest()
    bodies = OrderBodies(rest, capacity=2)
    signer = PolymarketSigner(TEST_KEY, 137, tick_of=lambda _t: 10_000, prepare=bodies.body)
    order = signer.sign(_spec())
    assert bodies.made == 1
    first = bodies.body(order)
    assert first == json_body(msgspec.convert(order.payload, PmSignedOrder).to_payload("key-1"))
    # The same payload decoded again (a logged order): still the same body, not made again.
    logged = msgspec.json.decode(msgspec.json.encode(order), type=SignedOrder)
    assert logged.payload is not order.payload
    assert bodies.body(logged) == first
    assert bodies.made == 1
    # Another order type under the same hash (the type is not signed): a new body.
    fok = SignedOrder(
        order_hash=order.order_hash,
        spec=order.spec,
        payload={**order.payload, "order_type": "FOK"},
    )
    assert b'"orderType":"FOK"' in bodies.body(fok)
    assert bodies.made == 2
    # New API credentials: the owner changes, so does the body.
    rest._client.set_api_creds(ApiCreds(api_key="key-2", api_secret="c2VjcmV0", api_passphrase="p"))
    assert b'"owner":"key-2"' in bodies.body(fok)
    assert bodies.made == 3
    # Bounded: the oldest bodies go first.
    others = [signer.sign(msgspec.structs.replace(_spec(), salt=100 + n)) for n in range(3)]
    assert len({o.order_hash for o in others}) == 3
    assert len(bodies) == 2
    made = bodies.made
    bodies.body(others[-1])
    assert bodies.made == made  # the newest is kept
    bodies.body(others[0])
    assert bodies.made == made + 1  # the oldest was dropped


@pytest.mark.asyncio
async def test_a_body_that_cannot_be_made_fails_the_submit_not_the_signature() -> None:
    rest = _offline_rest(creds=None)
    venue = PolymarketVenue(rest, LiveClock())
    signer = PolymarketSigner(TEST_KEY, 137, tick_of=lambda _t: 10_000, prepare=venue.prepare)
    try:
        signed = signer.sign(_spec())  # no API key yet: no body, and no error here
        assert len(venue.bodies) == 0
        with pytest.raises(ConfigError):
            await venue.submit(signed)
    finally:
        await rest.aclose()


@pytest.mark.asyncio
async def test_a_duplicated_reject_is_looked_up_not_reported(sim: ExchangeSimulator) -> None:
    # The venue answers a second post of an order it already has with "order … is invalid.
    # Duplicated.": the submit must find the order (it filled), never end it REJECTED.
    listing = sim.add_market(SimMarket(question="LoL: A vs B", outcomes=("A", "B"), slug="a-b"))
    token = listing.token_ids[0]
    sim.place_resting(token, Side.SELL, 500_000, 50_000_000, owner="mm-1")
    rest = await make_rest(sim)
    venue = PolymarketVenue(rest, LiveClock())
    signer = PolymarketSigner(TEST_KEY, 137, tick_of=lambda _t: 10_000, prepare=venue.prepare)
    signed = signer.sign(msgspec.structs.replace(_spec(), token_id=token))
    fast = RetryPolicy(base_delay_ms=1, max_delay_ms=5, max_attempts=3)
    try:
        first = await submit_with_retry(venue, signed, fast, asyncio_sleep)
        again = await submit_with_retry(venue, signed, fast, asyncio_sleep)
    finally:
        await rest.aclose()
    assert first.kind is SubmitKind.ACCEPTED
    assert again.kind is SubmitKind.FOUND, again
    assert again.found is not None
    assert again.found.status is VenueOrderStatus.MATCHED
