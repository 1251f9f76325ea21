"""The LightGBM scorer the stream and ``zeikan replay`` serve (TabularScorer)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

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


class LiveScorer:
    """Serves the registry's live model and swaps in a newly promoted one without restart.

    ``live_version()`` is polled at most every ``poll_s`` seconds (on score calls).
    """

    def __init__(self, registry: ModelRegistry, poll_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = registry
        self.poll_s = poll_s
        self._clock = clock
        self._checked = clock()
        self._current = LightGBMScorer.from_registry(registry)

    @property
    def version(self) -> str:
        """Version of the model now serving."""
        return self._current.version

    def refresh(self) -> bool:
        """Load the live model if it changed; True when a new one was swapped in."""
        self._checked = self._clock()
        live = self.registry.live_version()
        if live is None or live == self._current.version:
            return False
        self._current = LightGBMScorer.from_registry(self.registry, live)
        return True

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """Score with the live model (checking for a new one every ``poll_s`` seconds)."""
        if self._clock() - self._checked >= self.poll_s:
            self.refresh()
        return self._current.score_batch(declarations, features)

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """Explain with the model now serving."""
        return self._current.explain(declaration, features)
