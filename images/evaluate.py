"""`zeikan images evaluate`: the ONNX model on a rendered set (scans of a scanner model held out of training)."""

from __future__ import annotations

from zeikan.images.dataset import RenderedSet
from zeikan.images.evaluation_metrics import evaluate_scores
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer


def evaluate_set(data: RenderedSet, settings: ImageScorerSettings = ImageScorerSettings()) -> dict:
    """Metrics of the ONNX model on a rendered set (detection at 1 % false alarms, AUC, per kind)."""
    scorer = OnnxImageScorer(settings)
    try:
        scores, _ = scorer.score_inputs(data.x, data.manifests)
    finally:
        scorer.close()
    result = evaluate_scores(data.y, scores, data.kinds, fa=0.01)
    result["model_version"] = scorer.version
    result["scanners"] = sorted(set(data.scanners))
    result["train_scanners"] = scorer.metadata.get("train_scanners", [])
    return result

