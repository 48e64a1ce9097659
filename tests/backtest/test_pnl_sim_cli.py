"""``polyloly simulate-pnl`` and the ``scripts/pnl_simulation.py`` wrapper."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyloly.backtest.pnl_sim import CHART_IDS
from polyloly.bot.cli import build_app
from polyloly.bot.cli_ops import app, sim_params_from_settings
from polyloly.bot.config_loader import load_settings
from polyloly.domain.money import SCALE

REPO = Path(__file__).resolve().parents[2]
CONFIG = ["--config-dir", str(REPO / "config"), "--env", "dev"]
QUICK = ["--runs", "40", "--sweep-runs", "10", "--signals", "4", "--opportunities", "6"]


def test_simulate_pnl_prints_the_distribution_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "pnl"
    result = CliRunner().invoke(
        app, ["simulate-pnl", *QUICK, "--wrong-truth-rate", "2.5", "--out", str(out), *CONFIG]
    )
    assert result.exit_code == 0, result.output
    assert "temporal arbitrage" in result.output
    assert "assumed 2.50 %" in result.output
    assert (out / "pnl_report.html").is_file()
    assert len(list(out.glob("*.png"))) == len(CHART_IDS)


def test_the_command_merges_into_the_root_cli() -> None:
    root = build_app({"": "polyloly.bot.cli_ops:app"})
    result = CliRunner().invoke(root, ["simulate-pnl", *QUICK, "--no-report", *CONFIG])
    assert result.exit_code == 0, result.output
    assert "report:" not in result.output


@pytest.mark.parametrize("rate", ["abc", "101", "0.001"])
def test_bad_percentages_are_refused(rate: str) -> None:
    result = CliRunner().invoke(
        app, ["simulate-pnl", *QUICK, "--no-report", "--wrong-truth-rate", rate, *CONFIG]
    )
    assert result.exit_code == 2


def test_parameters_follow_the_strategy_settings() -> None:
    settings = load_settings(
        env="dev",
        config_dir=REPO / "config",
        environ={},
        env_file=False,
        overrides={
            "strategies.pair_arb.pair_cost_cap": "0.97",
            "strategies.temporal_arb.max_entry_price": "0.9",
            "fees.model": "flat_payout",
            "fees.rate": "0.02",
        },
    )
    params = sim_params_from_settings(settings, temporal_wrong_truth_bps=300, runs=10)
    assert params.pair.pair_cost_cap == 970_000
    assert params.temporal.max_entry_price == 900_000
    assert params.temporal.entry_max <= 900_000
    assert params.temporal.wrong_truth_bps == 300
    assert params.runs == 10
    assert params.fee_model.payout(SCALE) == 980_000  # 2 % off one share


def test_script_wraps_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "script"
    argv = ["pnl_simulation.py", *QUICK, "--out", str(out), *CONFIG]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(REPO / "scripts" / "pnl_simulation.py"), run_name="__main__")
    assert done.value.code == 0
    assert (out / "pnl_report.html").is_file()
