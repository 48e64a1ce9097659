"""Provider state snapshots, and the one differ that turns them into ``MatchEvent``s.

Every provider is parsed into the same small picture of a series (:class:`MatchSnap`: match
phase, each game's phase, winner, kills and objective counts) with teams already resolved
to sides ``a``/``b``. :class:`MatchTracker` keeps the previous picture per match and emits a
normalized event for each change, so that:

* a REST poll that returns the same state twice emits nothing (duplicates die here);
* a game seen for the first time already finished yields only ``GAME_ENDED``;
* a provider that changes its mind about a winner yields a second ``GAME_ENDED`` /
  ``MATCH_ENDED`` with ``detail["correction"] = True`` and the previous winner;
* ``seq`` is strictly increasing per (source, match), for ordering and dedupe downstream;
  the provider's own sequence or update time travels in ``detail["provider_seq"]``.

Pure: no I/O, no clock; timestamps are passed in.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from polyloly.adapters.esports.identity import MatchRef
from polyloly.domain.events import MatchEvent, MatchEventKind

__all__ = ["GamePhase", "GameSnap", "MatchPhase", "MatchSnap", "MatchTracker", "wins_needed"]


class MatchPhase(StrEnum):
    """Phase of a series as a provider reports it."""

    NOT_STARTED = "not_started"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELED = "canceled"


class GamePhase(StrEnum):
    """Phase of one game (map)."""

    NOT_STARTED = "not_started"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"


_LIVE = (GamePhase.RUNNING, GamePhase.PAUSED)


class GameSnap(msgspec.Struct, frozen=True, kw_only=True):
    """One game as a provider reports it; ``winner`` is a side (``"a"``/``"b"``)."""

    number: int
    phase: GamePhase
    winner: str | None = None
    kills_a: int | None = None
    kills_b: int | None = None
    objectives: tuple[tuple[str, str, int], ...] = ()  # (side, kind, count so far)


class MatchSnap(msgspec.Struct, frozen=True, kw_only=True):
    """A series as a provider reports it; ``winner`` is a side."""

    phase: MatchPhase
    games: tuple[GameSnap, ...] = ()
    winner: str | None = None
    score_a: int | None = None
    score_b: int | None = None

    def game(self, number: int) -> GameSnap | None:
        """Return game ``number`` if present."""
        for g in self.games:
            if g.number == number:
                return g
        return None

    def live(self) -> bool:
        """Whether a game is running and not paused (when fresh data must keep coming)."""
        return self.phase is MatchPhase.RUNNING and any(
            g.phase is GamePhase.RUNNING for g in self.games
        )


def wins_needed(best_of: int | None) -> int | None:
    """Games a team must win to take a best-of-``n`` series (``None`` if unknown)."""
    if best_of is None or best_of < 1:
        return None
    return best_of // 2 + 1


def _game_score(games: tuple[GameSnap, ...], upto: int) -> tuple[int, int]:
    a = sum(1 for g in games if g.number <= upto and g.winner == "a")
    b = sum(1 for g in games if g.number <= upto and g.winner == "b")
    return a, b


class MatchTracker:
    """Keeps one provider's last snapshot of one match and emits the differences.

    Parameters
    ----------
    ref
        The resolved match (canonical id and teams).
    extra_detail
        Added to every event's ``detail`` (e.g. ``{"confirm_only": True}``).
    """

    def __init__(self, ref: MatchRef, extra_detail: dict[str, Any] | None = None) -> None:
        self.ref = ref
        self.snap: MatchSnap | None = None
        self.seq = 0
        self._extra = dict(extra_detail or {})
        self._out: list[MatchEvent] = []
        self._ts = (0, 0)
        self._provider_seq: int | None = None

    @property
    def live(self) -> bool:
        """Whether the last snapshot has a game in play."""
        return self.snap is not None and self.snap.live()

    @property
    def finished(self) -> bool:
        """Whether the last snapshot says the series is over (or canceled)."""
        return self.snap is not None and self.snap.phase in (
            MatchPhase.FINISHED,
            MatchPhase.CANCELED,
        )

    def update(
        self, snap: MatchSnap, ts_event: int, ts_init: int, provider_seq: int | None = None
    ) -> list[MatchEvent]:
        """Replace the snapshot; return the events describing what changed, in order."""
        prev = self.snap
        self._out = []
        self._ts = (ts_event, ts_init)
        self._provider_seq = provider_seq
        prev_phase = prev.phase if prev is not None else None
        if prev is None and snap.phase is MatchPhase.NOT_STARTED:
            self._emit(MatchEventKind.MATCH_SCHEDULED)
        if prev_phase in (None, MatchPhase.NOT_STARTED) and snap.phase in (
            MatchPhase.RUNNING,
            MatchPhase.FINISHED,
        ):
            self._emit(MatchEventKind.MATCH_STARTED)
        for game in sorted(snap.games, key=lambda g: g.number):
            self._diff_game(prev.game(game.number) if prev else None, game, snap)
        self._diff_match_end(prev, snap)
        if snap.phase is MatchPhase.CANCELED and prev_phase is not MatchPhase.CANCELED:
            self._emit(MatchEventKind.MATCH_CANCELED)
        self.snap = snap
        return self._out

    def note(
        self,
        kind: MatchEventKind,
        *,
        game_number: int | None,
        detail: dict[str, Any],
        ts_event: int,
        ts_init: int,
    ) -> MatchEvent:
        """Build one event that is not a snapshot change (a pushed kill or objective)."""
        self._out = []
        self._ts = (ts_event, ts_init)
        self._provider_seq = None
        self._emit(kind, game_number=game_number, detail=detail)
        return self._out[0]

    # -- internals ------------------------------------------------------------------------------

    def _diff_game(self, pg: GameSnap | None, g: GameSnap, snap: MatchSnap) -> None:
        prev_phase = pg.phase if pg is not None else GamePhase.NOT_STARTED
        if g.phase in _LIVE and prev_phase is GamePhase.NOT_STARTED:
            self._emit(MatchEventKind.GAME_STARTED, game_number=g.number)
        self._diff_counts(pg, g)
        if g.phase is GamePhase.PAUSED and prev_phase is not GamePhase.PAUSED:
            self._emit(MatchEventKind.PAUSED, game_number=g.number)
        elif g.phase is GamePhase.RUNNING and prev_phase is GamePhase.PAUSED:
            self._emit(MatchEventKind.RESUMED, game_number=g.number)
        if g.phase is not GamePhase.FINISHED or g.winner is None:
            return
        before = pg.winner if pg is not None and pg.phase is GamePhase.FINISHED else None
        if before == g.winner:
            return
        score_a, score_b = _game_score(snap.games, g.number)
        detail: dict[str, Any] = {}
        if before is not None:
            detail = {"correction": True, "previous_winner": self.ref.team(before)}
        self._emit(
            MatchEventKind.GAME_ENDED,
            game_number=g.number,
            winner=self.ref.team(g.winner),
            score_a=score_a,
            score_b=score_b,
            detail=detail,
        )

    def _diff_counts(self, pg: GameSnap | None, g: GameSnap) -> None:
        for side, now, before in (
            ("a", g.kills_a, pg.kills_a if pg else None),
            ("b", g.kills_b, pg.kills_b if pg else None),
        ):
            if now is not None and now > (before or 0):
                self._emit(
                    MatchEventKind.KILL,
                    game_number=g.number,
                    detail={
                        "team": self.ref.team(side),
                        "delta": now - (before or 0),
                        "kills_a": g.kills_a,
                        "kills_b": g.kills_b,
                    },
                )
        old = {(s, k): c for s, k, c in (pg.objectives if pg else ())}
        for side, kind, count in g.objectives:
            delta = count - old.get((side, kind), 0)
            if delta > 0:
                self._emit(
                    MatchEventKind.OBJECTIVE,
                    game_number=g.number,
                    detail={
                        "team": self.ref.team(side),
                        "objective": kind,
                        "delta": delta,
                        "total": count,
                    },
                )

    def _diff_match_end(self, prev: MatchSnap | None, snap: MatchSnap) -> None:
        if snap.phase is not MatchPhase.FINISHED or snap.winner is None:
            return
        before = prev.winner if prev is not None and prev.phase is MatchPhase.FINISHED else None
        if before == snap.winner:
            return
        counted = _game_score(snap.games, max((g.number for g in snap.games), default=0))
        score_a = snap.score_a if snap.score_a is not None else counted[0]
        score_b = snap.score_b if snap.score_b is not None else counted[1]
        detail: dict[str, Any] = {}
        if before is not None:
            detail = {"correction": True, "previous_winner": self.ref.team(before)}
        self._emit(
            MatchEventKind.MATCH_ENDED,
            winner=self.ref.team(snap.winner),
            score_a=score_a,
            score_b=score_b,
            detail=detail,
        )

    def _emit(
        self,
        kind: MatchEventKind,
        *,
        game_number: int | None = None,
        winner: str | None = None,
        score_a: int | None = None,
        score_b: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.seq += 1
        full = {**self._extra, **(detail or {})}
        if self._provider_seq is not None:
            full["provider_seq"] = self._provider_seq
        ref = self.ref
        self._out.append(
            MatchEvent(
                ts_event=self._ts[0],
                ts_init=self._ts[1],
                source=ref.source,
                match_id=ref.match_id,
                provider_match_id=ref.provider_match_id,
                kind=kind,
                team_a=ref.team_a,
                team_b=ref.team_b,
                game=ref.game,
                best_of=ref.best_of,
                game_number=game_number,
                winner=winner,
                score_a=score_a,
                score_b=score_b,
                seq=self.seq,
                detail=full,
            )
        )
