"""Scan event -> image scored by the ONNX model -> POST_SCAN decision with the image component and heatmap.

Runs the stream's decision logic through its offline twin (``zeikan replay``), with
the simulator writing real rendered images through the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from zeikan.images.store import store_of_uri
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer
from zeikan.sim.settings import SimSettings
from zeikan.sim.simulate import simulate
from zeikan.sim.xray import render_images
from zeikan.streams import replay as replay_module
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.rules import RuleFile


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("history")
    simulate(SimSettings(seed=3, days=1, per_day=300), out, render_images=lambda loads, d: render_images(loads, d, workers=1))
    return out


def test_post_scan_decisions_carry_image_scores_and_heatmaps(history, monkeypatch):
    scorer = OnnxImageScorer(ImageScorerSettings(store_url=str(history / "images")))
    monkeypatch.setattr(replay_module, "build_image_scorer", lambda store_url: scorer)
    every_declaration_scanned = EngineConfig.from_mapping({"random_rate": {"SCAN": 1.0, "PHYSICAL_EXAM": 0.0, "DOCUMENT_CHECK": 0.0}})
    decisions, _ = replay_module.replay(history, RuleFile(None).book, every_declaration_scanned)
    post = [d for d in decisions if d["stage"] == "POST_SCAN"]
    assert post, "the simulated day must give at least one POST_SCAN decision"
    for decision in post:
        assert decision["model_versions"]["image"] == scorer.version
        assert decision["image_evidence"]
        for evidence in decision["image_evidence"]:
            assert 0.0 <= evidence["anomaly_score"] <= 1.0 and evidence["implied_mass_kg"] > 0
            uri = evidence["heatmap_uri"]
            assert uri.startswith((history / "images").resolve().as_uri()) and store_of_uri(uri).get_bytes(uri)[:4] == b"\x89PNG"
    scorer.close()
