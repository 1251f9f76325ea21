"""The closed loop: the port inspects only what zeikan selected, learns it back, and is deterministic."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from zeikan.sim.closed_loop import DECISIONS_FILE, LoopResult, run_closed_loop
from zeikan.sim.ids import day_tag
from zeikan.sim.port import Port
from zeikan.sim.replay_day import replay_decider
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import FILES
from zeikan.sim.world import build_world
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.settings import DEFAULT_RULES

LOOP = SimSettings(seed=11, days=2, per_day=300)
WARM_DAYS = 2
INSPECTION_OF_LANE = {"DOCUMENT_CHECK": {"DOCUMENT"}, "PHYSICAL_EXAM": {"PHYSICAL"}, "SCAN": {"SCAN", "PHYSICAL"}}


def _loop(out: Path, registry: Path, settings: SimSettings = LOOP) -> LoopResult:
    decide = replay_decider(RuleFile(DEFAULT_RULES).book, EngineConfig(), str(registry))
    return run_closed_loop(settings, WARM_DAYS, out, decide)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> LoopResult:
    """A small closed-loop run served by the heuristic scorer (an empty registry)."""
    return _loop(tmp_path_factory.mktemp("loop"), tmp_path_factory.mktemp("registry"))


def _closed_tags(result: LoopResult) -> set[str]:
    start = result.port.world.settings.start
    return {day_tag(start, d) for d in range(result.warm_days, result.warm_days + result.days)}


def _closed(records: list[dict], result: LoopResult) -> list[dict]:
    tags = _closed_tags(result)
    return [r for r in records if r["declaration_id"][1:7] in tags]


def test_every_inspection_belongs_to_a_zeikan_selection(loop: LoopResult) -> None:
    pre = {d["declaration_id"]: d for d in loop.decisions if d["stage"] == "PRE_ARRIVAL"}
    inspections = _closed(_lines(loop.out_dir / FILES["inspection-results"]), loop)
    assert inspections, "the port inspected nothing"
    for result in inspections:
        decision = pre[result["declaration_id"]]
        assert decision["action"] != "RELEASE", result
        assert result["inspection_type"] in INSPECTION_OF_LANE[decision["action"]], (result, decision)
        assert result["random_selected"] == decision["random_selected"]
    assert len({r["inspection_id"] for r in inspections}) == len(inspections)
    assert any(r["random_selected"] for r in inspections), "the random control sample was never inspected"


def test_every_selection_is_acted_on(loop: LoopResult) -> None:
    selected = {d["declaration_id"] for d in _closed(loop.decisions, loop)
                if d["stage"] == "PRE_ARRIVAL" and d["action"] != "RELEASE"}
    inspected = Counter(r["declaration_id"] for r in _closed(_lines(loop.out_dir / FILES["inspection-results"]), loop))
    assert set(inspected) == selected
    assert set(inspected.values()) == {1}


def test_scans_are_the_containers_zeikan_sent_to_scan(loop: LoopResult) -> None:
    declarations = {d["declaration_id"]: d for d in _lines(loop.out_dir / FILES["declarations"])}
    to_scan = {c for d in _closed(loop.decisions, loop) if d["stage"] == "PRE_ARRIVAL" and d["action"] == "SCAN"
               for c in declarations[d["declaration_id"]]["containers"]}
    tags = _closed_tags(loop)
    scanned = {s["container_id"] for s in _lines(loop.out_dir / FILES["scans"]) if s["scan_id"][1:7] in tags}
    assert to_scan and scanned == to_scan
    post = [d for d in _closed(loop.decisions, loop) if d["stage"] == "POST_SCAN"]
    assert {d["declaration_id"] for d in post} == {
        d["declaration_id"] for d in _closed(loop.decisions, loop)
        if d["stage"] == "PRE_ARRIVAL" and d["action"] == "SCAN" and declarations[d["declaration_id"]]["containers"]
    }


def test_replay_of_the_files_yields_the_loop_decisions(loop: LoopResult, tmp_path: Path) -> None:
    out = tmp_path / "replayed.jsonl"
    subprocess.run([sys.executable, "-m", "zeikan.cli.main", "replay", "--history", str(loop.out_dir), "--out", str(out),
                    "--registry", str(tmp_path / "registry")], check=True, capture_output=True)
    first = loop.port.world.settings.day_start_ms(loop.warm_days)
    replayed = sorted(d["decision_id"] for d in _lines(out) if d["event_time"] >= first)
    assert replayed == sorted(d["decision_id"] for d in _lines(loop.out_dir / DECISIONS_FILE))


def test_the_loop_is_deterministic_for_a_seed(loop: LoopResult, tmp_path: Path) -> None:
    again = _loop(tmp_path / "again", tmp_path / "registry")
    for name in [*FILES.values(), DECISIONS_FILE]:
        assert (again.out_dir / name).read_bytes() == (loop.out_dir / name).read_bytes(), name
    other = _loop(tmp_path / "other", tmp_path / "registry", SimSettings(seed=12, days=2, per_day=300))
    assert (other.out_dir / FILES["inspection-results"]).read_bytes() != (loop.out_dir / FILES["inspection-results"]).read_bytes()


def _decision(decl_id: str, action: str) -> dict:
    return {"declaration_id": decl_id, "stage": "PRE_ARRIVAL", "action": action, "random_selected": False,
            "event_time": 0}


@pytest.mark.parametrize(("action", "low", "high"), [("DOCUMENT_CHECK", 0.0, 0.0), ("PHYSICAL_EXAM", 0.75, 1.0)])
def test_a_lane_finds_what_it_can_find(action: str, low: float, high: float) -> None:
    port = Port(build_world(SimSettings(seed=3, days=1, per_day=3000)))
    day = port.open_day(0)
    hidden = np.flatnonzero(day.fraud.concealment >= 0)
    assert len(hidden) >= 20
    tag = day_tag(port.world.settings.start, 0)
    results = [e.record for k in hidden.tolist() for e in port.act(_decision(f"D{tag}{k:06d}", action))]
    assert len(results) == len(hidden)
    found = np.mean([any(f["kind"] == "CONCEALMENT" for f in r["findings"]) for r in results])
    assert low <= found <= high
    assert all((r["outcome"] == "SEIZURE") == any(f["kind"] == "CONCEALMENT" for f in r["findings"]) for r in results)


def test_a_release_causes_nothing() -> None:
    port = Port(build_world(SimSettings(seed=3, days=1, per_day=50)))
    port.open_day(0)
    tag = day_tag(port.world.settings.start, 0)
    assert port.act(_decision(f"D{tag}000001", "RELEASE")) == []
    assert port.act(_decision("D991231000001", "PHYSICAL_EXAM")) == []


def test_cli_refuses_a_closed_loop_without_history(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "zeikan.cli.main", "simulate", "--closed-loop", "--warm-days", "0",
                           "--out", str(tmp_path / "x"), "--days", "1", "--per-day", "10"], capture_output=True, text=True)
    assert done.returncode != 0
    assert "--warm-days" in done.stderr and "Traceback" not in done.stderr


def test_bench_compares_at_equal_capacity() -> None:
    from zeikan.bench.closed_loop import equal_capacity_config, summary

    base = EngineConfig()
    scaled = equal_capacity_config(0.11, base)
    assert sum(scaled.default_share.values()) == pytest.approx(0.11)
    for lane, share in base.default_share.items():
        assert scaled.default_share[lane] / share == pytest.approx(0.11 / sum(base.default_share.values()))
    port = Port(build_world(SimSettings(seed=3, days=1, per_day=800)))
    day = port.open_day(0)
    legacy = summary([day])
    assert legacy["inspections"] == (day.selection.inspection_type >= 0).sum() > 0
    assert summary([port.inspected(0)])["inspections"] == 0


def test_equal_capacity_per_lane_is_the_legacy_lane_mix(tmp_path: Path) -> None:
    from zeikan.bench.closed_loop import equal_capacity_config, legacy_mix
    from zeikan.sim.simulate import simulate
    from zeikan.streams.engine.lanes import Action

    simulate(SimSettings(seed=5, days=2, per_day=400), tmp_path)
    with open(tmp_path / FILES["inspection-results"], encoding="utf-8") as handle:
        types = Counter(json.loads(line)["inspection_type"] for line in handle)
    mix = legacy_mix(tmp_path)
    assert mix == {Action.DOCUMENT_CHECK: types["DOCUMENT"], Action.SCAN: types["SCAN"],
                   Action.PHYSICAL_EXAM: types["PHYSICAL"]}
    config = equal_capacity_config(0.1, mix=mix)
    total = sum(types.values())
    for lane, count in mix.items():
        assert config.default_share[lane] == pytest.approx(0.1 * count / total)


def test_a_loop_served_with_a_seizure_key_replays_to_its_decisions(tmp_path: Path) -> None:
    from zeikan.features.history import load_history
    from zeikan.models.registry import SEIZURE, ModelRegistry
    from zeikan.models.training import TrainSettings, train_seizure, train_tabular
    from zeikan.sim.simulate import simulate

    simulate(SimSettings(seed=13, days=4, per_day=300), tmp_path / "history")
    events = load_history(str(tmp_path / "history"))
    registry = ModelRegistry(str(tmp_path / "registry"))
    fast = TrainSettings(num_boost_round=20, early_stopping_rounds=5)
    registry.register(train_tabular(events, fast), events.data_hash, promote=True)
    key = registry.register(train_seizure(events, fast), events.data_hash, promote=True, role=SEIZURE).version
    loop = _loop(tmp_path / "loop", tmp_path / "registry")
    pre = [d for d in loop.decisions if d["stage"] == "PRE_ARRIVAL"]
    assert pre and {d["model_versions"]["seizure"] for d in pre} == {key}
    out = tmp_path / "replayed.jsonl"
    subprocess.run([sys.executable, "-m", "zeikan.cli.main", "replay", "--history", str(loop.out_dir), "--out", str(out),
                    "--registry", str(tmp_path / "registry")], check=True, capture_output=True)
    first = loop.port.world.settings.day_start_ms(loop.warm_days)
    assert sorted(d["decision_id"] for d in _lines(out) if d["event_time"] >= first) == sorted(d["decision_id"] for d in loop.decisions)


def test_the_legacy_scan_mix_moves_document_checks_to_the_scan_lane_at_the_same_total(tmp_path: Path) -> None:
    from zeikan.bench.closed_loop import documents_to_scan, equal_capacity_config, legacy_mix
    from zeikan.sim.simulate import simulate
    from zeikan.streams.engine.lanes import Action

    simulate(SimSettings(seed=5, days=2, per_day=400), tmp_path)
    mix = legacy_mix(tmp_path)
    moved = equal_capacity_config(0.1, mix=documents_to_scan(mix)).default_share
    legacy = equal_capacity_config(0.1, mix=mix).default_share
    assert Action.DOCUMENT_CHECK not in moved and sum(moved.values()) == pytest.approx(0.1)
    assert moved[Action.SCAN] == pytest.approx(legacy[Action.SCAN] + legacy[Action.DOCUMENT_CHECK])
    assert moved[Action.PHYSICAL_EXAM] == pytest.approx(legacy[Action.PHYSICAL_EXAM])
