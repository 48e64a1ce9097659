"""Shared test fixtures: paths to the real recorded payloads, and small builders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyloly.bot.logging import reset_logging

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = REPO_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def shared_fixtures() -> Path:
    """Folder of real API payloads (``../shared/fixtures``); skips when it is absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip(f"real payload fixtures not found at {SHARED_FIXTURES} (a user's own clone)")
    return SHARED_FIXTURES


def load_fixture(folder: Path, name: str) -> Any:
    """Load one JSON fixture file."""
    return json.loads((folder / name).read_text())


@pytest.fixture(autouse=True)
def _reset_logging_after_each_test() -> Iterator[None]:
    """A test that configures logging must not leak its stream into later tests."""
    yield
    reset_logging()
