"""Wiring: build the Polymarket adapter's parts from one :class:`~.config.PolymarketConfig`.

:func:`create_adapter` validates the configuration, builds the py-clob-client-v2 client with
the wallet's signature type and funder, derives API credentials when none are configured,
and returns a :class:`PolymarketAdapter` bundle (REST port, market and user channels,
heartbeat, Gamma) whose :meth:`~PolymarketAdapter.start` / :meth:`~PolymarketAdapter.stop`
own every task it runs.

References
----------
Polymarket reference ``docs/reference/polymarket.md`` §1 (constructor, auth levels).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
from py_clob_client_v2 import ClobClient
from py_clob_client_v2.clob_types import ApiCreds

from polyloly.adapters.polymarket.config import (
    PolymarketConfig,
    heartbeat_timing,
    validate_config,
    validate_wallet,
)
from polyloly.adapters.polymarket.gamma import GammaClient
from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
from polyloly.adapters.polymarket.http import ClobRest, configure_http_transport
from polyloly.adapters.polymarket.signing import OrderSigner
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.adapters.polymarket.ws_user import UserWsClient
from polyloly.domain.events import Event
from polyloly.execution.retry import RetryPolicy, call_with_retry
from polyloly.runtime.clock import NS_PER_MS, Clock
from polyloly.runtime.sleep import Sleep, asyncio_sleep

__all__ = [
    "AUTH_RETRY",
    "PolymarketAdapter",
    "build_clob_client",
    "build_signer",
    "create_adapter",
]

AUTH_RETRY = RetryPolicy(base_delay_ms=500, max_delay_ms=8_000, max_attempts=6)
"""Deriving the API key at start-up: a 5xx, 425 or 429 is retried with backoff (~16 s in all),
as every other venue call is; a refusal (bad key, wrong wallet) is not."""


def build_clob_client(config: PolymarketConfig) -> ClobClient:
    """A ``ClobClient`` for the configured host, wallet (type + funder) and credentials.

    Without a wallet the client is read-only (L0).
    """
    wallet = config.wallet
    if wallet is None:
        return ClobClient(config.clob_url, chain_id=137)
    funder = validate_wallet(wallet)
    creds = config.creds
    return ClobClient(
        config.clob_url,
        chain_id=wallet.chain_id,
        key=wallet.private_key.reveal(),
        creds=(
            ApiCreds(
                api_key=creds.api_key.reveal(),
                api_secret=creds.api_secret.reveal(),
                api_passphrase=creds.api_passphrase.reveal(),
            )
            if creds is not None
            else None
        ),
        signature_type=int(wallet.signature_type),
        funder=funder,
    )


def build_signer(
    config: PolymarketConfig, clock: Clock, salt: Callable[[], int] | None = None
) -> OrderSigner | None:
    """The local order signer of the configured wallet (``None`` without a wallet)."""
    wallet = config.wallet
    if wallet is None:
        return None
    return OrderSigner(
        wallet.private_key.reveal(),
        wallet.chain_id,
        signature_type=wallet.signature_type,
        funder=validate_wallet(wallet),
        now_ms=lambda: clock.now_ns() // NS_PER_MS,
        salt=salt,
    )


@dataclass
class PolymarketAdapter:
    """Every part of the adapter, wired; ``start``/``stop`` own their tasks."""

    config: PolymarketConfig
    rest: ClobRest
    market_ws: MarketWsClient
    gamma: GammaClient
    http: httpx.AsyncClient
    user_ws: UserWsClient | None = None
    heartbeat: HeartbeatLoop | None = None
    _started: bool = field(default=False, repr=False)

    def start(self) -> None:
        """Open the sockets and start the heartbeat (inside the event loop)."""
        self.market_ws.start()
        if self.user_ws is not None:
            self.user_ws.start()
        if self.heartbeat is not None:
            self.heartbeat.start()
        self._started = True

    async def stop(self) -> None:
        """Stop every task and close the HTTP clients (the venue cancels our orders 10 s
        after the last heartbeat).

        The sockets close concurrently; each waits at most its close timeout for the
        venue's half of the close handshake, so stopping never waits on a keepalive or
        reconnect interval.
        """
        try:
            if self.heartbeat is not None:
                await self.heartbeat.stop()
            stops = [self.market_ws.stop()]
            if self.user_ws is not None:
                stops.append(self.user_ws.stop())
            await asyncio.gather(*stops)
        finally:
            await self.http.aclose()
            await self.rest.aclose()
            self._started = False


async def create_adapter(
    config: PolymarketConfig,
    publish: Callable[[Event], None],
    clock: Clock,
    *,
    rand: Callable[[], float] | None = None,
    heartbeat: bool = True,
    auth_retry: RetryPolicy = AUTH_RETRY,
    sleep: Sleep = asyncio_sleep,
) -> PolymarketAdapter:
    """Validate ``config`` and build the adapter.

    With a wallet but no credentials, the API key is created or derived first (L1 call,
    retried with ``auth_retry`` on transient failures, waiting with ``sleep``). The user
    channel and the heartbeat exist only with a wallet.
    """
    validate_config(config)
    configure_http_transport(config.http_timeout_s).close()
    jitter = rand if rand is not None else random.Random().random  # noqa: S311 - jitter only
    client = build_clob_client(config)
    signer = build_signer(config, clock)
    rest = ClobRest(client, signer, clock, timeout_s=config.http_timeout_s)
    http = httpx.AsyncClient(timeout=config.http_timeout_s)
    adapter = PolymarketAdapter(
        config=config,
        rest=rest,
        market_ws=MarketWsClient(config.market_ws_url, publish, clock, config.ws, jitter),
        gamma=GammaClient(config.gamma_url, http, config.gamma_page_limit),
        http=http,
    )
    if config.wallet is None or signer is None:
        return adapter
    try:
        creds = config.creds
        if creds is None:
            creds = await call_with_retry(rest.derive_creds, auth_retry, sleep)
    except BaseException:
        await http.aclose()
        await rest.aclose()
        raise
    adapter.user_ws = UserWsClient(
        config.user_ws_url,
        creds,
        rest,
        publish,
        clock,
        config=config.ws,
        rand=jitter,
        own_address=signer.funder,
        lookback_s=config.user_resync_lookback_s,
    )
    if heartbeat:
        adapter.heartbeat = HeartbeatLoop(rest, publish, clock, heartbeat_timing(config))
    return adapter
