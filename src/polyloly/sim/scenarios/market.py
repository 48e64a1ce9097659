"""What the public knows about running scenarios: the exchange simulator's ``PublicView``.

:class:`ScenarioPublic` maps each market (condition id) to a running scenario (and
optionally one game) and answers, for someone ``lag_ms`` of *game time* behind the truth,
the fair value they see and the clock time they last learned news. Makers and rivals of
the exchange simulator (:mod:`polyloly.sim.exchange.pool`) price from it; ``fair_value``
is what the fastest public (the sports feed, :attr:`PublicSpec.feed_delay_ms`) sees.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Protocol

from polyloly.sim.scenarios.model import Scenario

_NS_PER_MS = 1_000_000

__all__ = ["RunningScenario", "ScenarioPublic"]


class RunningScenario(Protocol):
    """A scenario on a clock (``polyloly.sim.esports.ScenarioRuntime`` is one)."""

    scenario: Scenario
    speed: Fraction

    def t_ms(self, now_ns: int | None = None) -> int:
        """Scenario milliseconds at clock time ``now_ns``."""
        ...

    def wall_ns(self, t_ms: int) -> int:
        """Clock time at scenario time ``t_ms``."""
        ...


class ScenarioPublic:
    """``PublicView`` over running scenarios (see the module docstring)."""

    def __init__(self) -> None:
        self._markets: dict[str, tuple[RunningScenario, int | None]] = {}

    def bind(self, condition_id: str, runtime: RunningScenario, game_number: int | None) -> None:
        """Say that market ``condition_id`` prices ``runtime``'s series (or one game)."""
        self._markets[condition_id] = (runtime, game_number)

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """The value the sports feed's readers see (``None``: unknown market, canceled)."""
        target = self._markets.get(condition_id)
        if target is None:
            return None
        return self.view(condition_id, now_ns, target[0].scenario.public.feed_delay_ms)[0]

    def duration_ns(self, condition_id: str, ms: float) -> int:
        """Clock ns of ``ms`` game milliseconds on the market's scenario clock."""
        target = self._markets.get(condition_id)
        speed = target[0].speed if target is not None else Fraction(1)
        return int(Fraction(ms) * _NS_PER_MS / speed)

    def view(self, condition_id: str, now_ns: int, lag_ms: int) -> tuple[int | None, int | None]:
        """``(value, clock ns of the latest news)`` for someone ``lag_ms`` game-ms late."""
        target = self._markets.get(condition_id)
        if target is None:
            return None, None
        runtime, game_number = target
        scenario = runtime.scenario
        t_ms = runtime.t_ms(now_ns)
        news = scenario.news_ms(t_ms, lag_ms)
        value = scenario.public_value(t_ms, lag_ms, game_number)
        return value, None if news is None else runtime.wall_ns(news)
