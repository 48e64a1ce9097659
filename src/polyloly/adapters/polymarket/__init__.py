"""The real Polymarket adapter: CLOB V2 REST, market and user WebSockets, Gamma, heartbeat.

Modules (STYLE.md §8 adapter shape):

``config``      wallet (signature type 0–3, funder), API credentials, endpoints, WS intervals
``constants``   limits, keepalive texts, status maps, esports games
``schemas``     msgspec wire structs with the venue's field names
``parsing``     pure wire → domain events (integer micros)
``events``      kernel events for our orders and trades (``OrderUpdate``, ``TradeUpdate``)
``errors``      venue/library failures → ``polyloly.runtime.errors`` classes
``signing``     exact order amounts, local V2 signing and order hash
``http``        the REST port over py-clob-client-v2 (worker threads)
``ws_common``   one reconnecting socket with the venue's PING/PONG keepalive
``ws_market``   books over sharded market-channel connections
``ws_user``     order/trade updates with REST catch-up after reconnects
``gamma``       LoL / Dota 2 market discovery into a ``MarketRegistry``
``heartbeat_chain``  the heartbeat chain's pure state machine (ids, schedule, window)
``heartbeat``   the dead-man switch loop over it
``factory``     wiring from one ``PolymarketConfig``

Names are re-exported lazily so that importing one module (e.g. ``events`` to decode an
event log) does not load the HTTP and WebSocket stacks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyloly.adapters.polymarket.config import (
        ApiCredentials,
        PolymarketConfig,
        Secret,
        SignatureType,
        WalletConfig,
        WsConfig,
        config_from_env,
        validate_config,
    )
    from polyloly.adapters.polymarket.events import (
        MakerFill,
        OrderStatus,
        OrderUpdate,
        OrderUpdateKind,
        OwnFill,
        TraderSide,
        TradeStatus,
        TradeUpdate,
        UpdateSource,
        UserResync,
    )
    from polyloly.adapters.polymarket.factory import (
        PolymarketAdapter,
        build_clob_client,
        build_signer,
        create_adapter,
    )
    from polyloly.adapters.polymarket.gamma import (
        DiscoveredMarket,
        DiscoveryReport,
        GammaClient,
        discover_esports,
    )
    from polyloly.adapters.polymarket.heartbeat import HeartbeatLoop
    from polyloly.adapters.polymarket.http import (
        Balances,
        CancelAck,
        ClobRest,
        HeartbeatAck,
        HeartbeatPort,
        MarketReadPort,
        OrderAck,
        OrderPort,
        UserRecoveryPort,
    )
    from polyloly.adapters.polymarket.signing import OrderSigner, OrderSpec, SignedOrder
    from polyloly.adapters.polymarket.ws_market import MarketWsClient
    from polyloly.adapters.polymarket.ws_user import UserWsClient

_EXPORTS: dict[str, str] = {
    "ApiCredentials": "config",
    "PolymarketConfig": "config",
    "Secret": "config",
    "SignatureType": "config",
    "WalletConfig": "config",
    "WsConfig": "config",
    "config_from_env": "config",
    "validate_config": "config",
    "MakerFill": "events",
    "OrderStatus": "events",
    "OrderUpdate": "events",
    "OrderUpdateKind": "events",
    "OwnFill": "events",
    "TradeStatus": "events",
    "TradeUpdate": "events",
    "TraderSide": "events",
    "UpdateSource": "events",
    "UserResync": "events",
    "PolymarketAdapter": "factory",
    "build_clob_client": "factory",
    "build_signer": "factory",
    "create_adapter": "factory",
    "DiscoveredMarket": "gamma",
    "DiscoveryReport": "gamma",
    "GammaClient": "gamma",
    "discover_esports": "gamma",
    "HeartbeatLoop": "heartbeat",
    "Balances": "http",
    "CancelAck": "http",
    "ClobRest": "http",
    "HeartbeatAck": "http",
    "HeartbeatPort": "http",
    "MarketReadPort": "http",
    "OrderAck": "http",
    "OrderPort": "http",
    "UserRecoveryPort": "http",
    "OrderSigner": "signing",
    "OrderSpec": "signing",
    "SignedOrder": "signing",
    "MarketWsClient": "ws_market",
    "UserWsClient": "ws_user",
}

__all__ = [
    "ApiCredentials",
    "Balances",
    "CancelAck",
    "ClobRest",
    "DiscoveredMarket",
    "DiscoveryReport",
    "GammaClient",
    "HeartbeatAck",
    "HeartbeatLoop",
    "HeartbeatPort",
    "MakerFill",
    "MarketReadPort",
    "MarketWsClient",
    "OrderAck",
    "OrderPort",
    "OrderSigner",
    "OrderSpec",
    "OrderStatus",
    "OrderUpdate",
    "OrderUpdateKind",
    "OwnFill",
    "PolymarketAdapter",
    "PolymarketConfig",
    "Secret",
    "SignatureType",
    "SignedOrder",
    "TradeStatus",
    "TradeUpdate",
    "TraderSide",
    "UpdateSource",
    "UserRecoveryPort",
    "UserResync",
    "UserWsClient",
    "WalletConfig",
    "WsConfig",
    "build_clob_client",
    "build_signer",
    "config_from_env",
    "create_adapter",
    "discover_esports",
    "validate_config",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
