"""``python -m bench.fuzz_market``: a short seeded run finds no accepted-bad frame, and the
checks do catch a market-data path that lets bad frames through."""

from __future__ import annotations

import subprocess
import sys

import pytest
from bench.soak.fuzz import parse_accepted_bad
from tests.bench.cli import REPO_ROOT

from bench import fuzz_market
from polyloly.adapters.polymarket import ws_market
from polyloly.adapters.polymarket.parsing import market_resolved
from polyloly.domain.orderbook import BookSet, OrderBook


def test_a_short_run_refuses_every_bad_frame_of_every_class() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.fuzz_market", "--frames", "20000", "--seed", "7"],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=55,
        check=False,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out + proc.stderr.decode()
    assert parse_accepted_bad(proc.stdout) == 0
    assert out.rstrip().endswith("accepted-bad: 0")
    for cls in fuzz_market.BAD_CLASSES:
        row = next(line for line in out.splitlines() if line.startswith(f"| {cls} |"))
        generated, refused, accepted = (c.strip() for c in row.split("|")[2:5])
        assert int(generated.replace(",", "")) > 100, row  # every class is exercised
        assert (refused, accepted) == (generated, "0"), row


def test_the_checks_catch_a_path_that_lets_bad_frames_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def publish_any_resolution(self: ws_market.MarketWsClient, msg: object) -> None:
        self._emit(market_resolved(msg, self._now()))  # type: ignore[arg-type]

    def accept_any_snapshot(
        self: OrderBook,
        bids: tuple[tuple[int, int], ...],
        asks: tuple[tuple[int, int], ...],
        tick: int | None = None,
    ) -> bool:
        self.tick = tick if tick is not None else self.tick
        self._bids, self._asks = dict(bids), dict(asks)
        self._bid_sorted = self._ask_sorted = None
        self.best_bid_price = max(self._bids, default=None)
        self.best_ask_price = min(self._asks, default=None)
        self.in_sync = True
        return True

    monkeypatch.setattr(ws_market.MarketWsClient, "_on_resolved", publish_any_resolution)
    monkeypatch.setattr(OrderBook, "snapshot", accept_any_snapshot)
    monkeypatch.setattr(BookSet, "_crossed", lambda _self, _book: None)
    report = fuzz_market.run(5_000, 7)
    assert report.failed
    for cls in (
        "crossed_snapshot",
        "snapshot_off_tick",
        "change_crosses_book",
        "foreign_resolution",
    ):
        assert report.accepted_bad.get(cls, 0) > 0, cls
    assert report.invariants["crossed books readable"] > 0
    assert "accepted-bad: 0" not in fuzz_market.render(report, 7)
