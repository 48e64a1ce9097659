"""Scripted match scenarios: what really happened, and what each provider says when.

A :class:`Scenario` is a timeline of the true match (games starting and ending, kills,
objectives, pauses) plus, per provider, how that provider reports it: a delay, outages
(``error`` = the API fails, ``frozen`` = it answers with data stuck at the outage start), and
wrong reports (a game's winner reported wrong until a correction time). From it:

* :meth:`Scenario.timeline` — the steps a provider shows, with delays, wrong winners and
  their corrections applied (what the local feeds serve);
* :meth:`Scenario.state` — the fold of that timeline at a time: match and game states,
  scores, kills, game clocks (what a REST endpoint renders);
* :meth:`Scenario.fair_value` — the probability (micros) that team ``a`` wins the series or a
  game, as a market lagging the truth by ``market_lag_ms`` would price it;
* :meth:`Scenario.public_value` / :meth:`Scenario.news_ms` — the same probability as a
  member of the *public* sees it ``lag_ms`` after the truth (a bot reading the sports feed a
  few seconds late, a viewer watching the broadcast tens of seconds late), and when that
  viewer last learned something: what the exchange simulator's makers and rivals price from
  (:class:`PublicSpec` holds the lags, see ``docs/05_SIMULATED_MARKET.md``).

The fair value uses the map score (a won map counts as won: a Bo3 at 1-0 is priced as one)
and the state of the game in play: its kill lead and objectives, weighted more as the game
clock runs (a lead at 35 minutes decides more than one at 5).

Times are scenario milliseconds from the scenario's start. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from typing import Final

from polyloly.domain.money import ONE

__all__ = [
    "OBJECTIVE_WEIGHTS",
    "GameState",
    "MatchState",
    "Outage",
    "ProviderSpec",
    "PublicSpec",
    "Scenario",
    "Step",
    "StepKind",
    "TeamSpec",
    "WrongReport",
    "game_probability",
    "objective_lead",
    "series_probability",
]

_PROB_FLOOR: Final = 20_000
_PROB_CEIL: Final = ONE - _PROB_FLOOR
_LATE_GAME_MS: Final = 30 * 60_000  # a lead weighs double at 30 game minutes
OBJECTIVE_WEIGHTS: Final = {
    "towers": 10_000,
    "drakes": 15_000,
    "heralds": 10_000,
    "nashors": 60_000,
    "barons": 60_000,
    "roshans": 60_000,
    "inhibitors": 40_000,
    "barracks": 40_000,
}
"""How much one objective moves a game's probability (micros), before the clock weight."""


@dataclass(frozen=True, slots=True)
class PublicSpec:
    """When the public learns what happens in the game (scenario milliseconds).

    Fast bots and professional makers read the sports data feed ``feed_delay_ms`` late,
    each with its own extra lag drawn up to ``feed_spread_ms``; viewers watch the broadcast
    ``broadcast_delay_ms`` late, up to ``broadcast_spread_ms`` more. The defaults are
    assumptions (no public figure for the venue's sports feed latency exists); the docs
    show the results' sensitivity to them.
    """

    feed_delay_ms: int = 3_000
    feed_spread_ms: int = 3_000
    broadcast_delay_ms: int = 30_000
    broadcast_spread_ms: int = 30_000

    def __post_init__(self) -> None:
        if min(self.feed_delay_ms, self.feed_spread_ms) < 0:
            raise ValueError("public feed delay and spread must be >= 0")
        if min(self.broadcast_delay_ms, self.broadcast_spread_ms) < 0:
            raise ValueError("public broadcast delay and spread must be >= 0")


class StepKind(StrEnum):
    """What happens at one step."""

    GAME_START = "game_start"
    KILL = "kill"
    OBJECTIVE = "objective"
    PAUSE = "pause"
    RESUME = "resume"
    GAME_END = "game_end"
    CANCEL = "cancel"
    CORRECTION = "correction"  # provider-only: a wrong game winner is fixed


@dataclass(frozen=True, slots=True)
class Step:
    """One timed step; ``team`` is ``"a"``/``"b"``; ``game`` is filled in by the scenario."""

    at_ms: int
    kind: StepKind
    game: int = 0
    team: str | None = None
    count: int = 1
    objective: str = ""


@dataclass(frozen=True, slots=True)
class Outage:
    """A provider outage in scenario time; ``mode`` is ``error`` or ``frozen``."""

    from_ms: int
    to_ms: int
    mode: str = "error"


@dataclass(frozen=True, slots=True)
class WrongReport:
    """The provider reports ``winner`` for ``game`` until ``until_ms``, then corrects it."""

    game: int
    winner: str
    until_ms: int


@dataclass(frozen=True, slots=True)
class TeamSpec:
    """A team: canonical name and the other spellings providers use."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """How one provider reports the scenario.

    ``match_id`` is the provider's own id (PandaScore match id, GRID series id, LPDB
    ``match2id``, lolesports match id, OpenDota ``series_id``). ``team_names`` / ``team_ids``
    are how this provider spells and numbers teams ``a`` and ``b``.
    """

    name: str
    match_id: str
    delay_ms: int = 0
    outages: tuple[Outage, ...] = ()
    wrong: tuple[WrongReport, ...] = ()
    frame_interval_ms: int = 5_000
    ingest_delay_ms: int = 60_000
    team_names: tuple[tuple[str, str], ...] = ()
    team_ids: tuple[tuple[str, str], ...] = ()

    def team_name(self, side: str, default: str) -> str:
        """This provider's name for ``side``."""
        return dict(self.team_names).get(side, default)

    def team_id(self, side: str) -> str:
        """This provider's id for ``side`` (defaults ``1001``/``1002``)."""
        return dict(self.team_ids).get(side, "1001" if side == "a" else "1002")

    def outage_at(self, t_ms: int) -> Outage | None:
        """The outage covering ``t_ms``, if any."""
        return next((o for o in self.outages if o.from_ms <= t_ms < o.to_ms), None)


@dataclass(frozen=True, slots=True)
class GameState:
    """One game at a point in time (folded from the steps)."""

    number: int
    started_ms: int
    ended_ms: int | None = None
    winner: str | None = None
    paused_since_ms: int | None = None
    paused_total_ms: int = 0
    kills_a: int = 0
    kills_b: int = 0
    objectives: tuple[tuple[str, str, int], ...] = ()
    changed_ms: int = 0

    @property
    def paused(self) -> bool:
        """Whether the game is paused right now."""
        return self.paused_since_ms is not None

    def clock_ms(self, t_ms: int) -> int:
        """In-game time at scenario time ``t_ms`` (stops while paused and at the end)."""
        end = self.ended_ms if self.ended_ms is not None else t_ms
        paused = self.paused_total_ms
        if self.paused_since_ms is not None:
            paused += max(0, min(end, t_ms) - self.paused_since_ms)
        return max(0, min(end, t_ms) - self.started_ms - paused)

    def objective(self, side: str, kind: str) -> int:
        """How many ``kind`` objectives ``side`` has taken."""
        return next((n for s, k, n in self.objectives if s == side and k == kind), 0)


@dataclass(frozen=True, slots=True)
class MatchState:
    """The series as one provider shows it at ``t_ms``."""

    t_ms: int
    status: str  # not_started | running | finished | canceled
    games: tuple[GameState, ...] = ()
    winner: str | None = None
    score_a: int = 0
    score_b: int = 0
    started_ms: int | None = None
    ended_ms: int | None = None
    changed_ms: int = 0
    steps: int = 0

    @property
    def current(self) -> GameState | None:
        """The game in play (or the last one)."""
        return self.games[-1] if self.games else None


def game_probability(
    p: int,
    kills_a: int,
    kills_b: int,
    swing: int,
    *,
    objectives: int = 0,
    clock_ms: int = 0,
) -> int:
    """Team a's chance to win a game in progress: the pre-game ``p`` moved by the kill
    lead (``swing`` a kill) and the objective lead (``objectives``, micros), the lead
    weighing more as the game clock runs (×1 at the start, ×2 at 30 minutes, ×3 at 60)."""
    lead = swing * (kills_a - kills_b) + objectives
    lead = lead * (_LATE_GAME_MS + max(0, clock_ms)) // _LATE_GAME_MS
    return min(max(p + lead, _PROB_FLOOR), _PROB_CEIL)


def objective_lead(game: GameState) -> int:
    """Team a's objective lead in a game (micros of probability, see ``OBJECTIVE_WEIGHTS``)."""
    lead = 0
    for side, kind, count in game.objectives:
        weight = OBJECTIVE_WEIGHTS.get(kind, 10_000) * count
        lead += weight if side == "a" else -weight
    return lead


@cache
def _series(p: int, need_a: int, need_b: int) -> int:
    if need_a <= 0:
        return ONE
    if need_b <= 0:
        return 0
    return (p * _series(p, need_a - 1, need_b) + (ONE - p) * _series(p, need_a, need_b - 1)) // ONE


def series_probability(p: int, need_a: int, need_b: int, current: int | None = None) -> int:
    """Team a's chance to win the series needing ``need_a`` / ``need_b`` more games.

    ``p`` is a's chance per future game and ``current`` a's chance in the game being played
    (``None`` = no game in play). Micros, exact integer arithmetic (rounded down).
    """
    if need_a <= 0:
        return ONE
    if need_b <= 0:
        return 0
    q = p if current is None else current
    return (q * _series(p, need_a - 1, need_b) + (ONE - q) * _series(p, need_a, need_b - 1)) // ONE


@dataclass(frozen=True)
class Scenario:
    """A scripted series and how each provider reports it."""

    name: str
    game: str  # "lol" | "dota2"
    match_id: str
    best_of: int
    team_a: TeamSpec
    team_b: TeamSpec
    steps: tuple[Step, ...]
    providers: dict[str, ProviderSpec] = field(default_factory=dict)
    description: str = ""
    scheduled_ms: int = 0
    map_win_prob_a: int = 500_000
    kill_swing: int = 10_000
    market_lag_ms: int = 0
    public: PublicSpec = field(default_factory=PublicSpec)
    end_ms: int = 0
    epoch_s: int = 1_767_225_600  # 2026-01-01T00:00:00Z: payload dates when no clock is given

    @property
    def wins_needed(self) -> int:
        """Games a team needs to take the series."""
        return self.best_of // 2 + 1

    def team(self, side: str) -> TeamSpec:
        """The team of ``side``."""
        return self.team_a if side == "a" else self.team_b

    def side_a_first(self, number: int) -> bool:
        """Whether team a plays the first side (blue / radiant) in game ``number``."""
        return number % 2 == 1

    def aliases(self) -> dict[str, list[str]]:
        """The alias table covering every spelling used by the providers."""
        out: dict[str, list[str]] = {}
        for side in ("a", "b"):
            team = self.team(side)
            names = list(team.aliases)
            names.extend(spec.team_name(side, team.name) for spec in self.providers.values())
            out[team.name] = sorted({n for n in names if n != team.name})
        return out

    # -- provider views -------------------------------------------------------------------------

    def timeline(self, provider: str | None) -> tuple[Step, ...]:
        """The steps ``provider`` shows (``None`` = the truth), in display-time order."""
        return _timeline(self, provider)

    def state(self, provider: str | None, t_ms: int) -> MatchState:
        """Fold ``provider``'s timeline up to ``t_ms`` (a ``frozen`` outage stops the fold
        at the outage start)."""
        spec = self.providers.get(provider) if provider is not None else None
        if spec is not None:
            outage = spec.outage_at(t_ms)
            if outage is not None and outage.mode == "frozen":
                t_ms = outage.from_ms
        return _fold(self, self.timeline(provider), t_ms)

    def outage(self, provider: str, t_ms: int) -> Outage | None:
        """The provider's outage at ``t_ms``, if any."""
        spec = self.providers.get(provider)
        return spec.outage_at(t_ms) if spec is not None else None

    def change_times(self, provider: str | None) -> list[int]:
        """Every time the provider's picture changes (step times and outage edges)."""
        times = {s.at_ms for s in self.timeline(provider)}
        spec = self.providers.get(provider) if provider is not None else None
        for o in spec.outages if spec is not None else ():
            times.update((o.from_ms, o.to_ms))
        return sorted(times)

    # -- market ---------------------------------------------------------------------------------

    def fair_value(self, t_ms: int, game_number: int | None = None) -> int | None:
        """Probability (micros) that team a wins the series (or game ``game_number``), as a
        market ``market_lag_ms`` behind the truth prices it; ``None`` if canceled."""
        return self.public_value(t_ms, self.market_lag_ms, game_number)

    def public_value(self, t_ms: int, lag_ms: int, game_number: int | None = None) -> int | None:
        """The fair value as someone ``lag_ms`` behind the truth sees it at ``t_ms``."""
        return self.value_of(self.state(None, max(0, t_ms - lag_ms)), game_number)

    def news_ms(self, t_ms: int, lag_ms: int) -> int | None:
        """When (scenario ms) someone ``lag_ms`` behind the truth last learned something
        about the match, at ``t_ms``; ``None`` before the first step reaches them."""
        seen = t_ms - lag_ms
        last = None
        for step in self.steps:
            if step.at_ms > seen:
                break
            last = step.at_ms
        return None if last is None else last + lag_ms

    def decided_ms(self, game_number: int | None = None) -> int | None:
        """When (scenario ms, truth) the market's outcome was decided: the game's end, or the
        end of the game that won the series; ``None`` if never (canceled or unplayed)."""
        for step in self.steps:
            state = self.state(None, step.at_ms)
            if state.status == "canceled":
                return None
            value = self.value_of(state, game_number)
            if value in (0, ONE):
                return step.at_ms
        return None

    def value_of(self, state: MatchState, game_number: int | None = None) -> int | None:
        """Team a's chance (micros) to win the series (or one game) in ``state``."""
        p = self.map_win_prob_a
        if state.status == "canceled":
            return None
        if game_number is not None:
            game = next((g for g in state.games if g.number == game_number), None)
            if game is None:
                return p
            if game.winner is not None:
                return ONE if game.winner == "a" else 0
            return self._live(game, state.t_ms)
        if state.status == "finished":
            return ONE if state.winner == "a" else 0
        current = state.current
        live = None
        if current is not None and current.winner is None:
            live = self._live(current, state.t_ms)
        need = self.wins_needed
        return series_probability(p, need - state.score_a, need - state.score_b, live)

    def _live(self, game: GameState, t_ms: int) -> int:
        return game_probability(
            self.map_win_prob_a,
            game.kills_a,
            game.kills_b,
            self.kill_swing,
            objectives=objective_lead(game),
            clock_ms=game.clock_ms(t_ms),
        )


def _timeline(scenario: Scenario, provider: str | None) -> tuple[Step, ...]:
    spec = scenario.providers.get(provider) if provider is not None else None
    if spec is None:
        return scenario.steps
    wrong = {w.game: w for w in spec.wrong}
    out: list[Step] = []
    for step in scenario.steps:
        shown = replace(step, at_ms=step.at_ms + spec.delay_ms)
        report = wrong.get(step.game)
        if step.kind is StepKind.GAME_END and report is not None and shown.at_ms < report.until_ms:
            out.append(replace(shown, team=report.winner))
            out.append(
                Step(
                    at_ms=report.until_ms, kind=StepKind.CORRECTION, game=step.game, team=step.team
                )
            )
        else:
            out.append(shown)
    return tuple(sorted(out, key=lambda s: s.at_ms))


def _fold(scenario: Scenario, steps: tuple[Step, ...], t_ms: int) -> MatchState:
    games: dict[int, GameState] = {}
    status, changed, applied, started = "not_started", 0, 0, None
    for step in steps:
        if step.at_ms > t_ms:
            break
        applied += 1
        changed = step.at_ms
        if step.kind is StepKind.CANCEL:
            status = "canceled"
            continue
        if step.kind is StepKind.GAME_START:
            games[step.game] = GameState(number=step.game, started_ms=step.at_ms)
            started = step.at_ms if started is None else started
            continue
        game = games.get(step.game)
        if game is not None:
            games[step.game] = replace(_apply(game, step), changed_ms=step.at_ms)
    ordered = tuple(games[n] for n in sorted(games))
    score_a = sum(1 for g in ordered if g.winner == "a")
    score_b = sum(1 for g in ordered if g.winner == "b")
    winner = None
    need = scenario.wins_needed
    if status != "canceled":
        if score_a >= need or score_b >= need:
            winner = "a" if score_a >= need else "b"
            status = "finished"
        elif ordered:
            status = "running"
    ended = max((g.ended_ms or 0 for g in ordered), default=0) if winner else None
    return MatchState(
        t_ms=t_ms,
        status=status,
        games=ordered,
        winner=winner,
        score_a=score_a,
        score_b=score_b,
        started_ms=started,
        ended_ms=ended,
        changed_ms=changed,
        steps=applied,
    )


def _kill(game: GameState, step: Step) -> GameState:
    if step.team == "a":
        return replace(game, kills_a=game.kills_a + step.count)
    return replace(game, kills_b=game.kills_b + step.count)


def _objective(game: GameState, step: Step) -> GameState:
    counts = {(s, k): n for s, k, n in game.objectives}
    key = (step.team or "a", step.objective)
    counts[key] = counts.get(key, 0) + step.count
    return replace(game, objectives=tuple(sorted((s, k, n) for (s, k), n in counts.items())))


def _pause(game: GameState, step: Step) -> GameState:
    if game.paused_since_ms is not None:
        return game
    return replace(game, paused_since_ms=step.at_ms)


def _resume(game: GameState, step: Step) -> GameState:
    if game.paused_since_ms is None:
        return game
    total = game.paused_total_ms + step.at_ms - game.paused_since_ms
    return replace(game, paused_since_ms=None, paused_total_ms=total)


def _end(game: GameState, step: Step) -> GameState:
    total = game.paused_total_ms
    if game.paused_since_ms is not None:
        total += step.at_ms - game.paused_since_ms
    return replace(
        game, ended_ms=step.at_ms, winner=step.team, paused_since_ms=None, paused_total_ms=total
    )


def _correct(game: GameState, step: Step) -> GameState:
    return replace(game, winner=step.team)


_RULES: Final[dict[StepKind, Callable[[GameState, Step], GameState]]] = {
    StepKind.KILL: _kill,
    StepKind.OBJECTIVE: _objective,
    StepKind.PAUSE: _pause,
    StepKind.RESUME: _resume,
    StepKind.GAME_END: _end,
    StepKind.CORRECTION: _correct,
}


def _apply(game: GameState, step: Step) -> GameState:
    rule = _RULES.get(step.kind)
    return game if rule is None else rule(game, step)
