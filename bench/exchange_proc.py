"""The local exchange in its own process, with markets and resting liquidity for the wire run.

``python -m bench.exchange_proc --markets N`` starts polyloly's exchange simulator on a free
loopback port, lists ``N`` match markets (outcomes ``alpha m`` / ``beta m``), rests deep
asks and bids on both tokens, prints one JSON line ``{"url": …, "markets": [[condition_id,
token_alpha, token_beta], …]}`` and serves until its standard input closes. A separate
process keeps the exchange's work off the measured process's interpreter, as a remote venue
would be; it also runs at a lower CPU priority (``--nice``, default 10), so that on a
machine with fewer free cores than runnable processes its wake-up on each POST does not
preempt the measured process in the middle of its socket write (a remote venue does not
compete for the bot's CPU). ``--nice 0`` restores the plain setup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence

from polyloly.domain.events import Side
from polyloly.domain.money import SCALE
from polyloly.runtime.clock import LiveClock
from polyloly.sim.exchange import ExchangeSimulator, SimConfig, SimMarket

__all__ = ["ASK", "BID", "DEPTH", "main"]

ASK = 550_000
"""Where every token's asks rest (a temporal entry buys under its 0.95 cap)."""
BID = 450_000
DEPTH = 100_000 * SCALE
"""Shares resting at each level: deep enough that no sample walks past it."""


async def serve(markets: int, seed: int) -> None:
    """Run the exchange until stdin closes."""
    sim = ExchangeSimulator(SimConfig(seed=seed, starting_balance=10**9 * SCALE), clock=LiveClock())
    listed = []
    for m in range(markets):
        listing = sim.add_market(
            SimMarket(
                question=f"LoL: alpha {m} vs beta {m} (BO3)",
                outcomes=(f"alpha {m}", f"beta {m}"),
                slug=f"lol-alpha-{m}-beta-{m}",
            )
        )
        for token in listing.token_ids:
            sim.place_resting(token, Side.SELL, ASK, DEPTH)
            sim.place_resting(token, Side.BUY, BID, DEPTH)
        listed.append([listing.condition_id, *listing.token_ids])
    await sim.start(host="127.0.0.1", port=0)
    sys.stdout.write(json.dumps({"url": sim.http_url, "markets": listed}) + "\n")
    sys.stdout.flush()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # returns when the parent closes stdin
    await sim.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.exchange_proc")
    ap.add_argument("--markets", type=int, default=10)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--nice", type=int, default=10, help="niceness increment of this process")
    args = ap.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    asyncio.run(serve(args.markets, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
