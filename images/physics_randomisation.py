"""Randomised scanner physics: a training augmentation that draws another scanner for every render (torch).

A model trained on two scanner makes learns their physics, and a new make (another source
spectrum, detector, container build) moves its inputs where it never looked. This draws,
per render and within :class:`PhysicsRanges` scaled by ``jitter``, a scanner different from
the one that rendered it, and applies it to the model input in physical units (attenuation,
``-ln`` transmission per channel, before the network's input scaling):

* **container structure**: a corrugation over the scanned frame and a band of members
  (cross-members, roof bows, posts) of steel, both periodic along the container;
* **source spectrum**: a scale of the attenuation (effective energy) and a tilt of the
  low channel against the high one (the dual-energy ratio), then beam hardening
  ``A / (1 + h A)`` of each channel (a polychromatic beam attenuates less per g/cm² the more it has crossed);
* **detector**: afterglow along the scan (a causal 3-tap lag), an open-beam gain error
  (an offset of the attenuation) and gain stripes per detector row;
* **noise**: photon noise of a drawn flux, ``exp(A / 2) / sqrt(photons)`` (it grows with the
  attenuation as the signal falls).

Jitter 0 is the identity (no draw is made); the zero padding of an input stays zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

METAL_RATIO = 1.25
"""low/high attenuation ratio of steel (the structure's low channel)"""
FRAME_LEVEL = 0.08
"""high-energy attenuation above which a pixel is inside the container's structure (walls, chassis)"""


@dataclass(frozen=True)
class PhysicsRanges:
    """Bounds of each drawn quantity at jitter 1 (a jitter j scales every width by j)."""

    log_gain: float = 0.25
    """attenuation scale exp(U(-b, b)): effective energy and detector response exponent"""
    log_tilt: float = 0.2
    """low channel's extra scale exp(U(-b, b)): the dual-energy ratio"""
    hardening: float = 0.03
    """h ~ U(0, b) of A / (1 + h A), drawn for each channel"""
    afterglow: float = 0.15
    """lag a ~ U(0, b) along the scan direction"""
    offset: float = 0.03
    """attenuation offset U(-b, b) over the frame: the open-beam gain error -ln(g)"""
    stripes: float = 0.015
    """std of the attenuation offset of each detector row"""
    photons_max: float = 3e6
    photons_min: float = 1e5
    """photons per model pixel, log-uniform in [max (min/max)^j, max]"""
    corrugation: float = 0.1
    """high-energy attenuation amplitude U(0, b) of the corrugation"""
    corrugation_period_px: tuple[float, float] = (6.0, 12.0)
    members: float = 1.0
    """high-energy attenuation U(0, b) of a member"""
    member_period_px: tuple[float, float] = (10.0, 28.0)
    member_width_px: tuple[float, float] = (1.0, 3.0)
    member_rows: tuple[float, float] = (2.0, 12.0)
    """rows of the band the members span (its first row is drawn anywhere in the input)"""


RANGES = PhysicsRanges()


@dataclass(frozen=True)
class ScannerDraw:
    """The drawn physics of each render in a batch (tensors of shape ``(N,)``; ``hardening`` ``(N, C)``)."""

    gain: torch.Tensor
    tilt: torch.Tensor
    hardening: torch.Tensor
    afterglow: torch.Tensor
    offset: torch.Tensor
    photons: torch.Tensor
    corrugation: torch.Tensor
    corrugation_period: torch.Tensor
    members: torch.Tensor
    member_period: torch.Tensor
    member_width: torch.Tensor
    band_top: torch.Tensor
    """first row of the members' band, as a share of the input's height"""
    band_rows: torch.Tensor
    phase: torch.Tensor
    """of both periodic structures, in periods (U(0, 1))"""


def _uniform(n: int, gen: torch.Generator, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def draw(n: int, gen: torch.Generator, jitter: float, ranges: PhysicsRanges = RANGES, channels: int = 2) -> ScannerDraw:
    """Draw the physics of ``n`` scanners of ``channels`` energies (a fixed order of draws from ``gen``: deterministic for a seed)."""
    r, j = ranges, float(jitter)
    return ScannerDraw(
        gain=torch.exp(_uniform(n, gen, -j * r.log_gain, j * r.log_gain)),
        tilt=torch.exp(_uniform(n, gen, -j * r.log_tilt, j * r.log_tilt)),
        hardening=_uniform(n * channels, gen, 0.0, j * r.hardening).reshape(n, channels),
        afterglow=_uniform(n, gen, 0.0, j * r.afterglow),
        offset=_uniform(n, gen, -j * r.offset, j * r.offset),
        photons=r.photons_max * (r.photons_min / r.photons_max) ** (j * torch.rand(n, generator=gen)),
        corrugation=_uniform(n, gen, 0.0, j * r.corrugation),
        corrugation_period=_uniform(n, gen, *r.corrugation_period_px),
        members=_uniform(n, gen, 0.0, j * r.members),
        member_period=_uniform(n, gen, *r.member_period_px),
        member_width=_uniform(n, gen, *r.member_width_px),
        band_top=torch.rand(n, generator=gen),
        band_rows=_uniform(n, gen, *r.member_rows),
        phase=torch.rand(n, generator=gen),
    )


def _structure(x: torch.Tensor, d: ScannerDraw) -> torch.Tensor:
    """Steel added where the structure is: a |sin| corrugation over all rows, members in a band of rows, periodic along the columns."""
    height = x.shape[-2]
    cols = torch.arange(x.shape[-1], dtype=x.dtype)[None, :]
    rows = torch.arange(height, dtype=x.dtype)[None, :]
    corrugation = d.corrugation[:, None] * torch.abs(torch.sin(torch.pi * (cols / d.corrugation_period[:, None] + d.phase[:, None])))
    members = d.members[:, None] * (torch.remainder(cols + d.phase[:, None] * d.member_period[:, None], d.member_period[:, None])
                                    < d.member_width[:, None])
    top = d.band_top[:, None] * height
    band = ((rows >= top) & (rows < top + d.band_rows[:, None])).to(x.dtype)
    steel = (corrugation[:, None, :] + band[:, :, None] * members[:, None, :])[:, None] * (x[:, -1:] > FRAME_LEVEL)
    ratio = torch.ones(x.shape[1], dtype=x.dtype)
    ratio[:-1] = METAL_RATIO
    return x + steel * ratio[None, :, None, None]


def _afterglow(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Causal lag along the columns: (1 - a) x + a (1 - a) x[-1] + a² x[-2] (weights sum to 1 less a³)."""
    a = a[:, None, None, None]
    prev1 = torch.nn.functional.pad(x, (1, 0))[..., :-1]
    prev2 = torch.nn.functional.pad(x, (2, 0))[..., :-2]
    return (1 - a) * x + a * (1 - a) * prev1 + a * a * prev2


def apply(x: torch.Tensor, d: ScannerDraw, gen: torch.Generator, ranges: PhysicsRanges = RANGES, jitter: float = 1.0) -> torch.Tensor:
    """Model inputs ``(N, C, H, W)`` (attenuation, low channel first) as the drawn scanners would see them.

    ``gen`` draws the noise and the row stripes (``ranges.stripes`` times ``jitter``).
    """
    frame = (x != 0).any(dim=1, keepdim=True)
    y = _structure(x, d)
    scale = d.gain[:, None].repeat(1, x.shape[1])
    scale[:, :-1] *= d.tilt[:, None]
    y = y * scale[:, :, None, None]
    y = y / (1 + d.hardening[:, :, None, None] * y.clamp(min=0))
    y = _afterglow(y, d.afterglow)
    rows = jitter * ranges.stripes * torch.randn((x.shape[0], 1, x.shape[2], 1), generator=gen)
    y = y + d.offset[:, None, None, None] + rows
    sigma = torch.exp(y.clamp(min=0) / 2) / torch.sqrt(d.photons)[:, None, None, None]
    y = y + sigma * torch.randn(y.shape, generator=gen)
    return torch.where(frame, y, torch.zeros_like(y))


def randomise_physics(x: torch.Tensor, gen: torch.Generator, jitter: float) -> torch.Tensor:
    """Inputs seen through a scanner drawn per render within :data:`RANGES` scaled by ``jitter`` (0: ``x`` itself, nothing drawn)."""
    if jitter <= 0:
        return x
    return apply(x, draw(x.shape[0], gen, jitter, channels=x.shape[1]), gen, jitter=jitter)
