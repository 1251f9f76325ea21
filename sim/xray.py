"""Synthetic X-ray renderer: a container's side-view transmission image from its true load.

Physics: every object adds areal density (g/cm², mass / side-view area, so mass is
conserved) of one material class to a per-material map; attenuation per energy is
Beer–Lambert ``A_e = sum_m mu[m, e] * rho_m``. The scanner model then blurs,
hardens, adds photon (Poisson, as gaussian) and read noise, applies its detector
response and gain and writes raw 16-bit counts plus its calibration — which go
through the same ingest adapter (:func:`zeikan.images.ingest.ingest_raw16`) as a
real vendor image. All of it is vectorised numpy at the scanner's native pitch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.images.canonical import CANONICAL_PITCH_MM, CanonicalImage, encode
from zeikan.images.ingest import Calibration, ingest_raw16
from zeikan.images.labels import Box
from zeikan.images.store import open_store
from zeikan.sim.xray_loads import CONCEALMENT_KINDS, XrayLoad, as_xray_load
from zeikan.sim.xray_physics import BULK_DENSITY_KG_M3, MATERIALS, MU_CM2_PER_G, ScannerModel, scanner_model_of

FRAME_MM = (2900.0, 12592.0)
"""(height, width) of every image: a 40 ft container plus margins; a 20 ft one leaves the right part empty."""
MARGIN_X_MM = 200.0
TOP_MM = 150.0
HEIGHT_MM = 2591.0
INNER_WIDTH_MM = 2352.0
LENGTH_MM = {20: 6058.0, 40: 12192.0}
END_WALL_MM = 150.0
ROOF_MM = 100.0
FLOOR_MM = 160.0
_MAT = {m: i for i, m in enumerate(MATERIALS)}


@dataclass(frozen=True)
class Rendered:
    """A rendered scan: the vendor-like raw image, its calibration, the canonical image, the truth boxes."""

    raw: bytes
    width: int
    height: int
    calibration: Calibration
    image: CanonicalImage
    boxes: tuple[Box, ...]


class _Canvas:
    """Per-material areal-density maps (g/cm²) at a native pitch, filled with rectangles in mm."""

    def __init__(self, pitch_mm: tuple[float, float]) -> None:
        self.py, self.px = pitch_mm
        self.h, self.w = int(round(FRAME_MM[0] / self.py)), int(round(FRAME_MM[1] / self.px))
        self.maps = np.zeros((len(MATERIALS), self.h, self.w), dtype=np.float32)

    def _slices(self, x0: float, x1: float, y0: float, y1: float) -> tuple[slice, slice]:
        i0 = min(int(round(y0 / self.py)), self.h - 1)
        j0 = min(int(round(x0 / self.px)), self.w - 1)
        i1 = min(max(int(round(y1 / self.py)), i0 + 1), self.h)
        j1 = min(max(int(round(x1 / self.px)), j0 + 1), self.w)
        return slice(i0, i1), slice(j0, j1)

    def areal(self, rect: tuple[float, float, float, float], material: str, g_cm2: float | np.ndarray) -> None:
        """Add a uniform (or patterned, broadcast to the slice) areal density."""
        sy, sx = self._slices(*rect)
        self.maps[_MAT[material], sy, sx] += g_cm2

    def mass(self, rect: tuple[float, float, float, float], material: str, kg: float, pattern: np.ndarray | None = None) -> None:
        """Spread ``kg`` over the rectangle (exactly, after rounding to pixels), optionally textured."""
        sy, sx = self._slices(*rect)
        n_y, n_x = sy.stop - sy.start, sx.stop - sx.start
        area_mm2 = n_y * self.py * n_x * self.px
        density = np.float32(kg * 1e5 / area_mm2)
        if pattern is None:
            self.maps[_MAT[material], sy, sx] += density
        else:
            self.maps[_MAT[material], sy, sx] += density * pattern[:n_y, :n_x] / pattern[:n_y, :n_x].mean()


def _container(c: _Canvas, length_mm: float) -> None:
    x0, x1 = MARGIN_X_MM, MARGIN_X_MM + length_mm
    y0, y1 = TOP_MM, TOP_MM + HEIGHT_MM
    xs = (np.arange(c.w, dtype=np.float32) + 0.5) * c.px
    corrugation = 3.1 * (1.0 + 0.3 * np.sin(2.0 * np.pi * xs / 278.0))
    sy, sx = c._slices(x0, x1, y0, y1)
    c.maps[_MAT["metal"], sy, sx] += corrugation[sx]
    c.areal((x0, x0 + END_WALL_MM, y0, y1), "metal", 35.0)
    c.areal((x1 - END_WALL_MM, x1, y0, y1), "metal", 45.0)
    c.areal((x0, x1, y0, y0 + ROOF_MM), "metal", 12.0)
    c.areal((x0, x1, y1 - FLOOR_MM, y1), "metal", 15.0)
    c.areal((x0, x1, y1 - FLOOR_MM, y1), "organic", 12.0)
    c.areal((100.0, FRAME_MM[1] - 100.0, y1 + 50.0, y1 + 110.0), "metal", 20.0)
    for wheel_x in (x1 - 2400.0, x1 - 1100.0):
        c.areal((wheel_x, wheel_x + 1000.0, y1 + 10.0, FRAME_MM[0]), "organic", 30.0)


def _carton_pattern(rng: np.random.Generator, n_y: int, n_x: int, c: _Canvas) -> np.ndarray:
    """Multiplicative texture of a pallet: cartons of varying fill with thin gaps between them."""

    def profile(n: int, pitch: float) -> np.ndarray:
        carton = max(1, int(rng.uniform(200.0, 600.0) / pitch))
        ids = np.arange(n) // carton
        fill = rng.uniform(0.8, 1.2, size=ids[-1] + 1).astype(np.float32)[ids]
        fill[(np.arange(n) % carton) == 0] *= 0.5
        return fill

    return np.outer(profile(n_y, c.py), profile(n_x, c.px))


_UNIT_MM = {"organic": (1200.0, 1200.0, 2200.0), "inorganic": (1200.0, 800.0, 1500.0),
            "metal": (1100.0, 600.0, 1200.0), "heavy": (600.0, 300.0, 700.0)}
"""material -> (unit length, min height, max height) of a pallet/crate, mm"""


def _goods(c: _Canvas, load: XrayLoad, rng: np.random.Generator, x_start: float, x_end: float) -> list[tuple[float, float, float, float]]:
    """Pack the true goods in columns of pallets from the front; returns the unit rectangles."""
    floor_y = TOP_MM + HEIGHT_MM - FLOOR_MM
    roof_y = TOP_MM + ROOF_MM
    units: list[tuple[float, float, float, float]] = []
    x, y = x_start, floor_y
    for goods in load.true_goods:
        if goods.gross_weight_kg <= 0:
            continue
        length, h_min, h_max = _UNIT_MM.get(goods.material, _UNIT_MM["organic"])
        height = float(rng.uniform(h_min, h_max))
        lo, hi = BULK_DENSITY_KG_M3.get(goods.material, BULK_DENSITY_KG_M3["organic"])
        fill = float(rng.uniform(0.35, 0.8))  # share of the container width the pallets occupy
        unit_kg = float(rng.uniform(lo, hi)) * length * height * INNER_WIDTH_MM * fill * 1e-9
        n_units = max(1, round(goods.gross_weight_kg / unit_kg))
        masses = rng.uniform(0.85, 1.15, size=n_units)
        masses *= goods.gross_weight_kg / masses.sum()
        for kg in masses:
            if y - height < roof_y:
                x, y = x + length + 20.0, floor_y
            if x + length > x_end:
                x = x_start  # another row beside the first, along the beam: densities add
            rect = (x, x + length, y - height, y)
            pattern = _carton_pattern(rng, int(height / c.py) + 2, int(length / c.px) + 2, c)
            c.mass(rect, goods.material, float(kg), pattern)
            units.append(rect)
            y -= height + 10.0
    return units


_PACKAGE_DENSITY_KG_M3 = {"organic": (900.0, 1300.0), "inorganic": (1500.0, 2500.0),
                         "metal": (2500.0, 6000.0), "heavy": (5000.0, 10000.0)}
"""density of a hidden package (pressed bricks, parts, ingots)"""


def _conceal(c: _Canvas, load: XrayLoad, kind: str, rng: np.random.Generator, x_front: float, units: list, x_end: float) -> tuple[float, float, float, float]:
    """Hide a package of contraband (the load's mass, or one from its size); returns its rectangle in mm.

    The package mass is side area x depth along the beam x density, so a larger
    package is also heavier, as in a real compartment.
    """
    floor_y = TOP_MM + HEIGHT_MM - FLOOR_MM
    inner_h = floor_y - (TOP_MM + ROOF_MM)
    if kind == "wall":
        width, height = rng.uniform(150.0, 350.0), inner_h * rng.uniform(0.6, 1.0)
        rect = (x_front, x_front + width, floor_y - height, floor_y)
        material, depth = "organic", INNER_WIDTH_MM * rng.uniform(0.1, 0.4)
    elif kind == "floor":
        start, length = rng.uniform(x_front, max(x_front + 1.0, x_end - 3500.0)), rng.uniform(800.0, 3500.0)
        band = rng.uniform(40.0, 80.0)
        rect = (start, min(start + length, x_end), floor_y + 10.0, floor_y + 10.0 + band)
        material, depth = str(rng.choice(["organic", "metal"])), INNER_WIDTH_MM * rng.uniform(0.2, 0.8)
    else:
        host = units[int(rng.integers(len(units)))] if units else (x_front, x_end, floor_y - 1500.0, floor_y)
        w = min(rng.uniform(250.0, 700.0), host[1] - host[0])
        h = min(rng.uniform(250.0, 700.0), host[3] - host[2])
        x0 = rng.uniform(host[0], host[1] - w)
        y0 = rng.uniform(host[2], host[3] - h)
        rect = (x0, x0 + w, y0, y0 + h)
        material, depth = str(rng.choice(["organic", "inorganic", "metal", "heavy"])), rng.uniform(200.0, 600.0)
    material = load.concealed_material or material
    lo, hi = _PACKAGE_DENSITY_KG_M3[material]
    kg = (rect[1] - rect[0]) * (rect[3] - rect[2]) * depth * 1e-9 * rng.uniform(lo, hi)
    c.mass(rect, material, float(load.concealed_kg if load.concealed_kg is not None else kg))
    return rect


def _smooth(values: np.ndarray, passes: int) -> np.ndarray:
    """[1, 2, 1] / 4 blur along both image axes, ``passes`` times (the detector PSF)."""
    for _ in range(passes):
        for axis in (-1, -2):
            v = np.moveaxis(values, axis, -1)
            out = 0.5 * v
            out[..., 1:] += 0.25 * v[..., :-1]
            out[..., :-1] += 0.25 * v[..., 1:]
            out[..., 0] += 0.25 * v[..., 0]
            out[..., -1] += 0.25 * v[..., -1]
            values = np.moveaxis(out, -1, axis)
    return values


def _calibration(model: ScannerModel, channels: int) -> Calibration:
    true_att = np.linspace(0.0, 16.0, 33)
    measured = model.gamma * (true_att - model.hardening * true_att**2)
    energies = model.energies_kv[-channels:]
    return Calibration(
        calibration_id=f"{model.name}-cal{'+' if model.calibration_error >= 0 else '-'}{abs(model.calibration_error):.2f}",
        scanner_model=model.name,
        energies_kv=tuple(energies),
        pitch_mm=model.pitch_mm,
        dark=(model.dark,) * channels,
        open_beam=(model.dark + model.full_scale,) * channels,
        curve=tuple(zip(measured.tolist(), (true_att * (1.0 + model.calibration_error)).tolist())),
    )


def _detect(c: _Canvas, model: ScannerModel, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Raw uint16 detector counts ``(channels, H, W)`` of the canvas."""
    mu = MU_CM2_PER_G.copy()
    mu[:, 0] *= model.low_mu_factor
    mu = mu[:, -channels:]
    used = [m for m in range(len(MATERIALS)) if c.maps[m].any()]
    attenuation = np.stack([sum(mu[m, e] * c.maps[m] for m in used) for e in range(channels)])
    hardened = attenuation - model.hardening * attenuation * attenuation
    flux = np.array([0.6, 1.0], dtype=np.float32)[-channels:].reshape(-1, 1, 1) * np.float32(model.photons)
    photons = _smooth(flux * np.exp(-hardened), model.blur_passes)
    noisy = photons + np.sqrt(photons + 25.0) * rng.standard_normal(photons.shape, dtype=np.float32)
    transmission = np.clip(noisy / flux, 0.5 / model.photons, None)
    response = transmission if model.gamma == 1.0 else np.exp(np.float32(model.gamma) * np.log(transmission))
    raw = model.dark + model.full_scale * response
    raw += 2.0 * rng.standard_normal(raw.shape, dtype=np.float32)
    return np.clip(np.rint(raw), 0, 65535).astype("<u2")


def render(load: Any) -> Rendered:
    """Render one load (an :class:`XrayLoad` or a simulator load) into raw and canonical images."""
    load = as_xray_load(load)
    model = scanner_model_of(load.scanner_model)
    rng = np.random.default_rng(load.seed)
    canvas = _Canvas(model.pitch_mm)
    length = LENGTH_MM[load.length_ft]
    _container(canvas, length)
    x_front, x_end = MARGIN_X_MM + END_WALL_MM + 20.0, MARGIN_X_MM + length - END_WALL_MM - 20.0
    kind = load.concealment if load.concealment in CONCEALMENT_KINDS else ("among_goods" if load.concealment else None)
    goods_start = x_front + (float(rng.uniform(380.0, 450.0)) if kind == "wall" else 0.0)
    units = _goods(canvas, load, rng, goods_start, x_end)
    boxes: tuple[Box, ...] = ()
    if kind:
        x0, x1, y0, y1 = _conceal(canvas, load, kind, rng, x_front, units, x_end)
        p = CANONICAL_PITCH_MM
        boxes = (Box(round(x0 / p, 1), round(y0 / p, 1), round((x1 - x0) / p, 1), round((y1 - y0) / p, 1)),)
    channels = 1 if load.energy == "SINGLE" else 2
    raw = _detect(canvas, model, channels, rng)
    cal = _calibration(model, channels)
    data = raw.tobytes()
    image = ingest_raw16(data, canvas.w, canvas.h, cal, scan_id=load.scan_id, container_id=load.container_id)
    return Rendered(data, canvas.w, canvas.h, cal, image, boxes)


def _render_encoded(loads: list[Any]) -> list[tuple[str, bytes]]:
    return [(r.image.meta.scan_id, encode(r.image)) for r in map(render, loads)]


def map_chunks(fn: Callable[[list[Any]], list[Any]], items: list[Any], chunk: int, workers: int) -> list[Any]:
    """``fn`` over chunks of ``items`` in ``workers`` processes (in this one when a single chunk or worker), flattened in order."""
    chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(fn, chunks))
    else:
        parts = [fn(c) for c in chunks]
    return [out for part in parts for out in part]


def render_images(loads: Iterable[Any], images_dir: str | Path, workers: int = 2) -> Mapping[str, tuple[str, str]]:
    """Render loads and write their canonical images to the store at ``images_dir``.

    Rendering runs in ``workers`` processes (chunks of 25 loads); the store writes
    stay in this process. Returns ``{scan_id: (image_uri, image_sha256)}`` for the
    ScanCompleted events.
    """
    store = open_store(str(images_dir))
    out: dict[str, tuple[str, str]] = {}
    for scan_id, data in map_chunks(_render_encoded, list(loads), 25, workers):
        stored = store.put_bytes(data)
        out[scan_id] = (stored.uri, stored.sha256)
    return out
