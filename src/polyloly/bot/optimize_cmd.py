"""``polyloly optimize``: search strategy and risk parameters over logs and scenario runs.

A typer sub-app mounted at the root (:data:`polyloly.bot.cli.MOUNTS`); the search
(:mod:`polyloly.bot.optimize`) and optuna are imported only when the command runs, so
``--help`` stays fast.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from polyloly.bot.cli import (
    ConfigDirOption,
    EnvFileOption,
    EnvOption,
    SetOption,
    parse_sets,
    settings_from_options,
)
from polyloly.runtime.errors import ConfigError, ExitCode

__all__ = ["app", "run_optimize"]

# PLC0415 (import inside a function) is intended: the search loads optuna, the node and
# the replay only when the command runs.
# ruff: noqa: PLC0415

app = typer.Typer(no_args_is_help=False)

_HELP = (
    "Search strategy and risk parameters with optuna over recorded logs and scenario runs."
    "\n\n"
    "Each trial replays every training unit (a LOG given, or a scenario run recorded once with "
    "--scenarios) through the bot's core against the simulated venue, with the trial's values "
    "for the keys of the space file (default <config>/optimize/space.yaml: strategies.* and "
    "risk.* settings). Objective, maximised:"
    "\n\n"
    "score = PnL − λ × max drawdown (pUSD; λ = objective.drawdown_penalty, default 0.5)"
    "\n\n"
    "PnL: the sum of the replays' final equity − starting collateral (exact); max drawdown: "
    "the largest fall from a peak of their PnL curves joined end to end (sampled at every "
    "fill, timer tick and resolution)."
    "\n\n"
    "Walk-forward: the last --holdout share of the logs (by time) and of the scenario runs "
    "(by seed) is held out: no trial sees it; the best --top trials and the baseline (your "
    "configuration) are re-scored on it, and the table shows both scores."
    "\n\n"
    "Workers are processes, each running optuna's study.optimize on one study: a journal "
    "file in the run folder, or --storage postgresql://… shared by workers on several "
    "machines (--study-name; an existing study resumes). Each machine runs --trials trials."
    "\n\n"
    "Writes into --out: trials.csv, results.json, report.html (history, importance, slices) "
    "and config/optimized.yaml: run it with --config-dir OUT/config --env optimized."
)


def _stamp() -> str:
    from polyloly.runtime.clock import NS_PER_S, LiveClock

    now = dt.datetime.fromtimestamp(LiveClock().now_ns() // NS_PER_S, tz=dt.UTC)
    return now.strftime("%Y%m%d-%H%M%S")


@app.command("optimize", help=_HELP)
def optimize(
    *,
    logs: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Recorded event logs (files or folders), one unit each.", show_default=False
        ),
    ] = None,
    scenarios: Annotated[
        int, typer.Option(min=0, help="Scenario runs (two suite matches each) to search on too.")
    ] = 0,
    scenario_seed: Annotated[int, typer.Option(help="Seed of the first scenario run.")] = 1,
    scenario_cache: Annotated[
        Path | None,
        typer.Option(
            help="Where scenario runs are recorded once (default <data_dir>/optimize/scenarios)."
        ),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(
            "--space", help="The space file (default <config>/optimize/space.yaml).", dir_okay=False
        ),
    ] = None,
    trials: Annotated[int, typer.Option(min=1, help="Trials this machine runs.")] = 50,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default: one per core).")
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Seconds after which no new trial starts (running ones finish; the report is "
            "written from what finished).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="The sampler's seed (with each trial's number).")] = 0,
    storage: Annotated[
        str | None,
        typer.Option(
            help="postgresql://… or sqlite:///… or a journal file (default: OUT/study.journal)."
        ),
    ] = None,
    study_name: Annotated[
        str, typer.Option(help="The study (an existing one resumes).")
    ] = "polyloly-optimize",
    holdout: Annotated[
        float,
        typer.Option(help="Share of the logs and of the scenario runs held out (the last ones)."),
    ] = 0.25,
    top: Annotated[int, typer.Option(min=1, help="Best trials re-scored on the held-out set.")] = 5,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder (default <data_dir>/optimize/run-<time>)."),
    ] = None,
    request_ms: Annotated[
        int | None, typer.Option(help="Simulated bot → venue latency (backtest.request_ms).")
    ] = None,
    reply_ms: Annotated[
        int | None, typer.Option(help="Simulated venue → bot latency (backtest.reply_ms).")
    ] = None,
    market_delay_ms: Annotated[
        int | None, typer.Option(help="Book feed delay (backtest.market_delay_ms).")
    ] = None,
    collateral: Annotated[
        str | None, typer.Option(help="Starting pUSD of each replay (backtest.collateral_usdc).")
    ] = None,
    env: EnvOption = None,
    config_dir: ConfigDirOption = None,
    sets: SetOption = None,
    env_file: EnvFileOption = None,
) -> None:
    code = run_optimize(
        logs=list(logs or []),
        scenarios=scenarios,
        scenario_seed=scenario_seed,
        scenario_cache=scenario_cache,
        space_path=space,
        trials=trials,
        workers=workers or os.cpu_count() or 1,
        timeout_s=timeout,
        seed=seed,
        storage=storage,
        study_name=study_name,
        holdout=holdout,
        top=top,
        out=out,
        backtest={
            "request_ms": request_ms,
            "reply_ms": reply_ms,
            "market_delay_ms": market_delay_ms,
            "collateral_usdc": collateral,
        },
        env=env,
        config_dir=config_dir,
        sets=sets,
        env_file=env_file,
    )
    if code != ExitCode.OK:
        raise typer.Exit(code)


def _say(text: str) -> None:
    typer.echo(text, err=True)


def run_optimize(  # noqa: PLR0915 - one straight story: set up, search, re-score, write
    *,
    logs: list[Path],
    scenarios: int = 0,
    scenario_seed: int = 1,
    scenario_cache: Path | None = None,
    space_path: Path | None = None,
    trials: int = 50,
    workers: int = 1,
    timeout_s: float | None = None,
    seed: int = 0,
    storage: str | None = None,
    study_name: str = "polyloly-optimize",
    holdout: float = 0.25,
    top: int = 5,
    out: Path | None = None,
    backtest: dict[str, Any] | None = None,
    env: str | None = None,
    config_dir: Path | None = None,
    sets: list[str] | None = None,
    env_file: Path | None = None,
) -> ExitCode:
    """The command (also called by tests and the benchmark); returns the exit code."""
    import json

    from polyloly.backtest.optimize_space import walk_forward
    from polyloly.bot.backtest_cmd import backtest_settings
    from polyloly.bot.logging import configure_logging
    from polyloly.bot.optimize import (
        ConfigSource,
        Job,
        ReplayOptions,
        check_space,
        default_space_path,
        load_space,
        log_units,
        mask_url,
        prepare_study,
        rescore_best,
        rescore_dicts,
        run_workers,
        scenario_units,
        values_of,
    )
    from polyloly.bot.optimize_report import (
        OVERLAY_ENV,
        set_options,
        table_lines,
        write_overlay,
        write_report,
        write_trials_csv,
    )

    configure_logging(level="WARNING", fmt="console")
    settings = settings_from_options(env, config_dir, sets, env_file)
    replay = ReplayOptions.of(backtest_settings(settings.backtest, **(backtest or {})))
    config = ConfigSource(
        env=env,
        config_dir=None if config_dir is None else str(config_dir),
        sets=parse_sets(sets),
        env_file=None if env_file is None else str(env_file),
    )
    space = load_space(space_path or default_space_path(config.config_dir))
    check_space(space, config)
    if not logs and not scenarios:
        raise ConfigError("nothing to search on: give LOG… and/or --scenarios N")
    log_train, log_held = walk_forward(log_units(logs), holdout)
    scn_train: list[Any] = []
    scn_held: list[Any] = []
    if scenarios:
        cache = scenario_cache or Path(settings.storage.data_dir) / "optimize" / "scenarios"
        units = scenario_units(scenarios, scenario_seed, cache, workers=workers, say=_say)
        scn_train, scn_held = walk_forward(units, holdout)
    folder = out or Path(settings.storage.data_dir) / "optimize" / f"run-{_stamp()}"
    folder.mkdir(parents=True, exist_ok=True)
    job = Job(
        space=space,
        config=config,
        train=tuple(log_train + scn_train),
        held=tuple(log_held + scn_held),
        replay=replay,
        storage=storage or f"journal:{folder / 'study.journal'}",
        study_name=study_name,
        seed=seed,
        out=str(folder),
    )
    study = prepare_study(job)
    before = len(study.trials)
    _say(
        f"polyloly optimize: {trials} trials on {min(workers, trials)} worker process(es), "
        f"study {study_name!r} in {mask_url(job.storage)}"
        + (f" (resuming: {before} trials there)" if before else "")
    )
    _say(f"  train on {len(job.train)}: " + ", ".join(u.name for u in job.train))
    held_names = ", ".join(u.name for u in job.held) or "none (--holdout 0: in-sample only)"
    _say(f"  held out {len(job.held)}: {held_names}")
    last = [-1]

    def progress(started: int) -> None:
        if started != last[0]:
            last[0] = started
            _say(f"  trials started: {started}/{trials}")

    started = run_workers(job, trials, workers, progress, timeout_s)
    if started < trials:
        _say(f"  --timeout {timeout_s:g} s reached: {started} of {trials} trials started")
    rows = rescore_best(job, study, top, workers, baseline={})
    completed = [r for r in rows if r.number is not None]
    typer.echo(
        f"score = PnL − {space.penalty} × max drawdown (pUSD); "
        f"the best {len(completed)} by training score:"
    )
    for line in table_lines(rows, space):
        typer.echo(line)
    write_trials_csv(study, space, folder / "trials.csv")
    report = write_report(study, rows, space, folder / "report.html", f"study {study_name}")
    results: dict[str, Any] = {
        "study": study_name,
        "storage": mask_url(job.storage),
        "space": space.source,
        "penalty": str(space.penalty),
        "seed": seed,
        "train": [u.name for u in job.train],
        "held": [u.name for u in job.held],
        "trials": len(study.trials),
        "rows": rescore_dicts(rows),
    }
    (folder / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"report: {report}")
    if not completed:
        _say("no trial finished: nothing to write as an overlay")
        return ExitCode.FAILED
    best = completed[0]
    trial = next(t for t in study.trials if t.number == best.number)
    values = values_of(space, trial.params)
    overlay = write_overlay(
        folder,
        config,
        space,
        values,
        [
            f"study {study_name}, trial {best.number}, training score {best.train.get('score')}"
            + (f", held-out score {best.held['score']}" if best.held else ""),
        ],
    )
    typer.echo(f"overlay: {overlay}")
    typer.echo(f"  run it: polyloly paper --config-dir {overlay.parent} --env {OVERLAY_ENV}")
    typer.echo(f"  or on any command: {set_options(space, values)}")
    return ExitCode.OK
