"""The LightGBM scorer the stream and ``zeikan replay`` serve (TabularScorer)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from zeikan.models.base import Explanation, FeatureRow
from zeikan.models.explain import explanation
from zeikan.models.registry import ModelRegistry
from zeikan.models.training import TrainedModel


class LightGBMScorer:
    """Calibrated probability of a finding from the feature rows; one predict call per batch."""

    def __init__(self, model: TrainedModel, version: str) -> None:
        self.model = model
        self.version = version
        self._names = model.features

    @classmethod
    def from_registry(cls, registry: ModelRegistry, version: str | None = None) -> LightGBMScorer:
        """The live model of a registry (or a given version, e.g. a shadow candidate)."""
        info, model = registry.load(version) if version else registry.load_live()
        return cls(model, info.version)

    def _matrix(self, features: Sequence[FeatureRow]) -> np.ndarray:
        names = self._names
        return np.array([[row[n] for n in names] for row in features], dtype=np.float64).reshape(len(features), len(names))

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """Score many declarations at once (one model call per batch, not per event)."""
        if not features:
            return []
        return self.model.predict(self._matrix(features)).tolist()

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """TreeSHAP (``pred_contrib``) contributions of one declaration, top ones as reasons."""
        contrib = self.model.booster.predict(self._matrix([features]), pred_contrib=True, num_threads=1)[0]
        return explanation(contrib, self._names, features, declaration)
