"""Rendered data sets of the synthetic world: random loads on scanner models, as CNN inputs."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from zeikan.images.canonical import CANONICAL_PITCH_MM
from zeikan.images.dataset import MODEL_PITCH_MM, NO_BOX, RenderedSet, model_input
from zeikan.images.manifest import MANIFEST_SIZE, manifest_vector
from zeikan.sim.xray import Rendered, render
from zeikan.sim.xray_loads import XrayLoad, random_loads


def _box(rendered: Rendered) -> tuple[float, float, float, float]:
    """The concealment's box in model-input pixels (:data:`NO_BOX` without one)."""
    if not rendered.boxes:
        return NO_BOX
    b, scale = rendered.boxes[0], CANONICAL_PITCH_MM / MODEL_PITCH_MM
    return (b.x * scale, b.y * scale, b.w * scale, b.h * scale)


def declared_items(load: XrayLoad) -> list[tuple[str, float]]:
    """The load's declared ``(hs_code, gross kg)`` items (what the manifest input and the physics check read)."""
    return [(g.hs_code, g.gross_weight_kg) for g in load.declared_goods]


def _render_chunk(args: tuple[int, int, tuple[str, ...], float]) -> tuple[np.ndarray, list[int], list[str], list[str], list[str], list, list]:
    n, seed, scanners, rate = args
    loads = random_loads(n, seed, scanners, concealment_rate=rate)
    rendered = [render(lo) for lo in loads]
    x = np.stack([model_input(r.image) for r in rendered])
    return (x, [int(lo.concealment is not None) for lo in loads], [lo.concealment or "none" for lo in loads],
            [lo.scanner_model for lo in loads], [lo.scan_id for lo in loads], [_box(r) for r in rendered],
            [manifest_vector(declared_items(lo)) for lo in loads])


def render_set(n: int, seed: int, scanners: tuple[str, ...], concealment_rate: float = 0.5, workers: int = 2) -> RenderedSet:
    """Render ``n`` random loads on the given scanner models into a :class:`RenderedSet`."""
    chunk = 50
    jobs = [(min(chunk, n - i), seed * 1000 + i // chunk, scanners, concealment_rate) for i in range(0, n, chunk)]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_render_chunk, jobs))
    else:
        parts = [_render_chunk(job) for job in jobs]
    return RenderedSet(
        np.concatenate([p[0] for p in parts]),
        np.array([v for p in parts for v in p[1]], dtype=np.int64),
        [v for p in parts for v in p[2]],
        [v for p in parts for v in p[3]],
        [v for p in parts for v in p[4]],
        np.array([v for p in parts for v in p[5]], dtype=np.float32).reshape(-1, 4),
        np.array([v for p in parts for v in p[6]], dtype=np.float32).reshape(-1, MANIFEST_SIZE),
    )
