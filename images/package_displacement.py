"""A package hidden among goods takes the place of goods: a training transform of rendered sets.

The training renderer (:mod:`zeikan.sim.xray`) adds a package's mass on top of the goods it sits in, so
its contrast is its whole areal density. A real package pushes goods aside: along the beam it replaces a
column of goods as deep as itself, and its contrast is its own areal density less theirs, low or even
negative in dense goods. :func:`displace_goods` takes that share of the surrounding goods' attenuation out
of the box of some among-goods concealments (the labels stay concealed), in physical units (model-input
attenuation, each channel alike, so the goods' dual-energy ratio is kept).

The displaced share is drawn from :data:`DISPLACED_SHARE`: the training renderer's package depth along the
beam (200-600 mm) over the width its goods fill (35-80 % of the 2.35 m inner width) spans about 0.1-0.7.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from zeikan.images.dataset import RenderedSet

DISPLACED_SHARE = (0.1, 0.7)
"""bounds of the uniform share of the goods' column a package replaces (see the module docstring)"""
RING_PX = 4
"""width (model pixels, 100 mm) of the band around the box whose goods level is taken"""
GOODS_ATTENUATION = 0.3
"""high-energy model-input attenuation above which a band pixel counts as goods"""
AMONG_GOODS = "among_goods"


def goods_level(x: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """Median attenuation per channel of the goods in a band of :data:`RING_PX` around ``box`` (x, y, w, h) of one
    model input ``(C, H, W)``; None where the band holds no goods."""
    bx, by, bw, bh = (float(v) for v in box)
    x0, y0 = max(int(np.floor(bx)) - RING_PX, 0), max(int(np.floor(by)) - RING_PX, 0)
    x1, y1 = min(int(np.ceil(bx + bw)) + RING_PX, x.shape[2]), min(int(np.ceil(by + bh)) + RING_PX, x.shape[1])
    band = np.ones((y1 - y0, x1 - x0), dtype=bool)
    band[max(int(np.floor(by)) - y0, 0) : int(np.ceil(by + bh)) - y0, max(int(np.floor(bx)) - x0, 0) : int(np.ceil(bx + bw)) - x0] = False
    window = x[:, y0:y1, x0:x1]
    goods = band & (window[-1] > GOODS_ATTENUATION)
    if not goods.any():
        return None
    return np.median(window[:, goods], axis=1)


def displace_goods(data: RenderedSet, rate: float, seed: int) -> RenderedSet:
    """A copy of ``data`` where each among-goods concealment, with probability ``rate``, has a drawn share
    (:data:`DISPLACED_SHARE`) of the goods around it taken out of its box (attenuation kept above zero).

    Rate 0 returns ``data`` itself.
    """
    if rate <= 0:
        return data
    rng = np.random.default_rng(seed)
    x = data.x.copy()
    for i, (kind, box) in enumerate(zip(data.kinds, data.boxes)):
        if kind != AMONG_GOODS or box[2] <= 0 or box[3] <= 0 or rng.random() >= rate:
            continue
        level = goods_level(x[i], box)
        share = rng.uniform(*DISPLACED_SHARE)
        if level is None:
            continue
        bx, by, bw, bh = (float(v) for v in box)
        sy = slice(max(int(round(by)), 0), max(int(round(by + bh)), int(round(by)) + 1))
        sx = slice(max(int(round(bx)), 0), max(int(round(bx + bw)), int(round(bx)) + 1))
        inside = x[i][:, sy, sx]
        x[i][:, sy, sx] = np.where(inside > 0, np.maximum(inside - share * level[:, None, None], 0.01), inside)
    return replace(data, x=x)
