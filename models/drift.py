"""Feature drift: population stability index (PSI) of live feature values vs training.

The training pipeline stores, per feature, bin ``edges`` and the ``fractions`` of
training rows in each bin (:func:`reference_bins`) in the model metadata under
``feature_bins``. A worker keeps a :class:`RollingHistogram` of the last N live
values per feature over the same edges and exports :func:`psi` as a gauge.

>>> round(psi([0.5, 0.5], [0.5, 0.5]), 6)
0.0
>>> psi([0.5, 0.5], [0.9, 0.1]) > 0.25
True
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PSI_EPSILON = 1e-4
"""Floor for an empty bin's share: keeps ``ln(a / e)`` finite (common PSI practice)."""


def psi(expected_bins: Sequence[float], actual_bins: Sequence[float]) -> float:
    """Population stability index between two binnings of one feature.

    Both arguments are counts or fractions per bin (each normalised here), over the
    same bins. ``sum((a - e) * ln(a / e))``; 0 means identical, > 0.25 is the usual
    "significant shift" threshold. Empty bins are floored at :data:`PSI_EPSILON`.
    """
    if len(expected_bins) != len(actual_bins):
        raise ValueError(f"psi: {len(expected_bins)} expected bins vs {len(actual_bins)} actual bins")
    if not expected_bins:
        raise ValueError("psi: no bins")
    expected = _shares(expected_bins)
    actual = _shares(actual_bins)
    return sum((a - e) * math.log(a / e) for e, a in zip(expected, actual, strict=True))


def _shares(bins: Sequence[float]) -> list[float]:
    """Normalise counts to shares, each floored at PSI_EPSILON."""
    if any(b < 0 or not math.isfinite(b) for b in bins):
        raise ValueError(f"psi: bins must be finite and non-negative, got {list(bins)}")
    total = float(sum(bins))
    if total == 0:
        return [1.0 / len(bins)] * len(bins)
    return [max(b / total, PSI_EPSILON) for b in bins]


def bin_index(edges: Sequence[float], value: float) -> int:
    """Bin of ``value`` for inner ``edges``: bin i holds ``edges[i-1] <= v < edges[i]``."""
    return bisect.bisect_right(edges, value)


@dataclass(frozen=True)
class ReferenceBins:
    """Training distribution of one feature: inner bin edges and the share per bin."""

    edges: tuple[float, ...]
    fractions: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.fractions) != len(self.edges) + 1:
            raise ValueError(f"{len(self.edges)} edges need {len(self.edges) + 1} fractions, got {len(self.fractions)}")
        if list(self.edges) != sorted(self.edges):
            raise ValueError(f"bin edges must be sorted, got {list(self.edges)}")

    def to_json(self) -> dict[str, list[float]]:
        """The form stored in model metadata (``feature_bins[name]``)."""
        return {"edges": list(self.edges), "fractions": list(self.fractions)}

    @classmethod
    def from_json(cls, data: Mapping[str, Sequence[float]]) -> ReferenceBins:
        """Read one ``feature_bins[name]`` entry of model metadata."""
        return cls(tuple(float(x) for x in data["edges"]), tuple(float(x) for x in data["fractions"]))


def reference_bins(values: Iterable[float], n_bins: int = 10) -> ReferenceBins:
    """Quantile bins of training values (for the model metadata); NaNs are ignored.

    >>> ref = reference_bins(range(100), n_bins=4)
    >>> ref.edges, ref.fractions
    ((25.0, 50.0, 75.0), (0.25, 0.25, 0.25, 0.25))
    """
    data = np.asarray(values if isinstance(values, np.ndarray | Sequence) else list(values), dtype=np.float64)
    data = np.sort(data[~np.isnan(data)])
    if not len(data):
        raise ValueError("reference_bins: no values")
    n = len(data)
    edges = sorted({float(data[min(n - 1, (n * q) // n_bins)]) for q in range(1, n_bins)})
    counts = np.bincount(np.searchsorted(edges, data, side="right"), minlength=len(edges) + 1)
    return ReferenceBins(tuple(edges), tuple(float(c) / n for c in counts))


class RollingHistogram:
    """Counts per bin of the last ``window`` values observed (older values fall out)."""

    def __init__(self, edges: Sequence[float], window: int) -> None:
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.edges = tuple(edges)
        self.counts = [0] * (len(self.edges) + 1)
        self._recent: deque[int] = deque(maxlen=window)

    def observe(self, value: float) -> None:
        """Add one value (NaN is ignored); the oldest one leaves a full window."""
        if math.isnan(value):
            return
        if len(self._recent) == self._recent.maxlen:
            self.counts[self._recent[0]] -= 1
        index = bin_index(self.edges, value)
        self._recent.append(index)
        self.counts[index] += 1

    def __len__(self) -> int:
        return len(self._recent)


class DriftMonitor:
    """Rolling live histograms for every feature that has reference bins (of model ``version``)."""

    def __init__(self, reference: Mapping[str, ReferenceBins], window: int = 5000, version: str | None = None) -> None:
        self.reference = dict(reference)
        self.version = version
        self._live = {name: RollingHistogram(ref.edges, window) for name, ref in self.reference.items()}

    @classmethod
    def from_metadata(cls, metadata: Mapping, window: int = 5000) -> DriftMonitor:
        """Build from a model's metadata (``feature_bins``: name -> {edges, fractions}; ``version``)."""
        bins = metadata.get("feature_bins") or {}
        return cls({name: ReferenceBins.from_json(data) for name, data in bins.items()}, window, metadata.get("version"))

    def observe(self, rows: Iterable[Mapping[str, float]]) -> None:
        """Feed feature rows (name -> value); features without reference bins are ignored."""
        for row in rows:
            for name, hist in self._live.items():
                value = row.get(name)
                if value is not None:
                    hist.observe(float(value))

    def psi_by_feature(self, min_count: int = 1) -> dict[str, float]:
        """PSI per feature with at least ``min_count`` live values."""
        return {
            name: psi(self.reference[name].fractions, hist.counts)
            for name, hist in self._live.items()
            if len(hist) >= min_count
        }
