"""The declared goods of a scan as the image model's second input (``manifest``).

An opaque block is expected where heavy goods are declared and suspicious where
they are not: the model's manifest head reads, per scan, the declared mass share
of each material class (:data:`~zeikan.images.physics.MATERIAL_CLASSES`), the
declared mass and whether there is a declaration at all. A scan without one is
still scored, from :data:`NO_MANIFEST` (the head learned that case too).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zeikan.images.physics import MATERIAL_CLASSES, declared_by_material

MANIFEST_FEATURES: tuple[str, ...] = ("declared", *(f"{m}_share" for m in MATERIAL_CLASSES), "declared_tonnes")
MANIFEST_SIZE = len(MANIFEST_FEATURES)
TONNES_SCALE = 10.0
"""declared tonnes are divided by this (loads weigh 1.5-22 t)"""
MODEL_INPUTS: tuple[str, ...] = ("image", "manifest")
"""the ONNX graph's inputs: ``image`` (N, *MODEL_SHAPE) and ``manifest`` (N, MANIFEST_SIZE)"""
NO_MANIFEST = np.zeros(MANIFEST_SIZE, np.float32)
"""the manifest input of a scan whose container has no declared goods (or none with a weight)"""


def manifest_vector(declared_items: Sequence[tuple[str, float]]) -> np.ndarray:
    """The manifest input ``(MANIFEST_SIZE,)`` of one container's declared ``(hs_code, kg)`` items."""
    by_material = declared_by_material([(hs, kg) for hs, kg in declared_items if kg > 0])
    total = sum(by_material.values())
    if total <= 0:
        return NO_MANIFEST.copy()
    shares = [by_material.get(m, 0.0) / total for m in MATERIAL_CLASSES]
    return np.array([1.0, *shares, total / 1000.0 / TONNES_SCALE], np.float32)


def manifest_inputs(declared: Sequence[Sequence[tuple[str, float]]]) -> np.ndarray:
    """The manifest inputs ``(N, MANIFEST_SIZE)`` of N scans' declared items (an empty list: no declaration)."""
    return np.stack([manifest_vector(items) for items in declared]) if len(declared) else np.zeros((0, MANIFEST_SIZE), np.float32)


def no_manifests(n: int) -> np.ndarray:
    """The manifest inputs of ``n`` scans known without their declarations (a store's images carry no itemised goods)."""
    return np.tile(NO_MANIFEST, (n, 1))
