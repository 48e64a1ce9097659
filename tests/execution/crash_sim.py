"""Run the local exchange simulator in its own process for the crash test.

Lists one binary market with resting house liquidity, prints one JSON line with the URLs
and ids, then serves until SIGTERM / SIGINT. Usage: ``python crash_sim.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys

from polyloly.domain.money import SCALE
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket


async def main() -> None:
    sim = ExchangeSimulator(
        SimConfig(seed=5, trade_mined_delay_ms=20, trade_confirmed_delay_ms=40, tick_interval_ms=5)
    )
    listing = sim.add_market(
        SimMarket(
            question="LoL: T1 vs Gen.G - Game 2 Winner",
            outcomes=("T1", "Gen.G"),
            tick=10_000,
            min_size=5 * SCALE,
            fee_rate=30_000,
            slug="lol-t1-gen-game2",
        )
    )
    yes, no = listing.token_ids
    sim.place_resting(yes, "SELL", 450_000, 100_000 * SCALE)
    sim.place_resting(yes, "BUY", 350_000, 100_000 * SCALE)
    sim.place_resting(no, "SELL", 650_000, 100_000 * SCALE)
    sim.place_resting(no, "BUY", 550_000, 100_000 * SCALE)
    await sim.start(host="127.0.0.1", port=0)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    info = {
        "http_url": sim.http_url,
        "gamma_url": sim.gamma_url,
        "market_ws_url": sim.market_ws_url,
        "user_ws_url": sim.user_ws_url,
        "market": listing.condition_id,
        "yes": yes,
        "no": no,
    }
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        with contextlib.suppress(Exception):
            await sim.stop()


if __name__ == "__main__":
    asyncio.run(main())
