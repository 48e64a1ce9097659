"""A protocol-faithful local Polymarket exchange (CLOB REST, Gamma, market/user WebSockets).

The unmodified ``py-clob-client-v2`` trades against it over loopback. See
:class:`ExchangeSimulator` for the in-process API and :mod:`.cli` for the standalone
``exchange`` command.
"""

from __future__ import annotations

from polyloly.sim.exchange.config import Listing, SimConfig, SimMarket
from polyloly.sim.exchange.faults import Faults
from polyloly.sim.exchange.server import ExchangeSimulator
from polyloly.sim.exchange.traders import FairValueSource, RandomWalkFairValue, StaticFairValue

__all__ = [
    "ExchangeSimulator",
    "FairValueSource",
    "Faults",
    "Listing",
    "RandomWalkFairValue",
    "SimConfig",
    "SimMarket",
    "StaticFairValue",
]
