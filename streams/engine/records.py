"""Decision records (Avro ``Decision`` field names) and their deterministic ids."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from zeikan.models.base import ImageAssessment
from zeikan.streams.engine.lanes import Action

ENGINE_VERSION = "engine-8"
"""Bumped whenever the decision logic changes what it decides (part of every decision_id)."""

PRE_ARRIVAL = "PRE_ARRIVAL"
POST_SCAN = "POST_SCAN"


def decision_id(
    declaration_id: str, stage: str, versions: Mapping[str, str], scan_ids: Iterable[str] = (), inputs: Sequence[str] = ()
) -> str:
    """sha256 of the declaration, stage, input versions, scans and ``inputs``, 32 hex chars.

    ``inputs`` are the digests of what shaped the decision (the declaration's content and
    the shared-state version it was decided on): a decision taken on other inputs gets
    another id, so a consumer that deduplicates by id never hides a changed decision.

    >>> decision_id("D1", "PRE_ARRIVAL", {"tabular": "m1"}) == decision_id("D1", "PRE_ARRIVAL", {"tabular": "m1"})
    True
    """
    parts = [declaration_id, stage]
    parts += [f"{name}={versions[name]}" for name in sorted(versions)]
    parts.append("scans=" + ",".join(sorted(scan_ids)))
    parts += list(inputs)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def decision_record(
    *,
    declaration_id: str,
    office_id: str,
    stage: str,
    action: Action,
    risk_score: float,
    scores: Mapping[str, float | None],
    reasons: Sequence[str],
    rule_hits: Sequence[str],
    random_selected: bool,
    model_versions: Mapping[str, str],
    event_time: int,
    decided_at: int,
    scan_ids: Iterable[str] = (),
    image_evidence: Sequence[Mapping[str, Any]] = (),
    shadow_scores: Mapping[str, float] | None = None,
    inputs: Sequence[str] = (),
) -> dict[str, Any]:
    """A Decision record; its ``decision_id`` depends on inputs only, never on ``decided_at``."""
    return {
        "decision_id": decision_id(declaration_id, stage, model_versions, scan_ids, inputs),
        "declaration_id": declaration_id,
        "office_id": office_id,
        "stage": stage,
        "action": action.value,
        "risk_score": round(float(risk_score), 6),
        "scores": {
            "tabular": round(float(scores["tabular"] or 0.0), 6),
            "image": None if scores.get("image") is None else round(float(scores["image"]), 6),
            "rules": round(float(scores.get("rules") or 0.0), 6),
        },
        "reasons": list(reasons),
        "rule_hits": list(rule_hits),
        "random_selected": bool(random_selected),
        "model_versions": dict(model_versions),
        "shadow_scores": dict(shadow_scores or {}),
        "image_evidence": [dict(e) for e in image_evidence],
        "event_time": int(event_time),
        "decided_at": int(decided_at),
    }


def image_evidence(assessments: Sequence[ImageAssessment]) -> list[dict[str, Any]]:
    """ImageEvidence records of the scans a POST_SCAN decision used (those with an image score)."""
    return [
        {
            "scan_id": a.scan_id,
            "container_id": a.container_id,
            "anomaly_score": round(float(a.anomaly_score), 6),
            "heatmap_uri": a.heatmap_uri,
            "implied_mass_kg": a.implied_mass_kg,
        }
        for a in assessments
        if a.anomaly_score is not None
    ]
