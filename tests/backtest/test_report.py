"""The trading report: exact numbers from an event log, and a self-contained HTML page."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

from tests.backtest.report_log import START_NS, LogBuilder

from polyloly.backtest.plots import render_report
from polyloly.backtest.report import report_from_log, write_report
from polyloly.backtest.report_data import build_report_data
from polyloly.backtest.report_model import PLOT_IDS, EquityPoint, FillRow, PnlRow, ReportData
from polyloly.domain.events import MatchEvent, MatchEventKind
from polyloly.domain.fees import PolymarketFeeModel
from polyloly.domain.intents import MergeIntent, PlaceOrderIntent, RiskDecision
from polyloly.domain.markets import MarketKind, MarketMapping, MarketRegistry
from polyloly.domain.money import SCALE
from polyloly.execution.events import MergeCompleted, OrderRejected
from polyloly.execution.ports import MergeResult, TradeStatus, VenueOrderStatus
from polyloly.runtime.clock import NS_PER_S
from polyloly.storage.event_log import EventLogWriter

M1, YES, NO = "0xm1", "111", "222"
M2, YES2, NO2 = "0xm2", "333", "444"
FEE_50_AT_062 = PolymarketFeeModel().taker_fee(50 * SCALE, 620_000)


def scenario(log: LogBuilder) -> LogBuilder:
    """A temporal-arbitrage win on M1 and a pair-arbitrage position on M2."""
    log.at(0).book(M1, YES, 600_000, 620_000)
    log.book(M1, NO, 380_000, 400_000)
    log.at(1).truth("m1", "game_started")
    log.at(60).truth("m1", "game_result", winner="T1", score=1)
    log.at(61).final("m1")
    # A FAK BUY spends size x limit pUSD: at a limit equal to the ask it buys exactly `size`.
    order = log.order(
        "temporal_arb",
        M1,
        YES,
        price=620_000,
        size=50 * SCALE,
        match="m1",
        status=VenueOrderStatus.DELAYED,
    )
    log.at(64).fill(order, M1, YES, price=620_000, size=50 * SCALE)
    log.at(66).book(M1, YES, 700_000, 720_000)
    log.at(70).book(M1, YES, 930_000, 950_000)
    log.at(100).book(M2, YES2, 460_000, 470_000)
    log.book(M2, NO2, 520_000, 530_000)
    yes = log.order("pair_arb", M2, YES2, price=450_000, size=100 * SCALE, latency_ms=20)
    no = log.order("pair_arb", M2, NO2, price=480_000, size=100 * SCALE, latency_ms=20)
    log.fill(yes, M2, YES2, price=450_000, size=100 * SCALE, taker=False)
    log.fill(no, M2, NO2, price=480_000, size=100 * SCALE, taker=False)
    log.at(600).resolve(M1, YES)
    return log


def test_pnl_per_market_and_strategy_is_exact() -> None:
    log = LogBuilder()
    data = build_report_data(scenario(log).events)
    temporal = 50 * SCALE - 31 * SCALE - FEE_50_AT_062  # won: 50 shares paid 0.62 each
    pair = 99 * SCALE - 93 * SCALE  # 100 pairs cost 0.93, marked at mids 0.465 + 0.525
    assert FEE_50_AT_062 == 353_400
    assert data.summary.pnl == temporal + pair
    assert {r.name: r.pnl for r in data.per_strategy} == {
        "temporal_arb": temporal,
        "pair_arb": pair,
    }
    assert {r.name: r.pnl for r in data.per_market} == {M1: temporal, M2: pair}
    assert data.summary.fills == 3
    assert data.summary.fees == FEE_50_AT_062
    assert data.summary.volume == 31 * SCALE + 45 * SCALE + 48 * SCALE
    assert data.summary.orders_submitted == data.summary.orders_accepted == 3
    assert data.summary.orders_delayed == 1
    assert data.equity[-1].pnl == data.summary.pnl
    assert data.order_latencies_ns == (80_000_000, 20_000_000, 20_000_000)


def test_edge_survival_and_lead_on_the_market() -> None:
    log = LogBuilder()
    data = build_report_data(scenario(log).events)
    (edge,) = data.edges
    assert edge.ask == 620_000
    assert edge.expected_edge == 50 * 380_000 - FEE_50_AT_062
    assert edge.realized_edge == edge.expected_edge
    assert edge.delay_ns == 3 * NS_PER_S  # accepted as DELAYED, matched after the delay
    assert edge.delayed
    assert data.edge_survival == 1
    timeline = next(t for t in data.timelines if t.match_id == "m1")
    assert timeline.token_id == YES
    assert timeline.trigger_ns == START_NS + 61 * NS_PER_S  # the final it acted on
    assert timeline.acted_ns == START_NS + 61 * NS_PER_S
    assert timeline.caught_up_ns == START_NS + 70 * NS_PER_S  # mid 0.94 >= 0.90
    assert timeline.lead_ns == 9 * NS_PER_S
    assert [m.label for m in timeline.truth][-1].startswith("final: T1")


def test_a_partial_fill_halves_the_realized_edge() -> None:
    log = LogBuilder()
    log.at(0).book(M1, YES, 600_000, 620_000)
    order = log.order("temporal_arb", M1, YES, price=620_000, size=50 * SCALE, match="m1")
    log.at(3).fill(order, M1, YES, price=620_000, size=25 * SCALE)
    data = build_report_data(log.events)
    fee25 = PolymarketFeeModel().taker_fee(25 * SCALE, 620_000)
    assert data.edges[0].realized_edge == 25 * 380_000 - fee25
    assert data.edges[0].filled_size == 25 * SCALE
    assert data.edges[0].expected_size == 50 * SCALE
    survival = data.edge_survival
    assert survival is not None
    assert 0.49 < float(survival) < 0.51


def test_a_failed_trade_drops_out_of_pnl() -> None:
    log = LogBuilder()
    log.at(0).book(M1, YES, 600_000, 620_000)
    order = log.order("temporal_arb", M1, YES, price=950_000, size=50 * SCALE)
    trade = log.at(1).fill(order, M1, YES, price=620_000, size=50 * SCALE)
    assert build_report_data(log.events).summary.fills == 1
    log.at(2).settle(trade, TradeStatus.FAILED)
    data = build_report_data(log.events)
    assert data.summary.pnl == 0
    assert data.summary.fills == 0
    assert [f.status for f in data.fills] == ["FAILED"]
    assert data.equity[-1].pnl == 0


def test_a_merge_locks_in_the_pair_whatever_the_marks() -> None:
    log = LogBuilder()
    yes = log.order("pair_arb", M2, YES2, price=450_000, size=100 * SCALE)
    no = log.order("pair_arb", M2, NO2, price=480_000, size=100 * SCALE)
    log.at(1).fill(yes, M2, YES2, price=450_000, size=100 * SCALE, taker=False)
    log.fill(no, M2, NO2, price=480_000, size=100 * SCALE, taker=False)
    log.add(
        MergeIntent(
            ts_event=log.now,
            ts_init=log.now,
            intent_id="merge:1",
            strategy="pair_arb",
            market=M2,
            size=100 * SCALE,
        )
    )
    log.add(
        MergeCompleted(
            ts_event=log.now,
            ts_init=log.now,
            intent_id="merge:1",
            token_ids=(YES2, NO2),
            result=MergeResult(condition_id=M2, size=100 * SCALE),
        )
    )
    log.at(5).book(M2, YES2, 100_000, 120_000)  # marks no longer matter: nothing is held
    data = build_report_data(log.events)
    assert data.summary.pnl == 7 * SCALE
    assert [(r.name, r.pnl) for r in data.per_strategy] == [("pair_arb", 7 * SCALE)]


def test_registry_titles_and_untraded_matches() -> None:
    log = LogBuilder()
    registry = MarketRegistry(
        [
            MarketMapping(
                match_id="m9",
                market_id="0xm9",
                question="T1 vs Gen.G",
                kind=MarketKind.MATCH,
                team_a="T1",
                team_b="Gen.G",
                token_a="901",
                token_b="902",
            )
        ]
    )
    log.at(0).book("0xm9", "901", 500_000, 520_000)
    log.at(10).final("m9", winner="T1")
    log.at(20).book("0xm9", "901", 960_000, 980_000)
    data = build_report_data(log.events, registry=registry)
    (timeline,) = data.timelines
    assert timeline.token_id == "901"
    assert "T1 vs Gen.G" in timeline.title
    assert timeline.acted_ns is None
    assert timeline.lead_ns is None


def test_report_from_the_event_log_matches_the_events(tmp_path: Path) -> None:
    log = LogBuilder()
    scenario(log)
    with EventLogWriter(tmp_path / "events") as writer:
        for event in log.events:
            writer.append(event)
    from_log = report_from_log([tmp_path / "events"])
    direct = build_report_data(log.events)
    assert from_log.summary == direct.summary
    assert from_log.per_strategy == direct.per_strategy


# -- the HTML page --------------------------------------------------------------------------

_URL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


_LIBRARY = re.compile(r"(<head>.*?<script[^>]*>).*?(</script>)", re.DOTALL)


def _without_plotly_js(page: str) -> str:
    """The page with the embedded plotly.js library's text left out (its code holds URL
    strings it never fetches; the browser test checks that nothing is fetched)."""
    assert "Plotly" in page[: page.index("</head>")], "plotly.js is not embedded"
    return _LIBRARY.sub(r"\1\2", page, count=1)


def _assert_self_contained(page: str) -> None:
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE), "a script is loaded"
    page = _without_plotly_js(page)
    assert not _URL.search(page), "an element loads something from the network"
    lowered = page.lower()
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "//cdn" not in lowered
    assert "@import" not in lowered


def test_rendered_report_is_self_contained_and_shows_every_plot() -> None:
    log = LogBuilder()
    page = render_report(build_report_data(scenario(log).events, title="demo <run>"))
    _assert_self_contained(page)
    for element in PLOT_IDS:
        assert f'id="{element}"' in page, element
    assert 'id="plot-truth-timeline-0"' in page
    # equity, drawdown, 2 x PnL, slippage, 1 timeline, latency: each an interactive chart
    assert page.count('<figure id="plot-') == 7
    assert page.count("Plotly.newPlot(") == 7
    assert "data:image/png" not in _without_plotly_js(page)  # no static image left
    assert "demo &lt;run&gt;" in page  # text is escaped


def test_empty_report_renders_every_section() -> None:
    page = render_report(ReportData())
    _assert_self_contained(page)
    for element in PLOT_IDS:
        assert f'id="{element}"' in page, element
    assert build_report_data([]) == ReportData(edges=(), catch_up_price=900_000)


def test_hand_built_data_renders_and_is_written(tmp_path: Path) -> None:
    fill = FillRow(
        ts_ns=START_NS,
        trade_id="t<1>",
        order_hash="0x1",
        strategy="pair_arb",
        market="<b>m</b>",
        token_id="1",
        side="BUY",
        price=450_000,
        size=SCALE,
        fee=0,
        liquidity="MAKER",
        status="CONFIRMED",
    )
    data = ReportData(
        fills=(fill,),
        equity=(EquityPoint(START_NS, 0), EquityPoint(START_NS + NS_PER_S, -SCALE)),
        per_market=(PnlRow("<b>m</b>", -SCALE, 1, 450_000, 0),),
        order_latencies_ns=(1_000_000, 2_000_000, 50_000_000),
    )
    path = write_report(data, tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    _assert_self_contained(page)
    assert "&lt;b&gt;m&lt;/b&gt;" in page
    assert "<b>m</b>" not in _without_plotly_js(page)


def test_settlement_orders_slippage_and_refusals() -> None:
    log = scenario(LogBuilder())
    # a pair-arb intent the risk gate refused, and an order the venue refused
    log.at(700).add(
        RiskDecision(
            ts_event=log.now, ts_init=log.now, intent_id="pair_arb:0xm2:333:99",
            approved=False, reason="market exposure 812.50 > 800.00",
        )
    )  # fmt: skip
    intent = next(
        e.intent_id for e in log.events if isinstance(e, PlaceOrderIntent) and e.token_id == NO2
    )
    log.add(
        OrderRejected(
            ts_event=log.now, ts_init=log.now, client_id=intent,
            order_hash="0x" + "0" * 63 + "3", reason="no match", code="fak_no_match",
        )
    )  # fmt: skip
    data = build_report_data(log.events)
    s = data.summary
    # the temporal position was marked at the 0.94 mid when its market resolved at 1
    assert s.settlement_pnl == 50 * (SCALE - 940_000)
    assert s.trading_pnl == s.pnl - s.settlement_pnl
    by_token = {o.token_id: o for o in data.orders}
    assert set(by_token) == {YES, YES2, NO2}
    temporal, yes, no = by_token[YES], by_token[YES2], by_token[NO2]
    assert temporal.delayed
    assert (temporal.intended, temporal.avg_fill, temporal.slippage) == (620_000, 620_000, 0)
    assert temporal.fees == FEE_50_AT_062
    # the pair's resting bids filled under the asks the strategy saw: negative slippage
    assert (yes.intended, yes.avg_fill, yes.slippage) == (470_000, 450_000, -2 * SCALE)
    assert (no.intended, no.avg_fill, no.slippage) == (530_000, 480_000, -5 * SCALE)
    assert sorted((r.strategy, r.stage, r.reason, r.count) for r in data.rejections) == [
        ("pair_arb", "risk", "market exposure # > #", 1),
        ("pair_arb", "venue", "[fak_no_match] no match", 1),
    ]
    page = render_report(data)
    assert 'id="table-execution"' in page
    assert "market exposure # &gt; #" in page


def test_fills_and_orders_are_exported_as_csv(tmp_path: Path) -> None:
    data = build_report_data(scenario(LogBuilder()).events)
    write_report(data, tmp_path / "report.html")
    with (tmp_path / "fills.csv").open(encoding="utf-8") as fh:
        fills = list(csv.DictReader(fh))
    with (tmp_path / "orders.csv").open(encoding="utf-8") as fh:
        orders = list(csv.DictReader(fh))
    assert len(fills) == 3
    assert len(orders) == 3
    first = fills[0]
    assert (first["strategy"], first["price"], first["size"]) == ("temporal_arb", "0.62", "50")
    assert Decimal(first["fee"]) * SCALE == FEE_50_AT_062
    slippage = {o["token_id"]: o["slippage"] for o in orders}
    assert slippage == {YES: "0", YES2: "-2", NO2: "-5"}
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'href="fills.csv"' in page
    assert 'href="orders.csv"' in page


def test_lead_per_source_against_the_market() -> None:
    registry = MarketRegistry(
        [
            MarketMapping(
                match_id="m1", market_id=M1, question="T1 vs Gen.G - Game 1 Winner",
                kind=MarketKind.GAME, game_number=1, team_a="T1", team_b="Gen.G",
                token_a=YES, token_b=NO,
            )
        ]
    )  # fmt: skip
    log = scenario(LogBuilder())

    def report(at_s: float, source: str) -> None:
        log.at(at_s).add(
            MatchEvent(
                ts_event=log.now, ts_init=log.now, source=source, match_id="m1",
                provider_match_id="p1", kind=MatchEventKind.GAME_ENDED, team_a="t1",
                team_b="geng", game_number=1, winner="t1",
            )
        )  # fmt: skip

    report(59, "grid")
    report(60.5, "pandascore")
    report(61, "grid")  # a repeat: the first report counts
    events = sorted(log.events, key=lambda e: e.ts_init)
    data = build_report_data(events, registry=registry)
    leads = {lead.source: lead for lead in data.source_leads}
    # the YES mid first reaches 0.90 at t=70 (0.94)
    grid, panda = leads["grid"], leads["pandascore"]
    assert (grid.results, grid.first, grid.priced) == (1, 1, 1)
    assert grid.median_lead_ns == 11 * NS_PER_S
    assert grid.median_behind_first_ns == 0
    assert (panda.results, panda.first) == (1, 0)
    assert panda.median_lead_ns == 9_500_000_000
    assert panda.median_behind_first_ns == 1_500_000_000
    assert 'id="table-source-lead"' in render_report(data)
