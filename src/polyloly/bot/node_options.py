"""What the command line decides for a trading node: its mode and options.

:class:`NodeOptions` sits on top of the settings (``None`` means "the setting"); the
translators of the Polymarket user channel's events (:data:`PM_TRANSLATORS`) are shared
by the node, its replays and its report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final

from polyloly.adapters.esports import EsportsSettings as FeedSettings
from polyloly.adapters.esports import MatchBindingSettings
from polyloly.adapters.polymarket import events as pm
from polyloly.adapters.polymarket.execution import translate
from polyloly.adapters.polymarket.factory import PolymarketAdapter
from polyloly.domain.events import Event
from polyloly.domain.money import SCALE
from polyloly.execution.engine import Translate
from polyloly.execution.ports import Merger

__all__ = ["PM_TRANSLATORS", "NodeMode", "NodeOptions"]

PM_TRANSLATORS: Final[Mapping[type[Event], Translate]] = {
    pm.OrderUpdate: translate,
    pm.TradeUpdate: translate,
}
"""The Polymarket user channel's events as execution events (ledger, metrics, report)."""


class NodeMode(StrEnum):
    """How the node trades."""

    LIVE = "live"
    PAPER = "paper"
    RECORD = "record"


@dataclass(frozen=True, slots=True)
class NodeOptions:
    """What the command line decides on top of the settings.

    ``event_log_dir`` defaults to ``storage.event_log_dir`` and ``tick_interval_s`` to
    ``bot.tick_interval_s``; ``metrics_port`` /
    ``control_port`` override the settings (0 = a free port); ``esports`` replaces the
    feeds derived from the settings (the demo passes its local feeds); ``merger`` builds
    the merge port from the adapter (``None``: merges are off in live mode).
    """

    mode: NodeMode = NodeMode.PAPER
    event_log_dir: Path | None = None
    tick_interval_s: float | None = None
    discover: bool = True
    games: tuple[str, ...] = ("lol", "dota2")
    paper_collateral: int = 1_000 * SCALE
    metrics_port: int | None = None
    control_port: int | None = None
    control_token: str | None = None
    projection: bool = True
    reconcile_timeout_s: float = 30.0
    cancel_on_stop: bool = True
    esports: FeedSettings | None = None
    merger: Callable[[PolymarketAdapter, str], Merger] | None = None
    bindings: tuple[MatchBindingSettings, ...] = field(default=())
