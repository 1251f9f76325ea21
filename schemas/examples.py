"""Valid, deterministic example records of every topic, for tests and docs.

Each call returns a fresh deep copy, so a test may change it freely:

>>> record = example_record("declarations")
>>> record["items"][0]["customs_value"]
Decimal('12500.00')
"""

from __future__ import annotations

import copy
from decimal import Decimal

from zeikan.schemas.contract import TOPICS
from zeikan.schemas.errors import UnknownTopic

FILED_AT = 1_709_280_000_000
"""2024-03-01T08:00:00Z in epoch millis: the time around which the examples happen."""

HOUR_MS = 3_600_000

CONTAINERS = ("CSQU3054383", "MSKU9070323")
"""Two valid ISO 6346 container ids (check digits verified)."""

_EXAMPLES: dict[str, dict] = {
    "declarations": {
        "declaration_id": "DEC-2024-000001",
        "filed_at": FILED_AT,
        "office_id": "JPYOK",
        "importer_id": "IMP-0042",
        "declarant_id": "DCL-0007",
        "origin_country": "CN",
        "dispatch_country": "SG",
        "transport_mode": "SEA",
        "conveyance_ref": "IMO9321483/024E",
        "expected_arrival": FILED_AT + 72 * HOUR_MS,
        "containers": list(CONTAINERS),
        "items": [
            {"line_no": 1, "hs_code": "851762", "description": "network switches",
             "quantity": 500.0, "quantity_unit": "PCE", "gross_weight_kg": 1250.0,
             "customs_value": Decimal("12500.00"), "currency": "USD"},
            {"line_no": 2, "hs_code": "8471300000", "description": "portable computers",
             "quantity": 200.0, "quantity_unit": "PCE", "gross_weight_kg": 640.5,
             "customs_value": Decimal("84000.50"), "currency": "USD"},
            {"line_no": 3, "hs_code": "940360", "description": "wooden office furniture",
             "quantity": 40.0, "quantity_unit": "PCE", "gross_weight_kg": 1800.0,
             "customs_value": Decimal("3999.99"), "currency": "EUR"},
        ],
    },
    "scans": {
        "scan_id": "SCN-000001",
        "container_id": CONTAINERS[0],
        "scanned_at": FILED_AT + 80 * HOUR_MS,
        "scanner_id": "XR-YOK-1",
        "office_id": "JPYOK",
        "image_uri": "sha256://3f2a9c0e7b5d41a8c6e2f90b1d4a7e3c5b8f0a2d6e9c1b4f7a0d3e6c9b2f5a8d",
        "image_sha256": "3f2a9c0e7b5d41a8c6e2f90b1d4a7e3c5b8f0a2d6e9c1b4f7a0d3e6c9b2f5a8d",
        "energy": "DUAL",
        "declaration_ids": ["DEC-2024-000001"],
    },
    "inspection-results": {
        "inspection_id": "INS-000001",
        "declaration_id": "DEC-2024-000001",
        "inspected_at": FILED_AT + 96 * HOUR_MS,
        "officer_id": "OFF-17",
        "inspection_type": "PHYSICAL",
        "outcome": "DISCREPANCY",
        "findings": [
            {"line_no": 2, "kind": "UNDERVALUATION", "note": "invoice value below market price"},
        ],
        "revenue_recovered": Decimal("1520.75"),
        "random_selected": False,
    },
    "decisions": {
        "decision_id": "d-5f1c2a9e0b7d4c3a",
        "declaration_id": "DEC-2024-000001",
        "office_id": "JPYOK",
        "stage": "PRE_ARRIVAL",
        "action": "SCAN",
        "risk_score": 0.82,
        "scores": {"tabular": 0.78, "image": None, "rules": 1.0},
        "reasons": ["unit value 64% below the norm for HS 8471 from CN"],
        "rule_hits": ["hs8471-low-unit-value"],
        "random_selected": False,
        "model_versions": {"tabular": "lgbm-2024-02-28"},
        "shadow_scores": {},
        "image_evidence": [],
        "event_time": FILED_AT,
        "decided_at": FILED_AT + 150,
    },
    "dead-letters": {
        "source_topic": "declarations",
        "partition": 0,
        "offset": 42,
        "key": b"DEC-2024-000099",
        "raw": b"\xc3\x01not-avro",
        "error_kind": "DECODE",
        "error_message": "unknown schema fingerprint",
        "failed_at": FILED_AT + 5,
        "raw_size": 10,
        "raw_sha256": "8f4e4fb3170a6b0573205f92ca2e9124afee2425d86353a781fd88087d9eac3f",
    },
    "scan-overdue": {
        "declaration_id": "DEC-2024-000001",
        "office_id": "JPYOK",
        "decision_id": "d-5f1c2a9e0b7d4c3a",
        "deadline": FILED_AT + 120 * HOUR_MS,
        "missing_containers": [CONTAINERS[1]],
        "detected_at": FILED_AT + 120 * HOUR_MS + 1000,
    },
    "model-promotions": {
        "boundary": 1_709_337_600_000,
        "effective_from": 1_709_424_000_000,
        "candidate": "lgbm-cl-19784-0a1b2c3d4e",
        "live": "heuristic-1",
        "promoted": True,
        "metric": "ipw_precision_at_top",
        "candidate_score": 0.31,
        "live_score": None,
        "eval_from": 1_708_732_800_000,
        "eval_to": 1_709_337_600_000,
        "eval_declarations": 2100,
        "eval_labels": 160,
        "eval_positives": 12,
        "train_declarations": 9000,
        "train_inspections": 700,
        "reason": "no live model",
    },
}


def example_record(topic: str) -> dict:
    """A valid in-memory record of ``topic`` (a fresh copy every call)."""
    if topic not in _EXAMPLES:
        raise UnknownTopic(topic, list(TOPICS))
    return copy.deepcopy(_EXAMPLES[topic])
