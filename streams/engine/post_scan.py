"""POST_SCAN: once every container of a declaration sent to SCAN is scanned, the image scores decide."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from zeikan.models.base import ImageAssessment, ImageScorer
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import Verdict
from zeikan.streams.engine.records import POST_SCAN, decision_record, image_evidence
from zeikan.streams.engine.lanes import Action, parse_action, strongest


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def opening(verdict: Verdict, config: EngineConfig) -> dict[str, Any]:
    """The JSON-able join opening of a declaration the engine sent to SCAN."""
    decl = verdict.declaration
    filed_at = int(decl["filed_at"])
    start = max(filed_at, int(decl.get("expected_arrival") or filed_at))
    return {
        "declaration_id": verdict.declaration_id,
        "office_id": str(decl["office_id"]),
        "filed_at": filed_at,
        "containers": list(decl["containers"]),
        "deadline": start + config.scan_deadline_ms,
        "pre_decision_id": verdict.record(0)["decision_id"],
        "tabular": verdict.tabular_score,
        "rules_score": verdict.rules.score,
        "rule_hits": list(verdict.rules.hits),
        "rule_floor": verdict.granted.floor.value if verdict.granted.floor else None,
        "random_selected": verdict.random_action is not None,
        "versions": dict(verdict.versions),
        "declaration": _plain(decl),
    }


def needs_join(verdict: Verdict) -> bool:
    """Whether the verdict opens a scan join (SCAN lane and at least one container)."""
    return verdict.action is Action.SCAN and bool(verdict.declaration.get("containers"))


def exam_threshold(assessment: ImageAssessment, config: EngineConfig) -> float:
    """The image score at which this scan sends its declaration to PHYSICAL_EXAM."""
    return config.post_scan_exam_threshold if assessment.exam_threshold is None else assessment.exam_threshold


def _all_below(assessments: Sequence[ImageAssessment], config: EngineConfig) -> str:
    cuts = sorted({exam_threshold(a, config) for a in assessments})
    if len(cuts) == 1 and not any(a.threshold_of for a in assessments):
        return f"all {len(assessments)} scan(s) below image anomaly {cuts[0]:.2f}"
    return f"all {len(assessments)} scan(s) below their scanners' image anomaly thresholds ({', '.join(f'{c:.2f}' for c in cuts)})"


def post_scan_decision(
    opened: Mapping[str, Any],
    scans: Sequence[Mapping[str, Any]],
    assessments: Sequence[ImageAssessment],
    image_version: str,
    config: EngineConfig,
    decided_at: int,
) -> dict[str, Any]:
    """The POST_SCAN Decision record: PHYSICAL_EXAM if an image (or a rule) calls for it.

    Each scan is examined at its own scanner's threshold when that scanner was
    onboarded (``ImageAssessment.exam_threshold``), else at
    ``config.post_scan_exam_threshold``. A scan without an image score (model
    unavailable, image refused or unreadable) never releases: the declaration
    takes at least ``config.image_review_action`` (an analyst reads the image), with the reason.
    """
    scored = [a for a in assessments if a.anomaly_score is not None]
    unassessed = [a for a in assessments if a.anomaly_score is None]
    image = max((float(a.anomaly_score) for a in scored), default=None)  # type: ignore[arg-type]
    floor = parse_action(opened["rule_floor"]) if opened.get("rule_floor") else None
    flagged = [a for a in scored if a.anomaly_score >= exam_threshold(a, config)]  # type: ignore[operator]
    exam = bool(flagged) or floor is Action.PHYSICAL_EXAM
    reasons = [
        f"scan {a.scan_id} of {a.container_id}: image anomaly {a.anomaly_score:.2f} >= {exam_threshold(a, config):.2f}"
        + (f" (threshold of scanner {a.threshold_of})" if a.threshold_of else "")
        for a in flagged
    ]
    reasons += list(dict.fromkeys(reason for a in assessments for reason in a.reasons))
    if floor is Action.PHYSICAL_EXAM:
        reasons.append("officer rule requires a physical examination: " + ", ".join(opened["rule_hits"]))
    if not exam and not unassessed:
        reasons.insert(0, _all_below(assessments, config))
    action = strongest(Action.PHYSICAL_EXAM if exam else None, config.image_review_action if unassessed else None)
    return decision_record(
        declaration_id=str(opened["declaration_id"]),
        office_id=str(opened["office_id"]),
        stage=POST_SCAN,
        action=action,
        risk_score=max(image or 0.0, float(opened["rules_score"])),
        scores={"tabular": float(opened["tabular"]), "image": image, "rules": float(opened["rules_score"])},
        reasons=reasons,
        rule_hits=opened["rule_hits"],
        random_selected=bool(opened["random_selected"]),
        model_versions={**opened["versions"], "image": image_version},
        event_time=max([int(opened["filed_at"])] + [int(s["scanned_at"]) for s in scans]),
        decided_at=decided_at,
        scan_ids=[str(s["scan_id"]) for s in scans],
        inputs=(str(opened["pre_decision_id"]),),
        image_evidence=image_evidence(assessments),
    )


def assess(scorer: ImageScorer, completed: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]) -> list[list[ImageAssessment]]:
    """Image assessments of many completed joins in one scorer call: (opening, scans) -> per join."""
    flat_scans = [scan for _, scans in completed for scan in scans]
    declared = [[opened["declaration"]] for opened, scans in completed for _ in scans]
    flat = scorer.assess_batch(flat_scans, declared) if flat_scans else []
    out: list[list[ImageAssessment]] = []
    start = 0
    for _, scans in completed:
        out.append(list(flat[start : start + len(scans)]))
        start += len(scans)
    return out
