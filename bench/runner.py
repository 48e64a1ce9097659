"""The suite's command line: run the selected benchmarks, print Markdown, write JSON.

::

    python -m bench run                      # everything, full sizes (scale: 10 minutes)
    python -m bench run --smoke              # CI: tiny sizes, seconds per benchmark
    python -m bench run --only hotpath,nautilus --repeats 5
    python -m bench run --only scale --quick # the scale run's 30 s mode
    python -m bench run --only scale --scale-duration-s 120
    python -m bench gen --messages 1000000   # write the stream to the cache folder
    python -m bench profile --out hot.txt    # the headline path's call tree (pyinstrument)

Results go to stdout (Markdown) and to ``--json`` (default: ``<cache>/last-run.json``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.config import BENCHMARKS, RunConfig, default_nt_python
from bench.report import Section, read_section, render, write_json
from bench.stats import machine_info
from bench.stream import StreamSpec, _cache_dir, cached_stream

__all__ = ["main", "parse_args", "run_suite"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run benchmarks")
    run.add_argument("--smoke", action="store_true", help="tiny sizes (CI)")
    run.add_argument("--only", default="", help=f"comma list of {', '.join(BENCHMARKS)}")
    run.add_argument("--repeats", type=int, default=None)
    run.add_argument("--messages", type=int, default=None, help="hot-path stream frames")
    run.add_argument("--markets", type=int, default=None, help="hot-path stream markets")
    run.add_argument("--quick", action="store_true", help="scale run: 30 s instead of 10 min")
    run.add_argument("--scale-duration-s", type=float, default=None)
    run.add_argument("--scale-rate", type=int, default=None, help="scale run frames per second")
    run.add_argument("--scale-markets", type=int, default=None, help="scale run markets")
    run.add_argument(
        "--scale-no-pin",
        action="store_true",
        help="scale run: leave the feeder and the bot unpinned (A/B on a shared machine)",
    )
    run.add_argument("--wire-samples", type=int, default=None)
    run.add_argument("--wire-stream-rate", type=int, default=None, help="wire run: stream msg/s")
    run.add_argument("--nt-python", default=None, help="interpreter with nautilus_trader")
    run.add_argument("--json", type=Path, default=None, help="where to write the JSON results")
    run.add_argument("--markdown", type=Path, default=None, help="also write the Markdown here")
    defaults = RunConfig()
    gen = sub.add_parser("gen", help="generate (and cache) a stream")
    gen.add_argument("--messages", type=int, default=defaults.messages)
    gen.add_argument("--markets", type=int, default=defaults.markets)
    gen.add_argument("--seed", type=int, default=defaults.seed)
    gen.add_argument("--decided", type=int, default=defaults.hot_decided, help="decided markets")
    prof = sub.add_parser("profile", help="profile the hot path (pyinstrument call tree)")
    prof.add_argument("--messages", type=int, default=300_000)
    prof.add_argument("--markets", type=int, default=defaults.markets)
    prof.add_argument("--seed", type=int, default=defaults.seed)
    prof.add_argument("--unlogged", action="store_true", help="without the event log")
    prof.add_argument(
        "--idle", action="store_true", help="nothing held or armed, no results (the idle node)"
    )
    prof.add_argument("--out", type=Path, default=None, help="text report (default: cache)")
    return ap.parse_args(argv)


def config_from(args: argparse.Namespace) -> RunConfig:
    """Build the run configuration from the arguments."""
    cfg = RunConfig.smoke_config() if args.smoke else RunConfig()
    overrides: dict[str, object] = {}
    for arg, name in (
        ("repeats", "repeats"),
        ("messages", "messages"),
        ("markets", "markets"),
        ("scale_rate", "scale_rate"),
        ("scale_markets", "scale_markets"),
        ("wire_samples", "wire_samples"),
        ("wire_stream_rate", "wire_stream_rate"),
    ):
        value = getattr(args, arg)
        if value is not None:
            overrides[name] = value
    overrides["nt_python"] = args.nt_python or default_nt_python()
    if args.scale_no_pin:
        overrides["scale_pin"] = False
    cfg = dataclasses.replace(cfg, **overrides)  # type: ignore[arg-type]
    return cfg.with_scale(quick=args.quick, duration_s=args.scale_duration_s)


def selected(only: str) -> list[str]:
    """The benchmarks to run, in suite order."""
    if not only:
        return list(BENCHMARKS)
    names = [x.strip() for x in only.split(",") if x.strip()]
    unknown = [x for x in names if x not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    return [b for b in BENCHMARKS if b in names]


def run_suite(cfg: RunConfig, names: list[str]) -> list[Section]:
    """Run the named benchmarks; each one's failure is reported, not raised."""
    sections: list[Section] = []
    if "hotpath" in names or "nautilus" in names:
        from bench import hotpath

        hot, nt = hotpath.run(cfg, nautilus="nautilus" in names)
        sections.append(hot)  # the peer's ratio needs the hot path measured in the same run
        if "nautilus" in names:
            sections.append(nt)
    if "replay" in names:
        from bench import replay

        sections.append(replay.run(cfg))
    if "wire" in names:
        from bench import wire

        sections.append(wire.run(cfg))
    if "scale" in names:
        if len(names) > 1:
            sections.append(_scale_in_own_process(cfg))
        else:
            from bench import scale

            sections.append(scale.run(cfg))
    return sections


def _scale_in_own_process(cfg: RunConfig) -> Section:
    """Run the scale benchmark in a fresh interpreter: its memory figures are the bot's own.

    (After the other benchmarks this process holds their streams and logs.)
    """
    with tempfile.TemporaryDirectory(prefix="polyloly-bench-scale-") as tmp:
        out = Path(tmp) / "scale.json"
        argv = [sys.executable, "-m", "bench", "run", "--only", "scale", "--json", str(out)]
        argv += ["--smoke"] if cfg.smoke else []
        argv += ["--scale-duration-s", str(cfg.scale_duration_s)]
        argv += ["--scale-rate", str(cfg.scale_rate), "--scale-markets", str(cfg.scale_markets)]
        argv += [] if cfg.scale_pin else ["--scale-no-pin"]
        proc = subprocess.run(  # noqa: S603 - our own suite, same interpreter
            argv,
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"scale run failed: {proc.stderr[-2000:]}")
        return read_section(out, "scale")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m bench``."""
    args = parse_args(argv)
    if args.cmd == "gen":
        spec = StreamSpec(
            markets=args.markets,
            messages=args.messages,
            seed=args.seed,
            decided_markets=args.decided,
        )
        stream, path = cached_stream(spec)
        print(f"{len(stream):,} frames, {stream.meta.counts} -> {path}")
        return 0
    if args.cmd == "profile":
        from bench.profile import write_profile

        d = RunConfig()
        spec = StreamSpec(
            markets=args.markets,
            messages=args.messages,
            seed=args.seed,
            decided_markets=0 if args.idle else d.hot_decided,
        )
        out = args.out or (_cache_dir() / "hotpath-profile.txt")
        n = write_profile(
            spec,
            out,
            logged=not args.unlogged,
            held=0 if args.idle else d.hot_held,
            results=0 if args.idle else d.hot_results,
        )
        print(f"profiled {n:,} frames -> {out}")
        return 0
    cfg = config_from(args)
    names = selected(args.only)
    started = time.monotonic()
    header = machine_info(
        {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),  # noqa: TID251 - report stamp
            "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
            "mode": "smoke" if cfg.smoke else "full",
            "repeats": str(cfg.repeats),
        }
    )
    sections = run_suite(cfg, names)
    header["duration"] = f"{time.monotonic() - started:.0f} s"
    text = render(sections, header)
    print(text)
    out = args.json or (_cache_dir() / ("last-smoke.json" if cfg.smoke else "last-run.json"))
    write_json(out, sections, header)
    if args.markdown:
        args.markdown.write_text(text)
    print(f"(JSON: {out})")
    return 0
