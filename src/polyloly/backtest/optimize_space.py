"""``polyloly optimize``: the search space, the objective and the walk-forward split.

The pure half of the parameter search (no optuna at import, no I/O): what a space file
declares, how a trial's values become exact settings values, how replays' PnL curves
combine into one score, and which logs train and which are held out. The search itself
(optuna, worker processes, replays) is :mod:`polyloly.bot.optimize`.

**The space file** (``config/optimize/space.yaml`` by default) has three sections::

    objective:
      drawdown_penalty: 0.5          # λ in: score = PnL − λ × max drawdown
    fixed:                           # settings every trial runs with (and the overlay keeps)
      strategies.temporal_arb.enabled: true
    space:                           # one settings key per line: what is searched
      strategies.pair_arb.pair_cost_cap: {low: 0.95, high: 0.99, step: 0.005}
      risk.max_open_orders_per_market: {low: 1, high: 5}
      strategies.temporal_arb.order_type: {choices: [FAK, FOK]}

A parameter is an **int** (``low``/``high`` integers, optional integer ``step`` or
``log: true``), a **decimal** (``low``/``high`` with a decimal ``step``, or ``log: true``
without one: then rounded to micro-units) or a **choice** (``choices``: a list). Values
are exact: a decimal is ``low + k × step`` computed in :class:`~decimal.Decimal`, whatever
float the sampler drew. Whether a key is a setting, and whether ``low``, ``high`` and every
choice are valid values of it, is checked against the settings by the caller (it needs
them); here the file's own shape is checked, every problem one line naming the key.

**The objective**: over a set of replays taken in order, PnL is the sum of each replay's
PnL (final equity − starting collateral, integer micro-units), and the drawdown is the
largest fall from a peak of the PnL curve the replays make end to end (each one starting
where the one before ended). ``score = PnL − λ × max drawdown``, in pUSD; only the score
handed to optuna is a float.

**Walk-forward**: units (logs, in time order; scenario runs, in seed order) are split so
the last ``holdout`` share of each kind is held out: the search never sees them; its best
trials are scored on them afterwards.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, TypeVar

from polyloly.runtime.errors import ConfigError

__all__ = [
    "DEFAULT_PENALTY",
    "SEARCHABLE",
    "Param",
    "SearchSpace",
    "Total",
    "UnitScore",
    "combine",
    "objective_value",
    "parse_space",
    "walk_forward",
]

DEFAULT_PENALTY: Final = Decimal("0.5")
SEARCHABLE: Final = ("strategies.", "risk.")
"""The settings a replay re-decides with: the strategies' and the risk gate's."""

_SECTIONS: Final = ("objective", "fixed", "space")
_SPEC_KEYS: Final = ("low", "high", "step", "log", "choices")
_MICRO: Final = Decimal("0.000001")

Value = bool | int | str | Decimal
Kind = Literal["int", "decimal", "choice"]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Param:
    """One searched settings key and its range (see the module docstring)."""

    key: str
    kind: Kind
    low: int | Decimal = 0
    high: int | Decimal = 0
    step: int | Decimal | None = None
    log: bool = False
    choices: tuple[Value, ...] = ()

    def extremes(self) -> tuple[Value, ...]:
        """The values to check against the settings: ``low`` and ``high``, or every choice."""
        return self.choices if self.kind == "choice" else (self.low, self.high)

    def labels(self) -> list[bool | int | str]:
        """The choices as the sampler stores them (it takes no Decimal: decimals as text)."""
        return [_choice_label(c) for c in self.choices]

    def value(self, drawn: Any) -> Value:
        """The exact settings value for what the sampler drew (``drawn``)."""
        if self.kind == "choice":
            return self.choices[self.labels().index(drawn)]
        if self.kind == "int":
            return int(drawn)
        low = Decimal(self.low)
        if self.step is None:  # log scale, no grid: micro-units
            value = Decimal(repr(float(drawn))).quantize(_MICRO)
            return min(max(value, low), Decimal(self.high))
        step = Decimal(self.step)
        k = round((Decimal(repr(float(drawn))) - low) / step)
        return low + step * min(max(k, 0), int((Decimal(self.high) - low) / step))


def _choice_label(value: Value) -> bool | int | str:
    """How optuna stores a choice (it takes no Decimal): decimals as their text."""
    return str(value) if isinstance(value, Decimal) else value


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """A parsed space file: what is searched, what is fixed, and the objective's λ."""

    params: tuple[Param, ...]
    fixed: Mapping[str, Value] = field(default_factory=dict)
    penalty: Decimal = DEFAULT_PENALTY
    source: str = "<space>"

    def digest(self) -> str:
        """A short fingerprint (a study remembers it; a worker with another space refuses)."""
        text = json.dumps(
            {
                "params": [
                    [p.key, p.kind, str(p.low), str(p.high), str(p.step), p.log]
                    + [str(c) for c in p.choices]
                    for p in self.params
                ],
                "fixed": {k: str(v) for k, v in sorted(self.fixed.items())},
                "penalty": str(self.penalty),
            },
            sort_keys=True,
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------


def parse_space(data: Any, source: str = "<space>") -> SearchSpace:
    """Parse a space file's content (YAML read with exact decimals).

    Raises
    ------
    ConfigError
        One line naming the key (``space.risk.x: …``) and what is wrong with it.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: the top level must be a mapping of sections")
    for name in data:
        if name not in _SECTIONS:
            raise ConfigError(
                f"{source}: unknown section {name!r} (allowed: {', '.join(_SECTIONS)})"
            )
    raw_space = data.get("space") or {}
    if not isinstance(raw_space, Mapping) or not raw_space:
        raise ConfigError(f"space: no parameters to search in {source}")
    params = tuple(_param(str(key), spec) for key, spec in raw_space.items())
    fixed_raw = data.get("fixed") or {}
    if not isinstance(fixed_raw, Mapping):
        raise ConfigError("fixed: must be a mapping of settings keys to values")
    fixed: dict[str, Value] = {}
    for key, value in fixed_raw.items():
        name = str(key)
        _check_key("fixed", name)
        if name in raw_space:
            raise ConfigError(f"fixed.{name}: also searched in space (keep one)")
        if not isinstance(value, bool | int | str | Decimal):
            raise ConfigError(f"fixed.{name}: must be a single value (a number, text or bool)")
        fixed[name] = value
    return SearchSpace(params, fixed, _penalty(data.get("objective")), source)


def _penalty(section: Any) -> Decimal:
    if section is None:
        return DEFAULT_PENALTY
    if not isinstance(section, Mapping):
        raise ConfigError("objective: must be a mapping (drawdown_penalty)")
    for name in section:
        if name != "drawdown_penalty":
            raise ConfigError(f"objective.{name}: unknown key (allowed: drawdown_penalty)")
    raw = section.get("drawdown_penalty", DEFAULT_PENALTY)
    number = _number(raw, "objective.drawdown_penalty")
    if number < 0:
        raise ConfigError(f"objective.drawdown_penalty: must be 0 or more (got {raw})")
    return Decimal(number)


def _check_key(section: str, key: str) -> None:
    parts = key.split(".")
    if not all(parts) or not key.startswith(SEARCHABLE):
        raise ConfigError(
            f"{section}.{key}: only strategies.* and risk.* settings can be searched or fixed "
            "(they are what a replay decides with)"
        )


def _number(raw: Any, where: str) -> int | Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | Decimal | str):
        raise ConfigError(f"{where}: must be a number (got {raw!r})")
    if isinstance(raw, str):
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ConfigError(f"{where}: must be a number (got {raw!r})") from None
        return value
    if isinstance(raw, Decimal):
        if not raw.is_finite():
            raise ConfigError(f"{where}: must be a finite number (got {raw})")
        return raw
    return int(raw)


def _param(key: str, spec: Any) -> Param:
    where = f"space.{key}"
    _check_key("space", key)
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where}: must be a mapping ({{low, high[, step | log]}} or {{choices}})"
        )
    for name in spec:
        if name not in _SPEC_KEYS:
            raise ConfigError(f"{where}: unknown field {name!r} (allowed: {', '.join(_SPEC_KEYS)})")
    if "choices" in spec:
        return _choice_param(key, spec)
    return _range_param(key, spec)


def _range_param(key: str, spec: Mapping[str, Any]) -> Param:
    where = f"space.{key}"
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"{where}: needs low and high (or choices)")
    low = _number(spec["low"], f"{where}.low")
    high = _number(spec["high"], f"{where}.high")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.log: must be true or false")
    step = None if spec.get("step") is None else _number(spec["step"], f"{where}.step")
    _check_range(where, low, high, step, log)
    if all(isinstance(v, int) for v in (low, high, step) if v is not None):
        return Param(key, "int", int(low), int(high), None if step is None else int(step), log)
    if step is None and not log:
        raise ConfigError(f"{where}: a decimal range needs a step (or log: true)")
    return Param(key, "decimal", Decimal(low), Decimal(high), _dec(step), log)


def _check_range(
    where: str, low: int | Decimal, high: int | Decimal, step: int | Decimal | None, log: bool
) -> None:
    if not low < high:
        raise ConfigError(f"{where}: low ({low}) must be below high ({high})")
    if log and step is not None:
        raise ConfigError(f"{where}: log and step cannot be combined")
    if log and low <= 0:
        raise ConfigError(f"{where}: a log scale needs low above 0 (got {low})")
    if step is not None:
        if step <= 0:
            raise ConfigError(f"{where}.step: must be above 0 (got {step})")
        if (Decimal(high) - Decimal(low)) % Decimal(step) != 0:
            raise ConfigError(
                f"{where}: high − low ({high} − {low}) is not a multiple of step {step}"
            )


def _dec(value: int | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _choice_param(key: str, spec: Mapping[str, Any]) -> Param:
    where = f"space.{key}"
    extra = [name for name in spec if name != "choices"]
    if extra:
        raise ConfigError(f"{where}: choices cannot be combined with {', '.join(extra)}")
    choices = spec["choices"]
    if not isinstance(choices, list) or not choices:
        raise ConfigError(f"{where}.choices: must be a non-empty list")
    for choice in choices:
        if not isinstance(choice, bool | int | str | Decimal):
            raise ConfigError(f"{where}.choices: {choice!r} is not a number, text or bool")
    labels = [_choice_label(c) for c in choices]
    if len(set(map(repr, labels))) != len(labels):
        raise ConfigError(f"{where}.choices: repeats a value")
    return Param(key, "choice", choices=tuple(choices))


# ---------------------------------------------------------------------------------------------
# The objective
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitScore:
    """One replay's outcome (plain values: it crosses a process boundary).

    ``pnl`` is final equity − starting collateral; ``peak`` / ``trough`` the highest and
    lowest PnL the curve reached (0 included: the start) and ``max_drawdown`` its largest
    fall from a peak, all in micro-units.
    """

    name: str
    pnl: int
    peak: int
    trough: int
    max_drawdown: int
    fills: int = 0
    orders: int = 0
    inputs: int = 0

    @classmethod
    def of_curve(cls, name: str, curve: Iterable[int], **counts: int) -> UnitScore:
        """Summarise a PnL curve (its first point is the start, 0 is prepended)."""
        peak = trough = pnl = worst = 0
        for pnl in curve:
            peak = max(peak, pnl)
            trough = min(trough, pnl)
            worst = max(worst, peak - pnl)
        return cls(name, pnl, peak, trough, worst, **counts)


@dataclass(frozen=True, slots=True)
class Total:
    """Units taken end to end: PnL, drawdown of the joined curve, activity."""

    pnl: int
    max_drawdown: int
    fills: int
    orders: int
    units: int

    def score(self, penalty: Decimal) -> Decimal:
        """``PnL − λ × max drawdown`` in pUSD (exact)."""
        return (Decimal(self.pnl) - penalty * Decimal(self.max_drawdown)) / Decimal(1_000_000)


def combine(units: Sequence[UnitScore]) -> Total:
    """Join the units' PnL curves end to end (each starts where the last ended).

    The joined curve's drawdown from the units' summaries: within unit ``i``, offset by
    ``O`` (the PnL before it) under the running peak ``P``, the largest fall is
    ``max(P − O − trough_i, max_drawdown_i)``; then ``P = max(P, O + peak_i)`` and
    ``O += pnl_i``.
    """
    offset = peak = worst = 0
    for unit in units:
        worst = max(worst, peak - offset - unit.trough, unit.max_drawdown)
        peak = max(peak, offset + unit.peak)
        offset += unit.pnl
    return Total(
        pnl=offset,
        max_drawdown=worst,
        fills=sum(u.fills for u in units),
        orders=sum(u.orders for u in units),
        units=len(units),
    )


def objective_value(total: Total, penalty: Decimal) -> float:
    """The score handed to optuna (maximised): :meth:`Total.score` as a float."""
    return float(total.score(penalty))


# ---------------------------------------------------------------------------------------------
# Walk-forward split
# ---------------------------------------------------------------------------------------------


def walk_forward(units: Sequence[_T], holdout: float) -> tuple[list[_T], list[_T]]:
    """Split ``units`` (already in time order) into (train, held out).

    The last ``holdout`` share is held out, rounded, at least one unit when ``holdout`` is
    above 0 and at least one unit always left to train on. No units: two empty lists.

    Raises
    ------
    ConfigError
        ``holdout`` is not in [0, 1), or it leaves nothing to train on.
    """
    if not 0 <= holdout < 1 or math.isnan(holdout):
        raise ConfigError(f"--holdout: must be at least 0 and below 1 (got {holdout})")
    n = len(units)
    if n == 0 or holdout == 0:
        return list(units), []
    held = max(1, round(n * holdout))
    if held >= n:
        raise ConfigError(
            f"--holdout {holdout}: {n} unit{'s' if n != 1 else ''} leave nothing to train on "
            "(give more logs or scenarios, or --holdout 0)"
        )
    return list(units[: n - held]), list(units[n - held :])
