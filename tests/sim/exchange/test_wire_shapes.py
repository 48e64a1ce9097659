"""The frame schema used on the simulator's output is the venue's: real recordings fit it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.conftest import load_fixture
from tests.sim.exchange import wire_shapes


def test_fixture_frames_fit_the_schema(real_fixtures: Path) -> None:
    folder = real_fixtures / "polymarket"
    for name, kind in wire_shapes.FIXTURES.items():
        frame: dict[str, Any] = load_fixture(folder, name)
        wire_shapes.check(frame, kind)


def test_schema_refuses_a_frame_missing_a_field() -> None:
    frame = {"event_type": "last_trade_price", "market": "0x1", "asset_id": "1", "price": "0.5"}
    with pytest.raises(Exception, match="missing required field"):
        wire_shapes.check(frame)
