"""Score any image store (or a vendor export) and evaluate the scores per scanner against labels.

``zeikan images score`` and ``zeikan images evaluate --labels FILE`` use these:
:func:`score_images` runs the ONNX model over canonical images in batches,
:func:`read_labels` reads labels (JSON lines or CSV: ``scan_id`` or ``sha256``,
and ``label`` black/white, 1/0, true/false), and :func:`evaluate_per_scanner`
reports ROC AUC and detection at a false-alarm rate for each scanner model and
overall, with :func:`write_roc_chart` drawing the ROC curves.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.errors import ImageError
from zeikan.images.manifest import no_manifests
from zeikan.images.evaluation_metrics import detection_at_fa, roc_auc

_TRUE = {"black", "1", "true", "yes", "seizure", "concealment"}
_FALSE = {"white", "0", "false", "no", "clean"}


@dataclass(frozen=True)
class ScoredImage:
    """The model's anomaly score of one canonical image."""

    sha256: str
    scan_id: str
    scanner_model: str
    score: float


def score_images(images: Iterable[tuple[str, CanonicalImage]], scorer: Any, batch: int = 64) -> Iterator[ScoredImage]:
    """Scores of ``(sha256, image)`` pairs with an ``OnnxImageScorer`` (model inputs built in batches).

    Each image is scored as its scanner model's onboarded entry says (:meth:`OnnxImageScorer.score_images`).
    A stored image or vendor export carries no itemised declaration: scored without the manifest.
    """
    pending: list[tuple[str, CanonicalImage]] = []

    def flush() -> Iterator[ScoredImage]:
        scores, _ = scorer.score_images([img for _, img in pending], no_manifests(len(pending)))
        for (sha, img), score in zip(pending, scores):
            yield ScoredImage(sha, img.meta.scan_id, img.meta.scanner_model, round(float(score), 6))
        pending.clear()

    for pair in images:
        pending.append(pair)
        if len(pending) >= batch:
            yield from flush()
    if pending:
        yield from flush()


def _verdict(value: Any, where: str) -> bool:
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ImageError(f"{where}: label {value!r} is not black/white, 1/0 or true/false")


def read_labels(path: Path) -> dict[str, bool]:
    """``{scan_id or sha256: is_black}`` from a JSON-lines or CSV file with ``scan_id``/``sha256`` and ``label``."""
    if not path.is_file():
        raise ImageError(f"labels file {str(path)!r} does not exist or is not a file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ImageError(f"cannot read labels file {str(path)!r}: {exc}") from exc
    if path.suffix.lower() == ".csv":
        rows: list[Mapping[str, Any]] = list(csv.DictReader(text.splitlines()))
    else:
        try:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ImageError(f"labels file {str(path)!r} line {exc.lineno} is not JSON (use JSON lines or .csv)") from exc
    out = {}
    for n, row in enumerate(rows, 1):
        key = row.get("sha256") or row.get("scan_id") if isinstance(row, Mapping) else None
        if not key or "label" not in row:
            raise ImageError(f"{path}:{n}: each label needs 'scan_id' or 'sha256' and 'label'")
        out[str(key)] = _verdict(row["label"], f"{path}:{n}")
    if not out:
        raise ImageError(f"labels file {str(path)!r} holds no labels")
    return out


def _metrics(y: np.ndarray, s: np.ndarray, fa: float) -> dict[str, Any]:
    out: dict[str, Any] = {"n": int(len(y)), "positives": int(y.sum())}
    if y.all() or not y.any():
        return {**out, "roc_auc": None, "detection_rate": None, "false_alarm_rate": None, "threshold": None,
                "note": "needs both black and white labels"}
    det, achieved, threshold = detection_at_fa(y, s, fa)
    return {**out, "roc_auc": round(roc_auc(y, s), 4), "detection_rate": round(det, 4),
            "false_alarm_rate": round(achieved, 4), "threshold": round(threshold, 6)}


def evaluate_per_scanner(scored: Sequence[ScoredImage], labels: Mapping[str, bool], fa: float = 0.01) -> dict[str, Any]:
    """AUC and detection at ``fa`` false alarms, overall and per scanner model; unlabelled images are counted."""
    matched = [(s, labels.get(s.sha256, labels.get(s.scan_id))) for s in scored]
    used = [(s, v) for s, v in matched if v is not None]
    report: dict[str, Any] = {"false_alarm_target": fa, "images": len(scored), "unlabelled": len(scored) - len(used),
                              "labels_without_image": len(set(labels) - {s.sha256 for s in scored} - {s.scan_id for s in scored})}
    if not used:
        raise ImageError("no scored image matches a label (labels name images by scan_id or sha256)")
    y = np.array([v for _, v in used], dtype=bool)
    s = np.array([x.score for x, _ in used])
    report["overall"] = _metrics(y, s, fa)
    scanners = np.array([x.scanner_model for x, _ in used])
    report["per_scanner"] = {m: _metrics(y[scanners == m], s[scanners == m], fa) for m in sorted(set(scanners.tolist()))}
    report["roc"] = {m: _roc(y[scanners == m], s[scanners == m]) for m in report["per_scanner"]}
    return report


def _roc(y: np.ndarray, s: np.ndarray) -> dict[str, list[float]]:
    thresholds = np.unique(s)[::-1]
    if not y.any() or y.all():
        return {"fpr": [], "tpr": []}
    tpr = [0.0] + [float((s[y] >= t).mean()) for t in thresholds]
    fpr = [0.0] + [float((s[~y] >= t).mean()) for t in thresholds]
    return {"fpr": [round(v, 4) for v in fpr], "tpr": [round(v, 4) for v in tpr]}


def write_roc_chart(report: Mapping[str, Any], path: Path) -> None:
    """ROC curves per scanner (log false-alarm axis) with the false-alarm target marked, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for scanner, curve in report["roc"].items():
        m = report["per_scanner"][scanner]
        if curve["fpr"]:
            ax.plot([max(f, 1e-4) for f in curve["fpr"]], curve["tpr"],
                    label=f"{scanner} (AUC {m['roc_auc']:.3f}, {100 * m['detection_rate']:.0f} % at {100 * report['false_alarm_target']:.0f} % FA)")
    ax.axvline(report["false_alarm_target"], color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-3, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false-alarm rate (clean scans flagged)")
    ax.set_ylabel("detection rate")
    ax.set_title("image model per scanner")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
