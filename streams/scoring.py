"""Scorer factories: the one place that chooses which model serves the pipeline.

The stream and ``zeikan replay`` call these and depend only on the
``TabularScorer`` / ``ImageScorer`` / ``FeatureState`` protocols, so a trained
model replaces the heuristic here and nowhere else.
"""

from __future__ import annotations

from zeikan.features.base import FeatureState
from zeikan.features.online import OnlineFeatureState
from zeikan.models.base import ImageScorer, TabularScorer
from zeikan.models.heuristic import HashImageScorer, HeuristicTabularScorer


def build_tabular_scorer() -> TabularScorer:
    """The tabular scorer: the heuristic until the model registry provides a trained model."""
    return HeuristicTabularScorer()


def build_image_scorer() -> ImageScorer:
    """The image scorer: the hash stand-in until the ONNX image model is registered."""
    return HashImageScorer()


def build_feature_state() -> FeatureState:
    """A fresh, empty online feature state (in memory, rebuilt from the topics on start)."""
    return OnlineFeatureState()
