"""Scorer interfaces shared by the stream, ``zeikan replay`` and the benchmarks.

The decision engine depends only on these protocols; the LightGBM model, the
ONNX image model and the heuristic fallback implement them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

FeatureRow = Mapping[str, float]
"""Feature name -> value for one declaration (see ``zeikan.features``)."""


@dataclass(frozen=True)
class Explanation:
    """Why a declaration scored as it did: plain-language reasons, strongest first."""

    reasons: list[str] = field(default_factory=list)
    contributions: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class TabularScorer(Protocol):
    """Scores declarations from their feature rows (probability of a finding, 0..1)."""

    version: str

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """Score many declarations at once (one model call per batch, not per event)."""
        ...

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """Explain one (selected) declaration; may cost far more than scoring."""
        ...


@dataclass(frozen=True)
class ImageAssessment:
    """What the image model says about one scan."""

    scan_id: str
    container_id: str
    anomaly_score: float
    heatmap_uri: str | None = None
    implied_mass_kg: float | None = None
    reasons: tuple[str, ...] = ()


@runtime_checkable
class ImageScorer(Protocol):
    """Scores X-ray scans (ScanCompleted records) against what was declared for the container."""

    version: str

    def assess_batch(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """Assess scans; ``declared[i]`` holds the declarations whose goods travel in scan i's container."""
        ...
