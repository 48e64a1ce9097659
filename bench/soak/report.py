"""The soak's one table, its verdict, and the JSON with every detail behind it.

Rows marked ✗ fail the run when non-zero (the exit status is 1): orders the bot's log never
knew, duplicate orders, lost and ghost fills, position and collateral mismatches, starts
that failed, secrets found in files, accepted-bad fuzz frames (or a fuzz run that did not
finish), a seed that could not run to its end. The other rows are measurements.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.soak.fuzz import FuzzResult
from bench.soak.run import SeedResult

__all__ = ["FAIL_MARK", "Row", "failures", "render", "report_json", "rows"]

FAIL_MARK = "✗"


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a label, one cell per seed, a total, and whether it fails."""

    label: str
    cells: list[str]
    total: str
    failing: bool | None  # None: a measurement, never a verdict


def _sum(results: Sequence[SeedResult], fn: Callable[[SeedResult], int]) -> int:
    return sum(fn(r) for r in results)


def _count_row(label: str, results: Sequence[SeedResult], fn: Callable[[SeedResult], int]) -> Row:
    """A count per seed; a verdict (any non-zero fails) only on a row marked ✗."""
    values = [fn(r) for r in results]
    verdict = sum(values) > 0 if label.startswith(FAIL_MARK) else None
    return Row(label, [f"{v:,}" for v in values], f"{sum(values):,}", verdict)


def _info(label: str, results: Sequence[SeedResult], fn: Callable[[SeedResult], str]) -> Row:
    return Row(label, [fn(r) for r in results], "", None)


def _ms(values: list[float]) -> str:
    if not values:
        return "–"
    return f"{statistics.median(values):,.0f} / {max(values):,.0f}"


def _halted_share(r: SeedResult) -> str:
    op = r.operator
    if op is None or not op.polls:
        return "–"
    return f"{100 * op.halted_polls / op.polls:.0f} %"


def _stuck(r: SeedResult) -> str:
    if r.operator is None or not r.operator.stuck:
        return "0"
    names = sorted({s.feed.removeprefix("polymarket.") for s in r.operator.stuck})
    return f"{len(r.operator.stuck)} ({', '.join(names)})"


def _kills(r: SeedResult) -> int:
    return sum(r.kills.values())


def _order_timed(r: SeedResult) -> int:
    return sum(v for k, v in r.kills.items() if k in ("post", "reply", "logged"))


def rows(results: Sequence[SeedResult], fuzz: FuzzResult | None) -> list[Row]:
    """Every row of the table."""
    out = [
        Row("run (s)", [f"{r.duration_s:,.0f}" for r in results], "", None),
        Row(
            "faults injected",
            [f"{sum(r.faults.values()):,}" for r in results],
            f"{_sum(results, lambda r: sum(r.faults.values())):,}",
            None,
        ),
        Row(
            "SIGKILLs (timed on an order)",
            [f"{_kills(r)} ({_order_timed(r)})" for r in results],
            f"{_sum(results, _kills)} ({_sum(results, _order_timed)})",
            None,
        ),
        Row(
            "restarts",
            [f"{max(len(r.sessions) - 1, 0)}" for r in results],
            f"{_sum(results, lambda r: max(len(r.sessions) - 1, 0))}",
            None,
        ),
        _count_row("✗ starts that failed", results, lambda r: len(r.failed_starts)),
        Row(
            "bot orders / fills on the exchange",
            [f"{r.orders:,} / {r.fills:,}" for r in results],
            f"{_sum(results, lambda r: r.orders):,} / {_sum(results, lambda r: r.fills):,}",
            None,
        ),
        _count_row(
            "✗ orders missing from the bot's log", results, lambda r: len(r.duplicates.unlogged)
        ),
        _count_row(
            "✗ duplicate orders (one decision, filled twice)",
            results,
            lambda r: len(r.duplicates.duplicates),
        ),
        Row(
            "  of which: decision key / temporal / same intent",
            [
                f"{len(r.duplicates.decision)} / {len(r.duplicates.temporal)}"
                f" / {len(r.duplicates.same_intent)}"
                for r in results
            ],
            "",
            None,
        ),
        Row(
            "  same order again after a restart (no key: not judged)",
            [f"{len(r.duplicates.after_restart)} (baseline {r.baseline_repeats})" for r in results],
            f"{_sum(results, lambda r: len(r.duplicates.after_restart))}"
            f" (baseline {_sum(results, lambda r: r.baseline_repeats)})",
            None,
        ),
        _count_row(
            "  in flight at a kill, unfilled, re-decided",
            results,
            lambda r: len(r.duplicates.redecided),
        ),
        _count_row(
            "✗ lost fills (missing or wrong size)",
            results,
            lambda r: len(r.fill_audit.lost) + len(r.fill_audit.wrong_size),
        ),
        _count_row(
            "✗ ghost fills (ledger counts, exchange not)",
            results,
            lambda r: len(r.fill_audit.ghost),
        ),
        _count_row("  trades FAILED after MATCHED", results, lambda r: r.fill_audit.failed_trades),
        _count_row("✗ position mismatches", results, lambda r: len(r.balances.positions)),
        Row(
            "✗ collateral: ledger − exchange (µpUSD, allowance)",
            [f"{r.balances.collateral_diff:+,} ({r.balances.allowance:,})" for r in results],
            f"{_sum(results, lambda r: int(r.balances.collateral_mismatch))} beyond",
            any(r.balances.collateral_mismatch for r in results),
        ),
        _info("final reconcile (the bot's own)", results, lambda r: r.final_reconcile),
        Row(
            "kill-switch halts (timed from a fault)",
            [f"{r.halts.halts} ({len(r.halts.reactions_ms)})" for r in results],
            f"{_sum(results, lambda r: r.halts.halts)}"
            f" ({_sum(results, lambda r: len(r.halts.reactions_ms))})",
            None,
        ),
        Row(
            "  fault → halt, ms (p50 / max)",
            [_ms([ms for _, ms in r.halts.reactions_ms]) for r in results],
            _ms([ms for r in results for _, ms in r.halts.reactions_ms]),
            None,
        ),
        _info(
            "  halts cleared by the bot / by the operator",
            results,
            lambda r: f"{r.halts.resumed_by_itself} / {r.halts.resumed_by_operator}",
        ),
        _info("  halted, share of the bot's uptime", results, _halted_share),
        Row(
            "✗ feeds stuck down (the operator restarted the bot)",
            [_stuck(r) for r in results],
            f"{_sum(results, lambda r: len(r.operator.stuck) if r.operator else 0)}",
            any(r.operator and r.operator.stuck for r in results),
        ),
        Row(
            "✗ secrets found in files (files scanned)",
            [f"{len(r.leaks)} ({r.files_scanned})" for r in results],
            f"{_sum(results, lambda r: len(r.leaks))}",
            any(r.leaks for r in results),
        ),
    ]
    out.append(_fuzz_row(fuzz, len(results)))
    aborted = [r for r in results if r.aborted]
    if aborted:
        out.append(
            Row(
                "✗ seed did not finish",
                [r.aborted or "–" for r in results],
                f"{len(aborted)}",
                True,
            )
        )
    return out


def _fuzz_row(fuzz: FuzzResult | None, n: int) -> Row:
    label = "✗ fuzz: accepted-bad market frames"
    if fuzz is None:
        return Row(label, [""] * n, "skipped", None)
    if not fuzz.available:
        return Row(label, [""] * n, "fuzz: not available on this branch", None)
    found = "?" if fuzz.accepted_bad is None else f"{fuzz.accepted_bad:,}"
    code = "timed out" if fuzz.exit_code is None else f"exit {fuzz.exit_code}"
    return Row(label, [""] * n, f"{found} of {fuzz.frames:,} ({code})", fuzz.failed)


def failures(table: Sequence[Row]) -> list[str]:
    """Labels of the failing rows."""
    return [row.label.removeprefix(FAIL_MARK).strip() for row in table if row.failing]


def render(results: Sequence[SeedResult], table: Sequence[Row]) -> str:
    """The table as Markdown (fixed-width columns, readable in a terminal)."""
    head = ["check", *(f"seed {r.seed}" for r in results), "all", "verdict"]
    body = [
        [
            row.label,
            *row.cells,
            row.total,
            "" if row.failing is None else ("FAIL" if row.failing else "ok"),
        ]
        for row in table
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def report_json(
    results: Sequence[SeedResult], fuzz: FuzzResult | None, table: Sequence[Row], path: Path
) -> None:
    """Write every detail (hashes, trade ids, files, reaction times) as JSON."""
    doc: dict[str, Any] = {
        "verdict": "fail" if failures(table) else "pass",
        "failures": failures(table),
        "table": [
            {"check": r.label, "cells": r.cells, "total": r.total, "failing": r.failing}
            for r in table
        ],
        "seeds": [_seed_json(r) for r in results],
        "fuzz": None if fuzz is None else _fuzz_json(fuzz),
    }
    path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")


def _fuzz_json(fuzz: FuzzResult) -> dict[str, Any]:
    return {name: getattr(fuzz, name) for name in fuzz.__slots__}


_LOG_LINE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _last_line(path: Path) -> str:
    """What a failed start said last: its closing message, re-joined (the console wraps it)."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    tail: list[str] = []
    for line in reversed(lines):
        if not line.strip():
            continue
        if _LOG_LINE.match(line):
            break
        tail.insert(0, line.strip())
    return " ".join(tail or [ln.strip() for ln in lines[-1:]])[:300]


def _seed_json(r: SeedResult) -> dict[str, Any]:
    d = r.duplicates
    return {
        "seed": r.seed,
        "out_dir": str(r.out_dir),
        "duration_s": round(r.duration_s, 1),
        "aborted": r.aborted,
        "faults": r.faults,
        "kills": r.kills,
        "sessions": [
            {
                "index": s.index,
                "ready": s.ready,
                "end": s.end,
                "kill_mode": s.kill_mode,
                "exit_code": s.exit_code,
                "log": s.log.name,
                "error": "" if s.ready else _last_line(s.log),
                "startup_s": None
                if s.ready_ns is None
                else round((s.ready_ns - s.started_ns) / 1e9, 2),
            }
            for s in r.sessions
        ],
        "operator": None
        if r.operator is None
        else {
            "polls": r.operator.polls,
            "halted_polls": r.operator.halted_polls,
            "resumes": r.operator.resumes,
            "stuck": [[f.feed, f.state, round(f.down_s, 1)] for f in r.operator.stuck],
        },
        "orders": r.orders,
        "fills": r.fills,
        "unlogged_orders": d.unlogged,
        "duplicates": {
            "decision_key": d.decision,
            "temporal": d.temporal,
            "same_intent": d.same_intent,
            "after_restart": d.after_restart,
            "redecided": d.redecided,
            "baseline_repeats": r.baseline_repeats,
        },
        "fills_audit": {
            "lost": r.fill_audit.lost,
            "wrong_size": r.fill_audit.wrong_size,
            "ghost": r.fill_audit.ghost,
            "unsettled": r.fill_audit.unsettled,
            "failed_trades": r.fill_audit.failed_trades,
        },
        "balances": {
            "collateral_ledger": r.balances.collateral_ledger,
            "collateral_exchange": r.balances.collateral_exchange,
            "allowance": r.balances.allowance,
            "positions": r.balances.positions,
        },
        "final_reconcile": r.final_reconcile,
        "halts": {
            "count": r.halts.halts,
            "by_condition": r.halts.by_condition,
            "reactions_ms": r.halts.reactions_ms,
            "untimed": r.halts.untimed,
            "resumed_by_itself": r.halts.resumed_by_itself,
            "resumed_by_operator": r.halts.resumed_by_operator,
        },
        "leaks": [{"file": str(leak.path), "secret": leak.secret} for leak in r.leaks],
        "files_scanned": r.files_scanned,
    }
