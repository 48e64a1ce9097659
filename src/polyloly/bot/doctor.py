"""``polyloly doctor``: check the venue, the key, balances and allowances, the clock, the feeds.

Every check reports ``ok`` or ``FAIL`` with a detail a person can act on: an HTTP answer
other than 2xx is a failure that shows the status and the venue's own message (never a
bare exception class), and an unreachable host says which URL and why. Each esports feed
is probed at the endpoint its adapter polls, with the headers (key, user agent) the
adapter sends, so a wrong base URL or a refused key shows here and not hours later.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec
from py_clob_client_v2.exceptions import PolyApiException
from rich.console import Console
from rich.table import Table
from rich.text import Text

from polyloly.adapters.esports import ProviderSettings
from polyloly.adapters.esports.grid import SERIES_STATE_QUERY, STATE_PATH
from polyloly.adapters.polymarket.errors import message_of
from polyloly.adapters.polymarket.factory import build_clob_client
from polyloly.bot.config_map import feed_settings, polymarket_config
from polyloly.bot.settings import Settings
from polyloly.domain.money import fmt
from polyloly.runtime.clock import NS_PER_S, Clock, LiveClock

__all__ = ["Check", "chain_checks", "explain", "print_checks", "probe_feed", "run_doctor"]

_MAX_DETAIL: Final = 300
_Probe = tuple[str, str, Mapping[str, Any] | None, bytes | None]
_PROBES: Final[dict[str, _Probe]] = {
    "opendota": ("GET", "/live", None, None),
    "pandascore": ("GET", "/lol/matches/running", {"per_page": 1}, None),
    "grid": (
        "POST",
        STATE_PATH,
        None,
        msgspec.json.encode({"query": SERIES_STATE_QUERY, "variables": {"id": "0"}}),
    ),
    "liquipedia": ("GET", "/api/v3/match", {"wiki": "leagueoflegends", "limit": 1}, None),
    "lolesports": ("GET", "/persisted/gw/getSchedule", {"hl": "en-US"}, None),
}
"""Per provider: the request its adapter makes first (method, path, query, body)."""
_AUTH: Final = {
    "opendota": ("Authorization", "Bearer {}"),
    "pandascore": ("Authorization", "Bearer {}"),
    "grid": ("x-api-key", "{}"),
    "liquipedia": ("Authorization", "Apikey {}"),
    "lolesports": ("x-api-key", "{}"),
}
"""Per provider: the header carrying the key, as its adapter sends it."""


@dataclass(frozen=True, slots=True)
class Check:
    """One doctor check."""

    name: str
    ok: bool
    detail: str


def _body_message(response: httpx.Response) -> str:
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    return " ".join(message_of(body).split())[:200]


def explain(exc: BaseException) -> str:
    """A failure as a person reads it: HTTP status and the venue's message, or why not sent."""
    if isinstance(exc, PolyApiException):
        if exc.status_code is not None:
            return f"HTTP {exc.status_code}: {' '.join(message_of(exc.error_msg).split())}"
        cause = exc.__cause__ or exc.__context__
        return explain(cause) if cause is not None else "no answer from the venue"
    if isinstance(exc, httpx.HTTPStatusError):
        reply = exc.response
        message = _body_message(reply)
        status = f"HTTP {reply.status_code} {reply.reason_phrase}".rstrip()
        return f"{status} from {exc.request.url}" + (f": {message}" if message else "")
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer from {exc.request.url} in time ({type(exc).__name__})"
    if isinstance(exc, httpx.RequestError):
        return f"cannot reach {exc.request.url}: {type(exc).__name__}: {exc}".rstrip(": ")
    text = str(exc) or repr(exc)
    return text if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {text}"


async def _call(name: str, fn: Callable[[], Awaitable[str]]) -> Check:
    try:
        return Check(name, True, await fn())
    except Exception as exc:  # a check reports any failure; it never crashes the doctor
        return Check(name, False, explain(exc)[:_MAX_DETAIL])


async def probe_socket(url: str, timeout_s: float) -> str:
    """Open a push channel (Polymarket's sports feed) and wait for its first message."""
    from websockets.asyncio.client import connect  # noqa: PLC0415 - doctor only

    async with asyncio.timeout(timeout_s), connect(url, open_timeout=timeout_s) as ws:
        first = await ws.recv()
    text = first if isinstance(first, str) else first.decode(errors="replace")
    return f"{url}: first message {text[:40]!r}"


async def probe_feed(name: str, provider: ProviderSettings, timeout_s: float) -> str:
    """Send the provider's first request the way its adapter does; raise unless 2xx."""
    ws_url = getattr(provider, "ws_url", "")
    if name == "polymarket_sports" and ws_url:
        # Pings come every 5 s: wait a little longer than one.
        return await probe_socket(ws_url, max(timeout_s, 6.0))
    method, path, params, body = _PROBES.get(name, ("GET", "", None, None))
    headers = {"User-Agent": provider.user_agent}
    if provider.api_key and name in _AUTH:
        header, template = _AUTH[name]
        headers[header] = template.format(provider.api_key)
    if body is not None:
        headers["Content-Type"] = "application/json"
    async with httpx.AsyncClient(
        base_url=provider.base_url, headers=headers, timeout=timeout_s
    ) as http:
        reply = await http.request(method, path, params=params, content=body)
    reply.raise_for_status()
    return f"{reply.request.url}: HTTP {reply.status_code}"


async def run_doctor(
    settings: Settings, clock: Clock | None = None, max_skew_s: int = 5
) -> list[Check]:
    """Check the venue, the key, balances and allowances, the clock and the feeds."""
    clock = clock or LiveClock()
    config = polymarket_config(settings, trading=True)
    client = build_clob_client(config)
    checks = [Check("config", True, f"env {settings.env}, {'live' if settings.live else 'paper'}")]

    async def ok() -> str:
        return f"{config.clob_url}: {await asyncio.to_thread(client.get_ok)}"

    async def skew() -> str:
        server = int(await asyncio.to_thread(client.get_server_time))
        diff = server - clock.now_ns() // NS_PER_S
        if abs(diff) > max_skew_s:
            raise RuntimeError(f"clock skew {diff:+d} s vs the venue's /time")
        return f"clock skew {diff:+d} s"

    checks.append(await _call("venue", ok))
    checks.append(await _call("clock", skew))
    if config.wallet is None:
        checks.append(Check("keys", False, "no POLYMARKET_PRIVATE_KEY: paper trading only"))
    else:
        checks += await _account_checks(client, config)
        checks += await chain_checks(settings)

    async def gamma() -> str:
        async with httpx.AsyncClient(timeout=config.http_timeout_s) as http:
            reply = await http.get(f"{config.gamma_url}/events", params={"limit": 1})
        reply.raise_for_status()
        return f"{config.gamma_url}: HTTP {reply.status_code}"

    checks.append(await _call("gamma", gamma))
    for name, provider in feed_settings(settings).providers.items():
        if not provider.enabled:
            continue

        async def reach(name: str = name, provider: ProviderSettings = provider) -> str:
            return await probe_feed(name, provider, config.http_timeout_s)

        checks.append(await _call(f"feed {name}", reach))
    if settings.storage.redis_url is not None:
        checks.append(await _call("shared budget", lambda: probe_shared(settings)))
    return checks


async def probe_shared(settings: Settings) -> str:
    """Several instances: the shared Redis answers; which instances it knows, the halt."""
    from polyloly.adapters.redis.budget import RedisBudget  # noqa: PLC0415 - only when set
    from polyloly.execution.budget import BudgetLimits  # noqa: PLC0415

    url = settings.storage.redis_url
    assert url is not None  # noqa: S101  (checked by the caller)
    inst = settings.instances
    budget = RedisBudget(
        url.get_secret_value(),
        instance=inst.id or "doctor",
        limits=BudgetLimits(max_total=1, max_market=1, max_daily_loss=1),
        prefix=inst.key_prefix,
        timeout_s=max(inst.redis_timeout_s, 2.0),
    )
    try:
        infos = await budget.instances()
        halted = await budget.halted()
    finally:
        await budget.aclose()
    alive = sorted(i.instance for i in infos if i.alive)
    known = f"{len(infos)} instance(s) known, alive: {', '.join(alive) or 'none'}"
    if halted:
        raise RuntimeError(f"every instance is halted: {halted} ({known})")
    return f"{inst.key_prefix} on Redis: {known}"


async def _account_checks(client: Any, config: Any) -> list[Check]:
    from py_clob_client_v2.clob_types import AssetType, BalanceAllowanceParams  # noqa: PLC0415

    async def keys() -> str:
        creds = await asyncio.to_thread(client.create_or_derive_api_key)
        client.set_api_creds(creds)
        return f"signer {client.get_address()}: API key ready"

    async def funds() -> str:
        params = BalanceAllowanceParams(
            asset_type=AssetType.COLLATERAL, signature_type=int(config.wallet.signature_type)
        )
        reply = await asyncio.to_thread(client.get_balance_allowance, params)
        balance = int(str(reply.get("balance", "0")))
        allowances = reply.get("allowances") or {"exchange": reply.get("allowance", "0")}
        allowed = max(int(str(v)) for v in allowances.values())
        if balance <= 0:
            raise RuntimeError("pUSD balance is 0")
        if allowed <= 0:
            raise RuntimeError(f"balance {fmt(balance, 2)} pUSD but no allowance for the exchange")
        shown = "unlimited" if allowed >= 2**128 else fmt(allowed, 2)
        return f"balance {fmt(balance, 2)} pUSD, allowance {shown}"

    found = [await _call("keys", keys)]
    if found[0].ok:
        found.append(await _call("balance & allowance", funds))
    return found


async def chain_checks(settings: Settings) -> list[Check]:
    """The chain itself: the RPC answers on the right chain, gas, and every allowance.

    Nothing when ``polymarket.chain.rpc_url`` is unset. One check per approval the wallet
    needs (pUSD ``approve`` and CTF ``setApprovalForAll`` for the V2 exchange, the neg-risk
    exchange and both collateral adapters), each read from the chain.
    """
    from polyloly.bot.chain import build_onchain, chain_config  # noqa: PLC0415

    config = chain_config(settings)
    if config is None:
        return [Check("chain", True, "polymarket.chain.rpc_url unset: on-chain merge/redeem off")]
    try:
        port = build_onchain(settings)
    except Exception as exc:  # a config problem is this check's failure
        return [Check("chain", False, explain(exc)[:_MAX_DETAIL])]

    async def reach() -> str:
        chain_id = await port.w3.eth.chain_id
        if chain_id != config.chain_id:
            raise RuntimeError(f"the RPC serves chain {chain_id}, expected {config.chain_id}")
        gas = await port.w3.eth.get_balance(port.w3.to_checksum_address(port.sender.address))
        shown = f"{gas / 1e18:.4f}"
        if port.sender.address == port.holder and gas == 0:
            raise RuntimeError(f"chain {chain_id}: {port.sender.address} has no gas (POL)")
        return f"chain {chain_id}, sender {port.sender.address}, gas {shown} POL"

    found = [await _call("chain", reach)]
    if not found[0].ok:
        return found
    try:
        statuses = await port.read()
    except Exception as exc:  # the RPC failed mid-way
        return [*found, Check("allowances (chain)", False, explain(exc)[:_MAX_DETAIL])]
    for status in statuses:
        if status.kind.asset == "pusd":
            amount = "unlimited" if status.ok else fmt(status.amount, 2)
            detail = f"{status.kind.spender}: {amount}"
        else:
            detail = f"{status.kind.spender}: {'approved' if status.ok else 'not approved'}"
        if not status.ok:
            detail = f"missing — {detail}; `polyloly approve` sets it"
        found.append(Check(status.label, status.ok, detail))
    return found


def print_checks(checks: list[Check], console: Console) -> None:
    """The checks as a table (details are shown as text, never parsed as markup)."""
    table = Table(title="polyloly doctor")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        result = Text("ok", style="green") if check.ok else Text("FAIL", style="red")
        table.add_row(Text(check.name), result, Text(check.detail))
    console.print(table)
