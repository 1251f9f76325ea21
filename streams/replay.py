"""``zeikan replay``: the pure engine over a history folder, scored by the deployment's own scorers.

The engine's offline protocol (:mod:`zeikan.streams.engine.replay`) is pure; this module
adds what a worker adds: the live model of the registry, the shadow candidates and the
image model, built by the same factories (:mod:`zeikan.streams.serving.scoring`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from zeikan.models.base import TabularScorer
from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.schemas.contract import DECLARATIONS, INSPECTION_RESULTS, SCANS
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.learner import Learner, Window, with_promotions
from zeikan.streams.engine.replay import History, Replayer, read_history, timeline
from zeikan.streams.engine.rules import RuleBook
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.serving.promoted import PromotedScorer, build_learning
from zeikan.streams.serving.scoring import (
    build_image_scorer, build_seizure_scorer, build_shadow_scorers, build_tabular_scorer,
)
from zeikan.streams.settings import LearningSettings


def replay(
    directory: Path, rules: RuleBook, config: EngineConfig, registry: str = DEFAULT_REGISTRY, shadow: str | None = None,
    learning: LearningSettings | None = None, promotions: list[dict[str, Any]] | None = None,
) -> tuple[Iterator[dict[str, Any]], History]:
    """Decisions of the history in ``directory`` (lazy) and the history read.

    Scored by the same factories as the workers: the live model of ``registry``
    (the heuristic when none is promoted), its seizure key, the shadow candidates, the image model
    (reading the history's own ``images/`` store when it has one). With ``learning``
    enabled, the promotions are recomputed from the history as the workers compute them
    (candidates kept in memory, nothing written to ``registry``), each decision is scored
    by the model its filing time calls for, and each boundary's record is appended to
    ``promotions`` as the decisions are read.
    """
    history = read_history(directory)
    epochs = timeline(history, config.epoch_ms)
    if learning is not None and learning.enabled:
        scorer, learner = build_learning(registry, learning)
        epochs = with_promotions(epochs, learner, config.epoch_ms, _replay_decider(scorer, learner, promotions))
        tabular: TabularScorer = scorer
    else:
        tabular = build_tabular_scorer(registry)
    return _replayer(directory, rules, config, registry, tabular, shadow).run(epochs), history


def _replayer(directory: Path, rules: RuleBook, config: EngineConfig, registry: str, tabular: TabularScorer,
              shadow: str | None = None) -> Replayer:
    engine = DecisionEngine(SharedState(config), tabular, lambda: rules, build_shadow_scorers(registry, shadow),
                            build_seizure_scorer(registry))
    images = directory / "images"
    image_scorer = build_image_scorer(store_url=str(images) if images.is_dir() else None)
    return Replayer(engine, image_scorer, config)


_PARTS = (("declarations", DECLARATIONS), ("inspections", INSPECTION_RESULTS), ("scans", SCANS))
"""The :class:`History` lists and the contract of their records."""


def _count(history: History) -> int:
    return sum(len(getattr(history, name)) for name, _ in _PARTS)


class GrowingReplay:
    """``zeikan replay`` of a history directory that grows only after the instant decided so far (the closed loop).

    :meth:`until` decides the events before ``end_ms`` that earlier calls have not fed, on the engine state the
    earlier calls left: the same decisions, in the same order, as a full :func:`replay` of the directory, as long as
    no event earlier than the last ``end_ms`` is added afterwards (ValueError if one is). Without learning.
    """

    def __init__(self, directory: Path, rules: RuleBook, config: EngineConfig, registry: str = DEFAULT_REGISTRY) -> None:
        self._directory = directory
        self._epoch_ms = config.epoch_ms
        self._replayer = _replayer(directory, rules, config, registry, build_tabular_scorer(registry))
        self._fed_until: int | None = None
        self._fed = 0

    def until(self, end_ms: int) -> list[dict[str, Any]]:
        """Decisions of the events in ``[previous end_ms, end_ms)``, in replay order."""
        if end_ms % self._epoch_ms:
            raise ValueError(f"end_ms {end_ms} is not an epoch boundary")
        history = read_history(self._directory)
        start = self._fed_until
        if start is not None and end_ms < start:
            raise ValueError(f"end_ms {end_ms} is before the instant already decided ({start})")
        old, new = History(), History()
        for name, spec in _PARTS:
            for record in getattr(history, name):
                t = int(record[spec.time_field])
                if t < end_ms:
                    getattr(old if start is not None and t < start else new, name).append(record)
        fed = _count(old)
        if fed != self._fed:
            raise ValueError(f"events before {start} changed since they were decided ({self._fed} then, {fed} now)")
        self._fed_until, self._fed = end_ms, fed + _count(new)
        return list(self._replayer.run(timeline(new, self._epoch_ms)))


def _replay_decider(scorer: PromotedScorer, learner: Learner, out: list[dict[str, Any]] | None) -> Callable[[Window], dict[str, Any]]:
    def decide(window: Window) -> dict[str, Any]:
        record, step = learner.decide(window, scorer.models.champion(learner.book.champion(window.boundary)))
        if step is not None:
            scorer.models.put(step.decision.candidate, step.candidate)
        if out is not None:
            out.append(record)
        return record

    return decide
