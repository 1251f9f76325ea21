"""Continuous learning's tabular scorer: each declaration is scored by the model its filing time calls for.

:class:`PromotedScorer` asks the :class:`~zeikan.streams.engine.promotions.PromotionBook`
which version serves a declaration filed at ``t`` (the base model, then each promoted
candidate from its ``effective_from``), scores each version's declarations in one call,
and names that version in the decision (``version_of``). Unlike the ``LIVE`` pointer's
hot reload (wall-clock), the choice is a function of event time, so live workers and
``zeikan replay`` serve the same model to the same declaration.

Models come from :class:`ModelCache`: the registry (the learner registers every
candidate before its record is published), or candidates put there by the replay. A
candidate is always served from its text form (``model_to_string``), as the registry
stores it, so a replay that never wrote it scores exactly as the workers that read it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import lightgbm as lgb

from zeikan.models.base import Explanation, FeatureRow, TabularScorer
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.registry import RISK, ModelRegistry
from zeikan.models.tabular import LightGBMScorer
from zeikan.models.training import TrainedModel
from zeikan.streams.engine.learner import Learner
from zeikan.streams.engine.promotions import PromotionBook
from zeikan.streams.observability.hooks import PipelineHooks
from zeikan.streams.settings import LearningSettings

log = logging.getLogger("zeikan.serving")


class ModelCache:
    """Tabular models by version: the heuristic, the registry's versions, candidates put by a replay."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self.heuristic = HeuristicTabularScorer()
        self._models: dict[str, TrainedModel] = {}

    def put(self, version: str, model: TrainedModel) -> None:
        """Keep ``model`` (as the registry would store it) under ``version``."""
        booster = lgb.Booster(model_str=model.booster.model_to_string())
        self._models[version] = TrainedModel(booster, model.calibration, model.features, model.categorical,
                                             model.metrics, model.window, model.feature_bins)

    def trained(self, version: str) -> TrainedModel | None:
        """The LightGBM model of ``version`` (None for the heuristic); loads it from the registry once."""
        if version == self.heuristic.version:
            return None
        if version not in self._models:
            self._models[version] = self.registry.load(version)[1]
        return self._models[version]

    def champion(self, version: str) -> TrainedModel | TabularScorer:
        """What a candidate is compared with when ``version`` is the champion: its model, or the heuristic."""
        return self.trained(version) or self.heuristic

    def scorer(self, version: str) -> TabularScorer:
        """A scorer of ``version``."""
        model = self.trained(version)
        return self.heuristic if model is None else LightGBMScorer(model, version)


class PromotedScorer:
    """``TabularScorer`` whose model per declaration follows the promotion book (see the module docstring)."""

    def __init__(self, book: PromotionBook, models: ModelCache, hooks: PipelineHooks | None = None) -> None:
        self.book = book
        self.models = models
        self._hooks = hooks or PipelineHooks()
        self._scorers: dict[str, TabularScorer] = {}
        self.version = models.scorer(book.base).version
        """The version that scored the latest-filed declaration so far (the metric's serving version)."""
        self._latest = -1

    def version_of(self, declaration: Mapping) -> str:
        """The version that scores ``declaration`` (its filing time's model)."""
        return self.book.serving(int(declaration["filed_at"]))

    def _scorer(self, version: str) -> TabularScorer:
        if version not in self._scorers:
            self._scorers[version] = self.models.scorer(version)
        return self._scorers[version]

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """Score each declaration with its version's model (one call per version in the batch)."""
        versions = [self.version_of(d) for d in declarations]
        scores = [0.0] * len(declarations)
        for version in dict.fromkeys(versions):
            rows = [i for i, v in enumerate(versions) if v == version]
            found = self._scorer(version).score_batch([declarations[i] for i in rows], [features[i] for i in rows])
            for i, score in zip(rows, found):
                scores[i] = float(score)
        self._note_serving(declarations, versions)
        return scores

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """Reasons from the model that scored ``declaration``."""
        return self._scorer(self.version_of(declaration)).explain(declaration, features)

    def _note_serving(self, declarations: Sequence[Mapping], versions: Sequence[str]) -> None:
        for decl, version in zip(declarations, versions):
            filed = int(decl["filed_at"])
            if filed > self._latest:
                self._latest = filed
                if version != self.version:
                    log.info("tabular model %s -> %s for declarations filed from %d (continuous learning)",
                             self.version, version, filed)
                    self.version = version
                    self._hooks.on_model_loaded("tabular", version)


def base_version(registry: ModelRegistry) -> str | None:
    """The newest risk model that is no continuous-learning candidate (``zeikan train``'s), or None.

    The default base: the candidates registered later never change it, so a restarted
    worker and a replay over the same registry start from the same model.
    """
    trained = [info.version for info in registry.versions(RISK) if not info.promotion]
    return trained[-1] if trained else None


def build_learning(registry: str, learning: LearningSettings, hooks: PipelineHooks | None = None) -> tuple[PromotedScorer, Learner]:
    """The scorer and the learner of continuous learning over ``registry`` (workers and replay build the same).

    The base is ``learning.base_model``, else :func:`base_version`, else the heuristic; a
    ``base_model`` the registry does not hold raises ``ModelNotFoundError`` here (a startup error).
    """
    models = ModelCache(ModelRegistry(registry))
    base = learning.base_model or base_version(models.registry) or models.heuristic.version
    book = PromotionBook(learning.schedule(), base)
    scorer = PromotedScorer(book, models, hooks)
    log.info("continuous learning: %s serves until the first promotion; a candidate every %d day(s) on the last %d "
             "days, effective %d h after its boundary", base, learning.every_days, learning.train_days,
             learning.effective_delay_h)
    return scorer, Learner(learning.continuous(), book)
