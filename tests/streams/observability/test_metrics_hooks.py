"""PrometheusHooks: each hook moves its metric; one registry per worker; lag logic; settings."""

from __future__ import annotations

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry, generate_latest

from zeikan.schemas.examples import example_record
from zeikan.models.drift import reference_bins
from zeikan.streams.errors import InvalidSetting
from zeikan.streams.observability.health import WorkerHealth
from zeikan.streams.observability.hooks import PipelineHooks
from zeikan.streams.observability.metrics import PrometheusHooks, ZeikanMetrics, metric_names
from zeikan.streams.observability.wiring import (
    ObservabilitySettings,
    create_observability,
    lag_by_partition,
    partition_lag,
)


@pytest.fixture
def hooks() -> PrometheusHooks:
    return PrometheusHooks(ZeikanMetrics.create(CollectorRegistry(), process_metrics=False))


def value(hooks: PrometheusHooks, name: str, **labels: str) -> float | None:
    return hooks.metrics.registry.get_sample_value(name, labels)


def decision(**overrides: object) -> dict:
    record = {
        "stage": "PRE_ARRIVAL", "action": "SCAN", "office_id": "NLRTM", "random_selected": False,
        "risk_score": 0.82, "event_time": 1_700_000_000_000, "decided_at": 1_700_000_000_030,
    }
    record.update(overrides)
    return record


def test_prometheus_hooks_override_every_pipeline_hook() -> None:
    hook_names = {name for name in vars(PipelineHooks) if name.startswith("on_")}
    assert hook_names <= {name for name in vars(PrometheusHooks) if name.startswith("on_")}


def test_events_and_dead_letters_are_counted_per_topic_and_reason(hooks: PrometheusHooks) -> None:
    hooks.on_decoded("declarations", 5)
    hooks.on_decoded("declarations", 2)
    hooks.on_dead_letter("scans", "SEMANTIC")
    assert value(hooks, "zeikan_events_in_total", topic="declarations") == 7
    assert value(hooks, "zeikan_dead_letters_total", topic="scans", reason="SEMANTIC") == 1
    assert value(hooks, "zeikan_events_out_total", topic="dead-letters") == 1


def test_decisions_feed_lane_counts_latency_and_scores(hooks: PrometheusHooks) -> None:
    hooks.on_decisions([decision(), decision(random_selected=True, action="RELEASE", risk_score=0.1), decision()])
    assert value(hooks, "zeikan_decisions_total", stage="PRE_ARRIVAL", lane="SCAN", office="NLRTM", selection="risk") == 2
    assert value(hooks, "zeikan_decisions_total", stage="PRE_ARRIVAL", lane="RELEASE", office="NLRTM", selection="random") == 1
    assert value(hooks, "zeikan_events_out_total", topic="decisions") == 3
    assert value(hooks, "zeikan_decision_latency_seconds_count", stage="PRE_ARRIVAL") == 3
    assert value(hooks, "zeikan_decision_latency_seconds_sum", stage="PRE_ARRIVAL") == pytest.approx(0.09)
    assert value(hooks, "zeikan_decision_latency_seconds_bucket", stage="PRE_ARRIVAL", le="0.025") == 0
    assert value(hooks, "zeikan_decision_latency_seconds_bucket", stage="PRE_ARRIVAL", le="0.05") == 3
    assert value(hooks, "zeikan_risk_score_bucket", stage="PRE_ARRIVAL", le="0.15") == 1
    assert value(hooks, "zeikan_risk_score_count", stage="PRE_ARRIVAL") == 3


def test_inspection_feedback_counts_hits_per_lane_and_selection(hooks: PrometheusHooks) -> None:
    result = example_record("inspection-results")
    hooks.on_feedback({**result, "inspection_type": "PHYSICAL", "outcome": "SEIZURE", "random_selected": True})
    hooks.on_feedback({**result, "inspection_type": "DOCUMENT", "outcome": "NO_FINDING", "random_selected": False})
    assert value(hooks, "zeikan_inspections_total", lane="PHYSICAL_EXAM", selection="random", outcome="SEIZURE") == 1
    assert value(hooks, "zeikan_inspections_total", lane="DOCUMENT_CHECK", selection="risk", outcome="NO_FINDING") == 1


def test_state_overdue_capacity_and_latency_hooks(hooks: PrometheusHooks) -> None:
    hooks.on_join_state(40, 7, 12)
    hooks.on_overdue(2)
    hooks.on_capacity("NLRTM", "SCAN", 120)
    hooks.on_batch_latency("decide", 0.004)
    hooks.on_model_latency("tabular", 0.002, 500)
    hooks.on_image_batch(16, 0.3)
    hooks.on_rules_reloaded("v2", ok=False)
    assert value(hooks, "zeikan_join_state_entries") == 40
    assert value(hooks, "zeikan_join_pending_scans") == 7
    assert value(hooks, "zeikan_join_container_entries") == 12
    assert value(hooks, "zeikan_scans_overdue_total") == 2
    assert value(hooks, "zeikan_events_out_total", topic="scan-overdue") == 2
    assert value(hooks, "zeikan_capacity_target_per_day", office="NLRTM", lane="SCAN") == 120
    assert value(hooks, "zeikan_stage_duration_seconds_count", stage="decide") == 1
    assert value(hooks, "zeikan_model_inference_seconds_count", role="tabular") == 1
    assert value(hooks, "zeikan_image_inference_seconds_bucket", le="0.5") == 1
    assert value(hooks, "zeikan_image_batch_size_bucket", le="8.0") == 0
    assert value(hooks, "zeikan_image_batch_size_bucket", le="16.0") == 1
    assert value(hooks, "zeikan_rule_reloads_total", result="rejected") == 1


def test_model_info_keeps_one_version_per_role_and_tells_health(hooks: PrometheusHooks) -> None:
    hooks.health = WorkerHealth(required_models=("tabular",))
    hooks.on_model_loaded("tabular", "lgbm-1")
    hooks.on_model_loaded("image", "cnn-1")
    hooks.on_model_loaded("tabular", "lgbm-2")
    assert value(hooks, "zeikan_model_info", role="tabular", version="lgbm-1") is None
    assert value(hooks, "zeikan_model_info", role="tabular", version="lgbm-2") == 1
    assert value(hooks, "zeikan_model_info", role="image", version="cnn-1") == 1
    assert hooks.health.models == {"tabular": "lgbm-2", "image": "cnn-1"}


def test_lag_gauge_follows_the_current_assignment(hooks: PrometheusHooks) -> None:
    hooks.on_lag({("declarations", 0): 12, ("declarations", 1): 0})
    hooks.on_lag({("declarations", 1): 4, ("scans", 3): 9})
    assert value(hooks, "zeikan_consumer_lag_messages", topic="declarations", partition="0") is None
    assert value(hooks, "zeikan_consumer_lag_messages", topic="declarations", partition="1") == 4
    assert value(hooks, "zeikan_consumer_lag_messages", topic="scans", partition="3") == 9


def test_drift_gauge_is_fed_from_scored_feature_rows() -> None:
    metadata = {"feature_bins": {"unit_value_z": reference_bins([i / 10 for i in range(-30, 30)]).to_json()}}
    hooks, _ = create_observability(ObservabilitySettings(drift_window=100), model_metadata=metadata)
    hooks.on_features([{"unit_value_z": 0.0, "other": 1.0}] * 100)
    assert value(hooks, "zeikan_feature_drift_psi", feature="unit_value_z") > 0.25
    plain, _ = create_observability()
    plain.on_features([{"unit_value_z": 0.0}])
    assert value(plain, "zeikan_feature_drift_psi", feature="unit_value_z") is None


def test_drift_reference_follows_the_announced_tabular_model() -> None:
    bins = {"unit_value_z": reference_bins([i / 10 for i in range(-30, 30)]).to_json()}
    looked_up: list[str] = []

    def metadata_for(version: str) -> dict | None:
        looked_up.append(version)
        return {"version": version, "feature_bins": bins} if version.startswith("lgbm") else None

    hooks, _ = create_observability(ObservabilitySettings(drift_window=100), metadata_for=metadata_for)
    hooks.on_model_loaded("tabular", "heuristic-1")
    hooks.on_features([{"unit_value_z": 0.0}] * 10)
    assert value(hooks, "zeikan_feature_drift_psi", feature="unit_value_z") is None
    hooks.on_model_loaded("tabular", "lgbm-1")
    hooks.on_model_loaded("tabular", "lgbm-1")
    hooks.on_model_loaded("image", "cnn-1")
    hooks.on_features([{"unit_value_z": 0.0}] * 10)
    assert hooks.drift is not None and hooks.drift.version == "lgbm-1"
    assert value(hooks, "zeikan_feature_drift_psi", feature="unit_value_z") > 0.25
    assert looked_up == ["heuristic-1", "lgbm-1"], "read once per tabular model"
    hooks.on_model_loaded("tabular", "heuristic-1")
    assert hooks.drift is None and value(hooks, "zeikan_feature_drift_psi", feature="unit_value_z") is None


def test_each_worker_registry_is_independent() -> None:
    first, _ = create_observability()
    second, _ = create_observability()
    first.on_decoded("declarations", 3)
    assert value(first, "zeikan_events_in_total", topic="declarations") == 3
    assert value(second, "zeikan_events_in_total", topic="declarations") is None
    assert b"process_resident_memory_bytes" in generate_latest(first.metrics.registry)
    shared = CollectorRegistry()
    ZeikanMetrics.create(shared)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        ZeikanMetrics.create(shared)


def test_metric_names_lists_exported_sample_names(hooks: PrometheusHooks) -> None:
    names = metric_names(hooks.metrics.registry)
    assert {"zeikan_events_in_total", "zeikan_decision_latency_seconds_bucket", "zeikan_consumer_lag_messages"} <= names
    assert all(name.startswith("zeikan_") for name in names)


def test_partition_lag_prefers_committed_over_position() -> None:
    assert partition_lag(100, 60, 90) == 40
    assert partition_lag(100, None, 90) == 10
    assert partition_lag(100, 120, None) == 0
    assert partition_lag(None, 1, 1) is None
    assert partition_lag(10, None, None) is None
    a, b, c = TP("declarations", 0), TP("declarations", 1), TP("scans", 2)
    lag = lag_by_partition([a, b, c], {a: 50, b: 7, c: 3}, {a: 45, b: None, c: None}, {b: 2})
    assert lag == {("declarations", 0): 5, ("declarations", 1): 5}


def test_observability_settings_from_env() -> None:
    settings = ObservabilitySettings.from_env(
        {"ZEIKAN_LAG_INTERVAL_S": "0.5", "ZEIKAN_DRIFT_WINDOW": "100", "ZEIKAN_REQUIRED_MODELS": "tabular, image"}
    )
    assert settings == ObservabilitySettings(lag_interval_s=0.5, drift_window=100, required_models=("tabular", "image"))
    assert ObservabilitySettings.from_env({}) == ObservabilitySettings()
    with pytest.raises(InvalidSetting):
        ObservabilitySettings.from_env({"ZEIKAN_LAG_INTERVAL_S": "soon"})
    with pytest.raises(InvalidSetting):
        ObservabilitySettings.from_env({"ZEIKAN_LAG_INTERVAL_S": "0"})
