"""Inverse-propensity weights that correct the selection bias of inspected declarations.

Only inspected declarations have a label, and most were inspected because the
legacy targeting chose them. Each labelled declaration is weighted by 1 / π, its
probability of having been inspected, so that the weighted labelled set stands for
the whole population (Horvitz-Thompson):

* π(x) = P(inspected | features) is learned from *every* declaration (inspected or
  not: the office knows both) by a small, strongly regularised LightGBM, cross-fitted
  over two interleaved halves so that no declaration is scored by a model that saw it;
* the random-control inspections (``random_selected``) give the floor: every
  declaration not targeted was inspected with probability ρ = random inspections /
  declarations not targeted, so π ≥ ρ. ρ is measured only where the random flag is
  known: from the first random-selected inspection on (older data, written before
  the flag existed, reads it as false and would make ρ look like 0). Without any
  random control ρ falls back to ``default_floor``;
* weights are normalised to mean 1 over the labelled set and capped at ``max_weight``
  (a few random controls must not carry the whole model).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import polars as pl


@dataclass(frozen=True)
class PropensitySettings:
    """How the inspection propensity is learned and turned into weights."""

    rounds: int = 60
    num_leaves: int = 7
    min_data_in_leaf: int = 200
    learning_rate: float = 0.1
    default_floor: float = 0.01
    """ρ when no random control is known."""
    max_weight: float = 30.0
    seed: int = 0
    num_threads: int = 1


def random_known_since(inspections: Iterable[Mapping]) -> int | None:
    """Time of the first random-selected inspection (the random flag is trusted from then on), or None."""
    times = [int(r["inspected_at"]) for r in inspections if r.get("random_selected")]
    return min(times) if times else None


def random_floor(filed_at: np.ndarray, inspected: np.ndarray, random: np.ndarray, since: int | None,
                 settings: PropensitySettings = PropensitySettings()) -> float:
    """ρ: random inspections / declarations not targeted, over declarations filed since the flag is known."""
    if since is None:
        return settings.default_floor
    known = filed_at >= since
    targeted = inspected & ~random & known
    candidates = int(known.sum() - targeted.sum())
    n_random = int((random & known).sum())
    return n_random / candidates if candidates and n_random else settings.default_floor


def inspection_propensity(matrix: np.ndarray, inspected: np.ndarray,
                          settings: PropensitySettings = PropensitySettings()) -> np.ndarray:
    """P(inspected | features) per row, cross-fitted over two interleaved halves."""
    params = {"objective": "binary", "num_leaves": settings.num_leaves, "min_data_in_leaf": settings.min_data_in_leaf,
              "learning_rate": settings.learning_rate, "seed": settings.seed, "verbosity": -1, "num_threads": settings.num_threads,
              "deterministic": True}
    fold = np.arange(len(inspected)) % 2
    out = np.empty(len(inspected))
    y = inspected.astype(np.float64)
    for k in (0, 1):
        train, apply = fold != k, fold == k
        if not y[train].size or y[train].min() == y[train].max():  # one class (or no row) to learn from
            out[apply] = y[train].mean() if y[train].size else 0.0
            continue
        booster = lgb.train(params, lgb.Dataset(matrix[train], y[train]), num_boost_round=settings.rounds)
        out[apply] = booster.predict(matrix[apply], num_threads=1)
    return out


def ipw_weights(propensity: np.ndarray, floor: float, settings: PropensitySettings = PropensitySettings()) -> np.ndarray:
    """1 / max(π, ρ), normalised to mean 1, capped at ``max_weight``.

    >>> ipw_weights(np.array([0.5, 0.01, 0.9]), 0.05).round(3).tolist()
    [0.26, 2.596, 0.144]
    """
    raw = 1.0 / np.maximum(propensity, floor)
    weight = raw / raw.mean() if len(raw) else raw
    return np.minimum(weight, settings.max_weight)


def selection_weights(features: pl.DataFrame, labels: pl.DataFrame, names: Sequence[str], since: int | None,
                      settings: PropensitySettings = PropensitySettings()) -> pl.DataFrame:
    """Per inspected declaration: ``declaration_id``, ``weight`` (see the module docstring).

    ``features``: every declaration (``declaration_id``, ``filed_at``, ``names``);
    ``labels``: the inspected ones (``declaration_id``, ``random``).
    """
    frame = features.join(labels.select("declaration_id", "random"), on="declaration_id", how="left")
    inspected = frame["random"].is_not_null().to_numpy()
    random = frame["random"].fill_null(False).to_numpy()
    floor = random_floor(frame["filed_at"].to_numpy(), inspected, random, since, settings)
    propensity = inspection_propensity(frame.select(names).to_numpy().astype(np.float64), inspected, settings)
    weight = ipw_weights(propensity[inspected], floor, settings)
    return pl.DataFrame({"declaration_id": frame["declaration_id"].filter(pl.Series(inspected)), "weight": weight})
