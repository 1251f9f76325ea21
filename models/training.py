"""Training of the tabular risk model from what an office knows: declarations and inspection results.

Labels: an inspected declaration is positive when any of its inspections found a
DISCREPANCY or a SEIZURE, negative on NO_FINDING. Declarations never inspected
have no label and are not used (the truth file is never read here).

Selection bias: inspected declarations are mostly *targeted* (chosen by risk), so
they over-represent whatever the targeting already looks for. Each labelled example
carries an inverse-propensity weight (:mod:`zeikan.models.propensity`): 1 / its
probability of having been inspected, learned from every declaration and floored by
the random-control share. Validation (early stopping) and the Platt calibration
slice are later time slices, weighted the same way.

Finding weights: in the train and validation slices a positive label whose findings
include a kind that inspections seldom find is weighted up further
(:mod:`zeikan.models.finding_weights`, ``TrainSettings.finding_weights``); the
calibration slice keeps the inverse-propensity weights alone, so the probabilities
stay calibrated.

Split: examples sorted by filing time; the first ``1 - valid_share - calib_share``
train, the next ``valid_share`` drive early stopping, the last ``calib_share`` fit
the calibration (Platt scaling of the raw margin).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from zeikan.env_settings import settings_from_env
from zeikan.features.batch import batch_features
from zeikan.features.definitions import POSITIVE_OUTCOMES
from zeikan.features.history import History
from zeikan.features.names import FEATURE_NAMES
from zeikan.models.errors import NotEnoughLabelsError
from zeikan.models.finding_weights import finding_factor, parse_finding_weights
from zeikan.models.propensity import random_known_since, selection_weights
from zeikan.models.drift import reference_bins

MIN_POSITIVES = 5
"""Fewer positive labels than this and no model is trained."""


@dataclass(frozen=True)
class TrainSettings:
    """LightGBM and split settings (env ``ZEIKAN_TRAIN_<NAME>`` overrides each default)."""

    num_boost_round: int = 600
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_data_in_leaf: int = 20
    feature_fraction: float = 0.8
    early_stopping_rounds: int = 50
    valid_share: float = 0.15
    calib_share: float = 0.15
    seed: int = 0
    num_threads: int = 1
    """LightGBM threads (1: the training shares its machine; deterministic either way)."""
    finding_weights: tuple[str, ...] = ("ORIGIN:4",)
    """``KIND:factor`` per finding kind that weighs a positive label up (train and validation slices).

    ORIGIN 4 was chosen on the tuning variants of ``sim/variants.py`` (3, 4, 5 and 10 tried:
    origin recall at 5 % from 0.53 to 0.71-0.78 x the observed oracle's, P@5 unchanged).
    """

    ENV = {name: f"ZEIKAN_TRAIN_{name.upper()}" for name in (
        "num_boost_round", "learning_rate", "num_leaves", "min_data_in_leaf", "feature_fraction",
        "early_stopping_rounds", "valid_share", "calib_share", "seed", "num_threads", "finding_weights")}

    def __post_init__(self) -> None:
        parse_finding_weights(self.finding_weights)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> TrainSettings:
        """Defaults, then ``ZEIKAN_TRAIN_*`` variables, then explicit overrides (``None`` = not given)."""
        return settings_from_env(cls, env, overrides)

    def lgb_params(self) -> dict[str, Any]:
        """LightGBM parameters for binary classification."""
        return {
            "objective": "binary", "learning_rate": self.learning_rate, "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_data_in_leaf, "feature_fraction": self.feature_fraction,
            "bagging_fraction": 0.9, "bagging_freq": 1, "seed": self.seed, "verbosity": -1,
            "num_threads": self.num_threads, "deterministic": True,
        }


@dataclass(frozen=True)
class Calibration:
    """Platt scaling: p = sigmoid(a * margin + b)."""

    a: float = 1.0
    b: float = 0.0

    def apply(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw margins."""
        return 1.0 / (1.0 + np.exp(-(self.a * margin + self.b)))


@dataclass
class TrainedModel:
    """A booster, its calibration and what to record about it."""

    booster: lgb.Booster
    calibration: Calibration
    features: list[str]
    categorical: list[str] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    window: dict[str, int] = field(default_factory=dict)
    feature_bins: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    """Training distribution per feature (``ReferenceBins.to_json()``): the reference of live drift (PSI)."""

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated probability per row."""
        return self.calibration.apply(self.booster.predict(matrix, raw_score=True, num_threads=1))


def inspection_labels(inspections: Iterable[Mapping], before: int | None = None) -> pl.DataFrame:
    """Per inspected declaration: label (any finding), random (any random-selected inspection), kinds (found, sorted)."""
    rows = [
        (r["declaration_id"], float(r["outcome"] in POSITIVE_OUTCOMES), bool(r.get("random_selected", False)),
         [f["kind"] for f in r.get("findings") or ()])
        for r in inspections
        if before is None or int(r["inspected_at"]) < before
    ]
    frame = pl.DataFrame(rows, schema={"declaration_id": pl.String, "label": pl.Float64, "random": pl.Boolean,
                                       "kinds": pl.List(pl.String)}, orient="row")
    return frame.group_by("declaration_id").agg(
        pl.col("label").max(), pl.col("random").any(), pl.col("kinds").list.explode(keep_nulls=False, empty_as_null=False).unique().sort())


def platt(margin: np.ndarray, label: np.ndarray, weight: np.ndarray, iterations: int = 50) -> Calibration:
    """Fit Platt scaling by Newton's method on the weighted log-loss (a tiny ridge keeps it stable)."""
    a, b = 1.0, 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        g = weight * (p - label)
        h = weight * p * (1.0 - p)
        grad = np.array([np.sum(g * margin) + 1e-3 * (a - 1.0), np.sum(g) + 1e-3 * b])
        hess = np.array([[np.sum(h * margin * margin) + 1e-3, np.sum(h * margin)],
                         [np.sum(h * margin), np.sum(h) + 1e-3]])
        step = np.linalg.solve(hess, grad)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-9:
            break
    return Calibration(float(a), float(b))


def weighted_auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney with ties averaged); NaN with a single class."""
    pos, neg = int(label.sum()), int(len(label) - label.sum())
    if pos == 0 or neg == 0:
        return math.nan
    ranks = pl.Series(score).rank("average").to_numpy()
    return float((ranks[label == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))


def fit(
    frame: pl.DataFrame, features: Sequence[str], settings: TrainSettings, categorical: Sequence[str] = ()
) -> TrainedModel:
    """Train on a labeled frame (columns: filed_at, label, random, weight, kinds, features): split, early stop, calibrate."""
    frame = frame.sort("filed_at")
    n = frame.height
    if n == 0 or frame["label"].sum() < MIN_POSITIVES:
        raise NotEnoughLabelsError(int(frame["label"].sum()) if n else 0, MIN_POSITIVES)
    cut_valid = int(n * (1.0 - settings.valid_share - settings.calib_share))
    cut_calib = int(n * (1.0 - settings.calib_share))
    matrix = frame.select(features).to_numpy().astype(np.float64)
    label = frame["label"].to_numpy()
    weight = frame["weight"].to_numpy()
    boosted = weight * finding_factors(frame["kinds"], parse_finding_weights(settings.finding_weights))
    parts = {"train": slice(0, cut_valid), "valid": slice(cut_valid, cut_calib), "calib": slice(cut_calib, n)}
    cat = [features.index(c) for c in categorical]
    train = lgb.Dataset(matrix[parts["train"]], label[parts["train"]], weight=boosted[parts["train"]],
                        feature_name=list(features), categorical_feature=cat or "auto", free_raw_data=False)
    valid = lgb.Dataset(matrix[parts["valid"]], label[parts["valid"]], weight=boosted[parts["valid"]], reference=train)
    booster = lgb.train(
        settings.lgb_params() | {"metric": "binary_logloss"}, train, num_boost_round=settings.num_boost_round,
        valid_sets=[valid], callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
    )
    margin = booster.predict(matrix[parts["calib"]], raw_score=True)
    calibration = platt(margin, label[parts["calib"]], weight[parts["calib"]])
    metrics = {
        "examples": float(n), "positives": float(label.sum()), "random_examples": float(frame["random"].sum()),
        "best_iteration": float(booster.best_iteration), "valid_auc": weighted_auc(
            booster.predict(matrix[parts["valid"]], raw_score=True), label[parts["valid"]]),
        "calib_auc": weighted_auc(margin, label[parts["calib"]]),
    }
    times = frame["filed_at"]
    window = {"from": int(times.min()), "to": int(times.max())}
    return TrainedModel(booster, calibration, list(features), list(categorical), metrics, window)


def finding_factors(kinds: pl.Series, weights: Mapping[str, float]) -> np.ndarray:
    """The finding-weight factor of each label (:func:`zeikan.models.finding_weights.finding_factor`)."""
    return np.array([finding_factor(found or (), weights) for found in kinds.to_list()], dtype=np.float64)


def labeled_features(history: History, before: int | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(features of every declaration, the inspected ones with labels known before ``before`` and their weights)."""
    feats = batch_features(history.declarations, history.inspections)
    return feats, label_frame(feats, history.inspections, before)


def label_frame(feats: pl.DataFrame, inspections: Sequence[Mapping], before: int | None = None,
                names: Sequence[str] = FEATURE_NAMES) -> pl.DataFrame:
    """The declarations of ``feats`` filed before ``before`` with a label known then: label, random, weight."""
    known = [r for r in inspections if before is None or int(r["inspected_at"]) < before]
    population = feats if before is None else feats.filter(pl.col("filed_at") < before)
    labels = inspection_labels(known)
    weights = selection_weights(population, labels, names, random_known_since(known))
    return population.join(labels, on="declaration_id", how="inner").join(weights, on="declaration_id", how="left")


def feature_bins(frame: pl.DataFrame, features: Sequence[str]) -> dict[str, dict[str, list[float]]]:
    """Quantile bins of each feature column (nulls and NaNs left out; all-missing columns skipped).

    >>> feature_bins(pl.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "y": [None, None, None, None]}), ["x", "y"])
    {'x': {'edges': [1.0, 2.0, 3.0, 4.0], 'fractions': [0.0, 0.25, 0.25, 0.25, 0.25]}}
    """
    bins = {}
    for name in features:
        values = frame[name].cast(pl.Float64).drop_nulls().drop_nans().to_numpy()
        if len(values):
            bins[name] = reference_bins(values).to_json()
    return bins


SEIZURE_WEIGHTS: tuple[str, ...] = ("CONCEALMENT:20",)
"""The finding weights the seizure key adds to the risk model's: a concealment found (a seizure) weighs 20 labels.

A history holds a few seizures (7 and 10 among some 430 scans and physical exams of containers in 14 legacy days of
tuning seeds 101 and 102): too few for a model of its own (one trained on them ranked containers worse than the risk
model). So the seizure key is the risk model's objective with seizures weighted up; 20 was chosen on those seeds
(offline: 5, 20 and 50 tried for the SCAN lane's key; 20 was the best on the two together). In the closed loop
(``bench/closed_loop.py --seizure-key``) it caught fewer seizures than the risk score on both tuning seeds, so the
bench trains none by default."""


def train_seizure(history: History, settings: TrainSettings | None = None) -> TrainedModel:
    """Train the seizure key (role ``seizure``): the risk model's features and labels, seizures weighted up by
    :data:`SEIZURE_WEIGHTS`. The container lanes rank containers by it (``streams/engine/capacity.py``)."""
    base = settings or TrainSettings()
    return train_tabular(history, replace(base, finding_weights=(*base.finding_weights, *SEIZURE_WEIGHTS)))


def train_tabular(history: History, settings: TrainSettings | None = None) -> TrainedModel:
    """Train the risk model on the whole history (features from ``zeikan.features``).

    The drift reference (``feature_bins``) is the features of every declaration of
    the history, inspected or not: the population the stream scores.
    """
    feats, labeled = labeled_features(history)
    model = fit(labeled, list(FEATURE_NAMES), settings or TrainSettings())
    return replace(model, feature_bins=feature_bins(feats, model.features))
