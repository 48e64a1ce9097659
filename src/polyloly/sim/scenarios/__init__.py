"""Scripted match scenarios (YAML timelines shipped here) and their loader."""

from polyloly.sim.scenarios.loader import (
    ScenarioError,
    available_scenarios,
    load_scenario,
    parse_scenario,
)
from polyloly.sim.scenarios.model import MatchState, ProviderSpec, Scenario

__all__ = [
    "MatchState",
    "ProviderSpec",
    "Scenario",
    "ScenarioError",
    "available_scenarios",
    "load_scenario",
    "parse_scenario",
]
