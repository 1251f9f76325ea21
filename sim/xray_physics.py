"""Physics tables of the synthetic X-ray world: materials and scanner models.

Mass attenuation coefficients are *effective* values (cm²/g) for the low and high
spectra of a 4/6 MV dual-energy cargo linac, stylised from NIST XCOM so that the
dual-energy ratio ``mu_low / mu_high`` falls with atomic number (organic >
inorganic > metal > heavy metal), which is what material separation relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MATERIALS: tuple[str, ...] = ("organic", "inorganic", "metal", "heavy")
MU_CM2_PER_G = np.array(
    [
        [0.0560, 0.0400],  # organic (Z~6-8): ratio 1.40
        [0.0520, 0.0390],  # inorganic (Al, glass, ceramics): ratio 1.33
        [0.0480, 0.0385],  # metal (Fe, Cu): ratio 1.25
        [0.0500, 0.0440],  # heavy (Pb, W): ratio 1.14
    ],
    dtype=np.float32,
)
"""Rows follow :data:`MATERIALS`; columns are the (low, high) energy channels."""

BULK_DENSITY_KG_M3: dict[str, tuple[float, float]] = {
    "organic": (150.0, 600.0),
    "inorganic": (250.0, 1000.0),
    "metal": (400.0, 1800.0),
    "heavy": (800.0, 3000.0),
}
"""Typical bulk (as packed) density range of goods of each material class."""


@dataclass(frozen=True)
class ScannerModel:
    """One make of scanner: geometry, flux, detector response, and how well it is calibrated."""

    name: str
    pitch_mm: tuple[float, float]
    """native pixel pitch (y, x)"""
    energies_kv: tuple[int, int]
    photons: float
    """open-beam photons per pixel in the high channel (the low channel gets 60 %)"""
    gamma: float
    """detector response exponent: raw ~ transmission ** gamma"""
    hardening: float
    """beam-hardening bend of measured attenuation: m = gamma*A - hardening*A**2"""
    dark: float
    full_scale: float
    blur_passes: int
    calibration_error: float
    """relative error of the site calibration curve (domain shift that canonicalization cannot undo)"""
    low_mu_factor: float = 1.0
    """scales low-channel attenuation (a softer low spectrum attenuates more)"""


SCANNER_MODELS: dict[str, ScannerModel] = {
    m.name: m
    for m in (
        ScannerModel("Aster-6MV", (8.0, 8.0), (4000, 6000), 8e4, 1.00, 0.004, 300.0, 60000.0, 1, 0.0),
        ScannerModel("Borealis-DE", (10.0, 6.0), (4000, 6000), 4e4, 0.96, 0.006, 800.0, 50000.0, 2, 0.02),
        ScannerModel("Cobalt-HX", (12.0, 9.0), (3500, 6000), 2.5e4, 1.05, 0.008, 1500.0, 40000.0, 1, -0.03, 1.05),
    )
}
"""Three scanner makes differing in resolution, noise, calibration and gain (domain shift)."""
TRAIN_SCANNERS: tuple[str, ...] = ("Aster-6MV", "Borealis-DE")
HELD_OUT_SCANNER = "Cobalt-HX"


SCANNER_ALIASES: dict[str, str] = {
    "HCV-M6D": "Aster-6MV", "EAGLE-P60": "Aster-6MV", "MB1215HS": "Borealis-DE",
    "SILHOUETTE-R": "Cobalt-HX", "VACIS-M6500": "Cobalt-HX",
}
"""Scanner makes of the simulator's catalogue -> the physics profile that renders them."""


def scanner_model_of(scanner_id: str) -> ScannerModel:
    """The physics profile of a scanner: by profile name or alias, else a stable choice from the id."""
    name = SCANNER_ALIASES.get(scanner_id, scanner_id)
    if name in SCANNER_MODELS:
        return SCANNER_MODELS[name]
    names = sorted(SCANNER_MODELS)
    return SCANNER_MODELS[names[sum(scanner_id.encode()) % len(names)]]
