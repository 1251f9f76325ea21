"""Refuse vendor counts that do not fit their profile: a wrong image is never stored.

:func:`refuse_unfit` checks, in order, the bit depth the file declares, the
channel count, the size, the value range, and the content (constant, clipped at
zero, mostly saturated at full scale). Each failure raises
:class:`~zeikan.images.errors.RefusedImageError` with a one-line reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zeikan.images.errors import RefusedImageError
from zeikan.images.vendor_files import Counts


@dataclass(frozen=True)
class PixelSpec:
    """What a vendor file must look like (from its profile)."""

    bit_depth: int
    channels: int = 1
    min_size: tuple[int, int] = (16, 16)
    """smallest (height, width) in pixels"""
    max_size: tuple[int, int] = (8192, 32768)
    """largest (height, width) in pixels"""
    max_value: int | None = None
    """largest valid count (default ``2**bit_depth - 1``: full scale)"""
    max_saturated_share: float = 0.5
    """refuse when more than this share of pixels sits at ``max_value`` (detector saturated)"""
    max_clipped_share: float = 0.05
    """refuse when more than this share of pixels is 0 (signal clipped below the dark level)"""

    @property
    def full_scale(self) -> int:
        """The largest count a valid pixel may hold."""
        return self.max_value if self.max_value is not None else 2**self.bit_depth - 1


def refuse_unfit(counts: Counts, spec: PixelSpec) -> None:
    """Raise :class:`RefusedImageError` unless ``counts`` fits ``spec``."""
    src, px = counts.source, counts.pixels
    if counts.bit_depth != spec.bit_depth:
        raise RefusedImageError(src, f"file is {counts.bit_depth}-bit, the profile expects {spec.bit_depth}-bit")
    if counts.channels != spec.channels:
        raise RefusedImageError(src, f"file has {counts.channels} channel(s), the profile expects {spec.channels}")
    h, w = px.shape[1:]
    if not (spec.min_size[0] <= h <= spec.max_size[0] and spec.min_size[1] <= w <= spec.max_size[1]):
        raise RefusedImageError(src, f"size {h}x{w} is outside {spec.min_size[0]}x{spec.min_size[1]}..{spec.max_size[0]}x{spec.max_size[1]}")
    top = int(px.max())
    if top > spec.full_scale:
        raise RefusedImageError(src, f"value {top} exceeds the profile's full scale {spec.full_scale}")
    for c, plane in enumerate(px):
        low, high = int(plane.min()), int(plane.max())
        if low == high:
            raise RefusedImageError(src, f"channel {c} is constant (every pixel = {low})")
        clipped = float(np.mean(plane == 0))
        if clipped > spec.max_clipped_share:
            raise RefusedImageError(src, f"channel {c} is clipped: {clipped:.0%} of pixels are 0 (limit {spec.max_clipped_share:.0%})")
        saturated = float(np.mean(plane >= spec.full_scale))
        if saturated > spec.max_saturated_share:
            raise RefusedImageError(
                src, f"channel {c} is mostly saturated: {saturated:.0%} of pixels at full scale {spec.full_scale} "
                f"(limit {spec.max_saturated_share:.0%})"
            )
