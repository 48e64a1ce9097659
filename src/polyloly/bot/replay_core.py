"""The bot's core for replays: the same wiring as the live node, on the replay's ports.

:func:`core_factory` is what ``polyloly backtest`` (and the tests) hand to
:func:`~polyloly.backtest.replay.replay_exact` / :func:`~polyloly.backtest.replay.
replay_simulated`: a :class:`~polyloly.node.core.NodeKernel` and a
:class:`~polyloly.node.core.Core` with its execution engine. No
:class:`~polyloly.execution.presigner.Presigner` runs in a replay: the pre-signed orders the
live node used are re-fed from the log as ``PresignReady`` inputs, and the pool's ages come
from the logged ``SessionStarted`` parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from polyloly.adapters.polymarket import events as pm
from polyloly.backtest.replay import CoreFactory, ReplayParts
from polyloly.bot.node_options import PM_TRANSLATORS
from polyloly.domain.events import Event
from polyloly.execution.engine import ExecutionConfig, ExecutionEngine, ExecutionPorts, Translate
from polyloly.node.core import Core, NodeKernel
from polyloly.runtime.clock import Clock
from polyloly.runtime.kernel import EventSink
from polyloly.runtime.sleep import Sleep

__all__ = ["KernelFactory", "core_factory"]

KernelFactory = Callable[[Clock, EventSink | None], NodeKernel]
"""Builds a replay's kernel on its clock and sink."""

_FLUSH_EVERY = 256


def core_factory(
    translators: Mapping[type[Event], Translate] | None = None,
    resync: tuple[type[Any], ...] = (pm.UserResync,),
    *,
    kernel: KernelFactory | None = None,
    on_build: Callable[[NodeKernel, ExecutionEngine], None] | None = None,
) -> CoreFactory:
    """The bot's core for replays: the same wiring as the live node.

    ``kernel`` builds another :class:`NodeKernel` (a parameter search patches the session
    on its own); ``on_build`` sees the kernel and the engine once wired (listeners).
    """
    table = PM_TRANSLATORS if translators is None else translators

    def build(
        clock: Clock, sink: EventSink | None, ports: ExecutionPorts, sleep: Sleep
    ) -> ReplayParts:
        # The live node's log batching (``storage.flush_every``): a replay's own log
        # (``--out``) is written in batches too, every decision at once.
        k = NodeKernel(clock, sink, _FLUSH_EVERY) if kernel is None else kernel(clock, sink)
        core = Core(k)
        engine = core.attach_engine(
            ports, sleep=sleep, config=ExecutionConfig(), translators=table, resync_types=resync
        )
        if on_build is not None:
            on_build(k, engine)
        return ReplayParts(kernel=k, engine=engine, registry=core.registry, books=core.books)

    return build
