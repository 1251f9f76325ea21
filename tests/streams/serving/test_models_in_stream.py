"""The registry's LightGBM model in a real ``zeikan worker`` on a real broker: versions, TreeSHAP reasons,
hot reload of a promoted model, shadow scores (no mocks)."""

from __future__ import annotations

import time

import pytest

from tests.streams.model_factories import trained_registry
from tests.streams.pipeline_factories import history
from tests.streams.worker_harness import WorkerProcess, decision_ids_settle, publish_events
from zeikan.features.online import OnlineFeatureState
from zeikan.models.tabular import LightGBMScorer
from zeikan.schemas.jsonl import write_jsonl
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.engine.replay import History, timeline
from zeikan.streams.replay import replay
from zeikan.streams.settings import DEFAULT_RULES

pytestmark = pytest.mark.timeout(120)

POLL_S = 0.3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return trained_registry(tmp_path_factory.mktemp("models"), versions=3)


def verdicts(registry, version, declarations):
    """The engine's verdicts with model ``version`` over the same history (in-process)."""
    scorer = LightGBMScorer.from_registry(registry, version)
    config = EngineConfig()
    engine = DecisionEngine(SharedState(config), scorer, lambda: RuleFile(DEFAULT_RULES).book)
    epochs = timeline(History(declarations=list(declarations)), config.epoch_ms)
    return {v.declaration_id: v for epoch, decls, _, _ in epochs for v in engine.run_epoch(epoch, decls)}


def expected_reasons(registry, version, declarations):
    """TreeSHAP reasons of each declaration, from the same model over the same history."""
    scorer = LightGBMScorer.from_registry(registry, version)
    return {i: scorer.explain(v.declaration, v.features).reasons for i, v in verdicts(registry, version, declarations).items()}


def test_worker_serves_the_live_model_with_treeshap_reasons_and_hot_reloads_a_promotion(fresh_broker, tmp_path, models):
    registry, (v1, v2, _) = models
    registry.promote(v1)
    broker = fresh_broker()
    decls = history(days=1, per_day=80, seed=11)["declarations"]
    first, second = decls[:50], decls[50:]
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", {"ZEIKAN_REGISTRY": registry.url, "ZEIKAN_MODEL_POLL_S": str(POLL_S)})
    try:
        worker.wait_caught_up()
        publish_events(broker.bootstrap, [("declarations", d) for d in first])
        before = {d["declaration_id"]: d for d in decision_ids_settle(broker.bootstrap, len(first), 60, worker.log_path)}
        registry.promote(v2)
        time.sleep(3 * POLL_S)
        publish_events(broker.bootstrap, [("declarations", d) for d in second])
        decided = {d["declaration_id"]: d for d in decision_ids_settle(broker.bootstrap, len(decls), 60, worker.log_path)}
        log = worker.log_text()
    finally:
        worker.stop()
        registry.promote(v1)

    assert {before[d["declaration_id"]]["model_versions"]["tabular"] for d in first} == {v1}
    assert {decided[d["declaration_id"]]["model_versions"]["tabular"] for d in second} == {v2}
    shap = expected_reasons(registry, v1, first)
    selected = [before[d["declaration_id"]] for d in first if before[d["declaration_id"]]["action"] != "RELEASE"]
    assert selected, "the capacity thresholds select some of the first batch"
    for decision in selected:
        reasons = shap[decision["declaration_id"]]
        assert decision["reasons"][len(decision["reasons"]) - len(reasons):] == reasons
    assert any(shap[d["declaration_id"]] for d in selected), "at least one selection carries TreeSHAP reasons"
    assert f"{v1} -> {v2}" in log

    directory = tmp_path / "first"
    directory.mkdir()
    write_jsonl(directory / "declarations.jsonl", "declarations", first)
    replayed = list(replay(directory, RuleFile(DEFAULT_RULES).book, EngineConfig(), registry.url)[0])
    assert {d["decision_id"] for d in replayed} == {before[d["declaration_id"]]["decision_id"] for d in first}, \
        "live == replay with the registry model"


def test_shadow_model_scores_beside_the_live_one_and_is_logged(fresh_broker, tmp_path, models):
    registry, (v1, _, v3) = models
    registry.promote(v1)
    broker = fresh_broker()
    decls = history(days=1, per_day=40, seed=12)["declarations"]
    env = {"ZEIKAN_REGISTRY": registry.url, "ZEIKAN_SHADOW_MODEL": v3}
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", env)
    try:
        worker.wait_caught_up()
        publish_events(broker.bootstrap, [("declarations", d) for d in decls])
        decided = decision_ids_settle(broker.bootstrap, len(decls), 60, worker.log_path)
        time.sleep(0.5)
        log = worker.log_text()
    finally:
        worker.stop()

    own, live = (verdicts(registry, version, decls) for version in (v3, v1))
    assert any(own[i].tabular_score != live[i].tabular_score for i in own), "the candidate is a different model"
    for decision in decided:
        decl_id = decision["declaration_id"]
        assert decision["model_versions"]["tabular"] == v1
        assert decision["shadow_scores"] == {v3: round(own[decl_id].tabular_score, 6)}
        assert decision["action"] == live[decl_id].action.value, "the shadow score is never acted on"
    assert f"shadow {v3} over" in log and "never acted on" in log
