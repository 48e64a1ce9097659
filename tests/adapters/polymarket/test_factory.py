"""``create_adapter``: deriving the API key at start-up survives a venue having a bad moment."""

from __future__ import annotations

import pytest

from polyloly.adapters.polymarket.config import PolymarketConfig, Secret, WalletConfig
from polyloly.adapters.polymarket.factory import AUTH_RETRY, create_adapter
from polyloly.domain.events import Event
from polyloly.execution.retry import RetryPolicy
from polyloly.runtime.clock import LiveClock
from polyloly.runtime.errors import HaltError, RetryableError
from polyloly.sim.exchange import ExchangeSimulator

from .conftest import TEST_KEY

FAST = RetryPolicy(base_delay_ms=1, max_delay_ms=4, max_attempts=4)


def _config(sim: ExchangeSimulator) -> PolymarketConfig:
    return PolymarketConfig(
        clob_url=sim.http_url,
        market_ws_url=sim.market_ws_url,
        user_ws_url=sim.user_ws_url,
        gamma_url=sim.gamma_url,
        wallet=WalletConfig(private_key=Secret(TEST_KEY)),
    )


class _Sleeps:
    def __init__(self) -> None:
        self.delays: list[int] = []

    async def __call__(self, delay_ns: int) -> None:
        self.delays.append(delay_ns)


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [500, 502, 503, 425, 429])
async def test_key_derivation_is_retried_on_transient_failures(
    sim: ExchangeSimulator, status: int
) -> None:
    # A new wallet: its key must be created. The library's create-or-derive would turn a
    # failed create into the derive's refusal ("Could not derive api key!"), which no retry
    # passes; each transient failure is retried instead.
    sim.faults.http_errors(status, 3, path_prefix="/auth")
    sleeps = _Sleeps()
    events: list[Event] = []
    adapter = await create_adapter(
        _config(sim), events.append, LiveClock(), heartbeat=False, auth_retry=FAST, sleep=sleeps
    )
    try:
        assert adapter.user_ws is not None  # the key was derived
        assert len(sleeps.delays) == 3  # one backoff per failure, then it went through
    finally:
        await adapter.stop()


@pytest.mark.asyncio
async def test_a_venue_that_stays_down_fails_after_the_retries(sim: ExchangeSimulator) -> None:
    sim.faults.http_errors(500, 100, path_prefix="/auth")
    sleeps = _Sleeps()
    with pytest.raises(RetryableError):
        await create_adapter(
            _config(sim), [].append, LiveClock(), heartbeat=False, auth_retry=FAST, sleep=sleeps
        )
    assert len(sleeps.delays) == FAST.max_attempts - 1


@pytest.mark.asyncio
async def test_a_refusal_is_not_retried(sim: ExchangeSimulator) -> None:
    sim.faults.http_errors(401, 100, path_prefix="/auth")
    sleeps = _Sleeps()
    with pytest.raises(HaltError):
        await create_adapter(
            _config(sim), [].append, LiveClock(), heartbeat=False, auth_retry=FAST, sleep=sleeps
        )
    assert sleeps.delays == []


def test_the_default_schedule_backs_off_for_a_while() -> None:
    total = sum(AUTH_RETRY.delay_ns(n) for n in range(1, AUTH_RETRY.max_attempts))
    assert total >= 10 * 10**9
