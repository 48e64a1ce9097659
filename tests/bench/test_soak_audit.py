"""The soak's verdicts: each check finds the defect planted in a story, and only that one.

A story (``soak_log.Story``) is what a bot logged and what the exchange recorded; the clean
story must pass every check, and each planted defect — an order sent twice for one decision
across a restart, a fill the log never learnt, a position that differs, an order missing
from the log — must be found by its own check, with no false alarm from the others.
"""

from __future__ import annotations

from bench.soak.audit import (
    audit_balances,
    audit_duplicates,
    audit_fills,
    audit_halts,
    rounding_allowance,
    same_params_baseline,
)
from bench.soak.chaos import FaultRecord
from bench.soak.operator import can_halt
from bench.soak.records import BotView, ExchangeFill, Halt, read_bot_log
from tests.bench.soak_log import NO, YES, S, Story

from polyloly.domain.money import ONE
from polyloly.execution.ports import TradeStatus
from polyloly.execution.state import ExecutionState


def _clean() -> tuple[Story, list[int]]:
    """Open and close a pair, killed between two pairs; everything heard, nothing repeated."""
    story = Story()
    story.fill(story.send(10 * S, token=YES), 11 * S)
    story.fill(story.send(12 * S, token=NO, price=500_000), 13 * S)
    kill = 20 * S
    story.fill(story.send(30 * S, token=YES, session="s2"), 31 * S)
    story.fill(story.send(32 * S, token=NO, price=500_000, session="s2"), 33 * S)
    return story, [kill]


def test_a_clean_story_passes_every_check() -> None:
    story, kills = _clean()
    view = read_bot_log(story.events, kills)
    dup = audit_duplicates(view, story.exchange, kills)
    fills = audit_fills(view, story.exchange)
    balances = audit_balances(view, story.exchange)
    assert not dup.duplicates
    assert not dup.unlogged
    assert not dup.redecided
    assert same_params_baseline(view, story.exchange, kills) == 0
    assert (fills.lost, fills.ghost, fills.wrong_size) == ([], [], [])
    assert fills.exchange_fills == 4
    assert balances.positions == []
    assert balances.collateral_diff == 0
    assert not balances.collateral_mismatch


def test_an_order_in_flight_at_a_kill_is_the_bots_view_at_that_moment() -> None:
    story = Story()
    answered = story.send(10 * S)
    story.answer(answered, 11 * S)
    silent = story.send(12 * S, token=NO)
    kill = 13 * S
    story.answer(silent, 20 * S)  # learnt after the restart (reconciliation)
    view = read_bot_log(story.events, [kill])
    assert view.in_flight_at_kill == [frozenset({silent})]


def test_the_same_order_again_after_a_restart_is_reported_not_judged() -> None:
    """The issue's symptom: killed right after the post, the same leg is bought again.

    Without a decision key it cannot be told from a legitimate next step (see the next
    test), so it is a repeat, listed with the baseline, and no duplicate.
    """
    story = Story()
    first = story.send(10 * S, token=YES)  # sent; the reply never reached the log
    kill = 10 * S + 5_000_000
    story.fill(first, 14 * S, logged=False)  # it traded on the exchange all the same
    again = story.send(15 * S, token=YES, session="s2")
    story.fill(again, 16 * S)
    view = read_bot_log(story.events, [kill])
    dup = audit_duplicates(view, story.exchange, [kill])
    assert dup.after_restart == [(first, again)]
    assert not dup.duplicates


def test_one_decision_key_filled_twice_is_a_duplicate() -> None:
    """With a decision key logged, the same repeat is judged: one decision, two orders."""
    story = Story()
    first = story.send(10 * S, token=YES, decision="M:step-7")
    kill = 10 * S + 5_000_000
    story.fill(first, 14 * S, logged=False)
    again = story.send(15 * S, token=YES, session="s2", decision="M:step-7")
    story.fill(again, 16 * S)
    story.fill(story.send(17 * S, token=YES, session="s2", decision="M:step-8"), 18 * S)
    view = read_bot_log(story.events, [kill])
    dup = audit_duplicates(view, story.exchange, [kill])
    assert dup.decision == [again]
    assert dup.duplicates == {again}


def test_a_legitimate_next_step_with_the_same_parameters_is_no_duplicate() -> None:
    """Pair arbitrage may open the same leg twice in a row: a new step, a new key."""
    story = Story()
    first = story.send(10 * S, token=YES, decision="M:step-1")
    kill = 11 * S
    story.fill(first, 12 * S, logged=False)
    again = story.send(15 * S, token=YES, session="s2", decision="M:step-2")
    story.fill(again, 16 * S)
    view = read_bot_log(story.events, [kill])
    dup = audit_duplicates(view, story.exchange, [kill])
    assert dup.after_restart == [(first, again)]  # the pattern, measured
    assert not dup.duplicates  # and rightly not judged a duplicate


def test_a_repeat_of_an_order_that_never_traded_is_a_re_decision_not_a_duplicate() -> None:
    story = Story()
    first = story.send(10 * S)  # in flight at the kill, and it found nothing (FAK)
    kill = 11 * S
    again = story.send(15 * S, session="s2")
    story.fill(again, 16 * S)
    view = read_bot_log(story.events, [kill])
    dup = audit_duplicates(view, story.exchange, [kill])
    assert not dup.duplicates
    assert dup.redecided == [(first, again)]


def test_the_other_leg_after_a_restart_is_no_repeat() -> None:
    """Pair legs repeat identical orders all the time: only the *next* traded order counts."""
    story = Story()
    first = story.send(10 * S, token=YES)
    kill = 11 * S
    story.fill(first, 12 * S, logged=False)
    story.fill(story.send(15 * S, token=NO, session="s2"), 16 * S)  # the strategy moved on
    story.fill(story.send(17 * S, token=YES, session="s2"), 18 * S)  # the next pair: same leg
    view = read_bot_log(story.events, [kill])
    dup = audit_duplicates(view, story.exchange, [kill])
    assert (dup.after_restart, dup.duplicates) == ([], set())


def test_the_baseline_counts_same_leg_repeats_with_no_kill_between() -> None:
    story = Story()
    story.fill(story.send(10 * S), 11 * S)
    story.fill(story.send(12 * S), 13 * S)  # the same leg twice in a row, no kill
    view = read_bot_log(story.events, [])
    assert same_params_baseline(view, story.exchange, []) == 1
    assert not audit_duplicates(view, story.exchange, []).duplicates


def test_a_temporal_decision_filled_twice_is_a_duplicate_whatever_its_timing() -> None:
    story = Story()
    story.fill(story.send(10 * S, strategy="temporal_arb", price=900_000), 11 * S)
    again = story.send(30 * S, strategy="temporal_arb", price=900_000, session="s2")
    story.fill(again, 31 * S)
    view = read_bot_log(story.events, [20 * S])
    dup = audit_duplicates(view, story.exchange, [20 * S])
    assert dup.temporal == [again]


def test_a_repeat_whose_trade_failed_took_no_effect_and_is_no_duplicate() -> None:
    """The exchange keeps an order's matched size when its trade fails: it did not trade."""
    story = Story()
    story.fill(story.send(10 * S, strategy="temporal_arb"), 11 * S, status=TradeStatus.FAILED)
    again = story.send(30 * S, strategy="temporal_arb", session="s2")
    story.fill(again, 31 * S)
    view = read_bot_log(story.events, [20 * S])
    assert story.exchange.orders[again].size_matched > 0
    assert not audit_duplicates(view, story.exchange, [20 * S]).duplicates


def test_a_temporal_repeat_that_did_not_trade_is_no_duplicate() -> None:
    story = Story()
    story.fill(story.send(10 * S, strategy="temporal_arb"), 11 * S)
    story.send(30 * S, strategy="temporal_arb", session="s2")  # FAK found nothing
    view = read_bot_log(story.events, [20 * S])
    assert not audit_duplicates(view, story.exchange, [20 * S]).duplicates


def test_an_order_the_log_never_knew_is_found() -> None:
    story = Story()
    ghost = story.send(10 * S, logged=False)
    view = read_bot_log(story.events, [])
    assert audit_duplicates(view, story.exchange, []).unlogged == [ghost]


def test_a_fill_the_ledger_never_learnt_is_lost() -> None:
    story = Story()
    order = story.send(10 * S)
    story.answer(order, 10 * S + 1)
    trade = story.fill(order, 11 * S, logged=False)
    view = read_bot_log(story.events, [])
    fills = audit_fills(view, story.exchange)
    assert fills.lost == [(trade, order)]
    balances = audit_balances(view, story.exchange)
    assert balances.positions == [(YES, 0, 10 * ONE)]
    assert balances.collateral_mismatch  # 4 pUSD, far beyond rounding


def test_a_trade_the_exchange_failed_but_the_ledger_counts_is_a_ghost() -> None:
    story = Story()
    order = story.send(10 * S)
    trade = story.fill(order, 11 * S, status=TradeStatus.FAILED, heard=TradeStatus.MATCHED)
    view = read_bot_log(story.events, [])
    fills = audit_fills(view, story.exchange)
    assert fills.failed_trades == 1
    assert (fills.ghost, fills.lost) == ([(trade, order)], [])
    assert audit_balances(view, story.exchange).positions == [(YES, 10 * ONE, 0)]


def test_a_fill_the_exchange_never_had_is_a_ghost() -> None:
    story = Story()
    order = story.send(10 * S)
    trade = story.fill(order, 11 * S)
    story.exchange.fills.clear()
    view = read_bot_log(story.events, [])
    assert audit_fills(view, story.exchange).ghost == [(trade, order)]


def test_a_failed_trade_the_ledger_dropped_is_fine() -> None:
    story = Story()
    order = story.send(10 * S)
    story.fill(order, 11 * S, status=TradeStatus.FAILED)
    view = read_bot_log(story.events, [])
    fills = audit_fills(view, story.exchange)
    assert (fills.failed_trades, fills.lost, fills.ghost) == (1, [], [])
    assert audit_balances(view, story.exchange).mismatches == 0


def test_collateral_within_the_rounding_allowance_is_no_mismatch() -> None:
    story, kills = _clean()
    allowance = rounding_allowance(story.exchange)
    assert allowance == 4 * 3  # four one-leg fills: two roundings at the venue, one here
    story.exchange.balances["collateral"] += allowance
    view = read_bot_log(story.events, kills)
    assert not audit_balances(view, story.exchange).collateral_mismatch
    story.exchange.balances["collateral"] += 1
    assert audit_balances(view, story.exchange).collateral_mismatch


def test_the_allowance_grows_with_the_legs_a_fill_settled_in() -> None:
    story = Story()
    story.exchange.fills = [ExchangeFill("t", "o", YES, ONE, "CONFIRMED", legs=3)]
    assert rounding_allowance(story.exchange) == 7
    story.exchange.fills.append(ExchangeFill("t2", "o", YES, ONE, "FAILED", legs=3))
    assert rounding_allowance(story.exchange) == 7  # a failed trade moved nothing


def test_halts_are_timed_from_the_last_fault_while_trading() -> None:
    view = BotView(state=ExecutionState())
    view.sessions = [10 * S, 50 * S]
    view.halts = [
        Halt(20 * S + 300_000_000, "exchange_feed", "down"),  # 300 ms after the drop
        Halt(40 * S, "exchange_feed", "stale"),  # re-fired after a resume, no new fault
        Halt(51 * S, "exchange_feed", "stale"),  # at start-up, the fault was before it
    ]
    view.resumes = [(30 * S, "operator resume"), (60 * S, "heartbeat chain healthy")]
    faults = [_fault(5, "http_500"), _fault(20, "drop_ws"), _fault(45, "http_500")]
    out = audit_halts(view, faults)
    assert out.halts == 3
    assert out.reactions_ms == [("drop_ws", 300.0)]
    assert out.untimed == 2
    assert (out.resumed_by_operator, out.resumed_by_itself) == (1, 1)


def test_a_halt_is_timed_from_a_fault_that_can_cause_it() -> None:
    view = BotView(state=ExecutionState())
    view.sessions = [10 * S]
    view.halts = [Halt(21 * S, "exchange_feed", "down")]
    faults = [_fault(20, "drop_ws"), _fault(20.9, "trade_failed", count=1)]
    out = audit_halts(view, faults, can_halt)
    assert out.reactions_ms == [("drop_ws", 1000.0)]  # not 100 ms from the failed trade
    out = audit_halts(view, [_fault(20.9, "trade_failed", count=1)], can_halt)
    assert (out.reactions_ms, out.untimed) == ([], 1)


def _fault(at_s: float, kind: str, **args: object) -> FaultRecord:
    return FaultRecord(int(at_s * S), kind, dict(args))
