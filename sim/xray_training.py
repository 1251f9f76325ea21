"""Training pipeline of the image model: render, calibrate the physics check, train both stages, export, evaluate.

Imports torch (through :mod:`zeikan.images.model`): only ``zeikan images train`` loads it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from zeikan.images.dataset import RenderedSet
from zeikan.images.evaluate import evaluate_set
from zeikan.images import model as image_model
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray_calibration import physics_calibration


def train_and_export(
    train_set: RenderedSet, heldout: RenderedSet, out_dir: Path, config: image_model.TrainConfig, log=print,
    stage1_from: Path | None = None,
) -> dict:
    """Train on ``train_set``, export to ``out_dir``, evaluate on ``heldout``; returns the evaluation.

    ``stage1_from``: a single-stage ``model.onnx`` whose CNN becomes stage 1 (only stage 2 is trained).
    The combined score's offset comes from ``heldout``'s clean scans (:func:`~zeikan.images.model.operating_offset`).
    """
    train_scanners = tuple(sorted(set(train_set.scanners)))
    coarse = image_model.stage1_from_onnx(stage1_from) if stage1_from else image_model.train(train_set, config, log=log)
    fine = image_model.train_fine(train_set, config, log=log)
    clean = heldout.x[heldout.y == 0]
    net = image_model.TwoStageCam(coarse, fine, 0.0)
    net = image_model.TwoStageCam(coarse, fine, image_model.operating_offset(*image_model.stage_logits(net, clean)))
    metadata = {
        "train_scanners": list(train_scanners),
        "heldout_scanners": sorted(set(heldout.scanners)),
        "train_images": len(train_set.y),
        "train_config": image_model.config_dict(config),
        "stage1": f"kept from xray-cnn-{hashlib.sha256(stage1_from.read_bytes()).hexdigest()[:12]}" if stage1_from else "trained",
        "physics": physics_calibration(train_scanners).to_dict(),
    }
    image_model.export(net, out_dir, metadata)
    torch_scores = image_model.predict(net, heldout.x[:64])
    result = evaluate_set(heldout, ImageScorerSettings(model_dir=str(out_dir)))
    result["onnx_matches_torch"] = bool(np.allclose(torch_scores, _onnx_scores(out_dir, heldout.x[:64]), atol=1e-4))
    return result


def _onnx_scores(model_dir: Path, x: np.ndarray) -> np.ndarray:
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(model_dir)))
    try:
        return scorer.score_inputs(x)[0]
    finally:
        scorer.close()
