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


@runtime_checkable
class PerDeclarationScorer(TabularScorer, Protocol):
    """A tabular scorer whose model may differ per declaration (continuous learning: by filing time)."""

    def version_of(self, declaration: Mapping) -> str:
        """The version that scores ``declaration`` (what its decision names)."""
        ...


MODEL_UNAVAILABLE = "model_unavailable"
IMAGE_REFUSED = "image_refused"
UNASSESSED_KINDS: tuple[str, ...] = (MODEL_UNAVAILABLE, IMAGE_REFUSED)
"""Why a scan got no image score (``ImageAssessment.unassessed``): no model can serve, or its image was refused/unreadable."""
MODEL_UNAVAILABLE_REASON = "image model unavailable: analyst review"


@dataclass(frozen=True)
class ImageAssessment:
    """What the image model says about one scan.

    ``anomaly_score`` is None exactly when the scan could not be assessed;
    ``unassessed`` then names why (one of :data:`UNASSESSED_KINDS`) and
    ``reasons`` says it in plain words. Such a scan never lowers a lane.
    ``exam_threshold`` is the score at which POST_SCAN examines this scan when
    its scanner was onboarded (``threshold_of`` names the scanner entry); None:
    the engine's ``post_scan_exam_threshold``.
    """

    scan_id: str
    container_id: str
    anomaly_score: float | None
    heatmap_uri: str | None = None
    implied_mass_kg: float | None = None
    reasons: tuple[str, ...] = ()
    unassessed: str | None = None
    exam_threshold: float | None = None
    threshold_of: str | None = None

    def __post_init__(self) -> None:
        if (self.anomaly_score is None) != (self.unassessed in UNASSESSED_KINDS):
            raise ValueError("an assessment has a score, or no score and an unassessed kind from UNASSESSED_KINDS")

    @classmethod
    def not_assessed(cls, scan: Mapping, kind: str, reason: str) -> ImageAssessment:
        """A scan that got no image score, with the plain reason (ends in 'analyst review')."""
        return cls(str(scan["scan_id"]), str(scan["container_id"]), None, reasons=(reason,), unassessed=kind)


@runtime_checkable
class ImageScorer(Protocol):
    """Scores X-ray scans (ScanCompleted records) against what was declared for the container."""

    version: str

    def assess_batch(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """Assess scans; ``declared[i]`` holds the declarations whose goods travel in scan i's container."""
        ...
