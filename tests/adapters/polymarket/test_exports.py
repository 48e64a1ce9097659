"""The adapter's public surface: every exported name resolves; events register on import."""

from __future__ import annotations

import importlib

import polyloly.adapters.polymarket as pm
from polyloly.domain.events import event_types


def test_every_export_resolves() -> None:
    for name in pm.__all__:
        assert getattr(pm, name) is not None, name


def test_module_all_lists_are_importable() -> None:
    for module in (
        "config",
        "constants",
        "errors",
        "events",
        "factory",
        "gamma",
        "heartbeat",
        "heartbeat_chain",
        "http",
        "parsing",
        "signing",
        "ws_common",
        "ws_market",
        "ws_user",
        "schemas",
    ):
        mod = importlib.import_module(f"polyloly.adapters.polymarket.{module}")
        for name in mod.__all__:
            assert hasattr(mod, name), f"{module}.{name}"


def test_user_events_are_registered() -> None:
    tags = {cls.__struct_config__.tag for cls in event_types()}
    assert {"pm_order_update", "pm_trade_update", "pm_user_resync"} <= tags


def test_lazy_export_table_matches_all() -> None:
    assert set(pm.__all__) == set(pm._EXPORTS)
