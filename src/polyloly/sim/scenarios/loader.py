"""Load scenario YAML files (shipped in this package, or any path) into :class:`Scenario`.

Format (times in seconds from the scenario start; decimals allowed)::

    name: lol_bo3_pause
    game: lol                      # lol | dota2
    match_id: lol-lck-t1-geng      # polyloly's canonical id
    best_of: 3
    teams:
      a: {name: T1, aliases: [SK Telecom T1]}
      b: {name: Gen.G, aliases: [GEN]}
    market: {map_win_prob_a: "0.55", kill_swing: "0.01", lag_s: 20}
    public:                        # when the public learns the game (all optional)
      feed_delay_s: 3              # fast bots read the sports feed this late...
      feed_spread_s: 3             # ...each up to this much later still
      broadcast_delay_s: 30        # viewers watch the stream this late...
      broadcast_spread_s: 30       # ...each up to this much later still
    end_s: 3600                    # how long the feeds run
    timeline:                      # game numbers are implicit: each game_start opens the next
      - {at_s: 60, do: game_start}
      - {at_s: 300, do: kill, team: a, count: 2}
      - {at_s: 400, do: objective, team: b, objective: towers}
      - {at_s: 500, do: pause}
      - {at_s: 620, do: resume}
      - {at_s: 1500, do: game_end, winner: a}
    providers:
      pandascore:
        id: 1000450
        delay_s: 2
        frame_interval_s: 5
        team_names: {a: T1, b: Gen.G}
        team_ids: {a: 126061, b: 2882}
        outages: [{from_s: 900, to_s: 1200, mode: error}]    # error | frozen
        wrong_winner: [{game: 3, winner: b, until_s: 2400}]

Raises :class:`ScenarioError` naming the offending key.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from polyloly.domain.money import MoneyError, parse_micros
from polyloly.sim.scenarios.model import (
    Outage,
    ProviderSpec,
    PublicSpec,
    Scenario,
    Step,
    StepKind,
    TeamSpec,
    WrongReport,
)

__all__ = ["ScenarioError", "available_scenarios", "load_scenario", "parse_scenario"]

_SIDES = ("a", "b")
_STEP_KINDS = {k.value for k in StepKind} - {StepKind.CORRECTION.value}


class ScenarioError(ValueError):
    """A scenario file is invalid."""


def _ms(value: Any, where: str) -> int:
    try:
        ms = Decimal(str(value)) * 1000
    except InvalidOperation as exc:
        raise ScenarioError(f"{where}: not a number of seconds: {value!r}") from exc
    if ms < 0 or ms != ms.to_integral_value():
        raise ScenarioError(f"{where}: seconds must be >= 0 with at most 3 decimals")
    return int(ms)


def _side(value: Any, where: str) -> str:
    if value not in _SIDES:
        raise ScenarioError(f"{where}: team must be 'a' or 'b', got {value!r}")
    return str(value)


def _prob(value: Any, where: str) -> int:
    try:
        micros = parse_micros(str(value))
    except MoneyError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc
    if not 0 < micros < 1_000_000:
        raise ScenarioError(f"{where}: must be strictly between 0 and 1")
    return micros


def _steps(raw: list[dict[str, Any]]) -> tuple[Step, ...]:
    steps: list[Step] = []
    game = 0
    last = -1
    for i, item in enumerate(raw):
        where = f"timeline[{i}]"
        kind = item.get("do")
        if kind not in _STEP_KINDS:
            raise ScenarioError(f"{where}.do: unknown step {kind!r}")
        at = _ms(item.get("at_s"), f"{where}.at_s")
        if at < last:
            raise ScenarioError(f"{where}.at_s: the timeline must be in time order")
        last = at
        step_kind = StepKind(kind)
        if step_kind is StepKind.GAME_START:
            game += 1
        elif game == 0 and step_kind is not StepKind.CANCEL:
            raise ScenarioError(f"{where}: {kind} before the first game_start")
        team = None
        if step_kind in (StepKind.KILL, StepKind.OBJECTIVE):
            team = _side(item.get("team"), f"{where}.team")
        elif step_kind is StepKind.GAME_END:
            team = _side(item.get("winner"), f"{where}.winner")
        steps.append(
            Step(
                at_ms=at,
                kind=step_kind,
                game=game,
                team=team,
                count=int(item.get("count", 1)),
                objective=str(item.get("objective", "")),
            )
        )
    return tuple(steps)


def _pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in dict(raw or {}).items()))


def _provider(name: str, raw: dict[str, Any]) -> ProviderSpec:
    where = f"providers.{name}"
    if "id" not in raw:
        raise ScenarioError(f"{where}.id is required (the provider's own match id)")
    outages = tuple(
        Outage(
            from_ms=_ms(o.get("from_s"), f"{where}.outages[{i}].from_s"),
            to_ms=_ms(o.get("to_s"), f"{where}.outages[{i}].to_s"),
            mode=str(o.get("mode", "error")),
        )
        for i, o in enumerate(raw.get("outages") or [])
    )
    for i, o in enumerate(outages):
        if o.mode not in ("error", "frozen") or o.to_ms <= o.from_ms:
            raise ScenarioError(f"{where}.outages[{i}]: need from_s < to_s, mode error|frozen")
    wrong = tuple(
        WrongReport(
            game=int(w["game"]),
            winner=_side(w.get("winner"), f"{where}.wrong_winner[{i}].winner"),
            until_ms=_ms(w.get("until_s"), f"{where}.wrong_winner[{i}].until_s"),
        )
        for i, w in enumerate(raw.get("wrong_winner") or [])
    )
    return ProviderSpec(
        name=name,
        match_id=str(raw["id"]),
        delay_ms=_ms(raw.get("delay_s", 0), f"{where}.delay_s"),
        outages=outages,
        wrong=wrong,
        frame_interval_ms=_ms(raw.get("frame_interval_s", 5), f"{where}.frame_interval_s"),
        ingest_delay_ms=_ms(raw.get("ingest_delay_s", 60), f"{where}.ingest_delay_s"),
        team_names=_pairs(raw.get("team_names")),
        team_ids=_pairs(raw.get("team_ids")),
    )


def _public(raw: Any) -> PublicSpec:
    spec = dict(raw or {})
    known = {"feed_delay_s", "feed_spread_s", "broadcast_delay_s", "broadcast_spread_s"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ScenarioError(f"public.{unknown[0]}: unknown key")
    default = PublicSpec()
    return PublicSpec(
        **{
            key[:-2] + "_ms": _ms(spec[key], f"public.{key}")
            if key in spec
            else getattr(default, key[:-2] + "_ms")
            for key in sorted(known)
        }
    )


def parse_scenario(raw: dict[str, Any]) -> Scenario:
    """Build a :class:`Scenario` from a parsed YAML mapping."""
    for key in ("name", "game", "match_id", "best_of", "teams", "timeline"):
        if key not in raw:
            raise ScenarioError(f"scenario is missing {key!r}")
    if raw["game"] not in ("lol", "dota2"):
        raise ScenarioError("game must be lol or dota2")
    teams = raw["teams"]
    team_specs = {
        side: TeamSpec(
            name=str(teams[side]["name"]),
            aliases=tuple(str(a) for a in teams[side].get("aliases") or ()),
        )
        for side in _SIDES
    }
    market = dict(raw.get("market") or {})
    steps = _steps(list(raw["timeline"]))
    providers = {
        str(name): _provider(str(name), dict(spec or {}))
        for name, spec in dict(raw.get("providers") or {}).items()
    }
    last_step = max((s.at_ms for s in steps), default=0)
    return Scenario(
        name=str(raw["name"]),
        description=str(raw.get("description", "")).strip(),
        game=str(raw["game"]),
        match_id=str(raw["match_id"]),
        best_of=int(raw["best_of"]),
        team_a=team_specs["a"],
        team_b=team_specs["b"],
        steps=steps,
        providers=providers,
        scheduled_ms=_ms(raw.get("scheduled_at_s", 0), "scheduled_at_s"),
        map_win_prob_a=_prob(market.get("map_win_prob_a", "0.5"), "market.map_win_prob_a"),
        kill_swing=parse_micros(str(market.get("kill_swing", "0.01"))),
        market_lag_ms=_ms(market.get("lag_s", 0), "market.lag_s"),
        public=_public(raw.get("public")),
        end_ms=_ms(raw.get("end_s", last_step / 1000 + 600), "end_s"),
    )


def available_scenarios() -> list[str]:
    """Names of the scenarios shipped with polyloly."""
    files = resources.files("polyloly.sim.scenarios")
    return sorted(p.name.removesuffix(".yaml") for p in files.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a shipped scenario by name, or any scenario file by path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        resource = resources.files("polyloly.sim.scenarios") / f"{name_or_path}.yaml"
        if not resource.is_file():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}; shipped: {', '.join(available_scenarios())}"
            )
        text = resource.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise ScenarioError(f"{name_or_path}: not a YAML mapping")
    return parse_scenario(raw)
