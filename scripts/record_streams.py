"""Record the market channel and the esports feeds into the event log.

A thin wrapper over ``polyloly record`` (same options)::

    python scripts/record_streams.py --env dev --out data/recorded --duration 3600
"""

from __future__ import annotations

import sys

from polyloly.bot.cli import build_app


def main() -> None:
    """Run ``polyloly record`` with this script's arguments."""
    build_app()(["record", *sys.argv[1:]], prog_name="record_streams")


if __name__ == "__main__":
    main()
