"""``polyloly optimize``: a parameter search over recorded logs and scenario runs (optuna).

A **trial** takes one value per searched settings key (the space file,
:mod:`polyloly.backtest.optimize_space`), loads the configuration with them the way every
command does (base, ``--env`` overlay, ``--set``, the space's ``fixed`` keys, the trial's
values: an invalid combination is pruned, naming why) and replays every training unit —
a recorded event log, or a scenario run recorded once — through the bot's core against the
simulated venue (:func:`~polyloly.backtest.replay.replay_simulated`). The log's own
``SessionStarted`` still sets the truth engine, the team aliases and the fees it was
recorded with; the strategies' and the risk gate's parameters are replaced by the
trial's (:func:`decision_patch`). A replay has no clock of its own and no randomness: the
same values and the same logs give the same score.

**Workers** are separate processes (``spawn``), each running optuna's ``study.optimize``
against one study in one storage: a journal file in the run folder by default (local
workers share it through its file lock), or PostgreSQL (``--storage postgresql://…``), where
workers on several machines share it. Each machine runs exactly ``--trials`` trials: a
worker takes a ticket from a shared counter before each trial and stops when none is left.
The sampler is TPE, seeded per trial from ``--seed`` and the trial's number
(:class:`PerTrialSampler`): with one worker a search repeats exactly; with several, a
trial's values depend only on its number and the trials finished before it.

At the end, the best trials by training score (and the configuration as it is, the
baseline) are scored again on the held-out units; the run folder gets the table
(``trials.csv``, ``results.json``), the plots (``report.html``) and the configuration
overlay of the best trial (``config/optimized.yaml`` beside a copy of ``base.yaml``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import multiprocessing
import os
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec
import optuna

from polyloly.adapters.polymarket import events as pm
from polyloly.backtest.latency import LatencyModel
from polyloly.backtest.optimize_space import (
    Param,
    SearchSpace,
    Total,
    UnitScore,
    Value,
    combine,
    objective_value,
    parse_space,
)
from polyloly.backtest.replay import CoreFactory, replay_simulated
from polyloly.bot.config_loader import (
    load_settings,
    load_yaml,
    merge_config,
    resolve_config_dir,
    validate_config,
)
from polyloly.bot.config_map import node_params
from polyloly.bot.replay_core import core_factory
from polyloly.bot.settings import BacktestSettings, Settings
from polyloly.domain.events import Event, MarketResolved, TimerTick
from polyloly.execution.engine import ExecutionEngine
from polyloly.execution.events import BalanceBaseline, OrderSubmitted, PositionChanged
from polyloly.node.core import NodeKernel
from polyloly.node.session import NodeParams, SessionStarted
from polyloly.runtime.clock import Clock
from polyloly.runtime.errors import ConfigError, PolylolyError
from polyloly.runtime.kernel import EventSink
from polyloly.storage.event_log import EventLogReader

if TYPE_CHECKING:
    from multiprocessing.sharedctypes import Synchronized
    from multiprocessing.synchronize import Barrier as BarrierType

__all__ = [
    "ConfigSource",
    "Job",
    "PerTrialSampler",
    "ReplayOptions",
    "Rescore",
    "StorageError",
    "Unit",
    "check_space",
    "decision_patch",
    "load_space",
    "log_units",
    "mask_url",
    "open_storage",
    "prepare_study",
    "run_workers",
    "scenario_units",
    "score",
    "trial_settings",
]

DEFAULT_STUDY: Final = "polyloly-optimize"
N_STARTUP: Final = 10
"""Trials TPE samples at random (seeded per trial) before it models the results."""
_SKIP: Final = (pm.OrderUpdate, pm.TradeUpdate, pm.UserResync)
_READY_WAIT_S: Final = 60.0  # how long a worker waits for the others to start


class StorageError(PolylolyError):
    """The study's storage cannot be opened or used (the URL is shown without password)."""


# ---------------------------------------------------------------------------------------------
# What a search runs on
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConfigSource:
    """Where the configuration comes from, as a command reads it (plain, picklable)."""

    env: str | None = None
    config_dir: str | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    env_file: str | None = None

    def load(self, overrides: Mapping[str, Any] | None = None) -> Settings:
        """The settings with ``overrides`` on top of ``--set`` (raises ConfigError)."""
        return load_settings(
            env=self.env,
            config_dir=self.config_dir,
            overrides={**self.sets, **(overrides or {})},
            env_file=self.env_file,
        )

    def validate(self, overrides: Mapping[str, Any]) -> Settings:
        """Like :meth:`load` without the cross-field rules: each key's own validation."""
        merged = merge_config(
            self.env, self.config_dir, None, {**self.sets, **overrides}, self.env_file
        )
        return validate_config(Settings, merged)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """The simulated venue of every replay (the ``backtest`` settings by default)."""

    market_delay_ms: int = 0
    esports_delay_ms: int = 0
    request_ms: int = 25
    reply_ms: int = 25
    jitter_ms: int = 0
    collateral: int = 10_000 * 1_000_000

    @classmethod
    def of(cls, cfg: BacktestSettings) -> ReplayOptions:
        """From the ``backtest`` settings section."""
        return cls(
            cfg.market_delay_ms,
            cfg.esports_delay_ms,
            cfg.request_ms,
            cfg.reply_ms,
            cfg.jitter_ms,
            cfg.collateral_micros,
        )

    def latency(self) -> LatencyModel:
        """The latency model of these options."""
        return LatencyModel(
            self.market_delay_ms,
            self.esports_delay_ms,
            self.request_ms,
            self.reply_ms,
            self.jitter_ms,
        )


@dataclass(frozen=True, slots=True)
class Unit:
    """One replay: a recorded log (files or folders), or a recorded scenario run."""

    name: str
    paths: tuple[str, ...]
    kind: str = "log"  # log | scenario

    def fingerprint(self) -> str:
        """Names, sizes and the first and last 64 KiB of every file (cheap on big logs)."""
        digest = hashlib.sha256(self.kind.encode())
        for path in EventLogReader(self.paths).files:
            size = path.stat().st_size
            digest.update(f"{path.name}:{size}".encode())
            with path.open("rb") as handle:
                digest.update(handle.read(65_536))
                handle.seek(max(0, size - 65_536))
                digest.update(handle.read())
        return digest.hexdigest()[:16]


def _first_ts(paths: Sequence[str]) -> int:
    first = next(iter(EventLogReader(paths)), None)
    return first.ts_init if first is not None else 0


def log_units(logs: Iterable[Path]) -> list[Unit]:
    """One unit per log given (a file or a folder), in time order of their first event."""
    units = [Unit(str(p), (str(p),), "log") for p in logs]
    return sorted(units, key=lambda u: (_first_ts(u.paths), u.name))


@dataclass(frozen=True, slots=True)
class Job:
    """Everything a worker needs (plain values: it crosses a process boundary)."""

    space: SearchSpace
    config: ConfigSource
    train: tuple[Unit, ...]
    held: tuple[Unit, ...]
    replay: ReplayOptions
    storage: str
    study_name: str = DEFAULT_STUDY
    seed: int = 0
    out: str = "."
    startup: int = N_STARTUP  # trials drawn at random (seeded per trial) before TPE models


# ---------------------------------------------------------------------------------------------
# The space against the settings
# ---------------------------------------------------------------------------------------------


def load_space(path: Path) -> SearchSpace:
    """Read and parse a space file (a missing file is a configuration error naming it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--space {path}: cannot read it ({exc.strerror})") from None
    return parse_space(load_yaml(text, path.name), path.name)


def default_space_path(config_dir: str | None) -> Path:
    """``<config folder>/optimize/space.yaml``."""
    return resolve_config_dir(config_dir, os.environ) / "optimize" / "space.yaml"


def _first_problem(exc: ConfigError) -> str:
    return (str(exc).splitlines() or ["invalid"])[0]


def check_space(space: SearchSpace, config: ConfigSource) -> Settings:
    """Check every key and its extreme values against the settings; the baseline settings.

    Each value is checked on its own (the key's type and range); a combination that breaks a
    cross-field rule (a strategy's size above the gate's limit…) is not an error of the
    space: a trial that draws it is refused (pruned) and says why.

    Raises
    ------
    ConfigError
        One line naming the space's key: not a setting, a value the setting refuses, or a
        key that changes nothing a replay decides with.
    """
    try:
        base = config.load(dict(space.fixed))
    except ConfigError as exc:
        raise ConfigError(f"fixed (or the configuration): {_first_problem(exc)}") from None
    reference = NodeParams()
    for param in space.params:
        patched: list[bytes] = []
        for value in param.extremes():
            try:
                settings = config.validate({**space.fixed, param.key: value})
            except ConfigError as exc:
                problem = _first_problem(exc).removesuffix(" [overrides]")
                what = "not a setting" if "unknown key" in problem else f"value {value} refused"
                raise ConfigError(f"space.{param.key}: {what}: {problem}") from None
            patched.append(msgspec.json.encode(decision_patch(settings)(reference)))
        if len(set(patched)) < len(patched):  # two of its values decide the same
            raise ConfigError(
                f"space.{param.key}: changes nothing a replay decides with "
                "(not one of the strategies' or the risk gate's parameters)"
            )
    return base


def trial_settings(
    config: ConfigSource, space: SearchSpace, values: Mapping[str, Value]
) -> Settings:
    """The configuration a trial runs with (raises ConfigError on a refused combination)."""
    return config.load({**space.fixed, **values})


def decision_patch(settings: Settings) -> Callable[[NodeParams], NodeParams]:
    """Replace a logged session's strategy and risk parameters with ``settings``' ones."""
    trial = node_params(settings)

    def patch(logged: NodeParams) -> NodeParams:
        return msgspec.structs.replace(
            logged,
            pair_arb=trial.pair_arb,
            pair_arb_delayed_markets=trial.pair_arb_delayed_markets,
            temporal_arb=trial.temporal_arb,
            risk=trial.risk,
        )

    return patch


# ---------------------------------------------------------------------------------------------
# One replay with a trial's parameters
# ---------------------------------------------------------------------------------------------


class _TrialKernel(NodeKernel):
    """The node's kernel, handing the core a patched ``SessionStarted`` (logged as used)."""

    def __init__(
        self, clock: Clock, sink: EventSink | None, patch: Callable[[NodeParams], NodeParams]
    ) -> None:
        super().__init__(clock, sink)
        self._patch = patch

    def publish(self, event: Event) -> None:
        """Publish ``event``; a session's parameters are the trial's first."""
        if type(event) is SessionStarted:
            event = msgspec.structs.replace(event, params=self._patch(event.params))
        super().publish(event)


class _Curve:
    """The PnL curve of a replay: equity − collateral after every fill, tick and resolution
    (from the start-up reconciliation's balance on: before it the account is not adopted)."""

    def __init__(self, collateral: int) -> None:
        self.collateral = collateral
        self.points: list[int] = []
        self.engine: ExecutionEngine | None = None
        self.started = False

    def attach(self, kernel: NodeKernel, engine: ExecutionEngine) -> None:
        self.engine = engine
        kernel.subscribe(BalanceBaseline, self._start)
        for cls in (PositionChanged, TimerTick, MarketResolved):
            kernel.subscribe(cls, self._sample)

    def _start(self, _event: Event) -> None:
        self.started = True
        self._sample(_event)

    def _sample(self, _event: Event) -> None:
        if self.started and self.engine is not None:
            self.points.append(self.engine.state.equity() - self.collateral)


def trial_factory(patch: Callable[[NodeParams], NodeParams], curve: _Curve) -> CoreFactory:
    """The bot's replay core (:func:`polyloly.bot.replay_core.core_factory`) on a kernel
    that patches the session, with the PnL curve listening."""
    return core_factory(
        kernel=lambda clock, sink: _TrialKernel(clock, sink, patch), on_build=curve.attach
    )


async def _replay_unit(
    unit: Unit, patch: Callable[[NodeParams], NodeParams], options: ReplayOptions
) -> UnitScore:
    curve = _Curve(options.collateral)
    result = await replay_simulated(
        list(unit.paths),
        trial_factory(patch, curve),
        latency=options.latency(),
        collateral=options.collateral,
        skip=_SKIP,
    )
    final = result.equity - options.collateral
    orders = sum(1 for e in result.replayed if isinstance(e, OrderSubmitted))
    return UnitScore.of_curve(
        unit.name, [*curve.points, final], fills=result.fills, orders=orders, inputs=result.inputs
    )


def score(units: Sequence[Unit], settings: Settings, options: ReplayOptions) -> list[UnitScore]:
    """Replay every unit with ``settings``' strategy and risk parameters."""
    patch = decision_patch(settings)

    async def run_all() -> list[UnitScore]:
        return [await _replay_unit(unit, patch, options) for unit in units]

    return asyncio.run(run_all())


# ---------------------------------------------------------------------------------------------
# Storage and study
# ---------------------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    if "://" not in url:
        return url
    from sqlalchemy.engine import make_url  # noqa: PLC0415 - only with a URL

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://***"


def _rdb_url(url: str) -> str:
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """The study storage ``url`` names.

    ``postgresql://…`` (psycopg 3) or ``sqlite:///…``: optuna's RDB storage (SQLAlchemy);
    anything else is a journal file path (``journal:PATH`` or a plain path), which local
    processes share through a file lock.

    Raises
    ------
    StorageError
        The database is unreachable or refuses (the message hides the password).
    """
    if "://" in url:
        try:
            with warnings.catch_warnings():  # heartbeats: a killed worker's trial is failed
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _rdb_url(url),
                    engine_kwargs={"pool_pre_ping": True},
                    heartbeat_interval=60,
                    grace_period=180,
                )
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StorageError(f"--storage {mask_url(url)}: cannot open it: {first}") from None
    from optuna.storages.journal import JournalFileBackend  # noqa: PLC0415

    path = Path(url.removeprefix("journal:"))
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def data_fingerprint(train: Sequence[Unit], held: Sequence[Unit]) -> str:
    """What the study was trained on and held out (a worker on other data refuses)."""
    text = json.dumps(
        {"train": [u.fingerprint() for u in train], "held": [u.fingerprint() for u in held]}
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def prepare_study(job: Job) -> optuna.Study:
    """Create the study, or load it and check it searches the same space on the same data.

    Raises
    ------
    ConfigError
        An existing study of that name was made with another space, objective or data.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(job.storage)
    study = optuna.create_study(
        study_name=job.study_name, storage=storage, direction="maximize", load_if_exists=True
    )
    want = {
        "space": job.space.digest(),
        "data": data_fingerprint(job.train, job.held),
        "penalty": str(job.space.penalty),
    }
    have = study.user_attrs
    for key, value in want.items():
        if key in have and have[key] != value:
            what = {"space": "space file", "data": "logs or scenarios", "penalty": "objective"}
            raise ConfigError(
                f"--study-name {job.study_name}: the study in {mask_url(job.storage)} was made "
                f"with another {what[key]} ({key} {have[key]}, here {value}); "
                "use another --study-name"
            )
        study.set_user_attr(key, value)
    study.set_user_attr("train", [u.name for u in job.train])
    study.set_user_attr("held", [u.name for u in job.held])
    return study


# ---------------------------------------------------------------------------------------------
# The sampler and the workers
# ---------------------------------------------------------------------------------------------


def _trial_seed(seed: int, number: int) -> int:
    digest = hashlib.sha256(f"polyloly-optimize:{seed}:{number}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


class PerTrialSampler(optuna.samplers.BaseSampler):
    """TPE seeded from (``seed``, the trial's number).

    A trial's values depend only on its number and the trials finished before it, never on
    which worker runs it; the first :data:`N_STARTUP` trials (random) on the number alone.
    ``constant_liar``: trials still running count as bad ones, so parallel workers spread
    out instead of sampling the same region.
    """

    def __init__(self, seed: int, n_startup: int = N_STARTUP) -> None:
        self.seed = seed
        self.n_startup = n_startup
        self._inner = self._make(0)

    def _make(self, number: int) -> optuna.samplers.TPESampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=_trial_seed(self.seed, number),
                n_startup_trials=self.n_startup,
                constant_liar=True,
            )

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, Any]:
        """As TPE does."""
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, search_space: dict[str, Any]
    ) -> dict[str, Any]:
        """As TPE does."""
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: Any,
    ) -> Any:
        """As TPE does, with this trial's seed."""
        return self._inner.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Seed a fresh TPE from the trial's number."""
        self._inner = self._make(trial.number)
        self._inner.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: optuna.trial.TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """As TPE does."""
        self._inner.after_trial(study, trial, state, values)


def suggest(trial: optuna.Trial, param: Param) -> Value:
    """Ask the trial for ``param``; its exact settings value."""
    if param.kind == "choice":
        return param.value(trial.suggest_categorical(param.key, param.labels()))
    if param.kind == "int":
        drawn: Any = trial.suggest_int(
            param.key, int(param.low), int(param.high), step=int(param.step or 1), log=param.log
        )
        return param.value(drawn)
    step = None if param.step is None else float(param.step)
    drawn = trial.suggest_float(
        param.key, float(param.low), float(param.high), step=step, log=param.log
    )
    return param.value(drawn)


def draw(trial: optuna.Trial, space: SearchSpace) -> dict[str, Value]:
    """The trial's exact values, one per searched key."""
    return {p.key: suggest(trial, p) for p in space.params}


def values_of(space: SearchSpace, drawn: Mapping[str, Any]) -> dict[str, Value]:
    """The exact values of a finished trial (from its drawn ``params``)."""
    return {p.key: p.value(drawn[p.key]) for p in space.params}


def _record(total: Total, penalty: Decimal) -> dict[str, Any]:
    return {
        "score": str(total.score(penalty)),
        "pnl": total.pnl,
        "max_drawdown": total.max_drawdown,
        "fills": total.fills,
        "orders": total.orders,
    }


def _objective(job: Job, log: Path) -> Callable[[optuna.Trial], float]:
    who = f"{socket.gethostname()}:{os.getpid()}"

    def objective(trial: optuna.Trial) -> float:
        values = draw(trial, job.space)
        trial.set_user_attr("worker", who)
        with log.open("a", encoding="utf-8") as out:
            line = {"trial": trial.number, "values": {k: str(v) for k, v in values.items()}}
            out.write(json.dumps(line) + "\n")
        try:
            settings = trial_settings(job.config, job.space, values)
        except ConfigError as exc:
            trial.set_user_attr("refused", _first_problem(exc))
            raise optuna.TrialPruned(_first_problem(exc)) from None
        total = combine(score(job.train, settings, job.replay))
        for key, value in _record(total, job.space.penalty).items():
            trial.set_user_attr(key, value)
        return objective_value(total, job.space.penalty)

    return objective


def worker_main(
    job: Job,
    tickets: Synchronized[int],
    index: int,
    deadline: float | None = None,
    ready: BarrierType | None = None,
) -> None:
    """One worker process: run trials on the shared study while tickets are left (and, with
    a ``deadline`` on the system's monotonic clock, while it has not passed). With
    ``ready``, the first ticket is taken once every worker has started (or after
    ``_READY_WAIT_S``): the first process up does not take every trial of a short search
    while the others are still importing."""
    from polyloly.bot.logging import configure_logging  # noqa: PLC0415

    configure_logging(level="CRITICAL", fmt="console")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if ready is not None:
        with contextlib.suppress(threading.BrokenBarrierError):
            ready.wait(timeout=_READY_WAIT_S)  # a worker that died at start holds no one

    def take() -> bool:
        if deadline is not None and time.monotonic() >= deadline:
            return False  # a trial already running finishes; none starts after the deadline
        with tickets.get_lock():
            if tickets.value <= 0:
                return False
            tickets.value -= 1
            return True

    if not take():
        return
    study = optuna.load_study(
        study_name=job.study_name,
        storage=open_storage(job.storage),
        sampler=PerTrialSampler(job.seed, job.startup),
    )

    def next_ticket(study: optuna.Study, _trial: optuna.trial.FrozenTrial) -> None:
        if not take():
            study.stop()

    folder = Path(job.out) / "workers"
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{socket.gethostname()}-{os.getpid()}-{index}.jsonl"
    study.optimize(_objective(job, log), n_trials=None, callbacks=[next_ticket])


def run_workers(
    job: Job,
    trials: int,
    workers: int,
    progress: Callable[[int], None] | None = None,
    timeout_s: float | None = None,
) -> int:
    """Run ``trials`` trials on ``workers`` processes (each one optuna's ``study.optimize``);
    with ``timeout_s``, no trial starts once that many seconds have passed (the running ones
    finish). Returns how many trials were started.

    Raises
    ------
    PolylolyError
        A worker died (its exit code is named).
    """
    ctx = multiprocessing.get_context("spawn")
    tickets = ctx.Value("i", trials)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    count = max(1, min(workers, trials))
    ready = ctx.Barrier(count)
    procs = [
        ctx.Process(
            target=worker_main, args=(job, tickets, i, deadline, ready), name=f"optimize-{i}"
        )
        for i in range(count)
    ]
    for proc in procs:
        proc.start()
    try:
        while any(p.is_alive() for p in procs):
            for proc in procs:
                proc.join(timeout=1.0 / len(procs))
            if progress is not None:
                with tickets.get_lock():
                    progress(trials - tickets.value)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join()
    failed = [p for p in procs if p.exitcode != 0]
    if failed:
        raise PolylolyError(
            f"{len(failed)} of {len(procs)} workers failed (exit code {failed[0].exitcode})"
        )
    return trials - int(tickets.value)


# ---------------------------------------------------------------------------------------------
# Held-out scores
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rescore:
    """A configuration scored on both sets (what the final table shows)."""

    label: str
    number: int | None
    values: dict[str, str]
    train: dict[str, Any]
    held: dict[str, Any] | None
    refused: str = ""


def _rescore(job: Job, label: str, number: int | None, values: dict[str, Value]) -> Rescore:
    from polyloly.bot.logging import configure_logging  # noqa: PLC0415

    configure_logging(level="CRITICAL", fmt="console")
    text = {k: str(v) for k, v in values.items()}
    try:
        settings = trial_settings(job.config, job.space, values)
    except ConfigError as exc:
        return Rescore(label, number, text, {}, None, refused=_first_problem(exc))
    penalty = job.space.penalty
    train = _record(combine(score(job.train, settings, job.replay)), penalty)
    held = _record(combine(score(job.held, settings, job.replay)), penalty) if job.held else None
    return Rescore(label, number, text, train, held)


def rescore_best(
    job: Job, study: optuna.Study, top: int, workers: int, baseline: Mapping[str, Value]
) -> list[Rescore]:
    """Score the baseline and the ``top`` trials by training score on both sets."""
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    done.sort(key=lambda t: (-(t.value or 0.0), t.number))
    tasks: list[tuple[str, int | None, dict[str, Value]]] = [("baseline", None, dict(baseline))]
    tasks += [
        (f"#{i + 1}", t.number, values_of(job.space, t.params)) for i, t in enumerate(done[:top])
    ]
    if workers <= 1:  # no process to start: score here
        return [_rescore(job, label, n, v) for label, n, v in tasks]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
        futures = [pool.submit(_rescore, job, label, n, v) for label, n, v in tasks]
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# Scenario runs, recorded once
# ---------------------------------------------------------------------------------------------


def _record_scenario(run: Any, speed: Fraction, folder: Path) -> Path:
    """Record one suite run's world with the bot watching, not trading (worker side)."""
    from polyloly.bot.demo import run_demo  # noqa: PLC0415 - worker-side
    from polyloly.bot.node_run import setup_logging  # noqa: PLC0415 - worker-side
    from polyloly.bot.suite import run_options  # noqa: PLC0415 - worker-side

    setup_logging("CRITICAL")
    options = run_options(
        run,
        speed,
        folder,
        overrides={
            "strategies.pair_arb.enabled": False,
            "strategies.temporal_arb.enabled": False,
        },
    )
    demo = asyncio.run(run_demo(options))
    events = sum(1 for _ in EventLogReader([demo.events_dir]))
    (folder / "recorded.json").write_text(
        json.dumps({"scenarios": list(run.scenarios), "seed": run.seed, "events": events}) + "\n"
    )
    return demo.events_dir


def scenario_units(
    count: int,
    seed: int,
    cache: Path,
    *,
    speed: Fraction = Fraction(120),
    game_seconds_delay: int = 3,
    workers: int = 1,
    say: Callable[[str], None] | None = None,
) -> list[Unit]:
    """``count`` runs of the suite (two matches each, seeds ``seed``…), in seed order.

    Each is the suite's world (honest market, rivals as configured) recorded once into
    ``cache`` with the bot watching and not trading — its market data and the providers'
    reports — and reused by later searches (a folder per run, scenario, seed, market and
    speed).
    """
    from polyloly.bot.suite import suite_runs  # noqa: PLC0415
    from polyloly.sim.exchange.pool import MarketParams  # noqa: PLC0415

    market = MarketParams()
    runs = suite_runs(count, seed, market, faster=1.0, game_seconds_delay=game_seconds_delay)
    runs = runs[:count]
    tag = hashlib.sha256(repr(market).encode()).hexdigest()[:8]
    units: list[Unit] = []
    todo: list[tuple[Any, Path]] = []
    for run in runs:
        name = f"{'+'.join(run.scenarios)}-seed{run.seed}-m{tag}-x{speed}-d{run.game_seconds_delay}"
        folder = cache / name.replace("/", "_")
        units.append(Unit(f"scenario {name}", (str(folder / "events"),), "scenario"))
        if not (folder / "recorded.json").is_file():
            todo.append((run, folder))
    if todo:
        if say is not None:
            say(f"recording {len(todo)} scenario run(s) into {cache} (once, then reused)")
        for _, folder in todo:
            if folder.exists():
                import shutil  # noqa: PLC0415

                shutil.rmtree(folder)  # an unfinished recording
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(todo))), mp_context=ctx
        ) as pool:
            futures = [pool.submit(_record_scenario, run, speed, folder) for run, folder in todo]
            for future in futures:
                future.result()
    return units


# ---------------------------------------------------------------------------------------------
# Writing the results
# ---------------------------------------------------------------------------------------------


def rescore_dicts(rows: Sequence[Rescore]) -> list[dict[str, Any]]:
    """The rows as plain dicts (results.json)."""
    return [asdict(r) for r in rows]
