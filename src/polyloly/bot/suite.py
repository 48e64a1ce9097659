"""``polyloly suite``: the evidence of edge — seeded scenario matches on the honest market.

Each *run* is a demo world (:mod:`polyloly.bot.demo`): the esports feeds and the exchange
simulator with the honest market of :class:`~polyloly.sim.exchange.pool.MarketParams`, and
the full node live against them, on two scenario matches at once (a LoL and a Dota 2 one).
:func:`suite_runs` picks ``runs`` of them, seeded ``seed``, ``seed + 1``…, cycling through
every shipped scenario (Bo1, Bo3, Bo5; pauses, a comeback and a reverse sweep, an outage, a
wrong winner reported then corrected, a source four minutes late). The suite plays them
all, in worker processes (one per core by default), twice: with the market's rivals as
configured, and with rivals ``faster`` times faster (latency and feed lag).

:func:`suite_table` prints one table: per variant and strategy, the PnL (mean per run with a
95 % confidence interval over the seeds, normal approximation), fills, orders held by the
taker delay, wrong-side trades (must be 0), temporal fills after the public had priced the
result (must be 0), and the worst drawdown. Everything is synthetic: it measures the bot
against *this* market model, not against Polymarket.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from polyloly.sim.exchange.pool import MarketParams

if TYPE_CHECKING:
    from polyloly.bot.demo import DemoOptions

__all__ = [
    "DOTA_SCENARIOS",
    "LOL_SCENARIOS",
    "RunResult",
    "SuiteRun",
    "market_params",
    "run_options",
    "run_suite",
    "suite_runs",
    "suite_table",
]

LOL_SCENARIOS: Final = (
    "lol_bo3_pause",
    "lol_bo1_late_source",
    "lol_bo3_outage",
    "lol_bo3_wrong_winner",
    "lol_bo3_comeback",
)
DOTA_SCENARIOS: Final = ("dota2_bo3_2_0", "dota2_bo5_comeback")
STRATEGIES: Final = ("pair_arb", "temporal_arb")


@dataclass(frozen=True, slots=True)
class SuiteRun:
    """One run: two scenario matches, one seed, one market."""

    index: int
    scenarios: tuple[str, ...]
    seed: int
    variant: str
    market: MarketParams
    game_seconds_delay: int = 3


@dataclass(slots=True)
class RunResult:
    """What one run produced (plain values: it crosses a process boundary)."""

    run: SuiteRun
    pnl: dict[str, int] = field(default_factory=dict)
    fills: dict[str, int] = field(default_factory=dict)
    delayed: dict[str, int] = field(default_factory=dict)
    wrong_side: int = 0
    after_public: int = 0
    max_drawdown: int = 0
    duration_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def market_params(changes: Sequence[str]) -> MarketParams:
    """The default market with ``KEY=VALUE`` changes (``ValueError`` naming a bad one)."""
    base = MarketParams()
    values: dict[str, Any] = {}
    for change in changes:
        key, sep, raw = change.partition("=")
        if not sep or not hasattr(base, key):
            raise ValueError(f"unknown market parameter {key!r} (KEY=VALUE, see MarketParams)")
        kind = type(getattr(base, key))
        try:
            values[key] = kind(raw)
        except ValueError as exc:
            raise ValueError(f"market parameter {key}: {raw!r} is not a {kind.__name__}") from exc
    return replace(base, **values)


def suite_runs(
    runs: int, seed: int, market: MarketParams, faster: float, game_seconds_delay: int = 3
) -> list[SuiteRun]:
    """``runs`` runs of two matches each, then the same runs with faster rivals; the
    "Game N Winner" markets carry ``game_seconds_delay`` (0: pair arbitrage, which skips
    delayed markets by default, may trade them while their game is live)."""
    base = [
        SuiteRun(
            index=i,
            scenarios=(
                LOL_SCENARIOS[i % len(LOL_SCENARIOS)],
                DOTA_SCENARIOS[i % len(DOTA_SCENARIOS)],
            ),
            seed=seed + i,
            variant="rivals as configured",
            market=market,
            game_seconds_delay=game_seconds_delay,
        )
        for i in range(runs)
    ]
    fast = market.faster_rivals(faster)
    return base + [replace(r, variant=f"rivals {faster:g}x faster", market=fast) for r in base]


def run_options(
    run: SuiteRun, speed: Fraction, out_dir: Path, overrides: dict[str, Any] | None = None
) -> DemoOptions:
    """The demo's options that play one suite run (worker side): its world, market and seed
    at ``speed``, no view; ``overrides`` are settings keys (``--set``)."""
    from polyloly.bot.demo import DemoOptions  # noqa: PLC0415 - worker-side

    return DemoOptions(
        out_dir=out_dir,
        scenarios=run.scenarios,
        speed=speed,
        seed=run.seed,
        view="none",
        market=run.market,
        game_seconds_delay=run.game_seconds_delay,
        warmup_s=2.0,
        market_lag_s=1.0,
        overrides=dict(overrides or {}),
    )


def play(run: SuiteRun, speed: Fraction, out_root: Path) -> RunResult:
    """Play one run to the end (in a worker process) and summarise it."""
    from polyloly.bot.demo import run_demo  # noqa: PLC0415 - worker-side
    from polyloly.bot.node_run import setup_logging  # noqa: PLC0415 - worker-side

    setup_logging("CRITICAL")
    options = run_options(run, speed, out_root / f"{run.variant.split()[1]}-{run.index:02d}")
    demo = asyncio.run(run_demo(options))
    result = RunResult(run=run, duration_s=demo.duration_s, problems=list(demo.problems))
    audit = demo.audit
    if audit is not None:
        for name, s in audit.strategies.items():
            result.pnl[name] = s.pnl
            result.fills[name] = s.fills
            result.delayed[name] = s.orders_delayed
        result.wrong_side = audit.total("wrong_side")
        result.after_public = audit.total("after_public")
    result.max_drawdown = demo.max_drawdown
    return result


def run_suite(
    runs: Sequence[SuiteRun],
    *,
    speed: Fraction,
    workers: int | None = None,
    out_root: Path | None = None,
    progress: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Play every run on ``workers`` processes (default: one per core)."""
    root = out_root or Path(tempfile.mkdtemp(prefix="polyloly-suite-"))
    results: list[RunResult] = []
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = [pool.submit(play, run, speed, root) for run in runs]
        for future in futures:
            result = future.result()
            results.append(result)
            if progress is not None:
                progress(result)
    return results


def _ci(values: list[int]) -> tuple[float, float]:
    """Mean and 95 % half-width (normal approximation) in pUSD."""
    usd = [v / 1_000_000 for v in values]
    mean = statistics.fmean(usd) if usd else 0.0
    if len(usd) < 2:
        return mean, math.nan
    return mean, 1.96 * statistics.stdev(usd) / math.sqrt(len(usd))


def suite_table(results: Sequence[RunResult]) -> list[str]:
    """The suite's table as text lines (see the module docstring)."""
    header = (
        f"{'variant':<22} {'strategy':<13} {'runs':>4} {'PnL/run pUSD (95% CI)':>24} "
        f"{'fills':>6} {'delayed':>8} {'wrong-side':>10} {'after-public':>12} {'worst DD':>9}"
    )
    lines = [header, "-" * len(header)]
    variants: dict[str, list[RunResult]] = {}
    for r in results:
        variants.setdefault(r.run.variant, []).append(r)
    for variant, rows in variants.items():
        worst = max((r.max_drawdown for r in rows), default=0) / 1_000_000
        for strategy in (*STRATEGIES, "total"):
            pnls = [
                sum(r.pnl.values()) if strategy == "total" else r.pnl.get(strategy, 0) for r in rows
            ]
            mean, half = _ci(pnls)
            fills = sum(
                sum(r.fills.values()) if strategy == "total" else r.fills.get(strategy, 0)
                for r in rows
            )
            delayed = sum(
                sum(r.delayed.values()) if strategy == "total" else r.delayed.get(strategy, 0)
                for r in rows
            )
            wrong = sum(r.wrong_side for r in rows) if strategy != "pair_arb" else 0
            after = sum(r.after_public for r in rows) if strategy != "pair_arb" else 0
            ci = f"{mean:+9.2f} ± {half:7.2f}"
            lines.append(
                f"{variant:<22} {strategy:<13} {len(rows):>4} {ci:>24} {fills:>6} {delayed:>8} "
                f"{wrong:>10} {after:>12} {worst:>9.2f}"
            )
    problems = [f"run {r.run.index} ({r.run.variant}): {p}" for r in results for p in r.problems]
    return lines + problems


def describe(runs: Sequence[SuiteRun], speed: Fraction) -> dict[str, Any]:
    """What the suite ran (for the record in docs/)."""
    seeds = sorted({r.seed for r in runs})
    return {
        "runs": len(runs),
        "matches": sum(len(r.scenarios) for r in runs),
        "seeds": f"{seeds[0]}..{seeds[-1]}" if seeds else "",
        "speed": str(speed),
        "scenarios": sorted({s for r in runs for s in r.scenarios}),
    }
