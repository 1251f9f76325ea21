"""TreeSHAP contributions turned into plain-language reasons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from zeikan.features.reasons import reason
from zeikan.models.base import Explanation

TOP_REASONS = 3
"""How many reasons an explanation gives (the strongest positive contributions)."""


def explanation(contrib: np.ndarray, names: Sequence[str], values: Mapping[str, float], declaration: Mapping,
                top: int = TOP_REASONS) -> Explanation:
    """Reasons from one row of ``pred_contrib`` output (last column: the bias, ignored).

    Only contributions that push the risk up become reasons, strongest first.
    """
    per_feature = {name: float(c) for name, c in zip(names, contrib[: len(names)])}
    ranked = sorted((item for item in per_feature.items() if item[1] > 0), key=lambda kv: -kv[1])[:top]
    return Explanation([reason(name, values[name], declaration) for name, _ in ranked], per_feature)
