"""Every Prometheus metric of a zeikan worker, created in one place against one registry.

A worker process creates one :class:`~prometheus_client.CollectorRegistry`, builds
:class:`ZeikanMetrics` on it and hands :class:`PrometheusHooks` to its agents; the agents
only call named hook methods (STYLE.md #7, like faust's ``sensors/prometheus.py``).
Several workers never share a registry, so nothing clashes; each is scraped apart.

>>> from prometheus_client import CollectorRegistry
>>> hooks = PrometheusHooks(ZeikanMetrics.create(CollectorRegistry()))
>>> hooks.on_decoded("declarations", 3)
>>> hooks.metrics.registry.get_sample_value("zeikan_events_in_total", {"topic": "declarations"})
3.0
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from zeikan.models.drift import DriftMonitor
from zeikan.streams.engine.lanes import INSPECTION_LANES
from zeikan.streams.observability.gc_pauses import GC_PAUSE_BUCKETS_S
from zeikan.streams.observability.health import WorkerHealth
from zeikan.streams.observability.hooks import PipelineHooks

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
"""Event time -> decision and per-stage batch latency, seconds."""
INFERENCE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
"""One model call (a batch), seconds."""
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
SCORE_BUCKETS = tuple(round(0.05 * i, 2) for i in range(1, 21))
"""Risk score 0..1 in twentieths."""

"""InspectionResult.inspection_type -> the lane (Decision.action) it serves."""


def selection_label(random_selected: bool) -> str:
    """Label value telling random (unbiased) selections from risk-based ones."""
    return "random" if random_selected else "risk"


@dataclass(frozen=True)
class ZeikanMetrics:
    """The metric objects of one worker (names: ``zeikan_`` prefix, unit suffix)."""

    registry: CollectorRegistry
    events_in: Counter
    events_out: Counter
    dead_letters: Counter
    decision_latency: Histogram
    stage_duration: Histogram
    consumer_lag: Gauge
    join_state: Gauge
    join_pending_scans: Gauge
    join_containers: Gauge
    scans_overdue: Counter
    decisions: Counter
    capacity_target: Gauge
    model_info: Gauge
    promotions: Counter
    model_inference: Histogram
    image_inference: Histogram
    image_batch_size: Histogram
    images_unassessed: Counter
    risk_score: Histogram
    feature_drift: Gauge
    inspections: Counter
    worker_ready: Gauge
    rule_reloads: Counter
    send_retries: Counter
    waiting: Gauge
    unmatched: Counter
    ready_epoch: Gauge
    late_facts: Gauge
    unmatched_inspections: Gauge
    facts_offset: Gauge
    gc_pause: Histogram
    gc_frozen: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry, process_metrics: bool = True) -> ZeikanMetrics:
        """Register every zeikan metric (and, by default, ``process_*``) on ``registry``."""
        if process_metrics:
            ProcessCollector(registry=registry)
        kw: dict[str, Any] = {"registry": registry}
        return cls(
            registry=registry,
            events_in=Counter("zeikan_events_in", "Records read, per topic", ["topic"], **kw),
            events_out=Counter("zeikan_events_out", "Records produced, per topic", ["topic"], **kw),
            dead_letters=Counter(
                "zeikan_dead_letters", "Records sent to dead-letters, per source topic and reason",
                ["topic", "reason"], **kw,
            ),
            decision_latency=Histogram(
                "zeikan_decision_latency_seconds", "Event time to decision time, per stage",
                ["stage"], buckets=LATENCY_BUCKETS_S, **kw,
            ),
            stage_duration=Histogram(
                "zeikan_stage_duration_seconds", "Processing time of one batch, per pipeline stage",
                ["stage"], buckets=LATENCY_BUCKETS_S, **kw,
            ),
            consumer_lag=Gauge(
                "zeikan_consumer_lag_messages", "Highwater minus committed offset, per assigned partition",
                ["topic", "partition"], **kw,
            ),
            join_state=Gauge("zeikan_join_state_entries", "Entries in the declaration-container join state", **kw),
            join_pending_scans=Gauge(
                "zeikan_join_pending_scans", "Declarations sent to SCAN still waiting for their scans", **kw
            ),
            join_containers=Gauge("zeikan_join_container_entries", "Container states held by the join", **kw),
            scans_overdue=Counter("zeikan_scans_overdue", "SCAN decisions whose scans missed the deadline", **kw),
            decisions=Counter(
                "zeikan_decisions", "Decisions, per stage, lane (action), office and selection (risk|random)",
                ["stage", "lane", "office", "selection"], **kw,
            ),
            capacity_target=Gauge(
                "zeikan_capacity_target_per_day", "Configured daily capacity per office and lane",
                ["office", "lane"], **kw,
            ),
            model_info=Gauge(
                "zeikan_model_info", "Models in use (value 1), by role (tabular|image|shadow) and version",
                ["role", "version"], **kw,
            ),
            promotions=Counter(
                "zeikan_model_promotions", "Continuous-learning decisions at event-time boundaries, by outcome "
                "(promoted | kept | no_candidate); counted by the worker that trained", ["outcome"], **kw,
            ),
            model_inference=Histogram(
                "zeikan_model_inference_seconds", "Duration of one scoring call (a batch), per model role",
                ["role"], buckets=INFERENCE_BUCKETS_S, **kw,
            ),
            image_inference=Histogram(
                "zeikan_image_inference_seconds", "Duration of one image-model batch", buckets=INFERENCE_BUCKETS_S, **kw
            ),
            image_batch_size=Histogram(
                "zeikan_image_batch_size", "Scans per image-model batch", buckets=BATCH_SIZE_BUCKETS, **kw
            ),
            images_unassessed=Counter(
                "zeikan_images_unassessed_total",
                "Scans left without an image score (sent to analyst review), by reason (model_unavailable|image_refused)",
                ["reason"], **kw,
            ),
            risk_score=Histogram(
                "zeikan_risk_score", "Distribution of decision risk scores (0..1), per stage",
                ["stage"], buckets=SCORE_BUCKETS, **kw,
            ),
            feature_drift=Gauge(
                "zeikan_feature_drift_psi", "Population stability index of live feature values vs training",
                ["feature"], **kw,
            ),
            inspections=Counter(
                "zeikan_inspections", "Inspection results, per lane, selection (risk|random) and outcome",
                ["lane", "selection", "outcome"], **kw,
            ),
            worker_ready=Gauge("zeikan_worker_ready", "1 when the worker is ready (see /readyz)", **kw),
            rule_reloads=Counter(
                "zeikan_rule_reloads", "Officer rule file reloads, by result (ok|rejected)", ["result"], **kw
            ),
            send_retries=Counter(
                "zeikan_send_retries", "Sends retried because the broker did not answer, by error", ["error"], **kw
            ),
            waiting=Gauge(
                "zeikan_declarations_waiting", "Admitted declarations waiting for their epoch to close (lag, not loss)", **kw
            ),
            unmatched=Counter(
                "zeikan_unmatched_events", "Scans and inspection results that matched no declaration on arrival", ["topic"], **kw
            ),
            ready_epoch=Gauge("zeikan_state_ready_epoch", "First event-time epoch (hours since 1970) not yet folded", **kw),
            late_facts=Gauge("zeikan_state_late_facts", "Facts that arrived after their epoch was folded", **kw),
            unmatched_inspections=Gauge(
                "zeikan_state_unmatched_inspections", "Inspection results waiting for their declaration", **kw
            ),
            facts_offset=Gauge("zeikan_state_facts_offset", "Facts-log offset folded so far", **kw),
            gc_pause=Histogram(
                "zeikan_gc_pause_seconds", "Garbage-collector pauses of generations 1 and 2 (2: full collections)",
                ["generation"], buckets=GC_PAUSE_BUCKETS_S, **kw,
            ),
            gc_frozen=Gauge("zeikan_gc_frozen_objects", "Objects out of the garbage collector's walks since the last refreeze", **kw),
        )


class PrometheusHooks(PipelineHooks):
    """Pipeline hooks that update :class:`ZeikanMetrics` (no other metric calls anywhere).

    Feature drift is measured against ``drift`` (a fixed reference), or, with
    ``drift_source`` (tabular model version -> its :class:`DriftMonitor`, None when
    it has no training bins), against the training bins of whichever tabular model
    :meth:`on_model_loaded` last announced: a hot-swapped model brings its own reference.
    """

    def __init__(
        self,
        metrics: ZeikanMetrics,
        drift: DriftMonitor | None = None,
        health: WorkerHealth | None = None,
        drift_source: Callable[[str], DriftMonitor | None] | None = None,
    ) -> None:
        self.metrics = metrics
        self.drift = drift
        self.health = health
        self._drift_source = drift_source

    def on_decoded(self, topic: str, n: int) -> None:
        """``n`` records of ``topic`` were read and decoded."""
        self.metrics.events_in.labels(topic=topic).inc(n)

    def on_dead_letter(self, topic: str, kind: str) -> None:
        """A record of ``topic`` went to dead-letters for reason ``kind``."""
        self.metrics.dead_letters.labels(topic=topic, reason=kind).inc()
        self.metrics.events_out.labels(topic="dead-letters").inc()

    def on_decisions(self, decisions: Sequence[Mapping]) -> None:
        """Decision records were produced: counts, latency, score distribution."""
        m = self.metrics
        for d in decisions:
            stage = str(d["stage"])
            m.decisions.labels(
                stage=stage, lane=str(d["action"]), office=str(d["office_id"]),
                selection=selection_label(bool(d["random_selected"])),
            ).inc()
            m.decision_latency.labels(stage=stage).observe(max(0.0, (d["decided_at"] - d["event_time"]) / 1000.0))
            m.risk_score.labels(stage=stage).observe(float(d["risk_score"]))
        m.events_out.labels(topic="decisions").inc(len(decisions))

    def on_overdue(self, n: int) -> None:
        """``n`` SCAN decisions passed their scan deadline."""
        self.metrics.scans_overdue.inc(n)
        self.metrics.events_out.labels(topic="scan-overdue").inc(n)

    def on_feedback(self, result: Mapping) -> None:
        """One (new, deduplicated) inspection result: hit-rate counts per lane and selection."""
        lane = INSPECTION_LANES.get(str(result["inspection_type"]), str(result["inspection_type"]))
        self.metrics.inspections.labels(
            lane=lane, selection=selection_label(bool(result.get("random_selected", False))),
            outcome=str(result["outcome"]),
        ).inc()

    def on_join_state(self, size: int, pending: int, containers: int) -> None:
        """Current join states, declarations still waiting for their scans, and container states."""
        self.metrics.join_state.set(size)
        self.metrics.join_pending_scans.set(pending)
        self.metrics.join_containers.set(containers)

    def on_batch_latency(self, stage: str, seconds: float) -> None:
        """One batch of pipeline ``stage`` took ``seconds``."""
        self.metrics.stage_duration.labels(stage=stage).observe(seconds)

    def on_capacity(self, office: str, lane: str, per_day: float) -> None:
        """The daily capacity target of ``office`` for ``lane``."""
        self.metrics.capacity_target.labels(office=office, lane=lane).set(per_day)

    def on_model_loaded(self, role: str, version: str) -> None:
        """Model ``version`` now serves ``role`` (tabular|image|shadow); the old one is dropped."""
        gauge = self.metrics.model_info
        for labels in _label_sets(gauge):
            if labels["role"] == role and labels["version"] != version:
                gauge.remove(labels["role"], labels["version"])
        gauge.labels(role=role, version=version).set(1)
        if self.health is not None:
            self.health.on_model_loaded(role, version)
        if role == "tabular":
            self._follow_drift_reference(version)

    def _follow_drift_reference(self, version: str) -> None:
        """Measure drift against the training bins of tabular model ``version`` (live values start afresh)."""
        if self._drift_source is None or (self.drift is not None and self.drift.version == version):
            return
        self.drift = self._drift_source(version)
        self.metrics.feature_drift.clear()

    def on_promotion_decision(self, outcome: str) -> None:
        """Continuous learning decided a boundary (``promoted`` | ``kept`` | ``no_candidate``)."""
        self.metrics.promotions.labels(outcome=outcome).inc()

    def on_model_latency(self, role: str, seconds: float, batch_size: int) -> None:
        """One scoring call of the ``role`` model over ``batch_size`` rows took ``seconds``."""
        self.metrics.model_inference.labels(role=role).observe(seconds)

    def on_image_batch(self, n: int, seconds: float) -> None:
        """The image model assessed ``n`` scans in ``seconds``."""
        self.metrics.image_inference.observe(seconds)
        self.metrics.image_batch_size.observe(n)

    def on_images_unassessed(self, kind: str, n: int) -> None:
        """``n`` scans got no image score for reason ``kind``: analyst review."""
        self.metrics.images_unassessed.labels(reason=kind).inc(n)

    def on_features(self, rows: Iterable[Mapping[str, float]]) -> None:
        """Feature rows that were scored: feeds the drift histograms and the PSI gauges."""
        drift = self.drift
        if drift is None:
            return
        drift.observe(rows)
        for feature, value in drift.psi_by_feature().items():
            self.metrics.feature_drift.labels(feature=feature).set(value)

    def on_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Consumer lag per (topic, partition) assigned to this worker; others are dropped."""
        gauge = self.metrics.consumer_lag
        current = {(t, str(p)) for t, p in lag}
        for labels in _label_sets(gauge):
            if (labels["topic"], labels["partition"]) not in current:
                gauge.remove(labels["topic"], labels["partition"])
        for (topic, partition), value in lag.items():
            gauge.labels(topic=topic, partition=str(partition)).set(value)

    def on_ready(self, ready: bool) -> None:
        """Readiness as computed by :mod:`zeikan.streams.observability.health`."""
        self.metrics.worker_ready.set(1 if ready else 0)

    def on_send_retry(self, reason: str) -> None:
        """A send failed and will be retried."""
        self.metrics.send_retries.labels(error=reason).inc()

    def on_waiting(self, n: int) -> None:
        """Declarations waiting for their epoch on this worker."""
        self.metrics.waiting.set(n)

    def on_unmatched(self, topic: str, n: int) -> None:
        """Records that matched no declaration on arrival."""
        self.metrics.unmatched.labels(topic=topic).inc(n)

    def on_shared_state(self, ready_epoch: int, late_facts: int, unmatched_inspections: int, facts_offset: int) -> None:
        """Where the shared state stands."""
        m = self.metrics
        m.ready_epoch.set(ready_epoch)
        m.late_facts.set(late_facts)
        m.unmatched_inspections.set(unmatched_inspections)
        m.facts_offset.set(facts_offset)

    def on_rules_reloaded(self, version: str, ok: bool) -> None:
        """The rule file was reloaded (``ok``) or a bad edit was rejected (old rules kept)."""
        self.metrics.rule_reloads.labels(result="ok" if ok else "rejected").inc()

    def on_heap_frozen(self, objects: int) -> None:
        """The heap was refrozen with ``objects`` out of the collector's walks."""
        self.metrics.gc_frozen.set(objects)


def _label_sets(metric: Gauge) -> list[dict[str, str]]:
    """Label sets a labelled metric currently exports."""
    return [dict(sample.labels) for family in metric.collect() for sample in family.samples]


def metric_names(registry: CollectorRegistry) -> set[str]:
    """Every sample name ``registry`` can export (``_total``, ``_bucket``, ``_sum``, ``_count``...)."""
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        suffixes = {
            "counter": ("_total", "_created"),
            "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("_sum", "_count", "_created"),
        }.get(family.type, ())
        names.update(family.name + s for s in suffixes)
    return names
