"""The node's listening sockets, bound before anything else starts.

:func:`start_servers` binds the Prometheus exporter (``metrics.host:metrics.port``) and
the control API (``control.host:control.port``). A port that cannot be bound raises
:class:`~polyloly.runtime.errors.PortInUseError` naming the setting, having closed whatever
it had already bound: a second bot whose ports are taken stops before it logs or sends
anything.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from polyloly.bot.control import ControlServer, ControlTarget, ensure_token_file, token_file_for
from polyloly.bot.metrics import Metrics, MetricsServer
from polyloly.bot.node_options import NodeOptions
from polyloly.bot.settings import Settings
from polyloly.runtime.errors import PortInUseError

__all__ = ["start_servers"]


async def _bind(start: Coroutine[Any, Any, None], what: str, host: str, port: int) -> None:
    try:
        await start
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        raise PortInUseError(what, host, port, reason) from exc


async def start_servers(
    settings: Settings,
    options: NodeOptions,
    metrics: Metrics,
    target: ControlTarget,
    say: Callable[[str], None],
    *,
    console: Callable[[], Mapping[str, Any]] | None = None,
) -> tuple[MetricsServer | None, ControlServer | None]:
    """Bind the metrics exporter and the control API (each when enabled); the control
    server serves the web console too when ``console`` is given and ``control.console``."""
    cfg = settings.metrics
    exporter: MetricsServer | None = None
    if cfg.enabled or options.metrics_port is not None:
        port = cfg.port if options.metrics_port is None else options.metrics_port
        exporter = MetricsServer(metrics, cfg.host, port)
        await _bind(exporter.start(), "metrics.port", cfg.host, port)
        say(f"metrics on {exporter.url}")
    control = settings.control
    if not control.enabled and options.control_port is None:
        return exporter, None
    token = options.control_token
    if token is None and control.token is not None:
        token = control.token.get_secret_value()
    if token is None:
        token = ensure_token_file(token_file_for(settings))
    port = control.port if options.control_port is None else options.control_port
    server = ControlServer(
        target,
        token,
        control.host,
        port,
        console=console if control.console else None,
        allow_remote=control.allow_remote,
    )
    try:
        await _bind(server.start(), "control.port", control.host, port)
    except BaseException:
        if exporter is not None:
            await exporter.stop()
        raise
    say(f"control API on {server.url}")
    if server.console is not None:
        say(f"web console on {server.url}/console (sign in with the control token)")
    return exporter, server
