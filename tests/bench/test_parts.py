"""Small parts of the suite: percentiles, the histogram, targets, the report."""

from __future__ import annotations

import random

import pytest
from bench.report import Section, Target, render
from bench.scale import Histogram
from bench.stats import percentile, summarize


def test_percentiles_are_nearest_rank() -> None:
    values = sorted(range(1, 101))
    assert percentile(values, 50) == 51  # rank round(0.5 * 99) = 50 -> the 51st value
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    lat = summarize([5, 1, 3])
    assert (lat.n, lat.p50, lat.max) == (3, 3.0, 5.0)
    assert summarize([]).n == 0


def test_histogram_percentiles_stay_within_its_resolution() -> None:
    rng = random.Random(1)
    values = [int(rng.lognormvariate(10, 1.5)) for _ in range(20_000)]
    h = Histogram()
    for v in values:
        h.add(v)
    exact = sorted(values)
    for p in (50.0, 99.0, 99.9):
        want = percentile(exact, p)
        got = h.percentile(p)
        assert want <= got <= want * 1.07 + 1, (p, want, got)
    assert Histogram().percentile(50.0) != Histogram().percentile(50.0)  # nan when empty


def test_histograms_merged_count_what_one_histogram_of_all_values_counts() -> None:
    rng = random.Random(2)
    windows = [
        [int(rng.lognormvariate(9, 2)) for _ in range(rng.randrange(0, 500))] for _ in range(7)
    ]
    whole, merged = Histogram(), Histogram()
    for window in windows:
        part = Histogram()
        for v in window:
            whole.add(v)
            part.add(v)
        merged.merge(part)
    assert merged.counts == whole.counts
    assert merged.n == whole.n == sum(map(len, windows))


@pytest.mark.parametrize(
    ("target", "met"),
    [
        (Target("ratio", 1.9, 2.0, "×"), True),
        (Target("ratio", 2.1, 2.0, "×"), False),
        (Target("rate", 1.2e6, 1e6, "msgs/s", higher_is_better=True), True),
        (Target("rate", 9e5, 1e6, "msgs/s", higher_is_better=True), False),
        (Target("nan", float("nan"), 1.0, "ns"), False),
    ],
)
def test_targets_know_which_way_is_better(target: Target, met: bool) -> None:
    assert target.met is met


def test_render_names_missed_targets_and_skips() -> None:
    s = Section("x", "X")
    s.table("t", "a", "b").add(1, 2)
    s.targets.append(Target("ratio", 4.0, 2.0, "×"))
    skipped = Section("y", "Y", skipped="not installed")
    text = render([s, skipped], {"date": "today"})
    assert "| 1 | 2 |" in text
    assert "missed (2.00× off)" in text
    assert "Skipped: not installed" in text


def test_a_report_round_trips_through_json(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from bench.report import read_section, write_json

    s = Section("x", "X", notes=["n"])
    s.table("t", "a").add(1)
    s.targets.append(Target("rate", 2.0, 1.0, "msgs/s", higher_is_better=True))
    s.data = {"k": 1}
    write_json(tmp_path / "r.json", [s], {"date": "today"})
    back = read_section(tmp_path / "r.json", "x")
    assert (back.title, back.notes, back.data) == ("X", ["n"], {"k": 1})
    assert back.tables[0].rows == [["1"]]
    assert back.targets[0].met


def test_a_target_states_its_verdict_and_every_target_is_listed_at_a_glance() -> None:
    hot = Section("hotpath", "1. Hot path")
    hot.targets.append(Target("p99 per price_change", 61_000.0, 50_000, "ns"))
    hot.targets.append(Target("capacity", 42_000.0, 20_000, "frames/s", higher_is_better=True))
    peer = Section("nautilus", "2. Peer")
    peer.targets.append(Target("same scope", 1.6, 2.0, "×", higher_is_better=True))
    assert hot.targets[0].verdict == "missed (1.22× off)"
    assert hot.targets[1].verdict == "met"
    assert peer.targets[0].as_dict()["verdict"] == "missed (1.25× off)"
    text = render([hot, peer], {"date": "today"})
    glance = text.split("## Targets at a glance", 1)[1].split("## 1. Hot path", 1)[0]
    assert (
        "| 1 hotpath | p99 per price_change | 61.00 µs | ≤ 50.00 µs | missed (1.22× off) |"
        in glance
    )
    assert "| 1 hotpath | capacity | 42,000 frames/s | ≥ 20,000 frames/s | met |" in glance
    assert "| 2 nautilus | same scope | 1.6 × | ≥ 2 × | missed (1.25× off) |" in glance
