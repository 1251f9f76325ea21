"""Physics check of a scan: image-implied mass and material vs what was declared.

Integrated attenuation over the image, minus that of an empty container of the
same length, divided by the mass attenuation coefficient of the material the
dual-energy ratio points to, is the mass of the goods (Beer–Lambert is linear
in areal density). The constants come from a calibration stored with the model
(:class:`PhysicsCalibration`), made by rendering empty and known loads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from zeikan.images.canonical import CanonicalImage

INNER_WIDTH_M = 2.352
MASS_TOLERANCE = 1.25
"""implied/declared mass ratios within [1/1.25, 1.25] raise nothing"""
MIN_GOODS_KG = 300.0
"""below this the material and density estimates are too noisy to judge"""
RATIO_TOLERANCE = 0.09
"""dual-energy ratio deviations smaller than this (about one material class) raise nothing"""
END_WALL_MM = 150.0
"""end walls and corner posts, excluded from the goods area"""
SATURATED_ATTENUATION = 9.0
"""beyond this too few photons get through: the implied mass is then only a lower bound"""

_CHAPTER_MATERIAL: tuple[tuple[range, str], ...] = (
    (range(1, 25), "organic"),
    (range(25, 27), "inorganic"),
    (range(27, 68), "organic"),
    (range(68, 72), "inorganic"),
    (range(72, 78), "metal"),
    (range(78, 82), "heavy"),
    (range(82, 84), "metal"),
    (range(84, 86), "inorganic"),
    (range(86, 90), "metal"),
    (range(90, 93), "inorganic"),
    (range(93, 94), "metal"),
    (range(94, 100), "organic"),
)


MATERIAL_CLASSES: tuple[str, ...] = ("organic", "inorganic", "metal", "heavy")
"""the material classes the HS chapters map to (:func:`declared_material`)"""


def declared_material(hs_code: str) -> str:
    """Material class expected for goods of this HS code (by chapter)."""
    try:
        chapter = int(str(hs_code)[:2])
    except ValueError:
        return "organic"
    return next((m for r, m in _CHAPTER_MATERIAL if chapter in r), "organic")


@dataclass(frozen=True)
class PhysicsCalibration:
    """Constants of the mass/material estimate (stored in the model metadata)."""

    mu_high_cm2_g: Mapping[str, float]
    ratio: Mapping[str, float]
    """dual-energy ratio mu_low / mu_high per material class"""
    density_kg_m3: Mapping[str, tuple[float, float]]
    empty_att_cm2: Mapping[str, tuple[float, float]]
    """container length ("20"/"40") -> integrated (low, high) attenuation x area of an empty container"""
    roof_rows: tuple[int, int] = (15, 25)
    """canonical rows of the roof rail, used to measure the container length"""
    floor_row: int = 258
    """first canonical row of the container floor; goods sit above it"""
    mass_tolerance: float = MASS_TOLERANCE
    """implied/declared mass ratios within [1/t, t] raise nothing (per scanner: from its clean traffic)"""
    ratio_tolerance: float = RATIO_TOLERANCE
    """dual-energy ratio deviations within this raise nothing (per scanner: from its clean traffic)"""

    @classmethod
    def from_dict(cls, raw: Mapping) -> PhysicsCalibration:
        """Parse the ``physics`` section of the model metadata."""
        return cls(
            dict(raw["mu_high_cm2_g"]), dict(raw["ratio"]),
            {k: (float(v[0]), float(v[1])) for k, v in raw["density_kg_m3"].items()},
            {k: (float(v[0]), float(v[1])) for k, v in raw["empty_att_cm2"].items()},
            tuple(raw.get("roof_rows", (15, 25))),
            int(raw.get("floor_row", 258)),
            float(raw.get("mass_tolerance", MASS_TOLERANCE)),
            float(raw.get("ratio_tolerance", RATIO_TOLERANCE)),
        )

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"mu_high_cm2_g": dict(self.mu_high_cm2_g), "ratio": dict(self.ratio),
                "density_kg_m3": {k: list(v) for k, v in self.density_kg_m3.items()},
                "empty_att_cm2": {k: list(v) for k, v in self.empty_att_cm2.items()},
                "roof_rows": list(self.roof_rows), "floor_row": self.floor_row,
                "mass_tolerance": self.mass_tolerance, "ratio_tolerance": self.ratio_tolerance}


@dataclass(frozen=True)
class ImageIntegrals:
    """What the physics check measures in an image."""

    att_cm2: tuple[float, ...]
    """integrated attenuation x area per channel (low, high) or (high,)"""
    length_ft: int
    occupied_m2: float
    """side-view area where goods attenuate noticeably"""
    saturated_share: float
    """share of the goods area too dense to see through"""


def measure(image: CanonicalImage, cal: PhysicsCalibration) -> ImageIntegrals:
    """Integrate an image's attenuation and measure its container length."""
    att = image.attenuation()
    pitch_cm = image.meta.pitch_mm / 10.0
    area = pitch_cm * pitch_cm
    r0, r1 = cal.roof_rows
    roof = att[-1, r0:r1].mean(axis=0) > 0.2
    length_mm = float(roof.sum()) * image.meta.pitch_mm
    inside = np.flatnonzero(roof)
    wall = int(np.ceil(END_WALL_MM / image.meta.pitch_mm)) + 1
    lo, hi = (int(inside[0]) + wall, int(inside[-1]) + 1 - wall) if len(inside) else (0, 0)
    inner = att[-1, r1 : cal.floor_row, lo:max(lo, hi)]
    goods = inner
    occupied_px = int((goods > 0.6).sum())
    saturated = float((goods > SATURATED_ATTENUATION).sum()) / max(1, occupied_px)
    integrals = tuple(float(c.sum(dtype=np.float64)) * area for c in att)
    return ImageIntegrals(integrals, 20 if length_mm < 9000 else 40, occupied_px * area / 1e4, saturated)


@dataclass(frozen=True)
class PhysicsCheck:
    """Image-implied mass and material against the declaration; reasons in plain words."""

    implied_mass_kg: float
    declared_mass_kg: float
    image_material: str | None
    declared_material: str | None
    score: float
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _goods_material(net: tuple[float, ...], cal: PhysicsCalibration) -> tuple[str | None, float | None]:
    """Nearest material class and the measured dual-energy ratio of the goods (None for single energy)."""
    if len(net) < 2 or net[-1] <= 0:
        return None, None
    ratio = net[0] / net[-1]
    return min(cal.ratio, key=lambda m: abs(cal.ratio[m] - ratio)), ratio


def declared_by_material(declared_items: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Declared kg per material class of ``(hs_code, kg)`` items (only the classes declared)."""
    by_material: dict[str, float] = {}
    for hs, w in declared_items:
        by_material[declared_material(hs)] = by_material.get(declared_material(hs), 0.0) + w
    return by_material


def expected_ratio(by_material: Mapping[str, float], cal: PhysicsCalibration) -> float:
    """Dual-energy ratio of the declared mix: sum(w mu_low) / sum(w mu_high)."""
    high = sum(w * cal.mu_high_cm2_g[m] for m, w in by_material.items())
    low = sum(w * cal.mu_high_cm2_g[m] * cal.ratio[m] for m, w in by_material.items())
    return low / high


def check(image: CanonicalImage, declared_items: Sequence[tuple[str, float]], cal: PhysicsCalibration) -> PhysicsCheck:
    """Compare an image with declared ``(hs_code, gross_weight_kg)`` items in its container."""
    m = measure(image, cal)
    empty = cal.empty_att_cm2[str(m.length_ft)]
    net = tuple(a - e for a, e in zip(m.att_cm2, empty[-len(m.att_cm2):]))
    material, ratio = _goods_material(net, cal)
    implied = max(0.0, net[-1] / cal.mu_high_cm2_g[material or "organic"] / 1000.0)
    declared = float(sum(w for _, w in declared_items))
    by_material = declared_by_material(declared_items)
    expected = max(by_material, key=by_material.__getitem__) if by_material else None
    reasons: list[str] = []
    score = 0.0
    lower_bound = m.saturated_share > 0.02
    if declared > 0:
        mass_ratio = max(implied, 1.0) / declared
        if mass_ratio > cal.mass_tolerance or (mass_ratio < 1 / cal.mass_tolerance and not lower_bound):
            word = "more" if mass_ratio > 1 else "less"
            reasons.append(f"image shows about {implied / 1000:.1f} t of goods, {abs(mass_ratio - 1) * 100:.0f} % {word} than the declared {declared / 1000:.1f} t")
            score = max(score, min(1.0, (abs(math.log(mass_ratio)) - math.log(cal.mass_tolerance)) / math.log(2.0)))
    if lower_bound:
        reasons.append(f"{m.saturated_share * 100:.0f} % of the load is too dense to see through")
    if implied >= MIN_GOODS_KG and ratio is not None and declared > 0 and not lower_bound:
        if abs(ratio - expected_ratio(by_material, cal)) > cal.ratio_tolerance:
            reasons.append(f"dual-energy signature looks {material}, declared goods are mostly {expected}")
            score = max(score, 0.5)
    if implied >= MIN_GOODS_KG and expected and m.occupied_m2 > 0 and not lower_bound:
        density = implied / (m.occupied_m2 * INNER_WIDTH_M)
        lo, hi = cal.density_kg_m3[expected]
        if not lo / 2 <= density <= hi * 2:
            reasons.append(f"goods density about {density:.0f} kg/m³, unusual for {expected} goods ({lo:.0f}-{hi:.0f})")
            score = max(score, 0.3)
    return PhysicsCheck(implied, declared, material, expected, score, tuple(reasons))
