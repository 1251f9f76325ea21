"""The event contract: which topic carries which schema, and under which key."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TopicSpec:
    """One topic of the contract: its name, Avro schema file, key field and event-time field."""

    name: str
    schema_file: str
    key_field: str
    time_field: str
    """The field that says when the event happened (epoch millis)."""


DECLARATIONS = TopicSpec("declarations", "declaration_filed.avsc", "declaration_id", "filed_at")
SCANS = TopicSpec("scans", "scan_completed.avsc", "container_id", "scanned_at")
INSPECTION_RESULTS = TopicSpec("inspection-results", "inspection_result.avsc", "declaration_id", "inspected_at")
DECISIONS = TopicSpec("decisions", "decision.avsc", "declaration_id", "event_time")
DEAD_LETTERS = TopicSpec("dead-letters", "dead_letter.avsc", "source_topic", "failed_at")
SCAN_OVERDUE = TopicSpec("scan-overdue", "scan_overdue.avsc", "declaration_id", "detected_at")
MODEL_PROMOTIONS = TopicSpec("model-promotions", "model_promotion.avsc", "boundary", "boundary")

TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (DECLARATIONS, SCANS, INSPECTION_RESULTS, DECISIONS, DEAD_LETTERS, SCAN_OVERDUE, MODEL_PROMOTIONS)
}
"""Every topic zeikan reads or writes, by name."""

INPUT_TOPICS: tuple[str, ...] = (DECLARATIONS.name, SCANS.name, INSPECTION_RESULTS.name)
"""Topics fed by upstream systems (declaration systems, scanners, inspection teams)."""
