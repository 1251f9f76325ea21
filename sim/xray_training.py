"""Training pipeline of the image model: render, calibrate the physics check, train both stages and the manifest head, export, evaluate.

Imports torch (through :mod:`zeikan.images.model`): only ``zeikan images train`` loads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from zeikan.images.dataset import RenderedSet
from zeikan.images.evaluate import evaluate_set
from zeikan.images.package_displacement import displace_goods
from zeikan.images.scanner_adaptation import loaded_medians
from zeikan.images import model as image_model
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.xray_calibration import physics_calibration
from zeikan.streams.engine.config import EngineConfig


REFERENCE_SCANS = 200
"""clean training scans whose loaded median is the level new scanners are gained to"""


def _version_of(onnx_path: Path) -> str:
    return f"xray-cnn-{hashlib.sha256(onnx_path.read_bytes()).hexdigest()[:12]}"


def train_and_export(
    train_set: RenderedSet | None, head_set: RenderedSet | None, heldout: RenderedSet, out_dir: Path, config: image_model.TrainConfig,
    log=print, stage1_from: Path | None = None, stages_from: Path | None = None,
) -> dict:
    """Train on ``train_set`` (stages) and ``head_set`` (manifest head; None: no head, an image-only graph), export to
    ``out_dir``, evaluate on ``heldout``.

    ``stage1_from``: a single-stage ``model.onnx`` whose CNN becomes stage 1 (stage 2 and the head are trained);
    ``stages_from``: a two-stage ``model.onnx`` whose stages are kept (its training facts come from the
    ``metadata.json`` beside it); with a ``train_set`` and ``config.fine_epochs`` > 0 its stage 2 goes on training
    there (hard negatives included, :func:`~zeikan.images.model.train_fine`), and with ``config.stage1_further_epochs``
    > 0 stage 1 as well (both with their batch norms frozen); else only the head is trained.
    The combined score's offset comes from ``heldout``'s clean scans: the engine's exam threshold passes at most
    :data:`~zeikan.images.model.EXAM_RATE_TARGET` of them (:func:`~zeikan.images.model.operating_offset`).
    ``clean_loaded_median`` (the level a new scanner's inputs are gained to at onboarding) comes from the training
    set's first clean scans, or is kept from the artefact whose stages are kept.
    """
    if train_set is not None:
        train_set = displace_goods(train_set, config.displaced_goods, config.seed)
    if stages_from:
        coarse, fine = image_model.stages_from_onnx(stages_from)
        earlier = json.loads((stages_from.parent / "metadata.json").read_text())
        train_scanners = tuple(earlier["train_scanners"])
        kept = {"stages": f"kept from {_version_of(stages_from)}", "train_images": earlier["train_images"],
                "stages_train_config": earlier.get("stages_train_config", earlier["train_config"]),
                **{k: earlier[k] for k in ("clean_loaded_median", "clean_loaded_median_of") if k in earlier}}
        if train_set is not None and config.stage1_further_epochs > 0:
            coarse = image_model.train(train_set, replace(config, epochs=config.stage1_further_epochs), log=log, start=coarse)
            kept["stages"] = f"stage 1 trained further from {_version_of(stages_from)}"
            kept["stage1_further_images"] = len(train_set.y)
        if train_set is not None and config.fine_epochs > 0:
            fine = image_model.train_fine(train_set, config, log=log, start=fine)
            first = "stage 1 trained further" if config.stage1_further_epochs > 0 else "stage 1 kept"
            kept["stages"] = f"{first} from {_version_of(stages_from)}, stage 2 trained further"
            kept["stage2_further_images"] = len(train_set.y)
    elif train_set is None:
        raise ValueError("training the stages needs a training set")
    else:
        train_scanners = tuple(sorted(set(train_set.scanners)))
        coarse = image_model.stage1_from_onnx(stage1_from) if stage1_from else image_model.train(train_set, config, log=log)
        fine = image_model.train_fine(train_set, config, log=log)
        kept = {"stage1": f"kept from {_version_of(stage1_from)}" if stage1_from else "trained", "train_images": len(train_set.y),
                "clean_loaded_median": list(loaded_medians(train_set.x[np.flatnonzero(train_set.y == 0)[:REFERENCE_SCANS]])),
                "clean_loaded_median_of": f"the first {REFERENCE_SCANS} clean scans of the training set"}
    head = image_model.train_head(image_model.TwoStageCam(coarse, fine, 0.0), head_set, config, log=log) if head_set else None
    net = image_model.TwoStageCam(coarse, fine, 0.0, head)
    clean = heldout.y == 0
    inputs = image_model.head_inputs(net, heldout.x[clean], heldout.manifests[clean])
    exam_threshold = EngineConfig().post_scan_exam_threshold
    net.offset = image_model.operating_offset(image_model.combined_logits(net, inputs), exam_threshold)
    metadata = {
        "train_scanners": list(train_scanners),
        "heldout_scanners": sorted(set(heldout.scanners)),
        **({"head_images": len(head_set.y), "head_scanners": sorted(set(head_set.scanners))} if head_set else {}),
        "train_config": image_model.config_dict(config),
        **kept,
        "physics": physics_calibration(train_scanners).to_dict(),
    }
    image_model.export(net, out_dir, metadata)
    torch_scores = image_model.predict(net, heldout.x[:64], heldout.manifests[:64])
    result = evaluate_set(heldout, ImageScorerSettings(model_dir=str(out_dir)), exam_threshold)
    result["onnx_matches_torch"] = bool(np.allclose(torch_scores, _onnx_scores(out_dir, heldout.x[:64], heldout.manifests[:64]), atol=1e-4))
    return result


def _onnx_scores(model_dir: Path, x: np.ndarray, manifests: np.ndarray) -> np.ndarray:
    scorer = OnnxImageScorer(ImageScorerSettings(model_dir=str(model_dir)))
    try:
        return scorer.score_inputs(x, manifests)[0]
    finally:
        scorer.close()
