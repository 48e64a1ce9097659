"""The simulated world of a soak: the demo's simulators, hosted by the harness process.

:class:`SoakWorld` is the world ``polyloly demo`` trades in (:class:`~polyloly.bot.demo.
DemoWorld`: the exchange simulator with its lagging makers and takers, the esports provider
feeds playing a LoL and a Dota 2 best-of-3, and the driver that marks markets live and
resolves them), on free loopback ports, plus what the harness needs around it:

* :meth:`bot_overrides` — the ``--set`` options that point a ``polyloly run`` process at it
  (the demo's settings: both strategies, the demo's limits);
* an observer on the exchange's user channel (:class:`OrderWatch`): it sees each of the
  bot's orders the moment the exchange records it, before the HTTP reply is written, and
  each of the bot's trades — to time a SIGKILL right after an order reached the venue, and
  to fail one of the bot's trades after it matched;
* :meth:`records` — the exchange's own records of the bot's account, for the audit;
* :meth:`secrets` — the API secret and passphrase the exchange issued to the bot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.soak.records import ExchangeFill, ExchangeOrder, ExchangeRecords
from polyloly.bot.demo import DEMO_KEYS, DemoOptions, DemoWorld
from polyloly.runtime.clock import Clock
from polyloly.sim.exchange import ExchangeSimulator
from polyloly.sim.exchange.feeds import FeedSink, MarketFrame, UserFrame

__all__ = ["OrderWatch", "SoakWorld", "watch_exchange"]

_FINAL_TRADE = frozenset({"CONFIRMED", "FAILED"})


@dataclass(slots=True)
class OrderWatch:
    """Sees the bot's orders and trades as the exchange publishes them (a tee on the hub).

    ``on_order`` is called with the order id the first time an order of the bot's appears,
    synchronously, inside the request that placed it (its reply not written yet);
    ``on_trade`` with the trade id and status of each trade the bot is in.
    """

    owners: Callable[[], set[str]]
    on_order: list[Callable[[str], None]] = field(default_factory=list)
    on_trade: list[Callable[[str, str], None]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    orders: int = 0

    def user(self, item: UserFrame) -> None:
        """Look at one user-channel frame."""
        if item.owner not in self.owners():
            return
        frame = item.frame
        if frame.get("event_type") == "order":
            order_id = str(frame.get("id", ""))
            if order_id and order_id not in self.seen:
                self.seen.add(order_id)
                self.orders += 1
                for callback in list(self.on_order):
                    callback(order_id)
        elif frame.get("event_type") == "trade":
            for callback in list(self.on_trade):
                callback(str(frame.get("id", "")), str(frame.get("status", "")))


class _Tee:
    """A :class:`FeedSink` that hands every frame to the hub, user frames also to a watch."""

    def __init__(self, sink: FeedSink, watch: OrderWatch) -> None:
        self._sink = sink
        self._watch = watch

    def market(self, item: MarketFrame) -> None:
        self._sink.market(item)

    def user(self, item: UserFrame) -> None:
        self._sink.user(item)
        self._watch.user(item)


def watch_exchange(sim: ExchangeSimulator, watch: OrderWatch) -> None:
    """Let ``watch`` see every user-channel frame the simulator publishes."""
    publisher = sim.venue.publisher
    publisher.sink = _Tee(publisher.sink, watch)


class SoakWorld:
    """The simulators and the truth driver, with the soak's observer (module docstring)."""

    def __init__(self, *, seed: int, scenario_s: float, warmup_s: float, clock: Clock) -> None:
        options = DemoOptions(scenario_s=scenario_s, warmup_s=warmup_s, seed=seed, view="none")
        self.demo = DemoWorld(options, clock)
        self.exchange = self.demo.exchange
        self.address = ""
        self.watch = OrderWatch(owners=self._owners)
        watch_exchange(self.exchange, self.watch)

    def _owners(self) -> set[str]:
        if not self.address:
            return set()
        return set(self.exchange.venue.keys.keys_of(self.address))

    async def start(self) -> None:
        """Serve both simulators and start the driver."""
        await self.demo.start()
        self.demo.run_driver()

    async def stop(self) -> None:
        """Stop the driver and both simulators."""
        await self.demo.stop()

    @property
    def done(self) -> bool:
        """Every market resolved or closed (or the scenarios' end passed)."""
        return self.demo.done or self.demo.clock.now_ns() >= self.demo.end_ns

    # -- the bot's configuration ------------------------------------------------------------

    def bot_overrides(self, data_dir: Path, control_port: int) -> dict[str, str]:
        """``--set`` options for ``polyloly run --env demo`` against this world."""
        ex, urls = self.exchange, self.demo.feeds.urls()
        sets = {
            "adapters.polymarket.host": ex.http_url,
            "adapters.polymarket.ws_market_url": ex.market_ws_url,
            "adapters.polymarket.ws_user_url": ex.user_ws_url,
            "adapters.polymarket.gamma_url": ex.gamma_url,
            "adapters.esports.opendota.base_url": urls["opendota"],
            "adapters.esports.pandascore.base_url": urls["pandascore"],
            "adapters.esports.pandascore.ws_url": urls["pandascore_ws"],
            "adapters.esports.grid.base_url": urls["grid"],
            "adapters.esports.grid.ws_url": urls["grid_ws"],
            "adapters.esports.liquipedia.base_url": urls["liquipedia"],
            "adapters.esports.lolesports.base_url": urls["lolesports"],
            "adapters.esports.lolesports.feed_url": urls["lolesports_feed"],
            "adapters.esports.polymarket_sports.ws_url": urls["polymarket_sports"],
            "bot.paper_trading": "false",
            "bot.offline": "true",
            "strategies.pair_arb.enabled": "true",
            "strategies.pair_arb.max_total_cost_usdc": "300",
            "strategies.temporal_arb.enabled": "true",
            "strategies.temporal_arb.max_exposure_usdc": "400",
            "storage.data_dir": str(data_dir),
            "storage.event_log_dir": str(data_dir / "events"),
            "storage.database_url": f"sqlite+aiosqlite:///{data_dir / 'polyloly.db'}",
            "metrics.enabled": "false",
            "control.port": str(control_port),
            "teams.aliases": json.dumps(self.demo.aliases()),
        }
        for name, key in DEMO_KEYS.items():  # placeholders the local feeds accept
            sets[f"adapters.esports.{name}.api_key"] = key
        sets["adapters.esports.opendota.daily_request_budget"] = "0"  # the local feed: no quota
        sets["adapters.esports.opendota.fast_poll_interval_ms"] = "250"
        for name in ("opendota", "pandascore", "grid", "liquipedia", "lolesports"):
            sets[f"adapters.esports.{name}.rate_limit_per_min"] = "100000"
            if name != "liquipedia":
                sets[f"adapters.esports.{name}.poll_interval_ms"] = "250"
        return sets

    # -- records ----------------------------------------------------------------------------

    def secrets(self) -> dict[str, str]:
        """The L2 secret and passphrase of every API key the bot's address holds."""
        out: dict[str, str] = {}
        keys = self.exchange.venue.keys
        for n, api_key in enumerate(sorted(self._owners())):
            creds = keys.get(api_key)
            if creds is not None:
                out[f"api secret {n + 1}"] = creds.secret
                out[f"api passphrase {n + 1}"] = creds.passphrase
        return out

    def trades_settled(self) -> bool:
        """Whether every trade the bot is in is final (CONFIRMED or FAILED)."""
        return all(t.status in _FINAL_TRADE for t in self._bot_trades())

    def _bot_trades(self) -> list[object]:
        me = self.address.lower()
        return [
            t
            for t in self.exchange.venue.trades.values()
            if t.maker_address.lower() == me
            or any(m.maker_address.lower() == me for m in t.maker_orders)
        ]

    def records(self) -> ExchangeRecords:
        """The exchange's records of the bot's account (orders, its fills, balances)."""
        venue, me = self.exchange.venue, self.address.lower()
        out = ExchangeRecords(balances=dict(self.exchange.balances(self.address)))
        for o in venue.orders.values():
            if o.maker_address.lower() == me:
                out.orders[o.id] = ExchangeOrder(
                    order_id=o.id,
                    token_id=o.asset_id,
                    side=o.side.value,
                    price=o.price,
                    size=o.original_size,
                    size_matched=o.size_matched,
                    status=o.status,
                    order_type=o.order_type.value,
                )
        for t in venue.trades.values():
            if t.maker_address.lower() == me:
                legs = len(t.fills) or 1  # each fill's cash and fee are rounded apart
                out.fills.append(
                    ExchangeFill(t.id, t.taker_order_id, t.asset_id, t.size, t.status, legs)
                )
            for m in t.maker_orders:
                if m.maker_address.lower() == me:
                    out.fills.append(
                        ExchangeFill(t.id, m.order_id, m.asset_id, m.matched_amount, t.status)
                    )
        return out
