"""Scorer factories: the one place that chooses which models serve the pipeline.

The stream (``zeikan worker``) and ``zeikan replay`` both build their scorers here
and depend only on the ``TabularScorer`` / ``ImageScorer`` / ``FeatureState``
protocols, so live and replay always serve the same models.

* Tabular: the registry's live LightGBM model (``zeikan train`` / ``zeikan models
  promote``). :class:`RegistryScorer` polls the registry's ``LIVE`` pointer every
  ``poll_s`` seconds and swaps in a newly promoted model without a restart. While
  nothing is promoted it serves the documented heuristic
  (:class:`~zeikan.models.heuristic.HeuristicTabularScorer`), says so in the log,
  and switches to the first model promoted later.
* Seizure key: the registry's live model of role ``seizure`` (:func:`build_seizure_scorer`), when it has one;
  it ranks containers in the container lanes. Read once when the worker (or the replay) starts, so every
  worker and a replay over the same registry serve the same one; promoting another takes a restart.
* Shadow: candidate versions scored beside the live model (:class:`ShadowScorers`);
  their scores land in each decision's ``shadow_scores`` (version -> score) and a
  per-batch comparison is logged. They never change a decision (nor its id).
* Image: the committed ONNX CNN (:class:`~zeikan.images.scorer.OnnxImageScorer`,
  ``ZEIKAN_IMAGE_MODEL_DIR`` for another artifact), reading images only from the
  configured store (``ZEIKAN_IMAGE_STORE``; a store whose filesystem library is
  missing is a startup error). When onnxruntime or the artifact is unusable,
  :class:`~zeikan.models.image_unavailable.UnavailableImageScorer` serves: no
  image score, "image model unavailable: analyst review", and the engine's
  ``image_review_action`` lane. :func:`assess_off_loop` runs image scoring in a
  thread so a Faust agent's event loop never blocks on it.
* Metrics: with ``hooks``, every model call reports its duration
  (``on_model_latency`` for roles tabular, shadow and image), scans left without
  an image score are counted by kind (``on_images_unassessed``) and each tabular
  model that starts serving is announced (``on_model_loaded``); the drift
  reference of a model (its training ``feature_bins``) is read with
  :func:`registry_metadata`.

Serving events go to the ``zeikan.serving`` logger: fallbacks at WARNING, the
model serving, swaps and shadow comparisons at INFO (``zeikan worker --loglevel
INFO``). Every decision names its model versions (``model_versions``) and carries
the shadow scores, and the worker's metrics expose the serving versions.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import Any

from zeikan.models.base import UNASSESSED_KINDS, Explanation, FeatureRow, ImageAssessment, ImageScorer, TabularScorer
from zeikan.models.errors import ModelNotFoundError
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.image_unavailable import UnavailableImageScorer
from zeikan.models.registry import DEFAULT_REGISTRY, SEIZURE, ModelRegistry
from zeikan.models.tabular import LightGBMScorer
from zeikan.streams.engine.post_scan import assess
from zeikan.streams.observability.hooks import PipelineHooks

log = logging.getLogger("zeikan.serving")

SHADOW_LOG_EVERY_S = 10.0
"""Shortest interval between two shadow comparison lines in the log (per worker)."""


class RegistryScorer:
    """The registry's live model with hot reload; the heuristic until a model is promoted.

    Implements ``TabularScorer``. ``version`` names the model now serving; the
    engine reads it right after :meth:`score_batch`, so a decision always names the
    model that scored it.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        poll_s: float,
        hooks: PipelineHooks | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.poll_s = poll_s
        self._hooks = hooks or PipelineHooks()
        self._clock = clock
        self._checked = clock()
        self._fallback = HeuristicTabularScorer()
        self._live: LightGBMScorer | None = None
        self._announced = False
        if registry.live_version() is not None:
            self._live = LightGBMScorer.from_registry(registry)
        else:
            log.warning(
                "no live model in registry %s: scoring with the heuristic %s until one is promoted "
                "(`zeikan train --history DIR --registry %s`)", registry.url, self._fallback.version, registry.url,
            )

    @property
    def version(self) -> str:
        """Version of the model now serving."""
        return self._live.version if self._live else self._fallback.version

    @property
    def current(self) -> TabularScorer:
        """The scorer now serving."""
        return self._live or self._fallback

    def _poll(self) -> None:
        if not self._announced:  # on first use: a worker's log handlers exist only once Faust has started
            self._announced = True
            log.info("tabular model %s (registry %s, checked for promotions every %.1fs)", self.version, self.registry.url, self.poll_s)
        if self._clock() - self._checked < self.poll_s:
            return
        self._checked = self._clock()
        before = self.version
        try:
            live = self.registry.live_version()  # the one poll of the registry: once per poll_s
            if live is not None and live != (self._live.version if self._live else None):
                self._live = LightGBMScorer.from_registry(self.registry, live)
        except Exception as exc:  # noqa: BLE001 - a broken promotion must not stop scoring: keep the model serving
            log.error("cannot load the promoted model from %s (%s: %s); %s keeps serving, retrying in %.1fs",
                      self.registry.url, type(exc).__name__, exc, before, self.poll_s)
            return
        if self.version != before:
            log.info("tabular model %s -> %s (promoted in %s; no restart)", before, self.version, self.registry.url)
            self._hooks.on_model_loaded("tabular", self.version)

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """Score with the serving model (first picking up a newly promoted one, at most every ``poll_s``)."""
        self._poll()
        started = time.perf_counter()
        scores = self.current.score_batch(declarations, features)
        self._hooks.on_model_latency("tabular", time.perf_counter() - started, len(features))
        return scores

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """Reasons from the serving model (TreeSHAP for LightGBM)."""
        return self.current.explain(declaration, features)


def build_tabular_scorer(
    registry: str = DEFAULT_REGISTRY, poll_s: float | None = None, hooks: PipelineHooks | None = None
) -> TabularScorer:
    """The tabular scorer of ``registry``: hot-reloading when ``poll_s`` is given (workers), fixed otherwise (replay)."""
    reg = ModelRegistry(registry)
    if poll_s is not None:
        return RegistryScorer(reg, poll_s, hooks)
    if reg.live_version() is None:
        log.warning("no live model in registry %s: scoring with the heuristic", registry)
        return HeuristicTabularScorer()
    return LightGBMScorer.from_registry(reg)


def build_seizure_scorer(registry: str = DEFAULT_REGISTRY) -> TabularScorer | None:
    """The live seizure key of ``registry`` (role ``seizure``), or None when none is promoted."""
    reg = ModelRegistry(registry)
    version = reg.live_version(SEIZURE)
    if version is None:
        return None
    log.info("seizure key %s ranks containers in the container lanes (registry %s)", version, registry)
    return LightGBMScorer.from_registry(reg, version)


class ShadowScorers:
    """Candidate models scored beside the live one: recorded per decision and summarised in the log, never acted on.

    Called by the decision engine as ``shadow(declarations, features, live_scores)``;
    returns one ``{version: score}`` map per declaration.
    """

    def __init__(self, scorers: Sequence[TabularScorer], hooks: PipelineHooks | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.scorers = list(scorers)
        self._hooks = hooks or PipelineHooks()
        self._clock = clock
        self._logged = -math.inf
        self._totals = {s.version: [0, 0.0, 0.0, 0.0] for s in self.scorers}  # n, sum live, sum shadow, sum |diff|

    @property
    def versions(self) -> list[str]:
        """Versions of the candidates."""
        return [s.version for s in self.scorers]

    def __call__(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow], live: Sequence[float]) -> list[dict[str, float]]:
        """Score every candidate over the batch; one ``{version: score}`` per declaration."""
        out: list[dict[str, float]] = [{} for _ in declarations]
        for scorer in self.scorers:
            started = time.perf_counter()
            scores = scorer.score_batch(declarations, features)
            self._hooks.on_model_latency("shadow", time.perf_counter() - started, len(features))
            for row, score in zip(out, scores):
                row[scorer.version] = round(float(score), 6)
            self._tally(scorer.version, live, scores)
        if self._clock() - self._logged >= SHADOW_LOG_EVERY_S:
            self._logged = self._clock()
            for version, (n, live_sum, shadow_sum, diff_sum) in self._totals.items():
                if n:
                    log.info("shadow %s over %d declarations: mean score %.4f (live %.4f), mean |shadow - live| %.4f; "
                             "never acted on", version, n, shadow_sum / n, live_sum / n, diff_sum / n)
        return out

    def _tally(self, version: str, live: Sequence[float], shadow: Sequence[float]) -> None:
        totals = self._totals[version]
        totals[0] += len(shadow)
        totals[1] += float(sum(live))
        totals[2] += float(sum(shadow))
        totals[3] += float(sum(abs(a - b) for a, b in zip(live, shadow)))


def parse_shadow(value: str | Sequence[str] | None) -> list[str]:
    """Shadow versions from a flag or ``ZEIKAN_SHADOW_MODEL`` (comma-separated)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in items if v.strip()]


def build_shadow_scorers(
    registry: str = DEFAULT_REGISTRY, versions: str | Sequence[str] | None = None, hooks: PipelineHooks | None = None
) -> ShadowScorers | None:
    """Candidates scored beside the live model, or None; an unknown version raises ``ModelNotFoundError``."""
    wanted = parse_shadow(versions)
    if not wanted:
        return None
    reg = ModelRegistry(registry)
    scorers = [LightGBMScorer.from_registry(reg, v) for v in wanted]
    for scorer in scorers:
        log.info("shadow model %s from registry %s: scored beside the live model, never acted on", scorer.version, registry)
        (hooks or PipelineHooks()).on_model_loaded("shadow", scorer.version)
    return ShadowScorers(scorers, hooks)


def registry_metadata(registry: str, version: str) -> dict[str, Any] | None:
    """The metadata.json of ``version`` in ``registry`` (e.g. its ``feature_bins``), or None.

    None for a version the registry does not hold (the heuristic) or cannot read
    (logged): a missing drift reference must never stop scoring.
    """
    reg = ModelRegistry(registry)
    try:
        return asdict(reg.info(version))
    except ModelNotFoundError:
        return None
    except Exception as exc:  # noqa: BLE001 - metadata only feeds metrics
        log.warning("cannot read the metadata of %s in %s (%s: %s): no feature drift for it",
                    version, registry, type(exc).__name__, exc)
        return None


class TimedImageScorer:
    """An ``ImageScorer`` that reports each batch's duration and its scans left without an image score."""

    def __init__(self, scorer: ImageScorer, hooks: PipelineHooks) -> None:
        self.scorer = scorer
        self.version = scorer.version
        self._hooks = hooks

    def assess_batch(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """Assess with the wrapped scorer; report the duration (``on_model_latency``) and unassessed scans by kind."""
        started = time.perf_counter()
        found = self.scorer.assess_batch(scans, declared)
        self._hooks.on_model_latency("image", time.perf_counter() - started, len(scans))
        for kind in UNASSESSED_KINDS:
            n = sum(1 for a in found if a.unassessed == kind)
            if n:
                self._hooks.on_images_unassessed(kind, n)
        return found


def build_image_scorer(hooks: PipelineHooks | None = None, store_url: str | None = None) -> ImageScorer:
    """The ONNX image model reading from the configured store; :class:`UnavailableImageScorer` if no model can serve.

    ``store_url`` overrides ``ZEIKAN_IMAGE_STORE`` (replay reads a history's own
    ``images/`` store). A store that cannot be opened raises ``ImageError`` (a
    startup error, never an agent crash later). With ``hooks``, batches are
    measured (:class:`TimedImageScorer`).
    """
    from zeikan.images.references import open_configured_store
    from zeikan.images.scorer import ImageScorerSettings

    settings = ImageScorerSettings.from_env()
    if store_url is not None:
        settings = replace(settings, store_url=store_url)
    open_configured_store(settings.store_url)
    scorer = _image_scorer(settings)
    return TimedImageScorer(scorer, hooks) if hooks is not None else scorer


def _image_scorer(settings: Any) -> ImageScorer:
    try:
        from zeikan.images.scorer import OnnxImageScorer

        scorer: ImageScorer = OnnxImageScorer(settings)
    except Exception as exc:  # noqa: BLE001 - onnxruntime missing or a broken artifact: the stream still runs, without image scores
        log.error("image model unusable (%s: %s): POST_SCAN decisions get no image score and go to analyst review (%s)",
                  type(exc).__name__, exc, UnavailableImageScorer.version)
        return UnavailableImageScorer()
    log.info("image model %s (onnxruntime), images read only from %s", scorer.version, settings.store_url)
    return scorer


async def assess_off_loop(
    scorer: ImageScorer, completed: Sequence[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]
) -> list[list[ImageAssessment]]:
    """:func:`~zeikan.streams.engine.post_scan.assess` in a worker thread: the event loop keeps serving.

    Image loading, onnxruntime and the heatmap writes release the GIL for most of
    their time, so other agents keep consuming while a batch of scans is scored.
    """
    return await asyncio.to_thread(assess, scorer, completed)

