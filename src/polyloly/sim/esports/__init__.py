"""Local esports provider feeds (REST + WebSocket, each provider's shape) driven by scenarios."""

from polyloly.sim.esports.runtime import ScenarioFairValue, ScenarioRuntime
from polyloly.sim.esports.server import EsportsFeedServer

__all__ = ["EsportsFeedServer", "ScenarioFairValue", "ScenarioRuntime"]
