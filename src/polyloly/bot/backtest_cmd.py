"""What ``polyloly backtest`` does once its options are read.

``exact`` mode proves the log explains every decision: it says so only when there were
decisions to compare. A log with no events, or none of the decisions a trading run makes
(a ``record`` log), gets "nothing to compare" and
:attr:`~polyloly.runtime.errors.ExitCode.NOTHING_TO_COMPARE`, never "identical". A missing,
unreadable or corrupt log raises :class:`~polyloly.storage.event_log.EventLogError`
naming the file (and the line).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from polyloly.adapters.polymarket import events as pm
from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.replay import ReplayResult, replay_exact, replay_simulated
from polyloly.backtest.report import write_report
from polyloly.backtest.report_data import build_report_data
from polyloly.bot.logging import configure_logging
from polyloly.bot.node_options import PM_TRANSLATORS
from polyloly.bot.replay_core import core_factory
from polyloly.bot.settings import BacktestSettings
from polyloly.domain.money import fmt
from polyloly.runtime.errors import ConfigError, ExitCode
from polyloly.storage.event_log import EventLogReader

__all__ = ["backtest_settings", "run_backtest"]

_T = TypeVar("_T")
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)


def backtest_settings(base: BacktestSettings, **cli: Any) -> BacktestSettings:
    """``base`` with the options given on the command line (validated like the settings)."""
    given = {k: v for k, v in cli.items() if v is not None}
    try:
        return BacktestSettings.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        problem = exc.errors()[0]
        name = str(problem["loc"][0]) if problem["loc"] else "option"
        hint = "--collateral" if name == "collateral_usdc" else f"--{name.replace('_', '-')}"
        raise ConfigError(f"{hint}: {problem['msg']}") from exc


def _progress_run(action: Callable[[Callable[[int], None]], Coroutine[Any, Any, _T]]) -> _T:
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    ) as bar:
        task = bar.add_task("replaying", total=None)

        def step(n: int) -> None:
            bar.update(task, description=f"replaying: {n:,} events")

        return asyncio.run(action(step))


def _replay(
    logs: list[Path], cfg: BacktestSettings, out: Path | None, step: Callable[[int], None]
) -> Coroutine[Any, Any, ReplayResult]:
    factory = core_factory()
    replay_dir = out / "events" if out is not None else None
    if cfg.mode == "exact":
        return replay_exact(logs, factory, out_dir=replay_dir, progress=step)
    latency = LatencyModel(
        cfg.market_delay_ms, cfg.esports_delay_ms, cfg.request_ms, cfg.reply_ms, cfg.jitter_ms
    )
    return replay_simulated(
        logs,
        factory,
        latency=latency,
        collateral=cfg.collateral_micros,
        skip=(pm.OrderUpdate, pm.TradeUpdate, pm.UserResync),
        out_dir=replay_dir,
        progress=step,
    )


def run_backtest(logs: list[Path], cfg: BacktestSettings, out: Path | None) -> ExitCode:
    """Replay ``logs``, print the outcome (and write the report); return the exit code."""
    configure_logging(level="WARNING", fmt="console")
    EventLogReader(logs)  # a missing path fails here, naming it
    where = ", ".join(str(p) for p in logs)
    result = _progress_run(lambda step: _replay(logs, cfg, out, step))
    _print_replay(result)
    if out is not None:
        data = build_report_data(
            EventLogReader([out / "events"], strict=False),
            title=f"polyloly backtest ({cfg.mode})",
            translators=PM_TRANSLATORS,
        )
        _out.print(f"report: {write_report(data, out / 'report.html')}", markup=False)
    if cfg.mode != "exact":
        return ExitCode.OK
    if not result.recorded and not result.replayed:
        why = "no events" if result.inputs == 0 else "no intents or orders (a record-only log?)"
        _err.print(
            f"nothing to compare: {where} holds {why}; exact mode checks a trading run's "
            "decisions (try --mode simulated)",
            markup=False,
        )
        return ExitCode.NOTHING_TO_COMPARE
    return ExitCode.OK if result.identical else ExitCode.FAILED


def _print_replay(result: ReplayResult) -> None:
    _out.print(f"mode {result.mode.value}: {result.inputs:,} inputs fed", markup=False)
    _out.print(
        f"decisions recorded {len(result.recorded)}, replayed {len(result.replayed)}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(result.counts().items())) or "none"),
        markup=False,
    )
    _out.print(f"fills {result.fills}, equity {fmt(result.equity, 2)} pUSD", markup=False)
    if result.mode.value != "exact" or not (result.recorded or result.replayed):
        return
    if result.identical:
        _out.print("[green]identical[/]: the replay made exactly the recorded intents and orders")
    else:
        _err.print(f"{result.mismatches} differences; first {result.first_mismatch}", markup=False)
