"""``polyloly sim``: the local simulators, standalone.

* ``polyloly sim exchange`` — the local Polymarket (CLOB REST, Gamma, both WebSocket
  channels) on one loopback port (served by :mod:`polyloly.sim.exchange.cli`);
* ``polyloly sim esports`` — scenario-driven provider feeds (:mod:`polyloly.sim.esports.cli`);
* ``polyloly sim chain`` — a local chain (anvil) with the contracts deployed
  (:mod:`polyloly.sim.chain.cli`); ``sim exchange --chain FILE`` settles on it.

Both print their URLs when ready and stop cleanly on SIGINT / SIGTERM. They agree on
dates: the exchange lists its markets as starting when it starts, and the feeds schedule
their matches from when they start, so a bot recording both binds each match to its market
(matching needs the same teams and starts within 6 h). A port already in use stops the
command with one line (exit 6). The simulators are imported when a command runs, never
for ``--help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from polyloly.sim.exchange.server import ExchangeSimulator

__all__ = ["app"]

# PLC0415 (import inside a function) is intended: --help must not load the simulators.
# ruff: noqa: PLC0415

app = typer.Typer(
    help="Local simulators: the Polymarket exchange and the esports provider feeds.",
    no_args_is_help=True,
)


@app.command("exchange")
def exchange(
    host: Annotated[str, typer.Option(help="Interface to bind (keep it loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 = any free port).")] = 8080,
    scenario: Annotated[
        str, typer.Option(help="esports (a LoL and a Dota 2 Bo3, starting now) or empty.")
    ] = "esports",
    seed: Annotated[int, typer.Option(help="Seed of ids, keys and synthetic traders.")] = 1,
    chain: Annotated[
        Path | None,
        typer.Option(help="Settle on a local chain: the JSON `polyloly sim chain --out` wrote."),
    ] = None,
) -> None:
    """Serve the local Polymarket exchange: CLOB REST, Gamma and both WebSockets, one port."""
    import asyncio

    from polyloly.sim.exchange.cli import serve
    from polyloly.sim.exchange.scenarios import SCENARIOS

    if scenario not in SCENARIOS:
        known = ", ".join(sorted(SCENARIOS))
        raise typer.BadParameter(f"unknown scenario {scenario!r} (one of: {known})")
    if chain is not None and not chain.is_file():
        raise typer.BadParameter(f"--chain: no such file {chain}")
    attachment = None
    if chain is not None:
        from polyloly.sim.chain.bridge import ChainBridge
        from polyloly.sim.chain.deploy import Deployment, LocalChain

        deployment = Deployment.from_json(chain.read_text())

        def attachment(sim: ExchangeSimulator) -> ChainBridge:
            return ChainBridge(LocalChain.attach(deployment), sim.venue)

    asyncio.run(serve(host, port, scenario, seed, attachment=attachment))


@app.command("chain")
def chain(
    host: Annotated[str, typer.Option(help="Interface to bind (keep it loopback).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="JSON-RPC port (0 = any free port).")] = 8545,
    chain_id: Annotated[int, typer.Option(help="Chain id (137: the relayer client's).")] = 137,
    out: Annotated[
        Path, typer.Option(help="Where to write the deployment JSON (RPC URL, addresses).")
    ] = Path("chain.json"),
    block_time_s: Annotated[
        float, typer.Option(help="Seconds per block (0 = a block per transaction).")
    ] = 0,
) -> None:
    """Run a local chain: anvil with the CTF, a pUSD-like token, the adapters, deployed."""
    import asyncio

    from polyloly.sim.chain.cli import serve_chain

    asyncio.run(serve_chain(host, port, chain_id, out, block_time_s))


@app.command("esports")
def esports(
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind (0 = any free port).")] = 8090,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Scenario name or YAML path (repeat to serve several)."),
    ] = None,
    speed: Annotated[str, typer.Option(help="Scenario seconds per real second.")] = "1",
    sports_delay_s: Annotated[
        int,
        typer.Option(min=0, help="Polymarket's sports channel: scenario seconds behind the truth."),
    ] = 20,
) -> None:
    """Serve scenario-driven OpenDota, PandaScore, GRID, Liquipedia, lolesports feeds and
    Polymarket's sports channel (/sports/ws)."""
    import asyncio

    from polyloly.sim.esports.cli import checked_scenarios, serve

    names = checked_scenarios(scenario or ["lol_bo3_pause"], speed)
    asyncio.run(serve(host, port, names, speed, sports_delay_ms=sports_delay_s * 1000))
