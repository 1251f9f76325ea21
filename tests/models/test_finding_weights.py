"""Finding weights: a positive label whose inspections found a seldom-found kind weighs more in training."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from zeikan.errors import InvalidSetting
from zeikan.models.finding_weights import finding_factor, finding_kinds, parse_finding_weights
from zeikan.models.training import TrainSettings, fit, inspection_labels


def test_the_kinds_are_those_of_the_event_contract() -> None:
    assert {"ORIGIN", "QUANTITY", "CONCEALMENT"} <= set(finding_kinds())


@pytest.mark.parametrize("entry", ["ORIGIN", "ORIGIN:x", "ORIGN:4", "ORIGIN:0", "ORIGIN:-1"])
def test_a_bad_entry_is_refused_with_the_setting_named(entry: str) -> None:
    with pytest.raises(InvalidSetting, match="finding_weights"):
        TrainSettings(finding_weights=(entry,))


def test_the_environment_sets_several_kinds() -> None:
    settings = TrainSettings.from_env({"ZEIKAN_TRAIN_FINDING_WEIGHTS": "ORIGIN:4, QUANTITY:2"})
    assert parse_finding_weights(settings.finding_weights) == {"ORIGIN": 4.0, "QUANTITY": 2.0}
    with pytest.raises(InvalidSetting):
        TrainSettings.from_env({"ZEIKAN_TRAIN_FINDING_WEIGHTS": "ORIGIN=4"})


def test_a_label_takes_the_largest_factor_of_its_kinds() -> None:
    weights = {"ORIGIN": 4.0, "QUANTITY": 2.0}
    assert finding_factor(["QUANTITY", "ORIGIN"], weights) == 4.0
    assert finding_factor(["WEIGHT"], weights) == 1.0


def test_labels_carry_the_kinds_every_inspection_of_the_declaration_found() -> None:
    results = [
        {"declaration_id": "A", "inspected_at": 1, "outcome": "NO_FINDING", "findings": []},
        {"declaration_id": "A", "inspected_at": 2, "outcome": "DISCREPANCY",
         "findings": [{"kind": "ORIGIN"}, {"kind": "QUANTITY"}, {"kind": "ORIGIN"}]},
        {"declaration_id": "B", "inspected_at": 1, "outcome": "NO_FINDING", "findings": []},
    ]
    labels = {r["declaration_id"]: r for r in inspection_labels(results).iter_rows(named=True)}
    assert labels["A"]["kinds"] == ["ORIGIN", "QUANTITY"] and labels["A"]["label"] == 1.0
    assert labels["B"]["kinds"] == []


def _frame(n: int = 9000, seed: int = 0) -> pl.DataFrame:
    """Three regions of x: ORIGIN findings 10 % of the time, QUANTITY findings 15 %, nothing."""
    rng = np.random.default_rng(seed)
    region = rng.integers(0, 3, n)
    label = rng.random(n) < np.array([0.10, 0.15, 0.0])[region]
    kind = np.where(region == 0, "ORIGIN", "QUANTITY")
    return pl.DataFrame({
        "declaration_id": [f"D{i}" for i in range(n)], "filed_at": np.arange(n), "label": label.astype(float),
        "random": np.zeros(n, dtype=bool), "weight": np.ones(n),
        "kinds": [[k] if hit else [] for k, hit in zip(kind, label)], "x": region + rng.random(n) * 0.5,
    })


def test_weighted_origin_findings_rank_their_pattern_first_and_calibration_stays_true() -> None:
    frame = _frame()
    regions = [(pl.col("x") < 1), (pl.col("x") >= 1) & (pl.col("x") < 2)]
    matrix = frame.select("x").to_numpy()
    means = {}
    for weights in ((), ("ORIGIN:4",)):
        model = fit(frame, ["x"], TrainSettings(num_boost_round=60, early_stopping_rounds=60, finding_weights=weights))
        p = model.predict(matrix)
        means[weights] = [float(p[frame.select(r).to_series().to_numpy()].mean()) for r in regions]
        assert abs(p.mean() - frame["label"].mean()) < 0.01
    assert means[()][0] < means[()][1]
    assert means[("ORIGIN:4",)][0] > means[("ORIGIN:4",)][1]
