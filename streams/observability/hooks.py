"""Named hook methods the pipeline calls at each step; the default does nothing.

Agents only ever call these methods, so metrics (``zeikan.streams.observability.metrics``
``PrometheusHooks``) plug in by subclassing, without touching the agents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


class PipelineHooks:
    """No-op hooks: subclass and override what you measure."""

    def on_decoded(self, topic: str, n: int) -> None:
        """``n`` records of ``topic`` were read and decoded."""

    def on_dead_letter(self, topic: str, kind: str) -> None:
        """A record of ``topic`` went to dead-letters for reason ``kind``."""

    def on_decisions(self, decisions: Sequence[Mapping]) -> None:
        """Decision records were produced."""

    def on_overdue(self, n: int) -> None:
        """``n`` SCAN decisions passed their scan deadline."""

    def on_feedback(self, result: Mapping) -> None:
        """One new (deduplicated) inspection result was folded in."""

    def on_join_state(self, size: int, pending: int, containers: int) -> None:
        """Join states, declarations still waiting for scans, and container states (this worker's partitions)."""

    def on_batch_latency(self, stage: str, seconds: float) -> None:
        """One batch of pipeline ``stage`` took ``seconds``."""

    def on_capacity(self, office: str, lane: str, per_day: float) -> None:
        """The daily capacity target of ``office`` for ``lane``."""

    def on_model_loaded(self, role: str, version: str) -> None:
        """Model ``version`` now serves ``role`` (tabular|image|shadow)."""

    def on_promotion_decision(self, outcome: str) -> None:
        """Continuous learning decided a boundary: ``promoted``, ``kept`` (the candidate lost) or ``no_candidate``."""

    def on_model_latency(self, role: str, seconds: float, batch_size: int) -> None:
        """One scoring call of the ``role`` model over ``batch_size`` rows took ``seconds``."""

    def on_image_batch(self, n: int, seconds: float) -> None:
        """The image model assessed ``n`` scans in ``seconds``."""

    def on_images_unassessed(self, kind: str, n: int) -> None:
        """``n`` scans got no image score for reason ``kind`` (model_unavailable | image_refused): analyst review."""

    def on_features(self, rows: Iterable[Mapping[str, float]]) -> None:
        """Feature rows that were scored."""

    def on_lag(self, lag: Mapping[tuple[str, int], int]) -> None:
        """Consumer lag per (topic, partition) assigned to this worker."""

    def on_ready(self, ready: bool) -> None:
        """Worker readiness changed or was recomputed."""

    def on_rules_reloaded(self, version: str, ok: bool) -> None:
        """The rule file was reloaded (``ok``) or a bad edit was rejected (old rules kept)."""

    def on_heap_frozen(self, objects: int) -> None:
        """The heap was refrozen: ``objects`` are out of the garbage collector's walks (see ``gc_pauses``)."""

    def on_send_retry(self, reason: str) -> None:
        """A send failed (the broker did not answer) and will be retried."""

    def on_waiting(self, n: int) -> None:
        """``n`` admitted declarations wait for their epoch to become decidable (this worker)."""

    def on_unmatched(self, topic: str, n: int) -> None:
        """``n`` records of ``topic`` matched no declaration yet (kept for a late join)."""

    def on_shared_state(self, ready_epoch: int, late_facts: int, unmatched_inspections: int, facts_offset: int) -> None:
        """Where the shared state stands (sampled by a timer)."""
