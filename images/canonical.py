"""The canonical X-ray image: one format for every scanner.

Format choice: a single-page **TIFF** (tifffile), pixels ``uint16`` shaped
``(channels, height, width)`` — one channel per energy — and the metadata as
JSON in the ``ImageDescription`` tag. TIFF rather than Zarr because a scan is
small (~1 MB) and read whole: one self-describing file per scan makes the
content address (sha256 of the file bytes) natural, works on any fsspec
backend as a single object (no chunk directories on S3), and every imaging tool
opens it. Files are zlib-compressed and written deterministically (no dates),
so the same pixels and metadata always give the same bytes and the same address.

Pixels hold normalized attenuation ``-ln(I/I0)`` times ``attenuation_scale``,
resampled to a fixed pixel pitch. Orientation: side view, x along the
container from its front (left) to its doors, y from the top down.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import tifffile

from zeikan.images.errors import CorruptImageError

FORMAT = "zeikan-xray/1"
CANONICAL_PITCH_MM = 10.0
"""Pixel pitch after resampling (both axes); see DESIGN.md "Images"."""
ATTENUATION_SCALE = 4096.0
"""uint16 counts per unit of -ln(I/I0): 1/4096 resolution, attenuation up to 16."""
ORIENTATION = "side;x=front->doors;y=top->floor"


@dataclass(frozen=True)
class ImageMeta:
    """Metadata stored with the pixels of a canonical image."""

    scan_id: str
    container_id: str
    scanner_model: str
    energies_kv: tuple[int, ...]
    calibration_id: str
    source_format: str
    pitch_mm: float = CANONICAL_PITCH_MM
    attenuation_scale: float = ATTENUATION_SCALE
    orientation: str = ORIENTATION
    format: str = FORMAT
    system: str = ""
    """vendor profile (system) the scan came through"""
    native_pitch_mm: tuple[float, float] | None = None
    """(x, y) pitch of the vendor file before resampling"""
    calibration: str = ""
    """JSON of the per-channel calibration applied (dark, open beam, curve or LUT)"""
    iso_type: str = ""
    """ISO 6346 size/type code of the container (from the manifest)"""
    declared_goods: str = ""
    declared_net_kg: float | None = None
    """declared weight of the goods, container tare removed"""
    tare_kg: float | None = None

    def to_json(self) -> str:
        """Deterministic JSON (sorted keys) of this metadata."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ImageMeta:
        """Parse metadata written by :meth:`to_json`."""
        raw = json.loads(text)
        raw["energies_kv"] = tuple(raw["energies_kv"])
        if raw.get("native_pitch_mm") is not None:
            raw["native_pitch_mm"] = tuple(raw["native_pitch_mm"])
        return cls(**raw)


@dataclass(frozen=True, eq=False)
class CanonicalImage:
    """Pixels ``(channels, height, width)`` uint16 plus metadata."""

    pixels: np.ndarray
    meta: ImageMeta

    def __post_init__(self) -> None:
        if self.pixels.dtype != np.uint16 or self.pixels.ndim != 3:
            raise ValueError(f"canonical pixels must be uint16 (C,H,W), got {self.pixels.dtype} {self.pixels.shape}")
        if self.pixels.shape[0] != len(self.meta.energies_kv):
            raise ValueError("one channel per energy is required")

    def attenuation(self) -> np.ndarray:
        """Pixels as float32 attenuation ``-ln(I/I0)``."""
        return self.pixels.astype(np.float32) / np.float32(self.meta.attenuation_scale)

    @classmethod
    def from_attenuation(cls, attenuation: np.ndarray, meta: ImageMeta) -> CanonicalImage:
        """Quantize float attenuation (C,H,W) into a canonical image (clipped to the uint16 range)."""
        counts = np.rint(np.asarray(attenuation, dtype=np.float64) * meta.attenuation_scale)
        return cls(np.clip(counts, 0, 65535).astype(np.uint16), meta)


def encode(image: CanonicalImage) -> bytes:
    """Canonical TIFF bytes of an image (deterministic)."""
    buf = io.BytesIO()
    single = image.pixels.shape[0] == 1
    tifffile.imwrite(
        buf,
        np.ascontiguousarray(image.pixels[0] if single else image.pixels),
        photometric="minisblack",
        planarconfig=None if single else "separate",
        compression="zlib",
        compressionargs={"level": 1},
        description=image.meta.to_json(),
        metadata=None,
        software="zeikan",
    )
    return buf.getvalue()


def decode(data: bytes, source: str = "<bytes>") -> CanonicalImage:
    """Read canonical TIFF bytes; anything unreadable raises :class:`CorruptImageError`."""
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            page = tif.pages[0]
            meta = ImageMeta.from_json(page.description)
            pixels = tif.asarray()
    except Exception as exc:  # tifffile, zlib and json each raise their own types for bad bytes
        raise CorruptImageError(source, f"{type(exc).__name__}: {exc}") from exc
    if pixels.ndim == 2:
        pixels = pixels[np.newaxis]
    try:
        return CanonicalImage(pixels, meta)
    except ValueError as exc:
        raise CorruptImageError(source, str(exc)) from exc
