"""Serving of the X-ray image model with onnxruntime, in batches, off the event loop.

:class:`OnnxImageScorer` implements :class:`zeikan.models.base.ImageScorer`:
for each ScanCompleted record it loads the canonical image named by ``image_uri``
from the configured store only (:class:`~zeikan.images.references.ImageReferences`:
any other reference is refused, and a refused or unreadable image gets no score
and goes to analyst review, never a default score), scores the batch in one ONNX call (anomaly
score + CAM heatmap) as each scan's onboarded scanner entry says
(:meth:`OnnxImageScorer.score_onboarded`: its input gain first; a second call for the mirror
images where the entry keeps mirror averaging; a scanner not onboarded is scored as it is),
stores the heatmap as a PNG beside the image (``heatmap_uri``) and runs
the physics check against the declared goods. The declared goods are also the
model's second input (:mod:`zeikan.images.manifest`). The stream calls it in a thread
(:func:`zeikan.streams.serving.scoring.assess_off_loop`; onnxruntime releases the
GIL) so a Faust agent never blocks its event loop.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image

from zeikan.env_settings import settings_from_env
from zeikan.images.canonical import CanonicalImage, decode
from zeikan.images.dataset import HEATMAP_CELL_MM, HEATMAP_SHAPE, MODEL_SHAPE, model_input
from zeikan.images.errors import CorruptImageError, ImageError, ImageReferenceError, ModelArtifactError
from zeikan.images.manifest import MANIFEST_SIZE, MODEL_INPUTS, manifest_inputs
from zeikan.images.physics import PhysicsCalibration, PhysicsCheck, check
from zeikan.images.references import DEFAULT_MAX_IMAGE_BYTES, ImageReferences, open_configured_store
from zeikan.images.scanner_adaptation import mean_logit, mirrored, scale_inputs
from zeikan.images.scanner_calibrations import (DEFAULT_SCANNERS_URL, ScannerCalibration, ScannerCalibrations, combined_score,
                                                load_calibrations)
from zeikan.images.store import DEFAULT_STORE_URL
from zeikan.models.base import IMAGE_REFUSED, ImageAssessment

DEFAULT_MODEL_DIR = Path(str(files("zeikan.models"))) / "artifacts" / "image"
"""The committed model artefact (package data of :mod:`zeikan.models`)."""


@dataclass(frozen=True)
class ImageScorerSettings:
    """Settings of the image scorer.

    Env: ZEIKAN_IMAGE_MODEL_DIR, ZEIKAN_IMAGE_THREADS, ZEIKAN_IMAGE_BATCH, ZEIKAN_IMAGE_STORE (the only
    store whose images are read: every other ``image_uri`` is refused), ZEIKAN_IMAGE_MAX_BYTES,
    ZEIKAN_IMAGE_SCANNERS (the onboarded scanners' thresholds and physics calibrations,
    :mod:`zeikan.images.scanner_calibrations`).
    """

    model_dir: str = str(DEFAULT_MODEL_DIR)
    threads: int = 2
    batch_size: int = 32
    store_url: str = DEFAULT_STORE_URL
    max_image_bytes: int = DEFAULT_MAX_IMAGE_BYTES
    scanners_url: str = DEFAULT_SCANNERS_URL

    ENV = {
        "model_dir": "ZEIKAN_IMAGE_MODEL_DIR",
        "threads": "ZEIKAN_IMAGE_THREADS",
        "batch_size": "ZEIKAN_IMAGE_BATCH",
        "store_url": "ZEIKAN_IMAGE_STORE",
        "max_image_bytes": "ZEIKAN_IMAGE_MAX_BYTES",
        "scanners_url": "ZEIKAN_IMAGE_SCANNERS",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ImageScorerSettings:
        """Read the settings from the environment (defaults where unset)."""
        return settings_from_env(cls, env, {})


def heatmap_cells(image: CanonicalImage) -> tuple[int, int]:
    """(rows, cols) of the heatmap cells that cover an image (the rest of the grid is padding)."""
    cell = HEATMAP_CELL_MM / image.meta.pitch_mm
    return int(np.ceil(image.pixels.shape[1] / cell)), int(np.ceil(image.pixels.shape[2] / cell))


def heatmap_png(heatmap: np.ndarray, cells: tuple[int, int]) -> bytes:
    """An 8-bit PNG of a heatmap (values 0..1) cropped to ``cells`` (rows, cols), each cell 4 x 4 pixels."""
    rows, cols = cells
    grey = np.clip(np.rint(heatmap[:rows, :cols] * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.kron(grey, np.ones((4, 4), dtype=np.uint8)), mode="L").save(buf, format="PNG")
    return buf.getvalue()


SERVED_INPUTS: tuple[tuple[str, ...], ...] = (MODEL_INPUTS, ("image",))
"""graph inputs this version serves: the image and its declared goods, or (earlier artefacts) the image alone"""
NO_DECLARATION_REASON = "no declared goods for this container: the image model scored it without the manifest"


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
            if tuple(self.metadata["input_shape"]) != MODEL_SHAPE:
                raise ValueError(f"input {tuple(self.metadata['input_shape'])}, this version serves {MODEL_SHAPE}")
            inputs = tuple(i.name for i in self._session.get_inputs())
            if inputs not in SERVED_INPUTS:
                raise ValueError(f"inputs {inputs}, this version serves {' or '.join(map(str, SERVED_INPUTS))}")
        except Exception as exc:  # file, JSON and onnxruntime errors all mean an unusable artifact
            raise ModelArtifactError(str(model_dir), f"{type(exc).__name__}: {exc}") from exc
        self.model_version: str = self.metadata["version"]
        self.scanners: ScannerCalibrations = load_calibrations(settings.scanners_url, self.model_version)
        self.references = ImageReferences(open_configured_store(settings.store_url), settings.max_image_bytes)
        self.version: str = self.scanners.version_of(self.model_version)
        self.batch_size = settings.batch_size
        self.reads_manifest: bool = inputs == MODEL_INPUTS
        """whether the graph takes the declared goods (an image-only artefact of an earlier version ignores them)"""

    def score_inputs(self, x: np.ndarray, manifests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores ``(N,)`` and heatmaps ``(N, 16, 64)`` of model inputs ``(N, 2, 128, 512)`` and their manifests ``(N, 6)``, in batches.

        ``manifests`` come from :mod:`zeikan.images.manifest` (``NO_MANIFEST`` rows for scans without a declaration);
        an image-only graph (:attr:`reads_manifest` false) is given the image alone.
        """
        if manifests.shape != (len(x), MANIFEST_SIZE):
            raise ValueError(f"manifests {manifests.shape} for {len(x)} model inputs, expected ({len(x)}, {MANIFEST_SIZE})")
        scores, heatmaps = [], []
        for i in range(0, len(x), self.batch_size):
            feeds = {"image": np.ascontiguousarray(x[i : i + self.batch_size], dtype=np.float32)}
            if self.reads_manifest:
                feeds["manifest"] = np.ascontiguousarray(manifests[i : i + self.batch_size], dtype=np.float32)
            s, h = self._session.run(None, feeds)
            scores.append(s.reshape(-1))
            heatmaps.append(h[:, 0])
        if not scores:
            return np.zeros(0, np.float32), np.zeros((0, *HEATMAP_SHAPE), np.float32)
        return np.concatenate(scores), np.concatenate(heatmaps)

    def entries_of(self, scanners: Sequence[tuple[str, str]]) -> list[ScannerCalibration | None]:
        """Each scan's onboarded entry (``scanners[i]``: its scanner id and model, :meth:`ScannerCalibrations.for_scan`)."""
        return [self.scanners.for_scan(scanner_id, scanner_model) for scanner_id, scanner_model in scanners]

    def score_onboarded(self, x: np.ndarray, manifests: np.ndarray,
                        entries: Sequence[ScannerCalibration | None]) -> tuple[np.ndarray, np.ndarray]:
        """Scores and heatmaps of model inputs as each scan's scanner entry says (:meth:`score_inputs` otherwise).

        The entry's ``input_gain`` multiplies the inputs before inference; with ``mirror_average`` the score is the
        mean logit of the input and its mirror image (:func:`~zeikan.images.scanner_adaptation.mirrored`; the
        heatmap stays the input's own). A scan without an entry (a scanner not onboarded) is scored as it is.
        """
        if len(entries) != len(x):
            raise ValueError(f"{len(entries)} scanner entries for {len(x)} model inputs")
        x = np.array(x, dtype=np.float32)
        for i, entry in enumerate(entries):
            if entry is not None and entry.input_gain:
                x[i : i + 1] = scale_inputs(x[i : i + 1], entry.input_gain)
        scores, heatmaps = self.score_inputs(x, manifests)
        mirror = [i for i, entry in enumerate(entries) if entry is not None and entry.mirror_average]
        if mirror:
            mirrored_scores, _ = self.score_inputs(mirrored(x[mirror]), manifests[mirror])
            scores = scores.copy()
            scores[mirror] = mean_logit(scores[mirror], mirrored_scores)
        return scores, heatmaps

    def score_images(self, images: Sequence[CanonicalImage], manifests: np.ndarray,
                     scanner_ids: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and heatmaps of canonical images, each as its onboarded scanner's entry says (:meth:`score_onboarded`).

        ``scanner_ids``: each scan's ``ScanCompleted.scanner_id`` (None: looked up by the image's scanner model alone).
        """
        ids = list(scanner_ids) if scanner_ids is not None else [""] * len(images)
        x = np.stack([model_input(img) for img in images]) if images else np.zeros((0, *MODEL_SHAPE), np.float32)
        return self.score_onboarded(x, manifests, self.entries_of([(sid, img.meta.scanner_model) for sid, img in zip(ids, images)]))

    def _load(self, scan: Mapping) -> CanonicalImage:
        """The scan's canonical image, read only through the sandbox; ImageError with a plain reason otherwise."""
        uri = str(scan["image_uri"])
        try:
            data = self.references.read(uri)
        except ImageReferenceError:
            raise
        except ImageError as exc:
            raise ImageError(f"image {uri[:200]!r} cannot be read from the store ({type(exc).__name__})") from exc
        expected = scan.get("image_sha256")
        if expected and hashlib.sha256(data).hexdigest() != expected:
            raise ImageError(f"image {uri[:200]!r} does not match its sha256; the store is inconsistent")
        try:
            return decode(data, source=uri)
        except CorruptImageError as exc:  # its message may quote bytes of the file: keep them out of decisions
            raise ImageError(f"image {uri[:200]!r} is not a readable canonical image") from exc

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
        items = [_declared_items(declared[i] if i < len(declared) else ()) for i in ok]
        scores, heatmaps = self.score_images([images[i] for i in ok], manifest_inputs(items),
                                             [str(scans[i].get("scanner_id", "")) for i in ok])
        out: list[ImageAssessment] = []
        by_index = {i: k for k, i in enumerate(ok)}
        for i, scan in enumerate(scans):
            if i in failures:
                out.append(ImageAssessment.not_assessed(scan, IMAGE_REFUSED, f"scan {scan['scan_id']}: {failures[i]}: analyst review"))
                continue
            k = by_index[i]
            out.append(self._assessment(scan, images[i], float(scores[k]), heatmaps[k], items[k]))
        return out

    def _assessment(self, scan: Mapping, image: CanonicalImage, score: float, heatmap: np.ndarray,
                    items: Sequence[tuple[str, float]]) -> ImageAssessment:
        store = self.references.store
        heatmap_uri = store.put_blob(heatmap_png(heatmap, heatmap_cells(image)), "png")
        onboarded = self.scanners.for_scan(str(scan.get("scanner_id", "")), image.meta.scanner_model)
        physics: PhysicsCheck = check(image, items, onboarded.physics if onboarded else self.calibration)
        reasons: list[str] = []
        if self.reads_manifest and not any(kg > 0 for _, kg in items):
            reasons.append(NO_DECLARATION_REASON)
        if score >= 0.5:
            rows, cols = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
            metres = (cols + 0.5) * HEATMAP_CELL_MM / 1000.0
            reasons.append(f"image model sees a possible concealment (score {score:.2f}) about {metres:.1f} m from the container front")
        reasons.extend(physics.reasons)
        return ImageAssessment(
            scan_id=str(scan["scan_id"]),
            container_id=str(scan["container_id"]),
            anomaly_score=combined_score(score, physics.score),
            heatmap_uri=heatmap_uri,
            implied_mass_kg=round(physics.implied_mass_kg, 1),
            reasons=tuple(reasons),
            exam_threshold=onboarded.exam_threshold if onboarded else None,
            threshold_of=onboarded.scanner if onboarded else None,
        )

    def close(self) -> None:
        """Release the ONNX session (its native memory); the scorer scores nothing after."""
        del self._session
