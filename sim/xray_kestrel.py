"""A second X-ray renderer, physically different from :mod:`zeikan.sim.xray`; for testing only, never for training.

It draws the same loads (goods packing and concealments of :mod:`zeikan.sim.xray`)
through other physics, as a made-up vendor's scanner ("Kestrel-DX9") would:

* **polychromatic beam**: each channel integrates Beer–Lambert over a
  bremsstrahlung spectrum (Kramers, filtered) of 4 and 6 MeV end-points, with
  energy-dependent mass attenuation per material (Compton + pair production, by
  effective Z), so beam hardening comes from the physics, not from a formula;
* **another detector**: energy-integrating (signal ∝ deposited energy), with
  afterglow along the scan direction, per-row gain stripes, lower flux and a
  slightly non-linear amplifier;
* **another container build**: finer, deeper corrugation, roof bows, a floor of
  cross-members every 300 mm, door locking bars, a different chassis;
* **its own export**: 16-bit HI/LO PNG pairs with a JSON-lines manifest, doors on
  the left, gross weight including tare (profile ``kestrel-dx9``), read back
  only through that profile.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zeikan.images.canonical import CanonicalImage
from zeikan.images.labels import Box
from zeikan.images.profile import VendorProfile, load_profile
from zeikan.images.profile_ingest import convert_scan, discover
from zeikan.images.tare import tare_kg
from zeikan.images.vendor_export import VendorScan, write_export
from zeikan.sim import xray
from zeikan.sim.xray_loads import CONCEALMENT_KINDS, XrayLoad
from zeikan.sim.xray_physics import MATERIALS

PROFILE = "kestrel-dx9"
SCANNER = "Kestrel-DX9"
EFFECTIVE_Z = {"organic": 6.5, "inorganic": 12.0, "metal": 26.0, "heavy": 74.0}
ISO_TYPE = {20: "22G1", 40: "45G1"}


def _spectrum(end_mev: float, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Energies (MeV) and detected-energy weights of a filtered bremsstrahlung beam with end-point ``end_mev``."""
    e = np.linspace(0.3, end_mev, bins + 1)
    e = 0.5 * (e[1:] + e[:-1])
    kramers = (end_mev - e) / e
    filtered = kramers * np.exp(-0.8 / e)  # source filtration removes the soft part
    return e, filtered * e  # energy-integrating detector: signal weighted by photon energy


def _mu(material: str, e: np.ndarray) -> np.ndarray:
    """Mass attenuation (cm²/g) at energies ``e`` (MeV): Compton falling with E, pair production rising with Z·E."""
    z = EFFECTIVE_Z[material]
    compton = 0.0706 * (0.5 if material != "organic" else 0.55) * 2.0 * (1.0 + 0.9 * np.log1p(1.0 / e)) / (1.0 + 1.6 * e**0.55)
    pair = 0.00062 * z * np.clip(np.log(e / 1.022), 0.0, None)
    return compton + pair


_SPECTRA = {"LO": _spectrum(4.0), "HI": _spectrum(6.0)}
_MU = {ch: np.stack([_mu(m, _SPECTRA[ch][0]) for m in MATERIALS]) for ch in _SPECTRA}
"""channel -> (materials, energy bins) mass attenuation"""


def _container(c: Any, length_mm: float) -> None:
    """Kestrel's view of a steel box: another corrugation, roof bows, cross-members, locking bars, chassis."""
    x0, x1 = xray.MARGIN_X_MM, xray.MARGIN_X_MM + length_mm
    y0, y1 = xray.TOP_MM, xray.TOP_MM + xray.HEIGHT_MM
    xs = (np.arange(c.w, dtype=np.float32) + 0.5) * c.px
    corrugation = 2.6 * (1.0 + 0.5 * np.abs(np.sin(np.pi * xs / 182.0)))
    sy, sx = c._slices(x0, x1, y0, y1)
    c.maps[xray._MAT["metal"], sy, sx] += corrugation[sx]
    c.areal((x0, x0 + xray.END_WALL_MM, y0, y1), "metal", 30.0)
    c.areal((x1 - xray.END_WALL_MM, x1, y0, y1), "metal", 38.0)
    for bar in (x1 - 120.0, x1 - 60.0):
        c.areal((bar, bar + 25.0, y0, y1), "metal", 25.0)
    c.areal((x0, x1, y0, y0 + xray.ROOF_MM), "metal", 9.0)
    for bow in np.arange(x0 + 600.0, x1 - 300.0, 600.0):
        c.areal((bow, bow + 40.0, y0, y0 + xray.ROOF_MM + 40.0), "metal", 12.0)
    c.areal((x0, x1, y1 - xray.FLOOR_MM, y1), "organic", 14.0)
    for member in np.arange(x0 + 150.0, x1 - 100.0, 300.0):
        c.areal((member, member + 60.0, y1 - xray.FLOOR_MM, y1), "metal", 28.0)
    c.areal((150.0, xray.FRAME_MM[1] - 150.0, y1 + 40.0, y1 + 120.0), "metal", 26.0)
    for axle in (x1 - 2000.0, x1 - 700.0):
        c.areal((axle, axle + 900.0, y1 + 20.0, xray.FRAME_MM[0]), "organic", 34.0)


PHOTONS = {"HI": 3.0e4, "LO": 1.6e4}
"""detected photons per pixel of the open beam, per channel"""
READ_NOISE_COUNTS = 3.0


def _signal(maps: np.ndarray, ch: str) -> np.ndarray:
    """Noise-free detected signal (share of the open beam) of per-material areal densities through channel ``ch``."""
    energies, weights = _SPECTRA[ch]
    used = [m for m in range(len(MATERIALS)) if maps[m].any()]
    signal = np.zeros(maps.shape[1:], dtype=np.float32)
    for k in range(len(energies)):
        a = sum(np.float32(_MU[ch][m, k]) * maps[m] for m in used)
        signal += np.float32(weights[k] / weights.sum()) * np.exp(-a)
    return signal


def _detect(c: Any, rng: np.random.Generator, profile: VendorProfile) -> np.ndarray:
    """16-bit counts (LO, HI) of the canvas through the polychromatic beam and Kestrel's detector."""
    out = []
    for ch, cal in zip(profile.files.channels, profile.calibration):
        signal = _signal(c.maps, ch)
        photons = np.float32(PHOTONS[ch])
        noisy = signal + np.sqrt(signal / photons + 1e-7) * rng.standard_normal(signal.shape, dtype=np.float32)
        lagged = noisy.copy()
        for j in range(1, lagged.shape[1]):  # afterglow along the scan (x) direction
            lagged[:, j] += 0.06 * (lagged[:, j - 1] - noisy[:, j])
        stripes = 1.0 + 0.012 * rng.standard_normal((lagged.shape[0], 1)).astype(np.float32)
        response = np.clip(lagged * stripes, 1e-6, None) ** np.float32(0.985)
        raw = cal.dark + (cal.open_beam - cal.dark) * response + READ_NOISE_COUNTS * rng.standard_normal(response.shape, dtype=np.float32)
        out.append(np.clip(np.rint(raw), 0, 65535).astype(np.uint16))
    counts = np.stack(out)
    return counts[:, :, ::-1] if profile.doors == "left" else counts


@dataclass(frozen=True, eq=False)
class KestrelScan:
    """One scan as Kestrel exports it, with the truth (boxes in canonical pixels, tare-inclusive declared weight)."""

    vendor: VendorScan
    boxes: tuple[Box, ...]
    concealed: bool


@dataclass(frozen=True, eq=False)
class _Drawn:
    """A load drawn on Kestrel's canvas: the canvas, its generator (the detector draws next), the package."""

    canvas: Any
    rng: np.random.Generator
    package: tuple[float, float, float, float] | None
    """the concealment's rectangle in mm (None: no concealment)"""
    unconcealed: np.ndarray | None
    """the canvas's maps before the package was added (kept only when asked)"""


def _draw(load: XrayLoad, profile: VendorProfile, keep_unconcealed: bool = False) -> _Drawn:
    """Container, goods and concealment of ``load`` on a canvas at the profile's pitch."""
    rng = np.random.default_rng(load.seed + 7919)
    px, py = profile.pitch_mm
    canvas = xray._Canvas((py, px))
    length = xray.LENGTH_MM[load.length_ft]
    _container(canvas, length)
    x_front = xray.MARGIN_X_MM + xray.END_WALL_MM + 20.0
    x_end = xray.MARGIN_X_MM + length - xray.END_WALL_MM - 20.0
    kind = load.concealment if load.concealment in CONCEALMENT_KINDS else ("among_goods" if load.concealment else None)
    goods_start = x_front + (float(rng.uniform(380.0, 450.0)) if kind == "wall" else 0.0)
    units = xray._goods(canvas, load, rng, goods_start, x_end)
    unconcealed = canvas.maps.copy() if keep_unconcealed and kind else None
    package = xray._conceal(canvas, load, kind, rng, x_front, units, x_end) if kind else None
    return _Drawn(canvas, rng, package, unconcealed)


def render_kestrel(load: XrayLoad) -> KestrelScan:
    """Render one load through the Kestrel physics into its vendor export form."""
    profile = load_profile(PROFILE)
    drawn = _draw(load, profile)
    canvas, rng = drawn.canvas, drawn.rng
    px, py = profile.pitch_mm
    boxes: tuple[Box, ...] = ()
    if drawn.package:
        x0, x1, y0, y1 = drawn.package
        p = xray.CANONICAL_PITCH_MM
        boxes = (Box(round(x0 / p, 1), round(y0 / p, 1), round((x1 - x0) / p, 1), round((y1 - y0) / p, 1)),)
    iso = ISO_TYPE[load.length_ft]
    declared = sum(g.gross_weight_kg for g in load.declared_goods)
    facts = {"container_id": load.container_id, "iso_type": iso, "declared_goods": ", ".join(g.description for g in load.declared_goods),
             "declared_weight_kg": round(declared + (tare_kg(iso) or 0.0), 1), "doors": profile.doors,
             "pitch_x_mm": px, "pitch_y_mm": py, "energies": list(profile.energies)}
    return KestrelScan(VendorScan(load.scan_id, _detect(canvas, rng, profile), facts), boxes, drawn.package is not None)


@dataclass(frozen=True)
class PackageVisibility:
    """How visible a load's hidden package is in Kestrel's physics, before any image processing."""

    d_prime: float
    """ideal observer's SNR: sqrt of the sum over the package's pixels and both channels of (signal change / noise)²,
    for an observer that knows where the package is and the load without it"""
    load_attenuation: float
    """mean high-energy attenuation of the load (without the package) over the package's pixels"""


ROSE_D_PRIME = 5.0
"""the Rose criterion: below this SNR an object is not detectable even where it is known to be"""


def read_noise_floor(profile: VendorProfile) -> float:
    """High-energy attenuation at which the signal falls to the detector's read noise (photon-starved beyond)."""
    cal = profile.calibration[profile.files.channels.index("HI")]
    return float(np.log((cal.open_beam - cal.dark) / READ_NOISE_COUNTS))


def package_visibility(load: XrayLoad) -> PackageVisibility:
    """The concealment's visibility in its Kestrel render (noise-free signal with and without it, detector noise)."""
    profile = load_profile(PROFILE)
    drawn = _draw(load, profile, keep_unconcealed=True)
    if drawn.package is None or drawn.unconcealed is None:
        raise ValueError(f"{load.scan_id}: no concealment")
    sy, sx = drawn.canvas._slices(*drawn.package)
    d2, load_att = 0.0, 0.0
    for ch, cal in zip(profile.files.channels, profile.calibration):
        without, with_it = _signal(drawn.unconcealed[:, sy, sx], ch), _signal(drawn.canvas.maps[:, sy, sx], ch)
        sigma = np.sqrt(with_it / PHOTONS[ch] + 1e-7 + (READ_NOISE_COUNTS / (cal.open_beam - cal.dark)) ** 2)
        d2 += float((((without - with_it) / sigma) ** 2).sum())
        if ch == "HI":
            load_att = float(np.mean(-np.log(without)))
    return PackageVisibility(float(np.sqrt(d2)), load_att)


def canonical_of(scan: KestrelScan) -> CanonicalImage:
    """The canonical image of a Kestrel scan, written as its export and read back through its profile like any vendor's."""
    profile = load_profile(PROFILE)
    with tempfile.TemporaryDirectory(prefix="kestrel-") as tmp:
        (found,) = discover(profile, write_export(profile, Path(tmp), [scan.vendor]))
        return convert_scan(profile, found)


def _render_chunk(loads: Sequence[XrayLoad]) -> list[tuple[CanonicalImage, bool]]:
    out = []
    for load in loads:
        scan = render_kestrel(load)
        out.append((canonical_of(scan), scan.concealed))
    return out


def render_kestrel_images(loads: Iterable[XrayLoad], workers: int = 2) -> list[tuple[CanonicalImage, bool]]:
    """Canonical images (through the Kestrel export and profile) and concealment truth, rendered in processes."""
    return xray.map_chunks(_render_chunk, list(loads), 20, workers)


def write_kestrel_export(loads: Iterable[XrayLoad], folder: Path) -> Path:
    """Write loads as a Kestrel export folder (PNG pairs + manifest.jsonl); returns the manifest path."""
    scans = [render_kestrel(load).vendor for load in loads]
    return write_export(load_profile(PROFILE), folder, scans)
