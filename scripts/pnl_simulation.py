"""Run the PnL Monte Carlo: a thin wrapper over ``polyloly simulate-pnl``.

    python scripts/pnl_simulation.py --runs 5000 --wrong-truth-rate 2 --out reports/pnl

Every option of ``polyloly simulate-pnl --help`` is accepted; see
docs/04_PNL_SIMULATION_SAFETY_MARGINS.md for the model and how to read the report.
"""

from __future__ import annotations

import sys

from polyloly.bot.cli import build_app


def main(argv: list[str] | None = None) -> None:
    """Run ``simulate-pnl`` with ``argv`` (default: the process arguments)."""
    args = sys.argv[1:] if argv is None else argv
    build_app()(["simulate-pnl", *args], prog_name="pnl_simulation.py")


if __name__ == "__main__":
    main()
