"""What the X-ray renderer needs to know about a container load, and random loads for training.

The simulator's own load type is adapted by :func:`as_xray_load` (duck-typed), so
the renderer depends on no other module of ``sim``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from zeikan.sim.xray_physics import MATERIALS, SCANNER_MODELS

CONCEALMENT_KINDS: tuple[str, ...] = ("wall", "floor", "among_goods")
"""Where contraband is hidden: behind a false front wall, in the floor cavity, or among the goods."""
KIND_OF_SIM_CONCEALMENT: dict[str, str] = {
    "in_wall": "wall", "in_floor": "floor", "dense_package": "among_goods", "organic_package": "among_goods",
}
"""Simulator concealment names -> renderer kinds."""


@dataclass(frozen=True)
class Goods:
    """One line of goods as the renderer sees it."""

    hs_code: str
    description: str
    quantity: float
    gross_weight_kg: float
    material: str = "organic"


@dataclass(frozen=True)
class XrayLoad:
    """A scanned container: its true content, what was declared, and any concealment."""

    scan_id: str
    container_id: str
    scanner_model: str
    length_ft: int
    true_goods: tuple[Goods, ...]
    declared_goods: tuple[Goods, ...] = ()
    concealment: str | None = None
    energy: str = "DUAL"
    seed: int = 0
    concealed_kg: float | None = None
    """mass of the hidden package (random when None)"""
    concealed_material: str | None = None


CATALOGUE: tuple[Goods, ...] = (
    Goods("610910", "cotton T-shirts", 0, 0, "organic"),
    Goods("940360", "wooden furniture", 0, 0, "organic"),
    Goods("220421", "wine in bottles", 0, 0, "organic"),
    Goods("090121", "roasted coffee", 0, 0, "organic"),
    Goods("690721", "ceramic tiles", 0, 0, "inorganic"),
    Goods("700529", "float glass sheets", 0, 0, "inorganic"),
    Goods("847130", "laptop computers", 0, 0, "inorganic"),
    Goods("721049", "galvanised steel sheet", 0, 0, "metal"),
    Goods("732393", "stainless kitchenware", 0, 0, "metal"),
    Goods("780110", "lead ingots", 0, 0, "heavy"),
)


def _goods(rng: np.random.Generator, length_ft: int) -> tuple[Goods, ...]:
    n = int(rng.integers(1, 4))
    picks = rng.choice(len(CATALOGUE), size=n, replace=False)
    total = float(rng.uniform(1500, 12000 if length_ft == 20 else 22000))
    shares = rng.dirichlet(np.ones(n))
    out = []
    for k, share in zip(picks, shares):
        base = CATALOGUE[int(k)]
        weight = round(total * float(share), 1)
        out.append(Goods(base.hs_code, base.description, round(weight / 20.0), weight, base.material))
    return tuple(out)


def random_loads(
    n: int,
    seed: int,
    scanners: tuple[str, ...] = tuple(SCANNER_MODELS),
    concealment_rate: float = 0.5,
    misdeclared_rate: float = 0.1,
) -> list[XrayLoad]:
    """``n`` random loads; a share carries a concealment, another share declares other goods."""
    rng = np.random.default_rng(seed)
    loads = []
    for i in range(n):
        length_ft = 40 if rng.random() < 0.6 else 20
        true_goods = _goods(rng, length_ft)
        declared = true_goods
        if rng.random() < misdeclared_rate:
            declared = tuple(
                Goods(g.hs_code, g.description, g.quantity, round(g.gross_weight_kg * float(rng.uniform(0.3, 0.6)), 1), g.material)
                for g in true_goods
            )
        concealment = str(rng.choice(CONCEALMENT_KINDS)) if rng.random() < concealment_rate else None
        loads.append(
            XrayLoad(
                scan_id=f"XR{seed:04d}-{i:06d}",
                container_id=f"ZKNU{(seed * 100003 + i) % 1000000:06d}0",
                scanner_model=str(scanners[int(rng.integers(len(scanners)))]),
                length_ft=length_ft,
                true_goods=true_goods,
                declared_goods=declared,
                concealment=concealment,
                seed=int(rng.integers(2**31)),
            )
        )
    return loads


MATERIAL_OF_HINT: dict[str, str] = {
    "textile": "organic", "liquid": "organic", "tobacco": "organic", "plastic": "organic",
    "electronics": "inorganic", "mineral": "inorganic",
}
"""Simulator material hints -> renderer material classes (the classes map to themselves)."""


def _material_of(goods: Any) -> str:
    hint = str(getattr(goods, "material", "") or getattr(goods, "material_hint", "") or "organic").lower()
    hint = MATERIAL_OF_HINT.get(hint, hint)
    return hint if hint in MATERIALS else "organic"


def _as_goods(items: Any) -> tuple[Goods, ...]:
    return tuple(
        Goods(
            str(getattr(g, "hs_code", "")),
            str(getattr(g, "description", "")),
            float(getattr(g, "quantity", 0) or 0),
            float(getattr(g, "gross_weight_kg", 0) or 0),
            _material_of(g),
        )
        for g in (items or ())
    )


def as_xray_load(load: Any) -> XrayLoad:
    """Adapt a simulator load (``zeikan.sim.cargo.ContainerLoad`` or alike) to :class:`XrayLoad`.

    The concealed goods (also listed last in ``true_goods``) become the hidden
    package instead of a pallet.
    """
    if isinstance(load, XrayLoad):
        return load
    length = float(getattr(load, "length_ft", None) or getattr(load, "container_length_ft", None) or 40)
    scan_id = str(load.scan_id)
    concealed = getattr(load, "concealed", None)
    true_goods = [g for g in (getattr(load, "true_goods", None) or ()) if g is not concealed]
    kind = getattr(load, "concealment", None) or getattr(load, "concealment_kind", None)
    kind = KIND_OF_SIM_CONCEALMENT.get(str(kind), str(kind)) if kind else None
    return XrayLoad(
        scan_id=scan_id,
        container_id=str(load.container_id),
        scanner_model=str(getattr(load, "scanner_model", None) or getattr(load, "scanner_id", "")),
        length_ft=20 if length < 7 or 15 <= length <= 25 else 40,  # feet, or metres (6.1 / 12.2)
        true_goods=_as_goods(true_goods),
        declared_goods=_as_goods(getattr(load, "declared_goods", ())),
        concealment=kind,
        energy=str(getattr(load, "energy", "DUAL")),
        seed=int(hashlib.sha256(scan_id.encode()).hexdigest()[:8], 16),
        concealed_kg=float(concealed.gross_weight_kg) if concealed is not None else None,
        concealed_material=_material_of(concealed) if concealed is not None else None,
    )
