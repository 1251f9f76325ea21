"""Ingest of single vendor files without a profile (``zeikan images ingest FILE...``).

8-bit PNG/JPEG hold transmission (:func:`~zeikan.images.ingest.ingest_8bit`);
16-bit PNG/TIFF and ``.raw`` hold detector counts and need a calibration (dark
and open beam per channel). The file's own declared bit depth decides which
path it takes, so a 16-bit PNG never goes through the 8-bit conversion, and a
calibration given for an 8-bit file is refused rather than ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.errors import RefusedImageError
from zeikan.images.fitness import PixelSpec, refuse_unfit
from zeikan.images.ingest import Calibration, ScanInfo, canonicalize, ingest_8bit, ingest_raw16
from zeikan.images.vendor_files import SUFFIX_FORMATS, Counts, read_counts


@dataclass(frozen=True)
class FileOptions:
    """What the command line says about the files (applies to every file)."""

    scanner_model: str = "unknown"
    pitch_mm: tuple[float, float] = (5.0, 5.0)
    """(x, y) native pitch of 8-bit images"""
    inverted: bool = False
    calibration: Calibration | None = None
    width: int = 0
    height: int = 0
    container_id: str = ""


def _raw_counts(path: Path, opts: FileOptions, cal: Calibration) -> tuple[bytes, Counts]:
    data = path.read_bytes()
    channels = len(cal.energies_kv)
    if opts.width <= 0 or opts.height <= 0 or len(data) != opts.width * opts.height * channels * 2:
        raise RefusedImageError(str(path), f"{len(data)} bytes do not make {channels}x{opts.height}x{opts.width} uint16 (give --width/--height)")
    pixels = np.frombuffer(data, dtype="<u2").reshape(channels, opts.height, opts.width)
    return data, Counts(pixels, 16, str(path))


def convert_file(path: Path, opts: FileOptions) -> CanonicalImage:
    """The canonical image of one vendor file, or a :class:`RefusedImageError` / ``CorruptImageError``."""
    cal, source = opts.calibration, str(path)
    fmt = SUFFIX_FORMATS.get(path.suffix.lower().lstrip("."))
    if fmt == "raw":
        if cal is None:
            raise RefusedImageError(source, "raw 16-bit counts need --calibration, --width and --height")
        data, counts = _raw_counts(path, opts, cal)
        refuse_unfit(counts, PixelSpec(16, counts.channels))
        return ingest_raw16(data, opts.width, opts.height, cal, scan_id=path.stem, container_id=opts.container_id, source=source)
    counts = read_counts(path, fmt)
    if counts.bit_depth > 8:
        if cal is None:
            raise RefusedImageError(source, f"{counts.bit_depth}-bit detector counts need --calibration (dark and open beam per channel)")
        refuse_unfit(counts, PixelSpec(counts.bit_depth, len(cal.energies_kv)))
        attenuation = np.stack([c.to_attenuation(plane) for c, plane in zip(cal.channels(), counts.pixels)])
        info = ScanInfo(path.stem, opts.container_id, cal.scanner_model, cal.pitch_mm, cal.energies_kv, cal.calibration_id)
        return canonicalize(attenuation, info, f"{fmt}{counts.bit_depth}", native_pitch_mm=(cal.pitch_mm[1], cal.pitch_mm[0]))
    if cal is not None:
        raise RefusedImageError(source, "--calibration applies to 16-bit detector counts, this file is 8-bit transmission")
    if counts.channels not in (1, 3, 4):
        raise RefusedImageError(source, f"8-bit image with {counts.channels} channels; expected grey, RGB or RGBA")
    refuse_unfit(counts, PixelSpec(8, counts.channels))
    px, py = opts.pitch_mm
    info = ScanInfo(path.stem, opts.container_id, opts.scanner_model, (py, px))
    return ingest_8bit(path.read_bytes(), info, inverted=opts.inverted, source=source)
