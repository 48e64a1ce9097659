"""Expected failures end in one line and a documented exit code (real processes, real sockets).

* a port the bot must serve on is taken: it stops before it connects, logs or sends anything;
* a corrupt or truncated event-log line: the file and the line are named;
* ``backtest --mode exact`` on a log without decisions says there is nothing to compare;
* ``doctor`` fails a feed or a venue answering 404, showing the status and the message.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from eth_account import Account
from tests.bot.cli_process import KEY, run_cli, sim_args

from polyloly.bot.config_loader import load_settings
from polyloly.bot.doctor import run_doctor
from polyloly.domain.events import BookSnapshot, TimerTick
from polyloly.node.session import NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import ExitCode
from polyloly.sim.exchange import ExchangeSimulator, SimConfig
from polyloly.sim.exchange.scenarios import bo3_markets
from polyloly.storage.event_log import EventLogWriter

T0 = 1_800_000_000 * NS_PER_S


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[ExchangeSimulator]:
    exchange = ExchangeSimulator(SimConfig(seed=11))
    for spec in bo3_markets(
        game="lol", title="LoL", team_a="T1", team_b="Gen.G", league="LCK",
        event_slug="lol-t1-geng-fail", start="2026-11-25T10:00:00Z", end="2026-11-25T16:00:00Z",
    ):  # fmt: skip
        exchange.add_traders(exchange.add_market(replace(spec, tick=10_000)).condition_id)
    await exchange.start()
    yield exchange
    await exchange.stop()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A loopback port another program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        yield held.getsockname()[1]


@pytest_asyncio.fixture
async def not_found() -> AsyncIterator[str]:
    """A loopback HTTP server answering 404 with a JSON error to every request."""

    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({"error": "no such route on this server"}, status=404)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


# -- a port in use --------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("setting", ["control.port", "metrics.port"])
async def test_a_taken_port_stops_the_bot_before_any_order(
    sim: ExchangeSimulator, tmp_path: Path, held_port: int, setting: str
) -> None:
    data = tmp_path / "data"
    args = [*sim_args(sim, data, key=KEY), "--set", f"{setting}={held_port}"]
    done = await run_cli("run", "--live-money", *args, "--duration", "30", cwd=tmp_path)
    assert done.code == ExitCode.PORT_IN_USE, done.err
    (line,) = done.errors()
    assert f"127.0.0.1:{held_port} ({setting})" in line
    assert "in use" in line
    assert "Traceback" not in done.err
    ours = Account.from_key(KEY).address.lower()
    assert not [o for o in sim.venue.orders.values() if o.maker_address.lower() == ours]
    assert not list((data / "live").glob("events/events-*"))  # nothing was logged either


# -- corrupt logs ---------------------------------------------------------------------------


def _write_log(folder: Path, n: int = 4) -> Path:
    with EventLogWriter(folder) as writer:
        for i in range(n):
            writer.append(TimerTick(ts_event=T0 + i, ts_init=T0 + i))
    (path,) = folder.glob("events-*.jsonl")
    return path


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "bad", [b"this is not json", b'{"type":"timer_tick","ts_event":1800000000000000002,"ts_in']
)
async def test_a_corrupt_or_truncated_line_names_the_file_and_line(
    tmp_path: Path, bad: bytes
) -> None:
    path = _write_log(tmp_path / "log")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], bad + b"\n", *lines[2:]]))
    done = await run_cli("backtest", str(path), cwd=tmp_path)
    assert done.code == ExitCode.BAD_INPUT, done.err
    (line,) = done.errors()
    assert f"{path}:3" in line
    assert "line 3 is not a valid event" in line
    assert "Traceback" not in done.err


@pytest.mark.asyncio
async def test_debug_shows_the_traceback_instead(tmp_path: Path) -> None:
    path = _write_log(tmp_path / "log")
    path.write_bytes(path.read_bytes() + b"garbage\n")
    done = await run_cli("--debug", "backtest", str(path), cwd=tmp_path)
    assert done.code == 1
    assert "Traceback" in done.err
    assert "LogDecodeError" in done.err


@pytest.mark.asyncio
async def test_a_missing_log_is_named(tmp_path: Path) -> None:
    done = await run_cli("backtest", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert done.code == ExitCode.BAD_INPUT
    (line,) = done.errors()
    assert f"{tmp_path / 'nowhere'}: no such file or folder" in line


@pytest.mark.asyncio
async def test_a_corrupt_ledger_stops_a_bot_at_start(
    sim: ExchangeSimulator, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    path = _write_log(data / "paper" / "events")
    path.write_bytes(path.read_bytes() + b"{broken\n" + path.read_bytes())
    done = await run_cli("paper", *sim_args(sim, data), "--duration", "5", cwd=tmp_path)
    assert done.code == ExitCode.BAD_INPUT, done.err
    (line,) = done.errors()
    assert f"{path}:5" in line


# -- nothing to compare ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_exact_mode_on_an_empty_log_says_nothing_to_compare(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "events-2026-01-01.jsonl").write_bytes(b"")
    done = await run_cli("backtest", str(folder), "--mode", "exact", cwd=tmp_path)
    assert done.code == ExitCode.NOTHING_TO_COMPARE, done.out + done.err
    assert "nothing to compare" in done.err
    assert "no events" in done.err
    assert "identical" not in done.out + done.err


@pytest.mark.asyncio
async def test_exact_mode_on_a_record_only_log_says_nothing_to_compare(tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    book = BookSnapshot(
        ts_event=T0 + 1, ts_init=T0 + 1, market="0xabc", token_id="901",
        bids=((400_000, 10_000_000),), asks=((600_000, 10_000_000),),
    )  # fmt: skip
    with EventLogWriter(folder) as writer:
        writer.append(SessionStarted(ts_event=T0, ts_init=T0, mode="record", params=NodeParams()))
        writer.append(book)
        writer.append(TimerTick(ts_event=T0 + 2, ts_init=T0 + 2))
    done = await run_cli("backtest", str(folder), "--mode", "exact", cwd=tmp_path)
    assert done.code == ExitCode.NOTHING_TO_COMPARE, done.out + done.err
    assert "no intents or orders" in done.err
    assert "identical" not in done.out + done.err


# -- doctor ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_doctor_fails_a_feed_answering_404(
    sim: ExchangeSimulator, tmp_path: Path, not_found: str
) -> None:
    feed = ["--set", "adapters.esports.opendota.enabled=true"]
    feed += ["--set", f"adapters.esports.opendota.base_url={not_found}/api"]
    done = await run_cli("doctor", *sim_args(sim, tmp_path / "data", key=KEY), *feed, cwd=tmp_path)
    assert done.code == ExitCode.FAILED, done.out + done.err
    (row,) = [line for line in done.out.splitlines() if "feed opendota" in line]
    assert "FAIL" in row
    assert "HTTP 404" in row
    assert "no such route on this server" in row
    assert [line for line in done.out.splitlines() if "FAIL" in line] == [row]  # the rest is ok


@pytest.mark.asyncio
async def test_doctor_shows_the_venue_status_and_message(not_found: str, tmp_path: Path) -> None:
    settings = load_settings(
        env="demo",
        environ={},
        env_file=False,
        overrides={
            "adapters.polymarket.host": not_found,
            "adapters.polymarket.gamma_url": f"{not_found}/gamma",
            "adapters.polymarket.private_key": KEY,
            "storage.data_dir": str(tmp_path),
            **{f"adapters.esports.{p}.enabled": "false" for p in ("opendota", "pandascore")},
            **{f"adapters.esports.{p}.enabled": "false" for p in ("grid", "lolesports")},
            "adapters.esports.liquipedia.enabled": "false",
        },
    )
    checks = {c.name: c for c in await run_doctor(settings)}
    for name in ("venue", "gamma"):
        assert not checks[name].ok
        assert "HTTP 404" in checks[name].detail, checks[name]
        assert "no such route on this server" in checks[name].detail
        assert "PolyApiException" not in checks[name].detail
