"""The truth engine: turns provider reports into confirmed match results.

One state machine per series (``match_id``)::

    PRE_MATCH -> LIVE <-> PAUSED -> POST_MATCH_PENDING -> FINAL

driven by a transition table (:data:`TRANSITIONS`) plus :meth:`TruthEngine.apply`. Game (map)
results and match results are *claims*; every claim collects votes from independent sources
and its confidence is ``1 - prod(1 - w_i)`` over the distinct agreeing sources, except that a
single source alone is capped at ``pending_confidence`` (the seed's 0.80), so FINAL always
needs a second source or a timeout. Contradicting winners block the match and raise a
:class:`~polyloly.domain.events.TruthAlert`. The table, :class:`TruthParams` and
:func:`combined_confidence` live in :mod:`polyloly.domain.truth_table` and are re-exported
here. The full rules, with examples, are in ``docs/02_TRUTH_ENGINE_STATE_MACHINE.md``.

The engine is pure and deterministic: time comes only from the events' ``ts_init`` (timeouts
fire on :class:`~polyloly.domain.events.TimerTick`), and the same event list always yields
the same outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import msgspec

from polyloly.domain.events import (
    Event,
    MatchEvent,
    TimerTick,
    TruthAlert,
    TruthDelta,
    TruthFinal,
)
from polyloly.domain.events import MatchEventKind as K
from polyloly.domain.events import TruthState as S
from polyloly.domain.markets import TeamAliases
from polyloly.domain.truth_table import (
    TRANSITIONS,
    Action,
    TruthParams,
    combined_confidence,
)

__all__ = [
    "GameState",
    "GameView",
    "MatchView",
    "TruthEngine",
    "TruthStep",
]


_STATUS_ACTIONS: Final = frozenset(
    {Action.START, Action.ACTIVITY, Action.GAME_START, Action.PAUSE, Action.RESUME}
)


def _state_change(before: S, after: S) -> str:
    """Name the ``TruthDelta.change`` of a state change caused by a result."""
    if after is S.POST_MATCH_PENDING:
        return "match_ended"  # reported, or mathematically decided by the map score
    if before is S.POST_MATCH_PENDING:
        return "decision_withdrawn"  # a correction undid the deciding result
    return "resumed" if before is S.PAUSED else "match_started"


# ---------------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------------


class GameState(StrEnum):
    """Sub-state of one game (map) of a series."""

    PENDING = "pending"
    LIVE = "live"
    PAUSED = "paused"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class GameView:
    """One game as the engine sees it (``winner`` is None while unknown or disputed)."""

    number: int
    state: GameState
    winner: str | None
    confidence: int
    contradicted: bool


@dataclass(frozen=True, slots=True)
class MatchView:
    """Read-only snapshot of one series."""

    match_id: str
    state: S
    team_a: str
    team_b: str
    best_of: int | None
    score_a: int
    score_b: int
    games: tuple[GameView, ...]
    winner: str | None
    confidence: int
    blocked: bool
    canceled: bool
    pending_since_ns: int | None  # when the current winner was established (timeout start)


@dataclass(frozen=True, slots=True)
class TruthStep:
    """What one input did: the derived events, or why it was ignored (``""`` if not)."""

    outputs: list[Event]
    ignored: str = ""


_Order = tuple[int | None, int]  # (provider seq, ts_event)


def _not_older(new: _Order, old: _Order) -> bool:
    """Whether report ``new`` is at least as recent as ``old`` from the same source."""
    if new[0] is not None and old[0] is not None:
        return new[0] >= old[0]
    return new[1] >= old[1]


@dataclass(slots=True)
class _Vote:
    winner: str
    order: _Order


@dataclass(slots=True)
class _Outcome:
    winner: str | None = None
    confidence: int = 0
    contradicted: bool = False
    sources: tuple[str, ...] = ()


@dataclass(slots=True)
class _Match:
    match_id: str
    team_a: str
    team_b: str
    best_of: int | None = None
    state: S = S.PRE_MATCH
    games: dict[int, GameState] = field(default_factory=dict)
    votes: dict[int | None, dict[str, _Vote]] = field(default_factory=dict)
    scores: dict[str, tuple[int, int]] = field(default_factory=dict)  # MATCH_ENDED scores
    status: dict[str, _Order] = field(default_factory=dict)
    seen: set[tuple[str, int, str, int | None]] = field(default_factory=set)
    disputed: set[int | None] = field(default_factory=set)
    shown: dict[int, tuple[str | None, int]] = field(default_factory=dict)
    leader: str | None = None
    confidence: int = 0
    pending_since: int | None = None
    canceled: bool = False
    final: TruthFinal | None = None

    @property
    def blocked(self) -> bool:
        return self.canceled or bool(self.disputed)


class TruthEngine:
    """Per-series state machines fed by :class:`MatchEvent` and :class:`TimerTick`.

    Parameters
    ----------
    params
        Weights, thresholds and the timeout.
    aliases
        Team alias table used to compare team names across providers.
    """

    def __init__(
        self, params: TruthParams | None = None, aliases: TeamAliases | None = None
    ) -> None:
        self.params = params or TruthParams()
        self.aliases = aliases or TeamAliases()
        self._matches: dict[str, _Match] = {}
        self.now_ns = 0
        self.ignored_counts: dict[str, int] = {}

    # -- public API ------------------------------------------------------------------------

    def apply(self, event: Event) -> list[Event]:
        """Apply one input event; return the derived events (TruthDelta/Final/Alert)."""
        return self.step(event).outputs

    def step(self, event: Event) -> TruthStep:
        """Apply one input event; also say why it was ignored, if it was."""
        self.now_ns = max(self.now_ns, event.ts_init)
        if isinstance(event, TimerTick):
            return TruthStep(self._on_tick(event))
        if not isinstance(event, MatchEvent):
            return TruthStep([])
        outputs: list[Event] = []
        reason = self._on_match_event(event, outputs)
        if reason:
            self.ignored_counts[reason] = self.ignored_counts.get(reason, 0) + 1
        return TruthStep(outputs, reason)

    def view(self, match_id: str) -> MatchView | None:
        """Return a snapshot of one series, or None if the engine never heard of it."""
        m = self._matches.get(match_id)
        if m is None:
            return None
        games = tuple(self._game_view(m, n) for n in sorted(m.games))
        score_a, score_b = self._score(m)
        return MatchView(
            match_id=m.match_id, state=m.state, team_a=m.team_a, team_b=m.team_b,
            best_of=m.best_of, score_a=score_a, score_b=score_b, games=games, winner=m.leader,
            confidence=m.confidence, blocked=m.blocked, canceled=m.canceled,
            pending_since_ns=m.pending_since,
        )  # fmt: skip

    def match_ids(self) -> list[str]:
        """Return every known match id, sorted."""
        return sorted(self._matches)

    def forget(self, match_id: str) -> None:
        """Drop a series' state (after its markets resolved)."""
        self._matches.pop(match_id, None)

    # -- dispatch --------------------------------------------------------------------------

    def _on_match_event(self, e: MatchEvent, out: list[Event]) -> str:
        team_a, team_b = self.aliases.canonical(e.team_a), self.aliases.canonical(e.team_b)
        if not team_a or not team_b or team_a == team_b:
            return "report needs two different teams"
        m = self._matches.get(e.match_id)
        if m is None:
            m = self._matches[e.match_id] = _Match(e.match_id, team_a, team_b)
        if {team_a, team_b} != {m.team_a, m.team_b}:
            return "teams do not match the series (check the alias table)"
        if e.seq is not None:
            ident = (e.source, e.seq, e.kind.value, e.game_number)
            if ident in m.seen:
                return "duplicate report (same source, seq, kind and game)"
            m.seen.add(ident)
        if m.best_of is None and e.best_of is not None and e.best_of > 0:
            m.best_of = e.best_of
        rule = TRANSITIONS[(m.state, e.kind)]
        if isinstance(rule, str):
            return rule
        action = rule[0]
        order: _Order = (e.seq, e.ts_event)
        last = m.status.get(e.source)
        if action in _STATUS_ACTIONS and last is not None and not _not_older(order, last):
            return "stale report (older than one already applied from this source)"
        if last is None or _not_older(order, last):
            m.status[e.source] = order
        return self._act(m, e, rule, out)

    def _act(
        self, m: _Match, e: MatchEvent, rule: tuple[Action, S | None], out: list[Event]
    ) -> str:
        action, target = rule
        if action is Action.SCHEDULE:
            return ""
        handler = {
            Action.START: self._start,
            Action.ACTIVITY: self._start,
            Action.GAME_START: self._game_start,
            Action.PAUSE: self._pause,
            Action.RESUME: self._resume,
            Action.CANCEL: self._cancel,
        }.get(action, self._result)
        return handler(m, e, target, out)

    def _start(self, m: _Match, e: MatchEvent, target: S | None, out: list[Event]) -> str:
        if target is not None and m.state is not target:
            m.state = target
            out.append(self._delta(m, e, "match_started"))
        return ""

    def _resume(self, m: _Match, e: MatchEvent, _target: S | None, out: list[Event]) -> str:
        for n, g in m.games.items():
            if g is GameState.PAUSED:
                m.games[n] = GameState.LIVE
        m.state = S.LIVE
        out.append(self._delta(m, e, "resumed"))
        return ""

    def _cancel(self, m: _Match, e: MatchEvent, _target: S | None, out: list[Event]) -> str:
        if m.canceled:
            return "match already canceled"
        m.canceled = True
        out.append(self._alert(e, f"match canceled (reported by {e.source})", blocked=True))
        return ""

    def _current_game(self, m: _Match) -> int | None:
        live = [n for n, g in m.games.items() if g in (GameState.LIVE, GameState.PAUSED)]
        return max(live) if live else None

    def _end_games_before(self, m: _Match, number: int) -> None:
        # A later game started or ended, so every earlier game is over (winner maybe unknown).
        for n in range(1, number):
            m.games[n] = GameState.ENDED

    def _game_start(self, m: _Match, e: MatchEvent, _target: S | None, out: list[Event]) -> str:
        number = e.game_number or (max(m.games) + 1 if m.games else 1)
        current = m.games.get(number, GameState.PENDING)
        if current is GameState.ENDED:
            return f"game {number} already ended"
        if current is GameState.LIVE and m.state is S.LIVE:
            return f"game {number} already live"
        self._end_games_before(m, number)
        m.games[number] = GameState.LIVE
        m.state = S.LIVE
        out.append(self._delta(m, e, "game_started", game=number))
        return ""

    def _pause(self, m: _Match, e: MatchEvent, _target: S | None, out: list[Event]) -> str:
        number = e.game_number or self._current_game(m)
        if number is not None:
            if m.games.get(number) is GameState.ENDED:
                return f"game {number} already ended"
            m.games[number] = GameState.PAUSED
        m.state = S.PAUSED
        out.append(self._delta(m, e, "paused", game=number))
        return ""

    # -- results and claims ----------------------------------------------------------------

    def _result(self, m: _Match, e: MatchEvent, target: S | None, out: list[Event]) -> str:
        winner = self.aliases.canonical(e.winner) if e.winner else ""
        if winner not in (m.team_a, m.team_b):
            return "result without a winner that is one of the two teams"
        if e.kind is K.GAME_ENDED:
            slot: int | None = e.game_number or self._current_game(m)
            if slot is None:
                return "game_ended without a game number and no game live"
        else:
            slot = None
        votes = m.votes.setdefault(slot, {})
        old = votes.get(e.source)
        order: _Order = (e.seq, e.ts_event)
        if old is not None and old.winner == winner:
            return "duplicate claim (source already reported this winner)"
        if old is not None and not _not_older(order, old.order):
            return "superseded (older than this source's last report on this claim)"
        votes[e.source] = _Vote(winner, order)
        if slot is None:
            if e.score_a is not None and e.score_b is not None:
                swapped = self.aliases.canonical(e.team_a) == m.team_b
                m.scores[e.source] = (e.score_b, e.score_a) if swapped else (e.score_a, e.score_b)
            for n, g in m.games.items():
                if g is not GameState.ENDED:
                    m.games[n] = GameState.ENDED
        else:
            self._end_games_before(m, slot + 1)
        if m.state is S.FINAL:
            self._audit(m, e, out)
            return ""
        self._evaluate(m, e, slot, target, out)
        return ""

    def _game_outcome(self, m: _Match, number: int) -> _Outcome:
        votes = m.votes.get(number, {})
        winners = {v.winner for v in votes.values()}
        if len(winners) > 1:
            return _Outcome(contradicted=True)
        if not winners:
            return _Outcome()
        (winner,) = winners
        conf = self._confidence(votes)
        return _Outcome(winner, conf, False, tuple(sorted(votes))) if conf else _Outcome()

    def _confidence(self, votes: Mapping[str, _Vote]) -> int:
        primary = [s for s in votes if s not in self.params.confirm_only]
        if not primary:
            return 0  # confirm-only sources never establish a claim alone
        weights = [self.params.weight(s) for s in sorted(votes)]
        return combined_confidence(weights, self.params.pending_confidence)

    def _match_outcome(self, m: _Match) -> _Outcome:
        votes = m.votes.get(None, {})
        claimed: dict[str, int] = {}
        sources: dict[str, set[str]] = {}
        for w in sorted({v.winner for v in votes.values()}):
            agreeing = {s: v for s, v in votes.items() if v.winner == w}
            claimed[w] = self._confidence(agreeing)
            sources[w] = set(agreeing)
        if m.best_of:
            need = m.best_of // 2 + 1
            for team in (m.team_a, m.team_b):
                wins = [o for n in m.games if (o := self._game_outcome(m, n)).winner == team]
                if len(wins) >= need:
                    confs = sorted((o.confidence for o in wins), reverse=True)
                    claimed[team] = max(claimed.get(team, 0), confs[need - 1])
                    sources.setdefault(team, set()).update(s for o in wins for s in o.sources)
        if len(claimed) > 1:
            return _Outcome(contradicted=True)
        if not claimed:
            return _Outcome()
        ((winner, conf),) = claimed.items()
        return _Outcome(winner, conf, False, tuple(sorted(sources[winner]))) if conf else _Outcome()

    def _disputes(self, m: _Match) -> dict[int | None, str]:
        found: dict[int | None, str] = {}
        for slot, votes in m.votes.items():
            if len({v.winner for v in votes.values()}) > 1:
                detail = ", ".join(f"{s}={votes[s].winner}" for s in sorted(votes))
                found[slot] = (
                    f"{'match' if slot is None else f'game {slot}'} winner disputed: {detail}"
                )
        if None not in found and self._match_outcome(m).contradicted:
            found[None] = "match winner disputed: game results contradict the reported match result"
        return found

    def _evaluate(
        self, m: _Match, e: MatchEvent, slot: int | None, target: S | None, out: list[Event]
    ) -> None:
        was_blocked = m.blocked
        disputes = self._disputes(m)
        new = sorted(set(disputes) - m.disputed, key=lambda k: -1 if k is None else k)
        out.extend(self._alert(e, disputes[key], blocked=True) for key in new)
        resolved = sorted(m.disputed - set(disputes), key=lambda k: -1 if k is None else k)
        m.disputed = set(disputes)
        if resolved and not m.blocked:
            names = ", ".join("match" if k is None else f"game {k}" for k in resolved)
            out.append(
                self._alert(
                    e, f"dispute resolved ({names}); FINAL needs fresh confirmation", blocked=False
                )
            )
            if was_blocked:
                # Map results established while the match was blocked were shown to no one
                # who could act: show them again now that it is unblocked.
                m.shown.clear()
        outcome = self._match_outcome(m)
        if outcome.winner != m.leader or (was_blocked and not m.blocked):
            m.pending_since = e.ts_init if outcome.winner else None
        m.leader, m.confidence = outcome.winner, outcome.confidence
        before = m.state
        if outcome.winner or outcome.contradicted:
            m.state = S.POST_MATCH_PENDING
        elif m.state is S.POST_MATCH_PENDING:
            m.state = S.LIVE  # the result was corrected away: the series is not decided
        elif target is not None and target is not S.POST_MATCH_PENDING:
            m.state = target  # POST_MATCH_PENDING needs an established or disputed winner
        for n in sorted(m.games):
            game = self._game_outcome(m, n)
            shown = (game.winner, game.confidence)
            if m.shown.get(n, (None, 0)) != shown:
                m.shown[n] = shown
                out.append(self._delta(m, e, "game_result", game=n))
        if before is not m.state:
            out.append(self._delta(m, e, _state_change(before, m.state)))
        elif slot is None and m.state is S.POST_MATCH_PENDING:
            out.append(self._delta(m, e, "confidence"))
        self._maybe_final(m, e, out, timeout=False)

    def _audit(self, m: _Match, e: MatchEvent, out: list[Event]) -> None:
        final = m.final
        assert final is not None  # noqa: S101 - AUDIT only happens in FINAL
        disputes = self._disputes(m)
        outcome = self._match_outcome(m)
        if disputes or (outcome.winner is not None and outcome.winner != final.winner):
            detail = "; ".join(
                disputes[k] for k in sorted(disputes, key=lambda k: -1 if k is None else k)
            )
            reason = f"{e.source} contradicts the FINAL result ({final.winner})"
            out.append(self._alert(e, f"{reason}: {detail}" if detail else reason, blocked=True))
            m.disputed = set(disputes)
            return
        m.disputed = set(disputes)
        if m.blocked:
            return  # canceled: nothing after it is confirmed
        # An agreeing report after FINAL: the map results it confirms are shown, and a FINAL
        # the timeout declared becomes a confirmed one once a second source agrees.
        for n in sorted(m.games):
            game = self._game_outcome(m, n)
            shown = (game.winner, game.confidence)
            if m.shown.get(n, (None, 0)) != shown:
                m.shown[n] = shown
                out.append(self._delta(m, e, "game_result", game=n))
        if final.timed_out and outcome.confidence >= self.params.final_confidence:
            m.confidence = outcome.confidence
            m.final = msgspec.structs.replace(
                final,
                ts_event=e.ts_event,
                ts_init=e.ts_init,
                confidence=outcome.confidence,
                sources=outcome.sources,
                timed_out=False,
            )
            out.append(m.final)

    def _maybe_final(self, m: _Match, e: Event, out: list[Event], *, timeout: bool) -> None:
        if m.state is not S.POST_MATCH_PENDING or m.blocked or m.leader is None:
            return
        confirmed = m.confidence >= self.params.final_confidence
        timed_out = (
            timeout
            and m.pending_since is not None
            and e.ts_init - m.pending_since >= self.params.final_timeout_ns
        )
        if not (confirmed or timed_out):
            return
        m.state = S.FINAL
        outcome = self._match_outcome(m)
        score_a, score_b = self._final_score(m, m.leader)
        m.final = TruthFinal(
            ts_event=e.ts_event, ts_init=e.ts_init, match_id=m.match_id, winner=m.leader,
            score_a=score_a, score_b=score_b, team_a=m.team_a, team_b=m.team_b,
            confidence=m.confidence, sources=outcome.sources, timed_out=not confirmed,
        )  # fmt: skip
        out.append(m.final)

    def _on_tick(self, tick: TimerTick) -> list[Event]:
        out: list[Event] = []
        for match_id in sorted(self._matches):
            self._maybe_final(self._matches[match_id], tick, out, timeout=True)
        return out

    # -- views and outputs -----------------------------------------------------------------

    def _game_view(self, m: _Match, n: int) -> GameView:
        o = self._game_outcome(m, n)
        return GameView(n, m.games[n], o.winner, o.confidence, o.contradicted)

    def _score(self, m: _Match) -> tuple[int, int]:
        winners = [self._game_outcome(m, n).winner for n in m.games]
        return winners.count(m.team_a), winners.count(m.team_b)

    def _final_score(self, m: _Match, winner: str) -> tuple[int, int]:
        games = self._score(m)
        won = games[0] if winner == m.team_a else games[1]
        if m.best_of and won >= m.best_of // 2 + 1:
            return games  # the map results decide the series: they are the score
        votes = m.votes.get(None, {})
        reported = [s for s, v in votes.items() if v.winner == winner and s in m.scores]
        if reported:
            return m.scores[max(reported, key=lambda s: (self.params.weight(s), s))]
        return games

    def _delta(self, m: _Match, e: Event, change: str, game: int | None = None) -> TruthDelta:
        score_a, score_b = self._score(m)
        leader = m.team_a if score_a > score_b else m.team_b if score_b > score_a else None
        g = self._game_outcome(m, game) if game is not None else _Outcome()
        return TruthDelta(
            ts_event=e.ts_event, ts_init=e.ts_init, match_id=m.match_id, state=m.state,
            change=change, score_a=score_a, score_b=score_b, team_a=m.team_a, team_b=m.team_b,
            confidence=m.confidence, game_number=game, game_winner=g.winner,
            game_confidence=g.confidence, leader=leader, game_sources=g.sources,
        )  # fmt: skip

    @staticmethod
    def _alert(e: MatchEvent, reason: str, *, blocked: bool) -> TruthAlert:
        return TruthAlert(
            ts_event=e.ts_event,
            ts_init=e.ts_init,
            match_id=e.match_id,
            reason=reason,
            blocked=blocked,
        )
