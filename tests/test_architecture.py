"""Purity: ``domain/`` and ``strategies/`` do no I/O, read no clock and draw no randomness.

Which polyloly package may import which is import-linter's job (the contracts in
``pyproject.toml``, run by ``lint-imports`` in ``make lint``); this file checks what that tool
cannot express, and that every package is under those contracts.

Every module's AST is walked (nothing is imported), so the check also covers code paths
no test runs. ``domain/`` and ``strategies/`` may import the standard library (minus I/O,
time and randomness) and ``msgspec``. Nobody in these layers may call
``datetime.now``/``utcnow``/``today``, ``time.time``, or ``open``. Randomness must be
injected: importing ``random`` is allowed only for type hints (under ``if TYPE_CHECKING:``).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "polyloly"

BANNED_MODULES = frozenset(
    {
        "asyncio",
        "socket",
        "ssl",
        "select",
        "selectors",
        "http",
        "httpx",
        "aiohttp",
        "websockets",
        "requests",
        "urllib",
        "urllib3",
        "sqlite3",
        "aiosqlite",
        "sqlalchemy",
        "asyncpg",
        "subprocess",
        "multiprocessing",
        "threading",
        "concurrent",
        "os",
        "pathlib",
        "io",
        "shutil",
        "tempfile",
        "glob",
        "fcntl",
        "mmap",
        "gzip",
        "bz2",
        "lzma",
        "zipfile",
        "tarfile",
        "ftplib",
        "smtplib",
        "imaplib",
        "poplib",
        "socketserver",
        "xmlrpc",
        "webbrowser",
        "pickle",
        "shelve",
        "dbm",
        "logging",
        "structlog",
        "importlib",
        "signal",
        "time",
        "random",
        "secrets",
        "uuid",
    }
)
"""Modules that do I/O, read the clock or draw randomness (``uuid4`` is random too)."""

TYPE_ONLY_OK = frozenset({"random"})
"""Banned modules a pure module may still import for annotations (``if TYPE_CHECKING:``)."""

THIRD_PARTY_OK = frozenset({"msgspec", "typing_extensions"})
BANNED_CALLS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval", "__import__"})
BANNED_ATTRIBUTE_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
    ("time", "monotonic"),
    ("time", "perf_counter"),
}
PURE_LAYERS = ("domain", "strategies")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.message}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name an ``ImportFrom`` refers to (handles ``from . import x``)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
            if name == "TYPE_CHECKING":
                for child in node.body:
                    lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imported(module: str, is_package: bool, tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_package, node)
            if target:
                found.append((node.lineno, target))
            # ``from polyloly import execution`` imports a sub-package, not just a name
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def _check_import(name: str) -> str | None:
    top = name.split(".", maxsplit=1)[0]
    if top == "polyloly":
        return None  # between polyloly packages: import-linter's contracts decide
    if top in BANNED_MODULES:
        return f"imports {name} (I/O, wall clock or randomness)"
    if top in sys.stdlib_module_names or top == "__future__" or top in THIRD_PARTY_OK:
        return None
    return f"imports third-party {name} (pure layers use the stdlib and msgspec only)"


def _call_violations(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in BANNED_CALLS:
            found.append((node.lineno, f"calls {func.id}()"))
        elif isinstance(func, ast.Attribute):
            owner = func.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
            if (owner_name, func.attr) in BANNED_ATTRIBUTE_CALLS:
                found.append((node.lineno, f"calls {owner_name}.{func.attr}() (inject a Clock)"))
    return found


def check_source(module: str, source: str, *, is_package: bool = False) -> list[Violation]:
    """Every purity rule ``source`` (module ``module``) breaks."""
    tree = ast.parse(source)
    type_only = _type_checking_lines(tree)
    violations: list[Violation] = []
    for line, name in _imported(module, is_package, tree):
        if line in type_only and name.split(".")[0] in TYPE_ONLY_OK | {"polyloly"}:
            continue  # annotations only: no code runs
        problem = _check_import(name)
        if problem:
            violations.append(Violation(module, line, problem))
    violations += [Violation(module, line, msg) for line, msg in _call_violations(tree)]
    return violations


def pure_modules() -> list[Path]:
    return sorted(p for layer in PURE_LAYERS for p in (SRC / layer).rglob("*.py"))


def test_pure_layers_exist() -> None:
    names = {_module_name(p) for p in pure_modules()}
    assert {"polyloly.domain.money", "polyloly.domain.events", "polyloly.strategies"} <= names


@pytest.mark.parametrize("path", pure_modules(), ids=_module_name)
def test_pure_module_imports_nothing_with_io(path: Path) -> None:
    violations = check_source(
        _module_name(path), path.read_text(encoding="utf-8"), is_package=path.name == "__init__.py"
    )
    assert not violations, "\n".join(map(str, violations))


# -- the checker itself: each rule catches what it should, and nothing more -----------------


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("polyloly.domain.x", "import asyncio", "imports asyncio"),
        ("polyloly.domain.x", "import socket", "imports socket"),
        ("polyloly.domain.x", "from http import client", "imports http"),
        ("polyloly.domain.x", "import httpx", "imports httpx"),
        ("polyloly.domain.x", "import aiohttp.web", "imports aiohttp.web"),
        ("polyloly.domain.x", "import websockets", "imports websockets"),
        ("polyloly.domain.x", "import requests", "imports requests"),
        ("polyloly.domain.x", "from urllib.parse import urlsplit", "imports urllib.parse"),
        ("polyloly.domain.x", "import sqlite3", "imports sqlite3"),
        ("polyloly.domain.x", "import aiosqlite", "imports aiosqlite"),
        ("polyloly.domain.x", "from sqlalchemy import select", "imports sqlalchemy"),
        ("polyloly.domain.x", "import asyncpg", "imports asyncpg"),
        ("polyloly.domain.x", "import subprocess", "imports subprocess"),
        ("polyloly.domain.x", "import os.path", "imports os.path"),
        ("polyloly.domain.x", "from pathlib import Path", "imports pathlib"),
        ("polyloly.domain.x", "import random", "imports random"),
        ("polyloly.domain.x", "from time import monotonic", "imports time"),
        ("polyloly.domain.x", "import numpy", "imports third-party numpy"),
        ("polyloly.domain.x", "x = datetime.now()", "calls datetime.now()"),
        ("polyloly.domain.x", "x = dt.datetime.utcnow()", "calls datetime.utcnow()"),
        ("polyloly.domain.x", "x = date.today()", "calls date.today()"),
        ("polyloly.domain.x", "x = time.time()", "calls time.time()"),
        ("polyloly.domain.x", "f = open('x')", "calls open()"),
    ],
)
def test_checker_catches(module: str, source: str, expected: str) -> None:
    messages = [v.message for v in check_source(module, source)]
    assert any(expected in message for message in messages), messages


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("polyloly.domain.x", "from __future__ import annotations"),
        ("polyloly.domain.x", "import msgspec\nfrom decimal import Decimal\nimport heapq"),
        ("polyloly.domain.x", "from datetime import datetime, timedelta\nx = timedelta(1)"),
        ("polyloly.domain.x", "from polyloly.domain.money import ONE\nfrom . import events"),
        (
            "polyloly.domain.x",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n import random",
        ),
        ("polyloly.domain.x", "def f(clock):\n    return clock.now_ns()"),
        ("polyloly.strategies.pair_arb.engine", "from polyloly.domain.fees import FeeModel"),
        ("polyloly.strategies.pair_arb.engine", "from .math import pair_cost"),
        ("polyloly.strategies.pair_arb.engine", "from ..temporal_arb import params"),
    ],
)
def test_checker_allows(module: str, source: str) -> None:
    assert check_source(module, source) == []


# -- the import-linter contracts cover every package ------------------------------------------


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _packages() -> set[str]:
    return {p.parent.name for p in SRC.glob("*/__init__.py")}


def test_every_package_is_a_layer_of_the_contract_except_testing() -> None:
    (layers,) = [c for c in _contracts() if c["type"] == "layers"]
    assert layers["containers"] == ["polyloly"]
    names = {
        name.strip() for row in layers["layers"] for name in str(row).replace("|", ":").split(":")
    }
    assert names | {"testing"} == _packages()


def test_nothing_imports_bot_or_testing_and_no_cycles_are_contracts() -> None:
    forbidden = {
        str(target): set(map(str, c["source_modules"]))  # type: ignore[call-overload]
        for c in _contracts()
        if c["type"] == "forbidden"
        for target in c["forbidden_modules"]  # type: ignore[attr-defined]
        if target in ("polyloly.bot", "polyloly.testing")
    }
    everyone = {f"polyloly.{name}" for name in _packages()}
    assert forbidden["polyloly.bot"] == everyone - {"polyloly.bot"}
    assert forbidden["polyloly.testing"] == everyone - {"polyloly.testing"}
    cycles = [c for c in _contracts() if c["type"] == "acyclic_siblings"]
    assert [c["ancestors"] for c in cycles] == [["polyloly"]]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["importlinter"]["exclude_type_checking_imports"] is False
