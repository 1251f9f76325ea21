"""A package among goods displaces goods (images/package_displacement.py)."""

import numpy as np
import pytest

from zeikan.images.dataset import MODEL_SHAPE, NO_BOX, RenderedSet
from zeikan.images.manifest import MANIFEST_SIZE
from zeikan.images.package_displacement import DISPLACED_SHARE, displace_goods, goods_level

GOODS = (4.0, 3.0)
PACKAGE = 2.0
BOX = (100.0, 40.0, 20.0, 16.0)


def _set(kinds: list[str]) -> RenderedSet:
    """Images of uniform goods (columns 50-300) with a package in BOX on top of them; the rest is zero padding."""
    n = len(kinds)
    x = np.zeros((n, *MODEL_SHAPE), np.float32)
    for c, level in enumerate(GOODS):
        x[:, c, 20:100, 50:300] = level
    x[:, :, 40:56, 100:120] += PACKAGE
    boxes = np.array([BOX if k != "none" else NO_BOX for k in kinds], np.float32)
    return RenderedSet(x, np.array([int(k != "none") for k in kinds]), kinds, ["S"] * n, [str(i) for i in range(n)], boxes,
                       np.zeros((n, MANIFEST_SIZE), np.float32))


def test_goods_level_reads_the_band_around_the_box_not_the_package() -> None:
    assert goods_level(_set(["among_goods"]).x[0], np.array(BOX)) == pytest.approx(GOODS)


def test_among_goods_packages_lose_a_share_of_the_goods_level_inside_their_box_only() -> None:
    data = _set(["among_goods"] * 20 + ["wall", "floor", "none"])
    out = displace_goods(data, 1.0, seed=3)
    shares = []
    for i in range(20):
        inside = out.x[i, :, 40:56, 100:120]
        share = (GOODS[0] + PACKAGE - inside[0]) / GOODS[0]
        assert np.allclose(inside[1], GOODS[1] + PACKAGE - share * GOODS[1])  # both channels alike: the goods' ratio kept
        shares.append(float(share.mean()))
        outside = out.x[i].copy()
        outside[:, 40:56, 100:120] = data.x[i, :, 40:56, 100:120]
        assert np.array_equal(outside, data.x[i])
    assert DISPLACED_SHARE[0] <= min(shares) < max(shares) <= DISPLACED_SHARE[1]
    assert np.array_equal(out.x[20:], data.x[20:])  # wall, floor and clean images untouched
    assert np.array_equal(data.x[0, :, 40:56, 100:120], np.array(GOODS)[:, None, None] + PACKAGE + np.zeros((2, 16, 20)))


def test_rate_draws_that_share_of_packages_and_zero_is_the_identity() -> None:
    data = _set(["among_goods"] * 200)
    assert displace_goods(data, 0.0, seed=1) is data
    changed = [not np.array_equal(a, b) for a, b in zip(displace_goods(data, 0.3, seed=1).x, data.x)]
    assert 0.2 < np.mean(changed) < 0.4
