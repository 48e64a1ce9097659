"""PnL Monte Carlo: the safety margins of pair arbitrage and temporal arbitrage.

Each run is one trading session: ``PairArbModel.opportunities`` pair-arbitrage steps and
``TemporalArbModel.signals`` temporal-arbitrage signals, each drawn at random and priced
with the real fee model. Many runs give the distribution of a session's PnL (mean, p5,
p50, p95, probability of a loss); sweeps move one risk at a time — the wrong-truth rate,
the sports taker delay, the fill probability — with common random numbers (every point of
a sweep replays the same seed), so the curves show the effect of that one parameter.

What is modelled (``docs/04_PNL_SIMULATION_SAFETY_MARGINS.md`` explains each choice):

* **pair arbitrage** — an opportunity is a pair of asks whose sum is drawn in
  ``[pair_cost_min, pair_cost_max]``; the strategy buys one step of both legs only if the
  pair cost *with taker fees* stays under the cap. Each leg fills with the fill probability,
  decayed by latency (``exp(−rate × latency)``: the level may be gone when the order lands).
  Both legs filled lock in ``payout(q) − cost − fees``. One leg alone is **leg risk**: the
  other leg's price drifts (adversely, plus noise growing with ``√time``) until the stuck-leg
  timeout; the strategy completes it if a retry fills and the pair cost stays under the cap,
  otherwise it sells the filled leg back across the spread, paying the taker fee again.
* **temporal arbitrage** — a result arrives while the winner's ask is drawn in
  ``[entry_min, entry_max]``; the FAK buy (limit ``max_entry_price``) matches only after
  ``latency + taker delay``. The market prices the result after an exponential lag (the
  bot's lead); if it has by the time the order matches, the order is killed. A wrong truth
  (probability ``wrong_truth_bps``) loses the whole cost — and its market never moves away,
  so wrong signals fill *more* often than right ones: adverse selection.

Money is integer micro-units throughout; probabilities are basis points and times are
integer milliseconds. Randomness comes only from the seeded :class:`random.Random` given to
:func:`simulate`; the same parameters and seed always give the same result.
"""

from __future__ import annotations

import base64
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Final

from polyloly.backtest import plot_kit
from polyloly.backtest.plot_kit import Cell, Series, VLine, html_cards, html_document, html_figure
from polyloly.backtest.plot_kit import html_table as table
from polyloly.domain.fees import FeeModel, PolymarketFeeModel
from polyloly.domain.money import ONE, SCALE, cost_of, fmt

__all__ = [
    "CHART_IDS",
    "CurvePoint",
    "Distribution",
    "PairArbModel",
    "SimParams",
    "SimResult",
    "TemporalArbModel",
    "break_even",
    "distribution",
    "pair_opportunity",
    "render_pnl_report",
    "simulate",
    "temporal_signal",
    "write_pnl_report",
]

BPS: Final = 10_000
_LOT: Final = 10_000  # order sizes are whole hundredths of a share


@dataclass(frozen=True, slots=True, kw_only=True)
class PairArbModel:
    """How pair-arbitrage opportunities arise and execute (prices and amounts in micros).

    Attributes
    ----------
    opportunities
        Pair-arbitrage steps looked at per session.
    pair_cost_min, pair_cost_max
        Range of the observed ``ask_yes + ask_no`` (uniform on the tick grid).
    price_min, price_max
        Range of either ask.
    pair_cost_cap, step_usdc
        The strategy's cap on the pair cost (fees included) and its step budget.
    taker
        Whether the legs are taker orders (pay the fee) or resting maker orders (free).
    fill_bps
        Probability that a leg's displayed level is still there at zero latency.
    latency_ms, level_decay_per_s_bps
        Order latency, and the rate (per second, in bps: ``5_000`` = 0.5/s) at which the
        displayed level disappears; the fill probability is ``fill × exp(−rate × latency)``.
    retry_fill_bps
        Probability that the lagging leg fills before the stuck-leg timeout.
    stuck_leg_timeout_ms
        How long the strategy waits for the lagging leg before unwinding.
    drift_ticks, noise_ticks_per_sqrt_s
        Adverse drift of the lagging leg's price, and its noise (ticks per √second).
    spread_ticks
        Ticks given up when unwinding (selling the filled leg at the bid).
    """

    opportunities: int = 40
    pair_cost_min: int = 940_000
    pair_cost_max: int = 990_000
    price_min: int = 150_000
    price_max: int = 850_000
    pair_cost_cap: int = 975_000
    step_usdc: int = 25_000_000
    taker: bool = True
    fill_bps: int = 8_500
    latency_ms: int = 150
    level_decay_per_s_bps: int = 5_000
    retry_fill_bps: int = 6_000
    stuck_leg_timeout_ms: int = 30_000
    drift_ticks: int = 1
    noise_ticks_per_sqrt_s: float = 0.5
    spread_ticks: int = 1
    tick: int = 10_000

    def leg_fill_bps(self) -> int:
        """Fill probability of one leg after latency (bps)."""
        decay = math.exp(-self.level_decay_per_s_bps / BPS * self.latency_ms / 1_000)
        return int(self.fill_bps * decay)


@dataclass(frozen=True, slots=True, kw_only=True)
class TemporalArbModel:
    """How temporal-arbitrage signals arise and execute (prices and amounts in micros).

    Attributes
    ----------
    signals
        Results traded per session.
    entry_min, entry_max
        Range of the winner's ask when the result arrives (uniform on the tick grid);
        asks above ``max_entry_price`` are not traded.
    max_entry_price, fixed_size_usdc
        The strategy's entry cap (also the FAK limit) and budget per signal.
    latency_ms, taker_delay_ms
        Decision-to-venue latency, and the venue's sports taker delay (3 s on esports).
    market_lag_mean_ms
        Mean time the market needs to price the result (exponential): the bot's lead.
    fill_bps
        Probability that the ask's depth is still there when the order matches, given the
        market has not priced the result yet.
    max_slippage_ticks
        The average fill price is the ask plus 0..this many ticks (walking the book).
    wrong_truth_bps
        Probability that a traded result is wrong (the token pays 0).
    """

    signals: int = 10
    entry_min: int = 550_000
    entry_max: int = 950_000
    max_entry_price: int = 950_000
    fixed_size_usdc: int = 50_000_000
    latency_ms: int = 150
    taker_delay_ms: int = 3_000
    market_lag_mean_ms: int = 4_000
    fill_bps: int = 8_000
    max_slippage_ticks: int = 2
    wrong_truth_bps: int = 100
    tick: int = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class SimParams:
    """A whole simulation: both models, the fee model, run counts, seed and sweeps."""

    pair: PairArbModel = field(default_factory=PairArbModel)
    temporal: TemporalArbModel = field(default_factory=TemporalArbModel)
    fee_model: FeeModel = field(default_factory=PolymarketFeeModel)
    runs: int = 2_000
    seed: int = 42
    sweep_runs: int = 400
    wrong_truth_sweep_bps: tuple[int, ...] = (0, 50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000)
    taker_delay_sweep_ms: tuple[int, ...] = (0, 500, 1_000, 2_000, 3_000, 4_000, 6_000, 8_000)
    fill_sweep_bps: tuple[int, ...] = (
        2_000,
        3_000,
        4_000,
        5_000,
        6_000,
        7_000,
        8_000,
        9_000,
        10_000,
    )

    def __post_init__(self) -> None:
        if self.runs < 1 or self.sweep_runs < 1:
            raise ValueError("runs and sweep_runs must be at least 1")
        p, t = self.pair, self.temporal
        if not (0 < p.pair_cost_min <= p.pair_cost_max < 2 * ONE and p.price_min < p.price_max):
            raise ValueError("pair model: need 0 < pair_cost_min <= pair_cost_max, price ranges")
        if not 0 < t.entry_min <= t.entry_max < ONE:
            raise ValueError("temporal model: need 0 < entry_min <= entry_max < 1")
        probabilities = (p.fill_bps, p.retry_fill_bps, t.fill_bps, t.wrong_truth_bps)
        if any(not 0 <= b <= BPS for b in probabilities):
            raise ValueError("probabilities must be within [0, 10000] basis points")


# -- one opportunity ------------------------------------------------------------------------


def _uniform_tick(rng: random.Random, low: int, high: int, tick: int) -> int:
    first, last = -(-low // tick), high // tick
    return rng.randint(first, max(first, last)) * tick


def _clamp_price(price: int, tick: int) -> int:
    return min(max(price, tick), ONE - tick)


def pair_opportunity(m: PairArbModel, fees: FeeModel, rng: random.Random) -> tuple[int, str]:
    """Simulate one pair-arbitrage step; return ``(pnl micros, outcome)``.

    Outcomes: ``skipped`` (no edge under the cap after fees), ``missed`` (no leg filled),
    ``paired`` (both filled), ``completed`` (leg risk, lagging leg filled late), ``unwound``
    (leg risk, filled leg sold back). Every draw is made up front, in a fixed order, so that
    runs with different parameters but the same seed stay on the same random numbers.
    """
    total = _uniform_tick(rng, m.pair_cost_min, m.pair_cost_max, m.tick)
    low, high = max(m.price_min, total - m.price_max), min(m.price_max, total - m.price_min)
    p_yes = _uniform_tick(rng, low, max(low, high), m.tick)
    u_yes, u_no, u_retry = rng.randrange(BPS), rng.randrange(BPS), rng.randrange(BPS)
    waited_ms, z = rng.randint(0, m.stuck_leg_timeout_ms), rng.gauss(0.0, 1.0)
    prices = (p_yes, total - p_yes)
    q = m.step_usdc * SCALE // total // _LOT * _LOT

    def leg_cost(price: int) -> int:
        return cost_of(q, price) + (fees.taker_fee(q, price) if m.taker else 0)

    def under_cap(a: int, b: int) -> bool:  # the strategy's rule: pair cost with fees < cap
        return (leg_cost(a) + leg_cost(b)) * SCALE < m.pair_cost_cap * q

    if low > high or q <= 0 or min(prices) < m.tick or not under_cap(*prices):
        return 0, "skipped"
    fill = m.leg_fill_bps()
    filled = (u_yes < fill, u_no < fill)
    if all(filled):
        return fees.payout(q) - leg_cost(prices[0]) - leg_cost(prices[1]), "paired"
    if not any(filled):
        return 0, "missed"
    held, other = (prices[0], prices[1]) if filled[0] else (prices[1], prices[0])
    sigma = m.noise_ticks_per_sqrt_s * math.sqrt(waited_ms / 1_000)
    move = round(m.drift_ticks + sigma * z) * m.tick  # the missed leg moved away from us
    late = _clamp_price(other + move, m.tick)
    if u_retry < m.retry_fill_bps and under_cap(held, late):
        return fees.payout(q) - leg_cost(held) - leg_cost(late), "completed"
    # complementary tokens move opposite ways: the held leg is worth ``move`` less, and
    # selling it crosses the spread; the sale pays the taker fee like any taker order
    bid = _clamp_price(held - move - m.spread_ticks * m.tick, m.tick)
    proceeds = q * bid // SCALE - fees.taker_fee(q, bid)
    return proceeds - leg_cost(held), "unwound"


def temporal_signal(m: TemporalArbModel, fees: FeeModel, rng: random.Random) -> tuple[int, str]:
    """Simulate one temporal-arbitrage signal; return ``(pnl micros, outcome)``.

    Outcomes: ``skipped`` (ask above the entry cap), ``killed`` (the market priced the
    result before the delayed order matched), ``missed`` (no depth), ``won``, ``lost``
    (wrong truth). Draws are made up front, in a fixed order (see :func:`pair_opportunity`).
    """
    ask = _uniform_tick(rng, m.entry_min, m.entry_max, m.tick)
    u_wrong, u_fill = rng.randrange(BPS), rng.randrange(BPS)
    lag_ms = rng.expovariate(1.0 / max(m.market_lag_mean_ms, 1))
    slip = rng.randint(0, m.max_slippage_ticks)
    if ask > m.max_entry_price:
        return 0, "skipped"
    wrong = u_wrong < m.wrong_truth_bps
    # a wrong result is never priced in by the market: nothing takes the ask away
    if not wrong and lag_ms <= m.latency_ms + m.taker_delay_ms:
        return 0, "killed"
    if u_fill >= m.fill_bps:
        return 0, "missed"
    price = min(ask + slip * m.tick, m.max_entry_price)
    q = m.fixed_size_usdc * SCALE // ask // _LOT * _LOT
    paid = cost_of(q, price) + fees.taker_fee(q, price)
    if wrong:
        return -paid, "lost"
    return fees.payout(q) - paid, "won"


# -- many runs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of per-session PnLs (micros); ``prob_loss`` is the share of losing runs."""

    runs: int
    mean: int
    p5: int
    p50: int
    p95: int
    low: int
    high: int
    prob_loss: Fraction
    values: tuple[int, ...] = ()


def _rank(ordered: Sequence[int], pct: int) -> int:
    return ordered[max(1, -(-pct * len(ordered) // 100)) - 1]  # nearest rank


def distribution(values: Sequence[int], *, keep_values: bool = True) -> Distribution:
    """Mean (floored), nearest-rank percentiles and loss probability of ``values``."""
    if not values:
        return Distribution(0, 0, 0, 0, 0, 0, 0, Fraction(0))
    ordered = sorted(values)
    return Distribution(
        runs=len(ordered),
        mean=sum(ordered) // len(ordered),
        p5=_rank(ordered, 5),
        p50=_rank(ordered, 50),
        p95=_rank(ordered, 95),
        low=ordered[0],
        high=ordered[-1],
        prob_loss=Fraction(sum(1 for v in ordered if v < 0), len(ordered)),
        values=tuple(values) if keep_values else (),
    )


@dataclass(frozen=True, slots=True)
class CurvePoint:
    """One point of a sweep: the swept value and the session PnL distribution there."""

    x: int
    stats: Distribution


@dataclass(frozen=True, slots=True)
class SimResult:
    """Everything :func:`simulate` measured."""

    params: SimParams
    pair: Distribution
    temporal: Distribution
    total: Distribution
    pair_outcomes: dict[str, int]
    temporal_outcomes: dict[str, int]
    wrong_truth_curve: tuple[CurvePoint, ...]
    taker_delay_curve: tuple[CurvePoint, ...]
    fill_curve: tuple[CurvePoint, ...]

    @property
    def edge_survival(self) -> Fraction | None:
        """Temporal mean PnL at the configured taker delay over the mean with no delay."""
        base = next((p for p in self.taker_delay_curve if p.x == 0), None)
        here = next(
            (p for p in self.taker_delay_curve if p.x == self.params.temporal.taker_delay_ms),
            None,
        )
        if base is None or here is None or base.stats.mean <= 0:
            return None
        return Fraction(here.stats.mean, base.stats.mean)

    @property
    def break_even_wrong_truth_bps(self) -> Fraction | None:
        """Wrong-truth rate (bps) at which temporal arbitrage's mean PnL reaches zero."""
        return break_even(self.wrong_truth_curve)

    @property
    def break_even_fill_bps(self) -> Fraction | None:
        """Pair-arbitrage fill probability (bps) below which its mean PnL turns negative."""
        return break_even(self.fill_curve)


def break_even(curve: Sequence[CurvePoint]) -> Fraction | None:
    """The ``x`` where the mean PnL crosses zero (linear between points), or ``None``."""
    for a, b in pairwise(curve):
        ya, yb = a.stats.mean, b.stats.mean
        if ya == 0:
            return Fraction(a.x)
        if (ya > 0) != (yb > 0):
            return a.x + Fraction(b.x - a.x) * Fraction(ya, ya - yb)
    if curve and curve[-1].stats.mean == 0:
        return Fraction(curve[-1].x)
    return None


Step = Callable[[random.Random], tuple[int, str]]


def _sessions(
    runs: int, seed: int, step: Step, per_run: int, outcomes: Counter[str] | None = None
) -> list[int]:
    rng = random.Random(seed)  # noqa: S311 - a seeded simulation, not cryptography
    totals: list[int] = []
    for _ in range(runs):
        pnl = 0
        for _ in range(per_run):
            amount, outcome = step(rng)
            pnl += amount
            if outcomes is not None:
                outcomes[outcome] += 1
        totals.append(pnl)
    return totals


def _pair_step(m: PairArbModel, fees: FeeModel) -> Step:
    return lambda rng: pair_opportunity(m, fees, rng)


def _temporal_step(m: TemporalArbModel, fees: FeeModel) -> Step:
    return lambda rng: temporal_signal(m, fees, rng)


def simulate(params: SimParams | None = None) -> SimResult:
    """Run the Monte Carlo: both distributions, then the three sweeps."""
    p = params or SimParams()
    fees = p.fee_model
    pair_outcomes: Counter[str] = Counter()
    temporal_outcomes: Counter[str] = Counter()
    # separate streams per strategy (seed, seed + 1): changing one model leaves the
    # other's draws, and so its distribution, untouched
    pair = _sessions(p.runs, p.seed, _pair_step(p.pair, fees), p.pair.opportunities, pair_outcomes)
    temporal = _sessions(
        p.runs, p.seed + 1, _temporal_step(p.temporal, fees), p.temporal.signals, temporal_outcomes
    )

    def sweep_temporal(model: TemporalArbModel) -> Distribution:
        values = _sessions(p.sweep_runs, p.seed + 1, _temporal_step(model, fees), model.signals)
        return distribution(values, keep_values=False)

    def sweep_pair(model: PairArbModel) -> Distribution:
        values = _sessions(p.sweep_runs, p.seed, _pair_step(model, fees), model.opportunities)
        return distribution(values, keep_values=False)

    wrong = tuple(
        CurvePoint(x, sweep_temporal(replace(p.temporal, wrong_truth_bps=x)))
        for x in p.wrong_truth_sweep_bps
    )
    delays = sorted({0, p.temporal.taker_delay_ms, *p.taker_delay_sweep_ms})
    delay = tuple(
        CurvePoint(x, sweep_temporal(replace(p.temporal, taker_delay_ms=x))) for x in delays
    )
    fill = tuple(CurvePoint(x, sweep_pair(replace(p.pair, fill_bps=x))) for x in p.fill_sweep_bps)
    return SimResult(
        params=p,
        pair=distribution(pair),
        temporal=distribution(temporal),
        total=distribution([a + b for a, b in zip(pair, temporal, strict=True)]),
        pair_outcomes=dict(pair_outcomes),
        temporal_outcomes=dict(temporal_outcomes),
        wrong_truth_curve=wrong,
        taker_delay_curve=delay,
        fill_curve=fill,
    )


# -- the report -------------------------------------------------------------------------------

CHART_IDS: Final = (
    "plot-hist-pair",
    "plot-hist-temporal",
    "plot-hist-total",
    "plot-wrong-truth",
    "plot-taker-delay",
    "plot-fill",
)
"""Element ids of the charts in the HTML report (also the PNG file names, ``-`` → ``_``)."""


def _pct(value: Fraction | None, bps: bool = False) -> str:
    if value is None:
        return "—"
    return f"{float(value) / (100 if bps else 0.01):.2f} %"


def _usd(micros: int) -> str:
    return fmt(micros, 2)


def _hist(name: str, stats: Distribution) -> str:
    lines = [
        VLine(plot_kit.usd(stats.mean), f"mean {_usd(stats.mean)}", "#1a202c", "-"),
        VLine(plot_kit.usd(stats.p5), f"p5 {_usd(stats.p5)}", plot_kit.NEGATIVE),
        VLine(plot_kit.usd(stats.p95), f"p95 {_usd(stats.p95)}", plot_kit.POSITIVE),
    ]
    values = [plot_kit.usd(v) for v in stats.values]
    return plot_kit.histogram(f"{name}: PnL per session", values, xlabel="pUSD", vlines=lines)


def _curve(
    title: str, curve: Sequence[CurvePoint], scale: float, xlabel: str, marks: Sequence[VLine]
) -> str:
    xs = [p.x / scale for p in curve]
    series = [
        Series(label, xs, [plot_kit.usd(getattr(p.stats, attr)) for p in curve], style)
        for label, attr, style in (("mean", "mean", "-o"), ("p5", "p5", "--"), ("p95", "p95", ":"))
    ]
    return plot_kit.line_chart(
        title, series, xlabel=xlabel, ylabel="pUSD per session", vlines=marks, zero_line=True
    )


def _charts(r: SimResult) -> dict[str, tuple[str, str]]:
    t, pair = r.params.temporal, r.params.pair
    wrong_marks = [VLine(t.wrong_truth_bps / 100, "assumed rate", "#2b6cb0")]
    if (be := r.break_even_wrong_truth_bps) is not None:
        wrong_marks.append(VLine(float(be) / 100, "break-even", plot_kit.NEGATIVE))
    fill_marks = [VLine(pair.fill_bps / 100, "assumed fill", "#2b6cb0")]
    if (bf := r.break_even_fill_bps) is not None:
        fill_marks.append(VLine(float(bf) / 100, "break-even", plot_kit.NEGATIVE))
    delay_marks = [VLine(t.taker_delay_ms / 1_000, "configured delay", "#2b6cb0")]
    return {
        "plot-hist-pair": (_hist("pair arbitrage", r.pair), "pair arbitrage sessions"),
        "plot-hist-temporal": (_hist("temporal arbitrage", r.temporal), "temporal sessions"),
        "plot-hist-total": (_hist("both strategies", r.total), "both strategies together"),
        "plot-wrong-truth": (
            _curve(
                "Temporal arbitrage vs wrong-truth rate",
                r.wrong_truth_curve,
                100,
                "wrong-truth rate (%)",
                wrong_marks,
            ),
            "session PnL as wrong results grow; safety margin = break-even − assumed rate",
        ),
        "plot-taker-delay": (
            _curve(
                "Temporal arbitrage vs taker delay",
                r.taker_delay_curve,
                1_000,
                "taker delay (s)",
                delay_marks,
            ),
            "the sports taker delay gives the market time to catch up and kill the order",
        ),
        "plot-fill": (
            _curve(
                "Pair arbitrage vs leg fill probability",
                r.fill_curve,
                100,
                "fill probability at zero latency (%)",
                fill_marks,
            ),
            "missed legs turn into leg risk: unwinds cost the spread and a second fee",
        ),
    }


def _stats_rows(r: SimResult) -> list[list[Cell]]:
    rows: list[list[Cell]] = []
    for name, d in (("pair arbitrage", r.pair), ("temporal", r.temporal), ("both", r.total)):
        money: list[Cell] = [(_usd(v), "num") for v in (d.mean, d.p5, d.p50, d.p95, d.low, d.high)]
        rows.append([name, *money, (_pct(d.prob_loss), "num")])
    return rows


def _params_rows(p: SimParams) -> list[tuple[str, str]]:
    rows = [
        ("runs / sweep runs / seed", f"{p.runs} / {p.sweep_runs} / {p.seed}"),
        ("fee model", repr(p.fee_model)),
    ]
    for prefix, model in (("pair", p.pair), ("temporal", p.temporal)):
        rows += [(f"{prefix}.{name}", str(getattr(model, name))) for name in model.__slots__]
    return rows


def render_pnl_report(r: SimResult) -> str:
    """The Monte Carlo as one self-contained HTML page (inline CSS and PNG charts)."""
    charts = _charts(r)
    p = r.params
    be_wrong, be_fill = r.break_even_wrong_truth_bps, r.break_even_fill_bps
    margin = None if be_wrong is None else be_wrong - p.temporal.wrong_truth_bps
    cards = [
        (_usd(r.total.mean), "mean PnL per session"),
        (_usd(r.total.p5), "p5 (a bad session)"),
        (_pct(r.total.prob_loss), "probability of a losing session"),
        (_pct(r.edge_survival), "temporal edge surviving the taker delay"),
        (_pct(be_wrong, bps=True), "break-even wrong-truth rate"),
        ("—" if margin is None else f"{float(margin) / 100:+.2f} pp", "wrong-truth safety margin"),
        (_pct(be_fill, bps=True), "pair break-even fill probability"),
    ]
    headers = ("strategy", "mean", "p5", "p50", "p95", "min", "max", "P(loss)")
    outcomes = [(f"pair: {k}", v) for k, v in sorted(r.pair_outcomes.items())]
    outcomes += [(f"temporal: {k}", v) for k, v in sorted(r.temporal_outcomes.items())]
    sections = [
        "<h2>Distribution of session PnL (pUSD)</h2>" + html_cards(cards),
        table("table-stats", headers, _stats_rows(r)),
        *(html_figure(i, charts[i][0], charts[i][1]) for i in CHART_IDS[:3]),
        "<h2>Safety margins</h2>",
        *(html_figure(i, charts[i][0], charts[i][1]) for i in CHART_IDS[3:]),
        "<h2>Outcomes</h2>" + table("table-outcomes", ("outcome", "count"), outcomes),
        "<h2>Parameters</h2>" + table("table-params", ("parameter", "value"), _params_rows(p)),
    ]
    subtitle = (
        f"{p.runs} sessions of {p.pair.opportunities} pair steps and {p.temporal.signals} "
        f"temporal signals, seed {p.seed}; see docs/04_PNL_SIMULATION_SAFETY_MARGINS.md"
    )
    return html_document("polyloly PnL Monte Carlo", subtitle, sections)


def write_pnl_report(r: SimResult, out_dir: Path | str) -> Path:
    """Write ``pnl_report.html`` and one PNG per chart into ``out_dir``; return the HTML path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / "pnl_report.html"
    page.write_text(render_pnl_report(r), encoding="utf-8")
    for chart_id, (uri, _) in _charts(r).items():
        data = base64.b64decode(uri.split(",", 1)[1])
        (folder / f"{chart_id.replace('-', '_')}.png").write_bytes(data)
    return page
