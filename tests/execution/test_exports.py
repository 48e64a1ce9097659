"""The execution layer's public surface: every ``__all__`` name exists.

Which layers execution may import is checked by import-linter (``make lint``).
"""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "polyloly.execution.engine",
    "polyloly.execution.events",
    "polyloly.testing.fakes",
    "polyloly.execution.lifecycle",
    "polyloly.execution.merge",
    "polyloly.execution.order_manager",
    "polyloly.execution.paper",
    "polyloly.execution.pnl",
    "polyloly.execution.ports",
    "polyloly.execution.positions",
    "polyloly.execution.reconciliation",
    "polyloly.execution.retry",
    "polyloly.execution.risk_gate",
    "polyloly.execution.state",
    "polyloly.runtime.tasks",
    "polyloly.storage.db",
    "polyloly.storage.projection",
    "polyloly.storage.schema",
    "polyloly.adapters.polymarket.execution",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(exported) == sorted(set(exported))
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr}"
