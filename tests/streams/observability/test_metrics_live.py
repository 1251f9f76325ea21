"""A running ``zeikan worker`` serves /metrics, /healthz and /readyz, and its metrics move
while a simulated stream flows through it (real broker, real worker process, no mocks)."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.streams.pipeline_factories import history
from tests.streams.worker_harness import WorkerProcess, in_event_time_order, publish_events, wait_until
from zeikan.bench.common import http_get
from zeikan.streams.kafka.kafka_io import publish

pytestmark = pytest.mark.timeout(240)

Samples = dict[str, dict[frozenset, float]]


def scrape(port: int) -> Samples:
    """The worker's /metrics as {sample name: {label set: value}}."""
    status, body = http_get(port, "/metrics")
    assert status == 200
    samples: Samples = defaultdict(dict)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name][frozenset(sample.labels.items())] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name`` over the label sets that include ``labels``."""
    wanted = set(labels.items())
    return sum(value for label_set, value in samples.get(name, {}).items() if wanted <= label_set)


def test_worker_metrics_move_during_a_simulated_stream(fresh_broker, tmp_path) -> None:
    broker = fresh_broker()
    events = in_event_time_order(history(days=2, per_day=120, seed=5), [])
    half = len(events) // 2
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w1", {"ZEIKAN_LAG_INTERVAL_S": "0.3"})
    try:
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 200, 90, worker.log_path)
        health = json.loads(http_get(worker.port, "/healthz")[1])
        assert health["live"] and health["checks"] == {
            "partitions_assigned": True, "tables_recovered": True, "model_loaded": True,
            "state_caught_up": True, "broker_reachable": True, "making_progress": True,
        }  # fmt: skip
        before = scrape(worker.port)
        assert total(before, "zeikan_worker_ready") == 1
        assert total(before, "zeikan_model_info", role="tabular") == 1
        assert total(before, "zeikan_gc_pause_seconds_count", generation="1") > 0, "collections are measured"

        publish_events(broker.bootstrap, events[:half])
        publish(broker.bootstrap, [("declarations", b"\x00not avro", b"BAD-1")])
        first = wait_until(lambda: (s := scrape(worker.port)) and total(s, "zeikan_decisions_total") > 0 and s, 90, worker.log_path)

        publish_events(broker.bootstrap, events[half:])
        declarations = sum(1 for topic, _ in events if topic == "declarations")

        def all_decided() -> Samples | None:
            s = scrape(worker.port)
            pre = total(s, "zeikan_decisions_total", stage="PRE_ARRIVAL")
            lag = s.get("zeikan_consumer_lag_messages", {})
            caught_up = lag and total(s, "zeikan_consumer_lag_messages", topic="declarations") == 0
            return s if pre >= declarations and caught_up else None

        after = wait_until(all_decided, 120, worker.log_path, every_s=0.5)
    finally:
        worker.stop()

    # counts rise between scrapes
    assert total(before, "zeikan_events_in_total", topic="declarations") == 0
    assert 0 < total(first, "zeikan_events_in_total", topic="declarations") < total(after, "zeikan_events_in_total", topic="declarations")
    assert total(first, "zeikan_decisions_total") < total(after, "zeikan_decisions_total")
    assert total(after, "zeikan_events_out_total", topic="decisions") >= declarations
    assert total(after, "zeikan_dead_letters_total", topic="declarations", reason="DECODE") == 1
    assert total(after, "zeikan_gc_frozen_objects") > 100_000, "the heap is frozen once caught up"
    # histograms filled
    decided = total(after, "zeikan_decisions_total", stage="PRE_ARRIVAL")
    assert total(after, "zeikan_decision_latency_seconds_count", stage="PRE_ARRIVAL") == decided
    assert total(after, "zeikan_risk_score_count", stage="PRE_ARRIVAL") == decided
    assert total(after, "zeikan_risk_score_bucket", stage="PRE_ARRIVAL", le="+Inf") == decided
    assert total(after, "zeikan_stage_duration_seconds_count", stage="decide") > 0
    # lag reported per assigned partition of the input topics (and drained to 0)
    lag_partitions = {dict(labels)["partition"] for labels in after["zeikan_consumer_lag_messages"] if ("topic", "declarations") in labels}
    assert lag_partitions == {str(p) for p in range(8)}
    assert total(after, "process_resident_memory_bytes") > 0


def test_two_workers_each_serve_their_own_registry(fresh_broker, tmp_path) -> None:
    broker = fresh_broker()
    events = in_event_time_order(history(days=1, per_day=80, seed=6), [])
    declarations = sum(1 for topic, _ in events if topic == "declarations")
    workers = [WorkerProcess(broker.bootstrap, tmp_path / f"w{i}", {"ZEIKAN_LAG_INTERVAL_S": "0.3"}) for i in (1, 2)]
    try:

        def both_ready_and_split() -> bool:
            if not all(http_get(w.port, "/readyz")[0] == 200 for w in workers):
                return False
            assigned = [json.loads(http_get(w.port, "/readyz")[1])["assigned_partitions"] for w in workers]
            return all(assigned)

        wait_until(both_ready_and_split, 120, workers[1].log_path)
        publish_events(broker.bootstrap, events)

        def decided_by_both() -> list[Samples] | None:
            scraped = [scrape(w.port) for w in workers]
            decided = sum(total(s, "zeikan_decisions_total", stage="PRE_ARRIVAL") for s in scraped)
            lag_reported = all(s.get("zeikan_consumer_lag_messages") for s in scraped)
            return scraped if decided >= declarations and lag_reported else None

        scraped = wait_until(decided_by_both, 120, workers[0].log_path, every_s=0.5)
    finally:
        for worker in workers:
            worker.stop()

    partitions = [  # each worker reports the partitions it holds, none twice
        {dict(labels)["partition"] for labels in s["zeikan_consumer_lag_messages"] if ("topic", "declarations") in labels}
        for s in scraped
    ]
    assert partitions[0] and partitions[1] and not partitions[0] & partitions[1]
    assert partitions[0] | partitions[1] == {str(p) for p in range(8)}
    in_counts = [total(s, "zeikan_events_in_total", topic="declarations") for s in scraped]
    assert all(in_counts) and sum(in_counts) >= declarations


def test_a_worker_serving_a_registry_model_exports_feature_drift_and_model_latency(fresh_broker, tmp_path) -> None:
    from tests.streams.model_factories import trained_registry
    from zeikan.features.names import FEATURE_NAMES

    registry, (version,) = trained_registry(tmp_path / "models")
    broker = fresh_broker()
    decls = history(days=1, per_day=60, seed=7)["declarations"]
    worker = WorkerProcess(broker.bootstrap, tmp_path / "w", {"ZEIKAN_REGISTRY": registry.url, "ZEIKAN_DRIFT_WINDOW": "50"})
    try:
        wait_until(lambda: http_get(worker.port, "/readyz")[0] == 200, 90, worker.log_path)
        before = scrape(worker.port)
        publish_events(broker.bootstrap, [("declarations", d) for d in decls])

        def drift_for_every_feature() -> Samples | None:
            s = scrape(worker.port)
            drifted = {dict(labels)["feature"] for labels in s.get("zeikan_feature_drift_psi", {})}
            return s if drifted == set(FEATURE_NAMES) else None

        after = wait_until(drift_for_every_feature, 90, worker.log_path, every_s=0.5)
    finally:
        worker.stop()

    assert total(before, "zeikan_model_info", role="tabular", version=version) == 1
    assert not before.get("zeikan_feature_drift_psi"), "no PSI before any feature row was scored"
    assert all(v >= 0 for v in after["zeikan_feature_drift_psi"].values())
    assert total(after, "zeikan_model_inference_seconds_count", role="tabular") > 0
