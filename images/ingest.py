"""Ingest adapters: vendor images (8-bit PNG/JPEG, raw 16-bit + calibration) -> canonical images.

Every adapter turns its input into float attenuation ``-ln(I/I0)`` per energy at
the scanner's native pitch, then :func:`canonicalize` resamples it to the
canonical pitch and quantizes it. Bad input raises :class:`CorruptImageError`
or :class:`CalibrationError`, never a bare exception.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from zeikan.images.channel_calibration import ChannelCalibration
from zeikan.images.canonical import CANONICAL_PITCH_MM, CanonicalImage, ImageMeta
from zeikan.images.errors import CalibrationError, CorruptImageError
from zeikan.images.resample import resample


@dataclass(frozen=True)
class ScanInfo:
    """What the scanner tells about a scan besides its pixels."""

    scan_id: str
    container_id: str
    scanner_model: str
    pitch_mm: tuple[float, float]
    """native pitch (y, x) in mm"""
    energies_kv: tuple[int, ...] = (6000,)
    calibration_id: str = "uncalibrated"


@dataclass(frozen=True)
class Calibration:
    """Per-scanner detector calibration for raw 16-bit images.

    ``dark`` and ``open_beam`` are raw counts per energy channel; ``curve`` maps the
    measured attenuation ``-ln((raw-dark)/(open_beam-dark))`` to true attenuation
    (piecewise linear, increasing points ``[measured, true]``; identity if empty).
    """

    calibration_id: str
    scanner_model: str
    energies_kv: tuple[int, ...]
    pitch_mm: tuple[float, float]
    dark: tuple[float, ...]
    open_beam: tuple[float, ...]
    curve: tuple[tuple[float, float], ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, raw: dict, source: str = "<dict>") -> Calibration:
        """Build and validate a calibration from parsed JSON."""
        try:
            cal = cls(
                calibration_id=str(raw["calibration_id"]),
                scanner_model=str(raw["scanner_model"]),
                energies_kv=tuple(int(e) for e in raw["energies_kv"]),
                pitch_mm=(float(raw["pitch_mm"][0]), float(raw["pitch_mm"][1])),
                dark=tuple(float(d) for d in raw["dark"]),
                open_beam=tuple(float(o) for o in raw["open_beam"]),
                curve=tuple((float(m), float(t)) for m, t in raw.get("curve", ())),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise CalibrationError(source, f"{type(exc).__name__}: {exc}") from exc
        n = len(cal.energies_kv)
        if n not in (1, 2) or len(cal.dark) != n or len(cal.open_beam) != n:
            raise CalibrationError(source, "energies_kv, dark and open_beam need one entry per channel (1 or 2)")
        if any(o <= d for o, d in zip(cal.open_beam, cal.dark)):
            raise CalibrationError(source, "open_beam must exceed dark for every channel")
        if min(cal.pitch_mm) <= 0:
            raise CalibrationError(source, "pitch_mm must be positive")
        measured = [m for m, _ in cal.curve]
        if cal.curve and (len(cal.curve) < 2 or any(b <= a for a, b in zip(measured, measured[1:]))):
            raise CalibrationError(source, "curve needs >= 2 points with increasing measured attenuation")
        return cal

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "<json>") -> Calibration:
        """Parse a calibration JSON document."""
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CalibrationError(source, f"not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise CalibrationError(source, "top level must be an object")
        return cls.from_dict(raw, source)

    def to_dict(self) -> dict:
        """JSON-ready form (inverse of :meth:`from_dict`)."""
        return {
            "calibration_id": self.calibration_id,
            "scanner_model": self.scanner_model,
            "energies_kv": list(self.energies_kv),
            "pitch_mm": list(self.pitch_mm),
            "dark": list(self.dark),
            "open_beam": list(self.open_beam),
            "curve": [list(p) for p in self.curve],
        }

    def channels(self) -> tuple[ChannelCalibration, ...]:
        """One :class:`ChannelCalibration` per energy channel (the curve is shared)."""
        return tuple(ChannelCalibration(d, o, self.curve) for d, o in zip(self.dark, self.open_beam))


def canonicalize(attenuation: np.ndarray, info: ScanInfo, source_format: str, **extra: Any) -> CanonicalImage:
    """Resample native-pitch attenuation ``(C,H,W)`` to the canonical pitch and quantize it.

    ``extra`` are further :class:`ImageMeta` fields (system, calibration, manifest facts).
    """
    meta = ImageMeta(
        scan_id=info.scan_id,
        container_id=info.container_id,
        scanner_model=info.scanner_model,
        energies_kv=tuple(info.energies_kv),
        calibration_id=info.calibration_id,
        source_format=source_format,
        **extra,
    )
    return CanonicalImage.from_attenuation(resample(attenuation, info.pitch_mm, CANONICAL_PITCH_MM), meta)


def ingest_8bit(data: bytes, info: ScanInfo, *, inverted: bool = False, source: str = "<8-bit>") -> CanonicalImage:
    """Ingest an 8-bit grey PNG/JPEG whose grey level is transmission (bright = transparent).

    ``inverted`` images show dense matter bright. Grey ``v`` maps to transmission
    ``(v + 0.5) / 256``. Colour images are converted to grey (ITU-R 601 luma).
    """
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            grey = np.asarray(img.convert("L"), dtype=np.float64)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(source, f"{type(exc).__name__}: {exc}") from exc
    if inverted:
        grey = 255.0 - grey
    attenuation = -np.log((grey + 0.5) / 256.0)
    single = ScanInfo(info.scan_id, info.container_id, info.scanner_model, info.pitch_mm, info.energies_kv[:1], info.calibration_id)
    fmt = "8bit-inverted" if inverted else "8bit"
    return canonicalize(attenuation[np.newaxis], single, fmt)


def raw16_to_attenuation(data: bytes, width: int, height: int, cal: Calibration, source: str = "<raw16>") -> np.ndarray:
    """Decode little-endian uint16 ``(C,H,W)`` detector counts into true attenuation."""
    channels = len(cal.energies_kv)
    expected = width * height * channels * 2
    if width <= 0 or height <= 0:
        raise CorruptImageError(source, f"bad geometry {width}x{height}")
    if len(data) != expected:
        raise CorruptImageError(source, f"{len(data)} bytes, expected {expected} for {channels}x{height}x{width} uint16")
    raw = np.frombuffer(data, dtype="<u2").reshape(channels, height, width)
    return np.stack([c.to_attenuation(plane) for c, plane in zip(cal.channels(), raw)])


def ingest_raw16(
    data: bytes, width: int, height: int, cal: Calibration, *, scan_id: str, container_id: str, source: str = "<raw16>"
) -> CanonicalImage:
    """Ingest a raw 16-bit detector image with its scanner calibration."""
    info = ScanInfo(scan_id, container_id, cal.scanner_model, cal.pitch_mm, cal.energies_kv, cal.calibration_id)
    return canonicalize(raw16_to_attenuation(data, width, height, cal, source), info, "raw16")
