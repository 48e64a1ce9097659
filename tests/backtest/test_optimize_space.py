"""``polyloly optimize``'s pure half: the space file, exact values, the objective, the split."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyloly.backtest.optimize_space import (
    DEFAULT_PENALTY,
    Param,
    Total,
    UnitScore,
    combine,
    objective_value,
    parse_space,
    walk_forward,
)
from polyloly.bot.config_loader import load_yaml
from polyloly.runtime.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "optimize" / "space.yaml"


def space(text: str):
    return parse_space(load_yaml(text, "space.yaml"), "space.yaml")


def test_the_shipped_space_parses_into_ints_decimals_and_choices() -> None:
    parsed = parse_space(load_yaml(SHIPPED.read_text(), SHIPPED.name), SHIPPED.name)
    kinds = {p.key: p.kind for p in parsed.params}
    assert kinds["strategies.pair_arb.pair_cost_cap"] == "decimal"
    assert kinds["risk.max_open_orders_per_market"] == "int"
    assert kinds["strategies.temporal_arb.order_type"] == "choice"
    assert parsed.fixed == {"strategies.temporal_arb.enabled": True}
    assert parsed.penalty == Decimal("0.5")
    assert all(p.key.startswith(("strategies.", "risk.")) for p in parsed.params)


def test_kinds_steps_and_defaults() -> None:
    parsed = space(
        """
space:
  strategies.pair_arb.pair_cost_cap: {low: 0.95, high: 0.99, step: 0.01}
  risk.max_open_orders_per_market: {low: 1, high: 9, step: 2}
  risk.max_slippage_bps: {low: 1, high: 1000, log: true}
  strategies.temporal_arb.max_entry_price: {low: 0.5, high: 0.99, log: true}
  strategies.temporal_arb.order_type: {choices: [FAK, FOK]}
"""
    )
    cap, orders, slip, entry, kind = parsed.params
    assert (cap.kind, cap.low, cap.high, cap.step) == (
        "decimal",
        Decimal("0.95"),
        Decimal("0.99"),
        Decimal("0.01"),
    )
    assert (orders.kind, orders.step) == ("int", 2)
    assert (slip.kind, slip.log) == ("int", True)
    assert (entry.kind, entry.step, entry.log) == ("decimal", None, True)
    assert kind.choices == ("FAK", "FOK")
    assert parsed.penalty == DEFAULT_PENALTY
    assert parsed.fixed == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("nope: 1\nspace: {risk.x: {low: 1, high: 2}}", "unknown section 'nope'"),
        ("space: {}", "space: no parameters"),
        ("space: {bot.log_level: {choices: [INFO]}}", "space.bot.log_level: only strategies"),
        ("space: {risk.max_slippage_bps: 5}", "space.risk.max_slippage_bps: must be a mapping"),
        ("space: {risk.a: {low: 1, hi: 2}}", "space.risk.a: unknown field 'hi'"),
        ("space: {risk.a: {low: 1}}", "space.risk.a: needs low and high"),
        ("space: {risk.a: {low: 3, high: 2}}", r"space.risk.a: low \(3\) must be below high"),
        (
            "space: {risk.a: {low: 1, high: 10, step: 4}}",
            "space.risk.a: high − low .* not a multiple",
        ),
        ("space: {risk.a: {low: 1, high: 10, step: 0}}", r"space.risk.a.step: must be above 0"),
        ("space: {risk.a: {low: 0.1, high: 0.5}}", "space.risk.a: a decimal range needs a step"),
        ("space: {risk.a: {low: 0, high: 5, log: true}}", "space.risk.a: a log scale needs low"),
        ("space: {risk.a: {low: 1, high: 5, log: true, step: 1}}", "log and step cannot"),
        ("space: {risk.a: {low: x, high: 5}}", r"space.risk.a.low: must be a number \(got 'x'\)"),
        ("space: {risk.a: {choices: []}}", "space.risk.a.choices: must be a non-empty list"),
        ("space: {risk.a: {choices: [1, 1]}}", "space.risk.a.choices: repeats a value"),
        ("space: {risk.a: {choices: [1], low: 1}}", "choices cannot be combined with low"),
        (
            "objective: {penalty: 1}\nspace: {risk.a: {low: 1, high: 2}}",
            "objective.penalty: unknown",
        ),
        (
            "objective: {drawdown_penalty: -1}\nspace: {risk.a: {low: 1, high: 2}}",
            "objective.drawdown_penalty: must be 0 or more",
        ),
        ("fixed: {risk.a: 1}\nspace: {risk.a: {low: 1, high: 2}}", "fixed.risk.a: also searched"),
        ("fixed: {storage.data_dir: x}\nspace: {risk.a: {low: 1, high: 2}}", "fixed.storage"),
    ],
)
def test_a_bad_space_is_one_line_naming_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        space(text)
    assert "\n" not in str(caught.value)


def test_decimal_values_are_exact_grid_points_whatever_float_was_drawn() -> None:
    cap = Param(
        "strategies.pair_arb.pair_cost_cap",
        "decimal",
        Decimal("0.95"),
        Decimal("0.99"),
        Decimal("0.005"),
    )
    assert cap.value(0.9650000000000001) == Decimal("0.965")
    assert cap.value(0.96499999999) == Decimal("0.965")
    assert cap.value(0.95) == Decimal("0.950")
    assert cap.value(1.5) == Decimal("0.990")  # never outside the range
    log = Param("risk.x", "decimal", Decimal("0.1"), Decimal("1"), None, log=True)
    assert log.value(0.123456789) == Decimal("0.123457")
    assert Param("risk.n", "int", 1, 9, 2).value(5) == 5
    choice = Param("risk.c", "choice", choices=(Decimal("0.5"), "FAK", True))
    assert choice.labels() == ["0.5", "FAK", True]
    assert choice.value("0.5") == Decimal("0.5")
    assert choice.value(True) is True


def test_the_score_is_pnl_minus_the_penalised_drawdown_exactly() -> None:
    total = Total(pnl=10_000_000, max_drawdown=3_000_001, fills=4, orders=4, units=2)
    assert total.score(Decimal("0.5")) == Decimal("8.4999995")
    assert total.score(Decimal(0)) == Decimal(10)
    assert objective_value(total, Decimal("0.5")) == pytest.approx(8.4999995)


def test_a_unit_summarises_its_curve() -> None:
    unit = UnitScore.of_curve("a", [5, -3, 8, 2, 4], fills=3)
    assert (unit.pnl, unit.peak, unit.trough, unit.max_drawdown, unit.fills) == (4, 8, -3, 8, 3)
    assert UnitScore.of_curve("empty", []).pnl == 0


def _joined_drawdown(curves: list[list[int]]) -> tuple[int, int]:
    """Brute force: the curves end to end, each from where the last ended."""
    offset, peak, worst = 0, 0, 0
    for curve in curves:
        for point in curve:
            value = offset + point
            peak = max(peak, value)
            worst = max(worst, peak - value)
        offset += curve[-1] if curve else 0
    return offset, worst


@given(st.lists(st.lists(st.integers(-1_000, 1_000), max_size=12), max_size=6))
def test_joined_drawdown_matches_the_brute_force_curve(curves: list[list[int]]) -> None:
    units = [UnitScore.of_curve(str(i), c) for i, c in enumerate(curves)]
    total = combine(units)
    assert (total.pnl, total.max_drawdown) == _joined_drawdown(curves)
    assert total.units == len(curves)


def test_walk_forward_holds_out_the_last_share() -> None:
    units = list("abcdefgh")
    assert walk_forward(units, 0.25) == (list("abcdef"), list("gh"))
    assert walk_forward(units, 0.01) == (list("abcdefg"), ["h"])  # at least one held out
    assert walk_forward(units, 0) == (units, [])
    assert walk_forward([], 0.25) == ([], [])
    assert walk_forward(["a", "b"], 0.5) == (["a"], ["b"])
    with pytest.raises(ConfigError, match="leave nothing to train on"):
        walk_forward(["a"], 0.25)
    with pytest.raises(ConfigError, match="--holdout: must be at least 0 and below 1"):
        walk_forward(units, 1.0)
