"""Model inputs from canonical images, and the rendered data sets training and evaluation read.

The model sees every image at a fixed pitch (:data:`MODEL_PITCH_MM`) padded to
:data:`MODEL_SHAPE`, whatever scanner made it: a 40 ft container fills the
width, a 20 ft one the left half, so a package has the same size in pixels
everywhere. Single-energy images repeat their channel. Its first stage looks at
the input averaged over :data:`COARSE_POOL` x :data:`COARSE_POOL` pixels (50 mm),
its second at the full 25 mm; both give a heatmap on one grid of
:data:`HEATMAP_CELL_MM` cells (:data:`HEATMAP_SHAPE`). The synthetic world renders
these sets (:func:`zeikan.sim.xray_dataset.render_set`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.manifest import MANIFEST_SIZE
from zeikan.images.resample import resample

MODEL_PITCH_MM = 25.0
MODEL_SHAPE = (2, 128, 512)
"""(channels, height, width) of the model input: attenuation at 25 mm pitch, zero-padded (3.2 m x 12.8 m)."""
COARSE_POOL = 2
"""the first stage averages the input over 2 x 2 pixels (50 mm pitch, exactly the area mean at 50 mm)"""
HEATMAP_CELL_MM = 200.0
HEATMAP_SHAPE = (16, 64)
"""(rows, cols) of the heatmap: one cell per 200 mm x 200 mm of the input"""
NO_BOX = (-1.0, -1.0, 0.0, 0.0)
"""the box (x, y, w, h) of an image without a concealment"""


def model_input(image: CanonicalImage) -> np.ndarray:
    """The model input ``(2, 128, 512)`` float32 of one canonical image."""
    att = image.attenuation()
    if att.shape[0] == 1:
        att = np.repeat(att, 2, axis=0)
    coarse = resample(att, (image.meta.pitch_mm, image.meta.pitch_mm), MODEL_PITCH_MM)
    out = np.zeros(MODEL_SHAPE, dtype=np.float32)
    h, w = min(coarse.shape[1], MODEL_SHAPE[1]), min(coarse.shape[2], MODEL_SHAPE[2])
    out[:, :h, :w] = coarse[:, :h, :w]
    return out


@dataclass(frozen=True)
class RenderedSet:
    """A rendered data set: model inputs, labels (1 = concealment) and per-image facts.

    ``boxes`` ``(N, 4)``: the concealment's (x, y, w, h) in model-input pixels, :data:`NO_BOX` without one
    (the second stage learns where, not only whether). ``manifests`` ``(N, MANIFEST_SIZE)``: the model's
    second input, from each load's declared goods (:mod:`zeikan.images.manifest`).
    """

    x: np.ndarray
    y: np.ndarray
    kinds: list[str]
    scanners: list[str]
    scan_ids: list[str]
    boxes: np.ndarray
    manifests: np.ndarray

    def save(self, path: str) -> None:
        """Write to an ``.npz`` file."""
        np.savez_compressed(path, x=self.x.astype(np.float16), y=self.y, kinds=np.array(self.kinds),
                            scanners=np.array(self.scanners), scan_ids=np.array(self.scan_ids), boxes=self.boxes,
                            manifests=self.manifests)

    @classmethod
    def load(cls, path: str) -> RenderedSet:
        """Read a set written by :meth:`save`; refuses one of another input shape or without manifests (written for an older model)."""
        with np.load(path) as z:
            if tuple(z["x"].shape[1:]) != MODEL_SHAPE or "boxes" not in z:
                raise ValueError(f"{path}: rendered for input {tuple(z['x'].shape[1:])}, the model takes {MODEL_SHAPE}; render it again")
            if "manifests" not in z or z["manifests"].shape[1:] != (MANIFEST_SIZE,):
                raise ValueError(f"{path}: rendered without the declared goods the model's manifest input takes; render it again")
            return cls(z["x"].astype(np.float32), z["y"], z["kinds"].tolist(), z["scanners"].tolist(), z["scan_ids"].tolist(),
                       z["boxes"].astype(np.float32), z["manifests"].astype(np.float32))
