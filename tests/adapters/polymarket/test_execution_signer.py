"""``PolymarketSigner`` signs each spec with its own salt and timestamp, from any thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from polyloly.adapters.polymarket.execution import PolymarketSigner
from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.execution.ports import OrderSpec, SignedOrder

KEY = "0x" + "4c" * 32
THREADS = 6
PER_THREAD = 4


def _signer() -> PolymarketSigner:
    return PolymarketSigner(KEY, 137, tick_of=lambda _token: 10_000)


def _spec(n: int) -> OrderSpec:
    return OrderSpec(
        client_id=f"c:{n}",
        market="0xm",
        token_id=str(1_000 + n % 3),
        side=Side.BUY if n % 2 else Side.SELL,
        price=400_000 + 10_000 * (n % 5),
        size=10_000_000 + n * 10_000,
        order_type=OrderType.GTC,
        salt=7_000_000 + n,
        timestamp_ms=1_795_577_955_000 + n,
    )


def _body(signed: SignedOrder) -> dict[str, object]:
    payload = signed.payload
    assert isinstance(payload, dict)
    body = payload["body"]
    assert isinstance(body, dict)
    return body


def test_concurrent_signing_gives_each_spec_its_own_order() -> None:
    specs = [_spec(n) for n in range(THREADS * PER_THREAD)]
    expected = {s.client_id: _signer().sign(s) for s in specs}
    # Every call waits in the tick lookup (inside sign(), before the salt and timestamp are
    # read) until all threads are in a call: the calls overlap every time, by construction.
    inside = threading.Barrier(THREADS, timeout=30)

    def tick_of(_token: str) -> int:
        inside.wait()
        return 10_000

    signer = PolymarketSigner(KEY, 137, tick_of=tick_of)

    def work(chunk: list[OrderSpec]) -> list[SignedOrder]:
        return [signer.sign(spec) for spec in chunk]

    chunks = [specs[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        results = [o for batch in pool.map(work, chunks) for o in batch]
    assert len(results) == len(specs)
    assert len({o.order_hash for o in results}) == len(specs)  # distinct orders
    for signed in results:
        spec = signed.spec
        assert signed == expected[spec.client_id]  # the same order as signed alone
        body = _body(signed)
        assert body["salt"] == spec.salt
        assert body["timestamp"] == str(spec.timestamp_ms)


def test_salt_and_timestamp_are_only_readable_during_a_call() -> None:
    signer = _signer()
    signer.sign(_spec(1))
    with pytest.raises(RuntimeError, match="outside sign"):
        signer._salt()


def test_two_signers_do_not_share_the_spec() -> None:
    outer, inner = _signer(), _signer()
    inner_spec = _spec(2)
    seen: list[SignedOrder] = []
    tick_of = outer._tick_of

    def nested_tick(token: str) -> int:
        seen.append(inner.sign(inner_spec))  # another signer used in the middle of a call
        return tick_of(token)

    outer._tick_of = nested_tick
    outer_signed = outer.sign(_spec(3))
    assert seen == [_signer().sign(inner_spec)]
    assert outer_signed == _signer().sign(_spec(3))
