"""Tiny trained LightGBM models in a registry, for the scoring and model-in-stream tests (seconds, few trees)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.models.model_history import write_history
from zeikan.features.history import load_history
from zeikan.models.registry import ModelRegistry
from zeikan.models.training import TrainSettings

FAST = TrainSettings(num_boost_round=25, early_stopping_rounds=10, num_leaves=7)


def trained_registry(root: Path, versions: int = 1, days: int = 20, per_day: int = 60) -> tuple[ModelRegistry, list[str]]:
    """A registry under ``root`` with ``versions`` small models (different seeds); the first one is live."""
    from zeikan.models.training import train_tabular

    history = load_history(str(write_history(root / "history", days=days, per_day=per_day)))
    registry = ModelRegistry(str(root / "registry"))
    names = []
    for i in range(versions):
        model = train_tabular(history, replace(FAST, seed=i, feature_fraction=0.8 - 0.1 * i))
        names.append(registry.register(model, f"test{i:04d}{history.data_hash}", promote=i == 0).version)
    return registry, names
