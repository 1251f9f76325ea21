"""Calibration of one detector channel: raw counts -> true attenuation ``-ln(I/I0)``.

Two forms, as vendors ship them:

* **curve**: ``dark`` and ``open_beam`` counts give the measured attenuation
  ``-ln((raw - dark) / (open_beam - dark))``; an increasing piecewise-linear
  ``curve`` of ``[measured, true]`` points corrects it (identity when empty,
  linear extrapolation past its last point);
* **lut**: a table of ``[count, true attenuation]`` points (counts increasing,
  attenuation decreasing), interpolated linearly; counts outside the table are
  refused by the caller's range check (``dark``/``open_beam`` then only bound
  the valid counts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from zeikan.images.errors import CalibrationError

MIN_TRANSMISSION = 1.0 / 65536.0
"""transmission floor: counts at or below the dark level mean 'no photons seen', attenuation ln(65536)"""


@dataclass(frozen=True)
class ChannelCalibration:
    """Counts -> attenuation of one energy channel (see the module docstring)."""

    dark: float = 0.0
    open_beam: float = 65535.0
    curve: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    lut: tuple[tuple[float, float], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.open_beam <= self.dark:
            raise ValueError("open_beam must exceed dark")
        if self.curve and self.lut:
            raise ValueError("give a curve or a lut, not both")
        if self.curve and (len(self.curve) < 2 or any(b[0] <= a[0] for a, b in zip(self.curve, self.curve[1:]))):
            raise ValueError("curve needs >= 2 points with increasing measured attenuation")
        if self.lut and (len(self.lut) < 2 or any(b[0] <= a[0] or b[1] > a[1] for a, b in zip(self.lut, self.lut[1:]))):
            raise ValueError("lut needs >= 2 points with increasing counts and non-increasing attenuation")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str) -> ChannelCalibration:
        """Parse ``{dark, open_beam, curve | lut}`` (a profile's per-channel entry)."""
        try:
            return cls(
                dark=float(raw.get("dark", 0.0)),
                open_beam=float(raw.get("open_beam", 65535.0)),
                curve=tuple((float(m), float(t)) for m, t in raw.get("curve", ())),
                lut=tuple((float(c), float(a)) for c, a in raw.get("lut", ())),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise CalibrationError(source, str(exc)) from exc

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        out: dict[str, Any] = {"dark": self.dark, "open_beam": self.open_beam}
        if self.curve:
            out["curve"] = [list(p) for p in self.curve]
        if self.lut:
            out["lut"] = [list(p) for p in self.lut]
        return out

    def to_attenuation(self, counts: np.ndarray) -> np.ndarray:
        """True attenuation (float64) of raw counts of this channel."""
        raw = np.asarray(counts, dtype=np.float64)
        if self.lut:
            pts = np.asarray(self.lut)
            return np.interp(raw, pts[:, 0], pts[:, 1])
        transmission = np.clip((raw - self.dark) / (self.open_beam - self.dark), MIN_TRANSMISSION, None)
        return _apply_curve(self.curve, -np.log(transmission))

    def to_counts(self, attenuation: np.ndarray, full_scale: int) -> np.ndarray:
        """Inverse of :meth:`to_attenuation`, rounded to integer counts in ``[0, full_scale]`` (for exporters)."""
        att = np.asarray(attenuation, dtype=np.float64)
        if self.lut:
            pts = np.asarray(self.lut)[::-1]
            raw = np.interp(att, pts[:, 1], pts[:, 0])
        else:
            measured = _apply_curve(tuple((t, m) for m, t in self.curve), att)
            raw = self.dark + (self.open_beam - self.dark) * np.exp(-measured)
        return np.clip(np.rint(raw), 0, full_scale)


def _apply_curve(curve: Sequence[tuple[float, float]], measured: np.ndarray) -> np.ndarray:
    """Piecewise-linear ``curve`` through ``measured``, extrapolated linearly past its last point."""
    if not curve:
        return measured
    pts = np.asarray(curve, dtype=np.float64)
    out = np.interp(measured, pts[:, 0], pts[:, 1])
    slope = (pts[-1, 1] - pts[-2, 1]) / (pts[-1, 0] - pts[-2, 0])
    beyond = measured > pts[-1, 0]
    out[beyond] = pts[-1, 1] + (measured[beyond] - pts[-1, 0]) * slope
    return out
