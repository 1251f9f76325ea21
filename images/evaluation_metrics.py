"""Detection metrics of the image model: ROC AUC and detection rate at a false-alarm rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U, ties count half)."""
    y = np.asarray(y).astype(bool)
    pos, neg = np.asarray(scores)[y], np.asarray(scores)[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    allv = np.concatenate([pos, neg])
    ordered = np.sort(allv)
    ranks = (np.searchsorted(ordered, allv, "left") + 1 + np.searchsorted(ordered, allv, "right")) / 2.0
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def threshold_at_fa(y: np.ndarray, scores: np.ndarray, fa: float) -> float:
    """Smallest threshold whose false-alarm rate on the negatives (score > threshold) is <= ``fa``."""
    neg = np.sort(np.asarray(scores)[~np.asarray(y).astype(bool)])
    if len(neg) == 0:
        return 0.5
    allowed = int(np.floor(fa * len(neg)))
    return float(neg[len(neg) - 1 - allowed])


def detection_at_fa(y: np.ndarray, scores: np.ndarray, fa: float = 0.01) -> tuple[float, float, float]:
    """(detection rate, achieved false-alarm rate, threshold) at false-alarm rate ``fa``."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(scores)
    t = threshold_at_fa(y, s, fa)
    det = float((s[y] > t).mean()) if y.any() else float("nan")
    return det, float((s[~y] > t).mean()) if (~y).any() else float("nan"), t


def evaluate_scores(y: np.ndarray, scores: np.ndarray, kinds: Sequence[str], fa: float = 0.01) -> dict:
    """Overall and per-concealment-kind AUC and detection at ``fa`` (each kind against all negatives)."""
    y = np.asarray(y).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    det, achieved, threshold = detection_at_fa(y, s, fa)
    out = {
        "n": int(len(y)), "positives": int(y.sum()), "false_alarm_target": fa,
        "roc_auc": roc_auc(y, s), "detection_rate": det, "false_alarm_rate": achieved, "threshold": threshold,
        "per_kind": {},
    }
    kinds_arr = np.asarray(kinds)
    for kind in sorted(set(kinds_arr[y].tolist())):
        mask = (~y) | (kinds_arr == kind)
        out["per_kind"][kind] = {
            "positives": int((kinds_arr[y] == kind).sum()),
            "roc_auc": roc_auc(y[mask], s[mask]),
            "detection_rate": float((s[y & (kinds_arr == kind)] > threshold).mean()),
        }
    return out
