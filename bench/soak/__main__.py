"""``python -m bench.soak`` (``make soak``): the fault soak, one table, a verdict.

::

    python -m bench.soak                       # 5 seeds x ~4.5 min, 7-9 kills and 100 faults each,
                                               # then the 1,000,000-frame fuzz run
    python -m bench.soak --short --seed 3      # the CI run: one seed, ~60 s
    python -m bench.soak --seeds 1,2,3 --faults 60 --scenario-s 120 --fuzz-frames 0

Exit status: 0 nothing found, 1 a loss, a duplicate, a mismatch, a failed start, a leak or an
accepted-bad frame (the table says which, ``report.json`` in the output folder has the
details), 2 bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.soak.config import SoakConfig
from bench.soak.fuzz import FuzzResult, run_fuzz
from bench.soak.report import failures, render, report_json, rows
from bench.soak.run import SeedResult, run_seed
from polyloly.runtime.clock import NS_PER_S, LiveClock

__all__ = ["main"]


def _seeds(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected seeds like 1,2,3 (got {text!r})") from exc
    if not seeds:
        raise argparse.ArgumentTypeError("expected at least one seed")
    return seeds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    ap.add_argument("--short", action="store_true", help="the CI run: one seed, ~60 s")
    ap.add_argument("--seed", type=int, default=None, help="one seed (with --short: its seed)")
    ap.add_argument("--seeds", type=_seeds, default=None, help="comma list (default 1,2,3,4,5)")
    ap.add_argument("--scenario-s", type=float, default=None, help="real seconds of the games")
    ap.add_argument("--faults", type=int, default=None, help="faults per seed")
    ap.add_argument("--kills", type=int, default=None, help="SIGKILLs per seed (default 7-9)")
    ap.add_argument("--fuzz-frames", type=int, default=None, help="0 skips the fuzz run")
    ap.add_argument("--out", type=Path, default=None, help="output folder")
    return ap.parse_args(argv)


def config_from(args: argparse.Namespace) -> SoakConfig:
    """The run's configuration from the command line."""
    cfg = SoakConfig.short(args.seed or 1) if args.short else SoakConfig()
    changes: dict[str, object] = {}
    if args.seeds is not None:
        changes["seeds"] = args.seeds
    elif args.seed is not None:
        changes["seeds"] = (args.seed,)
    if args.scenario_s is not None:
        changes["scenario_s"] = args.scenario_s
    if args.faults is not None:
        changes["faults"] = args.faults
    if args.kills is not None:
        changes["kills"] = (args.kills, args.kills)
    if args.fuzz_frames is not None:
        changes["fuzz_frames"] = args.fuzz_frames
    for name in ("scenario_s", "faults", "fuzz_frames"):
        value = changes.get(name)
        if isinstance(value, int | float) and value < 0:
            raise SystemExit(f"error: --{name.replace('_', '-')} must be >= 0")
    return cfg.with_(**changes) if changes else cfg


def _out_dir(args: argparse.Namespace) -> Path:
    # Absolute: the bot runs in its seed's folder and is handed paths inside it.
    if args.out is not None:
        return Path(args.out).resolve()
    stamp = dt.datetime.fromtimestamp(LiveClock().now_ns() // NS_PER_S, tz=dt.UTC)
    return (Path("data/soak") / f"run-{stamp.strftime('%Y%m%d-%H%M%S')}").resolve()


async def _run(cfg: SoakConfig, out: Path) -> list[SeedResult]:
    results = []
    for seed in cfg.seeds:
        print(f"soak: seed {seed} ...", file=sys.stderr, flush=True)
        result = await run_seed(cfg, seed, out / f"seed-{seed}")
        print(
            f"soak: seed {seed} done in {result.duration_s:.0f} s"
            + (f" ({result.aborted})" if result.aborted else ""),
            file=sys.stderr,
            flush=True,
        )
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak; print the table; 0 clean, 1 findings."""
    try:
        args = parse_args(argv)
        cfg = config_from(args)
    except SystemExit as exc:
        return 2 if exc.code not in (0, None) else 0
    out = _out_dir(args)
    out.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(_run(cfg, out))
    fuzz: FuzzResult | None = None
    if cfg.fuzz_frames:
        print(f"soak: fuzz {cfg.fuzz_frames:,} market frames ...", file=sys.stderr, flush=True)
        fuzz = run_fuzz(
            cfg.fuzz_frames, cfg.fuzz_seed, timeout_s=cfg.fuzz_timeout_s, log=out / "fuzz.log"
        )
    table = rows(results, fuzz)
    print(render(results, table))
    if fuzz is not None and not fuzz.available:
        print("fuzz: not available on this branch (bench.fuzz_market; wired once merged)")
    report_json(results, fuzz, table, out / "report.json")
    failed = failures(table)
    print(f"details: {out / 'report.json'} (per seed: journal, bot logs, event log)")
    print("verdict: " + ("FAIL: " + "; ".join(failed) if failed else "pass"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
