"""`zeikan images evaluate`: the ONNX model on a rendered set (scans of a scanner model held out of training)."""

from __future__ import annotations

from zeikan.images.dataset import RenderedSet
from zeikan.images.evaluation_metrics import evaluate_scores
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer


def evaluate_set(data: RenderedSet, settings: ImageScorerSettings = ImageScorerSettings(), exam_threshold: float | None = None) -> dict:
    """Metrics of the ONNX model on a rendered set (detection at 1 % false alarms, AUC, per kind).

    Each scan is scored as its scanner model's onboarded entry says (:meth:`OnnxImageScorer.score_onboarded`).

    ``exam_threshold``: also the detection and false alarms at that fixed score (the engine's exam
    threshold, the operating point the model ships with), under ``at_exam_threshold``.
    """
    scorer = OnnxImageScorer(settings)
    try:
        scores, _ = scorer.score_onboarded(data.x, data.manifests, scorer.entries_of([("", m) for m in data.scanners]))
    finally:
        scorer.close()
    result = evaluate_scores(data.y, scores, data.kinds, fa=0.01)
    result["model_version"] = scorer.version
    result["scanners"] = sorted(set(data.scanners))
    result["train_scanners"] = scorer.metadata.get("train_scanners", [])
    if exam_threshold is not None:
        y = data.y.astype(bool)
        result["at_exam_threshold"] = {"threshold": exam_threshold, "detection_rate": float((scores[y] > exam_threshold).mean()),
                                       "false_alarm_rate": float((scores[~y] > exam_threshold).mean())}
    return result

