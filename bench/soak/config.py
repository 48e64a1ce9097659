"""How big a soak is: the full run ``make soak`` does, and the short one CI runs."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["SoakConfig"]


@dataclass(frozen=True, slots=True)
class SoakConfig:
    """Sizes and timings of a soak (every seed runs the same plan shape).

    ``scenario_s`` is how long the scenarios' games take in real seconds (the demo's
    ``scenario_s``); faults and kills are spread over it. ``kills`` is ``(low, high)``: each
    seed draws its count in that range; a kill timed on an order waits up to
    ``order_kill_wait_s`` for one, and no kill comes sooner than ``min_uptime_s`` after the
    bot is up. ``hold_s`` is how long the harness, as the operator, leaves a halted bot
    alone before it resumes it (a halt the bot clears by itself is counted as such);
    ``stuck_s`` how long a feed may stay down after the last fault that could explain it
    before the operator restarts the bot and counts the feed as stuck (every injected
    fault's effect is over well within it). ``fuzz_frames`` 0 skips the fuzz run.
    """

    seeds: tuple[int, ...] = (1, 2, 3, 4, 5)
    scenario_s: float = 240.0
    warmup_s: float = 10.0
    faults: int = 100
    kills: tuple[int, int] = (7, 9)
    order_kill_wait_s: float = 30.0
    min_uptime_s: float = 5.0
    restart_delay_s: tuple[float, float] = (0.2, 1.5)
    start_attempts: int = 5
    ready_timeout_s: float = 45.0
    hold_s: float = 2.0
    stuck_s: float = 45.0
    hang_s: float = 12.0  # an injected HTTP timeout hangs this long (the bot gives up at 10 s)
    settle_s: float = 20.0
    fuzz_frames: int = 1_000_000
    fuzz_seed: int = 1
    fuzz_timeout_s: float = 1800.0

    @classmethod
    def short(cls, seed: int = 1) -> SoakConfig:
        """The CI run: one seed, ~60 s, a few faults and kills, a small fuzz run."""
        return cls(
            seeds=(seed,),
            scenario_s=30.0,
            warmup_s=6.0,
            faults=15,
            kills=(2, 2),
            order_kill_wait_s=8.0,
            min_uptime_s=3.0,
            restart_delay_s=(0.1, 0.5),
            start_attempts=3,
            ready_timeout_s=30.0,
            hold_s=1.5,
            stuck_s=30.0,
            settle_s=8.0,
            fuzz_frames=20_000,
            fuzz_timeout_s=60.0,
        )

    def with_(self, **changes: object) -> SoakConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
