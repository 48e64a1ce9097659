"""Replay an event log through the bot (exact, or against a simulated venue).

A thin wrapper over ``polyloly backtest`` (same arguments)::

    python scripts/replay_backtest.py data/demo/run-*/events
    python scripts/replay_backtest.py data/recorded --mode simulated --out data/bt --request-ms 40
"""

from __future__ import annotations

import sys

from polyloly.bot.cli import build_app


def main() -> None:
    """Run ``polyloly backtest`` with this script's arguments."""
    build_app()(["backtest", *sys.argv[1:]], prog_name="replay_backtest")


if __name__ == "__main__":
    main()
