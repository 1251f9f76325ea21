"""Serving of the X-ray image model with onnxruntime, in batches, off the event loop.

:class:`OnnxImageScorer` implements :class:`zeikan.models.base.ImageScorer`:
for each ScanCompleted record it loads the canonical image from the store named
by ``image_uri``, scores the batch in one ONNX call (anomaly score + CAM
heatmap), stores the heatmap as a PNG beside the image (``heatmap_uri``) and runs
the physics check against the declared goods. ``assess_batch_async`` runs the
same work in a thread pool (onnxruntime releases the GIL) so a Faust agent never
blocks its event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from zeikan.images.canonical import CanonicalImage, decode
from zeikan.images.dataset import MODEL_SHAPE, model_input
from zeikan.images.errors import ImageError, ModelArtifactError
from zeikan.images.physics import PhysicsCalibration, PhysicsCheck, check
from zeikan.images.store import store_of_uri
from zeikan.models.base import ImageAssessment

DEFAULT_MODEL_DIR = Path(__file__).parent / "artifacts" / "image"
UNREADABLE_SCORE = 0.5
"""score of a scan whose image cannot be read: uninformative, with a reason asking for a re-scan"""


@dataclass(frozen=True)
class ImageScorerSettings:
    """Settings of the image scorer (env: ZEIKAN_IMAGE_MODEL_DIR, ZEIKAN_IMAGE_THREADS, ZEIKAN_IMAGE_BATCH)."""

    model_dir: str = str(DEFAULT_MODEL_DIR)
    threads: int = 2
    batch_size: int = 32

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> ImageScorerSettings:
        """Read the settings from the environment (defaults where unset)."""
        return cls(
            model_dir=env.get("ZEIKAN_IMAGE_MODEL_DIR", str(DEFAULT_MODEL_DIR)),
            threads=int(env.get("ZEIKAN_IMAGE_THREADS", "2")),
            batch_size=int(env.get("ZEIKAN_IMAGE_BATCH", "32")),
        )


def heatmap_png(heatmap: np.ndarray, shape: tuple[int, int]) -> bytes:
    """An 8-bit PNG of a CAM (values 0..1) cropped to ``shape`` (model-input rows, cols) and upscaled 4x."""
    rows, cols = (shape[0] + 3) // 4, (shape[1] + 3) // 4
    grey = np.clip(np.rint(heatmap[:rows, :cols] * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.kron(grey, np.ones((4, 4), dtype=np.uint8)), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _declared_items(declarations: Sequence[Mapping]) -> list[tuple[str, float]]:
    """(hs_code, gross kg) of the declared goods in one container (a declaration's weight split over its containers)."""
    items = []
    for d in declarations:
        share = 1.0 / max(1, len(d.get("containers") or ()))
        items.extend((str(i.get("hs_code", "")), float(i.get("gross_weight_kg", 0.0)) * share) for i in d.get("items", ()))
    return items


class OnnxImageScorer:
    """The ONNX CNN + physics check behind the :class:`ImageScorer` protocol."""

    def __init__(self, settings: ImageScorerSettings = ImageScorerSettings()) -> None:
        model_dir = Path(settings.model_dir)
        try:
            self.metadata = json.loads((model_dir / "metadata.json").read_text())
            options = ort.SessionOptions()
            options.intra_op_num_threads = settings.threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
            self.calibration = PhysicsCalibration.from_dict(self.metadata["physics"])
        except Exception as exc:  # file, JSON and onnxruntime errors all mean an unusable artifact
            raise ModelArtifactError(str(model_dir), f"{type(exc).__name__}: {exc}") from exc
        self.version: str = self.metadata["version"]
        self.batch_size = settings.batch_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zeikan-image")

    def score_inputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``(N,)`` and heatmaps ``(N, H/4, W/4)`` of model inputs ``(N, 2, 64, 256)``, in batches."""
        scores, heatmaps = [], []
        for i in range(0, len(x), self.batch_size):
            s, h = self._session.run(None, {"image": np.ascontiguousarray(x[i : i + self.batch_size], dtype=np.float32)})
            scores.append(s.reshape(-1))
            heatmaps.append(h[:, 0])
        if not scores:
            return np.zeros(0, np.float32), np.zeros((0, MODEL_SHAPE[1] // 4, MODEL_SHAPE[2] // 4), np.float32)
        return np.concatenate(scores), np.concatenate(heatmaps)

    def _load(self, scan: Mapping) -> CanonicalImage:
        uri = str(scan["image_uri"])
        store = store_of_uri(uri)
        data = store.get_bytes(uri)
        expected = scan.get("image_sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ImageError(f"image {uri!r} does not match its sha256 {expected!r}; the store is inconsistent")
        return decode(data, source=uri)

    def assess_batch(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """Assess scans; ``declared[i]`` holds the declarations whose goods travel in scan i's container."""
        images: list[CanonicalImage | None] = []
        failures: dict[int, str] = {}
        for i, scan in enumerate(scans):
            try:
                images.append(self._load(scan))
            except ImageError as exc:
                images.append(None)
                failures[i] = str(exc)
        ok = [i for i, img in enumerate(images) if img is not None]
        inputs = np.stack([model_input(images[i]) for i in ok]) if ok else np.zeros((0, *MODEL_SHAPE), np.float32)
        scores, heatmaps = self.score_inputs(inputs)
        out: list[ImageAssessment] = []
        by_index = {i: k for k, i in enumerate(ok)}
        for i, scan in enumerate(scans):
            if i in failures:
                out.append(ImageAssessment(scan["scan_id"], scan["container_id"], UNREADABLE_SCORE,
                                           reasons=(f"image unreadable, re-scan needed: {failures[i]}",)))
                continue
            k = by_index[i]
            out.append(self._assessment(scan, images[i], float(scores[k]), heatmaps[k], declared[i] if i < len(declared) else ()))
        return out

    def _assessment(self, scan: Mapping, image: CanonicalImage, score: float, heatmap: np.ndarray, declared: Sequence[Mapping]) -> ImageAssessment:
        store = store_of_uri(str(scan["image_uri"]))
        shape = (int(round(image.pixels.shape[1] * image.meta.pitch_mm / 50.0)), int(round(image.pixels.shape[2] * image.meta.pitch_mm / 50.0)))
        heatmap_uri = store.put_blob(heatmap_png(heatmap, shape), "png")
        physics: PhysicsCheck = check(image, _declared_items(declared), self.calibration)
        reasons: list[str] = []
        if score >= 0.5:
            rows, cols = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
            metres = (cols * 4 + 2) * 0.05
            reasons.append(f"image model sees a possible concealment (score {score:.2f}) about {metres:.1f} m from the container front")
        reasons.extend(physics.reasons)
        return ImageAssessment(
            scan_id=str(scan["scan_id"]),
            container_id=str(scan["container_id"]),
            anomaly_score=max(score, physics.score),
            heatmap_uri=heatmap_uri,
            implied_mass_kg=round(physics.implied_mass_kg, 1),
            reasons=tuple(reasons),
        )

    async def assess_batch_async(self, scans: Sequence[Mapping], declared: Sequence[Sequence[Mapping]]) -> list[ImageAssessment]:
        """:meth:`assess_batch` in the scorer's worker thread: the event loop keeps running."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.assess_batch, list(scans), list(declared))

    def close(self) -> None:
        """Stop the worker thread."""
        self._executor.shutdown(wait=True)
