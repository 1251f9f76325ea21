"""Continuous learning: deterministic shadow candidates, promoted only when they beat the live model."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeikan.features.batch import batch_features
from zeikan.features.history import History, load_history
from zeikan.features.names import FEATURE_NAMES
from zeikan.features.transforms import DAY_MS
from zeikan.models.continuous import (
    ContinuousSettings, day_boundary, decide, ipw_precision, is_due, record, training_hits,
)
from zeikan.models.heuristic import HeuristicTabularScorer
from zeikan.models.registry import ModelRegistry
from zeikan.models.training import TrainedModel, TrainSettings, fit, label_frame

from model_history import T0, write_history

SETTINGS = ContinuousSettings(train_days=40, eval_days=10, min_eval_positives=5,
                              train=TrainSettings(num_boost_round=40, early_stopping_rounds=10))
BOUNDARY = T0 + 40 * DAY_MS


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return load_history(str(write_history(tmp_path_factory.mktemp("history"), days=40, per_day=80)))


def _model(history: History, *, shuffled: bool) -> TrainedModel:
    """A model trained on every label before the boundary (shuffled: labels permuted, so it ranks at random)."""
    feats = batch_features(history.declarations, history.inspections)
    labeled = label_frame(feats, history.inspections, before=BOUNDARY)
    if shuffled:
        labeled = labeled.with_columns(pl.col("label").shuffle(seed=3))
    return fit(labeled, list(FEATURE_NAMES), SETTINGS.train)


def test_the_same_events_give_the_same_candidate_and_decision(history: History, tmp_path) -> None:
    first = day_boundary(history.declarations, history.inspections, BOUNDARY, None, SETTINGS)
    again = day_boundary(list(reversed(history.declarations)), list(reversed(history.inspections)), BOUNDARY, None,
                         SETTINGS)
    assert first is not None and again is not None
    assert first.decision == again.decision and first.decision.promoted
    assert first.candidate.booster.model_to_string() == again.candidate.booster.model_to_string()
    infos = [record(ModelRegistry(str(tmp_path / name)), step) for name, step in (("a", first), ("b", again))]
    assert infos[0].version == infos[1].version == first.decision.candidate
    assert ModelRegistry(str(tmp_path / "a")).live_version() == first.decision.candidate
    assert ModelRegistry(str(tmp_path / "b")).info(infos[1].version).promotion == first.decision.to_json()


def test_a_candidate_worse_than_the_live_model_is_not_promoted(history: History, tmp_path) -> None:
    strong = ("strong", _model(history, shuffled=False))
    step = day_boundary(history.declarations, history.inspections, BOUNDARY, strong,
                        ContinuousSettings(**{**SETTINGS.__dict__, "train": TrainSettings(num_boost_round=1,
                                                                                          learning_rate=1e-6)}))
    assert step is not None and step.decision.live == "strong"
    assert step.decision.candidate_score <= step.decision.live_score
    assert not step.decision.promoted
    assert step.candidate.window["to"] < BOUNDARY - SETTINGS.eval_days * DAY_MS
    registry = ModelRegistry(str(tmp_path / "reg"))
    record(registry, step)
    assert registry.live_version() is None and not registry.info(step.decision.candidate).promotion["promoted"]


def test_a_better_candidate_replaces_a_live_model_that_ranks_at_random(history: History) -> None:
    step = day_boundary(history.declarations, history.inspections, BOUNDARY, ("random", _model(history, shuffled=True)),
                        SETTINGS)
    assert step is not None and step.decision.promoted
    assert step.decision.candidate_score > step.decision.live_score


def test_a_promoted_candidate_is_served_refit_on_the_evaluation_windows_labels_too(history: History) -> None:
    cut = BOUNDARY - SETTINGS.eval_days * DAY_MS
    step = day_boundary(history.declarations, history.inspections, BOUNDARY, ("random", _model(history, shuffled=True)),
                        SETTINGS)
    assert step is not None and step.decision.promoted
    assert step.candidate.window["to"] >= cut
    assert step.candidate.metrics["positives"] > training_hits(history.declarations, history.inspections, cut)


@given(cand=st.floats(0, 1), live=st.floats(0, 1), gain=st.floats(0, 0.2), positives=st.integers(0, 100))
def test_the_rule_never_promotes_a_candidate_that_is_not_better(cand: float, live: float, gain: float,
                                                                positives: int) -> None:
    promoted, _ = decide(cand, live, positives, ContinuousSettings(min_gain=gain, min_eval_positives=10))
    assert promoted == (positives >= 10 and cand > live + gain)


def test_retraining_is_due_every_n_days() -> None:
    every2 = ContinuousSettings(retrain_every_days=2)
    assert is_due(T0, None, every2) and not is_due(T0 + DAY_MS, T0, every2) and is_due(T0 + 2 * DAY_MS, T0, every2)


def test_ipw_precision_weights_the_labelled_rows_of_the_top() -> None:
    score = np.array([0.9, 0.8, 0.7, 0.1])
    label = np.array([1.0, 0.0, math.nan, 1.0])
    weight = np.array([1.0, 3.0, 0.0, 1.0])
    assert ipw_precision(score, label, weight, 0.75) == pytest.approx(0.25)
    assert math.isnan(ipw_precision(score, label, np.zeros(4), 0.5))


def test_the_early_label_count_is_the_count_fit_would_train_on(history: History) -> None:
    feats = batch_features(history.declarations, history.inspections)
    for days in (1, 3, 20):
        cut = T0 + days * DAY_MS
        assert training_hits(history.declarations, history.inspections, cut) == \
            int(label_frame(feats, history.inspections, before=cut)["label"].sum())
    early = T0 + SETTINGS.eval_days * DAY_MS + DAY_MS  # one day of labels before the cut: too few
    assert day_boundary(history.declarations, history.inspections, early, None, SETTINGS) is None


def test_a_candidate_worse_than_the_heuristic_is_not_promoted(history: History) -> None:
    constant = TrainSettings(num_boost_round=5, early_stopping_rounds=5, min_data_in_leaf=1_000_000)  # no split: ranks nothing
    weak = ContinuousSettings(**{**SETTINGS.__dict__, "train": constant})
    step = day_boundary(history.declarations, history.inspections, BOUNDARY, ("heuristic-1", HeuristicTabularScorer()), weak)
    assert step is not None and step.decision.live == "heuristic-1"
    assert step.decision.candidate_score <= step.decision.live_score and not step.decision.promoted
    strong = day_boundary(history.declarations, history.inspections, BOUNDARY, ("heuristic-1", HeuristicTabularScorer()),
                          SETTINGS)
    assert strong is not None and strong.decision.live_score == step.decision.live_score
