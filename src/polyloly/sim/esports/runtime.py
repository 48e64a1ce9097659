"""A scenario running on a clock: scenario time, provider views, fair values.

:class:`ScenarioRuntime` ties a :class:`~polyloly.sim.scenarios.model.Scenario` to the injected
clock: scenario time is ``(now - start) × speed``, and payload timestamps are wall time
(``start + t / speed``), so adapters see dates near their own clock even at 10× speed.

:class:`ScenarioFairValue` is the exchange simulator's ``FairValueSource``: it maps a market
(condition id) to a match (and optionally a game) and returns team ``a``'s win probability
in micros, lagging the truth by the scenario's ``market_lag_ms``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction

from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, Clock
from polyloly.sim.scenarios.model import MatchState, Outage, ProviderSpec, Scenario

__all__ = ["ScenarioFairValue", "ScenarioRuntime"]


class ScenarioRuntime:
    """One scenario on a clock.

    Parameters
    ----------
    scenario
        The scenario.
    clock
        The injected clock (virtual in tests, live for the CLI).
    start_ns
        Clock time of scenario time 0 (default: now).
    speed
        Scenario seconds per clock second (``10`` plays a 30-minute game in 3 minutes).
    """

    def __init__(
        self,
        scenario: Scenario,
        clock: Clock,
        start_ns: int | None = None,
        speed: Fraction | int | str = 1,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.start_ns = clock.now_ns() if start_ns is None else start_ns
        self.speed = Fraction(speed)
        if self.speed <= 0:
            raise ValueError("speed must be positive")

    def t_ms(self, now_ns: int | None = None) -> int:
        """Scenario milliseconds at clock time ``now_ns`` (default: now)."""
        now = self.clock.now_ns() if now_ns is None else now_ns
        return int((now - self.start_ns) * self.speed) // NS_PER_MS

    def wall_ns(self, t_ms: int) -> int:
        """Clock time at scenario time ``t_ms``."""
        return self.start_ns + int(Fraction(t_ms * NS_PER_MS) / self.speed)

    def wall_s(self, t_ms: int) -> int:
        """Unix seconds at scenario time ``t_ms``."""
        return self.wall_ns(t_ms) // NS_PER_S

    def spec(self, provider: str) -> ProviderSpec | None:
        """The scenario's settings for ``provider`` (``None`` = it does not report this match)."""
        return self.scenario.providers.get(provider)

    def state(self, provider: str | None, t_ms: int | None = None) -> MatchState:
        """What ``provider`` shows now (or at ``t_ms``)."""
        return self.scenario.state(provider, self.t_ms() if t_ms is None else t_ms)

    def outage(self, provider: str, t_ms: int | None = None) -> Outage | None:
        """The provider's outage now (or at ``t_ms``)."""
        return self.scenario.outage(provider, self.t_ms() if t_ms is None else t_ms)

    def next_change_ns(self, provider: str, after_ns: int) -> int | None:
        """Clock time of the provider's next picture change strictly after ``after_ns``."""
        after_ms = self.t_ms(after_ns)
        for t in self.scenario.change_times(provider):
            if t > after_ms:
                return max(self.wall_ns(t), after_ns + 1)
        return None

    def fair_value(self, match_id: str, now_ns: int, game_number: int | None = None) -> int | None:
        """Team a's win probability (micros) for the series or one game, ``None`` if this
        runtime does not run ``match_id`` or the match was canceled."""
        if match_id != self.scenario.match_id:
            return None
        return self.scenario.fair_value(self.t_ms(now_ns), game_number)


class ScenarioFairValue:
    """``FairValueSource`` over running scenarios: ``fair_value(condition_id, now_ns)``.

    Parameters
    ----------
    runtimes
        The scenarios being played.
    markets
        ``{condition_id: (match_id, game_number or None)}`` — which market prices what.
    """

    def __init__(
        self,
        runtimes: Iterable[ScenarioRuntime],
        markets: Mapping[str, tuple[str, int | None]],
    ) -> None:
        self._by_match = {r.scenario.match_id: r for r in runtimes}
        self._markets = dict(markets)

    def bind(self, condition_id: str, match_id: str, game_number: int | None = None) -> None:
        """Say that market ``condition_id`` prices ``match_id`` (or one of its games)."""
        self._markets[condition_id] = (match_id, game_number)

    def fair_value(self, condition_id: str, now_ns: int) -> int | None:
        """Team a's win probability in micros for the market, or ``None`` if unknown."""
        target = self._markets.get(condition_id)
        if target is None:
            return None
        runtime = self._by_match.get(target[0])
        if runtime is None:
            return None
        return runtime.fair_value(target[0], now_ns, target[1])
