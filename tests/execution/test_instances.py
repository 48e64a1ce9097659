"""Several instances on one account: tags, and what reconciliation adopts, reports and cancels."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyloly.domain.events import Side
from polyloly.domain.intents import OrderType
from polyloly.domain.money import SCALE
from polyloly.execution.events import CancelRequested, VenueSnapshot
from polyloly.execution.instances import (
    INSTANCE_ID_RE,
    Owner,
    instance_metadata,
    instance_of,
    owner_of,
    validate_instance_id,
)
from polyloly.execution.ports import (
    Balances,
    MakerLeg,
    TradeReport,
    TradeStatus,
    VenueOrder,
    VenueOrderStatus,
)
from polyloly.execution.state import ExecutionState

MARKET = "0xmarket"


@given(st.from_regex(INSTANCE_ID_RE, fullmatch=True))
def test_a_tag_names_its_instance_and_nothing_else(instance: str) -> None:
    tag = instance_metadata(instance)
    assert len(bytes.fromhex(tag[2:])) == 32
    assert instance_of(tag) == instance
    assert owner_of(tag, instance) is Owner.OWN
    assert owner_of(tag, instance + "x" if len(instance) < 23 else "other") is Owner.FOREIGN


@pytest.mark.parametrize("bad", ["", "UPPER", "-lead", "x" * 24, "sp ace", "é"])
def test_bad_instance_ids_are_refused_naming_the_rule(bad: str) -> None:
    with pytest.raises(ValueError, match="instance id"):
        validate_instance_id(bad)


def test_untagged_and_garbage_metadata_name_no_instance() -> None:
    assert instance_of("0x" + "00" * 32) is None
    assert instance_of("") is None
    assert instance_of("0xzz") is None
    assert owner_of("", "a") is Owner.FOREIGN


def _order(order_hash: str, metadata: str = "", **kw: Any) -> VenueOrder:
    fields: dict[str, Any] = {
        "order_hash": order_hash,
        "market": MARKET,
        "token_id": "111",
        "side": Side.BUY,
        "price": 400_000,
        "original_size": 10 * SCALE,
        "size_matched": 0,
        "status": VenueOrderStatus.LIVE,
        "order_type": OrderType.GTC,
        "metadata": metadata,
    }
    fields.update(kw)
    return VenueOrder(**fields)


def _snapshot(orders: list[VenueOrder], trades: list[TradeReport], tokens: dict[str, int]) -> Any:
    return VenueSnapshot(
        ts_event=1,
        ts_init=1,
        open_orders=tuple(orders),
        lookups=(),
        trades=tuple(trades),
        balances=Balances(collateral=1_000 * SCALE, tokens=tokens),
        trades_after_ns=0,
    )


def _trade(trade_id: str, taker: str, makers: tuple[str, ...] = ()) -> TradeReport:
    return TradeReport(
        trade_id=trade_id,
        market=MARKET,
        asset_id="111",
        side=Side.BUY,
        price=400_000,
        size=5 * SCALE,
        status=TradeStatus.MATCHED,
        taker_order_id=taker,
        maker_legs=tuple(
            MakerLeg(order_id=m, asset_id="111", price=400_000, matched_amount=5 * SCALE)
            for m in makers
        ),
    )


def test_reconciliation_adopts_only_its_own_tag_and_reports_the_others() -> None:
    state = ExecutionState("alpha")
    first = _snapshot([], [], {"111": 7 * SCALE})
    state.apply(first)  # baseline: another instance's tokens are not ours
    assert state.position("111").expected == 0
    own = _order("0xown", instance_metadata("alpha"))
    theirs = _order("0xtheirs", instance_metadata("beta"))
    untagged = _order("0xuntagged")
    fx = state.apply(_snapshot([own, theirs, untagged], [], {"111": 7 * SCALE}))
    assert set(state.orders) == {"0xown"}
    assert set(state.foreign_orders) == {"0xtheirs", "0xuntagged"}
    kinds = sorted((a.kind, a.subject) for a in fx.corrections)
    assert kinds == [
        ("adopt_order", "0xown"),
        ("foreign_order", "0xtheirs"),
        ("foreign_order", "0xuntagged"),
    ]
    assert not fx.mismatches  # balances are shared: never compared
    # seen again: still not adopted, reported once
    fx = state.apply(_snapshot([theirs], [], {}))
    assert "0xtheirs" not in state.orders
    assert not [a for a in fx.corrections if a.kind == "foreign_order"]


def test_a_trade_of_another_instance_is_reported_not_parked_or_counted() -> None:
    state = ExecutionState("alpha")
    state.apply(_snapshot([], [], {}))
    state.apply(_snapshot([_order("0xtheirs", instance_metadata("beta"))], [], {}))
    fx = state.apply(_snapshot([], [_trade("t1", "0xsynthetic", ("0xtheirs",))], {}))
    assert "t1" in state.foreign_trades
    assert not state.orphans
    assert not state.fills
    assert not [a for a in fx.anomalies if a.kind == "orphan_trade"]


def test_a_parked_trade_becomes_foreign_once_its_order_is_known_to_be_foreign() -> None:
    state = ExecutionState("alpha")
    state.apply(_snapshot([], [], {}))
    state.apply(_snapshot([], [], {}))
    state.apply_trade(_trade("t2", "0xlater"), 2, "ws")
    assert "t2" in state.orphans
    state.apply_venue_order(_order("0xlater", instance_metadata("beta")), 3, "reconcile")
    assert not state.orphans
    assert "t2" in state.foreign_trades


def test_alone_on_the_account_every_unknown_order_is_adopted_as_before() -> None:
    state = ExecutionState()
    state.apply(_snapshot([], [], {}))
    state.apply(_snapshot([_order("0xa", instance_metadata("beta")), _order("0xb")], [], {}))
    assert set(state.orders) == {"0xa", "0xb"}
    assert not state.foreign_orders


@pytest.mark.asyncio
async def test_the_kill_switch_of_an_instance_cancels_only_its_own_orders(
    make_harness: Any,
) -> None:
    from polyloly.execution.engine import ExecutionConfig

    h = await make_harness(config=ExecutionConfig(instance_id="alpha"))
    mine = await h.place()
    # another instance's order rests on the same account
    foreign = _order("0xtheirs", instance_metadata("beta"))
    h.state.apply_venue_order(foreign, h.now(), "reconcile")
    h.engine.gate.fire("manual_halt", "test")
    await h.settle()
    cancels = h.sink.of(CancelRequested)
    assert cancels
    assert all(not c.all_orders for c in cancels)  # by id, never the account-wide cancel-all
    assert all("0xtheirs" not in c.order_hashes for c in cancels)
    assert mine in cancels[-1].order_hashes
    assert h.venue.cancel_all_calls == 0


@pytest.mark.asyncio
async def test_cancel_all_instances_is_the_operators_account_wide_cancel(make_harness: Any) -> None:
    from polyloly.domain.events import OperatorCommand
    from polyloly.execution.engine import ExecutionConfig

    h = await make_harness(config=ExecutionConfig(instance_id="alpha"))
    await h.place()
    h.publish(OperatorCommand(ts_event=h.now(), ts_init=h.now(), command="cancel_all"))
    await h.settle()
    assert h.venue.cancel_all_calls == 0
    h.publish(OperatorCommand(ts_event=h.now(), ts_init=h.now(), command="cancel_all_instances"))
    await h.settle()
    assert h.venue.cancel_all_calls == 1
