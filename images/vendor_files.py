"""Vendor image files read as exact detector counts (never through a lossy 8-bit conversion), and written back.

Each reader returns :class:`Counts`: integer pixels ``(C, H, W)`` exactly as the
file holds them, with the bit depth the file *declares* (the PNG ``IHDR`` byte,
the TIFF sample format, the raw header), so a 16-bit file can never be mistaken
for an 8-bit one. Readers are chosen by format name through :data:`READERS`;
the writers are their inverses, used by exporters (the simulator's vendor
exports) and by round-trip tests.

Raw files carry a header beside them (``key = value`` lines)::

    width = 1200
    height = 290
    channels = 2
    dtype = uint16
    byte_order = little
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from zeikan.images.errors import CorruptImageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
"""PNG colour type -> samples per pixel (grey, RGB, palette, grey+alpha, RGBA)."""


@dataclass(frozen=True, eq=False)
class Counts:
    """Integer detector counts ``(channels, height, width)`` and the bit depth the file declares."""

    pixels: np.ndarray
    bit_depth: int
    source: str

    @property
    def channels(self) -> int:
        """Number of channels (image planes) in the file."""
        return int(self.pixels.shape[0])


def read_png(data: bytes, source: str) -> Counts:
    """A PNG at its declared bit depth (8 or 16); colour PNGs keep their samples as channels."""
    if not data.startswith(PNG_SIGNATURE) or len(data) < 33 or data[12:16] != b"IHDR":
        raise CorruptImageError(source, "not a PNG file (no signature or IHDR chunk)")
    bit_depth, colour_type = data[24], data[25]
    if colour_type not in _PNG_CHANNELS:
        raise CorruptImageError(source, f"PNG colour type {colour_type} is not defined")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if colour_type == 3:
                img = img.convert("L")
            pixels = np.array(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(source, f"{type(exc).__name__}: {exc}") from exc
    pixels = pixels.astype(np.uint16 if bit_depth > 8 else np.uint8)
    pixels = pixels[np.newaxis] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
    return Counts(np.ascontiguousarray(pixels), int(bit_depth), source)


def read_jpeg(data: bytes, source: str) -> Counts:
    """A baseline JPEG (always 8 bits per sample)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            if img.format != "JPEG":
                raise CorruptImageError(source, f"expected JPEG, found {img.format}")
            pixels = np.array(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise CorruptImageError(source, f"{type(exc).__name__}: {exc}") from exc
    pixels = pixels[np.newaxis] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
    return Counts(np.ascontiguousarray(pixels.astype(np.uint8)), 8, source)


def read_tiff(data: bytes, source: str) -> Counts:
    """A TIFF with one grey page per channel (or one multi-sample page); unsigned integer samples only."""
    try:
        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            pages = [page.asarray() for page in tif.pages]
    except Exception as exc:  # tifffile raises many types for damaged files
        raise CorruptImageError(source, f"{type(exc).__name__}: {exc}") from exc
    if not pages or any(p.shape != pages[0].shape or p.dtype != pages[0].dtype for p in pages):
        raise CorruptImageError(source, "TIFF pages differ in shape or sample type")
    if pages[0].dtype.kind != "u":
        raise CorruptImageError(source, f"TIFF samples are {pages[0].dtype}, expected unsigned integers")
    pixels = np.stack(pages) if pages[0].ndim == 2 else pages[0]
    if pixels.ndim != 3:
        raise CorruptImageError(source, f"TIFF of shape {pixels.shape} is not (channels, height, width)")
    return Counts(np.ascontiguousarray(pixels), pixels.dtype.itemsize * 8, source)


def parse_raw_header(text: str, source: str) -> dict[str, str]:
    """``key = value`` lines of a raw header (``#`` comments allowed)."""
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise CorruptImageError(source, f"header line {n} is not 'key = value'")
        key, value = (part.strip() for part in line.split("=", 1))
        out[key.lower()] = value
    return out


def read_raw(data: bytes, header_text: str, source: str) -> Counts:
    """Headerless counts whose geometry and sample type a separate header file gives."""
    head = parse_raw_header(header_text, source + " header")
    try:
        width, height, channels = int(head["width"]), int(head["height"]), int(head.get("channels", "1"))
        dtype = np.dtype(head.get("dtype", "uint16")).newbyteorder("<" if head.get("byte_order", "little") == "little" else ">")
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptImageError(source, f"raw header lacks or mangles {exc}") from exc
    if dtype.kind != "u" or min(width, height, channels) <= 0:
        raise CorruptImageError(source, f"raw header geometry {channels}x{height}x{width} {dtype} is not usable")
    expected = width * height * channels * dtype.itemsize
    if len(data) != expected:
        raise CorruptImageError(source, f"{len(data)} bytes, the header promises {expected} ({channels}x{height}x{width} {dtype.name})")
    pixels = np.frombuffer(data, dtype=dtype).reshape(channels, height, width)
    bits = int(head.get("bit_depth", dtype.itemsize * 8))
    return Counts(pixels.astype(dtype.newbyteorder("=")), bits, source)


def write_png(pixels: np.ndarray) -> bytes:
    """One grey PNG (8 or 16 bits by dtype) of a ``(H, W)`` plane."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buf, format="PNG")
    return buf.getvalue()


def write_tiff(pixels: np.ndarray) -> bytes:
    """A multi-page grey TIFF, one page per channel of ``(C, H, W)``."""
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        for plane in pixels:
            tif.write(np.ascontiguousarray(plane), photometric="minisblack", metadata=None)
    return buf.getvalue()


def write_raw(pixels: np.ndarray, bit_depth: int) -> tuple[bytes, str]:
    """Little-endian raw counts of ``(C, H, W)`` and their header text."""
    c, h, w = pixels.shape
    header = f"width = {w}\nheight = {h}\nchannels = {c}\ndtype = {pixels.dtype.name}\nbyte_order = little\nbit_depth = {bit_depth}\n"
    return np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes(), header


Reader = Callable[[Path], Counts]


def _header_path(path: Path) -> Path:
    return path.with_suffix(".hdr")


READERS: dict[str, Reader] = {
    "png": lambda p: read_png(p.read_bytes(), str(p)),
    "jpeg": lambda p: read_jpeg(p.read_bytes(), str(p)),
    "tiff": lambda p: read_tiff(p.read_bytes(), str(p)),
    "raw": lambda p: read_raw(p.read_bytes(), _header_path(p).read_text(), str(p)),
}
"""Vendor file format -> reader of exact counts (a raw file's header is the same name with ``.hdr``)."""

SUFFIX_FORMATS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "tif": "tiff", "tiff": "tiff", "raw": "raw", "bin": "raw"}


def read_counts(path: Path, fmt: str | None = None) -> Counts:
    """Exact counts of a vendor file, its format from ``fmt`` or the file suffix."""
    name = fmt or SUFFIX_FORMATS.get(path.suffix.lower().lstrip("."))
    if name not in READERS:
        raise CorruptImageError(str(path), f"unknown vendor format {path.suffix!r}; expected one of {', '.join(sorted(SUFFIX_FORMATS))}")
    try:
        return READERS[name](path)
    except OSError as exc:
        raise CorruptImageError(str(path), f"cannot read: {exc.strerror or exc}") from exc

