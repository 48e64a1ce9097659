"""Results of a run: sections of tables and target checks, printed as Markdown and JSON."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Section",
    "Table",
    "Target",
    "fmt_ns",
    "fmt_rate",
    "fmt_value",
    "glance",
    "read_section",
    "render",
    "write_json",
]


@dataclass(slots=True)
class Table:
    """One Markdown table."""

    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append a row (cells are formatted with ``str``)."""
        self.rows.append([str(c) for c in cells])


@dataclass(frozen=True, slots=True)
class Target:
    """One target of the suite's issue and what this run measured.

    ``higher_is_better`` says which way ``value`` must lie of ``limit``. In the JSON each target
    carries its name, value, limit, unit and verdict (``met`` / ``missed (N× off)``).
    """

    name: str
    value: float
    limit: float
    unit: str
    higher_is_better: bool = False

    @property
    def met(self) -> bool:
        """Whether the measured value meets the target (``nan`` never does)."""
        if math.isnan(self.value):
            return False
        return self.value >= self.limit if self.higher_is_better else self.value <= self.limit

    @property
    def factor(self) -> float:
        """How far off: measured / limit (or limit / measured when higher is better)."""
        if not self.value or math.isnan(self.value):
            return float("nan")
        return self.limit / self.value if self.higher_is_better else self.value / self.limit

    @property
    def verdict(self) -> str:
        """``met``, or ``missed (N× off)`` with how far off."""
        return "met" if self.met else f"missed ({self.factor:.2f}× off)"

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for the JSON report."""
        return {
            "name": self.name,
            "value": self.value,
            "limit": self.limit,
            "unit": self.unit,
            "higher_is_better": self.higher_is_better,
            "met": self.met,
            "verdict": self.verdict,
        }


@dataclass(slots=True)
class Section:
    """What one benchmark reports."""

    name: str
    title: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""

    def table(self, title: str, *headers: str) -> Table:
        """Start a table in this section."""
        t = Table(title, list(headers))
        self.tables.append(t)
        return t


def fmt_ns(ns: float) -> str:
    """Nanoseconds for a table: ``512 ns``, ``3.41 µs``, ``2.10 ms``."""
    if math.isnan(ns):
        return "n/a"
    if ns < 1_000:
        return f"{ns:.0f} ns"
    if ns < 1_000_000:
        return f"{ns / 1_000:.2f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    return f"{ns / 1e9:.2f} s"


def fmt_rate(per_s: float) -> str:
    """A rate with thousands separators."""
    return "n/a" if math.isnan(per_s) else f"{per_s:,.0f}"


def fmt_value(value: float, unit: str) -> str:
    """A target's value in its unit: ``3.2 ×``, ``48.1 µs``, ``21,400 frames/s``."""
    if math.isnan(value):
        return "n/a"
    if unit == "ns":
        return fmt_ns(value)
    if unit in ("×", ""):
        return f"{value:,.3g} {unit}".strip()
    if abs(value) >= 1_000:
        return f"{value:,.0f} {unit}"
    return f"{value:,.4g} {unit}"


def _target_row(t: Target) -> list[str]:
    op = "≥" if t.higher_is_better else "≤"
    return [t.name, fmt_value(t.value, t.unit), f"{op} {fmt_value(t.limit, t.unit)}", t.verdict]


def glance(sections: list[Section]) -> list[str]:
    """Every target of the run in one table (Markdown lines; empty without targets)."""
    rows = [(s, t) for s in sections for t in s.targets]
    if not rows:
        return []
    out = ["## Targets at a glance", "", "| section | target | measured | limit | verdict |"]
    out += ["|---|---|---|---|---|"]
    out += [
        "| "
        + " | ".join([s.title.split(" ", 1)[0].rstrip(".") + f" {s.name}", *_target_row(t)])
        + " |"
        for s, t in rows
    ]
    return out


def render(sections: list[Section], header: dict[str, str]) -> str:
    """The whole run as Markdown: the run, every target at a glance, then each section."""
    out = ["## Run", ""]
    out += [f"- {k}: {v}" for k, v in header.items()]
    at_a_glance = glance(sections)
    if at_a_glance:
        out += ["", *at_a_glance]
    for s in sections:
        out += ["", f"## {s.title}", ""]
        if s.skipped:
            out += [f"Skipped: {s.skipped}"]
            continue
        for t in s.tables:
            out += [f"**{t.title}**", "", "| " + " | ".join(t.headers) + " |"]
            out += ["|" + "|".join("---" for _ in t.headers) + "|"]
            out += ["| " + " | ".join(r) + " |" for r in t.rows]
            out += [""]
        if s.targets:
            out += [
                "**Targets**",
                "",
                "| target | measured | limit | verdict |",
                "|---|---|---|---|",
            ]
            out += ["| " + " | ".join(_target_row(t)) + " |" for t in s.targets]
            out += [""]
        out += [f"- {n}" for n in s.notes]
    return "\n".join(out).rstrip() + "\n"


def write_json(path: Path, sections: list[Section], header: dict[str, str]) -> None:
    """Every section's data, targets and notes as one JSON document."""
    doc = {
        "run": header,
        "sections": {
            s.name: {
                "title": s.title,
                "skipped": s.skipped,
                "data": s.data,
                "targets": [t.as_dict() for t in s.targets],
                "notes": s.notes,
                "tables": [
                    {"title": t.title, "headers": t.headers, "rows": t.rows} for t in s.tables
                ],
            }
            for s in sections
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, default=str))


def read_section(path: Path, name: str) -> Section:
    """One section back from a JSON report written by :func:`write_json`."""
    raw = json.loads(path.read_text())["sections"][name]
    section = Section(name, raw["title"], skipped=raw["skipped"], notes=raw["notes"])
    section.data = raw["data"]
    section.tables = [Table(t["title"], t["headers"], t["rows"]) for t in raw["tables"]]
    section.targets = [
        Target(t["name"], t["value"], t["limit"], t["unit"], t["higher_is_better"])
        for t in raw["targets"]
    ]
    return section
