"""Feeding the annotation queue: candidates scored from the store, labels from an event history."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from zeikan.images.annotation import Candidate, labels_from_inspection
from zeikan.images.dataset import HEATMAP_CELL_MM, model_input
from zeikan.images.labels import Box, ImageLabel
from zeikan.images.manifest import no_manifests
from zeikan.images.store import ImageStore
from zeikan.images.scorer import OnnxImageScorer
from zeikan.schemas.jsonl import read_jsonl


def suggested_box(heatmap: np.ndarray, canonical_pitch_mm: float, share: float = 0.5) -> Box:
    """Bounding box (canonical pixels) of the heatmap cells above ``share`` of its maximum."""
    rows, cols = np.nonzero(heatmap >= share * heatmap.max())
    cell = HEATMAP_CELL_MM / canonical_pitch_mm
    return Box(float(cols.min() * cell), float(rows.min() * cell),
               float((cols.max() - cols.min() + 1) * cell), float((rows.max() - rows.min() + 1) * cell))


def candidates(store: ImageStore, scorer: OnnxImageScorer, batch: int = 64) -> tuple[list[Candidate], dict[str, list[Box]]]:
    """Score every unlabeled image of the store; returns candidates and model-suggested boxes.

    Stored images carry no itemised declaration: they are scored without the manifest.
    """
    todo = [sha for sha in store.ls() if not store.labels(sha)]
    out: list[Candidate] = []
    boxes: dict[str, list[Box]] = {}
    for i in range(0, len(todo), batch):
        shas = todo[i : i + batch]
        images = [store.get(sha) for sha in shas]
        scores, heatmaps = scorer.score_inputs(np.stack([model_input(im) for im in images]), no_manifests(len(images)))
        for sha, image, score, heatmap in zip(shas, images, scores, heatmaps):
            _, height, width = image.pixels.shape
            out.append(Candidate(sha, f"{store.url}/{store.key_of(sha)}", float(score), 0.0, width, height))
            if score >= 0.5:
                boxes[sha] = [suggested_box(heatmap, image.meta.pitch_mm)]
    return out, boxes


def _records(path: Path, topic: str) -> list[dict]:
    return [rec for _, rec in read_jsonl(path, topic) if isinstance(rec, dict)] if path.exists() else []


def labels_from_history(history: Path) -> list[ImageLabel]:
    """Labels from every inspection result of a history directory (the CLI file contract)."""
    containers = {d["declaration_id"]: set(d.get("containers") or ()) for d in _records(history / "declarations.jsonl", "declarations")}
    scans_by_container: dict[str, list[dict]] = defaultdict(list)
    for scan in _records(history / "scans.jsonl", "scans"):
        if scan.get("image_sha256"):
            scans_by_container[scan["container_id"]].append(scan)
    labels: list[ImageLabel] = []
    for result in _records(history / "inspection-results.jsonl", "inspection-results"):
        decl = result["declaration_id"]
        scans = [s for c in sorted(containers.get(decl, ())) for s in scans_by_container.get(c, ())]
        scans = [s for s in scans if not s.get("declaration_ids") or decl in s["declaration_ids"]]
        labels.extend(labels_from_inspection(result, scans))
    return labels
