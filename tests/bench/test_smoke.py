"""CI smoke: every benchmark runs end to end in its tiny mode and reports sane numbers.

Each benchmark runs as ``python -m bench run --smoke --only NAME`` in a subprocess (the way
``make bench-smoke`` runs it), then its JSON report is checked for shape and plausibility.
No timing is asserted: the machine decides how fast; the suite only has to measure.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest
from tests.bench.cli import bench_cli


def _smoke(name: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{name.replace(',', '-')}.json"
    proc = bench_cli("run", "--smoke", "--only", name, "--json", str(out))
    assert "## Run" in proc.stdout
    doc: dict[str, Any] = json.loads(out.read_text())
    assert doc["run"]["mode"] == "smoke"
    sections: dict[str, Any] = doc["sections"]
    return sections


def _positive(x: float) -> bool:
    return isinstance(x, int | float) and math.isfinite(x) and x > 0


def _targets_sane(section: dict[str, Any]) -> None:
    assert section["targets"], "every benchmark checks at least one target"
    for t in section["targets"]:
        assert _positive(t["value"]), t
        assert isinstance(t["met"], bool)
        assert {"name", "value", "limit", "unit", "verdict"} <= set(t)
        assert t["verdict"] == "met" if t["met"] else t["verdict"].startswith("missed ("), t


def test_hotpath_smoke(tmp_path: Path) -> None:
    sec = _smoke("hotpath", tmp_path)["hotpath"]
    data = sec["data"]
    runs = data["runs_ns_per_msg"]
    assert set(runs) >= {
        "floor",
        "array_calibration",
        "market_layer",
        "hot_path",
        "hot_path_logged",
    }
    assert all(_positive(v) for vals in runs.values() for v in vals)
    assert runs["hot_path"][0] > runs["floor"][0]  # the real path does more than decode
    for checks in (data["checks"], data["checks_logged"]):
        assert checks["top_mismatches"] == 0
        assert checks["handler_errors"] == 0
        assert checks["malformed"] == {}
        assert checks["published"] >= data["stream"]["timed"]
        # The busy node: positions held and temporal arbitrage armed before the stream, every
        # result during it traded (intent → risk gate → order → fill → one more position),
        # the armed signals re-planned on their books' changes, nothing halted.
        scenario = data["scenario"]
        assert checks["positions_start"] == len(scenario["held"]) > 0
        assert checks["armed_start"] == checks["armed_end"] == len(data["stream"]["decided"]) > 0
        results = checks["results"]
        assert results == len(scenario["results"]) > 0
        assert checks["intents"] == checks["approved"] == checks["orders"] == results
        assert checks["fills"] == results
        assert checks["positions_end"] == checks["positions_start"] + results
        assert checks["armed_replans"] > 0
        assert checks["kill_switch_fired"] == 0
    lat = data["latency_logged"]
    assert lat["price_change"]["n"] > 0
    assert lat["all"]["p50"] <= lat["all"]["p99"] <= lat["all"]["max"]
    assert len(data["stages_ns_per_msg"]) == 6
    _targets_sane(sec)
    names = {t["name"] for t in sec["targets"]}
    assert any("p99 per price_change" in n for n in names)
    assert any("capacity" in n for n in names)


def test_nautilus_smoke_runs_the_peer_or_says_why_not(tmp_path: Path) -> None:
    sections = _smoke("nautilus", tmp_path)
    nt = sections["nautilus"]
    if nt["skipped"]:
        assert "nautilus" in nt["skipped"]
        return
    data = nt["data"]
    assert _positive(data["runs_ns_per_msg"][0])
    assert _positive(data["scope_runs_ns_per_msg"][0])
    info = data["info"]
    assert info["top_mismatches"] == 0
    assert info["scope_top_mismatches"] == 0
    assert info["scope_sync_mismatches"] == 0  # NautilusTrader's books agree with the hints
    assert _positive(data["bare_speedup"])
    assert _positive(data["scope_speedup"])
    _targets_sane(nt)


def test_replay_smoke(tmp_path: Path) -> None:
    sec = _smoke("replay", tmp_path)["replay"]
    data = sec["data"]
    assert data["deterministic"] is True
    assert data["events"] > 0
    full = data["last"]["full"]
    assert full["fed"] == data["events"]
    assert full["decisions"].get("OrderSubmitted", 0) >= 1  # results were traded on
    assert full["fills"] >= 1
    assert data["last"]["core"]["handler_errors"] == 0
    assert all(_positive(v) for vals in data["runs_events_per_s"].values() for v in vals)
    _targets_sane(sec)


def test_wire_smoke(tmp_path: Path) -> None:
    sec = _smoke("wire", tmp_path)["wire"]
    data = sec["data"]
    assert data["modes"] == ["predecided", "presigned", "on_demand"]
    for mode in data["modes"]:
        wire = data[f"{mode}:on the wire (POST's last write)"]
        kernel = data[f"{mode}:publish returns (the whole dispatch)"]
        ack = data[f"{mode}:acknowledged (OrderAccepted)"]
        assert wire["n"] > 0
        if mode == "predecided":  # written inside the result's dispatch
            assert 0 < wire["p50"] < kernel["p50"] < ack["p50"]
        else:  # written by the submit task, after the dispatch
            assert 0 < kernel["p50"] < wire["p50"] < ack["p50"]
        stats = data["stats"][mode]
        assert stats["stream_frames"] > 0  # market data flowed during the samples
        assert stats["handler_errors"] == 0
        assert stats["log_bytes"] > 0  # the event log was on
    assert data["stats"]["predecided"]["predecide"]["sent"] >= 1
    assert data["stats"]["predecided"]["predecide"]["mismatches"] == 0
    assert any("outcomes {'MATCHED'" in n for n in sec["notes"])
    # every POST of the run went over one kept-alive connection (the instrumented transport)
    assert any("order connection (keep-alive HTTP/1.1): 1 connect(s)" in n for n in sec["notes"])
    _targets_sane(sec)


def test_scale_smoke(tmp_path: Path) -> None:
    sec = _smoke("scale", tmp_path)["scale"]
    data = sec["data"]
    assert data["frames"] > data["tokens"]  # snapshots, then the stream
    assert data["in_sync"] == data["tokens"]
    assert data["malformed"] == {}
    assert data["handler_errors"] == 0
    assert data["windows"]
    assert all(w["rss_mb"] > 0 for w in data["windows"])
    cpus = data["feeder"]["cpus"]
    if "pinned to CPU" in data["pinning"]:  # two or more CPUs: the feeder has one to itself
        assert len(cpus) == 1
        assert f"feeder pinned to CPU {cpus[0]}" in data["pinning"]
    assert any(data["pinning"] in n for n in sec["notes"])
    _targets_sane(sec)


@pytest.mark.parametrize("argv", [["run", "--only", "nope"]])
def test_unknown_benchmark_is_refused(argv: list[str]) -> None:
    proc = bench_cli(*argv, check=False)
    assert proc.returncode != 0
    assert "unknown benchmark" in proc.stderr


def test_scale_runs_in_its_own_process_beside_other_benchmarks(tmp_path: Path) -> None:
    sections = _smoke("replay,scale", tmp_path)
    assert set(sections) == {"replay", "scale"}
    scale = sections["scale"]
    assert scale["data"]["frames"] > 0
    # A fresh interpreter: the bot's own memory, not the replay's log and streams.
    assert scale["data"]["rss_start_mb"] < 300
    assert scale["tables"]


def test_the_scale_run_can_leave_the_feeder_unpinned(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    bench_cli("run", "--smoke", "--only", "scale", "--scale-no-pin", "--json", str(out))
    data = json.loads(out.read_text())["sections"]["scale"]["data"]
    assert data["pinning"] == "feeder and bot not pinned (--scale-no-pin)"
    assert len(data["feeder"]["cpus"]) == len(os.sched_getaffinity(0))
