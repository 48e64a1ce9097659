"""The report names markets by their question and groups execution anomalies by kind."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tests.backtest.report_log import LogBuilder

from polyloly.backtest.plots import render_report
from polyloly.backtest.report import report_from_log
from polyloly.backtest.report_data import build_report_data
from polyloly.domain.intents import MergeIntent
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.money import SCALE
from polyloly.storage.event_log import EventLogWriter

M1 = "0x8e81973e0becd7b03898d190f9ebdacc0cb1e29c658cda1495e60af593bd04cf"
M2 = "0x506bf2efc6f877186d76b07e881ed162ae2eb1547f15052434b9b5df9e7769b1"
T1, GENG, T1_G2, GENG_G2 = "661072", "661409", "919828", "608136"
Q1 = "LoL: T1 vs Gen.G - Game 1 Winner"
Q2 = "LoL: T1 vs Gen.G - Game 2 Winner"


def _log() -> LogBuilder:
    log = LogBuilder()
    log.discover("lol-t1-geng", M1, Q1, teams=("t1", "geng"), tokens=(T1, GENG), game=1)
    log.discover("lol-t1-geng", M2, Q2, teams=("t1", "geng"), tokens=(T1_G2, GENG_G2), game=2)
    log.at(0).book(M1, T1, 560_000, 570_000)
    log.book(M1, GENG, 420_000, 430_000)
    log.book(M2, T1_G2, 560_000, 570_000)
    order = log.order("temporal_arb", M1, T1, price=570_000, size=50 * SCALE, match="lol-t1-geng")
    log.at(1).fill(order, M1, T1, price=570_000, size=50 * SCALE)
    pair = log.order("pair_arb", M2, T1_G2, price=570_000, size=10 * SCALE)
    log.at(2).fill(pair, M2, T1_G2, price=570_000, size=10 * SCALE)
    return log


def _cells(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table is not None, table_id
    return re.findall(r"<td[^>]*>.*?</td>", table.group(1), re.S)


def test_markets_are_named_by_their_question_with_the_condition_id_kept() -> None:
    data = build_report_data(_log().events)
    names = data.names
    assert names.market(M1) == Q1
    assert names.token(T1) == "T1"  # as the question spells it, not the canonical "t1"
    assert names.token(GENG) == "Gen.G"
    assert names.market("0xunknown0000000000") == "0xunkn…0000"
    page = render_report(data)
    for table in ("table-pnl-market", "table-fills", "table-edge"):
        cells = _cells(page, table)
        named = [c for c in cells if html.escape(Q1) in c or html.escape(Q2) in c]
        assert named, table
        # the full condition id is only in tooltips, never in the text shown
        assert all(M1 not in re.sub(r'title="[^"]*"', "", c) for c in named), table
    market_cell = next(c for c in _cells(page, "table-pnl-market") if html.escape(Q1) in c)
    assert f'title="{M1}"' in market_cell  # the full condition id on hover
    assert "<small>0x8e81973e…bd04cf</small>" in market_cell  # and a short second line
    token_cell = next(c for c in _cells(page, "table-fills") if f'title="{T1}"' in c)
    assert ">T1<" in token_cell
    (timeline,) = data.timelines
    assert timeline.title == f"{Q1} — T1 token"


def test_names_come_back_from_the_event_log(tmp_path: Path) -> None:
    log = _log()
    with EventLogWriter(tmp_path / "events") as writer:
        for event in log.events:
            writer.append(event)
    data = report_from_log([tmp_path / "events"])
    assert data.names.market(M2) == Q2
    assert data.names.token(GENG_G2) == "Gen.G"
    assert data.markets == build_report_data(log.events).markets


def test_a_registry_names_markets_the_log_does_not_announce() -> None:
    log = LogBuilder()
    log.at(0).book(M1, T1, 560_000, 570_000)
    mapping = MarketMapping(
        match_id="lol-t1-geng",
        market_id=M1,
        question="",
        kind=MarketKind.GAME,
        team_a="t1",
        team_b="geng",
        token_a=T1,
        token_b=GENG,
        game_number=3,
    )
    names = build_report_data(log.events, registry=MarketRegistry([mapping])).names
    assert names.market(M1) == "t1 vs geng — Game 3 winner"  # no question: teams and game
    assert names.token(GENG) == "geng"


def test_anomalies_are_grouped_by_kind_with_their_markets() -> None:
    log = _log()
    merge_id = "pair_arb:ns:" + M2 + ":8"
    log.add(
        MergeIntent(
            ts_event=log.now,
            ts_init=log.now,
            intent_id=merge_id,
            strategy="pair_arb",
            market=M2,
            size=129 * SCALE,
        )
    )
    for second in (3, 8):
        log.at(second).anomaly("merge_insufficient", merge_id, "size 129000000 > 86000000")
    log.at(9).anomaly("orphan_trade", "trade-x", "0xforeign")
    data = build_report_data(log.events)
    assert data.summary.anomalies == 3
    merge, orphan = data.anomalies
    assert (merge.kind, merge.count, orphan.kind, orphan.count) == (
        "merge_insufficient",
        2,
        "orphan_trade",
        1,
    )
    assert merge.last_ns - merge.first_ns == 5_000_000_000
    assert merge.subject == merge_id
    assert merge.detail == "size 129000000 > 86000000"
    assert merge.markets == (M2,)
    assert orphan.markets == ()
    page = render_report(data)
    cells = _cells(page, "table-anomalies")
    assert "<td>merge_insufficient</td>" in cells
    assert any("retried after a back-off" in c for c in cells)
    assert any(html.escape(Q2) in c and f'title="{M2}"' in c for c in cells)
    assert "3 (merge_insufficient 2, orphan_trade 1)" in page
