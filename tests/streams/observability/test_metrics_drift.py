"""Feature drift: the PSI function, reference bins and the rolling live histograms."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zeikan.models.drift import DriftMonitor, ReferenceBins, RollingHistogram, psi, reference_bins


def test_psi_of_identical_distributions_is_zero() -> None:
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_the_textbook_formula() -> None:
    expected, actual = [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]
    by_hand = (0.3 - 0.5) * math.log(0.3 / 0.5) + 0 + (0.4 - 0.2) * math.log(0.4 / 0.2)
    assert psi(expected, actual) == pytest.approx(by_hand)


def test_psi_grows_with_the_shift_and_empty_bins_stay_finite() -> None:
    small = psi([25, 25, 25, 25], [30, 25, 25, 20])
    large = psi([25, 25, 25, 25], [70, 20, 10, 0])
    assert 0 < small < 0.1 < 0.25 < large < math.inf


@given(
    st.lists(st.integers(1, 1000), min_size=2, max_size=12).flatmap(
        lambda e: st.tuples(st.just(e), st.lists(st.integers(0, 1000), min_size=len(e), max_size=len(e)))
    )
)
def test_psi_is_non_negative_and_symmetric(bins: tuple[list[int], list[int]]) -> None:
    expected, actual = bins
    if sum(actual) == 0:
        actual = [1] * len(actual)
    assert psi(expected, actual) >= -1e-12
    assert psi(expected, actual) == pytest.approx(psi(actual, expected), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("expected, actual", [([1, 2], [1, 2, 3]), ([], []), ([1, -1], [1, 1]), ([1, math.nan], [1, 1])])
def test_psi_rejects_mismatched_or_invalid_bins(expected: list[float], actual: list[float]) -> None:
    with pytest.raises(ValueError):
        psi(expected, actual)


def test_reference_bins_split_training_values_into_quantiles() -> None:
    ref = reference_bins([float(v) for v in range(1000)], n_bins=10)
    assert len(ref.edges) == 9
    assert ref.fractions == pytest.approx([0.1] * 10)
    assert ReferenceBins.from_json(ref.to_json()) == ref


def test_reference_bins_merge_repeated_edges() -> None:
    ref = reference_bins([0.0] * 90 + [1.0] * 10, n_bins=10)
    assert ref.edges == (0.0, 1.0)
    assert sum(ref.fractions) == pytest.approx(1.0)


def test_rolling_histogram_forgets_values_older_than_the_window() -> None:
    hist = RollingHistogram(edges=[0.0, 1.0], window=3)
    for value in (-5.0, 0.5, 0.7, 9.0, 9.5, math.nan):
        hist.observe(value)
    assert hist.counts == [0, 1, 2]
    assert len(hist) == 3


def test_drift_monitor_reports_a_shifted_feature_only() -> None:
    train = [float(v % 100) for v in range(10_000)]
    metadata = {"feature_bins": {"stable": reference_bins(train).to_json(), "shifted": reference_bins(train).to_json()}}
    monitor = DriftMonitor.from_metadata(metadata, window=2000)
    monitor.observe({"stable": float(v % 100), "shifted": float(v % 100) + 60.0, "unbinned": 1.0} for v in range(2000))
    drift = monitor.psi_by_feature()
    assert set(drift) == {"stable", "shifted"}
    assert drift["stable"] < 0.01
    assert drift["shifted"] > 0.25
