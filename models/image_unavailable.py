"""The image scorer that serves when no image model can: it scores nothing and says so.

Every scan gets no image score and the reason "image model unavailable: analyst
review"; the decision engine then applies its policy for unassessed scans
(``EngineConfig.image_review_action``, never RELEASE by default). It replaced a
keyed-hash stand-in whose scores meant nothing but still decided lanes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from zeikan.models.base import MODEL_UNAVAILABLE, MODEL_UNAVAILABLE_REASON, ImageAssessment


class UnavailableImageScorer:
    """An ``ImageScorer`` with no model: every scan is left to an analyst (see the module docstring)."""

    version = "image-unavailable"

    def assess_batch(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """One unassessed assessment per scan."""
        return [ImageAssessment.not_assessed(scan, MODEL_UNAVAILABLE, MODEL_UNAVAILABLE_REASON) for scan in scans]
