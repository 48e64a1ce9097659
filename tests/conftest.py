"""Shared test fixtures: paths to the real recorded payloads, and small builders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyloly.bot.logging import reset_logging
from polyloly.domain.events import Event

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "real"


@pytest.fixture
def real_fixtures() -> Path:
    """Folder of real recorded API payloads (``tests/fixtures/real``, sources in its README)."""
    return REAL_FIXTURES


def load_fixture(folder: Path, name: str) -> Any:
    """Load one JSON fixture file."""
    return json.loads((folder / name).read_text())


@pytest.fixture(autouse=True)
def _reset_logging_after_each_test() -> Iterator[None]:
    """A test that configures logging must not leak its stream into later tests."""
    yield
    reset_logging()


class RecordingSink:
    """An in-memory event sink: what was appended, how often and how far it was flushed."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.flushes = 0
        self.durable = 0  # how many events were appended at the last flush

    def append(self, event: Event) -> None:
        self.events.append(event)

    def flush(self) -> None:
        self.flushes += 1
        self.durable = len(self.events)

    def durable_events(self) -> list[Event]:
        """The events a crash right now would keep."""
        return self.events[: self.durable]

    def of(self, cls: type[Any]) -> list[Any]:
        """The appended events of ``cls`` (or a subclass), in order."""
        return [e for e in self.events if isinstance(e, cls)]
