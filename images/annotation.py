"""Annotation queue: which images officers should label next, labels from inspections, COCO exchange.

* :func:`rank` orders unlabeled images by how much a label would teach: model
  uncertainty (score near 0.5) and disagreement between the image and the
  declaration (physics check vs CNN).
* :func:`labels_from_inspection` turns inspection outcomes into labels for the
  scans of the inspected declaration, with no officer work.
* :func:`export_coco` / :func:`import_coco` exchange tasks and answers with
  annotation tools (COCO JSON: images, categories, annotations with bboxes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from zeikan.images.labels import Box, ImageLabel

UNCERTAINTY_WEIGHT = 0.7
COCO_CATEGORIES = ({"id": 1, "name": "concealment", "supercategory": "contraband"},)


@dataclass(frozen=True)
class Candidate:
    """An unlabeled image with what the models say about it."""

    image_sha256: str
    image_uri: str
    score: float
    """CNN anomaly probability"""
    physics_score: float = 0.0
    """how strongly the image contradicts the declaration (0..1)"""
    width: int = 0
    height: int = 0


def priority(c: Candidate) -> float:
    """Expected information of a label: uncertainty ``1 - 2|p - 0.5|`` blended with image/declaration disagreement."""
    uncertainty = 1.0 - 2.0 * abs(c.score - 0.5)
    disagreement = abs(c.physics_score - c.score)
    return UNCERTAINTY_WEIGHT * uncertainty + (1.0 - UNCERTAINTY_WEIGHT) * disagreement


def rank(candidates: Iterable[Candidate], labelled: set[str] | frozenset[str] = frozenset(), limit: int | None = None) -> list[Candidate]:
    """Unlabeled candidates, most informative first (ties broken by address for determinism)."""
    todo = [c for c in candidates if c.image_sha256 not in labelled]
    todo.sort(key=lambda c: (-priority(c), c.image_sha256))
    return todo[:limit] if limit is not None else todo


def labels_from_inspection(result: Mapping, scans: Sequence[Mapping]) -> list[ImageLabel]:
    """Labels for the scans of an inspected declaration.

    SEIZURE with a CONCEALMENT finding -> black (source ``seizure``); NO_FINDING
    after a PHYSICAL inspection -> white (source ``inspection``); anything else
    teaches nothing certain about the image and gives no label.
    """
    kinds = {f.get("kind") for f in result.get("findings", ())}
    if result.get("outcome") == "SEIZURE" and "CONCEALMENT" in kinds:
        verdict, source, cls = "black", "seizure", "concealment"
    elif result.get("outcome") == "NO_FINDING" and result.get("inspection_type") == "PHYSICAL":
        verdict, source, cls = "white", "inspection", None
    else:
        return []
    return [
        ImageLabel(str(s["image_sha256"]), verdict, source, str(result.get("officer_id", "")), int(result["inspected_at"]), cls)
        for s in scans
        if result.get("declaration_id") in (s.get("declaration_ids") or [result.get("declaration_id")])
    ]


def export_coco(tasks: Sequence[Candidate], suggestions: Mapping[str, Sequence[Box]] | None = None) -> dict:
    """A COCO document of annotation tasks; model-suggested boxes go in as pre-annotations."""
    images, annotations = [], []
    for image_id, task in enumerate(tasks, start=1):
        images.append({"id": image_id, "file_name": task.image_uri, "width": task.width, "height": task.height,
                       "sha256": task.image_sha256, "priority": round(priority(task), 4), "score": round(task.score, 4)})
        for box in (suggestions or {}).get(task.image_sha256, ()):
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": 1,
                                "bbox": [box.x, box.y, box.w, box.h], "area": box.w * box.h, "iscrowd": 0,
                                "suggested": True})
    return {"info": {"description": "zeikan X-ray annotation tasks"}, "images": images,
            "annotations": annotations, "categories": list(COCO_CATEGORIES)}


def import_coco(doc: Mapping, annotator: str, labelled_at: int) -> list[ImageLabel]:
    """Officer labels from a COCO answer document.

    An image with at least one (non-suggested) box is black with those boxes; an
    image without boxes is white; an image marked ``"skipped": true`` gives no label.
    """
    categories = {c["id"]: c["name"] for c in doc.get("categories", COCO_CATEGORIES)}
    boxes: dict[int, list[Box]] = {}
    classes: dict[int, str] = {}
    for ann in doc.get("annotations", ()):
        if ann.get("suggested"):
            continue
        x, y, w, h = (float(v) for v in ann["bbox"])
        boxes.setdefault(int(ann["image_id"]), []).append(Box(x, y, w, h))
        classes[int(ann["image_id"])] = categories.get(ann.get("category_id"), "concealment")
    labels = []
    for img in doc.get("images", ()):
        if img.get("skipped"):
            continue
        found = boxes.get(int(img["id"]), [])
        verdict = "black" if found else "white"
        labels.append(ImageLabel(str(img["sha256"]), verdict, "officer", annotator, labelled_at,
                                 classes.get(int(img["id"])), tuple(found)))
    return labels
