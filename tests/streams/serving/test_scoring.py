"""The scorer factory: registry model with hot reload, heuristic fallback, shadow scores, the image model off the loop."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.streams.model_factories import trained_registry
from tests.streams.pipeline_factories import history
from zeikan.features.online import OnlineFeatureState
from zeikan.models.base import ImageAssessment
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.image_unavailable import UnavailableImageScorer
from zeikan.images.scorer import OnnxImageScorer
from zeikan.models.tabular import LightGBMScorer
from zeikan.streams.serving import scoring
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.engine.core import DecisionEngine, explained_record
from zeikan.streams.engine.rules import RuleFile
from zeikan.streams.observability.hooks import PipelineHooks


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return trained_registry(tmp_path_factory.mktemp("models"), versions=2)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Loaded(PipelineHooks):
    def __init__(self) -> None:
        self.loaded: list[tuple[str, str]] = []

    def on_model_loaded(self, role: str, version: str) -> None:
        self.loaded.append((role, version))


def events(n: int = 40) -> list[dict]:
    return history(days=1, per_day=n, seed=3)["declarations"]


def engine(scorer, shadow=None) -> DecisionEngine:
    return DecisionEngine(SharedState(EngineConfig()), scorer, lambda: RuleFile(None).book, shadow)


def test_empty_registry_serves_the_heuristic_then_the_first_promoted_model(models, tmp_path, caplog):
    registry, (v1, _) = models
    empty = tmp_path / "empty"
    clock, hooks = Clock(), Loaded()
    with caplog.at_level(logging.WARNING, logger="zeikan.serving"):
        scorer = scoring.RegistryScorer(type(registry)(str(empty)), poll_s=5.0, hooks=hooks, clock=clock)
    assert scorer.version == HeuristicTabularScorer.version
    assert "no live model in registry" in caplog.text and "heuristic" in caplog.text

    info, model = registry.load(v1)
    type(registry)(str(empty)).register(model, "promoted1" + info.data_hash, promote=True)
    decls = events(5)
    rows = [OnlineFeatureState().features(d) for d in decls]
    scorer.score_batch(decls, rows)
    assert scorer.version == HeuristicTabularScorer.version, "the registry is polled at most every poll_s"
    clock.now = 5.0
    scorer.score_batch(decls, rows)
    assert scorer.version.startswith("lgbm-") and hooks.loaded == [("tabular", scorer.version)]


def test_promotion_is_hot_reloaded_and_every_decision_names_its_model(models, tmp_path):
    registry, (v1, v2) = models
    clock, hooks = Clock(), Loaded()
    scorer = scoring.RegistryScorer(registry, poll_s=1.0, hooks=hooks, clock=clock)
    assert scorer.version == v1
    batch = events(40)
    before = engine(scorer).decide(batch)
    registry.promote(v2)
    clock.now = 1.0
    try:
        after = engine(scorer).decide(batch)
    finally:
        registry.promote(v1)
    assert {v.versions["tabular"] for v in before} == {v1} and {v.versions["tabular"] for v in after} == {v2}
    assert hooks.loaded == [("tabular", v2)]
    ids_before = {explained_record(v, scorer, 0)["decision_id"] for v in before}
    ids_after = {explained_record(v, scorer, 0)["decision_id"] for v in after}
    assert not ids_before & ids_after, "a new model version gives new decision ids"


def test_selected_declarations_get_treeshap_reasons(models):
    registry, (v1, _) = models
    scorer = scoring.build_tabular_scorer(registry.url)
    assert isinstance(scorer, LightGBMScorer) and scorer.version == v1
    verdicts = engine(scorer).decide(events(80))
    selected = [v for v in verdicts if v.action.value != "RELEASE"]
    assert selected
    for verdict in selected:
        record = explained_record(verdict, scorer, 0)
        shap = scorer.explain(verdict.declaration, verdict.features).reasons
        assert record["reasons"][len(record["reasons"]) - len(shap):] == shap
        assert record["model_versions"]["tabular"] == v1
    assert any(scorer.explain(v.declaration, v.features).reasons for v in selected)


def test_shadow_scores_are_recorded_and_never_acted_on(models, caplog):
    registry, (v1, v2) = models
    live = scoring.build_tabular_scorer(registry.url)
    hooks = Loaded()
    with caplog.at_level(logging.INFO, logger="zeikan.serving"):
        shadow = scoring.build_shadow_scorers(registry.url, f" {v2} ,", hooks)
        batch = events(60)
        plain = [explained_record(v, live, 0) for v in engine(live).decide(batch)]
        shadowed = [explained_record(v, live, 0) for v in engine(live, shadow).decide(batch)]
    for a, b in zip(plain, shadowed):
        assert set(b["shadow_scores"]) == {v2} and 0.0 <= b["shadow_scores"][v2] <= 1.0
        assert {k: v for k, v in b.items() if k != "shadow_scores"} == {k: v for k, v in a.items() if k != "shadow_scores"}
    assert ("shadow", v2) in hooks.loaded
    assert f"shadow {v2} over 60 declarations" in caplog.text and "never acted on" in caplog.text


def test_shadow_scores_equal_the_candidates_own_scores(models):
    registry, (v1, v2) = models
    shadow = scoring.build_shadow_scorers(registry.url, v2)
    verdicts = engine(scoring.build_tabular_scorer(registry.url), shadow).decide(events(30))
    candidate = LightGBMScorer.from_registry(registry, v2)
    own = candidate.score_batch([v.declaration for v in verdicts], [v.features for v in verdicts])
    assert [v.shadow_scores[v2] for v in verdicts] == [round(s, 6) for s in own]


def test_unknown_shadow_version_is_a_zeikan_error(models):
    from zeikan.errors import ZeikanError

    registry, _ = models
    with pytest.raises(ZeikanError, match="lgbm-nope"):
        scoring.build_shadow_scorers(registry.url, "lgbm-nope")


def test_worker_cli_passes_registry_and_shadow(monkeypatch):
    from zeikan.streams import worker
    from zeikan.cli.main import app

    seen = []
    monkeypatch.setattr(worker, "run_worker", lambda settings, kafka, loglevel: seen.append(settings))
    result = CliRunner().invoke(app, ["worker", "--registry", "memory://reg", "--shadow", "lgbm-b"])
    assert result.exit_code == 0, result.output
    assert (seen[0].registry, seen[0].shadow_model) == ("memory://reg", "lgbm-b")


def test_no_shadow_configured_means_none():
    assert scoring.build_shadow_scorers("unused", "") is None and scoring.parse_shadow(None) == []


def test_image_scorer_is_the_onnx_model_or_says_it_is_unavailable(tmp_path, monkeypatch, caplog):
    onnx = scoring.build_image_scorer()
    assert isinstance(onnx, OnnxImageScorer) and onnx.version != UnavailableImageScorer.version
    onnx.close()
    monkeypatch.setenv("ZEIKAN_IMAGE_MODEL_DIR", str(tmp_path / "no-model"))
    with caplog.at_level(logging.WARNING, logger="zeikan.serving"):
        none = scoring.build_image_scorer()
    assert isinstance(none, UnavailableImageScorer) and "image model unusable" in caplog.text
    found = none.assess_batch([{"scan_id": "S1", "container_id": "C1", "image_uri": "x"}], [[]])
    assert found[0].anomaly_score is None and found[0].reasons == ("image model unavailable: analyst review",)


class SlowImages:
    version = "slow-1"

    def assess_batch(self, scans, declared):
        time.sleep(0.3)
        return [ImageAssessment(s["scan_id"], s["container_id"], 0.1) for s in scans]


def test_image_scoring_runs_off_the_event_loop():
    async def scenario() -> tuple[int, list]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        opened = {"declaration": {"declaration_id": "D1", "items": [], "containers": ["C1"]}}
        result = await scoring.assess_off_loop(SlowImages(), [(opened, [{"scan_id": "S1", "container_id": "C1"}])])
        done.set()
        await task
        return ticks, result

    ticks, result = asyncio.run(scenario())
    assert ticks >= 5, "the loop kept running while the image batch was scored"
    assert [[a.scan_id for a in found] for found in result] == [["S1"]]


def test_replay_serves_the_registry_model(models, tmp_path):
    from zeikan.schemas.jsonl import write_jsonl
    from zeikan.streams.replay import replay

    registry, (v1, v2) = models
    hist = history(days=1, per_day=30, seed=4)
    directory = tmp_path / "h"
    directory.mkdir()
    write_jsonl(directory / "declarations.jsonl", "declarations", hist["declarations"])
    decisions = list(replay(directory, RuleFile(None).book, EngineConfig(), registry.url, v2)[0])
    assert {d["model_versions"]["tabular"] for d in decisions} == {v1}
    assert all(set(d["shadow_scores"]) == {v2} for d in decisions)


def test_worker_settings_read_registry_and_shadow_from_env(tmp_path: Path):
    from zeikan.streams.settings import WorkerSettings

    settings = WorkerSettings.from_env({"ZEIKAN_REGISTRY": "memory://r", "ZEIKAN_SHADOW_MODEL": "a,b", "ZEIKAN_MODEL_POLL_S": "2"})
    assert (settings.registry, settings.shadow_model, settings.model_poll_s) == ("memory://r", "a,b", 2.0)
    assert WorkerSettings.from_env({}, shadow_model="c").shadow_model == "c"


def test_the_registry_is_polled_once_per_interval(models):
    registry, (v1, v2) = models
    polls = []

    class Counted(type(registry)):
        def live_version(self, *role):
            polls.append(1)
            return super().live_version(*role)

    clock = Clock()
    scorer = scoring.RegistryScorer(Counted(registry.url), poll_s=1.0, clock=clock)
    decls = events(3)
    rows = [OnlineFeatureState().features(d) for d in decls]
    polls.clear()
    for _ in range(5):
        scorer.score_batch(decls, rows)
    assert polls == [], "no poll within poll_s"
    registry.promote(v2)
    try:
        clock.now = 1.0
        for _ in range(5):
            scorer.score_batch(decls, rows)
        assert len(polls) == 1 and scorer.version == v2
    finally:
        registry.promote(v1)


def test_a_broken_promotion_keeps_the_serving_model(models, tmp_path, caplog):
    registry, (v1, _) = models
    reg = type(registry)(str(tmp_path / "reg"))
    info, model = registry.load(v1)
    good = reg.register(model, "good0000" + info.data_hash, promote=True).version
    broken = reg.register(model, "bad00000" + info.data_hash).version
    (tmp_path / "reg" / broken / "model.txt").write_text("not a model")
    clock = Clock()
    scorer = scoring.RegistryScorer(reg, poll_s=1.0, clock=clock)
    reg.promote(broken)
    clock.now = 1.0
    decls = events(3)
    with caplog.at_level(logging.ERROR, logger="zeikan.serving"):
        scores = scorer.score_batch(decls, [OnlineFeatureState().features(d) for d in decls])
    assert scorer.version == good and len(scores) == 3
    assert "cannot load the promoted model" in caplog.text


def observed(hooks, name: str, **labels: str) -> float | None:
    return hooks.metrics.registry.get_sample_value(name, labels)


def test_feature_drift_follows_the_serving_model_through_a_hot_swap(models, tmp_path):
    from dataclasses import replace
    from functools import partial

    from zeikan.features.names import FEATURE_NAMES
    from zeikan.streams.observability.wiring import ObservabilitySettings, create_observability

    registry, (v1, _) = models
    reg = type(registry)(str(tmp_path / "reg"))
    info, model = registry.load(v1)
    first = reg.register(model, "first000" + info.data_hash, promote=True).version
    far = {"log_total_value": {"edges": [1e6], "fractions": [0.0, 1.0]}}  # trained on values no live row has
    second = reg.register(replace(model, feature_bins=far), "second00" + info.data_hash).version
    hooks, _ = create_observability(ObservabilitySettings(drift_window=500), metadata_for=partial(scoring.registry_metadata, reg.url))
    clock = Clock()
    scorer = scoring.RegistryScorer(reg, poll_s=1.0, hooks=hooks, clock=clock)
    hooks.on_model_loaded("tabular", scorer.version)  # as the app factory announces the serving model

    def decide(batch):  # as the decide agent: score, then feed the scored feature rows
        verdicts = engine(scorer).decide(batch)
        hooks.on_features([v.features for v in verdicts])

    assert observed(hooks, "zeikan_feature_drift_psi", feature="log_total_value") is None
    decide(events(60))
    assert hooks.drift.version == first
    psi_first = {f: observed(hooks, "zeikan_feature_drift_psi", feature=f) for f in FEATURE_NAMES}
    assert all(v is not None and v >= 0 for v in psi_first.values()), "every feature of the model gets a PSI"
    reg.promote(second)
    clock.now = 1.0
    decide(events(60))
    assert scorer.version == second and hooks.drift.version == second
    assert observed(hooks, "zeikan_feature_drift_psi", feature="log_total_value") > 5.0
    assert observed(hooks, "zeikan_feature_drift_psi", feature="uv_z_hs") is None, "features the new model has no bins for are dropped"


def test_model_calls_report_their_latency(models):
    from zeikan.streams.observability.wiring import ObservabilitySettings, create_observability

    registry, (v1, v2) = models
    hooks, _ = create_observability(ObservabilitySettings())
    scorer = scoring.RegistryScorer(registry, poll_s=60.0, hooks=hooks)
    shadow = scoring.build_shadow_scorers(registry.url, v2, hooks)
    engine(scorer, shadow).decide(events(20))
    images = scoring.build_image_scorer(hooks)
    assert isinstance(images, scoring.TimedImageScorer) and images.version == images.scorer.version
    timed = scoring.TimedImageScorer(SlowImages(), hooks)
    opened = {"declaration": {"declaration_id": "D1", "items": [], "containers": ["C1", "C2"]}}
    scans = [{"scan_id": "S1", "container_id": "C1"}, {"scan_id": "S2", "container_id": "C2"}]
    found = asyncio.run(scoring.assess_off_loop(timed, [(opened, scans)]))
    assert [a.scan_id for a in found[0]] == ["S1", "S2"]
    for role in ("tabular", "shadow"):
        assert observed(hooks, "zeikan_model_inference_seconds_count", role=role) >= 1
    assert observed(hooks, "zeikan_model_inference_seconds_count", role="image") == 1
    assert observed(hooks, "zeikan_model_inference_seconds_sum", role="image") >= 0.3


def test_scans_without_an_image_score_are_counted_by_reason(tmp_path, monkeypatch):
    from zeikan.streams.observability.wiring import ObservabilitySettings, create_observability

    hooks, _ = create_observability(ObservabilitySettings())
    monkeypatch.setenv("ZEIKAN_IMAGE_MODEL_DIR", str(tmp_path / "no-model"))
    images = scoring.build_image_scorer(hooks)
    assert isinstance(images.scorer, UnavailableImageScorer)
    scans = [{"scan_id": f"S{i}", "container_id": "C1", "image_uri": "x"} for i in range(3)]
    images.assess_batch(scans, [[]] * 3)
    assert observed(hooks, "zeikan_images_unassessed_total", reason="model_unavailable") == 3
    assert observed(hooks, "zeikan_images_unassessed_total", reason="image_refused") is None
