"""Continuous learning in real workers against a real broker: the promotions and decisions equal ``zeikan replay``'s.

A five-day history with inspection results; small learning settings so that candidates
train at the event-time day boundaries and at least one is promoted and takes effect
inside the history. The decisions take effect at their boundary (no delay), so the
declarations filed just after it must wait for the training (the gate): without the
gate they would be decided by the previous model.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.streams.pipeline_factories import DAY, T0, history
from tests.streams.worker_harness import (
    WorkerProcess,
    decision_ids_settle,
    in_event_time_order,
    publish_events,
    read_decoded,
    wait_until,
)
from zeikan.models.registry import ModelRegistry
from zeikan.schemas.jsonl import write_jsonl
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.replay import replay
from zeikan.streams.settings import DEFAULT_RULES, LearningSettings

pytestmark = pytest.mark.timeout(420)

SNAPSHOT_OFTEN = {"ZEIKAN_SNAPSHOT_EVERY": "50", "ZEIKAN_SNAPSHOT_MIN_S": "0.2"}

LEARN_ENV = {
    "ZEIKAN_LEARNING": "1",
    "ZEIKAN_LEARN_TRAIN_DAYS": "4",
    "ZEIKAN_LEARN_EVAL_DAYS": "1",
    "ZEIKAN_LEARN_MIN_EVAL_POSITIVES": "3",
    "ZEIKAN_LEARN_EFFECTIVE_DELAY_H": "0",  # no slack: declarations filed right after a boundary wait for its training
    "ZEIKAN_TRAIN_NUM_BOOST_ROUND": "40",
    "ZEIKAN_TRAIN_EARLY_STOPPING_ROUNDS": "10",
    "ZEIKAN_TRAIN_NUM_LEAVES": "7",
    "ZEIKAN_TRAIN_MIN_DATA_IN_LEAF": "5",
}


def replayed(tmp_path, hist, monkeypatch):
    """Replay's decisions and promotion records, with the workers' learning settings."""
    directory = tmp_path / "history"
    directory.mkdir()
    write_jsonl(directory / "declarations.jsonl", "declarations", hist["declarations"])
    write_jsonl(directory / "inspection-results.jsonl", "inspection-results", hist["inspection-results"])
    for name, value in LEARN_ENV.items():
        monkeypatch.setenv(name, value)
    promotions: list[dict] = []
    decisions = list(replay(directory, RuleFile(DEFAULT_RULES).book, EngineConfig(), str(tmp_path / "replay-registry"),
                            learning=LearningSettings.from_env(), promotions=promotions)[0])
    return decisions, promotions


def promotions_counted(worker: WorkerProcess) -> dict[str, float]:
    """``zeikan_model_promotions_total`` by outcome on one worker."""
    with urllib.request.urlopen(f"http://127.0.0.1:{worker.port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {m[1]: float(m[2]) for m in re.finditer(r'zeikan_model_promotions_total\{outcome="(\w+)"\} (\S+)', text)}


def assert_live_equals_replay(records, live, expected, expected_promotions):
    """The live promotion records and decisions are replay's (a duplicate record is identical)."""
    by_boundary = {p["boundary"]: p for p in records}
    assert all(p == by_boundary[p["boundary"]] for p in records), "a duplicate record must be identical"
    assert sorted(by_boundary.values(), key=lambda p: p["boundary"]) == expected_promotions
    assert {d["decision_id"] for d in live} == {d["decision_id"] for d in expected}
    outcome = {d["decision_id"]: (d["model_versions"], d["risk_score"], d["action"]) for d in live}
    assert all(outcome[d["decision_id"]] == (d["model_versions"], d["risk_score"], d["action"]) for d in expected)


def all_promotions(bootstrap, count, log):
    """The ``model-promotions`` records, once ``count`` boundaries are on the topic."""
    return wait_until(lambda: (r := read_decoded(bootstrap, "model-promotions"))
                      and len({p["boundary"] for p in r}) >= count and r, 120, log)


@pytest.mark.parametrize("n_workers", [1, 2])
def test_live_promotions_and_decisions_equal_replay(fresh_broker, tmp_path, monkeypatch, n_workers):
    broker = fresh_broker()
    hist = history(days=5, per_day=200, seed=13, inspect_share=0.6)
    expected, expected_promotions = replayed(tmp_path, hist, monkeypatch)
    promoted = [p for p in expected_promotions if p["promoted"]]
    served = {d["model_versions"]["tabular"] for d in expected}
    assert promoted and len(served) >= 2, "the scenario itself must promote a candidate that serves inside the history"

    registry = tmp_path / "registry"
    env = {**LEARN_ENV, "ZEIKAN_REGISTRY": str(registry)}
    workers = [WorkerProcess(broker.bootstrap, tmp_path / f"w{i}", env) for i in range(n_workers)]
    try:
        for worker in workers:
            worker.wait_caught_up()
        publish_events(broker.bootstrap, in_event_time_order(hist, []))
        live = decision_ids_settle(broker.bootstrap, len(expected), 180, workers[0].log_path)
        records = all_promotions(broker.bootstrap, len(expected_promotions), workers[0].log_path)
        counted = [promotions_counted(w) for w in workers]
        learning = [w.state()["learning"] for w in workers]
    finally:
        for worker in workers:
            worker.stop()

    assert_live_equals_replay(records, live, expected, expected_promotions)
    reg = ModelRegistry(str(registry))
    assert reg.live_version() == promoted[-1]["candidate"]
    assert all(reg.info(p["candidate"]).promotion["promoted"] == p["promoted"]
               for p in expected_promotions if p["candidate"] is not None)
    assert sum(c.get("promoted", 0.0) for c in counted) >= len(promoted)
    assert sum(state["trainer"] for state in learning) == 1
    assert all(state["records"] == len(expected_promotions) for state in learning)


def test_a_worker_restored_from_a_snapshot_trains_the_same_candidates(fresh_broker, tmp_path, monkeypatch):
    broker = fresh_broker()
    hist = history(days=5, per_day=200, seed=13, inspect_share=0.6)
    expected, expected_promotions = replayed(tmp_path, hist, monkeypatch)
    env = {**LEARN_ENV, "ZEIKAN_REGISTRY": str(tmp_path / "registry"), **SNAPSHOT_OFTEN}
    events = in_event_time_order(hist, [])
    cut = next(i for i, (_, rec) in enumerate(events) if rec.get("filed_at", rec.get("inspected_at")) >= T0 + 3 * DAY)
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", env)
    try:
        worker.wait_caught_up()
        publish_events(broker.bootstrap, events[:cut])
        all_promotions(broker.bootstrap, 2, worker.log_path)  # boundaries day 1 and 2 decided before the kill
        worker.kill()
        worker = WorkerProcess(broker.bootstrap, tmp_path / "w", env)
        worker.wait_caught_up()
        publish_events(broker.bootstrap, events[cut:])
        live = decision_ids_settle(broker.bootstrap, len(expected), 180, worker.log_path)
        records = all_promotions(broker.bootstrap, len(expected_promotions), worker.log_path)
        log = worker.log_text()
    finally:
        worker.stop()
    assert "shared state restored from the snapshot" in log and "buffer rebuilt" in log
    assert_live_equals_replay(records, live, expected, expected_promotions)


def test_when_the_trainer_dies_the_other_worker_trains_the_same_candidates(fresh_broker, tmp_path, monkeypatch):
    broker = fresh_broker()
    hist = history(days=5, per_day=200, seed=13, inspect_share=0.6)
    expected, expected_promotions = replayed(tmp_path, hist, monkeypatch)
    env = {**LEARN_ENV, "ZEIKAN_REGISTRY": str(tmp_path / "registry")}
    events = in_event_time_order(hist, [])
    cut = next(i for i, (_, rec) in enumerate(events) if rec.get("filed_at", rec.get("inspected_at")) >= T0 + 3 * DAY)
    workers = [WorkerProcess(broker.bootstrap, tmp_path / f"w{i}", env) for i in range(2)]
    try:
        for worker in workers:
            worker.wait_caught_up()
        publish_events(broker.bootstrap, events[:cut])
        all_promotions(broker.bootstrap, 2, workers[0].log_path)
        trainer = wait_until(lambda: next((w for w in workers if (s := w.state()) and s["learning"]["trainer"]), None),
                             30, workers[0].log_path)
        survivor = next(w for w in workers if w is not trainer)
        trainer.kill()
        publish_events(broker.bootstrap, events[cut:])
        live = decision_ids_settle(broker.bootstrap, len(expected), 180, survivor.log_path)
        records = all_promotions(broker.bootstrap, len(expected_promotions), survivor.log_path)
        took_over = survivor.state()["learning"]["trainer"]
    finally:
        for worker in workers:
            worker.stop()
    assert took_over
    assert_live_equals_replay(records, live, expected, expected_promotions)
