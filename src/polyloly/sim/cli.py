"""``polyloly sim``: the local simulators, standalone.

* ``polyloly sim exchange`` — the local Polymarket (CLOB REST, Gamma, both WebSocket
  channels) on one loopback port (:mod:`polyloly.sim.exchange.cli`);
* ``polyloly sim esports`` — scenario-driven provider feeds (:mod:`polyloly.sim.esports.cli`).

Both print their URLs when ready and stop cleanly on SIGINT / SIGTERM.
"""

from __future__ import annotations

import typer

from polyloly.sim.esports import cli as esports_cli
from polyloly.sim.exchange import cli as exchange_cli

__all__ = ["app"]

app = typer.Typer(
    help="Local simulators: the Polymarket exchange and the esports provider feeds.",
    no_args_is_help=True,
)
# The exchange module's own app is a group holding one ``exchange`` command (so that it can
# be mounted as ``sim`` by itself); here that command joins this group directly.
app.command("exchange", help="Serve the local Polymarket exchange (CLOB, Gamma, WebSockets).")(
    exchange_cli.exchange
)
app.add_typer(esports_cli.app, name="esports")
