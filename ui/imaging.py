"""Images for the pages: scans as PNG, heatmaps as a red overlay, the physics check, the annotation queue."""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image

from zeikan.images.annotation import Candidate, rank
from zeikan.images.canonical import CanonicalImage
from zeikan.images.labels import VERDICTS, Box, ImageLabel
from zeikan.images.physics import PhysicsCheck, check
from zeikan.images.queue import candidates
from zeikan.images.store import ImageStore, store_of_uri
from zeikan.images.scorer import ImageScorerSettings, OnnxImageScorer, _declared_items
from zeikan.ui.errors import FormError

ANNOTATION_CLASSES: tuple[str, ...] = ("concealment", "drugs", "weapons", "tobacco", "currency", "other")
"""Classes an officer can give a box (COCO category names)."""
MAX_BOXES = 50


def png(array: np.ndarray, mode: str) -> bytes:
    """PNG bytes of an 8-bit array."""
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buf, format="PNG")
    return buf.getvalue()


@lru_cache(maxsize=64)
def scan_png(uri: str) -> bytes:
    """The scan at ``uri`` as a greyscale transmission PNG (high-energy channel, dense = dark)."""
    image = store_of_uri(uri).get(uri)
    return png(np.clip(255.0 * np.exp(-image.attenuation()[-1]), 0, 255).astype(np.uint8), "L")


@lru_cache(maxsize=64)
def heatmap_overlay_png(uri: str) -> bytes:
    """The stored heatmap (grey CAM) as a red PNG whose opacity is the heat, to lay over the scan."""
    heat = np.asarray(Image.open(io.BytesIO(store_of_uri(uri).get_bytes(uri))).convert("L"), dtype=np.uint8)
    rgba = np.zeros((*heat.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 255
    rgba[..., 1] = (80 * (heat < 200)).astype(np.uint8)
    rgba[..., 3] = np.clip(heat.astype(np.float32) * 0.8, 0, 204).astype(np.uint8)
    return png(rgba, "RGBA")


class ImageModel:
    """The image model's artefact, loaded once on first use (physics calibration, queue scoring)."""

    def __init__(self, settings: ImageScorerSettings) -> None:
        self._settings = settings
        self._scorer: OnnxImageScorer | None = None
        self._lock = threading.Lock()

    @property
    def scorer(self) -> OnnxImageScorer:
        """The ONNX scorer."""
        with self._lock:
            if self._scorer is None:
                self._scorer = OnnxImageScorer(self._settings)
            return self._scorer

    def physics(self, image_uri: str, declaration: Mapping[str, Any]) -> PhysicsCheck:
        """Image-implied mass and material against the declaration's goods in that container."""
        image = store_of_uri(image_uri).get(image_uri)
        return check(image, _declared_items([declaration]), self.scorer.calibration)

    def close(self) -> None:
        """Stop the scorer's thread."""
        if self._scorer is not None:
            self._scorer.close()


@dataclass
class AnnotationQueue:
    """Unlabeled images of the store, most informative first; ranked once, refreshed when used up."""

    store: ImageStore
    model: ImageModel

    def __post_init__(self) -> None:
        self._ranked: list[Candidate] = []
        self._lock = threading.Lock()

    def next(self) -> Candidate | None:
        """The next image to label (None when every image has a label)."""
        with self._lock:
            self._ranked = [c for c in self._ranked if not self.store.labels(c.image_sha256)]
            if not self._ranked:
                found, _ = candidates(self.store, self.model.scorer)
                self._ranked = rank(found)
            return self._ranked[0] if self._ranked else None

    def size(self) -> int:
        """Images waiting in the ranked queue."""
        return len(self._ranked)


def _finite(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FormError("boxes", f"{name} must be a number") from None
    if not math.isfinite(number):
        raise FormError("boxes", f"{name} must be finite")
    return number


def officer_label(image: CanonicalImage, sha256: str, verdict: str, cls: str, boxes: Sequence[Sequence[Any]],
                  officer: str, now_ms: int) -> ImageLabel:
    """An officer's label of one image, checked: verdict, class, boxes inside the image."""
    if verdict not in VERDICTS:
        raise FormError("verdict", f"must be one of {', '.join(VERDICTS)}")
    if not isinstance(boxes, list) or len(boxes) > MAX_BOXES:
        raise FormError("boxes", f"must be a list of at most {MAX_BOXES} boxes")
    _, height, width = image.pixels.shape
    checked = []
    for n, box in enumerate(boxes):
        if not isinstance(box, list) or len(box) != 4:
            raise FormError("boxes", f"box {n + 1} must be [x, y, width, height]")
        x, y, w, h = (_finite(v, f"box {n + 1}") for v in box)
        if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width + 0.5 or y + h > height + 0.5:
            raise FormError("boxes", f"box {n + 1} is outside the {width}x{height} image")
        checked.append(Box(round(x, 1), round(y, 1), round(w, 1), round(h, 1)))
    if verdict == "white" and checked:
        raise FormError("verdict", "a white (clear) image has no boxes: remove them or mark it black")
    if verdict == "black" and cls not in ANNOTATION_CLASSES:
        raise FormError("cls", f"must be one of {', '.join(ANNOTATION_CLASSES)}")
    return ImageLabel(sha256, verdict, "officer", officer, now_ms, cls if verdict == "black" else None, tuple(checked))
