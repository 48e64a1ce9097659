"""The control API over loopback: every command works, a missing or wrong token gets 401."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from polyloly.bot.config_loader import load_settings
from polyloly.bot.control import (
    ControlAuthError,
    ControlClient,
    ControlError,
    ControlServer,
    KernelControl,
    ensure_token_file,
)
from polyloly.bot.settings import Settings
from polyloly.domain.events import OperatorCommand
from polyloly.runtime.clock import NS_PER_S, VirtualClock
from polyloly.runtime.errors import ConfigError
from polyloly.runtime.kernel import Kernel

REPO = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-control-token-0123456789"  # a test token, not a real credential


class FakeTarget:
    """Records what the API asked for; ``resume`` is async to cover both kinds."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.halted = False
        self.fail = False

    def status(self) -> Mapping[str, Any]:
        if self.fail:
            raise RuntimeError(f"status broke near {TOKEN}")
        return {"mode": "paper", "halted": self.halted, "api_secret": "leak-me-not-123"}

    def halt(self, reason: str) -> None:
        self.calls.append(("halt", reason))
        self.halted = True

    async def resume(self) -> None:
        self.calls.append(("resume", ""))
        self.halted = False

    def cancel_all(self) -> None:
        self.calls.append(("cancel_all", ""))


@pytest_asyncio.fixture
async def served() -> AsyncIterator[tuple[ControlServer, FakeTarget]]:
    target = FakeTarget()
    server = ControlServer(target, TOKEN, host="127.0.0.1", port=0)
    await server.start()
    yield server, target
    await server.stop()


@pytest.mark.asyncio
async def test_every_command_works_with_the_token(served: tuple[ControlServer, FakeTarget]) -> None:
    server, target = served
    client = ControlClient(server.url, TOKEN)
    status = await client.status()
    assert status["mode"] == "paper"
    assert status["halted"] is False
    assert status["api_secret"] == "[redacted]"  # status output passes the redactor
    assert (await client.halt("too many errors"))["action"] == "halt"
    assert (await client.status())["halted"] is True
    await client.resume()
    await client.cancel_all()
    assert target.calls == [("halt", "too many errors"), ("resume", ""), ("cancel_all", "")]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-wrong-token"},
        {"Authorization": TOKEN},  # no scheme
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"bearer {TOKEN}"},
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/status"), ("POST", "/halt"), ("POST", "/resume"), ("POST", "/cancel-all")],
)
async def test_missing_or_wrong_token_is_rejected(
    served: tuple[ControlServer, FakeTarget], headers: dict[str, str], method: str, path: str
) -> None:
    server, target = served
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{server.url}{path}", headers=headers) as response,
    ):
        assert response.status == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await response.json())["ok"] is False
    assert target.calls == []
    assert server.rejected == 1


@pytest.mark.asyncio
async def test_the_client_reports_a_refused_token(served: tuple[ControlServer, FakeTarget]) -> None:
    server, target = served
    with pytest.raises(ControlAuthError):
        await ControlClient(server.url, "not-the-token-at-all").halt("x")
    assert target.calls == []


@pytest.mark.asyncio
async def test_target_failures_are_500_and_redacted(
    served: tuple[ControlServer, FakeTarget],
) -> None:
    server, target = served
    target.fail = True
    with pytest.raises(ControlError) as failed:
        await ControlClient(server.url, TOKEN).status()
    assert failed.value.status == 500
    assert TOKEN not in str(failed.value)
    assert "status broke" in str(failed.value)


@pytest.mark.asyncio
async def test_halt_needs_json_and_caps_the_reason(
    served: tuple[ControlServer, FakeTarget],
) -> None:
    server, target = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as session:
        bad = await session.post(f"{server.url}/halt", data=b"{nope", headers=auth)
        assert bad.status == 400
        ok = await session.post(f"{server.url}/halt", json={"reason": "r" * 5_000}, headers=auth)
        assert ok.status == 200
        empty = await session.post(f"{server.url}/halt", headers=auth)
        assert empty.status == 200
    assert [len(reason) for _, reason in target.calls] == [500, len("operator halt")]


@pytest.mark.asyncio
async def test_an_unreachable_api_is_a_control_error() -> None:
    with pytest.raises(ControlError) as failed:
        await ControlClient("http://127.0.0.1:9", TOKEN, timeout_s=5).status()
    assert failed.value.status == 0


def test_short_tokens_are_refused() -> None:
    # A configuration error naming the key (one line at start-up), never a traceback.
    with pytest.raises(ConfigError, match=r"^control\.token: needs at least 16 characters$"):
        ControlServer(FakeTarget(), "short")


def test_kernel_control_publishes_operator_commands() -> None:
    clock = VirtualClock(1_800_000_000 * NS_PER_S)
    kernel = Kernel(clock)
    seen: list[OperatorCommand] = []
    kernel.subscribe(OperatorCommand, seen.append)
    control = KernelControl(kernel, status=lambda: {"halted": False})
    control.halt("manual")
    control.resume()
    control.cancel_all()
    assert [(c.command, c.reason) for c in seen] == [
        ("halt", "manual"),
        ("resume", "operator resume"),
        ("cancel_all", "operator cancel-all"),
    ]
    assert control.status() == {"halted": False}


def test_the_token_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "data" / "control.token"
    token = ensure_token_file(path)
    assert len(token) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_token_file(path) == token
    path.write_text("short\n")
    assert ensure_token_file(path) != "short"  # too short to trust: replaced


def _settings(tmp_path: Path) -> Settings:
    return load_settings(
        env="dev",
        config_dir=REPO / "config",
        environ={},
        env_file=False,
        overrides={"control.port": "0", "storage.data_dir": str(tmp_path / "data")},
    )


def _read_token(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()


@pytest.mark.asyncio
async def test_from_settings_uses_the_token_file_when_no_token_is_set(tmp_path: Path) -> None:
    target = FakeTarget()
    server = ControlServer.from_settings(target, _settings(tmp_path))
    await server.start()
    try:
        token = _read_token(tmp_path / "data" / "control.token")
        await ControlClient(server.url, token).cancel_all()
    finally:
        await server.stop()
    assert target.calls == [("cancel_all", "")]


class SeveralTarget(FakeTarget):
    """A bot that is one of several instances on its wallet."""

    def halt_all_instances(self, reason: str) -> None:
        self.calls.append(("halt_all", reason))

    def resume_all_instances(self) -> None:
        self.calls.append(("resume_all", ""))

    def cancel_all_instances(self) -> None:
        self.calls.append(("cancel_all_instances", ""))


@pytest.mark.asyncio
async def test_all_instances_commands_reach_an_instance_and_are_refused_by_a_lone_bot(
    served: tuple[ControlServer, FakeTarget],
) -> None:
    server, lone = served
    client = ControlClient(server.url, TOKEN)
    for call in (
        lambda: client.halt("x", all_instances=True),
        lambda: client.resume(all_instances=True),
        lambda: client.cancel_all(all_instances=True),
    ):
        with pytest.raises(ControlError, match="not one of several instances"):
            await call()
    assert lone.calls == []
    target = SeveralTarget()
    several = ControlServer(target, TOKEN, host="127.0.0.1", port=0)
    await several.start()
    try:
        client = ControlClient(several.url, TOKEN)
        assert (await client.halt("stop all", all_instances=True))["action"] == (
            "halt --all-instances"
        )
        await client.resume(all_instances=True)
        await client.cancel_all(all_instances=True)
        await client.cancel_all()  # without the flag: this bot's own orders, as before
    finally:
        await several.stop()
    assert target.calls == [
        ("halt_all", "stop all"),
        ("resume_all", ""),
        ("cancel_all_instances", ""),
        ("cancel_all", ""),
    ]
