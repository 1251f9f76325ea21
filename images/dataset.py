"""Model inputs from canonical images, and the rendered data sets training and evaluation read.

The CNN sees every image at a coarse fixed pitch (:data:`MODEL_PITCH_MM`) padded
to :data:`MODEL_SHAPE`, whatever scanner made it: a 40 ft container fills the
width, a 20 ft one the left half, so a package has the same size in pixels
everywhere. Single-energy images repeat their channel. The synthetic world renders these
sets (:func:`zeikan.sim.xray_dataset.render_set`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.resample import resample

MODEL_PITCH_MM = 50.0
MODEL_SHAPE = (2, 64, 256)
"""(channels, height, width) of the CNN input: attenuation at 50 mm pitch, zero-padded."""


def model_input(image: CanonicalImage) -> np.ndarray:
    """The CNN input ``(2, 64, 256)`` float32 of one canonical image."""
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
    """A rendered data set: model inputs, labels (1 = concealment) and per-image facts."""

    x: np.ndarray
    y: np.ndarray
    kinds: list[str]
    scanners: list[str]
    scan_ids: list[str]

    def save(self, path: str) -> None:
        """Write to an ``.npz`` file."""
        np.savez_compressed(path, x=self.x.astype(np.float16), y=self.y, kinds=np.array(self.kinds),
                            scanners=np.array(self.scanners), scan_ids=np.array(self.scan_ids))

    @classmethod
    def load(cls, path: str) -> RenderedSet:
        """Read a set written by :meth:`save`."""
        with np.load(path) as z:
            return cls(z["x"].astype(np.float32), z["y"], z["kinds"].tolist(), z["scanners"].tolist(), z["scan_ids"].tolist())
