"""Heuristic scorers: the fallback behind the scorer interfaces when no trained model is registered.

:class:`HeuristicTabularScorer` is a hand-weighted logistic score over the shared
features (``zeikan.features``): undervaluation against the HS x origin norm,
weight-per-unit anomalies, the importer's and declarant's past discrepancy and
seizure rates, route risk (origin differs from dispatch, transshipment hubs),
new trading relationships and round values. Its weights are a targeting
officer's rule of thumb, not learned. It serves only while the model registry has
no live LightGBM model (``zeikan.streams.serving.scoring``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from zeikan.features.reasons import reason
from zeikan.models.base import Explanation, FeatureRow

INTERCEPT = -3.2

WEIGHTS: dict[str, float] = {
    "uv_z_hs_origin": -0.45,
    "uv_z_hs": -0.25,
    "wpu_z_abs": 0.3,
    "vpk_z": -0.15,
    "imp_disc_rate": 3.0,
    "imp_seiz_rate": 4.0,
    "dcl_disc_rate": 2.0,
    "dcl_seiz_rate": 3.0,
    "origin_disc_rate": 2.0,
    "origin_ne_dispatch": 0.7,
    "dispatch_hub_share": 0.8,
    "new_declarant_importer": 0.6,
    "new_importer_hs": 0.5,
    "round_value_share": 0.5,
    "desc_hs_share": -0.6,
}
"""Feature -> weight of the logistic score (negative: lower values are riskier)."""

CLIP = 6.0
"""Feature values are clipped to [-CLIP, CLIP] so one outlier cannot saturate the score."""


def _contributions(features: FeatureRow) -> dict[str, float]:
    out = {}
    for name, weight in WEIGHTS.items():
        value = float(features.get(name, 0.0) or 0.0)
        if math.isfinite(value) and value:
            out[name] = weight * max(-CLIP, min(CLIP, value))
    return out


class HeuristicTabularScorer:
    """Hand-weighted logistic score over the shared features (see the module docstring)."""

    version = "heuristic-1"

    def score_batch(self, declarations: Sequence[Mapping], features: Sequence[FeatureRow]) -> list[float]:
        """One score in (0, 1) per declaration."""
        return [self._score(f) for f in features]

    @staticmethod
    def _score(features: FeatureRow) -> float:
        z = INTERCEPT + sum(_contributions(features).values())
        return 1.0 / (1.0 + math.exp(-z))

    def explain(self, declaration: Mapping, features: FeatureRow) -> Explanation:
        """The three strongest risk-raising contributions, as plain reasons."""
        contributions = _contributions(features)
        top = sorted((c, n) for n, c in contributions.items() if c > 0)[::-1][:3]
        return Explanation(
            reasons=[reason(name, float(features[name]), declaration) for _, name in top],
            contributions=contributions,
        )

