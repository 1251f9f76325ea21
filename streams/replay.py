"""``zeikan replay``: the pure engine over a history folder, scored by the deployment's own scorers.

The engine's offline protocol (:mod:`zeikan.streams.engine.replay`) is pure; this module
adds what a worker adds: the live model of the registry, the shadow candidates and the
image model, built by the same factories (:mod:`zeikan.streams.serving.scoring`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from zeikan.models.registry import DEFAULT_REGISTRY
from zeikan.streams.engine.config import EngineConfig
from zeikan.streams.engine.core import DecisionEngine
from zeikan.streams.engine.replay import History, Replayer, read_history, timeline
from zeikan.streams.engine.rules import RuleBook
from zeikan.streams.engine.shared_state import SharedState
from zeikan.streams.serving.scoring import build_image_scorer, build_shadow_scorers, build_tabular_scorer


def replay(
    directory: Path, rules: RuleBook, config: EngineConfig, registry: str = DEFAULT_REGISTRY, shadow: str | None = None
) -> tuple[Iterator[dict[str, Any]], History]:
    """Decisions of the history in ``directory`` (lazy) and the history read.

    Scored by the same factories as the workers: the live model of ``registry``
    (the heuristic when none is promoted), the shadow candidates, the image model
    (reading the history's own ``images/`` store when it has one).
    """
    history = read_history(directory)
    engine = DecisionEngine(
        SharedState(config), build_tabular_scorer(registry), lambda: rules, build_shadow_scorers(registry, shadow)
    )
    images = directory / "images"
    image_scorer = build_image_scorer(store_url=str(images) if images.is_dir() else None)
    return Replayer(engine, image_scorer, config).run(timeline(history, config.epoch_ms)), history
