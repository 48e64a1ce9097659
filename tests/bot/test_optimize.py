"""``polyloly optimize``: the space against the settings, trials' replays, the search.

Replays run on tiny synthetic logs (a market with a pair gap that resolves); the search runs
real worker processes on a journal file and, when ``POLYLOLY_TEST_DATABASE_URL`` is set, on
that PostgreSQL server (set and unreachable fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import optuna
import pytest

from polyloly.backtest.optimize_space import combine, parse_space
from polyloly.bot.config_loader import load_settings, load_yaml
from polyloly.bot.optimize import (
    ConfigSource,
    Job,
    ReplayOptions,
    Unit,
    check_space,
    decision_patch,
    log_units,
    mask_url,
    open_storage,
    score,
    trial_factory,
    values_of,
)
from polyloly.bot.optimize import _Curve as Curve
from polyloly.bot.optimize_cmd import run_optimize
from polyloly.bot.optimize_report import write_overlay
from polyloly.bot.replay_core import core_factory
from polyloly.domain.events import BookSnapshot, Event, MarketResolved, TimerTick
from polyloly.domain.markets import MarketKind, MarketMapping
from polyloly.domain.money import SCALE
from polyloly.node.session import MarketDiscovered, NodeParams, SessionStarted
from polyloly.runtime.clock import NS_PER_S
from polyloly.runtime.errors import ConfigError, ExitCode
from polyloly.storage.event_log import EventLogWriter
from polyloly.strategies.pair_arb import PairArbParams

REPO = Path(__file__).resolve().parents[2]
PG_ENV = "POLYLOLY_TEST_DATABASE_URL"
START = 1_800_000_000 * NS_PER_S
HOUR = 3_600 * NS_PER_S

SPACE = """
objective: {drawdown_penalty: 0.5}
fixed: {strategies.temporal_arb.enabled: false}
space:
  strategies.pair_arb.pair_cost_cap: {low: 0.80, high: 0.99, step: 0.01}
  strategies.pair_arb.step_usdc: {low: 10, high: 50, step: 5}
  risk.max_open_orders_per_market: {low: 1, high: 8}
"""


def write_log(folder: Path, start: int, yes_ask: int, no_ask: int, *, n: int = 0) -> Path:
    """A recorded market (no decisions): a pair gap, a few seconds of ticks, a resolution."""
    market, yes, no = f"0xm{n}", f"9{n}1", f"9{n}2"
    mapping = MarketMapping(
        match_id=f"lol-{n}",
        market_id=market,
        question="LoL: A vs B - Game 1 Winner",
        kind=MarketKind.GAME,
        game_number=1,
        team_a="a",
        team_b="b",
        token_a=yes,
        token_b=no,
    )
    params = NodeParams(pair_arb=PairArbParams(merge_min_pairs_shares=0))
    events: list[Event] = [
        SessionStarted(ts_event=start, ts_init=start, mode="record", params=params),
        MarketDiscovered(ts_event=start, ts_init=start, mapping=mapping, game="lol"),
    ]
    t = start + NS_PER_S
    for token, ask in ((yes, yes_ask), (no, no_ask)):
        events.append(
            BookSnapshot(
                ts_event=t,
                ts_init=t,
                market=market,
                token_id=token,
                bids=((ask - 30_000, 400 * SCALE),),
                asks=((ask, 400 * SCALE),),
                tick=10_000,
            )
        )
    events += [
        TimerTick(ts_event=start + k * NS_PER_S, ts_init=start + k * NS_PER_S) for k in range(2, 8)
    ]
    end = start + 9 * NS_PER_S
    events.append(MarketResolved(ts_event=end, ts_init=end, market=market, winning_token_id=yes))
    with EventLogWriter(folder) as writer:
        for event in events:
            writer.append(event)
    return folder


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """The repository's base.yaml and dev.yaml (no .env beside them)."""
    folder = tmp_path / "config"
    folder.mkdir()
    for name in ("base.yaml", "dev.yaml", "optimize/space.yaml"):
        (folder / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / "config" / name, folder / name)
    return folder


@pytest.fixture
def source(config_dir: Path) -> ConfigSource:
    return ConfigSource(env="dev", config_dir=str(config_dir))


@pytest.fixture
def logs(tmp_path: Path) -> list[Path]:
    """Three logs an hour apart: gaps 0.90, 0.88, 0.92 (written out of time order)."""
    return [
        write_log(tmp_path / "logs" / "c", START + 2 * HOUR, 420_000, 500_000, n=3),
        write_log(tmp_path / "logs" / "a", START, 400_000, 500_000, n=1),
        write_log(tmp_path / "logs" / "b", START + HOUR, 380_000, 500_000, n=2),
    ]


def parsed(text: str = SPACE):
    return parse_space(load_yaml(text, "space.yaml"), "space.yaml")


OPTIONS = ReplayOptions(request_ms=5, reply_ms=5, collateral=1_000 * SCALE)


# ---------------------------------------------------------------------------------------------
# The space against the settings
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "strategies.pair_arb.nope: {low: 1, high: 2}",
            r"space.strategies.pair_arb.nope: not a setting: .*unknown key",
        ),
        (
            "risk.max_slippage_bps: {low: 0, high: 20000, step: 100}",
            r"space.risk.max_slippage_bps: value 20000 refused",
        ),
        (
            "strategies.pair_arb.pair_cost_cap: {low: 0.5, high: 1.5, step: 0.5}",
            r"space.strategies.pair_arb.pair_cost_cap: value 1.5 refused",
        ),
        (
            "risk.kill_switch_enabled: {choices: [true, false]}",
            "space.risk.kill_switch_enabled: changes nothing a replay decides",
        ),
        (
            "strategies.temporal_arb.presign_refresh_s: {low: 5, high: 10}",
            "presign_refresh_s: changes nothing",
        ),
    ],
)
def test_a_space_the_settings_refuse_is_one_line_naming_the_key(
    source: ConfigSource, entry: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        check_space(parsed(f"space:\n  {entry}\n"), source)
    assert "\n" not in str(caught.value)


def test_a_combination_the_cross_field_rules_refuse_is_not_an_error_of_the_space(
    source: ConfigSource,
) -> None:
    # risk.max_single_order_usdc 5 is a valid value, but below pair_arb.step_usdc (25): such a
    # trial is refused when drawn, the space itself is fine.
    check_space(
        parsed("space:\n  risk.max_single_order_usdc: {low: 5, high: 100, step: 5}\n"), source
    )


# ---------------------------------------------------------------------------------------------
# Trials' replays
# ---------------------------------------------------------------------------------------------


def test_logs_are_units_in_time_order(logs: list[Path]) -> None:
    assert [Path(u.name).name for u in log_units(logs)] == ["a", "b", "c"]


def test_a_trials_replay_is_deterministic_and_its_values_decide(
    source: ConfigSource, logs: list[Path]
) -> None:
    units = [Unit(str(p), (str(p),)) for p in logs]
    trading = source.load({"strategies.pair_arb.pair_cost_cap": "0.97"})
    first = score(units, trading, OPTIONS)
    assert first == score(units, trading, OPTIONS)  # same values, same logs: same score
    total = combine(first)
    assert total.fills >= 6
    assert total.pnl > 0
    shy = score(units, source.load({"strategies.pair_arb.pair_cost_cap": "0.85"}), OPTIONS)
    assert combine(shy).fills == 0
    assert combine(shy).pnl == 0
    smaller = score(units, source.load({"strategies.pair_arb.max_total_cost_usdc": "50"}), OPTIONS)
    assert 0 < combine(smaller).pnl < total.pnl  # less capital per market, less of each gap


@pytest.mark.asyncio
async def test_the_trial_core_decides_like_the_backtest_core_when_nothing_changes(
    logs: list[Path],
) -> None:
    from polyloly.backtest.replay import replay_simulated

    def unchanged(params: NodeParams) -> NodeParams:
        return params

    latency = OPTIONS.latency()
    theirs = await replay_simulated(
        [logs[1]], core_factory(), latency=latency, collateral=OPTIONS.collateral
    )
    ours = await replay_simulated(
        [logs[1]],
        trial_factory(unchanged, Curve(OPTIONS.collateral)),
        latency=latency,
        collateral=OPTIONS.collateral,
    )
    assert theirs.replayed
    assert ours.replayed == theirs.replayed
    assert (ours.fills, ours.equity) == (theirs.fills, theirs.equity)


def test_the_patch_replaces_only_strategy_and_risk_parameters(source: ConfigSource) -> None:
    settings = source.load(
        {"strategies.pair_arb.pair_cost_cap": "0.91", "risk.max_open_orders_per_market": "2"}
    )
    logged = NodeParams(aliases={"Team A": ["A"]}, fee_rate=12_345)
    patched = decision_patch(settings)(logged)
    assert patched.pair_arb is not None
    assert patched.pair_arb.pair_cost_cap == 910_000
    assert patched.risk.max_open_orders_per_market == 2
    assert (patched.aliases, patched.fee_rate, patched.truth) == (
        logged.aliases,
        12_345,
        logged.truth,
    )


def test_storage_urls_hide_their_password() -> None:
    assert mask_url("postgresql://u:secret@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert mask_url("journal:/tmp/x.journal") == "journal:/tmp/x.journal"


def test_an_unreachable_database_is_one_line_without_its_password() -> None:
    from polyloly.bot.optimize import StorageError

    with pytest.raises(StorageError, match=r"cannot open it") as caught:
        open_storage("postgresql://u:hunter2@127.0.0.1:1/none")
    assert "hunter2" not in str(caught.value)
    assert "\n" not in str(caught.value)


# ---------------------------------------------------------------------------------------------
# The search: worker processes on one study
# ---------------------------------------------------------------------------------------------


def _search(
    tmp_path: Path,
    config_dir: Path,
    logs: list[Path],
    storage: str,
    study: str,
    *,
    workers: int,
    trials: int = 6,
    name: str = "run",
    timeout_s: float | None = None,
) -> Path:
    space_file = tmp_path / "space.yaml"
    space_file.write_text(SPACE)
    out = tmp_path / name
    code = run_optimize(
        logs=logs,
        space_path=space_file,
        trials=trials,
        workers=workers,
        timeout_s=timeout_s,
        seed=3,
        storage=storage,
        study_name=study,
        holdout=0.34,
        top=3,
        out=out,
        env="dev",
        config_dir=config_dir,
        backtest={"request_ms": 5, "reply_ms": 5, "collateral_usdc": "1000"},
    )
    assert code == ExitCode.OK
    return out


def _worker_trials(out: Path) -> dict[str, list[dict[str, object]]]:
    return {
        path.name: [json.loads(line) for line in path.read_text().splitlines()]
        for path in sorted((out / "workers").glob("*.jsonl"))
    }


def _check_study(out: Path, study: optuna.Study, trials: int, workers: int) -> None:
    """Every trial ran once, in one worker; all complete; the count is the one asked."""
    ran = _worker_trials(out)
    assert len(ran) == workers  # each worker process ran trials
    numbers = [line["trial"] for lines in ran.values() for line in lines]
    assert sorted(numbers) == list(range(trials))  # never the same trial twice
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * trials
    assert sorted(t.number for t in study.trials) == list(range(trials))
    values = [
        json.dumps(line["values"], sort_keys=True) for lines in ran.values() for line in lines
    ]
    assert len(set(values)) == trials  # distinct parameter sets (seeded per trial number)
    assert len({t.user_attrs["worker"] for t in study.trials}) == workers


def _check_overlay(out: Path, study: optuna.Study) -> None:
    """The overlay loads with the normal loader and holds the best trial's values."""
    results = json.loads((out / "results.json").read_text())
    best = next(r for r in results["rows"] if r["label"] == "#1")
    assert best["held"] is not None
    assert best["train"]["score"]
    trial = next(t for t in study.trials if t.number == best["number"])
    assert trial.value == max(t.value for t in study.trials if t.value is not None)
    settings = load_settings(env="optimized", config_dir=out / "config", environ={}, env_file=False)
    values = values_of(parsed(), trial.params)
    assert settings.strategies.pair_arb.pair_cost_cap == values["strategies.pair_arb.pair_cost_cap"]
    assert settings.strategies.pair_arb.step_usdc == values["strategies.pair_arb.step_usdc"]
    assert settings.risk.max_open_orders_per_market == values["risk.max_open_orders_per_market"]
    assert settings.strategies.temporal_arb.enabled is False  # the space's fixed key
    assert settings.bot.log_level == "DEBUG"  # from dev.yaml, the overlay the search ran with
    assert (out / "report.html").stat().st_size > 100_000
    assert (out / "trials.csv").is_file()


@pytest.mark.timeout(60)
def test_two_workers_on_a_journal_share_the_study_and_repeat_one_worker(
    tmp_path: Path, config_dir: Path, logs: list[Path]
) -> None:
    out = _search(tmp_path, config_dir, logs, "", "local", workers=2)  # default: OUT/study.journal
    study = optuna.load_study(
        study_name="local", storage=open_storage(f"journal:{out / 'study.journal'}")
    )
    _check_study(out, study, trials=6, workers=2)
    _check_overlay(out, study)
    # one worker, same seed: trial k draws the same values (random start-up, seeded per trial)
    alone = _search(tmp_path, config_dir, logs, "", "local", workers=1, name="alone")
    again = optuna.load_study(
        study_name="local", storage=open_storage(f"journal:{alone / 'study.journal'}")
    )
    assert {t.number: t.params for t in again.trials} == {t.number: t.params for t in study.trials}
    assert {t.number: t.value for t in again.trials} == {t.number: t.value for t in study.trials}


@pytest.mark.timeout(90)
def test_a_timeout_stops_starting_trials_and_the_ones_started_finish(
    tmp_path: Path, config_dir: Path, logs: list[Path]
) -> None:
    out = _search(tmp_path, config_dir, logs, "", "timed", workers=2, trials=10_000, timeout_s=6)
    study = optuna.load_study(
        study_name="timed", storage=open_storage(f"journal:{out / 'study.journal'}")
    )
    started = len(study.trials)
    assert 1 <= started < 10_000  # stopped by the clock, not by the count
    # none left running: every trial started before the deadline ran to its end
    assert {t.state for t in study.trials} == {optuna.trial.TrialState.COMPLETE}
    assert sorted(t.number for t in study.trials) == list(range(started))
    assert (out / "results.json").is_file()


@pytest.fixture
def pg_study() -> Iterator[tuple[str, str]]:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set (the shared-study test needs a PostgreSQL server)")
    name = f"polyloly-test-{uuid.uuid4().hex[:12]}"
    yield url, name
    with contextlib.suppress(KeyError):  # the study was never made
        optuna.delete_study(study_name=name, storage=open_storage(url))


@pytest.mark.postgres
@pytest.mark.timeout(60)
def test_two_worker_processes_share_a_postgresql_study_and_never_run_a_trial_twice(
    tmp_path: Path, config_dir: Path, logs: list[Path], pg_study: tuple[str, str]
) -> None:
    url, name = pg_study
    out = _search(tmp_path, config_dir, logs, url, name, workers=2)
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    _check_study(out, study, trials=6, workers=2)
    _check_overlay(out, study)
    assert study.user_attrs["held"] == [str(logs[0])]  # the latest log, held out
    # resuming the same study runs more trials, numbered on
    _search(tmp_path, config_dir, logs, url, name, workers=1, trials=2, name="resumed")
    study = optuna.load_study(study_name=name, storage=open_storage(url))
    assert sorted(t.number for t in study.trials) == list(range(8))


def test_a_study_refuses_a_worker_on_other_data(
    tmp_path: Path, config_dir: Path, logs: list[Path], source: ConfigSource
) -> None:
    from polyloly.bot.optimize import prepare_study

    space = parsed()
    units = log_units(logs)
    job = Job(
        space,
        source,
        tuple(units[:2]),
        tuple(units[2:]),
        OPTIONS,
        f"journal:{tmp_path / 's.journal'}",
    )
    prepare_study(job)
    with pytest.raises(ConfigError, match="another logs or scenarios"):
        prepare_study(Job(space, source, tuple(units[:1]), tuple(units[2:]), OPTIONS, job.storage))
    with pytest.raises(ConfigError, match="another space file"):
        prepare_study(
            Job(
                parsed(SPACE.replace("0.80", "0.81")),
                source,
                job.train,
                job.held,
                OPTIONS,
                job.storage,
            )
        )


def test_the_overlay_layers_the_env_overlay_sets_fixed_and_values(
    tmp_path: Path, config_dir: Path
) -> None:
    source = ConfigSource(
        env="dev", config_dir=str(config_dir), sets={"risk.max_daily_loss_usdc": "77"}
    )
    space = parsed()
    values = {
        "strategies.pair_arb.pair_cost_cap": Decimal("0.955"),
        "strategies.pair_arb.step_usdc": 35,
        "risk.max_open_orders_per_market": 3,
    }
    path = write_overlay(tmp_path / "run", source, space, values, ["a header line"])
    assert path.read_text().splitlines()[1] == "# a header line"
    settings = load_settings(env="optimized", config_dir=path.parent, environ={}, env_file=False)
    assert settings.strategies.pair_arb.pair_cost_cap == Decimal("0.955")
    assert settings.strategies.pair_arb.step_usdc == 35
    assert settings.risk.max_open_orders_per_market == 3
    assert settings.risk.max_daily_loss_usdc == 77
    assert settings.storage.data_dir == Path("data/dev")  # dev.yaml's own keys are kept


def test_the_command_stops_on_a_bad_space_with_one_line_naming_the_key(
    tmp_path: Path, config_dir: Path, logs: list[Path]
) -> None:
    from typer.testing import CliRunner

    from polyloly.bot.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("space:\n  risk.max_slippage_bps: {low: 0, high: 20000, step: 100}\n")
    base = ["optimize", *map(str, logs), "--config-dir", str(config_dir), "--env", "dev"]
    result = CliRunner().invoke(app, [*base, "--space", str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code == ExitCode.CONFIG
    problems = [line for line in result.stderr.splitlines() if line.startswith("  ")]
    assert problems == [
        "  space.risk.max_slippage_bps: value 20000 refused: risk.max_slippage_bps: must be less "
        "than or equal to 10000 (got 20000)"
    ]
    nothing = CliRunner().invoke(app, ["optimize", "--config-dir", str(config_dir), "--env", "dev"])
    assert nothing.exit_code == ExitCode.CONFIG
    assert "nothing to search on: give LOG… and/or --scenarios N" in nothing.stderr
    assert not (tmp_path / "o").exists()  # nothing was started
