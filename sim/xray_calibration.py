"""Calibration of the image physics check against the synthetic X-ray world.

A site calibrates its mass estimate by scanning empty containers; here the
renderer plays that role. The constants go into the image model's metadata.
"""

from __future__ import annotations

import numpy as np

from zeikan.images.physics import PhysicsCalibration, measure
from zeikan.sim.xray import render
from zeikan.sim.xray_loads import XrayLoad
from zeikan.sim.xray_physics import BULK_DENSITY_KG_M3, MATERIALS, MU_CM2_PER_G


def physics_calibration(scanners: tuple[str, ...]) -> PhysicsCalibration:
    """Calibrate the mass estimate: integrated attenuation of empty 20/40 ft containers on each scanner."""
    base = PhysicsCalibration(
        mu_high_cm2_g={m: float(MU_CM2_PER_G[i, 1]) for i, m in enumerate(MATERIALS)},
        ratio={m: float(MU_CM2_PER_G[i, 0] / MU_CM2_PER_G[i, 1]) for i, m in enumerate(MATERIALS)},
        density_kg_m3=dict(BULK_DENSITY_KG_M3),
        empty_att_cm2={"20": (0.0, 0.0), "40": (0.0, 0.0)},
    )
    empty = {}
    for length in (20, 40):
        runs = [measure(render(XrayLoad(f"empty-{s}-{length}", "EMPTY0000000", s, length, ())).image, base).att_cm2 for s in scanners]
        empty[str(length)] = tuple(float(v) for v in np.mean(runs, axis=0))
    return PhysicsCalibration(base.mu_high_cm2_g, base.ratio, base.density_kg_m3, empty)
