"""The pre-signed order pool's counters, exported at scrape time."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

from polyloly.bot.metrics import METRIC_NAMES, Metrics
from polyloly.domain.events import Event, Side
from polyloly.domain.intents import OrderType, PlaceOrderIntent
from polyloly.domain.money import SCALE
from polyloly.execution.ports import OrderSpec
from polyloly.execution.presign import PresignDiscarded, PresignPool, PresignReady
from polyloly.execution.state import ExecutionState
from polyloly.runtime.clock import NS_PER_MS, NS_PER_S, VirtualClock
from polyloly.runtime.kernel import Kernel
from polyloly.testing.fakes import FakeSigner

START = 1_800_000_000 * NS_PER_S
PRESIGN_NAMES = {name for name in METRIC_NAMES if name.startswith("polyloly_presign_")}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class NullSink:
    def append(self, event: Event) -> None:
        del event

    def flush(self) -> None:
        return None


def _samples(metrics: Metrics) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _presign_samples(metrics: Metrics) -> Samples:
    return {k: v for k, v in _samples(metrics).items() if k[0].startswith("polyloly_presign_")}


def _ready(kernel: Kernel, signer: FakeSigner, token: str, size: int) -> PresignReady:
    spec = OrderSpec(
        client_id=f"presign:{token}:{size}",
        market="0xm",
        token_id=token,
        side=Side.BUY,
        price=950_000,
        size=size,
        order_type=OrderType.FAK,
        salt=size,
        timestamp_ms=kernel.now_ns() // NS_PER_MS,
    )
    now = kernel.now_ns()
    return PresignReady(ts_event=now, ts_init=now, match_id="m1", order=signer.sign(spec))


def _intent(kernel: Kernel, n: int, token: str, size: int) -> PlaceOrderIntent:
    now = kernel.now_ns()
    return PlaceOrderIntent(
        ts_event=now,
        ts_init=now,
        intent_id=f"temporal_arb:0xm:{token}:{n}",
        strategy="temporal_arb",
        market="0xm",
        token_id=token,
        side=Side.BUY,
        price=950_000,
        size=size,
        order_type=OrderType.FAK,
        notional=size * 950_000 // SCALE,
    )


def test_the_pools_counters_are_exported() -> None:
    clock = VirtualClock(START)
    kernel = Kernel(clock, NullSink())
    pool = PresignPool(kernel, ExecutionState())
    pool.attach()
    metrics = Metrics(clock)
    metrics.watch_presign(pool.stats.as_dict)
    signer = FakeSigner()
    size = 52 * SCALE
    kernel.publish(_ready(kernel, signer, "ta", size))
    kernel.publish(_ready(kernel, signer, "ta", size + SCALE))  # a refresh of the same token
    assert pool.take(_intent(kernel, 1, "ta", size)) is None  # the ready one is size + 1
    assert pool.take(_intent(kernel, 2, "ta", size + SCALE)) is not None
    assert pool.take(_intent(kernel, 3, "tb", size)) is None  # nothing ready for tb
    stale = _ready(kernel, signer, "tb", size)
    kernel.publish(stale)
    now = clock.now_ns()
    kernel.publish(
        PresignDiscarded(
            ts_event=now, ts_init=now, order_hashes=(stale.order.order_hash,), reason="unwanted"
        )
    )
    pool.stats.signed += 3  # the presigner's own counters
    pool.stats.sign_failures += 1
    assert _presign_samples(metrics) == {
        ("polyloly_presign_hits_total", ()): 1,
        ("polyloly_presign_misses_total", (("reason", "mismatch"),)): 1,
        ("polyloly_presign_misses_total", (("reason", "none_ready"),)): 1,
        ("polyloly_presign_refreshes_total", ()): 1,
        ("polyloly_presign_discarded_total", ()): 1,
        ("polyloly_presign_signed_total", ()): 3,
        ("polyloly_presign_sign_failures_total", ()): 1,
    }
    # read at each scrape: the next one sees the newer values
    pool.stats.signed += 1
    assert _presign_samples(metrics)[("polyloly_presign_signed_total", ())] == 4


def test_without_a_pool_the_families_exist_without_samples() -> None:
    metrics = Metrics(VirtualClock(START))
    assert _presign_samples(metrics) == {}
    names = set()
    for family in metrics.registry.collect():
        if family.name.startswith("polyloly_presign_"):
            assert family.type == "counter"
            names.add(f"{family.name}_total")
    assert names == PRESIGN_NAMES
    assert len(PRESIGN_NAMES) == 6


def test_a_broken_presign_source_does_not_break_the_scrape() -> None:
    metrics = Metrics(VirtualClock(START))

    def broken() -> Mapping[str, int]:
        raise RuntimeError("pool gone")

    metrics.watch_presign(broken)
    metrics.watch_queue("good", lambda: 4)
    samples = _samples(metrics)
    assert samples[("polyloly_queue_depth", (("queue", "good"),))] == 4
    assert not any(name.startswith("polyloly_presign_") for name, _ in samples)


def test_an_empty_pool_exports_zeros() -> None:
    metrics = Metrics(VirtualClock(START))
    metrics.watch_presign(dict)
    samples = _presign_samples(metrics)
    assert samples[("polyloly_presign_hits_total", ())] == 0
    assert len(samples) == 5  # no miss reason yet
