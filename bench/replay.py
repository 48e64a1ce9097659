"""Benchmark 3: full kernel replay of a recorded event log, events/s.

**Recording.** What a recording node logs, built here: its ``SessionStarted`` (both
strategies on, temporal arbitrage at its defaults) and a ``MarketDiscovered`` per market,
then the stream's frames through the real market channel client (decode, parse, sync checks)
on a virtual clock set to each frame's venue time (+0.25 ms), every event it publishes
appended to an ``EventLogWriter``. Interleaved by time: esports reports for
``replay_matches`` matches (start, two map results, the result from two providers, so the
truth engine confirms a FINAL) and a ``TimerTick`` per second.

**Replay.** The project's own backtest: :func:`polyloly.backtest.replay.replay_simulated`
with :func:`polyloly.bot.replay_core.core_factory` — ``EventLogReader`` decodes the file, a
virtual clock and a discrete-event driver feed every input to the node's ``Core`` (books,
truth engine, pair and temporal arbitrage, execution engine with risk gate, order manager,
ledger and reconciliation) while ``PaperVenue`` (behind the latency model) follows every
book and fills the orders in the matching engine, where it mirrors the books of the markets
the orders are in. Variants:

* ``read_decode`` — reading and decoding the log only;
* ``replay_core`` — pre-decoded inputs through the same ``Core`` (no simulated venue: the
  orders go to an in-memory fake that never fills), published in order on a virtual clock;
* ``replay_full`` — ``replay_simulated`` end to end (the headline).

**Decision-heavy.** The demo's own log: ``polyloly demo --fast --set
demo.market_profile=trading`` (seed 7; the market built to make the bot trade: pair
arbitrage fills, merges and stuck legs, temporal entries), recorded once at set-up into the
bench cache (``$TMPDIR/polyloly-bench/demo-log-…``; delete it to record again: a live run
is never the same twice, the cached one makes runs comparable). Variants, each replaying
the log ``DEMO_PASSES`` times per repeat:

* ``demo_full`` — ``replay_simulated`` (what a backtest and a parameter search run);
* ``demo_exact`` — ``replay_exact``, which re-feeds the recorded venue and must make exactly
  the recorded decisions.

Replaying must give the same decisions every time (checked by a digest of the replayed
intents and orders), and the exact replay the recorded ones. ``--smoke`` skips the demo's
log (recording it takes ~25 s).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from bench.config import RunConfig
from bench.report import Section, Target, fmt_rate
from bench.stats import Timer, load_now, median, quiet_gc
from bench.stream import Stream, StreamSpec, _cache_dir, cached_stream
from bench.wiring import (
    Bot,
    bench_params,
    build_bot,
    market_mappings,
    setup_events,
    subscribe_all_tokens,
)
from polyloly.adapters.polymarket.ws_market import MarketWsClient
from polyloly.backtest.replay import replay_exact, replay_simulated
from polyloly.bot.replay_core import core_factory
from polyloly.domain.events import Event, MatchEvent, MatchEventKind, TimerTick
from polyloly.domain.money import SCALE
from polyloly.execution.engine import ExecutionPorts
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.storage.event_log import EventLogReader, EventLogWriter, encode_event
from polyloly.testing.fakes import FakeSigner, FakeVenue, RecordingAlerts, VirtualSleep

__all__ = [
    "demo_log",
    "record_log",
    "replay_core_once",
    "replay_demo_once",
    "replay_full_once",
    "run",
]

K = MatchEventKind
_MATCH_SECONDS = 40
DEMO_PASSES = 5
"""Replays of the demo's log per repeat (one takes a fraction of a second)."""
DEMO_ARGS = ("--fast", "--seed", "7", "--set", "demo.market_profile=trading", "--view", "none")
"""How the decision-heavy log is recorded (``polyloly demo`` options)."""


def _series(m: int, t0: int, winner: str) -> list[MatchEvent]:
    """One Bo3 won 2-0: start, two map results, the result from two providers."""
    step = NS_PER_S * _MATCH_SECONDS // 4
    base: dict[str, Any] = {
        "match_id": f"bench-{m}",
        "provider_match_id": f"p{m}",
        "team_a": f"alpha {m}",
        "team_b": f"beta {m}",
        "best_of": 3,
        "game": "lol",
    }
    script: list[tuple[int, str, MatchEventKind, dict[str, Any]]] = [
        (t0, "grid", K.MATCH_STARTED, {}),
        (t0 + step, "grid", K.GAME_ENDED, {"game_number": 1, "score_a": 1, "score_b": 0}),
        (t0 + 2 * step, "grid", K.GAME_ENDED, {"game_number": 2, "score_a": 2, "score_b": 0}),
        (t0 + 3 * step, "grid", K.MATCH_ENDED, {}),
        (t0 + 3 * step + NS_PER_S, "pandascore", K.MATCH_ENDED, {}),
    ]
    return [
        MatchEvent(
            ts_event=t,
            ts_init=t,
            source=source,
            kind=kind,
            seq=seq,
            winner=None if kind is K.MATCH_STARTED else winner,
            **base,
            **extra,
        )
        for seq, (t, source, kind, extra) in enumerate(script, start=1)
    ]


def _esports_schedule(stream: Stream, matches: int, span: tuple[int, int]) -> list[MatchEvent]:
    """Reports for ``matches`` markets, spread over the stream's time."""
    start, end = span
    out: list[MatchEvent] = []
    for k in range(matches):
        m = k * max(1, stream.meta.markets // max(1, matches)) % stream.meta.markets
        t0 = start + (end - start) * (k + 1) // (matches + 2)
        out += _series(m, t0, f"alpha {m}" if k % 2 == 0 else f"beta {m}")
    out.sort(key=lambda e: e.ts_init)
    return out


def record_log(stream: Stream, matches: int, directory: Path) -> tuple[int, int]:
    """Write the recorded input log; return (events, bytes)."""
    meta = stream.meta
    clock = VirtualClock(0)
    writer = EventLogWriter(directory)
    events = [0]

    def append(event: Event) -> None:
        writer.append(event)
        events[0] += 1

    client = MarketWsClient("ws://127.0.0.1:9/ws/market", append, clock)  # into the log
    subscribe_all_tokens(client, meta.tokens)
    decoder = msgspec.json.Decoder()
    first = int(decoder.decode(stream.frames[0])["timestamp"]) * NS_PER_MS
    last = int(decoder.decode(stream.frames[-1])["timestamp"]) * NS_PER_MS
    mappings = market_mappings(meta.condition_ids, meta.tokens)
    for event in setup_events(bench_params(), mappings, first - NS_PER_S):
        append(event)
    side = _esports_schedule(stream, matches, (first, last))
    next_tick = first - first % NS_PER_S + NS_PER_S
    j = 0
    stamp = msgspec.json.Decoder(type=_Stamp, strict=False)
    for frame in stream.frames:
        ts = stamp.decode(frame).timestamp * NS_PER_MS + 250_000  # received 0.25 ms later
        while j < len(side) and side[j].ts_init <= ts:
            clock.set_ns(side[j].ts_init)
            append(side[j])
            j += 1
        while next_tick <= ts:
            clock.set_ns(next_tick)
            append(TimerTick(ts_event=next_tick, ts_init=next_tick))
            next_tick += NS_PER_S
        clock.set_ns(ts)
        client.handle_frame(frame)
    for e in side[j:]:
        append(e)
    writer.close()
    size = sum(p.stat().st_size for p in directory.glob("events-*"))
    return events[0], size


class _Stamp(msgspec.Struct):
    timestamp: int = 0


def _digest(events: list[Event]) -> str:
    sha = hashlib.sha256()
    for event in events:
        sha.update(encode_event(event))
    return sha.hexdigest()


def replay_full_once(log_dir: Path) -> dict[str, Any]:
    """``replay_simulated`` over the log, timed from the first read to the last decision."""

    async def main() -> Any:
        return await replay_simulated([log_dir], core_factory(), collateral=10**7 * SCALE)

    with quiet_gc(), Timer() as t:
        result = asyncio.run(main())
    return {
        "fed": result.inputs,
        "seconds": t.elapsed,
        "digest": _digest(result.replayed),
        "decisions": result.counts(),
        "fills": result.fills,
    }


def _core_bot(stream: Stream, clock: VirtualClock) -> Bot:
    meta = stream.meta
    pairs = {
        c: (meta.tokens[2 * i], meta.tokens[2 * i + 1]) for i, c in enumerate(meta.condition_ids)
    }
    venue = FakeVenue(pairs, collateral=10**7 * SCALE, now_ns=clock.now_ns)
    ports = ExecutionPorts(
        signer=FakeSigner(), venue=venue, account=venue, alerts=RecordingAlerts()
    )
    bot = build_bot(
        [], clock, ports=ports, market_ws_url=None, sleep=VirtualSleep(clock), setup=False
    )
    venue.publish = bot.kernel.publish
    bot.record_decisions()
    return bot


def replay_core_once(stream: Stream, events: list[Event]) -> dict[str, Any]:
    """Pre-decoded inputs through the node's core on a virtual clock; no simulated venue."""
    clock = VirtualClock(events[0].ts_init if events else 0)
    bot = _core_bot(stream, clock)

    async def main() -> tuple[int, float]:
        engine = bot.engine
        engine.start()
        await engine.idle()
        publish, tasks, fed = bot.kernel.publish, engine.tasks, 0
        with quiet_gc(), Timer() as t:
            for event in events:
                if type(event).derived:
                    continue
                clock.set_ns(event.ts_init)
                publish(event)
                fed += 1
                if tasks.pending:
                    await engine.idle()
            await engine.idle()
        await engine.stop()
        return fed, t.elapsed

    fed, elapsed = asyncio.run(main())
    return {
        "fed": fed,
        "seconds": elapsed,
        "intents": len(bot.intents),
        "handler_errors": bot.kernel.handler_errors,
    }


def demo_log() -> Path:
    """The demo's event log (``DEMO_ARGS``), recorded once into the bench cache."""
    key = hashlib.sha256(" ".join(DEMO_ARGS).encode()).hexdigest()[:12]
    out = _cache_dir() / f"demo-log-{key}"
    events = out / "events"
    if not any(events.glob("events-*.jsonl*")):
        out.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-c", "from polyloly.bot.cli import main; main()"]
        proc = subprocess.run(  # noqa: S603 - our own command, same interpreter
            [*argv, "demo", *DEMO_ARGS, "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not any(events.glob("events-*.jsonl*")):
            raise RuntimeError(f"recording the demo's log failed: {proc.stderr[-2000:]}")
    return events


def replay_demo_once(log_dir: Path, *, exact: bool) -> dict[str, Any]:
    """``DEMO_PASSES`` replays of the demo's log, timed together (one event loop each)."""

    async def main() -> Any:
        if exact:
            return await replay_exact([log_dir], core_factory())
        return await replay_simulated([log_dir], core_factory(), collateral=10_000 * SCALE)

    fed, digests, identical = 0, set(), True
    with quiet_gc(), Timer() as t:
        for _ in range(DEMO_PASSES):
            result = asyncio.run(main())
            fed += result.inputs
            digests.add(_digest(result.replayed))
            identical = identical and (result.identical if exact else True)
    return {
        "fed": fed,
        "seconds": t.elapsed,
        "digests": digests,
        "identical": identical,
        "decisions": result.counts(),
        "fills": result.fills,
        "inputs_per_pass": result.inputs,
    }


def _decode_only(log_dir: Path) -> tuple[int, float]:
    with quiet_gc(), Timer() as t:
        n = sum(1 for _ in EventLogReader([log_dir]))
    return n, t.elapsed


def run(cfg: RunConfig) -> Section:
    """Record once, then replay ``repeats`` times per variant (round-robin)."""
    s = Section("replay", "3. Full kernel replay of a recorded event log")
    spec = StreamSpec(markets=cfg.markets, messages=cfg.replay_messages, seed=cfg.seed + 1)
    stream, _ = cached_stream(spec)
    demo = None if cfg.smoke else demo_log()
    demo_digests: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="polyloly-bench-replay-") as tmp:
        log_dir = Path(tmp)
        n_events, size = record_log(stream, cfg.replay_matches, log_dir)
        decoded = list(EventLogReader([log_dir]))
        runs: dict[str, list[float]] = {"read_decode": [], "replay_core": [], "replay_full": []}
        last: dict[str, dict[str, Any]] = {}
        digests: set[str] = set()
        for _ in range(cfg.repeats):
            n, secs = _decode_only(log_dir)
            runs["read_decode"].append(n / secs)
            core = replay_core_once(stream, decoded)
            runs["replay_core"].append(core["fed"] / core["seconds"])
            full = replay_full_once(log_dir)
            runs["replay_full"].append(full["fed"] / full["seconds"])
            digests.add(full["digest"])
            last = {"core": core, "full": full}
            for name, exact in (("demo_full", False), ("demo_exact", True)):
                if demo is None:
                    continue
                got = replay_demo_once(demo, exact=exact)
                runs.setdefault(name, []).append(got["fed"] / got["seconds"])
                demo_digests.setdefault(name, set()).update(got["digests"])
                last[name] = got
    t = s.table(
        "Inputs per second (median of repeats)", "variant", "inputs/s", "µs/input", "runs inputs/s"
    )
    for name, vals in runs.items():
        med = median(vals)
        t.add(name, fmt_rate(med), f"{1e6 / med:.2f}", " ".join(fmt_rate(v) for v in vals))
    full = last["full"]
    s.notes.append(
        f"log: {n_events:,} input events from {len(stream):,} frames, {cfg.replay_matches} "
        f"matches, {size / 1e6:.1f} MB JSONL"
    )
    s.notes.append(
        f"replay_full: {full['fed']:,} inputs fed, decisions {full['decisions']}, fills "
        f"{full['fills']}; replay_core: {last['core']['intents']} intents, handler errors "
        f"{last['core']['handler_errors']}"
    )
    s.notes.append(
        f"determinism: {len(digests)} distinct digest(s) of the replayed decisions over "
        f"{cfg.repeats} replay(s)"
    )
    if demo is not None:
        d_full, d_exact = last["demo_full"], last["demo_exact"]
        demo_bytes = sum(p.stat().st_size for p in demo.glob("events-*"))
        s.notes.append(
            f"demo's log ({demo}): {d_full['inputs_per_pass']:,} inputs per simulated pass "
            f"({d_exact['inputs_per_pass']:,} exact), {demo_bytes / 1e6:.1f} MB, "
            f"recorded by `polyloly demo {' '.join(DEMO_ARGS)}`; {DEMO_PASSES} passes per repeat"
        )
        s.notes.append(
            f"demo_full: decisions {d_full['decisions']}, fills {d_full['fills']}; "
            f"demo_exact: decisions {d_exact['decisions']}, identical to the recording: "
            f"{d_exact['identical']}; distinct digests over every pass: "
            + ", ".join(f"{k} {len(v)}" for k, v in demo_digests.items())
        )
    s.notes.append(f"load average after the benchmark: {load_now()}")
    s.targets.append(
        Target(
            "kernel replay, market-heavy log",
            median(runs["replay_full"]),
            300_000,
            "inputs/s",
            higher_is_better=True,
        )
    )
    if demo is not None:
        s.targets.append(
            Target(
                "kernel replay, the demo's decision-heavy log",
                median(runs["demo_full"]),
                150_000,
                "inputs/s",
                higher_is_better=True,
            )
        )
    s.data = {
        "runs_events_per_s": runs,
        "events": n_events,
        "bytes": size,
        "last": {
            k: {**v, "digests": sorted(v["digests"])} if "digests" in v else v
            for k, v in last.items()
        },
        "deterministic": len(digests) == 1
        and all(len(v) == 1 for v in demo_digests.values())
        and (demo is None or last["demo_exact"]["identical"]),
    }
    return s
