"""``polyloly status | halt | resume | cancel-all`` against a running control API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from click.testing import Result
from typer.testing import CliRunner

from polyloly.bot.cli_ops import app
from polyloly.bot.control import ControlServer, ensure_token_file
from polyloly.runtime.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
TOKEN = "cli-test-token-abcdefghijklmnop"  # a test token, not a real credential


class Target:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def status(self) -> Mapping[str, Any]:
        return {"mode": "paper", "open_orders": 2}

    def halt(self, reason: str) -> None:
        self.calls.append(f"halt:{reason}")

    def resume(self) -> None:
        self.calls.append("resume")

    def cancel_all(self) -> None:
        self.calls.append("cancel_all")


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[ControlServer, Target]]:
    target = Target()
    server = ControlServer(target, TOKEN, port=0)
    await server.start()
    yield server, target
    await server.stop()


async def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    # the command runs its own event loop (asyncio.run): give it a thread, keep serving here
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env)


@pytest.mark.asyncio
async def test_each_command_works_with_url_and_token(served: tuple[ControlServer, Target]) -> None:
    server, target = served
    flags = ["--url", server.url, "--token", TOKEN]
    status = await invoke(["status", *flags])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output) == {"mode": "paper", "open_orders": 2}
    for command, said in (
        ("halt", "halt: ok"),
        ("resume", "resume: ok"),
        ("cancel-all", "cancel-all: ok"),
    ):
        extra = ["--reason", "spread blew out"] if command == "halt" else []
        result = await invoke([command, *extra, *flags])
        assert result.exit_code == 0, result.output
        assert said in result.output
    assert target.calls == ["halt:spread blew out", "resume", "cancel_all"]


@pytest.mark.asyncio
async def test_host_port_and_token_come_from_the_settings(
    served: tuple[ControlServer, Target], tmp_path: Path
) -> None:
    server, target = served
    config = [
        "--config-dir",
        str(REPO / "config"),
        "--env",
        "dev",
        "--set",
        f"control.port={server.port}",
        "--set",
        f"storage.data_dir={tmp_path / 'data'}",
    ]
    result = await invoke(["halt", *config], env={"POLYLOLY_CONTROL_TOKEN": TOKEN})
    assert result.exit_code == 0, result.output
    assert target.calls == ["halt:operator halt"]


@pytest.mark.asyncio
async def test_the_token_file_next_to_the_event_log_is_used(tmp_path: Path) -> None:
    token = ensure_token_file(tmp_path / "data" / "control.token")
    target = Target()
    server = ControlServer(target, token, port=0)
    await server.start()
    try:
        config = [
            "--config-dir",
            str(REPO / "config"),
            "--set",
            f"control.port={server.port}",
            "--set",
            f"storage.data_dir={tmp_path / 'data'}",
        ]
        result = await invoke(["cancel-all", *config], env={"POLYLOLY_CONTROL_TOKEN": ""})
        assert result.exit_code == 0, result.output
    finally:
        await server.stop()
    assert target.calls == ["cancel_all"]


@pytest.mark.asyncio
async def test_a_wrong_token_exits_3(served: tuple[ControlServer, Target]) -> None:
    server, target = served
    result = await invoke(["halt", "--url", server.url, "--token", "wrong-token-wrong-token"])
    assert result.exit_code == ExitCode.REFUSED
    assert target.calls == []


@pytest.mark.asyncio
async def test_an_unreachable_bot_exits_4() -> None:
    result = await invoke(["status", "--url", "http://127.0.0.1:9", "--token", TOKEN])
    assert result.exit_code == ExitCode.UNREACHABLE
    assert "unreachable" in result.output
    assert TOKEN not in result.output


@pytest.mark.asyncio
async def test_no_token_anywhere_is_a_configuration_error(tmp_path: Path) -> None:
    config = [
        "--config-dir",
        str(REPO / "config"),
        "--set",
        f"storage.data_dir={tmp_path / 'nothing'}",
    ]
    result = await invoke(["status", *config], env={"POLYLOLY_CONTROL_TOKEN": ""})
    assert result.exit_code == 2
